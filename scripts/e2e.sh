#!/usr/bin/env bash
# The desktop app end to end in a real window: a demo home with one open report, Xvfb,
# tauri-driver (with Debian's WebKitWebDriver), then ui/tests/e2e.mjs. Used by `make e2e`.
# Usage: scripts/e2e.sh DESKTOP_BINARY CLI_BINARY
set -euo pipefail
app=$1 cli=$2
here=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=webdriver-harness.sh
. "$here/scripts/webdriver-harness.sh"

home=$work/home
"$cli" --home "$home" demo >/dev/null
study=$("$cli" --home "$home" --json studies | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["study"])')
"$cli" --home "$home" report new --study "$study" --template ct-chest >/dev/null

start_webdriver "$home"

mkdir -p "$here/ui/test-results"
if ! node "$here/ui/tests/e2e.mjs" "$app" "$here/ui/test-results/e2e.png"; then
  echo "--- tauri-driver log"; tail -30 "$work/driver.log"
  exit 1
fi
