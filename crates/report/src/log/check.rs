//! The report rules: [`ReportLog::check`] and the small checks it is made of, each judged on
//! the entry's causal past only.

use std::collections::BTreeMap;

use countersign_ledger::{Entry, EntryId, IdSet, Kind, Role, Roster};

use super::{LogEntry, ReportLog};
use crate::payload::{Payload, PayloadError, Status};
use crate::template::{self, TemplateError};

/// Why an entry breaks a report rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReportRuleError {
    #[error(transparent)]
    Payload(#[from] PayloadError),
    #[error("unknown template {name:?}")]
    UnknownTemplate { name: String },
    #[error("the report's template is not valid: {0}")]
    BadTemplate(#[from] TemplateError),
    #[error("the report names template {named:?} but carries template {defined:?}")]
    TemplateMismatch { named: String, defined: String },
    #[error("section {section} has no field {field:?}")]
    UnknownField { section: String, field: String },
    #[error("field {field} of section {section}: {reason}")]
    FieldValue {
        section: String,
        field: String,
        reason: String,
    },
    #[error("field {field} of section {section} is required before final sign-off")]
    FieldMissing { section: String, field: String },
    #[error("section {section} was written by a resident; it needs a co-signature by a {role} before final sign-off")]
    CountersignMissing { section: String, role: Role },
    #[error("template {template} has no section {section:?}")]
    UnknownSection { section: String, template: String },
    #[error("section {section} text is empty")]
    EmptyText { section: String },
    #[error("the report was finalised by entry {final_entry}; only addenda may follow")]
    Finalised { final_entry: EntryId },
    #[error("an addendum needs a final report")]
    NotFinal,
    #[error("image {image} is not one of the images the report is about")]
    UnknownImage { image: String },
    #[error("entry {result} is not an AI result in this report's past")]
    UnknownAiResult { result: EntryId },
    #[error("AI result {result} was already reviewed by entry {review}")]
    AlreadyReviewed { result: EntryId, review: EntryId },
    #[error("AI result {result} has not been reviewed: unreviewed AI output cannot be signed off")]
    UnreviewedAi { result: EntryId },
    #[error("entry {followup} is not a follow-up recommendation in this report's past")]
    UnknownFollowup { followup: EntryId },
    #[error("follow-up {followup} was already closed by entry {closed_by}")]
    FollowupClosed {
        followup: EntryId,
        closed_by: EntryId,
    },
    #[error("the report is already final (entry {final_entry})")]
    AlreadyFinal { final_entry: EntryId },
    #[error("only an attending may finalise; the author is {role}")]
    NotAttending { role: String },
    #[error("version {version} is not in the entry's causal past")]
    VersionNotInPast { version: EntryId },
    #[error("entry {version} is not a version of section {section}")]
    NotAVersionOf { version: EntryId, section: String },
    #[error("an author cannot co-sign their own section version")]
    SelfCosign,
    #[error("section {section} has no text; it must be written before final sign-off")]
    SectionMissing { section: String },
    #[error(
        "final sign-off names {named} for section {section}, but its current version is {expected}"
    )]
    CoverageMismatch {
        section: String,
        named: String,
        expected: String,
    },
    #[error("section {section} needs a co-signature by a {role} before final sign-off")]
    CosignMissing { section: String, role: Role },
    #[error("entry belongs to log {found}, not report {expected}")]
    OtherLog { expected: EntryId, found: EntryId },
}

