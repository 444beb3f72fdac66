//! Reports built by signing real entries in memory, for examples, tests and benchmarks: every
//! export is exercised on a projection the report rules accepted, not on a hand-made view.

use std::collections::BTreeMap;

use countersign_ledger::{EntryId, Kind, LogId, Role};
use countersign_report::accept::Verdict;
use countersign_report::fixture::Department;
use countersign_report::payload::{
    AccessChange, AddendumWrite, AiResult, AiReview, Channel, CriticalResult, Decision,
    FollowupRecommend, ReportResolve, ReportStatus, SectionCosign, SectionWrite, Status,
};
use countersign_report::template::{SectionDef, Template};
use countersign_report::Payload;
use countersign_report::Standing;
use serde::Serialize;

use crate::{ExportInput, ImageRef, StudyInfo};

const T0: u64 = 1_764_000_000_000;

/// The shared fixture's department, writing one report a minute apart.
struct Signer {
    dept: Department,
    report: Option<LogId>,
}

impl Signer {
    /// Signs `payload` as `who` on top of the report's heads through the acceptance path.
    fn sign<T: Serialize>(&mut self, who: &str, kind: Kind, payload: &T) -> EntryId {
        self.dept
            .append(who, self.report, kind, payload)
            .expect("example entries follow the report rules")
    }

    /// Signs `payload` as `who` on `parents` (not the heads): a writer who had not seen
    /// everything; the entry must still be accepted.
    fn sign_on<T: Serialize>(
        &mut self,
        who: &str,
        parents: Vec<EntryId>,
        kind: Kind,
        payload: &T,
    ) -> EntryId {
        let bytes = Payload::to_bytes(payload);
        let entry = self
            .dept
            .sign(who, self.report, kind, &bytes, Some(parents));
        let id = entry.id();
        match self.dept.store(entry, bytes) {
            Ok(Verdict::New(Standing::Accepted)) => id,
            other => panic!("example entry not accepted: {other:?}"),
        }
    }

    fn latest(&mut self, section: &str) -> EntryId {
        let view = self.view();
        let s = view.sections.iter().find(|s| s.name == section);
        s.and_then(|s| s.current).expect("section written")
    }

    fn view(&mut self) -> countersign_report::ReportView {
        self.dept.view(self.report.expect("report created"))
    }
}

fn department() -> Signer {
    Signer {
        dept: Department::starting_at(T0, 60_000),
        report: None,
    }
}

const IMAGE: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

fn write(section: &str, text: &str, fields: &[(&str, &str)]) -> SectionWrite {
    SectionWrite {
        section: section.into(),
        text: text.into(),
        fields: fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        macros: Vec::new(),
        links: Vec::new(),
    }
}

/// The texts of [`conflict`]: what each sign-off covers, and a write refused after sign-off.
pub const CONFLICT_TEXTS: ConflictTexts = ConflictTexts {
    first_impression: "Solitary 6 mm nodule in the right upper lobe; CT in 12 months.",
    second_impression: "No significant abnormality.",
    first_findings: "A 6 mm solid nodule in the right upper lobe.",
    second_findings: "A 4 mm perifissural nodule, most likely a lymph node.",
    refused: "Rewritten after sign-off (this write is refused).",
};

/// See [`CONFLICT_TEXTS`].
#[derive(Debug, Clone, Copy)]
pub struct ConflictTexts {
    pub first_impression: &'static str,
    pub second_impression: &'static str,
    pub first_findings: &'static str,
    pub second_findings: &'static str,
    pub refused: &'static str,
}

