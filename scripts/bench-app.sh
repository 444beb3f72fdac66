#!/usr/bin/env bash
# Desktop app performance (make bench-app): a home with a 500-slice 512² phantom series and a
# 1760² CR, the release app under Xvfb + tauri-driver, then ui/tests/bench-app.mjs.
# Usage: scripts/bench-app.sh DESKTOP_BINARY CLI_BINARY
set -euo pipefail
app=$1 cli=$2
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
home=$work/home
"$cli" --home "$home" init --name "Dr Bench" --role attending --admin >/dev/null
"$cli" image phantom --slices 500 --size 512 --seed bench -o "$work/series" >/dev/null
"$cli" --home "$home" import "$work/series" "$here/../shared/dicom/RG3_UNCI.dcm" >/dev/null
display=:$((90 + RANDOM % 400))
Xvfb "$display" -screen 0 1600x1000x24 -nolisten tcp >/dev/null 2>&1 &
pids+=($!)
for _ in $(seq 50); do [ -e "/tmp/.X11-unix/X${display#:}" ] && break; sleep 0.1; done
port=$((4500 + RANDOM % 1000))
DISPLAY=$display COUNTERSIGN_HOME=$home tauri-driver --port "$port" --native-port $((port + 1)) >"$work/driver.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/status" >/dev/null && break; sleep 0.1; done
DISPLAY=$display WEBDRIVER_URL="http://127.0.0.1:$port" node "$here/ui/tests/bench-app.mjs" "$app"
