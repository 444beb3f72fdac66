//! The report rules: [`ReportLog::judge`] and the small checks it is made of. Each looks only at
//! the entry's causal past, and only at entries there that are themselves accepted.
//!
//! Here: the rules per kind of entry. The checks of what an entry names (sections, fields,
//! macros, links, AI results, follow-ups) are in `sections`, those of what a sign-off covers
//! in `signoff`, and [`ReportRuleError`] in `error`.

use countersign_ledger::roster::{AuthorityError, Change};
use countersign_ledger::{EntryId, Kind, Role, Roster};

use super::{Frozen, LogEntry, ReportLog, Standing, TemplateSource};
use crate::payload::{Payload, Status};

mod error;
mod sections;
mod signoff;

pub use error::ReportRuleError;

/// Kinds that act on the patient's data rather than on the report's content.
pub(crate) fn is_data_protection(kind: Kind) -> bool {
    matches!(kind, Kind::PayloadErase | Kind::ReportRestrict)
}

impl ReportLog {
    /// The standing of `entry` given its accepted past, the roster and frozen authors.
    pub(super) fn judge(&self, entry: &LogEntry, roster: &Roster, frozen: &Frozen) -> Standing {
        match self.rules(entry, roster, frozen) {
            Ok(()) => Standing::Accepted,
            Err(e) => Standing::refused(e),
        }
    }

