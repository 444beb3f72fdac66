//! Synthetic CT studies with no patient data: a 3-D Shepp–Logan head phantom in Hounsfield
//! units, written as a CT Image Storage series with proper geometry, spacing and UIDs.

use std::path::{Path, PathBuf};

use dicom_core::{DataElement, PrimitiveValue, Tag, VR};
use dicom_dictionary_std::tags;
use dicom_object::{FileMetaTableBuilder, InMemDicomObject};
use sha2::{Digest, Sha256};

use crate::error::{ImagingError, Result};

const CT_IMAGE_STORAGE: &str = "1.2.840.10008.5.1.4.1.1.2";
const EXPLICIT_LE: &str = "1.2.840.10008.1.2.1";

/// An ellipsoid of the phantom: semi-axes and centre in units of the half field of view,
/// rotation about the z axis in degrees, and the HU it adds inside.
struct Ellipsoid {
    axes: [f64; 3],
    centre: [f64; 3],
    phi_degrees: f64,
    hu: f64,
}

/// The 3-D Shepp–Logan phantom (Kak & Slaney's parameters), with intensities as HU steps
/// so that it reads like a head CT: air −1000, skull ≈ +800, brain ≈ +20 to +40.
const PHANTOM: &[Ellipsoid] = &[
    Ellipsoid {
        axes: [0.69, 0.92, 0.9],
        centre: [0.0, 0.0, 0.0],
        phi_degrees: 0.0,
        hu: 1800.0,
    },
    Ellipsoid {
        axes: [0.6624, 0.874, 0.88],
        centre: [0.0, -0.0184, 0.0],
        phi_degrees: 0.0,
        hu: -780.0,
    },
    Ellipsoid {
        axes: [0.11, 0.31, 0.22],
        centre: [0.22, 0.0, 0.0],
        phi_degrees: -18.0,
        hu: -15.0,
    },
    Ellipsoid {
        axes: [0.16, 0.41, 0.28],
        centre: [-0.22, 0.0, 0.0],
        phi_degrees: 18.0,
        hu: -15.0,
    },
    Ellipsoid {
        axes: [0.21, 0.25, 0.41],
        centre: [0.0, 0.35, -0.15],
        phi_degrees: 0.0,
        hu: 10.0,
    },
    Ellipsoid {
        axes: [0.046, 0.046, 0.05],
        centre: [0.0, 0.1, 0.25],
        phi_degrees: 0.0,
        hu: 10.0,
    },
    Ellipsoid {
        axes: [0.046, 0.046, 0.05],
        centre: [0.0, -0.1, 0.25],
        phi_degrees: 0.0,
        hu: 10.0,
    },
    Ellipsoid {
        axes: [0.046, 0.023, 0.05],
        centre: [-0.08, -0.605, 0.0],
        phi_degrees: 0.0,
        hu: 10.0,
    },
    Ellipsoid {
        axes: [0.023, 0.023, 0.02],
        centre: [0.0, -0.606, 0.0],
        phi_degrees: 0.0,
        hu: 10.0,
    },
    Ellipsoid {
        axes: [0.023, 0.046, 0.02],
        centre: [0.06, -0.605, 0.0],
        phi_degrees: 0.0,
        hu: 10.0,
    },
];

/// HU of the phantom at normalised coordinates (each in −1..1).
pub fn phantom_hu(x: f64, y: f64, z: f64) -> f64 {
    let mut hu = -1000.0;
    for e in PHANTOM {
        let (s, c) = e.phi_degrees.to_radians().sin_cos();
        let (dx, dy, dz) = (x - e.centre[0], y - e.centre[1], z - e.centre[2]);
        let (u, v) = (c * dx + s * dy, -s * dx + c * dy);
        if (u / e.axes[0]).powi(2) + (v / e.axes[1]).powi(2) + (dz / e.axes[2]).powi(2) <= 1.0 {
            hu += e.hu;
        }
    }
    hu
}

/// A deterministic UID under the UUID-derived root 2.25 (PS3.5 B.2), from `seed`.
fn uid(seed: &str) -> String {
    let digest = Sha256::digest(seed.as_bytes());
    let mut n = [0u8; 16];
    n.copy_from_slice(&digest[..16]);
    format!("2.25.{}", u128::from_be_bytes(n))
}

fn put_str(obj: &mut InMemDicomObject, tag: Tag, vr: VR, value: &str) {
    obj.put(DataElement::new(tag, vr, PrimitiveValue::from(value)));
}