impl ReportLog {
    /// Checks a new entry against the report rules, looking only at its causal past.
    /// `payload` is the parsed payload; `roster` resolves roles.
    pub fn check(
        &self,
        entry: &Entry,
        payload: &Payload,
        roster: &Roster,
    ) -> Result<(), ReportRuleError> {
        if entry.log_id() != self.id {
            return Err(ReportRuleError::OtherLog {
                expected: self.id,
                found: entry.log_id(),
            });
        }
        // Walking the ancestry is only needed for rules about what came before: a sign-off,
        // a co-signed version, the sections a sign-off covers.
        let needs_past = !self.finals.is_empty()
            || matches!(
                payload,
                Payload::Cosign(_)
                    | Payload::Status(_)
                    | Payload::FollowupClose(_)
                    | Payload::AiReview(_)
            );
        let past = if needs_past {
            self.ancestors(&entry.header().parents)
        } else {
            IdSet::default()
        };
        let final_in_past = self.final_among(&past);
        let author = entry.header().author;
        match payload {
            Payload::Write(w) => {
                self.check_write(w)?;
                refuse_after_final(final_in_past)
            }
            Payload::Cosign(c) => {
                self.known_section(&c.section)?;
                refuse_after_final(final_in_past)?;
                let version = self.version_in_past(&past, &c.section, &c.version)?;
                if version.author == author {
                    return Err(ReportRuleError::SelfCosign);
                }
                Ok(())
            }
            Payload::Status(s) => {
                if let Some(final_entry) = final_in_past {
                    return Err(ReportRuleError::AlreadyFinal { final_entry });
                }
                if s.status == Status::Final {
                    let role = roster.member(&author).map(|m| m.role);
                    if role != Some(Role::Attending) {
                        return Err(ReportRuleError::NotAttending {
                            role: role.map_or("not on the roster".into(), |r| r.to_string()),
                        });
                    }
                    self.check_final_coverage(&past, &s.sections, roster)?;
                    self.check_ai_reviewed(&past)?;
                }
                Ok(())
            }
            // A critical result or a follow-up may be recorded at any time, before or after
            // sign-off: it is a communication about the report, not a change to it.
            Payload::Critical(_) | Payload::Followup(_) => Ok(()),
            Payload::AiResult(r) => {
                self.known_section(&r.section)?;
                refuse_after_final(final_in_past)?;
                let images = &self.create().images;
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
            Payload::AiReview(r) => {
                refuse_after_final(final_in_past)?;
                self.check_ai_review(&past, r.result)
            }
            // Reading is never refused, but what was read must be the template's sections.
            Payload::View(v) => v
                .sections
                .iter()
                .try_for_each(|s| self.known_section(s).map(|_| ())),
            Payload::FollowupClose(c) => self.check_followup_close(&past, c.followup),
            // Measurements annotate the report's own images; a signed report may get them too.
            Payload::Measurement(m) => {
                let images = &self.create().images;
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
            Payload::Create(_) => Err(ReportRuleError::OtherLog {
                expected: self.id,
                found: entry.id(),
            }),
            // Who may read a report can change at any time, final or not.
            Payload::Access(_) => Ok(()),
            Payload::Other => match entry.header().kind {
                Kind::PayloadErase => Ok(()),
                _ => refuse_after_final(final_in_past),
            },
        }
    }

    /// The AI results in `past` with the review of each, if it has one there.
    fn ai_reviews<'a>(
        &'a self,
        past: &'a IdSet,
    ) -> impl Iterator<Item = (EntryId, Option<EntryId>)> + 'a {
        let payload = |id: &EntryId| self.entries.get(id).and_then(|e| e.payload.as_ref());
        past.iter()
            .filter(move |id| matches!(payload(id), Some(Payload::AiResult(_))))
            .map(move |&result| {
                let review = past.iter().copied().find(
                    |id| matches!(payload(id), Some(Payload::AiReview(r)) if r.result == result),
                );
                (result, review)
            })
    }

    /// A review names an AI result in its causal past that no review in that past names.
    fn check_ai_review(&self, past: &IdSet, result: EntryId) -> Result<(), ReportRuleError> {
        match self.ai_reviews(past).find(|(r, _)| *r == result) {
            None => Err(ReportRuleError::UnknownAiResult { result }),
            Some((_, Some(review))) => Err(ReportRuleError::AlreadyReviewed { result, review }),
            Some((_, None)) => Ok(()),
        }
    }

    /// Sign-off needs every AI result in its past reviewed in its past.
    fn check_ai_reviewed(&self, past: &IdSet) -> Result<(), ReportRuleError> {
        match self.ai_reviews(past).find(|(_, review)| review.is_none()) {
            Some((result, _)) => Err(ReportRuleError::UnreviewedAi { result }),
            None => Ok(()),
        }
    }

    /// A close names a recommendation in its causal past that no close in that past names.
    fn check_followup_close(&self, past: &IdSet, followup: EntryId) -> Result<(), ReportRuleError> {
        let recommended = past.contains(&followup)
            && matches!(
                self.entries.get(&followup).and_then(|e| e.payload.as_ref()),
                Some(Payload::Followup(_))
            );
        if !recommended {
            return Err(ReportRuleError::UnknownFollowup { followup });
        }
        let earlier = past.iter().find(|id| {
            matches!(
                self.entries.get(id).and_then(|e| e.payload.as_ref()),
                Some(Payload::FollowupClose(c)) if c.followup == followup
            )
        });
        match earlier {
            Some(&closed_by) => Err(ReportRuleError::FollowupClosed {
                followup,
                closed_by,
            }),
            None => Ok(()),
        }
    }

    fn known_section(&self, section: &str) -> Result<&template::SectionDef, ReportRuleError> {
        self.template
            .section(section)
            .ok_or_else(|| ReportRuleError::UnknownSection {
                section: section.to_string(),
                template: self.template.name.to_string(),
            })
    }

