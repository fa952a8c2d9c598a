-- Generic wrk driver for bench/run.sh flows. Configured through the environment (run.sh sets it from a
-- bench/flows/*.flow file):
--   BENCH_REQS=k, BENCH_REQ_1..k = "weight|METHOD|path|auth|body"   (auth: none | access)
--   body/path placeholders: {n} random seeded user, {uniq} unique per request, {refresh} a live refresh token
--   BENCH_USERS         seeded users (for {n})
--   BENCH_ACCESS        file of access tokens, one a line (auth = access)
--   BENCH_REFRESH       file of refresh tokens; thread t of BENCH_THREADS takes every BENCH_THREADS-th line
--   BENCH_RUNID         makes {uniq} unique across runs
--   BENCH_LINES         file of single-use values for {line} (an OTP user's address, an ID token); thread t of
--                       BENCH_THREADS takes every BENCH_THREADS-th line, each line is sent once
-- Refresh tokens are used once: a request takes one from the thread's queue, and the refresh_token of any
-- response goes back in. done() prints one JSON line (prefixed BENCH_JSON) with throughput inputs,
-- latency percentiles and the count of every HTTP status.
local threads = {}
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
  table.insert(threads, thread)
end

local reqs, total_weight = {}, 0
local users, access, refresh, lines, uniq = 1, {}, {}, {}, 0
local track_refresh, use_lines = false, false
statuses = {}

local function split(s)
  local out, i = {}, 1
  for _ = 1, 4 do
    local j = s:find("|", i, true)
    table.insert(out, s:sub(i, j - 1)); i = j + 1
  end
  table.insert(out, s:sub(i))
  return out
end

function init(args)
  local nthreads = tonumber(os.getenv("BENCH_THREADS") or "1")
  users = tonumber(os.getenv("BENCH_USERS") or "1")
  math.randomseed(os.time() * 1000 + tid)
  for i = 1, tonumber(os.getenv("BENCH_REQS")) do
    local f = split(os.getenv("BENCH_REQ_" .. i))
    local r = { weight = tonumber(f[1]), method = f[2], path = f[3], auth = f[4], body = f[5] }
    if r.body == "" then r.body = nil end
    if (r.body or ""):find("{refresh}", 1, true) then track_refresh = true end
    if (r.body or ""):find("{line}", 1, true) or r.path:find("{line}", 1, true) then use_lines = true end
    total_weight = total_weight + r.weight
    table.insert(reqs, r)
  end
  local af = os.getenv("BENCH_ACCESS")
  if af and af ~= "" then for line in io.lines(af) do access[#access + 1] = line end end
  local rf = os.getenv("BENCH_REFRESH")
  if track_refresh and rf and rf ~= "" then
    local i = 0
    for line in io.lines(rf) do
      if i % nthreads == tid - 1 then refresh[#refresh + 1] = line end
      i = i + 1
    end
  end
  local lf = os.getenv("BENCH_LINES")
  if use_lines and lf and lf ~= "" then
    local i = 0
    for line in io.lines(lf) do
      if i % nthreads == tid - 1 then lines[#lines + 1] = line end
      i = i + 1
    end
  end
end

local runid = os.getenv("BENCH_RUNID") or tostring(os.time())
local function fill(s)
  if not s then return nil end
  s = s:gsub("{n}", function() return tostring(math.random(1, users)) end)
  s = s:gsub("{uniq}", function() uniq = uniq + 1; return runid .. "-" .. tid .. "-" .. uniq end)
  s = s:gsub("{refresh}", function()
    -- An empty queue (only after failed refreshes) sends a token that can't exist: it shows up as a 400.
    return table.remove(refresh, 1) or "zzzzzzzzzzzz"
  end)
  s = s:gsub("{line}", function()
    -- Used up (the run outlasted the seeded values): a value that can't be valid, shows up as a 4xx.
    local v = lines[#lines]
    lines[#lines] = nil
    return v or "exhausted"
  end)
  return s
end

function request()
  local pick, r = math.random() * total_weight, reqs[#reqs]
  for _, q in ipairs(reqs) do
    if pick < q.weight then r = q; break end
    pick = pick - q.weight
  end
  local headers = { ["Content-Type"] = "application/json" }
  if r.auth == "access" then headers["Authorization"] = "Bearer " .. access[math.random(1, #access)] end
  return wrk.format(r.method, fill(r.path), headers, fill(r.body))
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if track_refresh then
    local t = body:match('"refresh_token":"([a-z0-9]+)"')
    if t then refresh[#refresh + 1] = t end
  end
end

function done(summary, latency, requests)
  local merged = {}
  for _, t in ipairs(threads) do
    for code, n in pairs(t:get("statuses")) do merged[tostring(code)] = (merged[tostring(code)] or 0) + n end
  end
  local parts = {}
  for code, n in pairs(merged) do table.insert(parts, string.format('"%s":%d', code, n)) end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"p50":%.3f,"p90":%.3f,"p99":%.3f,"max":%.3f,"socket_errors":%d,"statuses":{%s}}\n',
    summary.requests, summary.duration, latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000, e.connect + e.read + e.write + e.timeout, table.concat(parts, ",")))
end
