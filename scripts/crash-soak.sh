#!/usr/bin/env bash
# Release soak: SIGKILL `credvault serve` at random moments of a write stream,
# many more times than CI does (tests/integration/crash.rs), and check after
# every kill that each acknowledged write is on disk and every record opens.
#   scripts/crash-soak.sh [TRIALS]        default 1000
# Replay a failing run with CREDVAULT_CRASH_SEED=<seed printed by the test>.
set -euo pipefail
cd "$(dirname "$0")/.."
trials="${1:-1000}"
CREDVAULT_CRASH_TRIALS="$trials" cargo test --locked --test integration crash:: -- --nocapture
