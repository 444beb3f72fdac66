//! Failed deliveries tried again by themselves, with back-off, while a `serve` node or the
//! desktop's background node runs; and, there, reports stored back as soon as they are signed.
//!
//! Store-back never blocks a signature: an archive that is down gets a `failed` record (see
//! [`Home::store_back`]). Before, only `deliveries --retry` tried again, so a report signed while
//! the archive was down for maintenance stayed off it until someone remembered. A node now
//! tries each failed delivery and rejection again when its back-off has run out
//! ([`super::backoff`]: 30 s, doubling, at most an hour between tries), and every few minutes
//! corrects archives holding a report that a move arriving by sync took out of their study.
//! Nothing here is a rule of the ledger: when to ask an archive again is this home's business,
//! so it may use the clock.

use std::time::Duration;

use super::{DeliveryRecord, QUEUED, REJECTION};
use crate::error::{AppError, Result};
use crate::home::Home;

/// How long a failed delivery waits before it is tried again by itself, after its first
/// failure; each further failure doubles the wait, up to [`MAX_BACKOFF`]. An archive down for
/// maintenance is asked about forty times in a day, not thousands.
pub const FIRST_BACKOFF: Duration = Duration::from_secs(30);
/// The longest wait between two tries.
pub const MAX_BACKOFF: Duration = Duration::from_secs(3600);

/// The wait after `attempts` failed tries: `first` × 2^(attempts − 1), at most [`MAX_BACKOFF`]
/// (and never less than `first`, which may be shorter than the default in tests).
pub fn backoff(attempts: u32, first: Duration) -> Duration {
    let doublings = attempts.saturating_sub(1).min(20);
    first
        .saturating_mul(1u32 << doublings)
        .min(MAX_BACKOFF.max(first))
}

impl DeliveryRecord {
    /// When a record is next tried by itself (ms since the epoch): a queued one at once (from
    /// when it was queued), a failed one at its last try plus the [`backoff`] its attempts have
    /// earned. `None` for one delivered.
    pub fn due_ms(&self, first: Duration) -> Option<u64> {
        match self.state.as_str() {
            QUEUED => Some(self.last_ms),
            "failed" => {
                let wait =
                    u64::try_from(backoff(self.attempts, first).as_millis()).unwrap_or(u64::MAX);
                Some(self.last_ms.saturating_add(wait))
            }
            _ => None,
        }
    }
}

impl Home {
    /// Tries every failed delivery and rejection again (the report as it reads now), then
    /// corrects every archive holding a report in a study it has since been moved away from
    /// (a move that came by sync from another home: see [`Home::correct_archives`]).
    pub fn deliveries_retry(&mut self) -> Result<Vec<DeliveryRecord>> {
        let mut out = self.retry_failed(|_| true, &|| false)?;
        out.extend(self.correct_moved()?);
        Ok(out)
    }

    /// Tries again, by itself, every failed delivery and rejection whose back-off has run out
    /// at `now_ms` ([`DeliveryRecord::due_ms`], from a first wait of `first`): what a `serve`
    /// node does between syncs, so that an archive that was down gets the report when it is
    /// back without anyone asking. Returns what was tried.
    pub fn retry_due_deliveries(
        &mut self,
        now_ms: u64,
        first: Duration,
    ) -> Result<Vec<DeliveryRecord>> {
        self.retry_failed(
            |d| d.due_ms(first).is_some_and(|due| due <= now_ms),
            &|| false,
        )
    }

    /// When the next failed delivery or rejection is due (ms since the epoch), if any is.
    pub fn next_delivery_due(&self, first: Duration) -> Result<Option<u64>> {
        Ok(self
            .deliveries()?
            .iter()
            .filter_map(|d| d.due_ms(first))
            .min())
    }

