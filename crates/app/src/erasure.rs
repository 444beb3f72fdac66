//! Erasure (GDPR Art. 17) and restriction (Art. 18).
//!
//! `erase` signs one `payload.erase` per report (every report of a patient, or one), and
//! `restrict` one `report.restrict` per report, through the one acceptance path like any
//! entry. What an erasure destroys is then destroyed by every home that stores one the rules
//! accept, whichever path brought it — signed here, a bundle, a peer's batch, a held entry
//! released — inside the same transaction ([`apply`], called from
//! [`crate::Home::write_with_state`]):
//!
//! - the payloads of the report's entries (not the erasures' and restrictions' own, which say
//!   only who erased what on which basis), its drafts, its quarantined entries' payloads and
//!   reasons in words, and its held entries' payloads;
//! - the images of the study the report was about when erased — as of the erasure's causal
//!   past: its latest `report.move` there that the rules accepted with its payload, else its
//!   `report.create`; never a study it was moved away from, another patient's, nor one a move
//!   refused or concurrent with the erasure names — that is, the instances of that study held
//!   here (of the SHA-256 the binding names, only those: another study's stay), unless
//!   another report not erased is about it; and that study's rows in the worklists kept for
//!   when an archive is down;
//! - the report's data key (its payloads are sealed under it: see
//!   [`countersign_report::payload::seal`]), so every copy of its ciphertext anywhere — an
//!   old bundle, a backup, a peer that never syncs again — is unreadable unless someone kept
//!   the key;
//! - and the log is remembered as erased, so no path stores one of its payloads or its key
//!   again (a bundle exported before the erasure brings nothing back).
//!
//! A patient's erasure also destroys, on this home, every study of the patient it holds that
//! no report stands on (see `patient.rs`).
//!
//! After the commit the image files are unlinked and the WAL is checkpointed and truncated
//! ([`after_commit`]); with `secure_delete` on, no copy of the text stays in the database
//! file, its free pages or its WAL. The headers stay: who wrote what kind of entry when, and
//! every signature, still verify.

use std::collections::BTreeSet;

use countersign_ledger::{Entry, EntryId, Kind, LogId};
use countersign_report::payload::{seal, EraseScope, PayloadErase, ReportCreate, ReportRestrict};
use countersign_store::Db;
use serde::Serialize;

use crate::error::{AppError, Result};
use crate::home::{json, now_ms};
use crate::state::LedgerState;
use crate::Home;

mod patient;
pub(crate) use patient::resolve as resolve_patient;
#[cfg(test)]
mod tests;

/// Whose data to erase or restrict.
#[derive(Debug, Clone)]
pub enum DataSubject {
    /// Every report this home holds about the patient with this Patient ID and Issuer of
    /// Patient ID (found through the imported studies' instances); erased, also every study of
    /// theirs held here. A Patient ID is unique only per issuer (see `patient.rs`):
    /// - `issuer: None` names none: refused (`invalid_input`) when the studies holding that ID
    ///   carry more than one issuer (an instance with none recorded counts as one of its own);
    /// - `Some("")`: the studies whose instances carry that ID with no issuer recorded;
    /// - `Some(issuer)`: those whose instances carry it with that issuer.
    Patient { id: String, issuer: Option<String> },
    /// One report.
    Report(EntryId),
}

impl DataSubject {
    /// The patient with Patient ID `id`, no issuer named (refused if that is ambiguous here).
    pub fn patient(id: impl Into<String>) -> DataSubject {
        DataSubject::Patient {
            id: id.into(),
            issuer: None,
        }
    }
}

/// What `erase` and `restrict` signed.
#[derive(Debug, Clone, Serialize)]
pub struct DataProtectionOutcome {
    /// The reports acted on.
    pub reports: Vec<EntryId>,
    /// The entries signed, one per report.
    pub entries: Vec<EntryId>,
    /// A patient's erasure: every study of the patient held here, by UID, whose images and
    /// index rows are now destroyed here — those of its reports' studies, and those no report
    /// is about (which no signed entry names: they are destroyed on this home only). Empty
    /// for one report's erasure and for a restriction.
    pub studies: Vec<String>,
}

