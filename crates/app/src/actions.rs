//! What this home's user may do on a report now, asked of the one acceptance path: each action
//! is signed in memory as the entry it would be and judged exactly as a peer would judge it,
//! then thrown away. The UI shows a button only where this says yes, and the reason (with the
//! rule's code) where it says no; it never restates a rule.

use std::collections::BTreeMap;

use countersign_ledger::{Entry, EntryId, Header, Kind};
use countersign_report::payload::{
    AddendumWrite, AiReview, Decision, EraseScope, PayloadErase, ReportMove, ReportResolve,
    ReportRestrict, ReportStatus, SectionCosign, SectionWrite, Status,
};
use countersign_report::Standing;
use serde::Serialize;

use crate::error::Result;
use crate::home::{json, now_ms, Home};
use crate::state::Verdict;

/// Whether one action would be accepted, and if not, which rule says no.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Allowed {
    pub allowed: bool,
    /// The refusing rule's stable code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl Allowed {
    pub(crate) fn yes() -> Allowed {
        Allowed {
            allowed: true,
            rule: None,
            reason: None,
        }
    }

    /// Would be accepted, but says nothing new (no rule refuses it): not offered.
    fn unoffered(reason: &str) -> Allowed {
        Allowed {
            allowed: false,
            rule: None,
            reason: Some(reason.into()),
        }
    }

    pub(crate) fn no(rule: &'static str, reason: String) -> Allowed {
        Allowed {
            allowed: false,
            rule: Some(rule),
            reason: Some(reason),
        }
    }
}

/// Everything the report editor offers, each judged for this home's identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportActions {
    /// Writing a new version of each section.
    pub write: BTreeMap<String, Allowed>,
    /// Co-signing each section's current version (sections with one).
    pub cosign: BTreeMap<String, Allowed>,
    /// Marking the report preliminary (written, awaiting sign-off).
    pub preliminary: Allowed,
    pub finalize: Allowed,
    pub addendum: Allowed,
    /// Keeping each sign-off in force (offered in a conflict).
    pub resolve: BTreeMap<EntryId, Allowed>,
    /// Reviewing each AI result not yet reviewed.
    pub review: BTreeMap<EntryId, Allowed>,
    /// Erasing the report's personal data (`payload.erase`, GDPR Art. 17).
    pub erase: Allowed,
    /// Restricting its processing (`report.restrict`, GDPR Art. 18).
    pub restrict: Allowed,
    /// Lifting the restriction in force.
    pub lift: Allowed,
    /// Moving the report to another patient's study (`report.move`: filed under the wrong
    /// patient). Which study is the user's choice; this says only whether the rules let this
    /// user move the report now (an attending, the report not erased).
    pub r#move: Allowed,
}

impl Home {
    /// Judges `payload` as this home's next entry of `kind` in `report`, storing nothing.
    fn would_accept(&mut self, report: EntryId, kind: Kind, payload: &[u8]) -> Result<Allowed> {
        let key = self.signer()?;
        self.judge_unsigned(&key, report, kind, payload)
    }

    fn judge_unsigned(
        &self,
        key: &crate::keys::KeyHandle,
        report: EntryId,
        kind: Kind,
        payload: &[u8],
    ) -> Result<Allowed> {
        let author = key.public();
        self.with_state(&report, |state, _| {
            let network = state.network()?;
            let Some((parents, seq)) = state.ledger.position_for(&report, &author) else {
                return Ok(Allowed::no(
                    "unknown_log",
                    format!("report {report} is not here"),
                ));
            };
            let now = now_ms();
            // Sealed as the real entry would be, so the probe is judged as it would be.
            let creator = (&author, now);
            let sealed = match crate::home::seal_payload(
                state,
                Some(report),
                kind,
                payload,
                true,
                creator,
            ) {
                Ok((sealed, _)) => sealed,
                Err(e) => return Ok(Allowed::no(e.code(), e.to_string())),
            };
            let payload: &[u8] = sealed.as_deref().unwrap_or(payload);
            let header = Header::new(network, report, author, seq, now, kind, parents, payload);
            let entry = Entry::sign(header, key)?;
            Ok(match state.ledger.judge(&entry, Some(payload), now) {
                Ok(Verdict::New(Standing::Accepted)) => Allowed::yes(),
                Ok(Verdict::New(Standing::Refused(e))) => Allowed::no(e.code(), e.to_string()),
                Ok(other) => Allowed::no("not_new", format!("{other:?}")),
                Err(r) => Allowed::no(r.code(), r.to_string()),
            })
        })
    }

