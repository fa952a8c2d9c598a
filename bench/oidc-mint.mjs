// Pre-mints ID tokens for the idtoken flow from the local issuer (tests/e2e/lib/oidc-issuer.mjs, its
// test-only POST /_test/sign): node bench/oidc-mint.mjs <issuer url> <count> <ttl s> > tokens.txt
// Token i is for subject bench-oidc-<i mod 1000> (so after the warm-up the grant mostly signs in existing users,
// as in production), audience oauth-client, a verified address; one token a line. Our server accepts each
// token once (authserver.used_id_tokens); bench/run.sh empties that table before every measurement.
const [issuer, countArg, ttlArg] = process.argv.slice(2);
const count = Number(countArg);
const ttl = Number(ttlArg);
const out = new Array(count);
let next = 0;
async function worker() {
  while (next < count) {
    const i = next++;
    const sub = `bench-oidc-${i % 1000}`;
    const res = await fetch(`${issuer}/_test/sign`, {
      method: 'POST',
      body: JSON.stringify({ aud: 'oauth-client', sub, email: `${sub}@bench.local`, email_verified: true,
        exp: Math.floor(Date.now() / 1000) + ttl, jti: `bench-${i}` }),
    });
    if (!res.ok) throw new Error(`sign ${res.status}`);
    out[i] = (await res.json()).token;
  }
}
await Promise.all(Array.from({ length: 8 }, worker));
process.stdout.write(out.join('\n') + '\n');
