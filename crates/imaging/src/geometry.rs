//! Where a slice lies: the position of its centre along the patient axis its plane is named by,
//! from Image Position (Patient), Image Orientation (Patient), Rows, Columns and Pixel Spacing,
//! and which plane that is.
//!
//! Two viewports scroll together by this position (a prior study beside the current one): the
//! slice shown in the other is the one nearest in millimetres, not the one with the same index —
//! two CTs of one patient seldom start at the same table position or have the same number of
//! slices.
//!
//! **One shared axis, from each slice's centre.** Every axial slice is measured along the
//! patient's z axis (coronal along y, sagittal along x), whatever its own normal: a series
//! acquired with a gantry tilt (its normal 20° off z) and one without then measure the same
//! anatomy at the same position, because the table — and with it each slice's centre — moves
//! along z in both. Measured along each one's own normal they would not: a tilted slice whose
//! centre is 100 mm up the table lies at 94 mm along its normal (100 · cos 20°), and the
//! untilted series beside it would show the anatomy 6 mm lower, more the further from the
//! origin. The centre (Image Position, the first pixel's centre, plus half the row and column
//! extents) rather than that first pixel: the corner of a tilted slice of 512 rows of 0.7 mm
//! lies 61 mm lower or higher on z than its centre. An untilted slice's centre and corner have
//! the same position along its normal axis, so untilted series measure as they did (a feet-first
//! series too: the axis is the patient's, so its sign is fixed). Without Rows, Columns or Pixel
//! Spacing the corner stands in for the centre (a constant offset within a tilted series).
//! An oblique slice (normal more than about 37° from every axis) has no patient axis: it is
//! measured along its own normal, and two viewports never compare oblique slices.
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

/// A slice's plane and the position of its centre along that plane's patient axis (along its
/// own normal for an oblique slice), in millimetres.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SliceGeometry {
    pub plane: Plane,
    pub position: f64,
}

/// The geometry of a slice at Image Position (Patient) `ipp` (3 values) with Image Orientation
/// (Patient) `iop` (6: the row then the column direction cosines), its extents unknown (see
/// [`slice_geometry_centred`]); `None` when either has the wrong number of values, a value is
/// not finite, or the directions are not (nearly) unit and perpendicular — a file whose
/// geometry cannot be trusted is not scrolled by it.
pub fn slice_geometry(ipp: &[f64], iop: &[f64]) -> Option<SliceGeometry> {
    slice_geometry_centred(ipp, iop, 0, 0, None)
}

/// As [`slice_geometry`], measured from the slice's centre: `ipp` plus half the extent of its
/// `columns` along the row direction and of its `rows` along the column direction, by Pixel
/// Spacing `spacing` (between rows, then between columns, as the attribute gives them). With
/// no rows or columns, or no positive finite spacing, the corner stands in for the centre.
pub fn slice_geometry_centred(
    ipp: &[f64],
    iop: &[f64],
    rows: u32,
    columns: u32,
    spacing: Option<[f64; 2]>,
) -> Option<SliceGeometry> {
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
    let mut centre: [f64; 3] = ipp.try_into().ok()?;
    if let Some([between_rows, between_columns]) =
        spacing.filter(|s| rows > 0 && columns > 0 && s.iter().all(|v| v.is_finite() && *v > 0.0))
    {
        // Pixel centres run from the first (at `ipp`) to the last: the middle is half of
        // `columns − 1` steps along the row and of `rows − 1` down the column.
        let along_row = f64::from(columns - 1) / 2.0 * between_columns;
        let down_column = f64::from(rows - 1) / 2.0 * between_rows;
        for i in 0..3 {
            centre[i] += row[i] * along_row + col[i] * down_column;
        }
    }
    let position = match plane {
        Plane::Oblique => dot(centre, normal),
        // The patient axis the plane is named by, the same for every series of that plane.
        _ => centre[largest],
    };
    position
        .is_finite()
        .then_some(SliceGeometry { plane, position })
}

