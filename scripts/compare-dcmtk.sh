#!/usr/bin/env bash
# Whole-process render time: `countersign image render` (PNG) beside DCMTK writing its fastest
# format (dcmj2pnm to 8-bit PNM), on the same corpus files, in one run. JPEG 2000, which DCMTK
# cannot decode, is compared with GDCM's `gdcmconv --raw`. Needs hyperfine, dcmtk, libgdcm-tools.
# Each ratio is of whole processes, so it includes each program's start-up: the start-up of both
# (`--version`, which loads the program and its libraries and exits) is measured in the same run
# and printed first, so a reader can see what the ratios are made of.
# Two sets of files: corpus files (which earlier optimisation was profiled on) and files
# generated for this run from a seed by scripts/unseen-images.py (pydicom, compressed by DCMTK's
# own dcmcjpeg/dcmcrle), which no code here was tuned on — issue 20's "files the project has
# not seen". Goal: every class ≥ 1.5× DCMTK; JPEG 2000 ahead of GDCM.
# Usage: scripts/compare-dcmtk.sh [countersign binary]   (default: the release build)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
corpus="${COUNTERSIGN_CORPUS:-$HOME/.cache/countersign/corpus}"
bin=${1:-${CARGO_TARGET_DIR:-$HOME/.cache/countersign/target}/release/countersign}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for tool in hyperfine dcmj2pnm; do command -v $tool >/dev/null || { echo "missing $tool" >&2; exit 2; }; done

compare() { # label file (relative to the corpus, or absolute)
  local label=$1 file=$2
  [[ $file = /* ]] || file=$corpus/$file
  hyperfine -N --style none --warmup 3 --min-runs 20 --export-json "$out/r.json" \
    -n countersign "$bin image render $file -o $out/c.png" \
    -n dcmtk "dcmj2pnm $file $out/d.pnm" >/dev/null
  python3 - "$label" "$out/r.json" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[2]))["results"]}
c, d = r["countersign"]["median"], r["dcmtk"]["median"]
ratio = d / c
print(f"| {sys.argv[1]} | {c*1e3:.1f} ms | {d*1e3:.1f} ms | {ratio:.2f}x | {'met' if ratio >= 1.5 else 'NOT MET'} |")
PY
}

# Other work on the machine moves every figure: the load average is printed with them.
echo "load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
hyperfine -N --style none --warmup 3 --min-runs 30 --export-json "$out/s.json" \
  -n countersign "$bin --version" -n dcmtk "dcmj2pnm --version" >/dev/null
python3 - "$out/s.json" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
c, d = r["countersign"]["median"], r["dcmtk"]["median"]
print(f"process start-up (--version), median: countersign {c*1e3:.1f} ms, dcmj2pnm {d*1e3:.1f} ms")
print()
PY
echo "| image | countersign render → PNG | dcmj2pnm → PNM | speed-up | ≥ 1.5x |"
echo "|---|---|---|---|---|"
compare "CT 512² (693_UNCI)" 693_UNCI.dcm
compare "CR 1760² MONOCHROME1 (RG3_UNCI)" RG3_UNCI.dcm
compare "JPEG baseline colour (examples_ybr_color, frame 1)" examples_ybr_color.dcm
compare "JPEG lossless 1024×256 (JPEG-LL)" JPEG-LL.dcm
compare "RLE multi-frame (emri_small_RLE)" emri_small_RLE.dcm
compare "MR 64² (MR_small)" MR_small.dcm
compare "US palette colour 800×600 (OBXXXX1A)" OBXXXX1A.dcm
python=${COUNTERSIGN_PYTHON:-$HOME/.cache/countersign/venv/bin/python}
if "$python" -c 'import pydicom, numpy' 2>/dev/null && command -v dcmcjpeg >/dev/null; then
  while IFS=$'\t' read -r label file; do
    compare "unseen: $label" "$file"
  done < <("$python" "$here/scripts/unseen-images.py" "$out/unseen")
else
  echo "(no files generated: needs pydicom and numpy in $python, and DCMTK's dcmcjpeg)"
fi
if command -v gdcmconv >/dev/null; then
  hyperfine -N --style none --warmup 2 --min-runs 10 --export-json "$out/j.json" \
    -n countersign "$bin image render $corpus/RG3_J2KR.dcm -o $out/c.png" \
    -n gdcm "gdcmconv --raw $corpus/RG3_J2KR.dcm $out/g.dcm" >/dev/null
  python3 - "$out/j.json" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
c, g = r["countersign"]["median"], r["gdcm"]["median"]
print(f"| JPEG 2000 lossless CR 1760² (RG3_J2KR) vs gdcmconv --raw | {c*1e3:.1f} ms | {g*1e3:.1f} ms (GDCM) | {g/c:.2f}x | {'ahead: met' if g > c else 'NOT MET'} |")
PY
fi
echo "load average after the run: $(cut -d' ' -f1-3 /proc/loadavg)"
