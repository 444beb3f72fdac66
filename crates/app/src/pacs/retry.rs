//! Failed deliveries tried again by themselves, with back-off, while a `serve` node runs.
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

use crate::home::Home;

/// How often the node looks for deliveries that became due (a failure recorded by another
/// process of the home, say `report finalize` from the shell, is seen within this).
const LOOK_EVERY: Duration = Duration::from_secs(30);
/// How often archives are checked for reports moved by another home.
const CORRECT_EVERY: Duration = Duration::from_secs(300);

/// Runs for the life of the process (a `serve` node's): retries what is due, then sleeps until
/// the next one is due or [`LOOK_EVERY`] has passed. `first` is the first back-off
/// ([`super::FIRST_BACKOFF`] unless a test asks for less). Errors are logged (archive names,
/// codes and counts; never a patient's data) and the loop goes on.
pub fn retry_deliveries_forever(mut home: Home, first: Duration) {
    let look = first.min(LOOK_EVERY);
    let mut corrected_at: Option<std::time::Instant> = None;
    loop {
        match home.retry_due_deliveries(crate::home::now_ms(), first) {
            Ok(tried) => {
                for d in &tried {
                    tracing::info!(
                        archive = %d.archive,
                        kind = %d.kind,
                        state = %d.state,
                        attempts = d.attempts,
                        "delivery tried again by itself"
                    );
                }
            }
            Err(e) => tracing::warn!(error = %e.loggable(), "retrying deliveries failed"),
        }
        if corrected_at.is_none_or(|at| at.elapsed() >= CORRECT_EVERY) {
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
        std::thread::sleep(wait.max(Duration::from_millis(100)));
    }
}