/// A CT chest signed off twice by sign-offs that do not descend from each other: Dr Ada signs
/// off what she wrote; Dr Bob, working from the report as it was before her sign-off, rewrites
/// the findings and impression and signs off his versions. The technique both cover is the
/// same. Then a write on top of both sign-offs, refused (the report is final): authentic and
/// kept, counting for nothing. With `resolve`, Dr Ada then keeps her sign-off.
pub fn conflict(resolve: bool) -> ExportInput {
    let t = CONFLICT_TEXTS;
    let mut s = department();
    let study = "2.25.777";
    let template = countersign_report::template("ct-chest").expect("built in");
    let report = s.dept.report_on("ada", template, study, vec![IMAGE.into()]);
    s.report = Some(report);
    s.sign(
        "ada",
        Kind::SectionWrite,
        &write(
            "technique",
            "Low-dose CT, no contrast.",
            &[("contrast", "none")],
        ),
    );
    s.sign(
        "ada",
        Kind::SectionWrite,
        &write(
            "findings",
            t.first_findings,
            &[("largest-nodule", "6"), ("lung-rads", "3")],
        ),
    );
    s.sign(
        "ada",
        Kind::SectionWrite,
        &write("impression", t.first_impression, &[]),
    );
    let before = s.view().heads;
    let covered: BTreeMap<String, EntryId> = ["technique", "findings", "impression"]
        .iter()
        .map(|n| (n.to_string(), s.latest(n)))
        .collect();
    let first = s.sign(
        "ada",
        Kind::ReportStatus,
        &ReportStatus {
            status: Status::Final,
            sections: covered.clone(),
        },
    );
    // Dr Bob's chain starts from the heads before Dr Ada's sign-off (an offline laptop, say).
    let mut parents = before;
    let mut theirs = covered;
    for (section, text, fields) in [
        (
            "findings",
            t.second_findings,
            &[("largest-nodule", "4"), ("lung-rads", "2")][..],
        ),
        ("impression", t.second_impression, &[][..]),
    ] {
        let id = s.sign_on(
            "bob",
            parents,
            Kind::SectionWrite,
            &write(section, text, fields),
        );
        theirs.insert(section.into(), id);
        parents = vec![id];
    }
    s.sign_on(
        "bob",
        parents,
        Kind::ReportStatus,
        &ReportStatus {
            status: Status::Final,
            sections: theirs,
        },
    );
    // On top of both sign-offs: refused (finalised), kept as evidence.
    let bytes = Payload::to_bytes(&write("impression", t.refused, &[]));
    let e = s
        .dept
        .sign("bob", Some(report), Kind::SectionWrite, &bytes, None);
    s.dept.store(e, bytes).expect("stored, refused");
    if resolve {
        // By the other attending: nobody keeps their own sign-off.
        s.sign(
            "bob",
            Kind::ReportResolve,
            &ReportResolve {
                keep: first,
                note: "I signed off without seeing the final report.".into(),
            },
        );
    }
    let mut input = finish(s, study);
    input.study.modality = Some("CT".into());
    input.study.description = Some("CT chest".into());
    input
}

fn finish(mut s: Signer, study: &str) -> ExportInput {
    ExportInput {
        view: s.view(),
        network: s.dept.network(),
        network_name: s.dept.ledger.roster().name().to_string(),
        study: StudyInfo {
            uid: study.into(),
            patient_name: Some("Phantom^Shepp-Logan".into()),
            patient_id: Some("PHANTOM-0001".into()),
            study_date: Some("20260101".into()),
            modality: Some("MR".into()),
            description: Some("Cardiac MR".into()),
        },
        images: vec![ImageRef {
            sha256: IMAGE.into(),
            sop_class_uid: "1.2.840.10008.5.1.4.1.1.4".into(),
            sop_instance_uid: "2.25.1001".into(),
            series_uid: "2.25.1000".into(),
            frames: 1,
        }],
        signatures: s.dept.signatures(s.report.expect("report created")),
        exported_ms: s.dept.clock + 60_000,
        thumbnails: Vec::new(),
    }
}

/// A cardiac MR written by a resident and an attending, an AI draft edited by the attending,
/// the cardiac section co-signed by a cardiologist, a critical result, sign-off, a follow-up
/// and an addendum.
pub(crate) fn input() -> ExportInput {
    input_with_lvef("58")
}

