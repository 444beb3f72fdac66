#!/usr/bin/env bash
# Retrieval of a 500-instance 512² CT series from a real Orthanc on loopback (issue 15):
# instances/s for `countersign retrieve` over DICOMweb (WADO-RS) against a plain `curl` of the
# same WADO-RS multipart, and over DIMSE (C-GET) against DCMTK's `getscu`, in one run:
# `make bench-retrieve`.
#
# Fair by construction: the same Orthanc, the same study, whole processes on both sides, the
# page cache warm (one warm-up run each), a fresh copy of the same home before every
# Countersign run and an empty folder before every getscu/curl run (the copying is not timed).
# No command runs right after the last run's files were deleted: each run's home and folder
# are moved aside (a rename), and what was moved aside is deleted only between rounds, then
# synced, then left 6 s. On the ext4 this was measured on (no journal), creating a file walks
# every inode deleted in the last 5 s (300 s while its inode-table block is still dirty, hence
# the sync; `recently_deleted` in fs/ext4/ialloc.c), up to 47% of a retrieval's samples: a
# cost of the benchmark's own `rm -rf`, paid by whoever writes many files (Countersign,
# getscu) and not by curl's one file, and never by a desktop retrieving a study.
# `PREPARE=delete` deletes before each run instead (the earlier passes' figures).
# Every run starts with nothing of the runs before it waiting to be written back (the `sync`
# that ends each preparation, not timed): curl and getscu leave 250 MiB in the page cache,
# which whatever ran next paid for — Countersign makes each batch durable with `syncfs`, which
# writes back the whole filesystem's dirty data, and its direct writes met that writeback at
# the disk (0.42-0.47 s right after a curl run against 0.30-0.34 s after a `sync`, by hand).
#
# Beside the plain curl (the issue's baseline), the DICOMweb rounds time the same curl followed
# by an `fdatasync` of its file ("curl + fdatasync"): Countersign's instances are durable when
# it ends, curl's bytes only in the page cache, and on a disk slower than loopback that
# difference is most of the time (no goal is set against it).
#
# `ONLY=web` runs the DICOMweb side alone (Countersign and curl), a round taking seconds rather
# than the minutes getscu takes. `BASE_BIN=PATH` adds another build of the CLI to the DICOMweb
# rounds ("countersign base"), run in turn with the rest: a change measured against the build
# before it, on the same machine in the same minutes.
set -euo pipefail
BIN=${BIN:-${CARGO_TARGET_DIR:-$HOME/.cache/countersign/target}/release/countersign}
SLICES=${SLICES:-500}
RUNS=${RUNS:-5}
PLUGIN=/usr/share/orthanc/plugins/libOrthancDicomWeb.so
for tool in getscu curl Orthanc python3; do
  command -v $tool >/dev/null || { echo "missing $tool (make deps installs it)" >&2; exit 2; }
done
[ -e "$PLUGIN" ] || { echo "missing $PLUGIN (orthanc-dicomweb)" >&2; exit 2; }

