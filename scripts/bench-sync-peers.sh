#!/usr/bin/env bash
# Memory of a serving node with 20 connected peers (separate serve processes over loopback):
# each peer signs one entry once connected; when the hub holds all 20, its resident set size
# (VmRSS) and peak (VmHWM) are read from /proc. Usage: BIN=path/to/countersign scripts/bench-sync-peers.sh
set -euo pipefail
bin=${BIN:?set BIN to the countersign binary}
peers=${PEERS:-20}
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
# Every home's key is sealed under the documented demo passphrase (the hub is a demo home).
printf 'countersign-demo\n' >"$work/passphrase"
export COUNTERSIGN_PASSPHRASE_FILE=$work/passphrase

"$bin" --home "$work/hub" demo >/dev/null
report=$("$bin" --home "$work/hub" --json report list | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["report"])')
"$bin" --home "$work/hub" --json serve --listen /ip4/127.0.0.1/tcp/0 >"$work/hub.out" 2>/dev/null &
hub=$!; pids+=($hub)
for _ in $(seq 100); do [ -s "$work/hub.out" ] && break; sleep 0.1; done
addr=$(head -1 "$work/hub.out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["listen"][0])')
before=$(awk '/VmRSS/ {print $2}' /proc/$hub/status)

for i in $(seq "$peers"); do
  h=$work/peer$i
  key=$("$bin" --home "$h" --json init --name "Peer $i" --role radiologist | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
  "$bin" --home "$work/hub" roster add --key "$key" --name "Peer $i" --role radiologist >/dev/null
  # Joined by invitation, as every new member is.
  invitation=$("$bin" --home "$work/hub" --json roster invite --key "$key" | python3 -c 'import json,sys; print(json.load(sys.stdin)["invitation"])')
  "$bin" --home "$h" join "$invitation" >/dev/null
done
for i in $(seq "$peers"); do
  h=$work/peer$i
  "$bin" --home "$h" sync --peer "$addr" --once >/dev/null
  "$bin" --home "$h" --json serve --listen /ip4/127.0.0.1/tcp/0 --peer "$addr" >"$h.out" 2>/dev/null &
  pids+=($!)
done
for i in $(seq "$peers"); do
  for _ in $(seq 100); do [ -s "$work/peer$i.out" ] && break; sleep 0.1; done
  "$bin" --home "$work/peer$i" report followup "$report" --finding "from peer $i" --due 2027-01-01 >/dev/null
done
start=$(date +%s)
while :; do
  n=$("$bin" --home "$work/hub" --json followups | python3 -c 'import json,sys; print(sum(f["finding"].startswith("from peer") for f in json.load(sys.stdin)))')
  [ "$n" -ge "$peers" ] && break
  [ $(( $(date +%s) - start )) -lt 60 ] || { echo "only $n of $peers peers' entries reached the hub"; exit 1; }
  sleep 0.2
done
rss=$(awk '/VmRSS/ {print $2}' /proc/$hub/status)
hwm=$(awk '/VmHWM/ {print $2}' /proc/$hub/status)
echo "SUMMARY serving node with $peers connected peers (each signed one entry that reached it): RSS $((rss / 1024)) MB (peak $((hwm / 1024)) MB; $((before / 1024)) MB before any peer)"