impl Home {
    /// Erases the personal data of `subject` on the legal `basis` (see the module docs).
    /// Signed by this home's identity: an attending or a data-protection officer.
    /// [`Home::erase`] of a patient as a dialog showed them: refused (`invalid_input`,
    /// nothing signed or destroyed) unless the patient's studies here are still exactly
    /// `shown` — a study of the same ID and issuer imported while the dialog was open is not
    /// erased unseen (found by review, 2026-12-05).
    pub fn erase_patient_as_shown(
        &mut self,
        patient_id: &str,
        issuer: Option<&str>,
        shown: &[String],
        basis: &str,
    ) -> Result<DataProtectionOutcome> {
        let now: BTreeSet<String> = self
            .patient_scope(patient_id, issuer)?
            .studies
            .into_iter()
            .collect();
        let shown: BTreeSet<String> = shown.iter().cloned().collect();
        if now != shown {
            return Err(AppError::InvalidInput(format!(
                "the patient's studies here changed since they were shown ({} now, {} shown): \
                 nothing was signed or destroyed; look at what the erasure covers again",
                now.len(),
                shown.len()
            )));
        }
        let subject = DataSubject::Patient {
            id: patient_id.to_string(),
            issuer: issuer.map(str::to_string),
        };
        self.erase(&subject, basis)
    }

    pub fn erase(&mut self, subject: &DataSubject, basis: &str) -> Result<DataProtectionOutcome> {
        let scope = match subject {
            DataSubject::Patient { .. } => EraseScope::Patient,
            DataSubject::Report(_) => EraseScope::Report,
        };
        let payload = json(&PayloadErase {
            basis: basis.trim().to_string(),
            scope,
        });
        match subject {
            DataSubject::Patient { id, issuer } => {
                self.erase_patient(id, issuer.as_deref(), &payload)
            }
            DataSubject::Report(_) => self.sign_each(subject, Kind::PayloadErase, &payload),
        }
    }

    /// Restricts (or, with `restricted` false, lifts the restriction of) the processing of
    /// `subject`'s data: views and exports show no content while restricted.
    pub fn restrict(
        &mut self,
        subject: &DataSubject,
        basis: &str,
        restricted: bool,
    ) -> Result<DataProtectionOutcome> {
        let payload = json(&ReportRestrict {
            restricted,
            basis: basis.trim().to_string(),
        });
        self.sign_each(subject, Kind::ReportRestrict, &payload)
    }

    /// A number that only grows, and changes with every erasure this home applies: the reports
    /// it erased, plus the erasure mark (which every erased image or study raises: a patient's
    /// studies no report is about are erased without a report). Callers that keep what they
    /// read in memory (the desktop's frame cache) drop it when it changes.
    pub fn erasure_generation(&self) -> Result<u64> {
        let db = self.store().db();
        Ok(db.erased_count()? + db.erasure_mark()?.max(0) as u64)
    }

    fn sign_each(
        &mut self,
        subject: &DataSubject,
        kind: Kind,
        payload: &[u8],
    ) -> Result<DataProtectionOutcome> {
        let reports = self.reports_of(subject)?;
        let mut entries = Vec::new();
        for report in &reports {
            entries.push(self.append_checked(*report, kind, payload)?);
        }
        tracing::info!(kind = %kind, reports = reports.len(), "data protection entries signed");
        Ok(DataProtectionOutcome {
            reports,
            entries,
            studies: Vec::new(),
        })
    }

    /// The reports a data subject names, oldest id first.
    fn reports_of(&self, subject: &DataSubject) -> Result<Vec<EntryId>> {
        let db = self.store().db();
        let reports: BTreeSet<EntryId> = match subject {
            DataSubject::Report(r) => {
                if db.log_entries(r)?.is_empty() {
                    return Err(AppError::NotFound {
                        what: format!("report {r}"),
                    });
                }
                [*r].into()
            }
            DataSubject::Patient { id, issuer } => {
                let studies = patient::resolve(&db, self.dir(), id, issuer.as_deref())?.studies;
                let out: BTreeSet<EntryId> =
                    patient::reports_about(&db, &studies)?.into_iter().collect();
                if out.is_empty() {
                    // Never the ID in the message's log line; the caller typed it.
                    return Err(AppError::NotFound {
                        what: "a report of that patient (the Patient ID is matched against \
                               the studies imported here)"
                            .into(),
                    });
                }
                out
            }
        };
        Ok(reports.into_iter().collect())
    }
}

