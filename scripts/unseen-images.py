#!/usr/bin/env python3
"""Writes DICOM files the project's code was never tuned on, for scripts/compare-dcmtk.sh.

Issue 20 asks for rendering measured "on files the project has not seen": the corpus files
are the ones every optimisation so far was profiled on. These are made fresh from a seed by
pydicom and numpy (smooth anatomy-like shapes plus noise, so compressors have real work),
in the sizes and classes the issue names — a 1955×1841 CR, an MR, a colour US — and then
compressed by tools nobody here wrote: DCMTK's dcmcjpeg (JPEG baseline colour, JPEG
lossless) and dcmcrle (RLE), GDCM's gdcmconv (JPEG 2000 lossless).

Usage: unseen-images.py OUTDIR [SEED]      (prints one line per file: label<TAB>path)
"""
import subprocess
import sys
from pathlib import Path

import numpy as np
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

out = Path(sys.argv[1])
seed = int(sys.argv[2]) if len(sys.argv) > 2 else 20261201
rng = np.random.default_rng(seed)
out.mkdir(parents=True, exist_ok=True)

SOP = {
    "CR": "1.2.840.10008.5.1.4.1.1.1",
    "MR": "1.2.840.10008.5.1.4.1.1.4",
    "CT": "1.2.840.10008.5.1.4.1.1.2",
    "US": "1.2.840.10008.5.1.4.1.1.6.1",
}


def body(rows, cols, lo, hi):
    """An ellipse of tissue with a few brighter and darker blobs, smooth, plus noise."""
    y, x = np.mgrid[0:rows, 0:cols].astype(np.float64)
    cy, cx = rows / 2, cols / 2
    img = np.where(((y - cy) / (0.42 * rows)) ** 2 + ((x - cx) / (0.40 * cols)) ** 2 < 1, 0.45, 0.05)
    for _ in range(12):
        by, bx = rng.uniform(0.2, 0.8) * rows, rng.uniform(0.2, 0.8) * cols
        r = rng.uniform(0.03, 0.12) * min(rows, cols)
        img += rng.uniform(-0.3, 0.4) * np.exp(-(((y - by) ** 2 + (x - bx) ** 2) / (2 * r * r)))
    img += rng.normal(0, 0.02, size=img.shape)
    return (lo + np.clip(img, 0, 1) * (hi - lo)).astype(np.uint16)


def dataset(path, modality, rows, cols):
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SOP[modality]
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID = SOP[modality]
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.Modality = modality
    ds.PatientName = "Unseen^Phantom"
    ds.PatientID = f"UNSEEN-{seed}"
    ds.Rows, ds.Columns = rows, cols
    return ds


def grey(path, modality, rows, cols, bits, photometric="MONOCHROME2", window=None):
    ds = dataset(path, modality, rows, cols)
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = photometric
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, bits, bits - 1
    ds.PixelRepresentation = 0
    if modality == "CT":
        ds.RescaleIntercept, ds.RescaleSlope = -1024, 1
    if window:
        ds.WindowCenter, ds.WindowWidth = window
    ds.PixelData = body(rows, cols, 0, (1 << bits) - 1).tobytes()
    ds.save_as(path, enforce_file_format=True)
    return path


def colour(path, rows, cols):
    ds = dataset(path, "US", rows, cols)
    ds.SamplesPerPixel = 3
    ds.PhotometricInterpretation = "RGB"
    ds.PlanarConfiguration = 0
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 8, 8, 7
    ds.PixelRepresentation = 0
    g = (body(rows, cols, 0, 255)).astype(np.uint8)
    rgb = np.stack([g, (g * 0.8).astype(np.uint8), np.flipud(g)], axis=-1)
    ds.PixelData = rgb.tobytes()
    ds.save_as(path, enforce_file_format=True)
    return path


def run(*cmd):
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


cr = grey(out / "cr-1955x1841.dcm", "CR", 1841, 1955, 12, "MONOCHROME1", (2048, 4096))
mr = grey(out / "mr-256.dcm", "MR", 256, 256, 12)
ct = grey(out / "ct-512.dcm", "CT", 512, 512, 12, window=(40, 400))
us = colour(out / "us-rgb-640x480.dcm", 480, 640)
run("dcmcjpeg", "+eb", str(us), str(out / "us-jpeg-baseline.dcm"))
run("dcmcjpeg", "+el", str(ct), str(out / "ct-jpeg-lossless.dcm"))
run("dcmcrle", str(mr), str(out / "mr-rle.dcm"))
for label, name in [
    ("CR 1955×1841 MONOCHROME1", "cr-1955x1841.dcm"),
    ("MR 256²", "mr-256.dcm"),
    ("US colour 640×480", "us-rgb-640x480.dcm"),
    ("US JPEG baseline colour 640×480", "us-jpeg-baseline.dcm"),
    ("CT 512² JPEG lossless", "ct-jpeg-lossless.dcm"),
    ("MR 256² RLE", "mr-rle.dcm"),
]:
    print(f"{label}\t{out / name}")
