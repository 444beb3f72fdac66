//! Retrieval into the image store: the archive read on a thread of its own, each instance
//! handed over through a bounded queue as soon as it is whole and stored by the path `import`
//! takes (see the parent module's doc).

use super::*;
use sha2::{Digest, Sha256};

mod staging;
pub(crate) use staging::{sweep_folders, sweep_staging, Fresh, Staging, FRESH_EVERY};

/// What `retrieve` did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Retrieval {
    pub archive: String,
    pub study: String,
    /// Instances now in the store from this retrieval (new and already held).
    pub instances: u64,
    /// Bytes the archive sent.
    pub bytes: u64,
    /// Instances already in the store before.
    pub duplicates: u64,
    /// Instances refused, each with its reason (not DICOM, failing the imaging checks,
    /// another patient or study); the rest of the study is stored.
    pub refused: Vec<ImportFailure>,
    /// Stored, but with pixels the decoder refused (the viewer says why).
    pub undecodable: Vec<ImportFailure>,
    /// Milliseconds from asking the archive to the first instance stored and visible: when the
    /// desktop opens the study. `None` when nothing new was stored (the study was here).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_stored_ms: Option<u64>,
}

/// Progress of a retrieval, for a progress bar (the desktop's `retrieve-progress`). Instances
/// are stored as they arrive: `first-image` is told once, as soon as the first is stored and
/// visible to the home's other handles (the desktop opens the study then), `retrieving` the
/// rest of the time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RetrieveProgress {
    pub phase: &'static str,
    /// Instances received so far.
    pub instances: u64,
    /// Bytes received so far.
    pub bytes: u64,
    /// Instances the archive says the study has, when it says.
    pub total: Option<u64>,
    /// Instances of the study stored so far (new, or already held), visible to every handle.
    pub stored: u64,
}

impl Home {
    /// Retrieves every instance of `study` from `archive` into a staging folder under the home
    /// (removed when the returned [`Staging`] drops), for a caller that reads the files itself
    /// rather than storing them as images (AI results delivered as SR). The study is searched
    /// for first, as a retrieval's is: the archive must hold it, under one patient, whose
    /// Patient ID (`None`: the archive gives none) is returned for the caller to hold every
    /// file to, with the study (wrong-patient safety: the files are the archive's say only).
    pub(crate) fn retrieve_staged(
        &self,
        archive: &str,
        study: &str,
    ) -> Result<(Staging, Vec<PathBuf>, Option<String>)> {
        let config = self.archive(archive)?;
        let client = config.client()?;
        countersign_pacs::check_uid(study).map_err(|e| config.error(e))?;
        let patient_id = searched(&client, &config, archive, study, None)?.patient_id;
        let staging = Staging::new(self.dir())?;
        let fetched = client
            .retrieve(study, &staging.0, &config.limits(), &mut |_| {
                std::ops::ControlFlow::Continue(())
            })
            .map_err(|e| config.error(e))?;
        Ok((staging, fetched.files, patient_id))
    }

    /// Retrieves a study from an archive into the image store (see the module's doc); with
    /// `patient_id`, the study of that patient (see below), refusing any other's instance.
    pub fn retrieve(
        &mut self,
        archive: &str,
        study: &str,
        patient_id: Option<&str>,
        progress: &mut dyn FnMut(ImportProgress),
    ) -> Result<Retrieval> {
        self.retrieve_with_progress(archive, study, patient_id, &mut |p| {
            if p.phase != "done" {
                progress(ImportProgress {
                    done: p.instances as usize,
                    total: p.total.unwrap_or(0) as usize,
                })
            }
        })
    }

