"""A second reader of the SR's linked findings: highdicom (a library nobody here wrote) parses
each NUM, SCOORD and IMAGE content item through its own content item classes, which check
their structure, and prints what it read as JSON: every length with its unit, every SCOORD with
its graphic type, points, relationship and the SOP instance it is selected from, and every key
image. Usage: read_sr_links.py SR_FILE"""
import json
import sys

import highdicom as hd

found = []


def walk(items):
    for item in items:
        kind = item.ValueType
        if kind == "NUM":
            num = hd.sr.NumContentItem.from_dataset(item)
            found.append({"num": float(num.value), "unit": num.unit.value})
        elif kind == "SCOORD":
            scoord = hd.sr.ScoordContentItem.from_dataset(item)
            image = hd.sr.ImageContentItem.from_dataset(scoord.ContentSequence[0])
            found.append({
                "scoord": scoord.graphic_type.value,
                "points": scoord.value.tolist(),
                "relationship": scoord.relationship_type.value,
                "image": image.referenced_sop_instance_uid,
            })
            continue
        elif kind == "IMAGE" and "ConceptNameCodeSequence" in item:
            image = hd.sr.ImageContentItem.from_dataset(item)
            found.append({
                "key_image": image.referenced_sop_instance_uid,
                "concept": item.ConceptNameCodeSequence[0].CodeMeaning,
            })
        if "ContentSequence" in item:
            walk(item.ContentSequence)


walk(hd.sr.srread(sys.argv[1]).ContentSequence)
print(json.dumps(found))
