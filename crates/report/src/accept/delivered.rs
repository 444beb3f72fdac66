//! `report.delivered` through the acceptance path: it names a signed-off version the sender
//! had seen, and a model cannot claim one.

use std::collections::BTreeMap;

use countersign_ledger::{EntryId, Kind, LogId};

use super::*;
use crate::fixture::Department;
use crate::payload::{AddendumWrite, DeliveredInstance, ReportDelivered, ReportStatus, Status};

fn final_report(d: &mut Department) -> (LogId, EntryId, EntryId) {
    let r = d.report("ada", "ct-chest");
    let mut sections = BTreeMap::new();
    let mut last = None;
    for s in ["technique", "findings", "impression"] {
        let v = d.write_section("ada", r, s, "Read by Ada.").unwrap();
        sections.insert(s.to_string(), v);
        last = Some(v);
    }
    let fin = d
        .append(
            "ada",
            Some(r),
            Kind::ReportStatus,
            &ReportStatus {
                status: Status::Final,
                sections,
            },
        )
        .unwrap();
    (r, fin, last.unwrap())
}

fn delivered(version: EntryId) -> ReportDelivered {
    ReportDelivered {
        archive: "orthanc".into(),
        version,
        study: "1.2.840.99".into(),
        instances: vec![DeliveredInstance {
            sop_class: "1.2.840.10008.5.1.4.1.1.88.33".into(),
            sop_instance: "2.25.1234".into(),
            series: "2.25.99".into(),
        }],
        rejection_note: None,
    }
}

fn refusal(r: std::result::Result<EntryId, Rejection>) -> &'static str {
    match r {
        Err(e) => e.code(),
        Ok(id) => panic!("accepted as {id}"),
    }
}

#[test]
fn a_delivery_of_the_final_or_an_addendum_is_shown_with_its_archive_and_sender() {
    let mut d = Department::new();
    let (r, fin, _) = final_report(&mut d);
    let first = d
        .append("rad", Some(r), Kind::ReportDelivered, &delivered(fin))
        .unwrap();
    let add = d
        .append(
            "bob",
            Some(r),
            Kind::AddendumWrite,
            &AddendumWrite {
                text: "Compared with prior.".into(),
            },
        )
        .unwrap();
    d.append("ada", Some(r), Kind::ReportDelivered, &delivered(add))
        .unwrap();
    let view = d.view(r);
    let notes: Vec<(EntryId, String, EntryId)> = view
        .deliveries
        .iter()
        .map(|n| (n.version, n.by.name.clone(), n.entry))
        .collect();
    assert_eq!(notes.len(), 2, "{notes:?}");
    assert_eq!(notes[0].0, fin);
    assert_eq!(notes[0].1, "Dr Rad Radiologist");
    assert_eq!(notes[0].2, first);
    assert_eq!(notes[1].0, add);
    assert_eq!(view.deliveries[0].archive, "orthanc");
    assert_eq!(view.deliveries[0].sop_instances, ["2.25.1234"]);
}

/// What a home asks under its write lock before signing a `report.delivered`: whether its
/// member delivered that version to that archive already (a rejection note is not a delivery,
/// another member's delivery is not this one's).
#[test]
fn delivered_by_names_the_author_archive_and_version_of_an_accepted_delivery() {
    let mut d = Department::new();
    let (r, fin, _) = final_report(&mut d);
    let (ada, rad) = (d.public("ada"), d.public("rad"));
    assert!(!d
        .ledger
        .report(&r)
        .unwrap()
        .delivered_by(&ada, "orthanc", &fin));
    d.append("ada", Some(r), Kind::ReportDelivered, &delivered(fin))
        .unwrap();
    // Rad's rejection note, once the report left the study, is no delivery of Rad's.
    d.append("ada", Some(r), Kind::ReportMove, &moved("2.25.2"))
        .unwrap();
    d.append(
        "rad",
        Some(r),
        Kind::ReportDelivered,
        &rejected(fin, "1.2.840.99", 1),
    )
    .unwrap();
    let log = d.ledger.report(&r).unwrap();
    assert!(log.delivered_by(&ada, "orthanc", &fin));
    assert!(!log.delivered_by(&ada, "dcmqrscp", &fin));
    assert!(!log.delivered_by(&rad, "orthanc", &fin));
    assert!(!log.delivered_by(&ada, "orthanc", &r));
}

