"""Writes AI results as a vendor would deliver them, with highdicom (a DICOM SR library nobody
here wrote): TID 1500 measurement reports on one source image, for `ai import`'s tests.

    write_sr.py IMAGE OUT_DIR

IMAGE is a DICOM image of the study the SRs are about (they go into its study, as a vendor's
SRs do). Writes into OUT_DIR:
  measurements.dcm  a Comprehensive 3D SR: device observer context, one measurement group
                    (tracking id, finding "Nodule", finding site) with two measurements
  finding.dcm       a Comprehensive 3D SR whose group holds one qualitative evaluation only
  no-value-type.dcm measurements.dcm with a content item's Value Type removed (malformed)
  truncated.dcm     measurements.dcm cut at two thirds (malformed)
"""

import sys
from pathlib import Path

import highdicom as hd
import pydicom
from pydicom.sr.codedict import codes
from highdicom.sr.coding import CodedConcept

MANUFACTURER = "Acme AI"
MODEL = "LungScan"
VERSION = "2.1.0"


def report(image, measurements, evaluations):
    device = hd.sr.ObserverContext(
        observer_type=codes.DCM.Device,
        observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
            uid=hd.UID(),
            name="lungscan-gateway",
            manufacturer_name=MANUFACTURER,
            model_name=MODEL,
        ),
    )
    group = hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(uid=hd.UID(), identifier="lesion 1"),
        finding_type=codes.SCT.Nodule if measurements else None,
        finding_sites=[hd.sr.FindingSite(anatomic_location=codes.SCT.Lung)],
        measurements=measurements,
        qualitative_evaluations=evaluations,
        source_images=[hd.sr.SourceImageForMeasurementGroup.from_source_image(image)],
    )
    content = hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(observer_device_context=device),
        procedure_reported=codes.LN.CTUnspecifiedBodyRegion,
        imaging_measurements=[group],
    )
    return hd.sr.Comprehensive3DSR(
        evidence=[image],
        content=content[0],
        series_instance_uid=hd.UID(),
        series_number=900,
        sop_instance_uid=hd.UID(),
        instance_number=1,
        manufacturer=MANUFACTURER,
        manufacturer_model_name=MODEL,
        software_versions=VERSION,
        device_serial_number="AC-0042",
        is_complete=True,
    )


def main():
    image = pydicom.dcmread(sys.argv[1])
    out = Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)

    measured = report(
        image,
        [
            hd.sr.Measurement(
                name=codes.SCT.Volume, value=1234.5, unit=codes.UCUM.CubicMillimeter
            ),
            hd.sr.Measurement(
                name=codes.SCT.Diameter, value=13.2, unit=codes.UCUM.Millimeter
            ),
        ],
        None,
    )
    measured.save_as(out / "measurements.dcm")

    finding = report(
        image,
        None,
        [
            hd.sr.QualitativeEvaluation(
                name=CodedConcept("RID6043", "RADLEX", "Lung nodule present"),
                value=codes.SCT.Present if hasattr(codes.SCT, "Present")
                else CodedConcept("52101004", "SCT", "Present"),
            )
        ],
    )
    finding.save_as(out / "finding.dcm")

    # A content item without its Value Type: the Volume measurement's.
    broken = pydicom.dcmread(out / "measurements.dcm")
    stack = [broken]
    removed = False
    while stack and not removed:
        item = stack.pop()
        for child in item.get("ContentSequence", []):
            if getattr(child, "ValueType", None) == "NUM":
                del child.ValueType
                removed = True
                break
            stack.append(child)
    assert removed, "no NUM item to break"
    broken.save_as(out / "no-value-type.dcm")

    whole = (out / "measurements.dcm").read_bytes()
    (out / "truncated.dcm").write_bytes(whole[: len(whole) * 2 // 3])


if __name__ == "__main__":
    main()
