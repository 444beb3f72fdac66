//! What an entry about the report's content names, checked against its past: a section of the
//! template, field values of their type, macros that apply, links to the report's own images
//! and measurements, the version it co-signs, the AI result it reviews, the follow-up it
//! closes; and whether an AI model was granted the report. Apart from `signoff`, which judges
//! what a sign-off covers.

use countersign_ledger::{EntryId, Kind, Roster};

use super::ReportRuleError;
use crate::links;
use crate::log::{LogEntry, ReportLog, Standing};
use crate::payload::Payload;
use crate::template;

impl ReportLog {
    pub(super) fn known_section(
        &self,
        section: &str,
    ) -> Result<&template::SectionDef, ReportRuleError> {
        self.template
            .section(section)
            .ok_or_else(|| ReportRuleError::UnknownSection {
                section: section.to_string(),
                template: self.template.name.to_string(),
            })
    }

    /// A version of a section: a known section, some text or field values, and every value of
    /// a field the section has, valid for its type.
    pub(super) fn check_write(
        &self,
        w: &crate::payload::SectionWrite,
    ) -> Result<(), ReportRuleError> {
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

    /// The macros a write names are built in or published to the roster (name and content
    /// hash), and each applies to this section of this report's template. Judged against the
    /// roster the entries held resolve to, like a report's template: a write that reached a
    /// home before the macro's publication stands once the publication arrives.
    pub(super) fn check_macros(
        &self,
        w: &crate::payload::SectionWrite,
        roster: &Roster,
    ) -> Result<(), ReportRuleError> {
        for r in &w.macros {
            let m =
                crate::macros::resolve(roster, r).ok_or_else(|| ReportRuleError::UnknownMacro {
                    name: r.name.clone(),
                    hash: r.hash.to_hex(),
                })?;
            if !m.applies_to(&self.template.name, &w.section) {
                return Err(ReportRuleError::MacroNotApplicable {
                    name: m.name,
                    template: self.template.name.clone(),
                    section: w.section.clone(),
                });
            }
        }
        Ok(())
    }

    /// A version's links: well formed and all referred to by its text, each to one of the
    /// images the report is bound to in the entry's past (of its study), and a length to an
    /// accepted measurement in that past that it shows exactly.
    pub(super) fn check_links(
        &self,
        parents: &[EntryId],
        w: &crate::payload::SectionWrite,
    ) -> Result<(), ReportRuleError> {
        links::check_shape(&w.section, &w.text, &w.links)?;
        if w.links.is_empty() {
            return Ok(());
        }
        let (study, images) = self.binding_in_past(parents);
        links::check_binding(&w.links, study, images)?;
        for l in &w.links {
            let Some(m) = l.measurement else { continue };
            let accepted =
                self.standing(&m).is_some_and(Standing::is_accepted) && self.in_past(&m, parents);
            let measurement = match self.accepted_payload(&m) {
                Some(Payload::Measurement(p)) if accepted => Some(p),
                _ => None,
            };
            links::check_measurement(l, measurement)?;
        }
        Ok(())
    }

    pub(super) fn version_in_past(
        &self,
        parents: &[EntryId],
        section: &str,
        version: &EntryId,
    ) -> Result<&LogEntry, ReportRuleError> {
        let accepted = self.standing(version).is_some_and(Standing::is_accepted);
        if !(accepted && self.in_past(version, parents)) {
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

    pub(super) fn accepted_payload(&self, id: &EntryId) -> Option<&Payload> {
        self.entries.get(id).and_then(|e| e.payload.as_ref())
    }

    /// Whether an attending granted `model` this report in the past of `parents` and has not
    /// revoked it since.
    pub(super) fn granted(
        &self,
        model: &countersign_ledger::PublicKey,
        parents: &[EntryId],
    ) -> bool {
        self.access_granted(model, |id| self.in_past(id, parents))
    }

    /// Whether `member` may read this report now. (People on the roster read every report;
    /// this is what an AI model's node is sent.)
    pub fn reads_granted(&self, member: &countersign_ledger::PublicKey) -> bool {
        self.access_granted(member, |_| true)
    }

    /// Whether the latest of `member`'s accepted access changes that `within` admits — those
    /// no other such change has in its past — are all grants. Concurrent grant and revocation:
    /// not granted (an AI model's access is withheld until an attending settles it). Only the
    /// member's few changes are compared; no sort of the log.
    fn access_granted(
        &self,
        member: &countersign_ledger::PublicKey,
        within: impl Fn(&EntryId) -> bool,
    ) -> bool {
        let changes: Vec<EntryId> = self
            .index
            .access
            .iter()
            .filter(|id| within(id))
            .filter(|id| {
                matches!(self.accepted_payload(id), Some(Payload::Access(a)) if a.member == *member)
            })
            .copied()
            .collect();
        let mut latest = changes.iter().filter(|c| {
            !changes
                .iter()
                .any(|other| other != *c && self.dag.in_past(c, other))
        });
        let mut any = false;
        let all_grants = latest.all(|c| {
            any = true;
            self.entries
                .get(c)
                .is_some_and(|e| e.kind == Kind::AccessGrant)
        });
        any && all_grants
    }

    /// A review names an AI result in its past that no review in its past names.
    pub(super) fn check_ai_review(
        &self,
        parents: &[EntryId],
        result: EntryId,
    ) -> Result<(), ReportRuleError> {
        let known = self.index.ai_results.contains(&result) && self.in_past(&result, parents);
        if !known {
            return Err(ReportRuleError::UnknownAiResult { result });
        }
        let earlier = self
            .index
            .ai_reviews
            .get(&result)
            .and_then(|rs| rs.iter().filter(|r| self.in_past(r, parents)).min());
        match earlier {
            Some(&review) => Err(ReportRuleError::AlreadyReviewed { result, review }),
            None => Ok(()),
        }
    }

    /// A close names a recommendation in its past that no close in its past names.
    pub(super) fn check_followup_close(
        &self,
        parents: &[EntryId],
        followup: EntryId,
    ) -> Result<(), ReportRuleError> {
        if !(self.index.followups.contains(&followup) && self.in_past(&followup, parents)) {
            return Err(ReportRuleError::UnknownFollowup { followup });
        }
        let earlier = self
            .index
            .followup_closes
            .get(&followup)
            .and_then(|cs| cs.iter().filter(|c| self.in_past(c, parents)).min());
        match earlier {
            Some(&closed_by) => Err(ReportRuleError::FollowupClosed {
                followup,
                closed_by,
            }),
            None => Ok(()),
        }
    }
}
