#!/usr/bin/env bash
# The desktop app end to end in a real window: a demo home with one open report and an AI
# record (a second model version's proposals, reviewed), Xvfb, tauri-driver (with Debian's
# WebKitWebDriver), then ui/tests/e2e.mjs. Used by `make e2e`.
# Usage: scripts/e2e.sh DESKTOP_BINARY CLI_BINARY HOSTILE_FILES_BINARY
set -euo pipefail
app=$1 cli=$2 hostile=$3
here=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=webdriver-harness.sh
. "$here/scripts/webdriver-harness.sh"

home=$work/home
"$cli" --home "$home" demo >/dev/null
study=$("$cli" --home "$home" --json studies | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["study"])')
network=$("$cli" --home "$home" --json whoami | python3 -c 'import json,sys; print(json.load(sys.stdin)["network"])')
field() { python3 -c "import json,sys; print(json.load(sys.stdin)[\"$1\"])"; }

# An AI reviewer's record (issue 17), through the CLI as a department would make it: the demo's
# model proposed once (soft-tissue-stats 1.0.0, edited); its version 2.0.0 runs on a node of its
# own (the built-in, CT only) on a report of its own, made before the test's report so that the
# study still opens on that one, and proposes three times: one accepted, one rejected, one left
# unreviewed. The test reads the AI oversight view against `ai stats --json`.
ai_started=$SECONDS
"$cli" image phantom -o "$work/model-images" --slices 16 --size 128 --seed "countersign demo $network" >/dev/null
# About five of the study's slices: a report.create of its own. (Two reports made with the same
# study, template and images sign the same report.create payload, and erasing one of them then
# leaves that payload, which the other still holds; the test erases the other report.)
slices=()
while IFS= read -r f; do slices+=(--image "$f"); done < <(find "$work/model-images" -type f | sort | sed -n 6,10p)
ai_report=$("$cli" --home "$home" --json report new --study "$study" --template ct-chest "${slices[@]}" | field report)
model=$work/model
member=(--name soft-tissue-stats --role ai-model --vendor "Countersign Labs" --model-version 2.0.0)
model_key=$("$cli" --home "$model" --json init "${member[@]}" | field key)
"$cli" --home "$home" roster add --key "$model_key" "${member[@]}" >/dev/null
"$cli" --home "$home" report grant "$ai_report" --member "$model_key" >/dev/null
"$cli" --home "$home" bundle export "$ai_report" -o "$work/to-model.bundle" >/dev/null
"$cli" --home "$model" bundle import "$work/to-model.bundle" --network "$network" >/dev/null
"$cli" --home "$model" import "$work/model-images" >/dev/null
"$cli" --home "$model" ai bind --builtin soft-tissue-stats >/dev/null
proposals=()
for _ in 1 2 3; do proposals+=("$("$cli" --home "$model" --json ai run --report "$ai_report" | field entry)"); done
"$cli" --home "$model" bundle export "$ai_report" -o "$work/from-model.bundle" >/dev/null
"$cli" --home "$home" bundle import "$work/from-model.bundle" >/dev/null
"$cli" --home "$home" report review "$ai_report" --ai-entry "${proposals[0]}" --accept >/dev/null
"$cli" --home "$home" report review "$ai_report" --ai-entry "${proposals[1]}" --reject >/dev/null
echo "AI record (a model node, three proposals, two reviews) made through the CLI in $((SECONDS - ai_started)) s"

report=$("$cli" --home "$home" --json report new --study "$study" --template ct-chest | python3 -c 'import json,sys; print(json.load(sys.stdin)["report"])')

# The department's archive (issue 15): Debian's Orthanc with its DICOMweb plugin, started as the
# PACS tests start it (loopback, a free port, a private config and storage under $work, readiness
# polled), holding the demo study (already here, with its reports) and one study of another
# patient not yet here, dated before every other and not CT (OT) so the study list keeps its
# order and the CD's first CT study stays the one the test opens later. The test
# compares the Worklist with `countersign --json worklist` and opens the second from it.
pacs_started=$SECONDS
pacs_dir=$work/orthanc
mkdir -p "$pacs_dir"
pacs_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 - "$pacs_dir" "$pacs_port" <<'PY'
import json, sys
d, port = sys.argv[1], int(sys.argv[2])
json.dump({"Name": "countersign-e2e", "StorageDirectory": d + "/storage", "IndexDirectory": d + "/index",
           "HttpPort": port, "DicomServerEnabled": False, "RemoteAccessAllowed": False,
           "AuthenticationEnabled": False, "Plugins": ["/usr/share/orthanc/plugins/libOrthancDicomWeb.so"],
           "DicomWeb": {"Enable": True, "Root": "/dicom-web/"}, "StorageCompression": False, "SaveJobs": False},
          open(d + "/orthanc.json", "w"))
