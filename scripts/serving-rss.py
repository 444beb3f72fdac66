#!/usr/bin/env python3
"""The resident memory of the sync bench's serving node over time, and where it sits at its
peak. Usage: serving-rss.py OUT, started beside `COUNTERSIGN_SCALE_FULL=N` of
benches/sync_scale.rs (it waits for the `--serve` child). Writes OUT.series (seconds since the
child was found, RSS in MiB, every 0.25 s) and, at each new peak, OUT.smaps (the child's
/proc/PID/smaps) and OUT.peak; then prints the mappings holding the most of the peak: the
allocator's arena (mimalloc reserves one large anonymous mapping) against `[heap]` (the C
allocator, which SQLite's page cache uses) and the binary. Stops when the child ends.
"""
import os
import re
import sys
import time


def find_serving():
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            args = open(f"/proc/{p}/cmdline", "rb").read().split(b"\0")
        except OSError:
            continue
        if b"--serve" in args:
            return int(p)
    return None


def top_mappings(smaps_text, n=6):
    rows, cur = [], None
    for line in smaps_text.splitlines():
        if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
            parts = line.split()
            start, end = (int(x, 16) for x in parts[0].split("-"))
            cur = [(end - start) >> 20, parts[5] if len(parts) > 5 else "[anon]", 0]
            rows.append(cur)
        elif line.startswith("Rss:") and cur is not None:
            cur[2] = int(line.split()[1]) >> 10
    rows.sort(key=lambda r: -r[2])
    return rows[:n], sum(r[2] for r in rows)


def main():
    out = sys.argv[1]
    pid = None
    while pid is None:
        pid = find_serving()
        if pid is None:
            time.sleep(0.2)
    peak, t0 = 0, time.time()
    with open(out + ".series", "w") as series:
        while True:
            try:
                status = open(f"/proc/{pid}/status").read()
                rss = int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) >> 10
                smaps = open(f"/proc/{pid}/smaps").read() if rss > peak else None
            except (OSError, AttributeError):
                break
            now = time.time() - t0
            series.write(f"{now:.1f} {rss}\n")
            series.flush()
            if smaps:
                peak = rss
                open(out + ".smaps", "w").write(smaps)
                open(out + ".peak", "w").write(f"{now:.1f} {rss}\n")
            time.sleep(0.25)
    if os.path.exists(out + ".smaps"):
        rows, total = top_mappings(open(out + ".smaps").read())
        print(f"peak {peak} MiB resident ({total} MiB over the mappings); the largest:")
        for size, name, rss in rows:
            print(f"  {rss:5d} MiB of a {size} MiB mapping: {name}")


if __name__ == "__main__":
    main()
