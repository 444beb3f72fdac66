#!/usr/bin/env python3
"""Independent writer of the v1 golden vectors, from the layout in crates/ledger/src/header.rs.

Written in Python with the `cryptography` package so that the checked-in bytes do not come from
the Rust code they test. Run: python3 crates/ledger/golden/make_golden.py
"""
import hashlib, struct, pathlib
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives import serialization

H = lambda b: hashlib.sha256(b).digest()
seed = bytes(range(32))
sk = Ed25519PrivateKey.from_private_bytes(seed)
pk = sk.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

def header(network, log, seq, ts, kind, parents, payload):
    parents = sorted(set(parents))
    out = bytes([1]) + network + log + pk + struct.pack(">QQ", seq, ts)
    out += bytes([len(kind)]) + kind.encode() + bytes([len(parents)]) + b"".join(parents)
    out += H(payload) + struct.pack(">Q", len(payload))
    return out

vectors = {
    "report-create": header(H(b"golden network"), bytes(32), 1, 1_764_000_000_000, "report.create", [],
        b'{"study":"1.2.826.0.1.3680043.2.1125.1","template":"ct-chest","images":[]}'),
    "section-write": header(H(b"golden network"), H(b"golden log"), 7, 1_764_000_123_456, "section.write",
        [H(b"parent two"), H(b"parent one")], b'{"section":"findings","text":"No pulmonary nodule."}'),
}
here = pathlib.Path(__file__).parent
for name, hb in vectors.items():
    sig = sk.sign(b"countersign/entry/v1\0" + hb)
    (here / f"{name}.txt").write_text(
        f"# v1 entry golden vector, written by make_golden.py\n"
        f"header = {hb.hex()}\nid = {H(hb).hex()}\nsignature = {sig.hex()}\n")
