//! The synthetic phantom: valid DICOM by dicom3tools' `dciodvfy`, the HU values it promises,
//! and a study that imports and binds like any other.

use std::process::Command;

use countersign_imaging::{open, phantom_hu};

use crate::common::{bin, Home};

#[test]
fn phantom_series_is_valid_dicom_with_the_promised_hounsfield_units() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("phantom");
    let run = Command::new(bin())
        .args([
            "--json", "image", "phantom", "--slices", "4", "--size", "64", "--seed", "test", "-o",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let made: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(made["files"], 4);
    let study = made["study"].as_str().unwrap().to_string();
    assert!(study.starts_with("2.25.") && study.len() <= 64);

    let mut files: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for file in &files {
        let check = Command::new("dciodvfy")
            .arg(file)
            .output()
            .expect("dciodvfy (Debian dicom3tools) is installed by make test");
        let report = String::from_utf8_lossy(&check.stderr).to_string()
            + &String::from_utf8_lossy(&check.stdout);
        let problems: Vec<&str> = report
            .lines()
            .filter(|l| l.starts_with("Error") || l.starts_with("Warning"))
            .collect();
        assert!(problems.is_empty(), "{}: {problems:?}", file.display());
    }

    // Slice 2 of 4 sits at z = -0.25; its pixels are the phantom's HU there.
    let image = open(&files[1]).unwrap();
    assert_eq!(
        (
            image.info.rows,
            image.info.columns,
            image.info.study_uid.as_deref()
        ),
        (64, 64, Some(study.as_str()))
    );
    let frame = image.frame(0).unwrap();
    let hu = |row: usize, col: usize| {
        frame.samples.get(row * 64 + col) as f64 * image.info.rescale_slope
            + image.info.rescale_intercept
    };
    let expected = |row: usize, col: usize| {
        phantom_hu(
            (2.0 * (col as f64 + 0.5) / 64.0) - 1.0,
            1.0 - (2.0 * (row as f64 + 0.5) / 64.0),
            -0.25,
        )
        .round()
    };
    for (row, col) in [(0, 0), (32, 32), (10, 32), (32, 20), (50, 40)] {
        assert_eq!(hu(row, col), expected(row, col), "pixel ({row}, {col})");
    }
    assert_eq!(hu(0, 0), -1000.0, "air in the corner");
    let brain = hu(32, 32);
    assert!(
        (0.0..=60.0).contains(&brain),
        "brain at the centre reads {brain} HU"
    );
    let max = (0..64 * 64).map(|i| frame.samples.get(i)).max().unwrap() as f64
        + image.info.rescale_intercept;
    assert_eq!(max, 800.0, "the skull");

    // It imports like any study, and a report binds all its slices.
    let home = Home::new();
    home.ok(&["init", "--name", "Dr Ada", "--role", "attending", "--admin"]);
    assert_eq!(home.ok(&["import", out.to_str().unwrap()])["imported"], 4);
    let report = home.new_report(&study, "ct-chest");
    assert_eq!(
        home.ok(&["report", "show", &report])["images"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
}

/// Issue 15's priors scroll beside the current study by position: each imported image carries
/// where its file says it lies (Image Position along the normal of Image Orientation), so a
/// 2.5 mm prior beside a 5 mm study is followed slice for slice by millimetres, not by index.
/// An instance indexed before positions were (NULL columns) falls back to its Slice Location,
/// with no plane.
#[test]
fn imported_slices_carry_their_plane_and_position_along_the_normal() {
    let home = Home::new();
    let dir = tempfile::tempdir().unwrap();
    let mut studies = Vec::new();
    for (seed, slices, thickness) in [("current", 6u32, 5.0f64), ("prior", 10, 2.5)] {
        let out = dir.path().join(seed);
        let run = Command::new(bin())
            .args(["--json", "image", "phantom", "--size", "32", "--seed", seed])
            .args([
                "--slices",
                &slices.to_string(),
                "--thickness",
                &thickness.to_string(),
            ])
            .arg("-o")
            .arg(&out)
            .output()
            .unwrap();
        assert!(
            run.status.success(),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
        let made: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
        home.ok(&["import", out.to_str().unwrap()]);
        studies.push((
            made["study"].as_str().unwrap().to_string(),
            slices,
            thickness,
        ));
    }
    let app = home.app();
    for (study, slices, thickness) in &studies {
        let refs = app.study_image_refs(study).unwrap();
        let positions: Vec<f64> = refs.iter().map(|r| r.position.unwrap()).collect();
        let want: Vec<f64> = (0..*slices).map(|k| f64::from(k) * thickness).collect();
        assert_eq!(positions, want, "study {study}");
        assert!(refs.iter().all(|r| r.plane.as_deref() == Some("axial")));
    }
    // As an older build indexed it: no plane, no position.
    home.db()
        .execute("UPDATE instances SET plane = NULL, position = NULL", [])
        .unwrap();
    let old = app.study_image_refs(&studies[1].0).unwrap();
    assert_eq!(old[3].position, Some(7.5), "its Slice Location");
    assert_eq!(old[3].plane, None);

    let bad = Command::new(bin())
        .args(["image", "phantom", "--thickness", "0", "-o"])
        .arg(dir.path().join("bad"))
        .output()
        .unwrap();
    assert!(!bad.status.success(), "a zero slice spacing is refused");
}
