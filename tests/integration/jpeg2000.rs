//! JPEG 2000 decoding against references nobody here wrote: lossless files must give exactly
//! the samples of their uncompressed twins in the corpus, and lossy files exactly what GDCM's
//! `gdcmconv --raw` writes when it decompresses them.

use std::path::{Path, PathBuf};
use std::process::Command;

use countersign_imaging::{open, Samples};

fn corpus(name: &str) -> PathBuf {
    countersign_testkit::corpus(name)
}

fn samples(path: &Path) -> Vec<i64> {
    let image = open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let frame = image
        .frame(0)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let s: &Samples = &frame.samples;
    (0..s.len()).map(|i| s.get(i)).collect()
}

#[test]
fn lossless_jpeg_2000_gives_the_samples_of_the_uncompressed_original() {
    for (compressed, original) in [
        ("RG3_J2KR.dcm", "RG3_UNCR.dcm"),
        ("MR_small_jp2klossless.dcm", "MR_small.dcm"),
    ] {
        let (ours, reference) = (samples(&corpus(compressed)), samples(&corpus(original)));
        assert_eq!(ours.len(), reference.len(), "{compressed}");
        let differing = ours.iter().zip(&reference).filter(|(a, b)| a != b).count();
        assert_eq!(
            differing, 0,
            "{compressed}: {differing} samples differ from {original}"
        );
    }
}

#[test]
fn lossy_jpeg_2000_decodes_as_gdcm_decodes_it() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["RG3_J2KI.dcm", "693_J2KI.dcm"] {
        let raw = dir.path().join(name);
        let gdcm = Command::new("gdcmconv")
            .arg("--raw")
            .arg(corpus(name))
            .arg(&raw)
            .output()
            .expect("gdcmconv (Debian libgdcm-tools; make test installs it)");
        assert!(
            gdcm.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&gdcm.stderr)
        );
        let (ours, theirs) = (samples(&corpus(name)), samples(&raw));
        assert_eq!(ours.len(), theirs.len(), "{name}");
        let worst = ours
            .iter()
            .zip(&theirs)
            .map(|(a, b)| (a - b).abs())
            .max()
            .unwrap();
        assert_eq!(worst, 0, "{name}: up to {worst} apart from GDCM");
    }
}