    /// [`Home::retrieve`], its progress in instances and bytes, retrieving then storing.
    pub fn retrieve_with_progress(
        &mut self,
        archive: &str,
        study: &str,
        patient_id: Option<&str>,
        progress: &mut dyn FnMut(RetrieveProgress),
    ) -> Result<Retrieval> {
        // The timeline of a retrieval (`-v`): each step an info event, so its timestamp says
        // where the wall time went (`scripts/bench-retrieve.sh` prints it).
        tracing::info!("retrieval asked");
        // Before anything is asked of the archive: an erasure of the study committed from
        // here on leaves nothing of this retrieval behind.
        let erased_mark = self.store().db().erasure_mark()?;
        let config = self.archive(archive)?;
        let queue = Queue {
            buffers: countersign_pacs::Buffers::new(POOLED_BYTES as usize),
            ..Queue::default()
        };
        let client = config.client()?.with_buffers(queue.buffers.clone());
        countersign_pacs::check_uid(study).map_err(|e| config.error(e))?;
        // What the archive says of the study: that it holds it, and whose it is.
        let search = || -> Result<(Expected, Option<u64>)> {
            let found = searched(&client, &config, archive, study, patient_id)?;
            tracing::info!("the archive searched");
            let expect = Expected {
                study: study.to_string(),
                patient_id: found.patient_id.clone(),
                erased_mark,
            };
            Ok((expect, found.instances))
        };
        // Over DICOMweb the study is asked for at once, and searched for meanwhile on a second
        // connection: the archive takes longer to start a study's answer (13 ms, Orthanc on
        // loopback) than to answer the search (6 ms), so the search no longer comes first in
        // the wall time. Nothing is stored before the search says whose the study is: until
        // then what arrives waits in the bounded queue, and a search that refuses the study
        // stops the retrieval with nothing stored. Over DIMSE the search comes first: a second
        // association at once may exceed what an archive allows one calling AE.
        let searched_first = match &client {
            countersign_pacs::Archive::DicomWeb(_) => None,
            countersign_pacs::Archive::Dimse(_) => Some(search()?),
        };
        let staging = Staging::new(self.dir())?;
        let started = std::time::Instant::now();
        let total = std::cell::Cell::new(None);
        let limits = countersign_pacs::Limits {
            keep_in_memory: KEEP_IN_MEMORY,
            ..config.limits()
        };
        let progress = std::cell::RefCell::new(progress);
        let told_first = std::cell::Cell::new(false);
        let first_stored = std::cell::Cell::new(None);
        // Progress as instances arrive and are stored; `first-image` once, when the first is
        // visible to the home's other handles (the viewer may open the study).
        let tell = |stored: u64| {
            let (instances, bytes) = queue.received();
            let phase = if stored > 0 && !told_first.replace(true) {
                first_stored.set(Some(started.elapsed().as_millis() as u64));
                "first-image"
            } else {
                "retrieving"
            };
            (progress.borrow_mut())(RetrieveProgress {
                phase,
                instances,
                bytes,
                total: total.get(),
                stored,
            })
        };
        let stored_now = std::cell::Cell::new(0u64);
        // The archive is read on a thread of its own, each instance handed over whole as it
        // arrives; this thread checks and stores them meanwhile (see the module's doc).
        let (fetched, summary) = std::thread::scope(|scope| {
            let reading = std::thread::Builder::new()
                .name("retrieve".into())
                .spawn_scoped(scope, || {
                    let _end = EndOnDrop(&queue);
                    let got = client.retrieve(study, &staging.0, &limits, &mut |a| {
                        if a.index == 0 {
                            tracing::info!("the first instance received");
                        }
                        queue.push(a)
                    });
                    // What is left after this is the store's tail (the last batch made durable
                    // and indexed): the two times tell it.
                    tracing::info!(
                        seconds = started.elapsed().as_secs_f64(),
                        "the archive has sent the study"
                    );
                    got
                });
            let reading = reading.map_err(AppError::io("starting the retrieval"))?;
            let searched = match searched_first {
                Some(searched) => Ok(searched),
                None => search(),
            };
            let (expect, instances) = match searched {
                Ok(searched) => searched,
                Err(e) => {
                    // Stored nothing: the reading thread stops at its next instance.
                    queue.stop();
                    let _ = reading.join();
                    return Err(e);
                }
            };
            total.set(instances);
            let summary = self.import_from(
                &mut |wait| queue.pop(wait),
                instances.unwrap_or(0) as usize,
                Some(&expect),
                &mut |_| tell(stored_now.get()),
                &mut |s| {
                    stored_now.set(s.imported + s.duplicates);
                    tell(stored_now.get())
                },
            );
            if summary.is_err() {
                // Stored nothing more: the reading thread stops at its next instance.
                queue.stop();
            }
            let fetched = reading
                .join()
                .unwrap_or_else(|_| {
                    Err(PacsError::Io {
                        context: "retrieving".into(),
                        source: std::io::Error::other("the retrieving thread failed"),
                    })
                })
                .map_err(|e| config.error(after_storing(e, stored_now.get())));
            Ok::<_, AppError>((fetched, summary))
        })?;
        // The home's own failure first (it stopped the retrieval); then the archive's.
        let mut summary = summary?;
        let fetched = fetched?;
        tracing::info!(
            archive = %config.name,
            instances = fetched.files.len(),
            bytes = fetched.bytes,
            stored = summary.imported,
            seconds = started.elapsed().as_secs_f64(),
            "study retrieved and stored"
        );
        // Failures name the instance's place in the retrieval, not the staging path.
        let short = |f: &mut ImportFailure| {
            if let Some(name) = Path::new(&f.path).file_name() {
                f.path = name.to_string_lossy().into_owned();
            }
        };
        summary.failed.iter_mut().for_each(short);
        summary.undecodable.iter_mut().for_each(short);
        Ok(Retrieval {
            archive: config.name,
            study: study.to_string(),
            instances: summary.imported + summary.duplicates,
            bytes: fetched.bytes,
            duplicates: summary.duplicates,
            refused: summary.failed,
            undecodable: summary.undecodable,
            first_stored_ms: first_stored.get(),
        })
    }
}

