//! What an import is handed: the files of a source (a folder, or a retrieval still streaming)
//! one at a time, and for a retrieval, what each of them must be.

use std::path::PathBuf;

use countersign_store::Instance;

use super::batch::ImportError;

/// What every file of a retrieval must be: of this study, and of this patient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Expected {
    pub study: String,
    /// The Patient ID the archive gave for the study; `None` if it gave none.
    pub patient_id: Option<String>,
    /// The erasure mark when the retrieval was asked for (`Db::erasure_mark`): what an
    /// erasure committed after it erased is refused, as for an import begun before it.
    pub erased_mark: i64,
}

impl Expected {
    /// Wrong-patient safety: an instance of another study or another patient is refused
    /// whole. The reason names what differs, not the values (they are the patient's).
    pub(super) fn check(&self, instance: &Instance) -> Result<(), ImportError> {
        let sop = instance
            .instance
            .as_deref()
            .unwrap_or("(no SOP Instance UID)");
        if instance.study != self.study {
            return Err(ImportError::File(
                "wrong_study",
                format!(
                    "instance {sop} belongs to another study than the one asked for \
                     (its Study Instance UID differs); refused, nothing of it stored"
                ),
            ));
        }
        if let Some(expected) = &self.patient_id {
            if instance.patient_id.as_deref().map(str::trim) != Some(expected.trim()) {
                return Err(ImportError::File(
                    "wrong_patient",
                    format!(
                        "instance {sop} belongs to another patient than the study asked for \
                         (its Patient ID differs from the archive's for this study); refused, \
                         nothing of it stored"
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// A file to import.
pub(crate) struct Incoming {
    pub path: PathBuf,
    /// Its SHA-256, when whoever wrote it hashed it (a retrieval; see `Queue::push` for when
    /// it leaves that to the import).
    pub sha256: Option<[u8; 32]>,
    /// A file of a retrieval's staging folder (same filesystem, the home's own): moved into
    /// the store by a rename, not copied.
    pub movable: bool,
    /// Its bytes, when a retrieval handed them over in memory (`path` is then not written):
    /// written once, into the store.
    pub data: Option<Vec<u8>>,
    /// Where the bytes' buffer goes once written, for the retrieval's next instance.
    pub recycle: Option<countersign_pacs::Buffers>,
}

#[cfg(test)]
impl Incoming {
    /// `path`'s bytes, handed over in memory as a retrieval hands them.
    pub(crate) fn in_memory(path: &std::path::Path) -> Incoming {
        Incoming {
            path: path.to_path_buf(),
            sha256: None,
            movable: false,
            data: Some(std::fs::read(path).unwrap()),
            recycle: None,
        }
    }
}

/// What an import's source hands out when asked.
pub(crate) enum Next {
    File(Incoming),
    /// Nothing within the wait asked for; more may come.
    Idle,
    /// Nothing more will come.
    End,
}
