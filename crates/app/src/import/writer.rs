//! An import's image files written on threads of their own.
//!
//! The store writes an image past the page cache (see `countersign_store::StagedImage::write`):
//! cheap in CPU, but each write waits for the disk (about 0.5 ms for a 512² CT slice on the
//! machine measured by hand: 250–300 ms for a 500-slice study one file at a time, 170–210 ms
//! with two writes in flight, no faster with three). Done on the importing thread, that wait would come
//! on top of hashing and parsing every file; here it overlaps them, on [`WRITERS`] threads. The
//! importing thread hands each file over and goes on; a batch is made durable only after every
//! write handed over before it is done ([`Writer::flushed`]), so a file is still durable before
//! the index names it.
//!
//! Bounded: at most [`MAX_PENDING`] bytes wait to be written or are being written (always at
//! least one file); past that, handing over waits.

use std::collections::{BTreeSet, VecDeque};
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use countersign_store::StagedImage;

/// The most bytes handed over and not yet written: enough to keep both writes in flight (a few
/// slices), and no more — each buffer held here is one a retrieval allocates afresh instead of
/// reusing (fresh memory costs page faults). 16 MiB measured no faster.
pub(crate) const MAX_PENDING: u64 = 4 << 20;

/// The writing threads: two writes in flight keep the disk busy (see the module's doc).
const WRITERS: usize = 2;

struct Job {
    seq: u64,
    staged: StagedImage,
    bytes: Vec<u8>,
    recycle: Option<countersign_pacs::Buffers>,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Job>,
    /// Bytes handed over and not yet written (queued or being written).
    pending: u64,
    /// The number the next write handed over gets.
    next: u64,
    /// The numbers of the writes handed over and not yet done.
    unfinished: BTreeSet<u64>,
    /// The first write that failed (its error's kind and words); after it, none is written.
    failed: Option<(std::io::ErrorKind, String)>,
    /// No more writes will be handed over: the threads end once the queue is empty.
    closed: bool,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn wait<'a>(&self, state: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
        self.changed.wait(state).unwrap_or_else(|p| p.into_inner())
    }
}

/// The writing threads of one import (see the module's doc); they end when this is dropped,
/// once every file handed over is written.
pub(super) struct Writer {
    shared: Arc<Shared>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

/// Every write handed over before [`Writer::flushed`] was called, to wait for.
pub(super) struct Flushed {
    shared: Arc<Shared>,
    upto: u64,
}

impl Flushed {
    /// Waits for those writes; the first error among the import's writes, if one failed.
    pub(super) fn wait(self) -> std::io::Result<()> {
        let mut state = self.shared.lock();
        while !written_before(&state.unfinished, self.upto) {
            state = self.shared.wait(state);
        }
        match &state.failed {
            None => Ok(()),
            Some((kind, message)) => Err(std::io::Error::new(*kind, message.clone())),
        }
    }
}

/// Whether every write numbered below `upto` is done, `unfinished` being those not done. Not
/// a count of writes done: with two threads a later write can finish before an earlier one.
fn written_before(unfinished: &BTreeSet<u64>, upto: u64) -> bool {
    unfinished.first().is_none_or(|seq| *seq >= upto)
}

impl Writer {
    pub(super) fn start() -> std::io::Result<Writer> {
        let shared = Arc::new(Shared::default());
        let mut writer = Writer {
            shared,
            threads: Vec::new(),
        };
        for _ in 0..WRITERS {
            let shared = writer.shared.clone();
            // On failure `writer` drops: the threads started end.
            let thread = std::thread::Builder::new()
                .name("store-write".into())
                .spawn(move || write_all(&shared))?;
            writer.threads.push(thread);
        }
        Ok(writer)
    }

