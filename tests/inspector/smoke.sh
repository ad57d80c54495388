#!/usr/bin/env bash
# MCP Inspector 2.x CLI (a real third-party client) against `credvault serve --http`
# with a bearer token, over Streamable HTTP (/mcp) and legacy SSE (/sse).
#   smoke.sh /path/to/credvault
# Needs Node >= 22 on PATH (the conformance runner installs one).
set -euo pipefail
BIN=${1:?usage: smoke.sh CREDVAULT_BIN}
CACHE=${INSPECTOR_CACHE:-$HOME/.cache/credvault-ci/inspector}
if [ ! -x "$CACHE/node_modules/.bin/mcp-inspector" ]; then
  npm install --silent --prefix "$CACHE" @modelcontextprotocol/inspector@2.12.0 >/dev/null
fi
INSPECT="$CACHE/node_modules/.bin/mcp-inspector"
WORK=$(mktemp -d)
export CREDVAULT_PATH=$WORK/vault.redb CREDVAULT_PASSWORD_FILE=$WORK/password
export CREDVAULT_KDF_MEMORY_MIB=8 CREDVAULT_KDF_ITERATIONS=1
(umask 077; printf 'inspector password\n' > "$CREDVAULT_PASSWORD_FILE")
"$BIN" init >/dev/null
TOKEN=$("$BIN" token create --name inspector 2>/dev/null)
RUST_LOG=credvault=info "$BIN" serve --http 127.0.0.1:0 2> "$WORK/server.log" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 100); do grep -q 'listening on' "$WORK/server.log" && break; sleep 0.1; done
URL=$(sed -n 's/^credvault: listening on //p' "$WORK/server.log" | head -1)
fail=0
check() { # name expected-substring command...
  local name=$1 want=$2; shift 2
  local out
  out=$("$@" 2>&1 || true)
  if grep -qF -- "$want" <<<"$out"; then echo "inspector $name: ok"; else echo "inspector $name: FAIL"; echo "$out" | head -20; fail=1; fi
}
for t in "http $URL/mcp" "sse $URL/sse"; do
  set -- $t
  check "$1 tools/list" '"store_credential"' "$INSPECT" --cli "$2" --transport "$1" --header "Authorization: Bearer $TOKEN" --method tools/list
  check "$1 store_credential" '"service_name": "OpenAI"' "$INSPECT" --cli "$2" --transport "$1" --header "Authorization: Bearer $TOKEN" \
    --method tools/call --tool-name store_credential --tool-arg service_id=openai --tool-arg credential_type=bearer --tool-arg credential_value=sk-inspector --tool-arg name="$1"
  check "$1 list_credentials" "\"name\": \"$1\"" "$INSPECT" --cli "$2" --transport "$1" --header "Authorization: Bearer $TOKEN" --method tools/call --tool-name list_credentials
  check "$1 create_secret" 'sk-ins••••' "$INSPECT" --cli "$2" --transport "$1" --header "Authorization: Bearer $TOKEN" \
    --method tools/call --tool-name create_secret --tool-arg name="INSPECTOR_${1^^}" --tool-arg provider=openai --tool-arg value=sk-inspector-value-0123456789abcdef
  check "$1 validation error" '\"code\":422' "$INSPECT" --cli "$2" --transport "$1" --header "Authorization: Bearer $TOKEN" \
    --method tools/call --tool-name store_credential --tool-arg service_id=nope
done
# request_credential: the Inspector CLI declares no elicitation, so the link comes back to the caller.
out=$("$INSPECT" --cli "$URL/mcp" --transport http --header "Authorization: Bearer $TOKEN" \
  --method tools/call --tool-name request_credential --tool-arg service_id=groq --tool-arg credential_type=bearer --tool-arg name=inspector 2>&1 || true)
LINK=$(grep -o 'http://127\.0\.0\.1:[0-9]*/enter/[A-Za-z0-9_-]*' <<<"$out" | head -1)
if grep -qF '"status": "pending_user_action"' <<<"$out" && [ -n "$LINK" ]; then
  echo "inspector request_credential: ok (pending_user_action)"
  { grep -o 'entry link opened.*' "$WORK/server.log" || true; } | tail -1 | sed 's/^/  server: /'
  code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Origin: null' -H 'Sec-Fetch-Site: same-origin' \
    --data-urlencode 'value=gsk-inspector-entered-0123456789' --data-urlencode 'allowed_hosts=' "$LINK")
  check "request_credential then the page" '"name": "inspector"' "$INSPECT" --cli "$URL/mcp" --transport http \
    --header "Authorization: Bearer $TOKEN" --method tools/call --tool-name list_credentials --tool-arg service_id=groq
  [ "$code" = 200 ] || { echo "entry POST answered $code"; fail=1; }
else
  echo "inspector request_credential: FAIL"; echo "$out" | head -20; fail=1
fi
if grep -qE 'gsk-inspector-entered|sk-inspector-value' "$WORK/server.log"; then echo "a value reached the server log"; fail=1; fi
check "no token (401 → client asks for auth)" 'auth_required' "$INSPECT" --cli "$URL/mcp" --transport http --method tools/list
exit $fail