#[test]
fn a_delivery_must_name_a_signed_off_version_its_sender_had_seen() {
    let mut d = Department::new();
    let (r, fin, section) = final_report(&mut d);
    // A section version is not what goes to an archive.
    assert_eq!(
        refusal(d.append("ada", Some(r), Kind::ReportDelivered, &delivered(section))),
        "not_a_signed_version"
    );
    // An entry of no such report (or not yet seen) is not in the past.
    let elsewhere = d.report("ada", "ct-chest");
    assert_eq!(
        refusal(d.append("ada", Some(r), Kind::ReportDelivered, &delivered(elsewhere))),
        "version_not_in_past"
    );
    // A model does not record deliveries.
    assert_eq!(
        refusal(d.append("ai", Some(r), Kind::ReportDelivered, &delivered(fin))),
        "role_may_not_write"
    );
    // Into a study the report is not about.
    let mut other = delivered(fin);
    other.study = "2.25.777".into();
    assert_eq!(
        refusal(d.append("ada", Some(r), Kind::ReportDelivered, &other)),
        "delivered_other_study"
    );
    // A UID that is not one is refused with the payload.
    let mut bad = delivered(fin);
    bad.instances[0].sop_instance = "2.25.x".into();
    assert_eq!(
        refusal(d.append("ada", Some(r), Kind::ReportDelivered, &bad)),
        "bad_payload"
    );
    assert!(d.view(r).deliveries.is_empty());
}

/// A rejection of `instances` in `study`: what a home signs after storing an IOCM rejection
/// note there.
fn rejected(version: EntryId, study: &str, instances: usize) -> ReportDelivered {
    let mut r = delivered(version);
    r.study = study.into();
    r.instances = (0..instances)
        .map(|n| DeliveredInstance {
            sop_class: "1.2.840.10008.5.1.4.1.1.88.33".into(),
            sop_instance: format!("2.25.{}", 1000 + n),
            series: "2.25.99".into(),
        })
        .collect();
    r.rejection_note = Some("2.25.4242".into());
    r
}

fn moved(study: &str) -> crate::payload::ReportMove {
    crate::payload::ReportMove {
        study: study.into(),
        images: Vec::new(),
        reason: "filed under the wrong patient".into(),
    }
}

#[test]
fn a_rejection_in_the_study_the_report_left_is_shown_apart_from_deliveries() {
    let mut d = Department::new();
    let (r, fin, _) = final_report(&mut d);
    d.append("ada", Some(r), Kind::ReportDelivered, &delivered(fin))
        .unwrap();
    // Before any move, the report has left no study: nothing to reject yet.
    assert_eq!(
        refusal(d.append(
            "ada",
            Some(r),
            Kind::ReportDelivered,
            &rejected(fin, "1.2.840.99", 2)
        )),
        "rejected_study_not_left"
    );
    d.append("ada", Some(r), Kind::ReportMove, &moved("2.25.2"))
        .unwrap();
    // The study it is about now, or one it never was about, is not one it left.
    for study in ["2.25.2", "2.25.777"] {
        assert_eq!(
            refusal(d.append(
                "ada",
                Some(r),
                Kind::ReportDelivered,
                &rejected(fin, study, 2)
            )),
            "rejected_study_not_left",
            "{study}"
        );
    }
    // A model records no rejection either.
    assert_eq!(
        refusal(d.append(
            "ai",
            Some(r),
            Kind::ReportDelivered,
            &rejected(fin, "1.2.840.99", 2)
        )),
        "role_may_not_write"
    );
    let entry = d
        .append(
            "rad",
            Some(r),
            Kind::ReportDelivered,
            &rejected(fin, "1.2.840.99", 2),
        )
        .unwrap();
    let view = d.view(r);
    assert_eq!(view.deliveries.len(), 1, "the delivery only");
    assert!(view.deliveries[0].rejection_note.is_none());
    assert_eq!(view.rejections.len(), 1);
    let note = &view.rejections[0];
    assert_eq!(note.entry, entry);
    assert_eq!(note.by.name, "Dr Rad Radiologist");
    assert_eq!(note.study, "1.2.840.99");
    assert_eq!(note.archive, "orthanc");
    assert_eq!(note.version, fin);
    assert_eq!(note.rejection_note.as_deref(), Some("2.25.4242"));
    assert_eq!(note.sop_instances, ["2.25.1000", "2.25.1001"]);
    // A rejection does not make a new version of the report (its exports keep their UIDs).
    assert!(!view.version_heads.contains(&entry));
}