PY
"$(command -v Orthanc || echo /usr/sbin/Orthanc)" "$pacs_dir/orthanc.json" >"$pacs_dir/orthanc.log" 2>&1 &
pids+=($!)
for _ in $(seq 600); do curl -sf "http://127.0.0.1:$pacs_port/system" >/dev/null && break; sleep 0.1; done
curl -sf "http://127.0.0.1:$pacs_port/system" >/dev/null || { echo "Orthanc did not start:" >&2; tail "$pacs_dir/orthanc.log" >&2; exit 1; }
"$cli" image phantom -o "$work/pacs-new" --slices 8 --size 128 --seed "countersign e2e worklist" >/dev/null
dcmodify -nb -m "(0010,0020)=E2E-WORKLIST-0002" -m "(0010,0010)=Phantom^Worklist" -m "(0008,0020)=20200102" -m "(0008,0060)=OT" \
  -m "(0008,0050)=E2EWL" "$work"/pacs-new/*.dcm
# Its prior (issue 15): the same patient two years before, 2.5 mm slices beside the new study's
# 5 mm, so that the test sees the prior follow by position (slice 2k beside slice k), not index.
"$cli" image phantom -o "$work/pacs-prior" --slices 16 --thickness 2.5 --size 128 --seed "countersign e2e prior" >/dev/null
dcmodify -nb -m "(0010,0020)=E2E-WORKLIST-0002" -m "(0010,0010)=Phantom^Worklist" -m "(0008,0020)=20180102" -m "(0008,0060)=OT" \
  -m "(0008,0050)=E2EPR" "$work"/pacs-prior/*.dcm
for f in "$work"/model-images/*.dcm "$work"/pacs-new/*.dcm "$work"/pacs-prior/*.dcm; do
  curl -sf -X POST -H 'Content-Type: application/dicom' --data-binary "@$f" "http://127.0.0.1:$pacs_port/instances" >/dev/null
done
"$cli" --home "$home" pacs add e2e --dicomweb "http://127.0.0.1:$pacs_port/dicom-web" >/dev/null
worklist_study=$("$cli" --home "$home" --json worklist | python3 -c '
import json, sys
print(next(r["study"] for r in json.load(sys.stdin) if r["accession"] == "E2EWL"))')
prior_study=$("$cli" --home "$home" --json worklist | python3 -c '
import json, sys
print(next(r["study"] for r in json.load(sys.stdin) if r["accession"] == "E2EPR"))')
echo "Orthanc started and seeded ($(find "$work/model-images" "$work/pacs-new" "$work/pacs-prior" -name '*.dcm' | wc -l) instances) in $((SECONDS - pacs_started)) s"

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
# dialog, which WebDriver cannot drive; see pick_to_import in src-tauri/src/commands/studies.rs).
export COUNTERSIGN_E2E_PICK=$cd_dir E2E_HOSTILE_FILES=$hostile_files
export COUNTERSIGN_NO_MDNS=1
# The app locks its key after this long without a command from the user; the test waits it out
# at the end and sees signing ask for the passphrase again (the default is ten minutes). Long
# enough that no step of the test before it waits that long on its own.
export COUNTERSIGN_IDLE_LOCK_SECS=30
export E2E_WORKLIST_STUDY=$worklist_study E2E_PRIOR_STUDY=$prior_study
export E2E_CLI=$cli E2E_HOME=$home E2E_STUDY=$study E2E_REMOTE_HOME=$remote E2E_REPORT=$report E2E_REMOTE_ADDR=$remote_addr

start_webdriver "$home"

mkdir -p "$here/ui/test-results"
if ! node "$here/ui/tests/e2e.mjs" "$app" "$here/ui/test-results/e2e.png"; then
  echo "--- tauri-driver log"; tail -30 "$work/driver.log"
  # The app's own log says why it did what it did (a lock and its cause, a refused command);
  # it never holds patient data or report text (src-tauri/src/logfile.rs).
  echo "--- the app's log"; tail -60 "$home/logs/countersign.log"
  exit 1
fi

# A newcomer's first run: a fresh home holding only a study's images (as a PACS delivers them),
# joined to the department by the app's "Join with an invitation", syncing from the admin's node.
# The test above erased the demo patient (every report on the demo study): a new report on that
# study is what the newcomer sees arrive.
"$cli" --home "$home" report new --study "$study" --template ct-chest >/dev/null
"$cli" --home "$home" --json serve --listen /ip4/127.0.0.1/tcp/0 >"$work/dept.out" 2>"$work/dept.err" &
pids+=($!)
for _ in $(seq 100); do [ -s "$work/dept.out" ] && break; sleep 0.1; done
dept_addr=$(head -1 "$work/dept.out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["listen"][0])')
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
