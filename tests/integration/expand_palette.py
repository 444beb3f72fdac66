"""Expands the segmented palette of a DICOM file with pydicom and writes the plain tables.

usage: expand_palette.py SEGMENTED.dcm OUT.dcm
"""
import sys

import numpy as np
import pydicom
from pydicom.pixels import apply_color_lut

ds = pydicom.dcmread(sys.argv[1])
entries, first, _bits = ds.RedPaletteColorLookupTableDescriptor
# Every stored value the table maps, through pydicom's public palette API.
rgb = apply_color_lut(np.arange(first, first + entries, dtype=np.uint16), ds)
for i, colour in enumerate(("Red", "Green", "Blue")):
    del ds[f"Segmented{colour}PaletteColorLookupTableData"]
    tag = pydicom.datadict.tag_for_keyword(f"{colour}PaletteColorLookupTableData")
    ds.add_new(tag, "OW", rgb[:, i].astype("<u2").tobytes())
ds.save_as(sys.argv[2])
