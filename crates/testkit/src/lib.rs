//! Shared test fixtures for Countersign's crates, benchmarks and integration tests.
//!
//! The DICOM corpus the tests read is pinned by `tests/corpus.tsv` (two published wheels and the
//! SHA-256 of every file taken from them). `make corpus` (run by `make test`) fetches it with
//! `scripts/corpus.py` into `$COUNTERSIGN_CORPUS`, else `$HOME/.cache/countersign/corpus`; this
//! crate finds it there and checks each file's SHA-256 the first time a test asks for it, so a
//! missing or altered file fails the test that needed it with its name, never a confusing
//! decode error.
//!
//! ```no_run
//! let ct = countersign_testkit::corpus("CT_small.dcm"); // checked path
//! let bytes = std::fs::read(ct).unwrap();
//! assert!(bytes.len() > 128);
//! ```

pub mod hostile;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use sha2::{Digest, Sha256};

/// The manifest, compiled in so a test binary always checks against the manifest of its commit.
const MANIFEST: &str = include_str!("../../../tests/corpus.tsv");

/// One pinned corpus file.
#[derive(Debug, Clone, Copy)]
pub struct CorpusFile {
    /// File name in the corpus folder (flat).
    pub name: &'static str,
    /// Lowercase hex SHA-256 of its bytes.
    pub sha256: &'static str,
    /// Its length in bytes.
    pub bytes: u64,
}

/// Every pinned file, in manifest order (sorted by name).
pub fn manifest() -> &'static [CorpusFile] {
    static FILES: OnceLock<Vec<CorpusFile>> = OnceLock::new();
    FILES.get_or_init(|| {
        MANIFEST
            .lines()
            .filter(|l| l.starts_with("file\t"))
            .map(|l| {
                let cols: Vec<&'static str> = l.split('\t').collect();
                assert_eq!(cols.len(), 5, "tests/corpus.tsv: bad line {l:?}");
                CorpusFile {
                    name: cols[1],
                    sha256: cols[2],
                    bytes: cols[3].parse().expect("tests/corpus.tsv: byte count"),
                }
            })
            .collect()
    })
}

/// The corpus folder: `$COUNTERSIGN_CORPUS`, else `$HOME/.cache/countersign/corpus`.
pub fn corpus_dir_unchecked() -> PathBuf {
    if let Some(dir) = std::env::var_os("COUNTERSIGN_CORPUS") {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME").expect("HOME is not set: set COUNTERSIGN_CORPUS instead");
    PathBuf::from(home).join(".cache/countersign/corpus")
}

fn checked() -> &'static Mutex<HashSet<&'static str>> {
    static CHECKED: OnceLock<Mutex<HashSet<&'static str>>> = OnceLock::new();
    CHECKED.get_or_init(Default::default)
}

/// Checks one pinned file in `dir`: its path, or what is wrong with it (naming the file).
pub fn check_in(dir: &Path, file: &CorpusFile) -> Result<PathBuf, String> {
    let path = dir.join(file.name);
    let bytes = std::fs::read(&path).map_err(|e| {
        format!(
            "corpus file {} is missing ({}: {e}); run `make corpus` to fetch the pinned corpus",
            file.name,
            path.display()
        )
    })?;
    let digest = hex::encode(Sha256::digest(&bytes));
    if digest != file.sha256 {
        return Err(format!(
            "corpus file {} is altered: SHA-256 {digest}, pinned {} in tests/corpus.tsv; \
             run `make corpus`",
            file.name, file.sha256
        ));
    }
    Ok(path)
}

/// Checks one pinned file in the corpus folder once per process, panicking with what is wrong.
fn check(file: &CorpusFile) -> PathBuf {
    let dir = corpus_dir_unchecked();
    if checked().lock().expect("lock").contains(file.name) {
        return dir.join(file.name);
    }
    let path = check_in(&dir, file).unwrap_or_else(|e| panic!("{e}"));
    checked().lock().expect("lock").insert(file.name);
    path
}

/// The path of a pinned corpus file, checked against its SHA-256.
///
/// # Panics
/// If `name` is not in the manifest, or the file is missing or altered.
pub fn corpus(name: &str) -> PathBuf {
    let file = manifest()
        .iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("{name} is not in tests/corpus.tsv"));
    check(file)
}

/// The corpus folder, after checking every pinned file in it. Tests that walk the folder use
/// this; files in it that the manifest does not name are the caller's to ignore.
pub fn corpus_dir() -> PathBuf {
    for file in manifest() {
        check(file);
    }
    corpus_dir_unchecked()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_manifest_names_every_file_once_with_a_digest() {
        let files = manifest();
        assert!(files.len() > 100, "{}", files.len());
        let names: HashSet<_> = files.iter().map(|f| f.name).collect();
        assert_eq!(names.len(), files.len());
        for f in files {
            assert_eq!(f.sha256.len(), 64, "{}", f.name);
            assert!(
                f.name.ends_with(".dcm") && !f.name.contains('/'),
                "{}",
                f.name
            );
        }
    }

    #[test]
    fn a_missing_or_altered_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let file = manifest()[0];
        let missing = check_in(dir.path(), &file).unwrap_err();
        assert!(
            missing.contains(file.name) && missing.contains("missing"),
            "{missing}"
        );
        std::fs::write(dir.path().join(file.name), b"not the pinned bytes").unwrap();
        let altered = check_in(dir.path(), &file).unwrap_err();
        assert!(
            altered.contains(file.name) && altered.contains("altered"),
            "{altered}"
        );
    }

    #[test]
    #[should_panic(expected = "not in tests/corpus.tsv")]
    fn an_unpinned_name_is_refused() {
        corpus("not-pinned.dcm");
    }
}