/// [`input`] with the cardiac section's LV ejection fraction signed as `lvef` (any decimal the
/// template accepts: `000055` is 55).
pub(crate) fn input_with_lvef(lvef: &str) -> ExportInput {
    let mut s = department();
    let study = "2.25.999";
    let template = countersign_report::template("cardiac-mr").expect("built in");
    s.report = Some(s.dept.report_on("ada", template, study, vec![IMAGE.into()]));
    // The AI model may write only to a report an attending granted it.
    let model = AccessChange {
        member: s.dept.public("ai"),
    };
    s.sign("ada", Kind::AccessGrant, &model);
    s.sign(
        "rex",
        Kind::SectionWrite,
        &write("technique", "Cine SSFP; LGE after gadobutrol.", &[]),
    );
    let technique = s.latest("technique");
    s.sign(
        "ada",
        Kind::SectionCosign,
        &SectionCosign {
            section: "technique".into(),
            version: technique,
        },
    );
    let ai = s.sign(
        "ai",
        Kind::AiResult,
        &AiResult {
            model: "SoftTissue".into(),
            version: "2.1".into(),
            inputs: vec![IMAGE.into()],
            parameters: [("window".to_string(), "0..100 HU".to_string())].into(),
            outputs: [("area_mm2".to_string(), "1234".to_string())].into(),
            section: "findings".into(),
            text: "Soft tissue area 1234 mm2, mean 42 HU.".into(),
        },
    );
    s.sign(
        "ada",
        Kind::AiReview,
        &AiReview {
            result: ai,
            decision: Decision::Edit,
            text: Some("Normal LV size. Soft tissue area 1234 mm2 (AI).".into()),
            comment: Some("Kept the measurement.".into()),
        },
    );
    s.sign(
        "ada",
        Kind::SectionWrite,
        &write(
            "findings",
            "Normal LV size. Soft tissue area 1234 mm2 (AI).",
            &[],
        ),
    );
    s.sign(
        "ada",
        Kind::SectionWrite,
        &write(
            "cardiac",
            "LVEF 58 %, no scar — “normal” function.",
            &[("lvef", lvef), ("lge", "none")],
        ),
    );
    let cardiac = s.latest("cardiac");
    s.sign(
        "cara",
        Kind::SectionCosign,
        &SectionCosign {
            section: "cardiac".into(),
            version: cardiac,
        },
    );
    s.sign(
        "ada",
        Kind::SectionWrite,
        &write("impression", "Structurally normal heart.", &[]),
    );
    s.sign(
        "ada",
        Kind::CriticalResult,
        &CriticalResult {
            finding: "Incidental 9 mm lung nodule".into(),
            to: "Dr Hale (referrer)".into(),
            via: Channel::Phone,
            communicated_ms: T0 + 500_000,
            read_back: true,
        },
    );
    let sections: BTreeMap<String, EntryId> = ["technique", "findings", "cardiac", "impression"]
        .iter()
        .map(|n| (n.to_string(), s.latest(n)))
        .collect();
    s.sign(
        "ada",
        Kind::ReportStatus,
        &ReportStatus {
            status: Status::Final,
            sections,
        },
    );
    s.sign(
        "ada",
        Kind::FollowupRecommend,
        &FollowupRecommend {
            finding: "Repeat MR in 12 months".into(),
            due: "2027-11-25".into(),
        },
    );
    s.sign(
        "ada",
        Kind::AddendumWrite,
        &AddendumWrite {
            text: "Compared with the outside CT: unchanged.".into(),
        },
    );
    finish(s, study)
}