/// The index of the slice among `positions` nearest `target` (ties to the lower index, so the
/// answer does not depend on the direction one scrolled from); `None` when none has a
/// position. What the viewer's synchronised scroll does (`ui/src/lib/priors.ts`,
/// `nearestSlice`), here for the geometry's tests.
pub fn nearest_slice(positions: &[Option<f64>], target: f64) -> Option<usize> {
    positions
        .iter()
        .enumerate()
        .filter_map(|(i, p)| Some((i, (p.as_ref()? - target).abs())))
        .fold(None, |best: Option<(usize, f64)>, (i, d)| match best {
            Some((_, b)) if b <= d => best,
            _ => Some((i, d)),
        })
        .map(|(i, _)| i)
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

    /// A series of `count` slices of 512 × 512 pixels of 0.7 mm, tilted `tilt` degrees about
    /// the patient's x axis (a gantry tilt), whose centres lie at `centre` moved `step` mm up
    /// the table (z) per slice: each slice's Image Position and Orientation, and its centre.
    fn series(tilt: f64, centre: [f64; 3], step: f64, count: usize) -> Vec<Slice> {
        let (sin, cos) = tilt.to_radians().sin_cos();
        let (row, col) = ([1.0, 0.0, 0.0], [0.0, cos, sin]);
        let half = 511.0 / 2.0 * 0.7;
        (0..count)
            .map(|k| {
                let c = [centre[0], centre[1], centre[2] + step * k as f64];
                let ipp: Vec<f64> = (0..3)
                    .map(|i| c[i] - half * row[i] - half * col[i])
                    .collect();
                let iop = [row[0], row[1], row[2], col[0], col[1], col[2]];
                Slice {
                    ipp,
                    iop,
                    centre: c,
                }
            })
            .collect()
    }

    struct Slice {
        ipp: Vec<f64>,
        iop: [f64; 6],
        centre: [f64; 3],
    }

    impl Slice {
        fn geometry(&self) -> SliceGeometry {
            slice_geometry_centred(&self.ipp, &self.iop, 512, 512, Some([0.7, 0.7])).unwrap()
        }
    }

    fn distance(a: [f64; 3], b: [f64; 3]) -> f64 {
        (0..3).map(|i| (a[i] - b[i]).powi(2)).sum::<f64>().sqrt()
    }

    /// The slice of `other` the viewer's scroll pairs with `slice` (nearest position).
    fn paired(slice: &Slice, other: &[Slice]) -> usize {
        let positions: Vec<Option<f64>> =
            other.iter().map(|s| Some(s.geometry().position)).collect();
        nearest_slice(&positions, slice.geometry().position).unwrap()
    }

    /// The slice of `other` whose centre is nearest the centre of `slice`.
    fn nearest_centre(slice: &Slice, other: &[Slice]) -> usize {
        (0..other.len())
            .min_by(|a, b| {
                distance(other[*a].centre, slice.centre)
                    .total_cmp(&distance(other[*b].centre, slice.centre))
            })
            .unwrap()
    }

    /// Issue 15: a series with a 20° gantry tilt beside one without, through the same volume
    /// (the same frame of reference, the table moving along z in both). Each untilted slice
    /// pairs with the tilted slice whose centre is nearest — also 200 mm up the table, where
    /// the tilted slice's position along its own normal is 5 mm off its centre's (z · cos 20°,
    /// plus its centre's y · sin 20°), and its corner's z 61 mm off.
    #[test]
    fn a_tilted_and_an_untilted_series_pair_the_slices_whose_centres_are_nearest() {
        let straight = series(0.0, [0.0, -20.0, -37.0], 5.0, 60);
        let tilted = series(20.0, [0.0, -20.0, -38.0], 3.0, 100);
        assert_eq!(tilted[0].geometry().plane, Plane::Axial);
        for slice in &straight {
            let pair = paired(slice, &tilted);
            assert_eq!(pair, nearest_centre(slice, &tilted));
            assert!(distance(tilted[pair].centre, slice.centre) <= 1.5 + 1e-9);
        }
        // And the other way round: each tilted slice finds the untilted one nearest it.
        for slice in &tilted {
            assert_eq!(paired(slice, &straight), nearest_centre(slice, &straight));
        }
        // The centre's position, not the corner's nor one along the slice's own normal.
        let up = &tilted[80];
        assert!((up.geometry().position - up.centre[2]).abs() < 1e-9);
        let own_normal: f64 = {
            let (sin, cos) = 20f64.to_radians().sin_cos();
            up.ipp[1] * -sin + up.ipp[2] * cos
        };
        assert!((own_normal - up.centre[2]).abs() > 5.0, "{own_normal}");
        assert!((up.ipp[2] - up.centre[2]).abs() > 60.0);
    }

    /// Without the extents the corner stands in for the centre; an untilted slice's position
    /// is the same either way, so series indexed before keep pairing as they did.
    #[test]
    fn extents_unknown_measure_the_corner_and_untilted_slices_are_unchanged() {
        let straight = &series(0.0, [5.0, 5.0, 12.5], 1.0, 1)[0];
        let centred = straight.geometry();
        let cornered = slice_geometry(&straight.ipp, &straight.iop).unwrap();
        assert_eq!(centred.position, cornered.position);
        assert_eq!(centred.position, 12.5);
        let tilted = &series(20.0, [0.0, 0.0, 0.0], 1.0, 1)[0];
        for (rows, columns, spacing) in [
            (0, 512, Some([0.7, 0.7])),
            (512, 0, Some([0.7, 0.7])),
            (512, 512, None),
            (512, 512, Some([0.0, 0.7])),
            (512, 512, Some([f64::NAN, 0.7])),
        ] {
            let g = slice_geometry_centred(&tilted.ipp, &tilted.iop, rows, columns, spacing);
            assert_eq!(g.unwrap().position, tilted.ipp[2]);
        }
    }

    #[test]
    fn the_nearest_slice_ties_to_the_lower_index_and_skips_slices_without_a_position() {
        assert_eq!(nearest_slice(&[Some(0.0), Some(10.0)], 5.0), Some(0));
        assert_eq!(nearest_slice(&[None, Some(10.0), Some(4.0)], 5.0), Some(2));
        assert_eq!(nearest_slice(&[None, None], 5.0), None);
    }

    proptest! {
        /// Any tilt a gantry has (up to 30°), any table start, slice step and in-plane
        /// offset: an untilted slice pairs with a tilted slice whose centre is (one of) the
        /// nearest, and the other way round.
        #[test]
        fn tilted_and_untilted_series_pair_by_their_centres(
            tilt in -30.0f64..30.0,
            start in -200.0f64..200.0,
            shift in -50.0f64..50.0,
            offset in -30.0f64..30.0,
            step in 0.5f64..10.0,
            tilted_step in 0.5f64..10.0,
        ) {
            let straight = series(0.0, [0.0, 0.0, start], step, 40);
            let tilted = series(tilt, [offset, offset, start + shift], tilted_step, 40);
            for (slice, other) in straight.iter().map(|s| (s, &tilted[..]))
                .chain(tilted.iter().map(|s| (s, &straight[..])))
            {
                let pair = paired(slice, other);
                let best = nearest_centre(slice, other);
                prop_assert!(
                    distance(other[pair].centre, slice.centre)
                        <= distance(other[best].centre, slice.centre) + 1e-6
                );
            }
        }

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
