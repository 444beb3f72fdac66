#!/usr/bin/env python3
"""Which b-trees the frames of a SQLite WAL belong to: the pages a transaction (or several)
wrote, by table and index. Usage: wal-pages.py DIR (holding ledger.sqlite3 and its -wal, as
`COUNTERSIGN_SCALE_KEEP_WAL` of benches/sync_scale.rs keeps them). Reads a copy; the WAL's
frames are counted from its headers, their pages named through SQLite's dbstat (the database
read with the WAL applied)."""
import collections, os, shutil, sqlite3, struct, sys, tempfile

src = sys.argv[1]
wal = open(os.path.join(src, "ledger.sqlite3-wal"), "rb").read()
page_size = struct.unpack(">I", wal[8:12])[0]
# A WAL started over keeps its file: frames from before carry the old salts and are not
# counted (nor is anything after the first of them).
salts = wal[16:24]
frames = []
off = 32
while off + 24 + page_size <= len(wal) and wal[off + 8:off + 16] == salts:
    frames.append(struct.unpack(">I", wal[off:off + 4])[0])
    off += 24 + page_size
with tempfile.TemporaryDirectory() as tmp:
    for name in ("ledger.sqlite3", "ledger.sqlite3-wal"):
        shutil.copy(os.path.join(src, name), os.path.join(tmp, name))
    conn = sqlite3.connect(os.path.join(tmp, "ledger.sqlite3"))
    owner = dict(conn.execute("SELECT pageno, name FROM dbstat"))
by_tree = collections.Counter(owner.get(p, "(free or overflow)") for p in frames)
distinct = collections.Counter(owner.get(p, "(free or overflow)") for p in set(frames))
print(f"{len(frames)} frames, {len(set(frames))} distinct pages")
for name, n in by_tree.most_common():
    print(f"{n:7} frames {distinct[name]:7} pages  {name}")
