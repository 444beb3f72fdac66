//! Building a report's view from its log: [`ReportLog::project`], entry by entry in causal order.

use std::collections::HashMap;

use countersign_ledger::{EntryId, Kind, PublicKey, Roster};

use super::provenance::note;
use super::{
    author, AddendumView, AiReviewView, AiView, Author, CosignView, CriticalView, DeliveryNote,
    EntryStatus, FieldView, FollowupClosedView, FollowupView, MeasurementView, MoveNote,
    ProvenanceItem, ReadView, ReceivedView, ReportView, ResolutionView, SectionView, SignoffView,
    VersionView,
};
use crate::log::{LogEntry, ReportLog, Standing};
use crate::payload::{Payload, Status};

fn section_of(e: &LogEntry) -> Option<String> {
    match &e.payload {
        Some(Payload::Write(w)) => Some(w.section.clone()),
        Some(Payload::Cosign(c)) => Some(c.section.clone()),
        _ => None,
    }
}

impl ReportLog {
    /// Projects the log. `status` gives each entry's verification state (from whoever holds the
    /// bytes); an authentic entry the rules refuse shows as refused and counts for nothing.
    pub fn project(&self, roster: &Roster, status: impl Fn(&EntryId) -> EntryStatus) -> ReportView {
        let ordered = self.ordered();
        // Names and key places: one roster lookup per author, not per entry (each entry's role
        // and model, which can differ between one author's entries, are `who_at`'s).
        let mut authors: std::collections::HashMap<
            [u8; 32],
            Author,
            std::hash::BuildHasherDefault<countersign_ledger::IdHasher>,
        > = Default::default();
        for e in &ordered {
            authors
                .entry(*e.author.as_bytes())
                .or_insert_with(|| author(roster, &e.author));
        }
        let who = |k: &PublicKey| {
            authors
                .get(k.as_bytes())
                .cloned()
                .unwrap_or_else(|| author(roster, k))
        };
        // Each entry's author with the role — and an AI key's model, and the name if renamed
        // since — the roster gave them for that very entry, as the rules judged it: a resident
        // promoted since still wrote their draft as a resident, and a model upgraded since
        // proposed as the version it was then.
        // (An entry no authority applies to, refused for it, shows the details the roster
        // has now.)
        let who_at = |e: &LogEntry| {
            let mut a = who(&e.author);
            if let Ok(change) = self.change_of(e, roster) {
                a.role = change.role;
                a.ai_model = change.ai_model.clone();
                a.name_then = change.name.clone().filter(|then| *then != a.name);
                if let Some(then) = &a.name_then {
                    a.formerly.retain(|n| n != then);
                }
            }
            a
        };
        let accepted = |id: &EntryId| self.standing(id).is_some_and(Standing::is_accepted);
        // Once erased, an entry's content is gone on every home, whatever bytes one of them
        // still holds for another reason (the same payload another report also names, stored
        // once): two homes holding the same entries show the same statuses.
        let erased = self.erasure().is_some();
        let erased_kind = |id: &EntryId| {
            erased
                && self
                    .get(id)
                    .is_some_and(|e| !crate::log::is_data_protection(e.kind))
        };
        let status_of = |id: &EntryId| match (status(id), self.standing(id)) {
            (EntryStatus::Verified | EntryStatus::Erased, Some(Standing::Refused(e))) => {
                EntryStatus::Refused {
                    code: e.code().to_string(),
                    reason: e.to_string(),
                }
            }
            (EntryStatus::Verified, _) if erased_kind(id) => EntryStatus::Erased,
            (s, _) => s,
        };
        let mut sections: Vec<SectionView> = self
            .template()
            .sections
            .iter()
            .map(|d| SectionView {
                name: d.name.to_string(),
                title: d.title.to_string(),
                text: None,
                cosign_role: d.cosign_role,
                required: d.required,
                fields: d
                    .fields
                    .iter()
                    .map(|f| FieldView {
                        def: f.clone(),
                        value: None,
                        display: None,
                    })
                    .collect(),
                versions: Vec::new(),
                current: None,
                signed_off_version: None,
                conflicting_versions: Vec::new(),
                concurrent: false,
            })
            .collect();
        let index: HashMap<String, usize> = sections
            .iter()
            .enumerate()
            .map(|(i, s)| (s.name.clone(), i))
            .collect();
        let in_force = self.finals_in_force(|_| true);
        let mut signoffs: Vec<SignoffView> = Vec::new();
        let mut refused_signoffs: Vec<SignoffView> = Vec::new();
        let mut resolutions = Vec::new();
        let mut addenda = Vec::new();
        let mut measurements = Vec::new();
        let mut critical = Vec::new();
        let mut followups: Vec<FollowupView> = Vec::new();
        let mut reads = Vec::new();
        let mut ai: Vec<AiView> = Vec::new();
        let mut provenance = Vec::with_capacity(ordered.len());
        let (creator, created_ms) = self.created();
        for e in &ordered {
            provenance.push(ProvenanceItem {
                entry: e.id,
                kind: e.kind,
                author: who_at(e),
                seq: e.seq,
                time_ms: e.timestamp_ms,
                parents: e.parents.clone(),
                section: section_of(e),
                status: status_of(&e.id),
                macros: match &e.payload {
                    Some(Payload::Write(w)) => w.macros.clone(),
                    _ => Vec::new(),
                },
            });
            if !accepted(&e.id) {
                if let Some(Payload::Status(s)) = &e.payload {
                    if s.status == Status::Final {
                        refused_signoffs.push(SignoffView {
                            entry: e.id,
                            author: who_at(e),
                            time_ms: e.timestamp_ms,
                            status: status_of(&e.id),
                            sections: s.sections.clone(),
                            in_force: false,
                        });
                    }
                }
                continue;
            }
            match &e.payload {
                Some(Payload::Write(w)) => {
                    if let Some(&i) = index.get(&w.section) {
                        sections[i].versions.push(VersionView {
                            entry: e.id,
                            author: who_at(e),
                            time_ms: e.timestamp_ms,
                            text: Some(w.text.clone()),
                            fields: w.fields.clone(),
                            status: status_of(&e.id),
                            cosigns: Vec::new(),
                            macros: w.macros.clone(),
                            links: w.links.clone(),
                        });
                    }
                }
                Some(Payload::Cosign(c)) => {
                    let version = index.get(&c.section).and_then(|&i| {
                        sections[i]
                            .versions
                            .iter_mut()
                            .find(|v| v.entry == c.version)
                    });
                    if let Some(v) = version {
                        v.cosigns.push(CosignView {
                            entry: e.id,
                            author: who_at(e),
                            time_ms: e.timestamp_ms,
                            status: status_of(&e.id),
                        });
                    }
                }
                Some(Payload::Status(s)) if s.status == Status::Final => {
                    signoffs.push(SignoffView {
                        entry: e.id,
                        author: who_at(e),
                        time_ms: e.timestamp_ms,
                        status: status_of(&e.id),
                        sections: s.sections.clone(),
                        in_force: in_force.contains(&e.id),
                    })
                }
                Some(Payload::Resolve(r)) => resolutions.push(ResolutionView {
                    entry: e.id,
                    author: who_at(e),
                    time_ms: e.timestamp_ms,
                    keep: r.keep,
                    note: r.note.clone(),
                    status: status_of(&e.id),
                }),
                Some(Payload::Addendum(a)) => addenda.push(AddendumView {
                    entry: e.id,
                    author: who_at(e),
                    time_ms: e.timestamp_ms,
                    text: Some(a.text.clone()),
                    status: status_of(&e.id),
                }),
                Some(Payload::Measurement(m)) => measurements.push(MeasurementView {
                    entry: e.id,
                    author: who_at(e),
                    time_ms: e.timestamp_ms,
                    measurement: m.clone(),
                    status: status_of(&e.id),
                }),
                Some(Payload::Critical(c)) => critical.push(CriticalView {
                    entry: e.id,
                    author: who_at(e),
                    time_ms: e.timestamp_ms,
                    critical: c.clone(),
                    status: status_of(&e.id),
                }),
                Some(Payload::Followup(f)) => followups.push(FollowupView {
                    entry: e.id,
                    author: who_at(e),
                    time_ms: e.timestamp_ms,
                    finding: f.finding.clone(),
                    due: f.due.clone(),
                    closed: None,
                    status: status_of(&e.id),
                }),
                Some(Payload::AiResult(r)) => ai.push(AiView {
                    entry: e.id,
                    author: who_at(e),
                    time_ms: e.timestamp_ms,
                    result: r.clone(),
                    received: None,
                    review: None,
                    status: status_of(&e.id),
                }),
                Some(Payload::AiReceived(r)) => {
                    let attester = who_at(e);
                    ai.push(AiView {
                        entry: e.id,
                        time_ms: e.timestamp_ms,
                        result: r.as_result(),
                        received: Some(ReceivedView {
                            statement: r.statement(&attester.name),
                            source: r.device_words(),
                            attestation: (**r).clone(),
                        }),
                        author: attester,
                        review: None,
                        status: status_of(&e.id),
                    })
                }
                Some(Payload::AiReview(r)) => {
                    if let Some(a) = ai.iter_mut().find(|a| a.entry == r.result) {
                        a.review = Some(AiReviewView {
                            entry: e.id,
                            reviewer: who_at(e),
                            time_ms: e.timestamp_ms,
                            decision: r.decision,
                            comment: r.comment.clone(),
                            text: r.text.clone(),
                            status: status_of(&e.id),
                        });
                    }
                }
                Some(Payload::View(v)) => reads.push(ReadView {
                    entry: e.id,
                    author: who_at(e),
                    time_ms: e.timestamp_ms,
                    sections: v.sections.clone(),
                    status: status_of(&e.id),
                }),
                // Entries come in causal order, so the recommendation is already listed.
                Some(Payload::FollowupClose(c)) => {
                    if let Some(f) = followups.iter_mut().find(|f| f.entry == c.followup) {
                        f.closed = Some(FollowupClosedView {
                            entry: e.id,
                            author: who_at(e),
                            time_ms: e.timestamp_ms,
                            study: c.study.clone(),
                        });
                    }
                }
                // An erased addendum still shows who wrote it when, without the text.
                None if e.kind == Kind::AddendumWrite => addenda.push(AddendumView {
                    entry: e.id,
                    author: who_at(e),
                    time_ms: e.timestamp_ms,
                    text: None,
                    status: status_of(&e.id),
                }),
                _ => {}
            }
        }
        let force: Vec<&SignoffView> = signoffs.iter().filter(|s| s.in_force).collect();
        for s in &mut sections {
            // What the report reads as: the version the sign-off in force covers (the text a
            // final covered never changes); in a conflict, the version all sign-offs in force
            // agree on, if they do; before sign-off, the newest accepted version.
            let covered: Vec<EntryId> = {
                let mut v: Vec<EntryId> = force
                    .iter()
                    .filter_map(|f| f.sections.get(&s.name).copied())
                    .collect();
                v.sort();
                v.dedup();
                v
            };
            let chosen = if force.is_empty() {
                let latest = self.latest_versions(&s.name, |id| accepted(id));
                s.concurrent = latest.len() > 1;
                latest.first().copied()
            } else if covered.len() == 1 {
                if force.len() == 1 {
                    s.signed_off_version = Some(covered[0]);
                }
                Some(covered[0])
            } else {
                if covered.len() > 1 {
                    s.conflicting_versions = covered;
                }
                None
            };
            s.current = chosen;
            let current = chosen.and_then(|v| s.versions.iter().find(|x| x.entry == v));
            s.text = current.and_then(|v| v.text.clone());
            for f in &mut s.fields {
                f.value = current.and_then(|v| v.fields.get(&f.def.name).cloned());
                f.display = f.value.as_deref().map(|v| f.def.display(v));
            }
        }
        let signoff = match force.as_slice() {
            [one] => Some((*one).clone()),
            _ => None,
        };
        // The same function the report list's rows are computed by.
        let status = self.state(roster);
        let mut view = ReportView {
            report: self.id(),
            study: self.binding().0.to_string(),
            template: self.template().name.clone(),
            template_title: self.template().title.clone(),
            images: self.binding().1.to_vec(),
            status,
            created_by: self.get(&self.id()).map_or_else(|| who(&creator), who_at),
            created_ms,
            sections,
            signoff,
            signoffs,
            refused_signoffs,
            resolutions,
            addenda,
            measurements,
            critical,
            followups,
            reads,
            ai,
            heads: self.heads(),
            version_heads: self.version_heads(),
            provenance,
            split_views: Vec::new(),
            erasure: self.erasure().and_then(|e| note(e, &who_at)),
            unreadable: self.unreadable() && self.erasure().is_none(),
            locked: false,
            sealed: matches!(self.sealing(), crate::Sealing::Sealed { .. }),
            restriction: self.restricted().and_then(|e| note(e, &who_at)),
            restrictions: self
                .ordered()
                .into_iter()
                .filter(|e| e.kind == Kind::ReportRestrict)
                .filter(|e| self.standing(&e.id).is_some_and(Standing::is_accepted))
                .filter_map(|e| note(e, &who_at))
                .collect(),
            moves: self
                .moves()
                .into_iter()
                .filter_map(|(e, from)| match &e.payload {
                    Some(Payload::Move(m)) => Some(MoveNote {
                        entry: e.id,
                        by: who_at(e),
                        time_ms: e.timestamp_ms,
                        from,
                        to: m.study.clone(),
                        reason: m.reason.clone(),
                    }),
                    _ => None,
                })
                .collect(),
            deliveries: Vec::new(),
            rejections: Vec::new(),
        };
        for e in self.ordered() {
            if !self.standing(&e.id).is_some_and(Standing::is_accepted) {
                continue;
            }
            if let Some(Payload::Delivered(d)) = &e.payload {
                let note = DeliveryNote {
                    entry: e.id,
                    by: who_at(e),
                    time_ms: e.timestamp_ms,
                    archive: d.archive.clone(),
                    version: d.version,
                    study: d.study.clone(),
                    sop_instances: d.instances.iter().map(|i| i.sop_instance.clone()).collect(),
                    rejection_note: d.rejection_note.clone(),
                };
                if note.rejection_note.is_some() {
                    view.rejections.push(note);
                } else {
                    view.deliveries.push(note);
                }
            }
        }
        if view.restriction.is_some() {
            view.withhold_content();
        }
        view
    }
}
