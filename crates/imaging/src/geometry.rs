//! Where a slice lies: its position along the normal of its plane, from Image Position
//! (Patient) and Image Orientation (Patient), and which plane that is.
//!
//! Two viewports scroll together by this position (a prior study beside the current one): the
//! slice shown in the other is the one nearest in millimetres, not the one with the same index —
//! two CTs of one patient seldom start at the same table position or have the same number of
//! slices.
//!
//! The normal is the cross product of the row and column directions, turned so that its largest
//! component is positive: a series acquired feet-first (normal −z) and one head-first (+z) then
//! measure positions along the same axis, so the same anatomy has the same position in both
//! when they share a frame of reference, and a constant offset when they do not.
//!
//! ```
//! use countersign_imaging::{slice_geometry, Plane};
//!
//! // An axial slice 42.5 mm up the z axis.
//! let g = slice_geometry(&[-100.0, -100.0, 42.5], &[1.0, 0.0, 0.0, 0.0, 1.0, 0.0]).unwrap();
//! assert_eq!(g.plane, Plane::Axial);
//! assert!((g.position - 42.5).abs() < 1e-9);
//! ```

use serde::Serialize;

/// The plane of a slice, by the axis its normal is closest to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Plane {
    /// Normal along the patient's z (head–foot) axis.
    Axial,
    /// Normal along y (anterior–posterior).
    Coronal,
    /// Normal along x (left–right).
    Sagittal,
    /// Normal not within about 37° of any axis (cos > 0.8).
    Oblique,
}

impl Plane {
    /// The name stored in the image index and sent to the viewer.
    pub fn name(self) -> &'static str {
        match self {
            Plane::Axial => "axial",
            Plane::Coronal => "coronal",
            Plane::Sagittal => "sagittal",
            Plane::Oblique => "oblique",
        }
    }
}

/// A slice's plane and its position along that plane's normal, in millimetres.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SliceGeometry {
    pub plane: Plane,
    pub position: f64,
}

/// The geometry of a slice at Image Position (Patient) `ipp` (3 values) with Image Orientation
/// (Patient) `iop` (6: the row then the column direction cosines); `None` when either has the
/// wrong number of values, a value is not finite, or the directions are not (nearly) unit and
/// perpendicular — a file whose geometry cannot be trusted is not scrolled by it.
pub fn slice_geometry(ipp: &[f64], iop: &[f64]) -> Option<SliceGeometry> {
    if ipp.len() != 3 || iop.len() != 6 || ipp.iter().chain(iop).any(|v| !v.is_finite()) {
        return None;
    }
    let row = [iop[0], iop[1], iop[2]];
    let col = [iop[3], iop[4], iop[5]];
    let dot = |a: [f64; 3], b: [f64; 3]| a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
    // Direction cosines are written with a few decimals: a looser check would accept a
    // degenerate orientation, a tighter one refuse real scanners' files.
    const TOLERANCE: f64 = 1e-2;
    if (dot(row, row) - 1.0).abs() > TOLERANCE
        || (dot(col, col) - 1.0).abs() > TOLERANCE
        || dot(row, col).abs() > TOLERANCE
    {
        return None;
    }
    let mut normal = [
        row[1] * col[2] - row[2] * col[1],
        row[2] * col[0] - row[0] * col[2],
        row[0] * col[1] - row[1] * col[0],
    ];
    let largest = (0..3)
        .max_by(|a, b| normal[*a].abs().total_cmp(&normal[*b].abs()))
        .unwrap_or(2);
    if normal[largest] < 0.0 {
        normal = normal.map(|v| -v);
    }
    let plane = if normal[largest] < 0.8 {
        Plane::Oblique
    } else {
        [Plane::Sagittal, Plane::Coronal, Plane::Axial][largest]
    };
    Some(SliceGeometry {
        plane,
        position: dot(ipp.try_into().ok()?, normal),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const AXIAL: [f64; 6] = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0];

    #[test]
    fn each_plane_is_named_by_the_axis_of_its_normal() {
        let at = |iop: &[f64]| slice_geometry(&[10.0, 20.0, 30.0], iop).unwrap();
        assert_eq!(at(&AXIAL).plane, Plane::Axial);
        assert_eq!(at(&AXIAL).position, 30.0);
        let coronal = at(&[1.0, 0.0, 0.0, 0.0, 0.0, -1.0]);
        assert_eq!((coronal.plane, coronal.position), (Plane::Coronal, 20.0));
        let sagittal = at(&[0.0, 1.0, 0.0, 0.0, 0.0, -1.0]);
        assert_eq!((sagittal.plane, sagittal.position), (Plane::Sagittal, 10.0));
        let s = std::f64::consts::FRAC_1_SQRT_2;
        assert_eq!(at(&[1.0, 0.0, 0.0, 0.0, s, s]).plane, Plane::Oblique);
    }

    /// A feet-first series (rows flipped: normal −z) measures along +z like a head-first one,
    /// so both sync to the same anatomy.
    #[test]
    fn a_flipped_normal_measures_along_the_same_axis() {
        let flipped = slice_geometry(&[0.0, 0.0, 55.0], &[-1.0, 0.0, 0.0, 0.0, 1.0, 0.0]).unwrap();
        assert_eq!(flipped.plane, Plane::Axial);
        assert_eq!(flipped.position, 55.0);
    }

    #[test]
    fn untrustworthy_geometry_is_none() {
        assert!(slice_geometry(&[0.0, 0.0], &AXIAL).is_none());
        assert!(slice_geometry(&[0.0, 0.0, 1.0], &AXIAL[..5]).is_none());
        assert!(slice_geometry(&[0.0, f64::NAN, 1.0], &AXIAL).is_none());
        // Not unit, and not perpendicular.
        assert!(slice_geometry(&[0.0; 3], &[2.0, 0.0, 0.0, 0.0, 1.0, 0.0]).is_none());
        assert!(slice_geometry(&[0.0; 3], &[1.0, 0.0, 0.0, 1.0, 0.0, 0.0]).is_none());
    }

    proptest! {
        /// Moving a slice along its normal by d moves its position by d, whatever the
        /// in-plane rotation and the point of the plane given.
        #[test]
        fn position_follows_a_move_along_the_normal(
            angle in -3.2f64..3.2,
            x in -500.0f64..500.0,
            y in -500.0f64..500.0,
            z in -500.0f64..500.0,
            d in -300.0f64..300.0,
        ) {
            let (s, c) = angle.sin_cos();
            let iop = [c, s, 0.0, -s, c, 0.0];
            let a = slice_geometry(&[x, y, z], &iop).unwrap();
            let b = slice_geometry(&[x, y, z + d], &iop).unwrap();
            prop_assert_eq!(a.plane, Plane::Axial);
            prop_assert!((b.position - a.position - d).abs() < 1e-6);
        }
    }
}
