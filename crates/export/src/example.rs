//! Reports built by signing real entries in memory, for examples, tests and benchmarks: every
//! export is exercised on a projection the report rules accepted, not on a hand-made view.

use std::collections::BTreeMap;

use countersign_ledger::roster::{AiModelInfo, GenesisPayload, MemberPayload};
use countersign_ledger::{Entry, EntryId, Hash, Header, Kind, Role, Roster, SecretKey};
use countersign_report::payload::{
    AddendumWrite, AiResult, AiReview, Channel, CriticalResult, Decision, FollowupRecommend,
    ReportCreate, ReportStatus, SectionCosign, SectionWrite, Status,
};
use countersign_report::template::{SectionDef, Template};
use countersign_report::{EntryStatus, LogEntry, Payload, ReportLog};
use serde::Serialize;

use crate::{ExportInput, ImageRef, StudyInfo};

const T0: u64 = 1_764_000_000_000;

struct Signer {
    roster: Roster,
    log: Option<ReportLog>,
    seqs: BTreeMap<[u8; 32], u64>,
    clock: u64,
    signatures: BTreeMap<EntryId, [u8; 64]>,
    network: Hash,
}

fn member(key: &SecretKey, name: &str, role: Role, ai: Option<AiModelInfo>) -> MemberPayload {
    MemberPayload {
        key: key.public(),
        name: name.into(),
        role,
        admin: role == Role::Attending,
        valid_from: 0,
        valid_until: None,
        devices: vec![],
        ai_model: ai,
    }
}

impl Signer {
    /// Signs `payload` on top of the log's heads, checks it against the report rules and keeps it.
    fn sign<T: Serialize>(&mut self, key: &SecretKey, kind: Kind, payload: &T) -> EntryId {
        let bytes = Payload::to_bytes(payload);
        let seq = self.seqs.entry(*key.public().as_bytes()).or_insert(0);
        *seq += 1;
        self.clock += 60_000;
        let (log_id, parents) = match &self.log {
            Some(l) => (l.id(), l.heads()),
            None => (Hash::ZERO, vec![]),
        };
        let header = Header::new(
            self.network,
            log_id,
            key.public(),
            *seq,
            self.clock,
            kind,
            parents,
            &bytes,
        );
        let entry = Entry::sign(header, key).expect("example entries are well formed");
        self.signatures.insert(entry.id(), *entry.signature());
        match &mut self.log {
            None => self.log = Some(ReportLog::new(&entry, &bytes).expect("a valid report.create")),
            Some(log) => {
                let parsed = Payload::parse(kind, &bytes).expect("example payloads parse");
                log.check(&entry, &parsed, &self.roster)
                    .expect("example entries follow the report rules");
                log.insert(LogEntry::new(&entry, Some(parsed)));
            }
        }
        entry.id()
    }

    fn latest(&self, section: &str) -> EntryId {
        let view = self.view();
        let s = view.sections.iter().find(|s| s.name == section);
        s.and_then(|s| s.versions.last())
            .map(|v| v.entry)
            .expect("section written")
    }

    fn view(&self) -> countersign_report::ReportView {
        self.log
            .as_ref()
            .expect("report created")
            .project(&self.roster, |_| EntryStatus::Verified)
    }
}

struct Cast {
    attending: SecretKey,
    resident: SecretKey,
    cardiologist: SecretKey,
    model: SecretKey,
}

fn department() -> (Signer, Cast) {
    let cast = Cast {
        attending: SecretKey::from_seed(&[1; 32]),
        resident: SecretKey::from_seed(&[2; 32]),
        cardiologist: SecretKey::from_seed(&[3; 32]),
        model: SecretKey::from_seed(&[4; 32]),
    };
    let mut roster = Roster::default();
    let a = cast.attending.public();
    let genesis = GenesisPayload {
        name: "Radiology, St Elsewhere".into(),
        founder: member(&cast.attending, "Dr Ada Attending", Role::Attending, None),
    };
    roster
        .apply(Kind::NetworkGenesis, &a, &Payload::to_bytes(&genesis))
        .expect("genesis");
    let model = AiModelInfo {
        vendor: "Countersign Labs".into(),
        model: "SoftTissue".into(),
        version: "2.1".into(),
        regulatory_id: Some("CE 0123".into()),
    };
    for (k, n, r, ai) in [
        (&cast.resident, "Dr Rhea Resident", Role::Resident, None),
        (
            &cast.cardiologist,
            "Dr Carl Cardio",
            Role::Cardiologist,
            None,
        ),
        (&cast.model, "SoftTissue", Role::AiModel, Some(model)),
    ] {
        roster
            .apply(
                Kind::RosterMember,
                &a,
                &Payload::to_bytes(&member(k, n, r, ai)),
            )
            .expect("member");
    }
    let signer = Signer {
        roster,
        log: None,
        seqs: BTreeMap::new(),
        clock: T0,
        signatures: BTreeMap::new(),
        network: Hash::of(b"example network"),
    };
    (signer, cast)
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
    }
}

