# shellcheck shell=bash
# Supabase-style API keys: HS256 JWTs signed with the raw UTF-8 bytes of the JWT secret.
#
#   source scripts/lib/keys.sh
#   mint_api_key anon "$GOTRUE_JWT_SECRET"          # {"role":"anon","iss":"supabase","iat":now,"exp":now+10y}
#   mint_api_key service_role "$GOTRUE_JWT_SECRET"
#   new_jwt_secret                                   # 64 random hex characters
# Uses openssl when present, else node. No other dependency.

_b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }

mint_api_key() {
    local role=${1:?role required} secret=${2:?secret required}
    local now exp header payload signing sig
    now=$(date +%s)
    exp=$((now + 10 * 365 * 24 * 3600))
    if command -v openssl >/dev/null 2>&1; then
        header=$(printf '%s' '{"alg":"HS256","typ":"JWT"}' | _b64url)
        payload=$(printf '{"role":"%s","iss":"supabase","iat":%d,"exp":%d}' "$role" "$now" "$exp" | _b64url)
        signing="$header.$payload"
        # Hex key: any byte of the secret survives the trip through argv.
        sig=$(printf '%s' "$signing" \
            | openssl dgst -sha256 -mac HMAC -macopt "hexkey:$(printf '%s' "$secret" | od -An -v -tx1 | tr -d ' \n')" -binary \
            | _b64url)
        printf '%s.%s\n' "$signing" "$sig"
    elif command -v node >/dev/null 2>&1; then
        MINT_ROLE=$role MINT_SECRET=$secret MINT_IAT=$now MINT_EXP=$exp node -e '
const { createHmac } = require("node:crypto");
const b64 = (s) => Buffer.from(s).toString("base64url");
const h = b64(JSON.stringify({ alg: "HS256", typ: "JWT" }));
const p = b64(JSON.stringify({ role: process.env.MINT_ROLE, iss: "supabase",
  iat: Number(process.env.MINT_IAT), exp: Number(process.env.MINT_EXP) }));
const s = createHmac("sha256", Buffer.from(process.env.MINT_SECRET, "utf8")).update(h + "." + p).digest("base64url");
console.log(h + "." + p + "." + s);'
    else
        echo "keys.sh: need openssl or node to mint API keys" >&2
        return 1
    fi
}

new_jwt_secret() {
    if command -v openssl >/dev/null 2>&1; then
        openssl rand -hex 32
    else
        head -c 32 /dev/urandom | od -An -v -tx1 | tr -d ' \n'
        echo
    fi
}
