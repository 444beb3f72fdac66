//! The checker: a thread of the node's own that checks received batches ([`Ledger::check`])
//! one at a time, in the order they arrived, while the event loop stores the batch before.
//!
//! One at a time because a check already uses every core (the app's check verifies a
//! batch's signatures in parallel). Each batch used to be checked on the blocking pool as it
//! arrived; three batches in hand were then checked side by side, shared the cores, and
//! finished together, late: the first could be stored only once the third was checked, so
//! storing (one core) and checking (every core) took turns instead of overlapping. On a first
//! sync of 100 000 reports (300 003 entries, `COUNTERSIGN_SCALE_FULL=100000` in
//! `benches/sync_scale.rs`), timed by hand: three batches were checked from 466 to 880 ms,
//! then stored from 880 to 1296 ms with no check running. Three runs each, alternating, on
//! this 2-core machine: 13 397 entries/s (median; 10 812–15 346) on the blocking pool,
//! 15 378/s (15 352–16 149) here. Asking the peer for two batches at once was slower
//! (12 108–13 532/s: more work on the cores the store needs); asking for the next batch
//! before storing gained nothing clear (14 302–17 691/s).
//!
//! The check's parallel work runs on a pool of its own with one core fewer than the machine
//! (at least one thread), not rayon's global pool: the store runs on one thread, and a check
//! on every core took CPU from it. The store is what a first sync waits on; on a 1M-entry sync
//! (`COUNTERSIGN_SCALE_FULL=1000000`), one run each, this took the rate from 16.8k to 17.6k
//! entries/s (measured with two fetches in flight, an experiment not kept).
//!
//! Bounded by what feeds it: a pull has at most [`super::pull::BATCHES_IN_HAND`] batches in
//! hand (each at most [`crate::protocol::MAX_MESSAGE`] bytes), and the node pulls from a
//! bounded number of peers at once.

use std::sync::mpsc;

use tokio::sync::oneshot;

use super::Ledger;

/// A batch to check, and where its result goes.
struct Job<C> {
    bundle: Vec<u8>,
    /// The batch's span: the ledger's own logs about it name the peer.
    span: tracing::Span,
    done: oneshot::Sender<Result<C, String>>,
}

/// The handle of a node's checker thread. The thread ends once this is dropped and the
/// batches already queued are checked.
pub(super) struct Checker<C> {
    jobs: mpsc::Sender<Job<C>>,
}

impl<C: Send + 'static> Checker<C> {
    /// Starts the thread that checks batches with `L::check`.
    pub(super) fn start<L: Ledger<Checked = C>>() -> Result<Checker<C>, String> {
        Checker::start_with(L::check)
    }

    fn start_with(check: fn(&[u8]) -> Result<C, String>) -> Result<Checker<C>, String> {
        let (jobs, queue) = mpsc::channel::<Job<C>>();
        let threads =
            std::thread::available_parallelism().map_or(1, |n| n.get().saturating_sub(1).max(1));
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("countersign-check-{i}"))
            .build()
            .map_err(|e| format!("starting the threads that check batches: {e}"))?;
        std::thread::Builder::new()
            .name("countersign-check".into())
            .spawn(move || {
                for Job { bundle, span, done } in queue {
                    let _span = span.entered();
                    let checked = pool
                        .install(|| std::panic::catch_unwind(|| check(&bundle)))
                        .unwrap_or_else(|_| Err("checking its batch panicked".into()));
                    // The node may have stopped waiting (its pull ended): nothing to tell.
                    let _ = done.send(checked);
                }
            })
            .map_err(|e| format!("starting the thread that checks batches: {e}"))?;
        Ok(Checker { jobs })
    }

    /// Queues `bundle` behind the batches already queued; the answer comes once it is checked.
    pub(super) fn check(
        &self,
        bundle: Vec<u8>,
        span: tracing::Span,
    ) -> oneshot::Receiver<Result<C, String>> {
        let (done, answer) = oneshot::channel();
        // A send fails only if the thread has gone, which it does only once this handle is
        // dropped (a panic in a check is caught): the answer's sender is then dropped too, and
        // the node reads that as a local failure.
        let _ = self.jobs.send(Job { bundle, span, done });
        answer
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A check that records the order it ran in, takes longer for earlier batches (so checks
    /// run side by side would finish last-first) and panics on batch 3.
    struct Slow;
    static RAN: std::sync::Mutex<Vec<u8>> = std::sync::Mutex::new(Vec::new());

    impl Slow {
        fn check(bundle: &[u8]) -> Result<u8, String> {
            let n = bundle[0];
            std::thread::sleep(std::time::Duration::from_millis(u64::from(5 - n) * 10));
            RAN.lock().unwrap().push(n);
            if n == 3 {
                panic!("a check that panics");
            }
            Ok(n)
        }
    }

    #[test]
    fn batches_are_checked_one_at_a_time_in_arrival_order() {
        let checker = Checker::start_with(Slow::check).expect("started");
        let answers: Vec<_> = (0..5u8)
            .map(|n| checker.check(vec![n], tracing::Span::none()))
            .collect();
        let results: Vec<_> = answers
            .into_iter()
            .map(|a| a.blocking_recv().expect("answered"))
            .collect();
        assert_eq!(*RAN.lock().unwrap(), vec![0, 1, 2, 3, 4]);
        assert_eq!(results[3], Err("checking its batch panicked".into()));
        assert_eq!(results[4], Ok(4));
    }

    /// The check's parallel work leaves a core to the store: it runs on the checker's own
    /// pool of one thread fewer than the machine has, not on rayon's global pool.
    #[test]
    fn a_check_leaves_one_core_to_the_store() {
        fn threads(_: &[u8]) -> Result<usize, String> {
            Ok(rayon::current_num_threads())
        }
        let checker = Checker::start_with(threads).expect("started");
        let got = checker
            .check(vec![0], tracing::Span::none())
            .blocking_recv()
            .expect("answered");
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert_eq!(got, Ok(cores.saturating_sub(1).max(1)));
    }
}
