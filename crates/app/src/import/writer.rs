//! An import's image files written on a thread of their own.
//!
//! The store writes an image past the page cache (see `countersign_store::StagedImage::write`):
//! cheap in CPU, but each write waits for the disk (about 0.35 ms for a 512² CT slice on the
//! machine measured, 175 ms for a 500-slice study). Done on the importing thread, that wait
//! would come on top of hashing and parsing every file; here it overlaps them. The importing
//! thread hands each file over and goes on; a batch is made durable only after every write
//! handed over before it is done ([`Writer::flushed`]), so a file is still durable before the
//! index names it.
//!
//! Bounded: at most [`MAX_PENDING`] bytes wait to be written (always at least one file); past
//! that, handing over waits.

use std::path::Path;
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};

use countersign_store::StagedImage;

/// The most bytes handed over and not yet written.
pub(crate) const MAX_PENDING: u64 = 16 << 20;

enum Job {
    Write {
        staged: StagedImage,
        bytes: Vec<u8>,
        recycle: Option<countersign_pacs::Buffers>,
    },
    /// Answered once every write handed over before it is done: the first write that failed.
    Flush(mpsc::SyncSender<std::io::Result<()>>),
}

/// Bytes handed over and not yet written.
#[derive(Default)]
struct Pending {
    bytes: Mutex<u64>,
    written: Condvar,
}

/// The writing thread of one import (see the module's doc); it ends when this is dropped.
pub(super) struct Writer {
    jobs: Option<mpsc::Sender<Job>>,
    pending: Arc<Pending>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Writer {
    pub(super) fn start() -> std::io::Result<Writer> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let pending = Arc::new(Pending::default());
        let theirs = pending.clone();
        let thread = std::thread::Builder::new()
            .name("store-write".into())
            .spawn(move || write_all(queue, &theirs))?;
        Ok(Writer {
            jobs: Some(jobs),
            pending,
            thread: Some(thread),
        })
    }

    /// Hands `bytes` over to be written as `staged`, waiting while too many bytes wait already;
    /// their buffer goes back to `recycle` once written.
    pub(super) fn write(
        &self,
        staged: StagedImage,
        bytes: Vec<u8>,
        recycle: Option<countersign_pacs::Buffers>,
    ) -> std::io::Result<()> {
        let size = bytes.len() as u64;
        {
            let mut waiting = self.pending.bytes.lock().unwrap_or_else(|p| p.into_inner());
            while *waiting > 0 && *waiting + size > MAX_PENDING {
                waiting = self
                    .pending
                    .written
                    .wait(waiting)
                    .unwrap_or_else(|p| p.into_inner());
            }
            *waiting += size;
        }
        self.send(Job::Write {
            staged,
            bytes,
            recycle,
        })
    }

    /// Waits for every write handed over so far (the first error among them, if one failed):
    /// what to wait for before syncing the batch they belong to. Returns at once; the wait is
    /// the receiver's.
    pub(super) fn flushed(&self) -> std::io::Result<mpsc::Receiver<std::io::Result<()>>> {
        let (tell, told) = mpsc::sync_channel(1);
        self.send(Job::Flush(tell))?;
        Ok(told)
    }

    fn send(&self, job: Job) -> std::io::Result<()> {
        self.jobs
            .as_ref()
            .and_then(|jobs| jobs.send(job).ok())
            .ok_or_else(|| std::io::Error::other("the image writing thread has stopped"))
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // The channel closed, the thread finishes what it has and ends.
        self.jobs.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The writing thread: each file written in turn; after a write fails, the rest are not
/// written (the import fails at the batch's flush), and every flush answers that error.
fn write_all(queue: mpsc::Receiver<Job>, pending: &Pending) {
    let mut failed: Option<(std::io::ErrorKind, String)> = None;
    for job in queue {
        match job {
            Job::Write {
                staged,
                bytes,
                recycle,
            } => {
                if failed.is_none() {
                    if let Err(e) = staged.write(&bytes) {
                        failed = Some((e.kind(), format!("writing {}: {e}", name(&staged))));
                    }
                }
                let size = bytes.len() as u64;
                if let Some(buffers) = recycle {
                    buffers.give(bytes);
                }
                let mut waiting = pending.bytes.lock().unwrap_or_else(|p| p.into_inner());
                *waiting -= size;
                pending.written.notify_all();
            }
            Job::Flush(tell) => {
                let answer = match &failed {
                    None => Ok(()),
                    Some((kind, message)) => Err(std::io::Error::new(*kind, message.clone())),
                };
                let _ = tell.send(answer);
            }
        }
    }
}

/// The image's final file name (its SHA-256), for an error: never a patient's anything.
fn name(staged: &StagedImage) -> String {
    staged
        .path()
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| Path::new("image").display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn staged(dir: &Path, n: u8) -> StagedImage {
        StagedImage::new(&dir.join(format!("{n:02x}.dcm"))).unwrap()
    }

    /// A flush is answered once every write handed over before it is done: the files are there
    /// whole, under their temporary names, and each buffer went back to its pool.
    #[test]
    fn a_flush_is_answered_after_every_write_before_it() {
        let dir = tempfile::tempdir().unwrap();
        let buffers = countersign_pacs::Buffers::new(64 << 20);
        let writer = Writer::start().unwrap();
        for n in 0..8u8 {
            let bytes = vec![n; 70_000 + usize::from(n)];
            writer
                .write(staged(dir.path(), n), bytes, Some(buffers.clone()))
                .unwrap();
        }
        writer.flushed().unwrap().recv().unwrap().unwrap();
        for n in 0..8u8 {
            let tmp = dir.path().join(format!("{n:02x}.part"));
            assert_eq!(
                std::fs::read(tmp).unwrap(),
                vec![n; 70_000 + usize::from(n)]
            );
        }
        assert_eq!(buffers.kept(), 8);
    }

    /// A write that fails is answered at the next flush and every one after (the batch is not
    /// synced, the import fails); what was handed over after it is not written.
    #[test]
    fn a_failed_write_fails_every_flush_after_it() {
        let dir = tempfile::tempdir().unwrap();
        // A "folder" that is a file: the image cannot be written under it.
        std::fs::write(dir.path().join("aa"), b"not a folder").unwrap();
        let writer = Writer::start().unwrap();
        let doomed = StagedImage::new(&dir.path().join("aa").join("x.dcm")).unwrap();
        writer.write(doomed, vec![1; 10], None).unwrap();
        writer
            .write(staged(dir.path(), 1), vec![2; 10], None)
            .unwrap();
        let first = writer.flushed().unwrap().recv().unwrap();
        assert!(first.unwrap_err().to_string().contains("x.dcm"));
        assert!(writer.flushed().unwrap().recv().unwrap().is_err());
        assert!(!dir.path().join("01.part").exists());
    }
}