/// What `archive` says of `study` when searched for it: that it holds it, and whose it is
/// (see [`whose`]).
fn searched(
    client: &countersign_pacs::Archive,
    config: &super::ArchiveConfig,
    archive: &str,
    study: &str,
    patient_id: Option<&str>,
) -> Result<StudyMatch> {
    let matches: Vec<StudyMatch> = client
        .search(&StudyQuery {
            study: Some(study.to_string()),
            limit: 16,
            ..Default::default()
        })
        .map_err(|e| config.error(e))?
        .into_iter()
        .filter(|m| m.study == study)
        .collect();
    whose(&matches, study, archive, patient_id).cloned()
}

/// The study's match to retrieve, of the patient it is asked for: the one given (the worklist
/// row chosen), else the archive's only one. An archive can file one Study Instance UID under
/// two patients (Orthanc and dcmqrscp list such a study once per Patient ID): then whose it is
/// must be said, and only that patient's instances are taken.
fn whose<'m>(
    matches: &'m [StudyMatch],
    study: &str,
    archive: &str,
    patient_id: Option<&str>,
) -> Result<&'m StudyMatch> {
    let patients: std::collections::BTreeSet<Option<&str>> =
        matches.iter().map(|m| m.patient_id.as_deref()).collect();
    match patient_id {
        Some(id) => matches
            .iter()
            .find(|m| m.patient_id.as_deref() == Some(id))
            .ok_or_else(|| AppError::NotFound {
                what: format!("study {study} of that Patient ID on archive {archive}"),
            }),
        None if patients.len() > 1 => {
            tracing::warn!(
                archive,
                patients = patients.len(),
                "study under several patients"
            );
            Err(AppError::WrongPatient(format!(
                "archive {archive} holds study {study} under {} different Patient IDs; \
                 nothing was stored: say whose study to take (--patient-id, as the worklist \
                 shows it) and have the archive's administrator correct it",
                patients.len()
            )))
        }
        None => matches.first().ok_or_else(|| AppError::NotFound {
            what: format!("study {study} on archive {archive}"),
        }),
    }
}