fn finish(s: Signer, study: &str) -> ExportInput {
    ExportInput {
        view: s.view(),
        network: s.network,
        network_name: s.roster.name().to_string(),
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
        }],
        signatures: s.signatures,
        exported_ms: s.clock + 60_000,
    }
}

/// A cardiac MR written by a resident and an attending, an AI draft edited by the attending,
/// the cardiac section co-signed by a cardiologist, a critical result, sign-off, a follow-up
/// and an addendum.
pub(crate) fn input() -> ExportInput {
    let (mut s, c) = department();
    let study = "2.25.999";
    let template = countersign_report::template("cardiac-mr").cloned();
    s.sign(
        &c.attending,
        Kind::ReportCreate,
        &ReportCreate {
            study: study.into(),
            template: "cardiac-mr".into(),
            images: vec![IMAGE.into()],
            definition: template,
        },
    );
    s.sign(
        &c.resident,
        Kind::SectionWrite,
        &write("technique", "Cine SSFP; LGE after gadobutrol.", &[]),
    );
    let technique = s.latest("technique");
    s.sign(
        &c.attending,
        Kind::SectionCosign,
        &SectionCosign {
            section: "technique".into(),
            version: technique,
        },
    );
    let ai = s.sign(
        &c.model,
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
        &c.attending,
        Kind::AiReview,
        &AiReview {
            result: ai,
            decision: Decision::Edit,
            text: Some("Normal LV size. Soft tissue area 1234 mm2 (AI).".into()),
            comment: Some("Kept the measurement.".into()),
        },
    );
    s.sign(
        &c.attending,
        Kind::SectionWrite,
        &write(
            "findings",
            "Normal LV size. Soft tissue area 1234 mm2 (AI).",
            &[],
        ),
    );
    s.sign(
        &c.attending,
        Kind::SectionWrite,
        &write(
            "cardiac",
            "LVEF 58 %, no scar — “normal” function.",
            &[("lvef", "58"), ("lge", "none")],
        ),
    );
    let cardiac = s.latest("cardiac");
    s.sign(
        &c.cardiologist,
        Kind::SectionCosign,
        &SectionCosign {
            section: "cardiac".into(),
            version: cardiac,
        },
    );
    s.sign(
        &c.attending,
        Kind::SectionWrite,
        &write("impression", "Structurally normal heart.", &[]),
    );
    s.sign(
        &c.attending,
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
        &c.attending,
        Kind::ReportStatus,
        &ReportStatus {
            status: Status::Final,
            sections,
        },
    );
    s.sign(
        &c.attending,
        Kind::FollowupRecommend,
        &FollowupRecommend {
            finding: "Repeat MR in 12 months".into(),
            due: "2027-11-25".into(),
        },
    );
    s.sign(
        &c.attending,
        Kind::AddendumWrite,
        &AddendumWrite {
            text: "Compared with the outside CT: unchanged.".into(),
        },
    );
    finish(s, study)
}

/// A report to a generated template of `n` sections, each written by the attending and
/// co-signed by the cardiologist, then signed off: the benchmarks' "50-section report".
pub fn sections(n: usize) -> ExportInput {
    let (mut s, c) = department();
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
    s.sign(
        &c.attending,
        Kind::ReportCreate,
        &ReportCreate {
            study: "2.25.4242".into(),
            template: "many".into(),
            images: vec![IMAGE.into()],
            definition: Some(template),
        },
    );
    let mut covered = BTreeMap::new();
    for i in 0..n {
        let name = format!("s{i}");
        let text = format!(
            "Section {i}: {}",
            "normal appearances without acute abnormality. ".repeat(4)
        );
        let v = s.sign(&c.attending, Kind::SectionWrite, &write(&name, &text, &[]));
        s.sign(
            &c.cardiologist,
            Kind::SectionCosign,
            &SectionCosign {
                section: name.clone(),
                version: v,
            },
        );
        covered.insert(name, v);
    }
    s.sign(
        &c.attending,
        Kind::ReportStatus,
        &ReportStatus {
            status: Status::Final,
            sections: covered,
        },
    );
    finish(s, "2.25.4242")
}