    /// A version of a section: a known section, some text or field values, and every value of
    /// a field the section has, valid for its type.
    fn check_write(&self, w: &crate::payload::SectionWrite) -> Result<(), ReportRuleError> {
        let def = self.known_section(&w.section)?;
        if w.text.trim().is_empty() && w.fields.is_empty() {
            return Err(ReportRuleError::EmptyText {
                section: w.section.clone(),
            });
        }
        for (name, value) in &w.fields {
            let field = def
                .field(name)
                .ok_or_else(|| ReportRuleError::UnknownField {
                    section: w.section.clone(),
                    field: name.clone(),
                })?;
            field
                .check_value(value)
                .map_err(|reason| ReportRuleError::FieldValue {
                    section: w.section.clone(),
                    field: name.clone(),
                    reason,
                })?;
        }
        Ok(())
    }

    fn final_among(&self, ids: &IdSet) -> Option<EntryId> {
        self.finals.iter().find(|f| ids.contains(f)).copied()
    }

    fn version_in_past(
        &self,
        past: &IdSet,
        section: &str,
        version: &EntryId,
    ) -> Result<&LogEntry, ReportRuleError> {
        if !past.contains(version) {
            return Err(ReportRuleError::VersionNotInPast { version: *version });
        }
        match self.entries.get(version) {
            Some(e) if matches!(&e.payload, Some(Payload::Write(w)) if w.section == section) => {
                Ok(e)
            }
            _ => Err(ReportRuleError::NotAVersionOf {
                version: *version,
                section: section.to_string(),
            }),
        }
    }

    /// The newest versions of `section` within `past`: those no other version in `past`
    /// descends from. Usually one; two or more when writers were concurrent.
    fn latest_versions(&self, past: &IdSet, section: &str) -> Vec<EntryId> {
        let versions: Vec<&LogEntry> = past
            .iter()
            .filter_map(|id| self.entries.get(id))
            .filter(|e| matches!(&e.payload, Some(Payload::Write(w)) if w.section == section))
            .collect();
        let superseded: IdSet = versions
            .iter()
            .flat_map(|v| self.ancestors(&v.parents))
            .collect();
        let mut latest: Vec<EntryId> = versions
            .iter()
            .map(|v| v.id)
            .filter(|id| !superseded.contains(id))
            .collect();
        latest.sort();
        latest
    }

    fn check_final_coverage(
        &self,
        past: &IdSet,
        named: &BTreeMap<String, EntryId>,
        roster: &Roster,
    ) -> Result<(), ReportRuleError> {
        for name in named.keys() {
            self.known_section(name)?;
        }
        for def in &self.template.sections {
            let latest = self.latest_versions(past, &def.name);
            if latest.is_empty() && !named.contains_key(&def.name) {
                if def.required {
                    return Err(ReportRuleError::SectionMissing {
                        section: def.name.to_string(),
                    });
                }
                // An optional section nobody wrote is simply not in the report.
                continue;
            }
            let covered = named.get(&def.name).copied();
            let Some(version) = covered.filter(|v| latest.contains(v)) else {
                return Err(ReportRuleError::CoverageMismatch {
                    section: def.name.to_string(),
                    named: covered.map_or("nothing".into(), |v| v.to_hex()),
                    expected: latest
                        .iter()
                        .map(|v| v.to_hex())
                        .collect::<Vec<_>>()
                        .join(" or "),
                });
            };
            let cosigned_by = |role: Role| {
                past.iter().filter_map(|id| self.entries.get(id)).any(|e| {
                    matches!(&e.payload, Some(Payload::Cosign(c)) if c.version == version)
                        && roster.member(&e.author).map(|m| m.role) == Some(role)
                })
            };
            if let Some(role) = def.cosign_role {
                if !cosigned_by(role) {
                    return Err(ReportRuleError::CosignMissing {
                        section: def.name.to_string(),
                        role,
                    });
                }
            }
            let written = self.entries.get(&version);
            if let (Some(role), Some(w)) = (self.template.resident_countersign, written) {
                let by_resident = roster.member(&w.author).map(|m| m.role) == Some(Role::Resident);
                if by_resident && !cosigned_by(role) {
                    return Err(ReportRuleError::CountersignMissing {
                        section: def.name.to_string(),
                        role,
                    });
                }
            }
            if let Some(Payload::Write(w)) = written.and_then(|e| e.payload.as_ref()) {
                if let Some(f) = def
                    .fields
                    .iter()
                    .find(|f| f.required && !w.fields.contains_key(&f.name))
                {
                    return Err(ReportRuleError::FieldMissing {
                        section: def.name.to_string(),
                        field: f.name.clone(),
                    });
                }
            }
        }
        Ok(())
    }
}

fn refuse_after_final(final_in_past: Option<EntryId>) -> Result<(), ReportRuleError> {
    match final_in_past {
        Some(final_entry) => Err(ReportRuleError::Finalised { final_entry }),
        None => Ok(()),
    }
}