/// A cardiac MR whose findings took an AI draft (accepted) and then rejected a later one, and
/// whose impression rejected the only draft it had: every decision must be said, and only a
/// draft a reviewer took makes its model an observer of the section.
#[cfg(test)]
pub(crate) fn ai_accepted_then_rejected() -> ExportInput {
    let mut s = department();
    let study = "2.25.998";
    let template = countersign_report::template("cardiac-mr").expect("built in");
    s.report = Some(s.dept.report_on("ada", template, study, vec![IMAGE.into()]));
    let model = AccessChange {
        member: s.dept.public("ai"),
    };
    s.sign("ada", Kind::AccessGrant, &model);
    let result = |section: &str, text: &str| AiResult {
        model: "SoftTissue".into(),
        version: "2.1".into(),
        inputs: vec![IMAGE.into()],
        parameters: BTreeMap::new(),
        outputs: BTreeMap::new(),
        section: section.into(),
        text: text.into(),
    };
    let review = |result, decision| AiReview {
        result,
        decision,
        text: None,
        comment: None,
    };
    let accepted = s.sign("ai", Kind::AiResult, &result("findings", "Normal LV size."));
    s.sign("ada", Kind::AiReview, &review(accepted, Decision::Accept));
    s.sign(
        "ada",
        Kind::SectionWrite,
        &write("findings", "Normal LV size.", &[]),
    );
    let later = s.sign("ai", Kind::AiResult, &result("findings", "Dilated LV."));
    s.sign("ada", Kind::AiReview, &review(later, Decision::Reject));
    let only = s.sign(
        "ai",
        Kind::AiResult,
        &result("impression", "Cardiomyopathy."),
    );
    s.sign("ada", Kind::AiReview, &review(only, Decision::Reject));
    s.sign(
        "ada",
        Kind::SectionWrite,
        &write("impression", "Structurally normal heart.", &[]),
    );
    finish(s, study)
}

/// A report to a generated template of `n` sections, each written by the attending and
/// co-signed by the cardiologist, then signed off: the benchmarks' "50-section report".
pub fn sections(n: usize) -> ExportInput {
    let mut s = department();
    let template = Template {
        name: "many".into(),
        title: format!("{n}-section report"),
        sections: (0..n)
            .map(|i| SectionDef {
                name: format!("s{i}"),
                title: format!("Section {i}"),
                required: true,
                cosign_role: Some(Role::Cardiologist),
                fields: vec![],
            })
            .collect(),
        resident_countersign: None,
    };
    // A template of the department's own: published to the roster before a report uses it.
    s.dept.publish(&template);
    s.report = Some(
        s.dept
            .report_on("ada", &template, "2.25.4242", vec![IMAGE.into()]),
    );
    let mut covered = BTreeMap::new();
    for i in 0..n {
        let name = format!("s{i}");
        let text = format!(
            "Section {i}: {}",
            "normal appearances without acute abnormality. ".repeat(4)
        );
        let v = s.sign("ada", Kind::SectionWrite, &write(&name, &text, &[]));
        s.sign(
            "cara",
            Kind::SectionCosign,
            &SectionCosign {
                section: name.clone(),
                version: v,
            },
        );
        covered.insert(name, v);
    }
    s.sign(
        "ada",
        Kind::ReportStatus,
        &ReportStatus {
            status: Status::Final,
            sections: covered,
        },
    );
    finish(s, "2.25.4242")
}

/// A report created by a key revoked before it signed: authentic, stored, refused (`revoked`).
#[cfg(test)]
pub(crate) fn refused() -> ExportInput {
    use countersign_ledger::roster::{Frontier, RevokePayload};
    let mut s = department();
    let revoke = RevokePayload {
        key: s.dept.public("bob"),
        reason: "laptop stolen".into(),
        frontier: Frontier::new(),
    };
    s.dept
        .roster_entry("ada", Kind::RosterRevoke, &revoke)
        .expect("revoked");
    let template = countersign_report::template("ct-chest").expect("built in");
    let create = countersign_report::payload::ReportCreate {
        study: "2.25.666".into(),
        template: template.name.clone(),
        template_hash: template.content_hash(),
        images: vec![IMAGE.into()],
    };
    let bytes = Payload::to_bytes(&create);
    let entry = s.dept.sign("bob", None, Kind::ReportCreate, &bytes, None);
    s.report = Some(entry.id());
    let verdict = s.dept.store(entry, bytes);
    assert!(
        matches!(verdict, Ok(Verdict::New(Standing::Refused(_)))),
        "{verdict:?}"
    );
    finish(s, "2.25.666")
}