    /// The roster change whose details apply to this very entry (its role, an AI key's model):
    /// what the rules judge it by, and what the view says its author was when they signed it.
    pub(crate) fn change_of<'r>(
        &self,
        e: &LogEntry,
        roster: &'r Roster,
    ) -> Result<&'r Change, AuthorityError> {
        roster.change_applying(&e.author, &self.id, &e.id, |vouched| {
            self.dag.in_past(&e.id, vouched)
        })
    }

    /// The role the roster gives this entry's author for this very entry.
    pub(crate) fn role_of(&self, e: &LogEntry, roster: &Roster) -> Result<Role, AuthorityError> {
        roster
            .authority(&e.author, &self.id, &e.id, |vouched| {
                self.dag.in_past(&e.id, vouched)
            })
            .map(|a| a.role)
    }

    fn rules(&self, e: &LogEntry, roster: &Roster, frozen: &Frozen) -> Result<(), ReportRuleError> {
        if is_data_protection(e.kind) {
            // Erasure and restriction act on the patient's data, whatever became of the
            // report's content: a refused report holds personal data too, and a report
            // already erased may still be restricted or erased again.
            return self.data_protection_rules(e, roster, frozen);
        }
        // Nothing but erasure and restriction follows an erasure: causally, so that every
        // peer refuses the same entries whatever order they came in.
        if let Some(erasure) = self.erasure_in_past(&e.parents) {
            return Err(ReportRuleError::ReportErased { erasure });
        }
        if e.kind != Kind::ReportCreate && !self.is_accepted() {
            return Err(ReportRuleError::ReportRefused);
        }
        let role = self.author_may_write(e, roster, frozen)?;
        let Some(payload) = &e.payload else {
            // In an erased log every peer judges every entry by its header alone: the
            // payloads are gone everywhere. Anywhere else a missing payload means the rules
            // cannot run, and an entry they cannot judge does not count.
            // So does a home that holds a sealed report's ciphertext but not its key: it
            // proves who wrote what kind of entry when, not what the text said.
            return match self.erasure() {
                Some(_) => Ok(()),
                None if self.unreadable() => Ok(()),
                None => Err(ReportRuleError::PayloadNotHeld),
            };
        };
        payload_alone(payload)?;
        // The entry's parents stand for its past.
        let parents = e.parents.as_slice();
        let final_in_past = self.final_in_past(parents);
        match payload {
            Payload::Create(_) => self.check_create(role, roster),
            Payload::Write(w) => {
                self.check_write(w)?;
                self.check_macros(w, roster)?;
                refuse_after_final(final_in_past)?;
                self.check_links(parents, w)
            }
            Payload::Cosign(c) => {
                self.known_section(&c.section)?;
                refuse_after_final(final_in_past)?;
                let version = self.version_in_past(parents, &c.section, &c.version)?;
                if version.author == e.author {
                    return Err(ReportRuleError::SelfCosign);
                }
                Ok(())
            }
            Payload::Status(s) => {
                if let Some(final_entry) = final_in_past {
                    return Err(ReportRuleError::AlreadyFinal { final_entry });
                }
                if s.status == Status::Final {
                    if role != Role::Attending {
                        return Err(ReportRuleError::NotAttending {
                            role: role.to_string(),
                        });
                    }
                    self.check_final_coverage(parents, &s.sections, roster)?;
                    self.check_ai_reviewed(parents)?;
                }
                self.check_filled(parents, &s.sections, roster)
            }
            Payload::Resolve(r) => self.check_resolve(parents, r.keep, &e.author),
            // A critical result or a follow-up may be recorded at any time, before or after
            // sign-off: it is a communication about the report, not a change to it.
            Payload::Critical(_) | Payload::Followup(_) => Ok(()),
            Payload::AiResult(r) => {
                self.known_section(&r.section)?;
                refuse_after_final(final_in_past)?;
                if !self.granted(&e.author, parents) {
                    return Err(ReportRuleError::NotGranted);
                }
                self.check_ai_model(e, r, roster)?;
                let images = self.binding_in_past(parents).1;
                match r
                    .inputs
                    .iter()
                    .find(|i| !images.is_empty() && !images.contains(i))
                {
                    Some(image) => Err(ReportRuleError::UnknownImage {
                        image: image.clone(),
                    }),
                    None => Ok(()),
                }
            }
            // Receipt of an SR is attested by a person, who reads every report: no grant. The
            // SR must be about this report's study.
            Payload::AiReceived(r) => {
                self.known_section(&r.section)?;
                refuse_after_final(final_in_past)?;
                let report_study = self.binding_in_past(parents).0;
                if r.study != report_study {
                    return Err(ReportRuleError::ReceivedOtherStudy {
                        sr_study: r.study.clone(),
                        report_study: report_study.to_string(),
                    });
                }
                Ok(())
            }
            Payload::AiReview(r) => {
                refuse_after_final(final_in_past)?;
                self.check_ai_review(parents, r.result)
            }
            // Reading is never refused, but what was read must be the template's sections.
            Payload::View(v) => v
                .sections
                .iter()
                .try_for_each(|s| self.known_section(s).map(|_| ())),
            Payload::FollowupClose(c) => self.check_followup_close(parents, c.followup),
            // Measurements annotate the report's own images; a signed report may get them too.
            Payload::Measurement(m) => {
                let images = self.binding_in_past(parents).1;
                if images.is_empty() || images.contains(&m.image) {
                    Ok(())
                } else {
                    Err(ReportRuleError::UnknownImage {
                        image: m.image.clone(),
                    })
                }
            }
            Payload::Addendum(_) => match final_in_past {
                Some(_) => Ok(()),
                None => Err(ReportRuleError::NotFinal),
            },
            // Who may read a report can change at any time, final or not.
            Payload::Access(_) => Ok(()),
            // Judged above, before anything that needs the report's content.
            Payload::Erase(_) | Payload::Restrict(_) => Ok(()),
            // A correction of whom the report is about: before or after sign-off (the roster
            // lets only an attending write it). Nothing but the header's rules and
            // `payload_alone`: an erased log's moves, judged by their headers, are judged by
            // those again with their withheld payloads (`erased_binding`), so a rule added here
            // must be added there too.
            Payload::Move(_) => Ok(()),
            // A delivery names the signed-off version it sent: one the sender had seen.
            Payload::Delivered(d) => {
                self.check_delivered(parents, &d.version)?;
                let report_study = self.binding_in_past(parents).0;
                if d.rejection_note.is_some() {
                    // A rejection withdraws the report from a study it was moved away from:
                    // one it was about earlier in the entry's past, and is not about now.
                    if d.study == report_study
                        || !self.studies_in_past(parents).contains(&&*d.study)
                    {
                        return Err(ReportRuleError::RejectedStudyNotLeft {
                            study: d.study.clone(),
                        });
                    }
                    return Ok(());
                }
                // Into the study the report is about at that point of its history.
                if d.study != report_study {
                    return Err(ReportRuleError::DeliveredOtherStudy {
                        delivered: d.study.clone(),
                        report_study: report_study.to_string(),
                    });
                }
                Ok(())
            }
            Payload::Other => refuse_after_final(final_in_past),
        }
    }

    /// The checks every entry's header passes: its author is not frozen here, and the roster
    /// lets their role write its kind. Returns the role.
    fn author_may_write(
        &self,
        e: &LogEntry,
        roster: &Roster,
        frozen: &Frozen,
    ) -> Result<Role, ReportRuleError> {
        if let Some(&seq) = frozen.get(&e.author).filter(|s| **s <= e.seq) {
            return Err(AuthorityError::Frozen {
                author: e.author.to_hex(),
                seq,
            }
            .into());
        }
        let authority = roster.authority(&e.author, &self.id, &e.id, |vouched| {
            self.dag.in_past(&e.id, vouched)
        })?;
        let role = authority.role;
        if !role.may_write(e.kind) {
            return Err(AuthorityError::KindNotAllowed { role, kind: e.kind }.into());
        }
        Ok(role)
    }

    /// An `ai.result` is signed as the model the roster names its key for this very entry
    /// (the details of the change that applies to it, as for its role): the name and version
    /// it claims are what the view, the exports and `ai stats` attribute it to, so a model's
    /// key may not claim another's. A key the roster gives no model details is held to none.
    fn check_ai_model(
        &self,
        e: &LogEntry,
        r: &crate::payload::AiResult,
        roster: &Roster,
    ) -> Result<(), ReportRuleError> {
        match &self.change_of(e, roster)?.ai_model {
            Some(m) if m.model == r.model && m.version == r.version => Ok(()),
            // A key the roster names no model for (admitted by an older build, or by a program
            // that gave none) is held to nothing: refusing all it ever signed would drop every
            // result of it from the oversight figures (found by review, 2026-12-05).
            None => Ok(()),
            Some(m) => Err(ReportRuleError::AiModelMismatch {
                claimed: format!("{} {}", r.model, r.version),
                roster: Some(format!("{} {}", m.model, m.version)),
            }),
        }
    }

    /// `payload.erase` and `report.restrict`: an attending or a data-protection officer, with
    /// the payload held (it carries the legal basis, and is never erased) and valid.
    pub(super) fn data_protection_rules(
        &self,
        e: &LogEntry,
        roster: &Roster,
        frozen: &Frozen,
    ) -> Result<(), ReportRuleError> {
        self.author_may_write(e, roster, frozen)?;
        match &e.payload {
            Some(Payload::Erase(_) | Payload::Restrict(_)) => Ok(()),
            _ => Err(ReportRuleError::PayloadNotHeld),
        }
    }

    /// The report's creator may create reports under the network's policy, and its template
    /// is built in or published by a roster entry the roster accepts.
    fn check_create(&self, role: Role, roster: &Roster) -> Result<(), ReportRuleError> {
        let allowed = &roster.policy().report_creators;
        if !allowed.contains(&role) {
            return Err(AuthorityError::MayNotCreateReports {
                role,
                allowed: allowed
                    .iter()
                    .map(|r| r.name())
                    .collect::<Vec<_>>()
                    .join(", "),
            }
            .into());
        }
        match self.template_source() {
            TemplateSource::Builtin => Ok(()),
            TemplateSource::Published(publish) => match roster.status(&publish) {
                Some(Ok(())) => Ok(()),
                _ => Err(ReportRuleError::TemplateNotAccepted { publish }),
            },
        }
    }
}

/// The rules a payload passes on its own, whatever its past: what an erased log still judges
/// a move's withheld payload by ([`ReportLog::erased_binding`]).
///
/// Judged here rather than when the payload parses, so that an entry an older build stored
/// stays in its log, refused (see `payload::text`).
pub(super) fn payload_alone(payload: &Payload) -> Result<(), ReportRuleError> {
    match payload.hidden_char() {
        Some(h) => Err(ReportRuleError::HiddenCharacter {
            field: h.field,
            offset: h.offset,
            code_point: u32::from(h.ch),
        }),
        None => Ok(()),
    }
}

fn refuse_after_final(final_in_past: Option<EntryId>) -> Result<(), ReportRuleError> {
    match final_in_past {
        Some(final_entry) => Err(ReportRuleError::Finalised { final_entry }),
        None => Ok(()),
    }
}