    /// Hands `bytes` over to be written as `staged`, waiting while too many bytes wait already;
    /// their buffer goes back to `recycle` once written.
    pub(super) fn write(
        &self,
        staged: StagedImage,
        bytes: Vec<u8>,
        recycle: Option<countersign_pacs::Buffers>,
    ) {
        let size = bytes.len() as u64;
        let mut state = self.shared.lock();
        while state.pending > 0 && state.pending + size > MAX_PENDING {
            state = self.shared.wait(state);
        }
        let seq = state.next;
        state.next += 1;
        state.pending += size;
        state.unfinished.insert(seq);
        state.queue.push_back(Job {
            seq,
            staged,
            bytes,
            recycle,
        });
        self.shared.changed.notify_all();
    }

    /// What to wait for before syncing the batch of the files handed over so far (see
    /// [`Flushed::wait`]); returns at once.
    pub(super) fn flushed(&self) -> Flushed {
        Flushed {
            shared: self.shared.clone(),
            upto: self.shared.lock().next,
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.changed.notify_all();
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// A writing thread: takes the next file and writes it, until the writer is dropped and the
/// queue is empty; after a write fails, the rest are not written (the import fails at its
/// batch's flush), and every flush answers that error.
fn write_all(shared: &Shared) {
    loop {
        let job = {
            let mut state = shared.lock();
            loop {
                if let Some(job) = state.queue.pop_front() {
                    break Some((job, state.failed.is_none()));
                }
                if state.closed {
                    break None;
                }
                state = shared.wait(state);
            }
        };
        let Some((job, write)) = job else {
            return;
        };
        let failed = match write {
            true => job
                .staged
                .write(&job.bytes)
                .err()
                .map(|e| (e.kind(), format!("writing {}: {e}", name(&job.staged)))),
            false => None,
        };
        let size = job.bytes.len() as u64;
        if let Some(buffers) = job.recycle {
            buffers.give(job.bytes);
        }
        let mut state = shared.lock();
        state.pending -= size;
        state.unfinished.remove(&job.seq);
        if state.failed.is_none() {
            state.failed = failed;
        }
        shared.changed.notify_all();
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
        let mut tmps = Vec::new();
        for n in 0..8u8 {
            let bytes = vec![n; 70_000 + usize::from(n)];
            let staged = staged(dir.path(), n);
            tmps.push(staged.tmp().to_path_buf());
            writer.write(staged, bytes, Some(buffers.clone()));
        }
        writer.flushed().wait().unwrap();
        for (n, tmp) in (0..8u8).zip(&tmps) {
            assert_eq!(
                std::fs::read(tmp).unwrap(),
                vec![n; 70_000 + usize::from(n)]
            );
        }
        assert_eq!(buffers.kept(), 8);
    }

    /// A flush waits for every write handed over before it, whichever finished first: one
    /// write before it unfinished holds it, however many after it are done.
    #[test]
    fn a_flush_waits_for_an_earlier_write_a_later_one_overtook() {
        let unfinished = |seqs: &[u64]| seqs.iter().copied().collect::<BTreeSet<u64>>();
        assert!(written_before(&unfinished(&[]), 5));
        assert!(written_before(&unfinished(&[5, 6]), 5));
        assert!(!written_before(&unfinished(&[3]), 5));
        assert!(!written_before(&unfinished(&[4, 9]), 5));
        assert!(written_before(&unfinished(&[4]), 4));
    }

    /// A write that fails is answered at the next flush and every one after (the batch is not
    /// synced, the import fails); what is handed over after it is not written.
    #[test]
    fn a_failed_write_fails_every_flush_after_it() {
        let dir = tempfile::tempdir().unwrap();
        // A "folder" that is a file: the image cannot be written under it.
        std::fs::write(dir.path().join("aa"), b"not a folder").unwrap();
        let writer = Writer::start().unwrap();
        let doomed = StagedImage::new(&dir.path().join("aa").join("x.dcm")).unwrap();
        writer.write(doomed, vec![1; 10], None);
        let first = writer.flushed().wait();
        assert!(first.unwrap_err().to_string().contains("x.dcm"));
        let after = staged(dir.path(), 1);
        let tmp = after.tmp().to_path_buf();
        writer.write(after, vec![2; 10], None);
        assert!(writer.flushed().wait().is_err());
        drop(writer);
        assert!(!tmp.exists());
    }
}