#[test]
fn a_rejection_payload_is_bounded_and_names_uids_only() {
    use crate::payload::{Payload, MAX_DELIVERED_INSTANCES, MAX_REJECTED_INSTANCES};
    let fin = countersign_ledger::Hash([7; 32]);
    let parse = |p: &ReportDelivered| Payload::parse(Kind::ReportDelivered, &Payload::to_bytes(p));
    // Every SR and PDF one archive holds in the study: more than a delivery's eight.
    assert!(parse(&rejected(fin, "1.2.840.99", MAX_REJECTED_INSTANCES)).is_ok());
    let over = parse(&rejected(fin, "1.2.840.99", MAX_REJECTED_INSTANCES + 1)).unwrap_err();
    assert_eq!(over.code(), "bad_payload");
    assert!(over.reason.contains("one to 256"), "{over}");
    assert!(parse(&rejected(fin, "1.2.840.99", 0)).is_err());
    // A delivery keeps its own bound.
    let mut many = rejected(fin, "1.2.840.99", MAX_DELIVERED_INSTANCES + 1);
    many.rejection_note = None;
    assert_eq!(parse(&many).unwrap_err().code(), "bad_payload");
    // The note is named by its UID: a name, a patient's ID or 65 digits is not one.
    for bad in ["", "PAT-0001", "2.25.x", &"1".repeat(65)] {
        let mut r = rejected(fin, "1.2.840.99", 2);
        r.rejection_note = Some(bad.to_string());
        assert_eq!(parse(&r).unwrap_err().code(), "bad_payload", "{bad:?}");
    }
    let mut r = rejected(fin, "1.2.840.99", 2);
    r.study = "Doe^Jane".into();
    assert_eq!(parse(&r).unwrap_err().code(), "bad_payload");
}

/// Why a field and not a kind of its own: a peer of the previous release reads a delivery as
/// before (the field is absent from its bytes), and refuses only the payload of a rejection
/// (its struct denies unknown fields: `bad_payload`, which sync quarantines) — an unknown
/// kind it would refuse in the header, taking the whole batch and its sender with it.
#[test]
fn a_peer_of_the_previous_release_reads_deliveries_and_refuses_only_a_rejections_payload() {
    /// `report.delivered` as the previous release reads it.
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct PreviousRelease {
        archive: String,
        version: EntryId,
        study: String,
        instances: Vec<DeliveredInstance>,
    }
    let fin = countersign_ledger::Hash([7; 32]);
    let delivery = crate::payload::Payload::to_bytes(&delivered(fin));
    assert!(!String::from_utf8_lossy(&delivery).contains("rejection"));
    assert!(countersign_ledger::json::from_slice_unique::<PreviousRelease>(&delivery).is_ok());
    let rejection = crate::payload::Payload::to_bytes(&rejected(fin, "1.2.840.99", 2));
    assert!(countersign_ledger::json::from_slice_unique::<PreviousRelease>(&rejection).is_err());
    // And an unknown kind fails the header itself.
    assert!("report.rejected".parse::<Kind>().is_err());
}
