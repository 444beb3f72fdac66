#!/usr/bin/env bash
# The desktop app end to end in a real window: a demo home with one open report, Xvfb,
# tauri-driver (with Debian's WebKitWebDriver), then ui/tests/e2e.mjs. Used by `make e2e`.
# Usage: scripts/e2e.sh DESKTOP_BINARY CLI_BINARY
set -euo pipefail
app=$1 cli=$2
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

home=$work/home
"$cli" --home "$home" demo >/dev/null
study=$("$cli" --home "$home" --json studies | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["study"])')
"$cli" --home "$home" report new --study "$study" --template ct-chest >/dev/null

# A display of our own, and tauri-driver on free ports.
display=:$((90 + RANDOM % 400))
Xvfb "$display" -screen 0 1600x1000x24 -nolisten tcp >"$work/xvfb.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do [ -e "/tmp/.X11-unix/X${display#:}" ] && break; sleep 0.1; done
port=$((4500 + RANDOM % 1000))
DISPLAY=$display COUNTERSIGN_HOME=$home tauri-driver --port "$port" --native-port $((port + 1)) >"$work/driver.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/status" >/dev/null && break; sleep 0.1; done

mkdir -p "$here/ui/test-results"
if ! DISPLAY=$display WEBDRIVER_URL="http://127.0.0.1:$port" \
  node "$here/ui/tests/e2e.mjs" "$app" "$here/ui/test-results/e2e.png"; then
  echo "--- tauri-driver log"; tail -30 "$work/driver.log"
  exit 1
fi