/// The most instances received and not yet taken by the store, and their bytes (on disk, in
/// the staging folder): an archive faster than the store waits rather than filling the disk.
const QUEUE_FILES: usize = 256;
const QUEUE_BYTES: u64 = 256 << 20;
/// An instance of at most this many bytes (a CT or MR slice, not a CR) arrives in memory
/// rather than in a staged file: the store writes it once, where it belongs, and never reads
/// it back.
pub(super) const KEEP_IN_MEMORY: u64 = 4 << 20;
/// The most bytes of instances waiting in memory; past that, the archive's stream waits for
/// the store. (They were once staged on disk instead, so that a store syncing a batch did not
/// hold up the archive; the store no longer waits on its syncs or its writes, and reading
/// them back cost more than the wait.)
const QUEUE_MEMORY: u64 = 8 << 20;
/// The most bytes of buffers kept for the next instances once the store has written them
/// (see [`countersign_pacs::Buffers`]): what the queue and the store's writer hold in memory,
/// and a few in hand.
const POOLED_BYTES: u64 = QUEUE_MEMORY + crate::import::WRITING_BYTES + (4 << 20);

/// Instances handed over by the retrieving thread, waiting for the storing one.
#[derive(Default)]
struct Queue {
    state: std::sync::Mutex<QueueState>,
    changed: std::sync::Condvar,
    /// The buffers of instances in memory, given back by the store once written.
    buffers: countersign_pacs::Buffers,
}

#[derive(Default)]
struct QueueState {
    files: std::collections::VecDeque<countersign_pacs::Arrived>,
    /// Bytes of `files` in staged files, and in memory.
    bytes: u64,
    memory: u64,
    /// Every instance received so far, and their bytes.
    received: u64,
    received_bytes: u64,
    /// The retrieval is over (whole or failed): nothing more will come.
    ended: bool,
    /// The store failed: the retrieval is to stop.
    stopped: bool,
}

impl Queue {
    fn lock(&self) -> std::sync::MutexGuard<'_, QueueState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// From the retrieving thread: waits for room (always for one file), then hands it over;
    /// `Break` once the storing side has stopped.
    fn push(&self, mut file: countersign_pacs::Arrived) -> std::ops::ControlFlow<()> {
        if let Some(data) = &file.data {
            // Hashing is most of the CPU a retrieval costs (SHA-256 of every byte, about
            // 2 GB/s), and is left to the storing thread (its disk writes are on a thread of
            // their own): this one drains the archive's socket, and the archive's stream waits
            // whenever it is busy. But when the store is behind by half the queue, this thread
            // is about to wait for room anyway: it hashes the instance first, which the store
            // then need not. The two share the hashing as their speeds make them. Either way
            // each instance is hashed once, before anything of it is stored.
            if self.lock().memory + file.bytes > QUEUE_MEMORY / 2 {
                file.sha256 = Some(Sha256::digest(data).into());
            }
        }
        let (disk, memory) = match file.data {
            Some(_) => (0, file.bytes),
            None => (file.bytes, 0),
        };
        let mut s = self.lock();
        while !s.stopped
            && !s.files.is_empty()
            && (s.files.len() >= QUEUE_FILES
                || s.bytes + disk > QUEUE_BYTES
                || s.memory + memory > QUEUE_MEMORY)
        {
            s = self.changed.wait(s).unwrap_or_else(|p| p.into_inner());
        }
        if s.stopped {
            return std::ops::ControlFlow::Break(());
        }
        s.bytes += disk;
        s.memory += memory;
        s.received += 1;
        s.received_bytes += file.bytes;
        s.files.push_back(file);
        self.changed.notify_all();
        std::ops::ControlFlow::Continue(())
    }

    /// From the storing thread: the next file, waiting at most `wait` (`None`: until there is
    /// one or the retrieval is over).
    fn pop(&self, wait: Option<std::time::Duration>) -> Next {
        let deadline = wait.map(|w| std::time::Instant::now() + w);
        let mut s = self.lock();
        loop {
            if let Some(file) = s.files.pop_front() {
                match file.data {
                    Some(_) => s.memory -= file.bytes,
                    None => s.bytes -= file.bytes,
                }
                self.changed.notify_all();
                return Next::File(Incoming {
                    path: file.path,
                    sha256: file.sha256,
                    movable: file.data.is_none(),
                    data: file.data,
                    recycle: Some(self.buffers.clone()),
                });
            }
            if s.ended {
                return Next::End;
            }
            s = match deadline {
                None => self.changed.wait(s).unwrap_or_else(|p| p.into_inner()),
                Some(deadline) => {
                    let now = std::time::Instant::now();
                    if now >= deadline {
                        return Next::Idle;
                    }
                    self.changed
                        .wait_timeout(s, deadline - now)
                        .unwrap_or_else(|p| p.into_inner())
                        .0
                }
            };
        }
    }