/// Destroys what the erasures stored since `since` (an arrival mark) erase, for every one the
/// rules accept and this home has not applied yet. Returns how many reports it erased: if
/// any, [`after_commit`] runs once the write commits (it unlinks the images whose rows were
/// deleted, and truncates the WAL, where the erased text's pages still are — a report bound
/// to no image too: found 2026-12-04, when only an erasure that deleted images ran it).
pub(crate) fn apply(db: &Db<'_>, state: &mut LedgerState, since: i64) -> Result<usize> {
    let logs = db.logs_with_kind_since(Kind::PayloadErase.name(), since)?;
    let mut erased = 0;
    for log in logs {
        if db.is_erased(&log)? {
            continue;
        }
        state.load_log(db, &log)?;
        let Some((erasure, bound)) = state
            .ledger
            .report(&log)
            .and_then(|r| r.erasure().map(|e| (e.id, Bound::of(r))))
        else {
            // Refused by the rules (not an attending's, say): it erases nothing.
            continue;
        };
        let shared_keys = erase_log(db, &log, &erasure, bound)?;
        if erased == 0 {
            db.set_meta(UNFINISHED, &unfinished_token())?;
        }
        erased += 1;
        // Its key is gone from the store with its payloads; gone from memory too. A log that
        // held the same key (re-used) lost it with it: it is unloaded, to load without it.
        state.ledger.forget_key(&log);
        for other in &shared_keys {
            state.ledger.unload(other);
        }
    }
    Ok(erased)
}

/// What an erased report was about, as its loaded log says.
enum Bound {
    /// The study and images of its binding as of its erasure's causal past: the latest move
    /// there the rules accepted with its payload, or its `report.create`'s
    /// ([`countersign_report::ReportLog::erased_binding`]).
    Study(String, Vec<String>),
    /// Its content is not held in the loaded log (a home that never held it, say, or one that
    /// lacks the payload of a move in the erasure's past): its `report.create` is read from the
    /// store instead, unless the report was ever moved — the create then names the study it
    /// left, another patient's, whose images are not the erased patient's to destroy.
    Unknown { moved: bool },
}

impl Bound {
    fn of(report: &countersign_report::ReportLog) -> Bound {
        match report.erased_binding() {
            Some((study, images)) => Bound::Study(study.to_string(), images.to_vec()),
            None => Bound::Unknown {
                moved: report.ordered().iter().any(|e| e.kind == Kind::ReportMove),
            },
        }
    }
}

/// Erases one report; returns the other logs whose key (the same
/// bytes) went with its key.
fn erase_log(db: &Db<'_>, log: &LogId, erasure: &EntryId, bound: Bound) -> Result<Vec<LogId>> {
    // What the report was about, read (opened, if sealed) before its payload and key go. The
    // key is unwrapped with the home's key-encryption key: locked, the erasure waits for it
    // (`locked`), since the images the report was about could not be named. A key that does
    // not open at all names nothing, and the erasure goes on without it.
    let key = match db.report_key(log) {
        Err(countersign_store::StoreError::KeyUnwrap { .. }) => None,
        other => other?,
    };
    let binding = match bound {
        Bound::Study(study, images) => Some((study, images)),
        Bound::Unknown { moved: false } => {
            stored_create(db, log, key.as_ref())?.map(|c| (c.study, c.images))
        }
        Bound::Unknown { moved: true } => {
            tracing::warn!(
                log = %log,
                "a moved report's content is not held here: which study it is about now is \
                 not known, and no image is destroyed for it"
            );
            None
        }
    };
    let erased = db.erase_log(log, erasure.as_bytes(), now_ms())?;
    let held = erase_held(db, log)?;
    let mut images: BTreeSet<[u8; 32]> = BTreeSet::new();
    if let Some((study, named)) = &binding {
        // The images are the study's, and another report still about the study binds them (or
        // its neighbours) as its evidence: they go with the last report standing on it. Erased
        // is asked of the store too, for the reports a patient's erasure erases in this very
        // transaction, whose rows in the report list are not projected yet.
        if !study_stands(db, study, Some(log))? {
            images.extend(own_images(db, study, named)?);
            if !study.is_empty() {
                images.extend(erase_study(db, study)?);
            }
        }
    }
    for sha in &images {
        db.erase_image(sha)?;
    }
    tracing::info!(
        log = %log,
        erasure = %erasure,
        payloads = erased.payloads,
        drafts = erased.drafts,
        quarantined = erased.quarantined,
        held,
        images = images.len(),
        shared_keys = erased.shared_keys.len(),
        "report erased: payloads and images destroyed, headers kept"
    );
    Ok(erased.shared_keys)
}

