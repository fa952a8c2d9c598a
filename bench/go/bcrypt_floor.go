// bcrypt floor in Go's golang.org/x/crypto/bcrypt, the library GoTrue hashes with: what the reference
// server pays per password request on this machine. Same shape as `BenchTools bcrypt`: `threads`
// goroutines for a fixed wall time each, hash then verify, JSON on stdout.
// Built by bench/run.sh when Debian's golang-go and golang-golang-x-crypto-dev are installed:
//   GO111MODULE=off GOPATH=/usr/share/gocode go build -o bcrypt_floor bcrypt_floor.go
package main

import (
	"encoding/json"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/crypto/bcrypt"
)

func cpuMicros() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1000
}

func main() {
	cost, _ := strconv.Atoi(os.Args[1])
	threads, _ := strconv.Atoi(os.Args[2])
	seconds, _ := strconv.ParseFloat(os.Args[3], 64)
	pw := []byte("bench-password-1")
	hash, err := bcrypt.GenerateFromPassword(pw, cost)
	if err != nil {
		panic(err)
	}
	out := map[string]float64{"cost": float64(cost), "threads": float64(threads), "seconds": seconds}
	for _, op := range []string{"hash", "verify"} {
		var total int64
		var wg sync.WaitGroup
		cpu0, start := cpuMicros(), time.Now()
		end := start.Add(time.Duration(seconds * float64(time.Second)))
		for t := 0; t < threads; t++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for time.Now().Before(end) {
					if op == "hash" {
						if _, err := bcrypt.GenerateFromPassword(pw, cost); err != nil {
							panic(err)
						}
					} else if bcrypt.CompareHashAndPassword(hash, pw) != nil {
						panic("verify failed")
					}
					atomic.AddInt64(&total, 1)
				}
			}()
		}
		wg.Wait()
		elapsed := time.Since(start).Seconds()
		out[op+"_per_s"] = float64(int(float64(total)/elapsed*100)) / 100
		if total > 0 {
			out[op+"_cpu_us"] = float64(int((cpuMicros() - cpu0) / float64(total)))
		}
	}
	json.NewEncoder(os.Stdout).Encode(out)
}
