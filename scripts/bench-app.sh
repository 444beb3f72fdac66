#!/usr/bin/env bash
# Desktop app performance (make bench-app): a home with a 500-slice 512² phantom series and a
# 1760² CR, the release app under Xvfb + tauri-driver, then ui/tests/bench-app.mjs. A second
# 500-file series is imported by the CLI, in another process, while the bench asks for frames.
# Usage: scripts/bench-app.sh DESKTOP_BINARY CLI_BINARY
set -euo pipefail
app=$1 cli=$2
here=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=webdriver-harness.sh
. "$here/scripts/webdriver-harness.sh"
home=$work/home
"$cli" --home "$home" init --name "Dr Bench" --role attending --admin >/dev/null
"$cli" image phantom --slices 500 --size 512 --seed bench -o "$work/series" >/dev/null
"$cli" image phantom --slices 500 --size 512 --seed bench-import -o "$work/import" >/dev/null
"$cli" --home "$home" import "$work/series" "${COUNTERSIGN_CORPUS:-$HOME/.cache/countersign/corpus}/RG3_UNCI.dcm" >/dev/null
# The app logs each frame decode's time at debug level (no patient data): the bench's profile
# reads them from the home's log.
RUST_LOG=${RUST_LOG:-warn,countersign=info,countersign_desktop=debug} start_webdriver "$home"
COUNTERSIGN_HOME=$home BENCH_CLI=$cli BENCH_IMPORT=$work/import node "$here/ui/tests/bench-app.mjs" "$app"