/// `log`'s `report.create` as the store holds it, opened with `key` if sealed: `None` when
/// its payload is not held or does not open.
fn stored_create(
    db: &Db<'_>,
    log: &LogId,
    key: Option<&countersign_ledger::DataKey>,
) -> Result<Option<ReportCreate>> {
    Ok(db
        .log_entries(log)?
        .into_iter()
        .find(|row| row.id.as_slice() == log.as_bytes())
        .and_then(|row| {
            let p = row.payload.clone()?;
            match key {
                Some(key) if seal::is_sealed(&p) => {
                    let h = crate::state::decode_row(&row).ok()?.header().clone();
                    let bound = seal::create_binding(&h.author, h.timestamp_ms);
                    seal::open(key, Kind::ReportCreate, Some(&bound), &p).ok()
                }
                _ => Some(p),
            }
        })
        .and_then(|p| serde_json::from_slice(&p).ok()))
}

/// Whether a report not erased (other than `but`) is about `study` now.
fn study_stands(db: &Db<'_>, study: &str, but: Option<&LogId>) -> Result<bool> {
    for s in db.summaries_of_study(study)? {
        if Some(&s.report) != but && s.status != "erased" && !db.is_erased(&s.report)? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Destroys what this home holds of `study` beside its images' files: notes it erased (an
/// import of it begun before this, a retrieval still streaming it, refuses what it has yet to
/// index) and drops it from the worklists kept for when an archive is down (they name its
/// patient). Returns its instances' SHA-256, for the caller to erase.
fn erase_study(db: &Db<'_>, study: &str) -> Result<Vec<[u8; 32]>> {
    let instances = db
        .instances(Some(study))?
        .iter()
        .map(|i| i.sha256)
        .collect();
    db.erase_study(study)?;
    crate::pacs::forget_kept_worklists(db, |m| m.study == study)?;
    Ok(instances)
}

/// Drops the payloads of held entries of `log` (dated ahead, not yet taken in): they are
/// stored without them when released. At most [`countersign_store::MAX_HELD`] rows.
fn erase_held(db: &Db<'_>, log: &LogId) -> Result<u64> {
    let mut n = 0;
    for row in db.held_due(u64::MAX, countersign_store::MAX_HELD as usize)? {
        let Ok(signature) = <[u8; 64]>::try_from(row.signature.as_slice()) else {
            continue;
        };
        let Ok(entry) = Entry::from_parts(&row.header, &signature) else {
            continue;
        };
        let kind = entry.header().kind;
        if entry.log_id() == *log
            && row.payload.is_some()
            && !countersign_store::keeps_payload_when_erased(kind)
        {
            db.drop_held_payload(&row.id)?;
            n += 1;
        }
    }
    Ok(n)
}

/// Of the images a report's binding `named`, those that are `study`'s here: no rule checks
/// what a `report.create` or `report.move` names against the study, so a signed one naming
/// another patient's images would have them destroyed with the erased report's (found by
/// review, 2026-12-05). An image another study held here has is that study's, and stays. One
/// held nowhere here is nothing to delete: noting it erased would only make an import of it
/// under way now (another study's, for all its hash says) refuse it, and an import of the
/// erased study is refused by the study's own note (`erase_study`).
fn own_images(db: &Db<'_>, study: &str, named: &[String]) -> Result<Vec<[u8; 32]>> {
    let mut own = Vec::new();
    for sha in named.iter().filter_map(|h| sha256_hex(h)) {
        if db.instance(&sha)?.is_some_and(|i| i.study == study) {
            own.push(sha);
        }
    }
    Ok(own)
}

fn sha256_hex(hex: &str) -> Option<[u8; 32]> {
    let bytes = hex::decode(hex).ok()?;
    bytes.as_slice().try_into().ok()
}

/// Set in an erasure's own transaction and cleared once everything after it is done: what
/// [`after_commit`] leaves undone (the write lock busy past its timeout, a reader holding the
/// WAL, a folder it could not remove) is finished when the home is next opened, or at the
/// next erasure, whatever the erasure erased (found by review, 2026-12-04: only leftover
/// image files were looked for, so an unfinished WAL truncation was never tried again).
pub(crate) const UNFINISHED: &str = "erasure.unfinished";

/// A value for [`UNFINISHED`] drawn for each erasure: an [`after_commit`] clears the flag only
/// if it still holds the value it read when it began, so one finishing an earlier erasure
/// never clears the flag of one committed meanwhile by another process (found by review,
/// 2026-12-05: that erasure's steps, killed before they ran, were then never tried again).
fn unfinished_token() -> String {
    let mut token = [0u8; 16];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut token);
    hex::encode(token)
}

/// After an erasure commits: unlinks the erased images' files (and any an earlier crash
/// left), removes what stopped imports left staged and the prior reports fetched from
/// archives, and checkpoints the WAL into the database file, truncating it, so that no older
/// version of an overwritten page stays in it. Each step runs whatever became of the others;
/// the first failure is returned once all have run, and [`UNFINISHED`] stays set until all
/// succeed and no leftover of a writer that may still be running was kept (it may hold an
/// erased image, and would be left for good if its writer were killed after this sweep).
pub(crate) fn after_commit(home: &mut Home) -> Result<()> {
    let token = home.store().db().meta(UNFINISHED)?;
    finish(home, token)
}

/// [`after_commit`], for the erasures that had set [`UNFINISHED`] to `token` when it began.
pub(crate) fn finish(home: &mut Home, token: Option<String>) -> Result<()> {
    let mut kept = 0;
    let steps = [
        unlink_erased(home),
        sweep_leftovers(home).map(|k| kept = k),
        drop_fetched_reports(home),
    ];
    let mut failed = None;
    for step in steps {
        if let Err(e) = step {
            tracing::warn!(
                error = e.code(),
                "a step after an erasure failed: tried again at the next open"
            );
            failed.get_or_insert(e);
        }
    }
    let truncated = home.store().truncate_wal()?;
    if !truncated {
        tracing::warn!(
            "the WAL could not be truncated now (another connection reads): older pages stay \
             until the next open of the home or the next checkpoint"
        );
    }
    if kept > 0 {
        tracing::info!(
            kept,
            "staged files of imports or retrievals that may be running are swept once they end"
        );
    }
    if failed.is_none() && truncated && kept == 0 {
        if let Some(token) = token {
            home.store_mut().write(|db| {
                db.delete_meta_if(UNFINISHED, &token)
                    .map_err(AppError::from)
            })?;
        }
    }
    match failed {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// The erased images' files, unlinked under the write lock, and only those of images no row
/// indexes: the same image imported again since the erasure (by this process or another on
/// the home, perhaps finding its file still there and so not writing it again) keeps its
/// file. An import that found the file, and indexes it after this deletes it, looks for it
/// under the same lock and refuses it (`import`'s `index`).
fn unlink_erased(home: &mut Home) -> Result<()> {
    let dir = home.dir().to_path_buf();
    home.store_mut().write(|db| {
        let files = db.erased_image_files()?;
        let mut folders = BTreeSet::new();
        for sha in &files {
            if db.instance(sha)?.is_none() {
                let path = countersign_store::image_path(&dir, sha);
                match std::fs::remove_file(&path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(AppError::io("deleting an erased image")(e)),
                }
                folders.extend(path.parent().map(|p| p.to_path_buf()));
            }
        }
        // The deletions durable before the erasure forgets them: on a file system that does
        // not order them before the commit (XFS, btrfs), a power cut could bring a file back
        // that nothing would delete again.
        for folder in folders {
            match std::fs::File::open(&folder) {
                Ok(f) => f
                    .sync_all()
                    .map_err(AppError::io("syncing a folder of erased images"))?,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(AppError::io("syncing a folder of erased images")(e)),
            }
        }
        for sha in &files {
            db.forget_erased_image(sha)?;
        }
        Ok(())
    })
}

/// Copies a dead process left staged (an import or a retrieval killed before its commit, a
/// model run killed before it removed its working folder): an erased image's bytes may be
/// among them, and nothing else would ever remove them. Each kind is swept whatever became of
/// the others. Returns how many were kept, their writers perhaps running still.
fn sweep_leftovers(home: &Home) -> Result<usize> {
    let staged = countersign_store::sweep_staged_images(home.dir())
        .map_err(AppError::io("removing images left staged"));
    let staging = crate::pacs::sweep_staging(home.dir());
    let ai_work = crate::ai::sweep_work(home.dir());
    let swept = staged? + staging? + ai_work?;
    if swept.removed > 0 {
        tracing::info!(
            removed = swept.removed,
            "leftovers of stopped imports removed"
        );
    }
    Ok(swept.kept)
}

/// Reports fetched from an archive to read beside a prior (`prior_report`) are copies kept
/// only for reading, and which patient each names is not indexed: an erasure drops them all
/// (the next prior asked for fetches its own again).
fn drop_fetched_reports(home: &Home) -> Result<()> {
    let fetched = home.dir().join(crate::pacs::PRIOR_REPORTS);
    match std::fs::remove_dir_all(&fetched) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(AppError::io(
            "deleting the prior reports fetched from archives",
        )(e)),
    }
}
