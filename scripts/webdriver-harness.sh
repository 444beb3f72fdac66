# Sourced by e2e.sh and bench-app.sh: a temporary folder `work`, removed on exit, and
# `start_webdriver HOME`: a display of our own (Xvfb) and tauri-driver on free ports, both stopped
# on exit; the app tauri-driver launches opens HOME. Sets DISPLAY and WEBDRIVER_URL.
# Keys are sealed under the documented demo passphrase, which the CLI reads from the file
# COUNTERSIGN_PASSPHRASE_FILE names (the app itself asks on its unlock screen).
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
printf 'countersign-demo\n' >"$work/passphrase"
export COUNTERSIGN_PASSPHRASE_FILE=$work/passphrase E2E_PASSPHRASE=countersign-demo

start_webdriver() {
  local home=$1
  display=:$((90 + RANDOM % 400))
  Xvfb "$display" -screen 0 1600x1000x24 -nolisten tcp >"$work/xvfb.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 50); do [ -e "/tmp/.X11-unix/X${display#:}" ] && break; sleep 0.1; done
  local port=$((4500 + RANDOM % 1000))
  DISPLAY=$display COUNTERSIGN_HOME=$home tauri-driver --port "$port" --native-port $((port + 1)) \
    >"$work/driver.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/status" >/dev/null && break; sleep 0.1; done
  export DISPLAY=$display WEBDRIVER_URL="http://127.0.0.1:$port"
}