    fn received(&self) -> (u64, u64) {
        let s = self.lock();
        (s.received, s.received_bytes)
    }

    fn end(&self) {
        self.lock().ended = true;
        self.changed.notify_all();
    }

    fn stop(&self) {
        self.lock().stopped = true;
        self.changed.notify_all();
    }
}

/// Ends the queue when the retrieving thread ends, however it ends (a panic included): the
/// storing side never waits for a file that cannot come.
struct EndOnDrop<'a>(&'a Queue);

impl Drop for EndOnDrop<'_> {
    fn drop(&mut self) {
        self.0.end();
    }
}

/// An archive's failure after some instances were stored: they stay (each whole, indexed),
/// and the error says so.
fn after_storing(e: PacsError, stored: u64) -> PacsError {
    if stored == 0 {
        return e;
    }
    let note = format!(
        "{stored} instance(s) of the study were stored before that, each whole; retrieving \
         again takes the rest"
    );
    match e {
        PacsError::Unreachable(m) => PacsError::Unreachable(format!("{m}; {note}")),
        PacsError::Timeout(m) => PacsError::Timeout(format!("{m}; {note}")),
        PacsError::Refused(m) => PacsError::Refused(format!("{m}; {note}")),
        PacsError::Unauthorized(m) => PacsError::Unauthorized(format!("{m}; {note}")),
        PacsError::Malformed(m) => PacsError::Malformed(format!("{m}; {note}")),
        PacsError::InvalidInput(m) => PacsError::InvalidInput(format!("{m}; {note}")),
        PacsError::TooLarge { what, limit } => PacsError::TooLarge {
            what: format!("{what} ({note})"),
            limit,
        },
        PacsError::Io { context, source } => PacsError::Io {
            context: format!("{context} ({note})"),
            source,
        },
        PacsError::Stopped => PacsError::Stopped,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arrived(dir: &Path, index: usize, data: &[u8]) -> countersign_pacs::Arrived {
        countersign_pacs::Arrived {
            index,
            path: dir.join(format!("instance-{index}")),
            bytes: data.len() as u64,
            sha256: None,
            data: Some(data.to_vec()),
        }
    }

    /// An instance is left to the store to hash (the retrieving thread drains the archive's
    /// socket and does no more than it must) unless the store is behind by half the queue's
    /// memory: then it is hashed here, with its true SHA-256 (a wrong one would name the file
    /// in the store by another's hash). Every instance stays in memory: none is staged on disk.
    #[test]
    fn the_retrieving_thread_hashes_only_while_the_store_is_behind() {
        let dir = tempfile::tempdir().unwrap();
        let queue = Queue::default();
        // Each a quarter of the queue's memory: the third finds half of it taken.
        let quarter = |fill: u8| vec![fill; (QUEUE_MEMORY / 4) as usize];
        for (n, fill) in [1u8, 2, 3].into_iter().enumerate() {
            assert!(queue
                .push(arrived(dir.path(), n, &quarter(fill)))
                .is_continue());
        }
        let mut got = Vec::new();
        while let Next::File(file) = queue.pop(Some(std::time::Duration::ZERO)) {
            let whole = file
                .data
                .as_ref()
                .map(|d| d.len() as u64 == QUEUE_MEMORY / 4);
            got.push((file.data.map(|d| d[0]), whole, file.sha256));
        }
        let hashed: [u8; 32] = Sha256::digest(quarter(3)).into();
        assert_eq!(
            got,
            vec![
                (Some(1), Some(true), None),
                (Some(2), Some(true), None),
                (Some(3), Some(true), Some(hashed)),
            ]
        );
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