    /// Tries the queued and failed records `due` picks, one after another, until `stop` says
    /// so (checked before each: a key locked meanwhile starts no further send).
    fn retry_failed(
        &mut self,
        due: impl Fn(&DeliveryRecord) -> bool,
        stop: &dyn Fn() -> bool,
    ) -> Result<Vec<DeliveryRecord>> {
        let failed: Vec<DeliveryRecord> = self
            .deliveries()?
            .into_iter()
            .filter(|d| (d.state == "failed" || d.state == QUEUED) && due(d))
            .collect();
        let mut out = Vec::new();
        for d in failed {
            if stop() {
                break;
            }
            let tried = crate::viewer::entry_id(&d.report).and_then(|id| {
                if d.kind == REJECTION {
                    let study = d.study.clone().unwrap_or_default();
                    self.attempt_rejection(id, &d.archive, &study, d.instances.clone())
                } else {
                    self.attempt_delivery(id, &d.archive)
                }
            });
            match tried {
                Ok(record) => out.push(record),
                // One record that cannot even be tried (its report unreadable here now, the
                // store busy) is marked tried and backs off like a failed send: it neither
                // stops the others nor stays due, which would make the node's loop spin.
                Err(e) => {
                    tracing::warn!(archive = %d.archive, kind = %d.kind, error = %e.loggable(), "a delivery could not be tried");
                    out.push(self.note_not_tried(d, &e)?);
                }
            }
        }
        Ok(out)
    }

    /// Records that `d` was due but could not be tried, with why: on the record as it stands
    /// under the write lock, so that what another process of the home recorded meanwhile (its
    /// instances, its attempts) is kept, not replaced by the copy read before the try.
    fn note_not_tried(&mut self, d: DeliveryRecord, e: &AppError) -> Result<DeliveryRecord> {
        // Failed, not left queued: a queued record is due at once, and one that cannot be
        // tried would be tried again on every pass.
        let (code, message, now) = (e.code().to_string(), e.to_string(), crate::home::now_ms());
        let mut noted = None;
        self.update_records(|list| {
            if let Some(r) = list.iter_mut().find(|r| {
                r.is(&d.kind, &d.report, &d.archive) && (r.state == "failed" || r.state == QUEUED)
            }) {
                r.state = "failed".into();
                r.attempts = r.attempts.saturating_add(1);
                r.last_ms = now;
                r.error_code = Some(code.clone());
                r.error = Some(message.clone());
                noted = Some(r.clone());
            }
        })?;
        // Gone or delivered meanwhile: what was tried is said as it was read.
        Ok(noted.unwrap_or(DeliveryRecord {
            state: "failed".into(),
            attempts: d.attempts.saturating_add(1),
            last_ms: now,
            error_code: Some(code),
            error: Some(message),
            ..d
        }))
    }
}

/// How often the node looks for deliveries that became due (a failure recorded by another
/// process of the home, say `report finalize` from the shell, is seen within this).
const LOOK_EVERY: Duration = Duration::from_secs(30);
/// How often archives are checked for reports moved by another home.
const CORRECT_EVERY: Duration = Duration::from_secs(300);

/// Runs for the life of the process (a `serve` node's): see [`deliver_until_stopped`], never
/// woken early and never stopped.
pub fn retry_deliveries_forever(home: Home, first: Duration) {
    deliver_until_stopped(home, first, &DeliveryWake::default());
}

/// How the delivery thread is woken (a report queued to be stored back: see
/// [`Home::queue_store_back`]) and stopped (the key locked). Shared, never a queue of work:
/// what is to be sent is in the home's delivery list, so nothing waits only in memory.
#[derive(Debug, Default)]
pub struct DeliveryWake {
    state: std::sync::Mutex<(bool, bool)>,
    changed: std::sync::Condvar,
}

