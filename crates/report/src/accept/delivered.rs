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