fn put_u16(obj: &mut InMemDicomObject, tag: Tag, value: u16) {
    obj.put(DataElement::new(tag, VR::US, PrimitiveValue::from(value)));
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct PhantomSpec {
    /// Distinguishes studies: the same seed gives the same UIDs and bytes.
    pub seed: String,
    pub slices: u32,
    /// Rows = columns.
    pub size: u16,
    /// Field of view in mm (square).
    pub fov_mm: f64,
    pub slice_thickness_mm: f64,
}

impl Default for PhantomSpec {
    fn default() -> Self {
        PhantomSpec {
            seed: "countersign phantom".into(),
            slices: 32,
            size: 256,
            fov_mm: 240.0,
            slice_thickness_mm: 5.0,
        }
    }
}

/// Writes the series into `dir` as `slice-0001.dcm`, … and returns the paths. The study
/// instance UID is `phantom_study_uid(seed)`.
pub fn write_phantom_series(spec: &PhantomSpec, dir: &Path) -> Result<Vec<PathBuf>> {
    if spec.slices == 0 || spec.size == 0 {
        return Err(ImagingError::Unsupported(
            "a phantom needs at least one 1×1 slice".into(),
        ));
    }
    std::fs::create_dir_all(dir).map_err(|source| ImagingError::Io {
        path: dir.display().to_string(),
        source,
    })?;
    let study = phantom_study_uid(&spec.seed);
    let series = uid(&format!("{}/series", spec.seed));
    let frame_of_reference = uid(&format!("{}/for", spec.seed));
    let n = spec.size as usize;
    let spacing = spec.fov_mm / f64::from(spec.size);
    let mut paths = Vec::with_capacity(spec.slices as usize);
    for k in 0..spec.slices {
        let instance = uid(&format!("{}/instance/{k}", spec.seed));
        let z_mm = f64::from(k) * spec.slice_thickness_mm;
        let z = (2.0 * (f64::from(k) + 0.5) / f64::from(spec.slices)) - 1.0;
        let mut pixels = Vec::with_capacity(n * n);
        for row in 0..n {
            for col in 0..n {
                let x = (2.0 * (col as f64 + 0.5) / n as f64) - 1.0;
                // +y is anterior, shown at the top as in the classic phantom pictures.
                let y = 1.0 - (2.0 * (row as f64 + 0.5) / n as f64);
                // Stored = HU + 1024 (rescale intercept −1024), as CT scanners do.
                pixels.push((phantom_hu(x, y, z) + 1024.0).round().clamp(0.0, 4095.0) as u16);
            }
        }
        let mut obj = InMemDicomObject::new_empty();
        put_str(&mut obj, tags::SPECIFIC_CHARACTER_SET, VR::CS, "ISO_IR 100");
        put_str(
            &mut obj,
            tags::IMAGE_TYPE,
            VR::CS,
            "ORIGINAL\\PRIMARY\\AXIAL",
        );
        put_str(&mut obj, tags::SOP_CLASS_UID, VR::UI, CT_IMAGE_STORAGE);
        put_str(&mut obj, tags::SOP_INSTANCE_UID, VR::UI, &instance);
        put_str(&mut obj, tags::STUDY_DATE, VR::DA, "20260101");
        put_str(&mut obj, tags::SERIES_DATE, VR::DA, "20260101");
        put_str(&mut obj, tags::CONTENT_DATE, VR::DA, "20260101");
        put_str(&mut obj, tags::STUDY_TIME, VR::TM, "090000");
        put_str(&mut obj, tags::CONTENT_TIME, VR::TM, "090000");
        put_str(&mut obj, tags::ACCESSION_NUMBER, VR::SH, "PHANTOM1");
        put_str(&mut obj, tags::MODALITY, VR::CS, "CT");
        put_str(
            &mut obj,
            tags::MANUFACTURER,
            VR::LO,
            "Countersign synthetic phantom",
        );
        put_str(&mut obj, tags::REFERRING_PHYSICIAN_NAME, VR::PN, "");
        put_str(
            &mut obj,
            tags::STUDY_DESCRIPTION,
            VR::LO,
            "Synthetic head phantom (no patient data)",
        );
        put_str(
            &mut obj,
            tags::SERIES_DESCRIPTION,
            VR::LO,
            "Shepp-Logan phantom, axial",
        );
        put_str(&mut obj, tags::PATIENT_NAME, VR::PN, "Phantom^Shepp-Logan");
        put_str(&mut obj, tags::PATIENT_ID, VR::LO, "PHANTOM-0001");
        put_str(&mut obj, tags::PATIENT_BIRTH_DATE, VR::DA, "");
        put_str(&mut obj, tags::PATIENT_SEX, VR::CS, "O");
        put_str(
            &mut obj,
            tags::SLICE_THICKNESS,
            VR::DS,
            &format!("{}", spec.slice_thickness_mm),
        );
        put_str(&mut obj, tags::KVP, VR::DS, "120");
        put_str(&mut obj, tags::PATIENT_POSITION, VR::CS, "HFS");
        // A head is not a paired body part, so Laterality stays absent.
        put_str(&mut obj, tags::BODY_PART_EXAMINED, VR::CS, "HEAD");
        put_str(&mut obj, tags::STUDY_INSTANCE_UID, VR::UI, &study);
        put_str(&mut obj, tags::SERIES_INSTANCE_UID, VR::UI, &series);
        put_str(&mut obj, tags::STUDY_ID, VR::SH, "1");
        put_str(&mut obj, tags::SERIES_NUMBER, VR::IS, "1");
        put_str(&mut obj, tags::ACQUISITION_NUMBER, VR::IS, "1");
        put_str(
            &mut obj,
            tags::INSTANCE_NUMBER,
            VR::IS,
            &(k + 1).to_string(),
        );
        let half = spec.fov_mm / 2.0;
        put_str(
            &mut obj,
            tags::IMAGE_POSITION_PATIENT,
            VR::DS,
            &format!(
                "{}\\{}\\{}",
                -half + spacing / 2.0,
                -half + spacing / 2.0,
                z_mm
            ),
        );
        put_str(
            &mut obj,
            tags::IMAGE_ORIENTATION_PATIENT,
            VR::DS,
            "1\\0\\0\\0\\1\\0",
        );
        put_str(
            &mut obj,
            tags::FRAME_OF_REFERENCE_UID,
            VR::UI,
            &frame_of_reference,
        );
        put_str(&mut obj, tags::POSITION_REFERENCE_INDICATOR, VR::LO, "");
        put_str(&mut obj, tags::SLICE_LOCATION, VR::DS, &format!("{z_mm}"));
        put_u16(&mut obj, tags::SAMPLES_PER_PIXEL, 1);
        put_str(
            &mut obj,
            tags::PHOTOMETRIC_INTERPRETATION,
            VR::CS,
            "MONOCHROME2",
        );
        put_u16(&mut obj, tags::ROWS, spec.size);
        put_u16(&mut obj, tags::COLUMNS, spec.size);
        put_str(
            &mut obj,
            tags::PIXEL_SPACING,
            VR::DS,
            &format!("{spacing}\\{spacing}"),
        );
        put_u16(&mut obj, tags::BITS_ALLOCATED, 16);
        put_u16(&mut obj, tags::BITS_STORED, 12);
        put_u16(&mut obj, tags::HIGH_BIT, 11);
        put_u16(&mut obj, tags::PIXEL_REPRESENTATION, 0);
        put_str(&mut obj, tags::WINDOW_CENTER, VR::DS, "40");
        put_str(&mut obj, tags::WINDOW_WIDTH, VR::DS, "400");
        put_str(&mut obj, tags::RESCALE_INTERCEPT, VR::DS, "-1024");
        put_str(&mut obj, tags::RESCALE_SLOPE, VR::DS, "1");
        put_str(&mut obj, tags::RESCALE_TYPE, VR::LO, "HU");
        obj.put(DataElement::new(
            tags::PIXEL_DATA,
            VR::OW,
            PrimitiveValue::U16(pixels.as_slice().into()),
        ));
        let file = obj
            .with_meta(
                FileMetaTableBuilder::new()
                    .transfer_syntax(EXPLICIT_LE)
                    .media_storage_sop_class_uid(CT_IMAGE_STORAGE),
            )
            .map_err(|e| ImagingError::Decode(e.to_string()))?;
        let path = dir.join(format!("slice-{:04}.dcm", k + 1));
        file.write_to_file(&path)
            .map_err(|e| ImagingError::Png(e.to_string()))?;
        paths.push(path);
    }
    Ok(paths)
}

/// The study instance UID a phantom with this seed gets.
pub fn phantom_study_uid(seed: &str) -> String {
    uid(&format!("{seed}/study"))
}