impl DeliveryWake {
    /// Something was queued: look now rather than at the next due time.
    pub fn wake(&self) {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).0 = true;
        self.changed.notify_all();
    }

    /// Stop: no further send starts, and the thread ends (dropping its home and the key in
    /// it) as soon as the send under way, if any, has its answer.
    pub fn stop(&self) {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).1 = true;
        self.changed.notify_all();
    }

    pub fn stopped(&self) -> bool {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).1
    }

    /// Waits until woken, stopped or `timeout` has passed; whether to go on.
    fn wait(&self, timeout: Duration) -> bool {
        let guard = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let (mut guard, _) = self
            .changed
            .wait_timeout_while(guard, timeout, |(woken, stopped)| !*woken && !*stopped)
            .unwrap_or_else(|p| p.into_inner());
        guard.0 = false;
        !guard.1
    }
}

/// Sends what is queued or due, then waits until the next record is due, `LOOK_EVERY` has
/// passed or `wake` is woken; every few minutes it corrects archives holding a report that a
/// move arriving by sync took out of their study. Ends once `wake` is stopped. `first` is the
/// first back-off ([`super::FIRST_BACKOFF`] unless a test asks for less). Errors are logged
/// (archive names, codes and counts; never a patient's data) and the loop goes on.
pub fn deliver_until_stopped(mut home: Home, first: Duration, wake: &DeliveryWake) {
    let look = first.min(LOOK_EVERY);
    let mut corrected_at: Option<std::time::Instant> = None;
    while !wake.stopped() {
        let due = |d: &DeliveryRecord| {
            d.due_ms(first)
                .is_some_and(|due| due <= crate::home::now_ms())
        };
        match home.retry_failed(due, &|| wake.stopped()) {
            Ok(tried) => {
                for d in &tried {
                    tracing::info!(
                        archive = %d.archive,
                        kind = %d.kind,
                        state = %d.state,
                        attempts = d.attempts,
                        "delivery tried by itself"
                    );
                }
            }
            Err(e) => tracing::warn!(error = %e.loggable(), "retrying deliveries failed"),
        }
        if !wake.stopped() && corrected_at.is_none_or(|at| at.elapsed() >= CORRECT_EVERY) {
            corrected_at = Some(std::time::Instant::now());
            if let Err(e) = home.correct_moved() {
                tracing::warn!(error = %e.loggable(), "correcting archives failed");
            }
        }
        let wait = match home.next_delivery_due(first) {
            Ok(Some(due)) => {
                Duration::from_millis(due.saturating_sub(crate::home::now_ms())).min(look)
            }
            _ => look,
        };
        // At least a moment between passes, so a record due in the past (a clock set back)
        // cannot make the loop spin.
        if !wake.wait(wait.max(Duration::from_millis(100))) {
            break;
        }
    }
}

#[cfg(test)]
mod backoff_tests {
    use super::*;
    use crate::pacs::DELIVERY;

    fn failed(attempts: u32, last_ms: u64) -> DeliveryRecord {
        DeliveryRecord {
            report: "r".into(),
            archive: "a".into(),
            state: "failed".into(),
            sop_instance: None,
            pdf_sop_instance: None,
            attempts,
            last_ms,
            error_code: Some("pacs_unreachable".into()),
            error: None,
            kind: DELIVERY.into(),
            study: None,
            instances: Vec::new(),
        }
    }

    #[test]
    fn the_wait_doubles_with_each_failure_up_to_an_hour() {
        let waits: Vec<u64> = (1..=9)
            .map(|n| backoff(n, FIRST_BACKOFF).as_secs())
            .collect();
        assert_eq!(waits, [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]);
        // No overflow however many times it failed, and never under the first wait.
        assert_eq!(backoff(u32::MAX, FIRST_BACKOFF), MAX_BACKOFF);
        assert_eq!(backoff(0, FIRST_BACKOFF), FIRST_BACKOFF);
        let long = Duration::from_secs(7200);
        assert_eq!(backoff(3, long), long);
    }

