"""Validates a FHIR R4 Bundle with the fhir.resources 5.1.1 models (FHIR 4.0.1), strictly:
unknown or mistyped properties, missing required ones and unparseable dates all fail. Then
checks the codes the models leave as free strings against the R4 value sets the exporter
uses. Prints a JSON summary for the Rust test; exits 1 with the reason on any problem."""

import json
import logging
import sys

from fhir.resources.bundle import Bundle


class Fail(logging.Handler):
    """fhir.resources only logs dates it cannot parse; make that a failure."""

    def emit(self, record):
        if record.levelno >= logging.WARNING:
            raise SystemExit("FHIR warning: " + record.getMessage())


logging.getLogger().addHandler(Fail())

R4_CODES = {
    ("DiagnosticReport", "status"): {"registered", "partial", "preliminary", "final", "amended",
                                     "corrected", "appended", "cancelled", "entered-in-error",
                                     "unknown"},
    ("Observation", "status"): {"registered", "preliminary", "final", "amended", "corrected",
                                "cancelled", "entered-in-error", "unknown"},
    ("ImagingStudy", "status"): {"registered", "available", "cancelled", "entered-in-error",
                                 "unknown"},
}
PARTICIPANT_TYPES = {"enterer", "performer", "author", "verifier", "legal", "attester",
                     "informant", "custodian", "assembler", "composer"}
SIGNATURE_TYPES = {"1.2.840.10065.1.12.1.%d" % i for i in range(1, 19)}

raw = json.load(open(sys.argv[1]))
bundle = Bundle(raw, strict=True)
urls = {e.fullUrl for e in bundle.entry}
counts = {}
for e in bundle.entry:
    r = e.resource
    kind = r.resource_type
    counts[kind] = counts.get(kind, 0) + 1
    if f"urn:uuid:{r.id}" != e.fullUrl:
        raise SystemExit(f"{kind} id {r.id} does not match {e.fullUrl}")
    for (k, field), allowed in R4_CODES.items():
        if k == kind and getattr(r, field) not in allowed:
            raise SystemExit(f"{kind}.{field} = {getattr(r, field)!r} is not an R4 code")
    if kind == "Provenance":
        refs = list(r.target) + [a.who for a in r.agent] + \
            [a.onBehalfOf for a in r.agent if a.onBehalfOf is not None]
        for ref in refs:
            # A logical reference (an identifier, no literal reference: the AI audit names
            # reports and entries it does not carry) must say what it names.
            if ref.reference is None:
                if ref.identifier is None or not ref.identifier.system or \
                        not ref.identifier.value:
                    raise SystemExit(f"Provenance reference without a target: {ref}")
            elif ref.reference not in urls:
                raise SystemExit(f"Provenance points at {ref.reference}, which the bundle lacks")
        for a in r.agent:
            if a.type.coding[0].code not in PARTICIPANT_TYPES:
                raise SystemExit(f"agent type {a.type.coding[0].code}")
        for s in r.signature or []:
            if s.type[0].code not in SIGNATURE_TYPES:
                raise SystemExit(f"signature type {s.type[0].code}")
print(json.dumps({"counts": counts, "entries": len(bundle.entry)}))
