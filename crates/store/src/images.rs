//! The content-addressed image store: DICOM files kept under `images/aa/<sha256>.dcm`, and
//! their index in the `instances` table.

use std::path::{Path, PathBuf};

use rusqlite::{params, OptionalExtension, Row};

use crate::{Db, Result, StoreError};

/// One imported DICOM instance, as indexed.
#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    pub sha256: [u8; 32],
    pub size: u64,
    pub study: String,
    pub series: Option<String>,
    pub instance: Option<String>,
    pub patient: Option<String>,
    pub patient_id: Option<String>,
    pub study_date: Option<String>,
    pub modality: Option<String>,
    pub study_description: Option<String>,
    pub series_description: Option<String>,
    pub sop_class: String,
    pub frames: u32,
    pub imported_ms: u64,
    pub instance_number: Option<i64>,
    pub slice_location: Option<f64>,
    pub sop_class_uid: Option<String>,
    /// The plane of the slice (`axial`, `coronal`, `sagittal`, `oblique`) and the position of
    /// its centre along that plane's patient axis in mm (see
    /// `countersign_imaging::slice_geometry_centred`; a slice indexed before gantry tilts were
    /// corrected has its corner along its own normal, the same for an untilted slice); `None`
    /// without a trustworthy geometry, and for instances indexed before schema 18.
    pub plane: Option<String>,
    pub position: Option<f64>,
    /// Issuer of Patient ID (0010,0021): a patient is the Patient ID *and* its issuer (see
    /// [`Db::patients_of_studies`]). `None` when the file names none, and for instances
    /// indexed before schema 23 (which may well have had one: "not recorded", not "none").
    pub issuer: Option<String>,
}

/// One patient a study's instances carry (see [`Db::patients_of_studies`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StudyPatient {
    pub study: String,
    pub patient_id: Option<String>,
    pub issuer: Option<String>,
}

/// What the sandboxed decode worker made of an image: `refused` is `None` when the worker lived
/// through every frame (`message` names a frame the decoder refused in words, if one was);
/// otherwise the worker crashed on it, and `refused` names how (`message` says it in words).
/// `decoder` names the build of the decoders that reached the verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeCheck {
    pub frames: u32,
    pub refused: Option<String>,
    pub message: Option<String>,
    pub decoder: String,
}

/// Where the file with this SHA-256 lives under `root`.
pub fn image_path(root: &Path, sha256: &[u8; 32]) -> PathBuf {
    let hex: String = sha256.iter().map(|b| format!("{b:02x}")).collect();
    root.join("images")
        .join(&hex[..2])
        .join(format!("{hex}.dcm"))
}

/// An image written to a temporary file (next to its final name, or a retrieval's staged file
/// elsewhere on the same filesystem), not yet durable, not yet under its final name.
#[derive(Debug, Clone)]
pub struct StagedImage {
    tmp: PathBuf,
    path: PathBuf,
}

impl StagedImage {
    /// A file already written whole elsewhere in the home (a retrieval's staging folder), to be
    /// moved to `path` by a rename rather than copied: same filesystem, no second write.
    pub fn moved(from: PathBuf, path: PathBuf) -> StagedImage {
        StagedImage { tmp: from, path }
    }

