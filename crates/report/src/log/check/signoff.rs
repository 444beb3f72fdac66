//! What a sign-off covers: a final's sections (each current version named, co-signed, required
//! fields filled) and AI results (each reviewed), no unfilled macro field; which finals stand
//! when sign-offs conflict and what a resolution may keep; the signed version a delivery
//! names. Apart from `sections`, which checks the entries a report is written with.

use std::collections::BTreeMap;

use countersign_ledger::{EntryId, IdSet, Role, Roster};

use super::ReportRuleError;
use crate::log::{ReportLog, Standing};
use crate::payload::{Payload, Status};

impl ReportLog {
    pub(super) fn check_final_coverage(
        &self,
        parents: &[EntryId],
        named: &BTreeMap<String, EntryId>,
        roster: &Roster,
    ) -> Result<(), ReportRuleError> {
        for name in named.keys() {
            self.known_section(name)?;
        }
        let within = |id: &EntryId| self.in_past(id, parents);
        for def in &self.template.sections {
            let latest = self.latest_versions(&def.name, within);
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
            let Some(written) = self.entries.get(&version) else {
                continue;
            };
            let written_role = self.role_of(written, roster).ok();
            // A role's signature on the version: its own author in that role, or an accepted
            // co-signature in the past by someone else in that role.
            let signed_by = |role: Role| {
                written_role == Some(role)
                    || self.index.cosigns.get(&version).is_some_and(|cs| {
                        cs.iter().filter(|c| within(c)).any(|c| {
                            self.entries
                                .get(c)
                                .is_some_and(|c| self.role_of(c, roster).ok() == Some(role))
                        })
                    })
            };
            if let Some(role) = def.cosign_role {
                if !signed_by(role) {
                    return Err(ReportRuleError::CosignMissing {
                        section: def.name.to_string(),
                        role,
                    });
                }
            }
            if let Some(role) = self.template.resident_countersign {
                // The resident's own signature is not the attending's.
                let countersigned = self.index.cosigns.get(&version).is_some_and(|cs| {
                    cs.iter().filter(|c| within(c)).any(|c| {
                        self.entries
                            .get(c)
                            .is_some_and(|c| self.role_of(c, roster).ok() == Some(role))
                    })
                });
                if written_role == Some(Role::Resident) && !countersigned {
                    return Err(ReportRuleError::CountersignMissing {
                        section: def.name.to_string(),
                        role,
                    });
                }
            }
            if let Some(Payload::Write(w)) = written.payload.as_ref() {
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

    /// The newest accepted versions of `section` among those `within` admits: those no other
    /// such version has in its past. Usually one; two or more when writers were concurrent,
    /// ordered by how much each saw (its causal depth), then by id — never by a timestamp.
    pub(crate) fn latest_versions(
        &self,
        section: &str,
        within: impl Fn(&EntryId) -> bool,
    ) -> Vec<EntryId> {
        let mut versions: Vec<(u64, EntryId)> = self
            .index
            .versions
            .get(section)
            .map(|v| {
                v.iter()
                    .filter(|id| within(id))
                    .map(|id| (self.dag.depth(id), *id))
                    .collect()
            })
            .unwrap_or_default();
        versions.sort_unstable_by(|a, b| b.cmp(a));
        let mut latest: Vec<EntryId> = Vec::new();
        for (_, v) in versions {
            if !latest.iter().any(|l| self.dag.in_past(&v, l)) {
                latest.push(v);
            }
        }
        latest
    }

    /// Sign-off needs every AI result in its past reviewed in its past.
    pub(super) fn check_ai_reviewed(&self, parents: &[EntryId]) -> Result<(), ReportRuleError> {
        let unreviewed = self
            .index
            .ai_results
            .iter()
            .filter(|r| self.in_past(r, parents))
            .filter(|result| {
                !self
                    .index
                    .ai_reviews
                    .get(result)
                    .is_some_and(|rs| rs.iter().any(|r| self.in_past(r, parents)))
            })
            .min();
        match unreviewed {
            Some(result) => Err(ReportRuleError::UnreviewedAi { result: *result }),
            None => Ok(()),
        }
    }

    /// A sign-off (final or preliminary) covers no section version whose text still holds a
    /// `[field]` of a macro that version names. It covers the versions it names, or — a
    /// preliminary naming none — the newest accepted versions in its past.
    pub(super) fn check_filled(
        &self,
        parents: &[EntryId],
        named: &BTreeMap<String, EntryId>,
        roster: &Roster,
    ) -> Result<(), ReportRuleError> {
        let within = |id: &EntryId| self.in_past(id, parents);
        for def in &self.template.sections {
            let versions = match named.get(&def.name) {
                Some(v) => vec![*v],
                None if named.is_empty() => self.latest_versions(&def.name, within),
                None => continue,
            };
            for v in versions {
                let Some(Payload::Write(w)) = self.entries.get(&v).and_then(|e| e.payload.as_ref())
                else {
                    continue;
                };
                let refs = self.macros_in_force(&def.name, &v, w);
                let fields = crate::macros::unfilled_with(roster, &w.text, &refs);
                if !fields.is_empty() {
                    return Err(ReportRuleError::FieldUnfilled {
                        section: def.name.clone(),
                        title: def.title.clone(),
                        fields,
                    });
                }
            }
        }
        Ok(())
    }

    /// The macros section version `v` answers for: its own, and those of every earlier
    /// accepted version of the section in its past. A later version (a plain write, or one
    /// naming another macro) that leaves a macro's `[field]` in its text without naming the
    /// macro does not turn the field into literal text. Judged from the causal past alone.
    fn macros_in_force(
        &self,
        section: &str,
        v: &EntryId,
        w: &crate::payload::SectionWrite,
    ) -> Vec<crate::macros::MacroRef> {
        let mut refs = w.macros.clone();
        let earlier = self.index.versions.get(section).into_iter().flatten();
        for x in earlier.filter(|x| *x != v && self.dag.in_past(x, v)) {
            if let Some(Payload::Write(p)) = self.entries.get(x).and_then(|e| e.payload.as_ref()) {
                for r in &p.macros {
                    if !refs.contains(r) {
                        refs.push(r.clone());
                    }
                }
            }
        }
        refs
    }

    /// A resolution names one of the sign-offs in conflict in its past, signed by someone
    /// else: the text that stands gets a second attending's signature, so one key (a stolen
    /// one) cannot both write a rival sign-off and settle the conflict in its favour.
    pub(super) fn check_resolve(
        &self,
        parents: &[EntryId],
        keep: EntryId,
        resolver: &countersign_ledger::PublicKey,
    ) -> Result<(), ReportRuleError> {
        let in_force = self.finals_in_force(|id| self.in_past(id, parents));
        if in_force.len() < 2 {
            return Err(ReportRuleError::NoConflict);
        }
        if !in_force.contains(&keep) {
            return Err(ReportRuleError::NotAConflictingFinal { keep });
        }
        if self
            .entries
            .get(&keep)
            .is_some_and(|f| f.author == *resolver)
        {
            return Err(ReportRuleError::SelfResolve { keep });
        }
        Ok(())
    }

    /// The accepted finals (among those `within` admits) that no accepted resolution (among
    /// those `within` admits) superseded: one means final, more mean a conflict. A resolution
    /// supersedes every final in its past but the one it keeps; a resolution that another
    /// resolution has in its past is replaced by it.
    pub(crate) fn finals_in_force(&self, within: impl Fn(&EntryId) -> bool) -> Vec<EntryId> {
        let finals: Vec<EntryId> = self
            .index
            .finals
            .iter()
            .filter(|f| within(f))
            .copied()
            .collect();
        let resolves: Vec<EntryId> = self
            .index
            .resolves
            .iter()
            .filter(|r| within(r))
            .copied()
            .collect();
        let latest: Vec<EntryId> = resolves
            .iter()
            .filter(|r| {
                !resolves
                    .iter()
                    .any(|other| other != *r && self.dag.in_past(r, other))
            })
            .copied()
            .collect();
        let mut kept: Vec<EntryId> = Vec::new();
        let mut superseded = IdSet::default();
        for r in &latest {
            let Some(Payload::Resolve(p)) = self.accepted_payload(r) else {
                continue;
            };
            kept.push(p.keep);
            for f in finals
                .iter()
                .filter(|f| self.dag.in_past(f, r) && **f != p.keep)
            {
                superseded.insert(*f);
            }
        }
        let mut in_force: Vec<EntryId> = finals
            .into_iter()
            .filter(|f| !superseded.contains(f) || kept.contains(f))
            .collect();
        in_force.sort();
        in_force.dedup();
        in_force
    }

    /// `version` is an accepted final sign-off, addendum or resolution in the past of `parents`.
    pub(super) fn check_delivered(
        &self,
        parents: &[EntryId],
        version: &EntryId,
    ) -> Result<(), ReportRuleError> {
        let accepted = self.standing(version).is_some_and(Standing::is_accepted);
        if !(accepted && self.in_past(version, parents)) {
            return Err(ReportRuleError::VersionNotInPast { version: *version });
        }
        match self.entries.get(version).and_then(|e| e.payload.as_ref()) {
            Some(Payload::Status(s)) if s.status == Status::Final => Ok(()),
            Some(Payload::Addendum(_) | Payload::Resolve(_)) => Ok(()),
            _ => Err(ReportRuleError::NotASignedVersion { version: *version }),
        }
    }
}
