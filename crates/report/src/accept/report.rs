//! Judging report entries: whether a report-log entry is storable (its log held, its
//! position free, its payload readable here) and what standing the report rules give it.
//! Apart from `mod.rs`, which runs the checks every entry passes and joins the two kinds.

use countersign_ledger::{Entry, Kind};

use super::{Classified, Ledger, Rejection, Verdict};
use crate::log::{Frozen, ReportLog, Standing};

impl Ledger {
    pub(super) fn judge_report(
        &mut self,
        entry: &Entry,
        payload: Option<&[u8]>,
        predict: bool,
    ) -> Result<Classified, Rejection> {
        let h = entry.header();
        let log = entry.log_id();
        // A fork is seen from the header alone, before the payload is asked for or parsed:
        // the evidence needs none, and one too large or unparseable proves the fork as well.
        if h.kind != Kind::ReportCreate {
            self.refresh(&log);
            if let Some(report) = self.reports.get(&log) {
                if report.contains(&entry.id()) {
                    return Ok(Verdict::Duplicate);
                }
                if let Some(first) = report
                    .dag()
                    .other_at_position(&h.author, h.seq, &entry.id())
                {
                    // Storable first (parents held, its author's chain unbroken): an entry
                    // that breaks its own chain is no evidence against the entry whose
                    // position it claims.
                    self.refine_unknown_parent(report.dag().check(entry), entry)?;
                    return Ok(self.fork_or_duplicate(entry, first));
                }
            }
        }
        let parsed = match payload {
            Some(payload) => self.open_report_payload(entry, payload)?,
            None if self.headers_only(&log) => None,
            None => return Err(Rejection::PayloadMissing),
        };
        if h.kind == Kind::ReportCreate {
            if self.reports.contains_key(&log) {
                return Ok(Verdict::Duplicate);
            }
            let content = self.create_content(parsed)?;
            if !predict {
                return Ok(Verdict::New(None));
            }
            let sealing = self.sealing_of(&log, payload);
            let report = ReportLog::new(entry, content, self.roster(), sealing)?;
            let standing = report
                .standing(&entry.id())
                .cloned()
                .unwrap_or(Standing::Accepted);
            return Ok(Verdict::New(Some(standing)));
        }
        self.refresh(&log);
        let report = self
            .reports
            .get(&log)
            .ok_or(Rejection::UnknownLog { log })?;
        if report.contains(&entry.id()) {
            return Ok(Verdict::Duplicate);
        }
        self.refine_unknown_parent(report.dag().check(entry), entry)?;
        if !predict {
            if let Some(parsed) = parsed {
                self.parsed = Some((entry.id(), parsed));
            }
            return Ok(Verdict::New(None));
        }
        let empty = Frozen::new();
        let frozen = self.frozen.get(&log).unwrap_or(&empty);
        // Judged as if inserted: a copy would cost the whole log, and a new entry is in no
        // vouched entry's past, so judging it beside the log gives the same standing. (An
        // erasure is judged again with the log by the insert; its own standing is the same.)
        Ok(Verdict::New(Some(report.check(
            entry,
            parsed.as_ref(),
            self.roster(),
            frozen,
        ))))
    }
}
