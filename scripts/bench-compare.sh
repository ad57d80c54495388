#!/usr/bin/env bash
# Times two credvault builds with the same benches in one run: each bench is
# compiled once and run against BEFORE then AFTER (via CREDVAULT_BENCH_BIN),
# and the two outputs are printed side by side. Nothing is asserted.
#
#   scripts/bench-compare.sh BEFORE_BIN AFTER_BIN [BENCH...]   (default: stdio http usage)
set -euo pipefail
before=$(realpath "$1"); after=$(realpath "$2"); shift 2
benches=("$@"); [ ${#benches[@]} -gt 0 ] || benches=(stdio http usage)
out=target/bench-compare; mkdir -p "$out"
for b in "${benches[@]}"; do
  cargo bench --locked --bench "$b" --no-run >/dev/null 2>&1
  for side in before after; do
    bin=$before; [ "$side" = after ] && bin=$after
    CREDVAULT_BENCH_BIN=$bin cargo bench --locked --bench "$b" 2>/dev/null > "$out/$b.$side.txt"
  done
  echo "== $b   (left: $before | right: $after)"
  paste -d'|' <(cut -c1-90 "$out/$b.before.txt" | awk '{printf "%-90s\n", $0}') "$out/$b.after.txt" | sed 's/|/ | /'
  echo
done
