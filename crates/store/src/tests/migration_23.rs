//! Migration 23 (the Issuer of Patient ID of each instance): an old home's instances read as
//! "issuer not recorded", told apart from a known issuer, never taken for it.

use crate::{Instance, Store, StudyPatient};

fn instance(n: u8, study: &str, issuer: Option<&str>) -> Instance {
    Instance {
        sha256: [n; 32],
        size: 1,
        study: study.into(),
        series: None,
        instance: Some(format!("1.2.{n}")),
        patient: None,
        patient_id: Some("12345".into()),
        study_date: None,
        modality: None,
        study_description: None,
        series_description: None,
        sop_class: "CT Image Storage".into(),
        frames: 1,
        imported_ms: 1,
        instance_number: None,
        slice_location: None,
        sop_class_uid: None,
        plane: None,
        position: None,
        issuer: issuer.map(str::to_string),
    }
}

/// An instance indexed by the build before migration 23 keeps its row and reads with no
/// issuer; one indexed after it keeps its issuer; and a study holding both is listed as
/// holding two patients.
#[test]
fn an_old_homes_instances_read_as_issuer_not_recorded_beside_a_known_issuer() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.sqlite3");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        for sql in &crate::schema::MIGRATIONS[..22] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 22).unwrap();
        conn.execute(
            "INSERT INTO instances (sha256, size, study, patient_id, sop_class, frames, \
             imported_ms) VALUES (?1, 1, 'old', '12345', 'CT Image Storage', 1, 1)",
            [[1u8; 32].as_slice()],
        )
        .unwrap();
    }
    let mut store = Store::open(&path).unwrap();
    let old = store.db().instance(&[1; 32]).unwrap().unwrap();
    assert_eq!((old.study.as_str(), old.issuer), ("old", None));
    store
        .write(|db| {
            db.insert_instance(&instance(2, "old", Some("HOSP-B")))?;
            db.insert_instance(&instance(3, "new", Some("HOSP-A")))
        })
        .unwrap();
    let read = store.db().instance(&[3; 32]).unwrap().unwrap();
    assert_eq!(read, instance(3, "new", Some("HOSP-A")));
    let row = |study: &str, issuer: Option<&str>| StudyPatient {
        study: study.into(),
        patient_id: Some("12345".into()),
        issuer: issuer.map(str::to_string),
    };
    assert_eq!(
        store.db().patients_of_studies("12345").unwrap(),
        vec![
            row("new", Some("HOSP-A")),
            row("old", None),
            row("old", Some("HOSP-B"))
        ]
    );
    assert_eq!(store.db().patients_of_study("old", 1).unwrap().len(), 1);
    assert_eq!(store.db().patients_of_study("old", 5).unwrap().len(), 2);
}