    /// The image's final name in the store.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Makes the 256 prefix folders of the image store under `root` (`images/00` … `images/ff`)
/// if they are not all there, and makes them durable: once when a home is created, and once
/// when a home from before this is opened. Storing an image then never makes a folder (a
/// `mkdir` and two folder syncs for each new prefix, most of a fresh home's first study).
/// `ff` is made last, so its presence (one `stat`, the cost on every later opening) says all
/// are there.
pub fn prepare_image_folders(root: &Path) -> std::io::Result<()> {
    let images = root.join("images");
    if images.join("ff").is_dir() {
        return Ok(());
    }
    let made_images = !images.is_dir();
    std::fs::create_dir_all(&images)?;
    for prefix in 0..=255u8 {
        match std::fs::create_dir(images.join(format!("{prefix:02x}"))) {
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            other => other?,
        }
    }
    // Their names (and `images/` itself, if new) durable before any image is renamed into
    // them: a folder lost at a power cut would take its committed images with it.
    sync_dir(&images)?;
    if made_images {
        sync_dir(root)?;
    }
    Ok(())
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

/// Writes `bytes` to a temporary file beside `path`, without syncing; `None` if `path`
/// already exists (the store is content-addressed: same name, same bytes — see
/// [`commit_staged`] for why a name never stands for bytes a crash lost).
pub fn stage_image(path: &Path, bytes: &[u8]) -> std::io::Result<Option<StagedImage>> {
    let Some(staged) = StagedImage::new(path) else {
        return Ok(None);
    };
    staged.write(bytes)?;
    Ok(Some(staged))
}

impl StagedImage {
    /// The temporary name beside `path` to write an image to, this process's own (see
    /// `leftovers`); `None` if `path` already exists (see [`stage_image`], which also writes
    /// it).
    pub fn new(path: &Path) -> Option<StagedImage> {
        if path.exists() {
            return None;
        }
        Some(StagedImage {
            tmp: crate::leftovers::staged_name(path),
            path: path.to_path_buf(),
        })
    }

    /// Where the image is written before it is renamed to [`StagedImage::path`].
    pub fn tmp(&self) -> &Path {
        &self.tmp
    }

    /// Writes `bytes` under the temporary name, without syncing: past the page cache where it
    /// can be (see `direct`), so the sync that commits it has only names and sizes to write.
    pub fn write(&self, bytes: &[u8]) -> std::io::Result<()> {
        // The prefix folders are made with the home (`prepare_image_folders`); one missing
        // (removed by hand) is made again.
        match crate::direct::create_and_write(&self.tmp, bytes) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir_all(self.path.parent().unwrap_or(Path::new(".")))?;
                crate::direct::create_and_write(&self.tmp, bytes)?;
            }
            other => {
                other?;
            }
        }
        Ok(())
    }
}

/// A batch of at least this many files is made durable by two `syncfs(2)` of the filesystem
/// (Linux) rather than file by file: every `fsync` or `fdatasync` ends in a flush of the disk's
/// write cache (3–7 ms each on the machine measured), and a batch of 64 CT slices in 57 prefix
/// folders took 121 of them. A batch of one (a retrieval's first instance, which a viewer waits
/// for) is cheaper file by file: its two flushes do not wait for the rest of the filesystem.
pub const SYNCFS_FROM: usize = 3;

/// Makes a batch of staged images durable under their final names, in two steps: every file's
/// data is made durable under its temporary name; then each is renamed to its final name (its
/// prefix folder made if missing) and those names are made durable. Only then may the index
/// name them: a committed index row never points at a file a crash or a power cut could lose.
/// And a final name never stands for bytes a power cut could lose either (the data is durable
/// before the rename), so a later import that finds the name taken (`stage_image`) may trust
/// it. Each step is one `syncfs(2)` for a batch of [`SYNCFS_FROM`] files or more on Linux;
/// otherwise every file's data is synced (`fdatasync`) and then every folder whose entries
/// changed (the prefix folders, and `images/` when one had to be made) once.
pub fn commit_staged(staged: &[StagedImage]) -> std::io::Result<()> {
    if staged.is_empty() {
        return Ok(());
    }
    #[cfg(target_os = "linux")]
    if staged.len() >= SYNCFS_FROM {
        if let Some(fs) = one_filesystem(staged)? {
            nix::unistd::syncfs(&fs).map_err(std::io::Error::from)?;
            rename_all(staged)?;
            return nix::unistd::syncfs(&fs).map_err(std::io::Error::from);
        }
    }
    for s in staged {
        // Data and size: what reading the file back needs (its name is the folder's sync).
        std::fs::File::open(&s.tmp)?.sync_data()?;
    }
    for dir in rename_all(staged)? {
        sync_dir(&dir)?;
    }
    Ok(())
}

/// The folder of the batch's first final name, open, if every staged file and every final
/// folder is on its filesystem (a `syncfs` of it covers them all); `None` otherwise.
#[cfg(target_os = "linux")]
fn one_filesystem(staged: &[StagedImage]) -> std::io::Result<Option<std::fs::File>> {
    use std::os::unix::fs::MetadataExt;
    let folder = |p: &Path| p.parent().unwrap_or(Path::new(".")).to_path_buf();
    let fs = match std::fs::File::open(folder(&staged[0].path)) {
        // A prefix folder removed by hand: made again file by file.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        other => other?,
    };
    let dev = fs.metadata()?.dev();
    for s in staged {
        let same = std::fs::metadata(&s.tmp)?.dev() == dev
            && std::fs::metadata(folder(&s.path)).is_ok_and(|m| m.dev() == dev);
        if !same {
            return Ok(None);
        }
    }
    Ok(Some(fs))
}

