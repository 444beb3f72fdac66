#!/usr/bin/env bash
# The desktop app end to end in a real window: a demo home with one open report, Xvfb,
# tauri-driver (with Debian's WebKitWebDriver), then ui/tests/e2e.mjs. Used by `make e2e`.
# Usage: scripts/e2e.sh DESKTOP_BINARY CLI_BINARY HOSTILE_FILES_BINARY
set -euo pipefail
app=$1 cli=$2 hostile=$3
here=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=webdriver-harness.sh
. "$here/scripts/webdriver-harness.sh"

home=$work/home
"$cli" --home "$home" demo >/dev/null
study=$("$cli" --home "$home" --json studies | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["study"])')
report=$("$cli" --home "$home" --json report new --study "$study" --template ct-chest | python3 -c 'import json,sys; print(json.load(sys.stdin)["report"])')

# A cardiologist on another machine: her own home and key, added to the roster, the roster and
# reports taken by bundle, serving on loopback. The test adds her node's address in the app.
remote=$work/remote
key=$("$cli" --home "$remote" --json init --name "Dr Carla Remote" --role cardiologist | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
"$cli" --home "$home" roster add --key "$key" --name "Dr Carla Remote" --role cardiologist >/dev/null
# Joined by invitation, as every new member is: her home takes only this department's network.
invitation=$("$cli" --home "$home" --json roster invite --key "$key" | python3 -c 'import json,sys; print(json.load(sys.stdin)["invitation"])')
"$cli" --home "$remote" join "$invitation" >/dev/null
"$cli" --home "$home" bundle export -o "$work/to-remote.bundle" >/dev/null
"$cli" --home "$remote" bundle import "$work/to-remote.bundle" >/dev/null
"$cli" --home "$remote" --json serve --listen /ip4/127.0.0.1/tcp/0 >"$work/remote.out" 2>"$work/remote.err" &
pids+=($!)
for _ in $(seq 100); do [ -s "$work/remote.out" ] && break; sleep 0.1; done
remote_addr=$(head -1 "$work/remote.out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["listen"][0])')
# A folder as a CD from another hospital arrives: the pinned corpus (checked by make corpus),
# a file that is not DICOM at all, and in hostile/ the files made to take the app down
# (countersign_testkit::hostile); the import must list each as refused, and the app go on.
cd_dir=$work/cd
mkdir -p "$cd_dir"
cp "${COUNTERSIGN_CORPUS:-$HOME/.cache/countersign/corpus}"/*.dcm "$cd_dir"/
printf 'A CD from another hospital.\n' >"$cd_dir/README.txt"
hostile_files=$("$hostile" "$cd_dir/hostile" | cut -f1 | paste -sd, -)
[ -n "$hostile_files" ] || { echo "no hostile files written by $hostile" >&2; exit 1; }
# The app's "Import folder…" dialog picks this folder (a debug build's stand-in for the native
# dialog, which WebDriver cannot drive; see pick_to_import in src-tauri/src/commands.rs).
export COUNTERSIGN_E2E_PICK=$cd_dir E2E_HOSTILE_FILES=$hostile_files
export COUNTERSIGN_NO_MDNS=1
# The app locks its key after this long without a command from the user; the test waits it out
# at the end and sees signing ask for the passphrase again (the default is ten minutes). Long
# enough that no step of the test before it waits that long on its own.
export COUNTERSIGN_IDLE_LOCK_SECS=30
export E2E_CLI=$cli E2E_HOME=$home E2E_REMOTE_HOME=$remote E2E_REPORT=$report E2E_REMOTE_ADDR=$remote_addr

start_webdriver "$home"

mkdir -p "$here/ui/test-results"
if ! node "$here/ui/tests/e2e.mjs" "$app" "$here/ui/test-results/e2e.png"; then
  echo "--- tauri-driver log"; tail -30 "$work/driver.log"
  exit 1
fi

# A newcomer's first run: a fresh home holding only a study's images (as a PACS delivers them),
# joined to the department by the app's "Join with an invitation", syncing from the admin's node.
"$cli" --home "$home" --json serve --listen /ip4/127.0.0.1/tcp/0 >"$work/dept.out" 2>"$work/dept.err" &
pids+=($!)
for _ in $(seq 100); do [ -s "$work/dept.out" ] && break; sleep 0.1; done
dept_addr=$(head -1 "$work/dept.out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["listen"][0])')
network=$("$cli" --home "$home" --json whoami | python3 -c 'import json,sys; print(json.load(sys.stdin)["network"])')
newcomer=$work/newcomer
"$cli" image phantom -o "$work/pacs" --slices 16 --size 128 --seed "countersign demo $network" >/dev/null
"$cli" --home "$newcomer" import "$work/pacs" >/dev/null
start_webdriver "$newcomer"
if ! E2E_DEPT_HOME=$home E2E_DEPT_ADDR=$dept_addr \
  node "$here/ui/tests/e2e-join.mjs" "$app" "$here/ui/test-results/e2e-join.png"; then
  echo "--- tauri-driver log"; tail -30 "$work/driver.log"
  echo "--- department node"; tail -30 "$work/dept.err"
  exit 1
fi