    /// Found by review (2026-12-04): a record that could not be tried was written back as the
    /// copy read before the try, dropping what another process of the home recorded on it
    /// meanwhile (the instances an archive holds, its attempts).
    #[test]
    fn a_record_not_tried_keeps_what_another_process_recorded_meanwhile() {
        let dir = tempfile::tempdir().unwrap();
        let mut home = crate::tests::founded(dir.path());
        let read_before = failed(1, 1_000);
        home.update_records(|list| list.push(read_before.clone()))
            .unwrap();
        // Another process records an attempt that reached the archive.
        let sent = crate::pacs::SentInstance::comprehensive_sr();
        let mut other = crate::tests::open_home(dir.path()).unwrap();
        other
            .update_records(|list| {
                list[0].attempts = 2;
                list[0].instances.push(sent.clone());
            })
            .unwrap();
        let err = AppError::InvalidInput("not now".into());
        let noted = home.note_not_tried(read_before, &err).unwrap();
        assert_eq!(noted.attempts, 3);
        assert_eq!(noted.instances, vec![sent]);
        assert_eq!(home.deliveries().unwrap(), vec![noted]);
    }

    #[test]
    fn a_failed_record_is_due_after_its_backoff_and_a_delivered_one_never() {
        let first = Duration::from_millis(300);
        assert_eq!(failed(1, 1_000).due_ms(first), Some(1_300));
        assert_eq!(failed(3, 1_000).due_ms(first), Some(2_200));
        assert_eq!(failed(2, u64::MAX).due_ms(first), Some(u64::MAX));
        let delivered = DeliveryRecord {
            state: "delivered".into(),
            ..failed(1, 1_000)
        };
        assert_eq!(delivered.due_ms(first), None);
    }
}

#[cfg(test)]
mod wake_tests {
    use super::*;
    use crate::pacs::{ArchiveEndpoint, ArchiveOptions, QUEUED};

    /// A home with a report queued for an archive nobody answers at (connection refused).
    fn queued_home(dir: &std::path::Path) -> (Home, countersign_ledger::EntryId) {
        let mut home = crate::tests::founded(dir);
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        home.pacs_add(
            "down",
            ArchiveEndpoint::Dicomweb {
                url: format!("http://127.0.0.1:{port}/dicom-web"),
            },
            ArchiveOptions {
                store_back: true,
                ..ArchiveOptions::default()
            },
        )
        .unwrap();
        let report = countersign_ledger::EntryId::from_hex(&"ab".repeat(32)).unwrap();
        assert_eq!(home.queue_store_back(report).unwrap(), vec!["down"]);
        (home, report)
    }

    /// The key locked (the desktop's node stopped): the delivery thread, which holds the key,
    /// starts no send and ends; what was queued stays queued for the next unlock.
    #[test]
    fn a_stopped_delivery_thread_sends_nothing_and_keeps_the_queue() {
        let dir = tempfile::tempdir().unwrap();
        let (mut home, _) = queued_home(dir.path());
        let again = home.open_again().unwrap();
        let wake = DeliveryWake::default();
        wake.stop();
        deliver_until_stopped(again, FIRST_BACKOFF, &wake);
        let list = home.deliveries().unwrap();
        assert_eq!((list[0].state.as_str(), list[0].attempts), (QUEUED, 0));
    }

    /// Not stopped: the queued record is tried at once and, when it cannot be (here its report
    /// is not in this home), recorded as failed with back-off — so the test above shows the
    /// stop, not a loop that never sends; and a record that cannot be tried does not stay due
    /// on every pass (it did: left `queued`, found by this test).
    #[test]
    fn a_running_delivery_thread_tries_what_is_queued_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let (mut home, _) = queued_home(dir.path());
        let tried = home
            .retry_failed(
                |d| {
                    d.due_ms(FIRST_BACKOFF)
                        .is_some_and(|due| due <= crate::home::now_ms())
                },
                &|| false,
            )
            .unwrap();
        assert_eq!(tried.len(), 1);
        let list = home.deliveries().unwrap();
        assert_eq!((list[0].state.as_str(), list[0].attempts), ("failed", 1));
    }
}
