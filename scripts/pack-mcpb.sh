#!/usr/bin/env bash
# Packs the Claude Desktop extension (an MCP Bundle, .mcpb) around one credvault
# binary, with the official CLI (@anthropic-ai/mcpb, pinned): the manifest is
# packaging/mcpb/manifest.json, the binary goes to server/credvault.
#
#   scripts/pack-mcpb.sh CREDVAULT_BIN OUT.mcpb [PLATFORM]
#
# PLATFORM (darwin or linux) narrows the manifest's compatibility.platforms to
# the one the binary runs on. `mcpb validate` checks the manifest, `mcpb pack`
# builds the bundle (and validates it again). Needs Node and npm; the CLI is
# installed into $MCPB_CACHE (~/.cache/credvault-ci/mcpb) on first use.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${1:?usage: pack-mcpb.sh CREDVAULT_BIN OUT.mcpb [darwin|linux]}
OUT=${2:?usage: pack-mcpb.sh CREDVAULT_BIN OUT.mcpb [darwin|linux]}
PLATFORM=${3:-}
MCPB_VERSION=2.1.2
MCPB_CACHE=${MCPB_CACHE:-$HOME/.cache/credvault-ci/mcpb}
if ! grep -qs "\"version\": \"$MCPB_VERSION\"" "$MCPB_CACHE/node_modules/@anthropic-ai/mcpb/package.json"; then
  mkdir -p "$MCPB_CACHE"
  [ -f "$MCPB_CACHE/package.json" ] || echo '{"private": true}' > "$MCPB_CACHE/package.json"
  npm install --prefix "$MCPB_CACHE" --no-audit --no-fund --silent "@anthropic-ai/mcpb@$MCPB_VERSION"
fi
MCPB=$MCPB_CACHE/node_modules/.bin/mcpb

STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
mkdir -p "$STAGE/server"
cp "$ROOT/packaging/mcpb/manifest.json" "$STAGE/manifest.json"
if [ -n "$PLATFORM" ]; then
  node -e '
    const fs = require("fs"), [file, platform] = process.argv.slice(1);
    const m = JSON.parse(fs.readFileSync(file, "utf8"));
    m.compatibility = { ...m.compatibility, platforms: [platform] };
    fs.writeFileSync(file, JSON.stringify(m, null, 2) + "\n");
  ' "$STAGE/manifest.json" "$PLATFORM"
fi
install -m 0755 "$BIN" "$STAGE/server/credvault"
"$MCPB" validate "$STAGE/manifest.json"
mkdir -p "$(dirname "$OUT")"
"$MCPB" pack "$STAGE" "$OUT"
# What Claude Desktop will unpack: the manifest and the same binary, executable.
"$MCPB" unpack "$OUT" "$STAGE/unpacked" >/dev/null
cmp "$BIN" "$STAGE/unpacked/server/credvault"
[ -x "$STAGE/unpacked/server/credvault" ] || { echo "pack-mcpb: server/credvault lost its execute bit" >&2; exit 1; }
echo "pack-mcpb: $OUT ($(wc -c < "$OUT") bytes) holds server/credvault, executable"
