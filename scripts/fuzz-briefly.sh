#!/usr/bin/env bash
# Runs every cargo-fuzz target in fuzz/ for a few seconds each (needs a nightly
# toolchain; installs cargo-fuzz when missing). Not part of CI.
#   scripts/fuzz-briefly.sh [SECONDS]     default 30 per target
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
secs="${1:-30}"
if ! rustup toolchain list | grep -q '^nightly'; then
  echo "cargo-fuzz needs a nightly toolchain: rustup toolchain install nightly" >&2
  exit 1
fi
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
for target in $(cargo +nightly fuzz list); do
  echo "== $target (${secs}s)"
  cargo +nightly fuzz run "$target" -- -max_total_time="$secs" -rss_limit_mb=2048
done
