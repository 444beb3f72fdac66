#!/usr/bin/env bash
# Import throughput and peak memory on a 500-instance synthetic CT series (512×512, 0.5 MB each),
# whole process, cold home each run: `make bench-import`.
set -euo pipefail
BIN=${BIN:-${CARGO_TARGET_DIR:-$HOME/.cache/countersign/target}/release/countersign}
SLICES=${SLICES:-500}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The bench home's key is sealed under this passphrase (init reads it from the file).
printf 'bench passphrase\n' >"$work/passphrase"
export COUNTERSIGN_PASSPHRASE_FILE=$work/passphrase
"$BIN" image phantom --slices "$SLICES" --size 512 -o "$work/series" >/dev/null
bytes=$(du -sb "$work/series" | cut -f1)
for run in 1 2 3; do
  rm -rf "$work/home"
  "$BIN" --home "$work/home" init --name "Bench" --role radiologist >/dev/null
  sync
  /usr/bin/time -f "%e %M" -o "$work/time" "$BIN" --home "$work/home" --json import "$work/series" >"$work/out.json"
  read -r seconds peak_kb <"$work/time"
  imported=$(grep -o '"imported":[0-9]*' "$work/out.json" | cut -d: -f2)
  awk -v s="$seconds" -v kb="$peak_kb" -v n="$imported" -v b="$bytes" -v r="$run" 'BEGIN {
    printf "run %d: %d instances in %.2f s = %.0f instances/s, %.0f MB/s; peak RSS %.1f MB\n",
      r, n, s, n / s, b / s / 1e6, kb / 1024 }'
done