/// Renames each staged file to its final name, making a missing prefix folder; returns every
/// folder whose entries changed.
fn rename_all(staged: &[StagedImage]) -> std::io::Result<Vec<PathBuf>> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    let mut note = |dir: &Path| {
        if !dirs.iter().any(|d| d == dir) {
            dirs.push(dir.to_path_buf());
        }
    };
    for s in staged {
        let dir = s.path.parent().unwrap_or(Path::new("."));
        match std::fs::rename(&s.tmp, &s.path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !dir.exists() => {
                std::fs::create_dir_all(dir)?;
                if let Some(images) = dir.parent() {
                    note(images);
                }
                std::fs::rename(&s.tmp, &s.path)?;
            }
            other => other?,
        }
        note(dir);
    }
    Ok(dirs)
}

fn instance(row: &Row<'_>) -> rusqlite::Result<Instance> {
    let sha: Vec<u8> = row.get(0)?;
    let mut sha256 = [0u8; 32];
    if sha.len() == 32 {
        sha256.copy_from_slice(&sha);
    }
    Ok(Instance {
        sha256,
        size: row.get::<_, i64>(1)? as u64,
        study: row.get(2)?,
        series: row.get(3)?,
        instance: row.get(4)?,
        patient: row.get(5)?,
        patient_id: row.get(6)?,
        study_date: row.get(7)?,
        modality: row.get(8)?,
        study_description: row.get(9)?,
        series_description: row.get(10)?,
        sop_class: row.get(11)?,
        frames: row.get::<_, i64>(12)? as u32,
        imported_ms: row.get::<_, i64>(13)? as u64,
        instance_number: row.get(14)?,
        slice_location: row.get(15)?,
        sop_class_uid: row.get(16)?,
        plane: row.get(17)?,
        position: row.get(18)?,
        issuer: row.get(19)?,
    })
}

const COLUMNS: &str = "sha256, size, study, series, instance, patient, patient_id, study_date, \
     modality, study_description, series_description, sop_class, frames, imported_ms, \
     instance_number, slice_location, sop_class_uid, plane, position, issuer";