    /// What this home's user may do on `report` now (see the module docs).
    pub fn report_actions(&mut self, report: EntryId) -> Result<ReportActions> {
        let view = self.report_show(report)?;
        let mut write = BTreeMap::new();
        let mut cosign = BTreeMap::new();
        let mut covered = BTreeMap::new();
        for s in &view.sections {
            let probe = json(&SectionWrite {
                section: s.name.clone(),
                text: "…".into(),
                fields: BTreeMap::new(),
                macros: Vec::new(),
                links: Vec::new(),
            });
            write.insert(
                s.name.clone(),
                self.would_accept(report, Kind::SectionWrite, &probe)?,
            );
            if let Some(version) = s.current {
                covered.insert(s.name.clone(), version);
                let c = json(&SectionCosign {
                    section: s.name.clone(),
                    version,
                });
                cosign.insert(
                    s.name.clone(),
                    self.would_accept(report, Kind::SectionCosign, &c)?,
                );
            }
        }
        let fin = json(&ReportStatus {
            status: Status::Final,
            sections: covered,
        });
        let finalize = self.would_accept(report, Kind::ReportStatus, &fin)?;
        let marked = view.status == countersign_report::ReportState::Preliminary;
        // Marking it again would be accepted, and say nothing new: not offered (no rule refuses).
        let preliminary = if marked {
            Allowed::unoffered("the report is already marked preliminary")
        } else {
            let p = json(&ReportStatus {
                status: Status::Preliminary,
                sections: BTreeMap::new(),
            });
            self.would_accept(report, Kind::ReportStatus, &p)?
        };
        let addendum = self.would_accept(
            report,
            Kind::AddendumWrite,
            &json(&AddendumWrite { text: "…".into() }),
        )?;
        let mut resolve = BTreeMap::new();
        for s in view.signoffs.iter().filter(|s| s.in_force) {
            let r = json(&ReportResolve {
                keep: s.entry,
                note: String::new(),
            });
            resolve.insert(s.entry, self.would_accept(report, Kind::ReportResolve, &r)?);
        }
        let mut review = BTreeMap::new();
        for a in view.ai.iter().filter(|a| a.review.is_none()) {
            let r = json(&AiReview {
                result: a.entry,
                decision: Decision::Accept,
                text: None,
                comment: None,
            });
            review.insert(a.entry, self.would_accept(report, Kind::AiReview, &r)?);
        }
        // Erasing or restricting again, or lifting what is not restricted, would be accepted
        // and change nothing: not offered (no rule refuses), as marking preliminary twice.
        let erase = if view.erasure.is_some() {
            Allowed::unoffered("the report's personal data is already erased")
        } else {
            let e = json(&PayloadErase {
                basis: "…".into(),
                scope: EraseScope::Report,
            });
            self.would_accept(report, Kind::PayloadErase, &e)?
        };
        let restricted = view.restriction.is_some();
        let mut restriction = |on: bool| {
            let r = json(&ReportRestrict {
                restricted: on,
                basis: "…".into(),
            });
            self.would_accept(report, Kind::ReportRestrict, &r)
        };
        let (restrict, lift) = if restricted {
            (
                Allowed::unoffered("the report is already restricted"),
                restriction(false)?,
            )
        } else {
            (
                restriction(true)?,
                Allowed::unoffered("the report is not restricted"),
            )
        };
        // The study is the user's choice: the rules judge who moves and when, not where to.
        let moving = json(&ReportMove {
            study: "…".into(),
            images: Vec::new(),
            reason: "…".into(),
        });
        let r#move = self.would_accept(report, Kind::ReportMove, &moving)?;
        Ok(ReportActions {
            write,
            cosign,
            preliminary,
            finalize,
            addendum,
            resolve,
            review,
            erase,
            restrict,
            lift,
            r#move,
        })
    }
}