work=$(mktemp -d); [ -n "${KEEP:-}" ] && echo "work: $work" >&2
orthanc=
cleanup() { [ -n "$orthanc" ] && kill "$orthanc" 2>/dev/null && wait "$orthanc" 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$work"; }
trap cleanup EXIT
printf 'bench passphrase\n' >"$work/passphrase"
export COUNTERSIGN_PASSPHRASE_FILE=$work/passphrase

"$BIN" image phantom --slices "$SLICES" --size 512 -o "$work/series" >/dev/null
read -r http dicom < <(python3 -c '
import socket
s = [socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])')
python3 - "$work" "$http" "$dicom" "$PLUGIN" >"$work/orthanc.json" <<'PY'
import json, sys
work, http, dicom, plugin = sys.argv[1:]
print(json.dumps({
    "Name": "countersign-bench", "StorageDirectory": f"{work}/storage",
    "IndexDirectory": f"{work}/index", "HttpPort": int(http), "DicomPort": int(dicom),
    "DicomServerEnabled": True, "DicomAet": "ORTHANC", "DicomAlwaysAllowGet": True,
    "DicomAlwaysAllowFind": True,
    "RemoteAccessAllowed": False, "AuthenticationEnabled": False, "Plugins": [plugin],
    "DicomWeb": {"Enable": True, "Root": "/dicom-web/"}, "StorageCompression": False,
    "SaveJobs": False, "HttpThreadsCount": 4,
}))
PY
Orthanc "$work/orthanc.json" >"$work/orthanc.log" 2>&1 &
orthanc=$!
base=http://127.0.0.1:$http
# Readiness polled against a deadline (a benchmark script, not a test: a short poll is fine).
for _ in $(seq 1 300); do
  curl -sf "$base/system" >/dev/null && break
  kill -0 "$orthanc" 2>/dev/null || { cat "$work/orthanc.log" >&2; exit 1; }
  sleep 0.1
done
curl -sf "$base/system" >/dev/null || { echo "Orthanc did not start" >&2; exit 1; }
for f in "$work"/series/*; do
  curl -sf --data-binary @"$f" "$base/instances" >/dev/null
done
study=$(curl -sf "$base/studies?expand" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["MainDicomTags"]["StudyInstanceUID"])')
bytes=$(du -sb "$work/series" | cut -f1)

"$BIN" --home "$work/template" init --name "Bench" --role radiologist >/dev/null
"$BIN" --home "$work/template" pacs add web --dicomweb "$base/dicom-web" >/dev/null
"$BIN" --home "$work/template" pacs add dimse --dimse "ORTHANC@127.0.0.1:$dicom" >/dev/null

cs_web="$BIN --home $work/h --json retrieve --pacs web --study $study"
cs_dimse="$BIN --home $work/h --json retrieve --pacs dimse --study $study"
base_web="${BASE_BIN:-} --home $work/h --json retrieve --pacs web --study $study"
# The same request as Countersign's (crates/pacs/src/dicomweb.rs, ACCEPT_STUDY): any transfer
# syntax, as stored, which spares Orthanc some work (without it, 0.17-0.19 s of its CPU against
# 0.15-0.17 s, by hand).
accept='multipart/related; type="application/dicom"; transfer-syntax=*'
curl_web="curl -sf -H 'Accept: $accept' -o $work/out/study.multipart $base/dicom-web/studies/$study"
# The same curl, then its file made durable (`fdatasync`): the same work as Countersign's in
# one respect the plain curl leaves out — Countersign makes every instance durable before it
# says it is stored. Not the issue's baseline (plain curl is); printed beside it, because on
# a machine whose disk is slower than its network stack the two differ mostly by that.
printf '%s && exec sync -d %q\n' "$curl_web" "$work/out/study.multipart" >"$work/curl-durable.sh"
curl_durable="bash $work/curl-durable.sh"
getscu_dimse="getscu -aec ORTHANC -k QueryRetrieveLevel=STUDY -k StudyInstanceUID=$study -od $work/out 127.0.0.1 $dicom"
if [ "${PREPARE:-fresh}" = delete ]; then
  prepare="rm -rf $work/h $work/out && cp -a $work/template $work/h && mkdir $work/out && sync"
  clear_used() { :; }
else
  # Each run's files moved aside under a name of their own (see above); a round's runs are
  # kept until it ends: check there is room for them, with a margin.
  need=$(( (RUNS + 1) * 4 * (bytes + (bytes >> 4)) + (2 << 30) ))
  free=$(( $(df -Pk "$work" | awk 'NR==2 {print $4}') * 1024 ))
  [ "$free" -ge "$need" ] || {
    echo "$((need >> 30)) GiB needed under $work for a round's runs, $((free >> 30)) free (PREPARE=delete needs less)" >&2
    exit 2
  }
  prepare="n=\$(mktemp -d $work/used/run.XXXXXX) && { [ ! -e $work/h ] || mv $work/h \$n/h; } && { [ ! -e $work/out ] || mv $work/out \$n/out; } && cp -a $work/template $work/h && mkdir $work/out && sync"
  # Between rounds (never timed): the runs moved aside deleted, their inodes written back,
  # and the 5 s during which ext4 would skip them let pass (see above).
  clear_used() {
    rm -rf "$work/used" "$work/h" "$work/out" && sync && sleep 6 && mkdir "$work/used"
  }
fi
clear_used
# Each side once, checked: every instance arrived.
eval "$prepare"
got=$(eval "$cs_web" | python3 -c 'import json,sys; print(json.load(sys.stdin)["instances"])')
[ "$got" = "$SLICES" ] || { echo "countersign over DICOMweb retrieved $got of $SLICES" >&2; exit 1; }
if [ -n "${BASE_BIN:-}" ]; then
  eval "$prepare"
  got=$(eval "$base_web" | python3 -c 'import json,sys; print(json.load(sys.stdin)["instances"])')
  [ "$got" = "$SLICES" ] || { echo "the base build retrieved $got of $SLICES" >&2; exit 1; }
fi
if [ "${ONLY:-}" != web ]; then
  eval "$prepare"
  got=$(eval "$cs_dimse" | python3 -c 'import json,sys; print(json.load(sys.stdin)["instances"])')
  [ "$got" = "$SLICES" ] || { echo "countersign over DIMSE retrieved $got of $SLICES" >&2; exit 1; }
  eval "$prepare"; eval "$getscu_dimse" 2>/dev/null
  got=$(find "$work/out" -type f | wc -l)
  [ "$got" = "$SLICES" ] || { echo "getscu retrieved $got of $SLICES" >&2; exit 1; }
fi
eval "$prepare"; eval "$curl_web"
got=$(grep -c --binary-files=text 'application/dicom' "$work/out/study.multipart" || true)
[ "$got" -ge "$SLICES" ] || { echo "curl's multipart holds $got parts" >&2; exit 1; }

clear_used
echo "$SLICES instances, $((bytes / 1048576)) MiB; $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg); prepare: ${PREPARE:-fresh}"
# Where the wall time of one retrieval goes: the process launched, each step's event (`-vv`,
# timestamped by the log) after it, the process gone; and curl's first and last byte of the
# same WADO-RS answer.
eval "$prepare"
launch=$(date +%s.%N)
"$BIN" --home "$work/h" -vv --json retrieve --pacs web --study "$study" >/dev/null 2>"$work/timeline.log"
gone=$(date +%s.%N)
python3 - "$launch" "$gone" "$work/timeline.log" <<'PY'
import datetime, re, sys
launch, gone, log = float(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
steps = ("retrieval asked", "the archive searched", "WADO-RS answered",
         "the first instance received", "a batch durable", "a batch indexed",
         "the archive has sent the study", "image import finished")
out = []
for line in open(log, errors="replace"):
    m = re.match(r"(\S+Z)\s+\w+\s+\S+: (.*)", line)
    if not m or not m.group(2).startswith(steps):
        continue
    at = datetime.datetime.fromisoformat(m.group(1).replace("Z", "+00:00")).timestamp()
    out.append(f"{(at - launch) * 1000:7.1f} ms  {m.group(2)[:70]}")
# Every batch's two events would bury the rest: the first two batches and the last.
batches = [i for i, l in enumerate(out) if "a batch " in l]
drop = set(batches[4:-2])
print("timeline of one DICOMweb retrieval (ms after the process was launched):")
for i, l in enumerate(out):
    if i not in drop:
        print("  " + l)
print(f"  {(gone - launch) * 1000:7.1f} ms  the process gone")
PY
eval "$prepare"
echo "curl of the same: $(curl -sf -w 'first byte %{time_starttransfer} s, last byte %{time_total} s' \
  -H "Accept: $accept" -o "$work/out/study.multipart" \
  "$base/dicom-web/studies/$study")"
# The first image before the rest: from asking the archive to the first instance stored and
# visible to another handle (when the desktop opens the study), each side's own run.
for proto in web $([ "${ONLY:-}" = web ] || echo dimse); do
  firsts=()
  for _ in 1 2 3; do
    eval "$prepare"
    firsts+=("$("$BIN" --home "$work/h" --json retrieve --pacs $proto --study "$study" |
      python3 -c 'import json,sys; print(json.load(sys.stdin)["first_stored_ms"])')")
  done
  echo "first instance stored ($proto): ${firsts[*]} ms (of the whole study's $SLICES)"
done
# The rounds: Countersign and the baselines in turn, run by run (`interleave` below), not each
# command's runs in a block (hyperfine's way), so that a machine whose load changes during a
# round (it is shared) weighs on every command alike; each round starts with one untimed run
# of each, and the order rotates from run to run (reversed in the second round).
round() { # n, then name/command pairs
  local n=$1; shift
  clear_used
  python3 - "$n" "$SLICES" "$RUNS" "$prepare" "$@" <<'PY'
import resource, shlex, statistics, subprocess, sys, time
rnd, n, runs, prepare = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
pairs = sys.argv[5:]
commands = list(zip(pairs[0::2], pairs[1::2]))
times = {name: [] for name, _ in commands}
cpus = {name: [] for name, _ in commands}
def run(cmd):
    subprocess.run(["bash", "-c", prepare], check=True)
    argv = shlex.split(cmd)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    # The command's CPU (user and system), the archive's not counted.
    return t, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
for _, cmd in commands:  # warm-up, untimed
    run(cmd)
for i in range(runs):
    k = i % len(commands)
    for name, cmd in commands[k:] + commands[:k]:
        t, cpu = run(cmd)
        times[name].append(t)
        cpus[name].append(cpu)
r = {}
for name, _ in commands:
    t = statistics.median(times[name])
    r[name] = t
    print(f"round {rnd}: {name:22s} {t:6.3f} s = {n / t:6.0f} instances/s "
          f"(runs {min(times[name]):.3f}-{max(times[name]):.3f} s; "
          f"CPU {statistics.median(cpus[name]):.3f} s)")
for ours, theirs in (("countersign DICOMweb", "curl WADO-RS"), ("countersign base", "curl WADO-RS"),
                     ("countersign DIMSE", "getscu C-GET")):
    if ours not in r or theirs not in r:
        continue
    ratio = r[theirs] / r[ours]
    print(f"round {rnd}: SUMMARY {ours} vs {theirs}: {ratio:.2f}x "
          f"(goal >= 1.0x: {'met' if ratio >= 1.0 else 'NOT MET'})")
if "countersign DICOMweb" in r and "curl + fdatasync" in r:
    ratio = r["curl + fdatasync"] / r["countersign DICOMweb"]
    print(f"round {rnd}: countersign DICOMweb vs curl + fdatasync: {ratio:.2f}x "
          "(both durable when they end; no goal: the issue's is against plain curl)")
PY
}
web=("countersign DICOMweb" "$cs_web" "curl WADO-RS" "$curl_web" "curl + fdatasync" "$curl_durable")
[ -z "${BASE_BIN:-}" ] || web+=("countersign base" "$base_web")
dimse=()
[ "${ONLY:-}" = web ] || dimse=("countersign DIMSE" "$cs_dimse" "getscu C-GET" "$getscu_dimse")
reversed() { # name/command pairs, in the opposite order
  local out=() i
  for ((i = $# - 1; i > 0; i -= 2)); do out+=("${!i}" "${@:i+1:1}"); done
  printf '%s\0' "${out[@]}"
}
round 1 "${web[@]}" "${dimse[@]}"
mapfile -d '' second < <(reversed "${web[@]}" "${dimse[@]}")
round 2 "${second[@]}"
echo "load at the end $(cut -d' ' -f1-3 /proc/loadavg)"