impl Db<'_> {
    /// Indexes an instance. Returns `false` if one with the same SHA-256 was already there.
    pub fn insert_instance(&self, i: &Instance) -> Result<bool> {
        // Prepared once per connection (an import indexes hundreds in a row).
        self.conn()
            .prepare_cached(&format!("INSERT OR IGNORE INTO instances ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)"))
            .and_then(|mut s| s.execute(
                params![
                    i.sha256.as_slice(),
                    i.size as i64,
                    i.study,
                    i.series,
                    i.instance,
                    i.patient,
                    i.patient_id,
                    i.study_date,
                    i.modality,
                    i.study_description,
                    i.series_description,
                    i.sop_class,
                    i.frames as i64,
                    i.imported_ms as i64,
                    i.instance_number,
                    i.slice_location,
                    i.sop_class_uid,
                    i.plane,
                    i.position,
                    i.issuer
                ],
            ))
            .map(|n| n > 0)
            .map_err(StoreError::sqlite("indexing an image"))
    }

    pub fn instance(&self, sha256: &[u8; 32]) -> Result<Option<Instance>> {
        // Prepared once per connection: an import asks it of every file.
        self.conn()
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM instances WHERE sha256 = ?1"
            ))
            .and_then(|mut s| s.query_row([sha256.as_slice()], instance).optional())
            .map_err(StoreError::sqlite("reading the image index"))
    }

    /// What the decode worker made of the image `sha256`, if it has seen it.
    pub fn decode_check(&self, sha256: &[u8; 32]) -> Result<Option<DecodeCheck>> {
        self.conn()
            .prepare_cached(
                "SELECT frames, refused, message, decoder FROM decode_checks WHERE sha256 = ?1",
            )
            .and_then(|mut s| {
                s.query_row([sha256.as_slice()], |r| {
                    Ok(DecodeCheck {
                        frames: r.get::<_, i64>(0)?.clamp(0, u32::MAX as i64) as u32,
                        refused: r.get(1)?,
                        message: r.get(2)?,
                        decoder: r.get(3)?,
                    })
                })
                .optional()
            })
            .map_err(StoreError::sqlite("reading a decode check"))
    }

    /// Records what the decode worker made of the image `sha256` (replacing an earlier record).
    pub fn put_decode_check(
        &self,
        sha256: &[u8; 32],
        check: &DecodeCheck,
        now_ms: u64,
    ) -> Result<()> {
        self.conn()
            .prepare_cached(
                "INSERT OR REPLACE INTO decode_checks \
                 (sha256, frames, refused, message, decoder, checked_ms) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    sha256.as_slice(),
                    check.frames as i64,
                    check.refused,
                    check.message,
                    check.decoder,
                    now_ms.min(i64::MAX as u64) as i64
                ])
            })
            .map(|_| ())
            .map_err(StoreError::sqlite("recording a decode check"))
    }

    /// Every indexed instance, by study, series, then as a reader scrolls: instance number, slice
    /// location, instance UID.
    pub fn instances(&self, study: Option<&str>) -> Result<Vec<Instance>> {
        let mut stmt = self
            .conn()
            .prepare(&format!(
                "SELECT {COLUMNS} FROM instances WHERE ?1 IS NULL OR study = ?1 \
                 ORDER BY study, series, instance_number IS NULL, instance_number, \
                 slice_location IS NULL, slice_location, instance, sha256"
            ))
            .map_err(StoreError::sqlite("reading the image index"))?;
        let rows = stmt
            .query_map([study], instance)
            .and_then(|rows| rows.collect())
            .map_err(StoreError::sqlite("reading the image index"));
        rows
    }

    /// Up to `limit` (date, study) pairs of the imported instances, newest date first, then
    /// undated ones, each by study UID, after `after`: the study list paged through the
    /// (date, study) index, costing the instances of the studies listed, not the whole index.
    /// A study whose instances disagree on the date comes once per date; the caller keeps the
    /// one its first instance gives.
    pub fn study_dates_after(
        &self,
        after: Option<&crate::StudyCursor>,
        limit: usize,
    ) -> Result<Vec<(Option<String>, String)>> {
        let read = |sql: &str, args: &[&dyn rusqlite::ToSql]| {
            let mut stmt = self
                .conn()
                .prepare_cached(sql)
                .map_err(StoreError::sqlite("listing studies"))?;
            let rows = stmt
                .query_map(args, |r| Ok((r.get(0)?, r.get(1)?)))
                .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
                .map_err(StoreError::sqlite("listing studies"));
            rows
        };
        let group = "GROUP BY study_date, study ORDER BY study_date DESC, study LIMIT";
        let limit = limit as i64;
        let mut out = match after {
            None => read(
                &format!("SELECT study_date, study FROM instances WHERE study_date IS NOT NULL {group} ?1"),
                &[&limit],
            )?,
            Some(crate::StudyCursor {
                date: Some(date),
                study,
            }) => read(
                &format!(
                    "SELECT study_date, study FROM instances WHERE study_date <= ?1 \
                     AND (study_date < ?1 OR study > ?2) {group} ?3"
                ),
                &[date, study, &limit],
            )?,
            Some(crate::StudyCursor { date: None, .. }) => Vec::new(),
        };
        // Undated studies come last, by UID.
        if (out.len() as i64) < limit {
            let from = match after {
                Some(crate::StudyCursor { date: None, study }) => study.as_str(),
                _ => "",
            };
            out.extend(read(
                "SELECT study_date, study FROM instances WHERE study_date IS NULL AND study > ?1 \
                 GROUP BY study ORDER BY study LIMIT ?2",
                &[&from, &(limit - out.len() as i64)],
            )?);
        }
        Ok(out)
    }

    /// The studies holding an instance of `patient_id`, each once, by UID. (No index on the
    /// Patient ID: a scan of the image index, as priors are listed one study at a time.)
    pub fn studies_of_patient(&self, patient_id: &str) -> Result<Vec<String>> {
        let mut stmt = self
            .conn()
            .prepare_cached(
                "SELECT DISTINCT study FROM instances WHERE patient_id = ?1 ORDER BY study",
            )
            .map_err(StoreError::sqlite("listing a patient's studies"))?;
        let rows = stmt
            .query_map([patient_id], |r| r.get(0))
            .and_then(|rows| rows.collect())
            .map_err(StoreError::sqlite("listing a patient's studies"));
        rows
    }

    /// Who the instances of each study holding an instance of `patient_id` belong to: every
    /// distinct (study, Patient ID, Issuer of Patient ID) among them, by study. A study whose
    /// instances all carry the one patient has one row; one with a stray instance of another
    /// patient (or the same ID under another issuer, or none recorded) has more. (A scan of
    /// the image index, as [`Db::studies_of_patient`]: a patient's erasure, a prior's list.)
    pub fn patients_of_studies(&self, patient_id: &str) -> Result<Vec<StudyPatient>> {
        let mut stmt = self
            .conn()
            .prepare_cached(
                "SELECT DISTINCT study, patient_id, issuer FROM instances WHERE study IN \
                 (SELECT study FROM instances WHERE patient_id = ?1) \
                 ORDER BY study, patient_id, issuer",
            )
            .map_err(StoreError::sqlite("listing a patient's studies"))?;
        let rows = stmt
            .query_map([patient_id], |r| {
                Ok(StudyPatient {
                    study: r.get(0)?,
                    patient_id: r.get(1)?,
                    issuer: r.get(2)?,
                })
            })
            .and_then(|rows| rows.collect())
            .map_err(StoreError::sqlite("listing a patient's studies"));
        rows
    }

    /// The instances of `study` with no issuer recorded (indexed before issuers were, or of a
    /// file that has none), each with its Patient ID: what a patient's erasure reads the
    /// issuer of from the file.
    pub fn instances_without_issuer(&self, study: &str) -> Result<Vec<([u8; 32], Option<String>)>> {
        let mut stmt = self
            .conn()
            .prepare_cached(
                "SELECT sha256, patient_id FROM instances WHERE study = ?1 AND issuer IS NULL",
            )
            .map_err(StoreError::sqlite("reading a study's instances"))?;
        let rows = stmt
            .query_map([study], |r| {
                let sha: Vec<u8> = r.get(0)?;
                Ok((sha, r.get(1)?))
            })
            .and_then(|rows| rows.collect::<std::result::Result<Vec<_>, _>>())
            .map_err(StoreError::sqlite("reading a study's instances"))?;
        Ok(rows
            .into_iter()
            .filter_map(|(sha, id)| Some((<[u8; 32]>::try_from(sha.as_slice()).ok()?, id)))
            .collect())
    }

    /// The distinct (Patient ID, Issuer of Patient ID) the instances of `study` carry, at most
    /// `limit` of them: one for a study of one patient. (Through the study index.)
    pub fn patients_of_study(
        &self,
        study: &str,
        limit: usize,
    ) -> Result<Vec<(Option<String>, Option<String>)>> {
        let mut stmt = self
            .conn()
            .prepare_cached(
                "SELECT DISTINCT patient_id, issuer FROM instances WHERE study = ?1 \
                 ORDER BY patient_id, issuer LIMIT ?2",
            )
            .map_err(StoreError::sqlite("reading a study's patient"))?;
        let rows = stmt
            .query_map(params![study, limit.min(i64::MAX as usize) as i64], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .and_then(|rows| rows.collect())
            .map_err(StoreError::sqlite("reading a study's patient"));
        rows
    }

    /// A study's first instance in the order a reader scrolls (what the study list shows of
    /// it) and how many instances it has.
    pub fn study_head(&self, study: &str) -> Result<Option<(Instance, u64)>> {
        let first = self
            .conn()
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM instances WHERE study = ?1 \
                 ORDER BY series, instance_number IS NULL, instance_number, \
                 slice_location IS NULL, slice_location, instance, sha256 LIMIT 1"
            ))
            .and_then(|mut s| s.query_row([study], instance).optional())
            .map_err(StoreError::sqlite("reading a study"))?;
        let Some(first) = first else {
            return Ok(None);
        };
        let count: i64 = self
            .conn()
            .prepare_cached("SELECT COUNT(*) FROM instances WHERE study = ?1")
            .and_then(|mut s| s.query_row([study], |r| r.get(0)))
            .map_err(StoreError::sqlite("reading a study"))?;
        Ok(Some((first, count.max(0) as u64)))
    }
}
