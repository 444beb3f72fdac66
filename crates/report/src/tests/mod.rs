//! The report rules through the acceptance path, each tried the way a clinician (or an insider)
//! would.

use std::collections::BTreeMap;

use countersign_ledger::roster::{Frontier, RevokePayload};
use countersign_ledger::{EntryId, Kind, LogId};

use crate::accept::Rejection;
use crate::fixture::Department;
use crate::payload::{
    AccessChange, AddendumWrite, AiResult, ReportCreate, ReportResolve, ReportStatus,
    SectionCosign, SectionWrite, Status, TemplatePublish,
};
use crate::{ReportRuleError, ReportState};

mod keys;

fn code(r: Result<EntryId, Rejection>) -> &'static str {
    match r {
        Ok(_) => "accepted",
        Err(e) => e.code(),
    }
}

fn write_fields(section: &str, text: &str, fields: &[(&str, &str)]) -> SectionWrite {
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

fn cosign(
    d: &mut Department,
    who: &str,
    r: LogId,
    section: &str,
    version: EntryId,
) -> Result<EntryId, Rejection> {
    let c = SectionCosign {
        section: section.into(),
        version,
    };
    d.append(who, Some(r), Kind::SectionCosign, &c)
}

fn finalise(
    d: &mut Department,
    who: &str,
    r: LogId,
    sections: &BTreeMap<String, EntryId>,
) -> Result<EntryId, Rejection> {
    let s = ReportStatus {
        status: Status::Final,
        sections: sections.clone(),
    };
    d.append(who, Some(r), Kind::ReportStatus, &s)
}

#[test]
fn a_cardiac_report_needs_the_cardiologists_signature_and_an_attendings_final() {
    let mut d = Department::new();
    let r = d.report("ada", "cardiac-mr");
    let mut v = BTreeMap::new();
    v.insert(
        "technique".to_string(),
        d.write_section("rex", r, "technique", "Cine SSFP.")
            .unwrap(),
    );
    v.insert(
        "findings".to_string(),
        d.write_section("ada", r, "findings", "Normal.").unwrap(),
    );
    v.insert(
        "impression".to_string(),
        d.write_section("ada", r, "impression", "Normal.").unwrap(),
    );
    let cardiac = d
        .append(
            "ada",
            Some(r),
            Kind::SectionWrite,
            &write_fields("cardiac", "LVEF 55%", &[("lvef", "55")]),
        )
        .unwrap();
    v.insert("cardiac".to_string(), cardiac);

    // The resident's technique needs the attending's countersignature first.
    assert_eq!(code(finalise(&mut d, "ada", r, &v)), "countersign_missing");
    cosign(&mut d, "ada", r, "technique", v["technique"]).unwrap();
    // The attending wrote the cardiac section: a cardiologist must sign it.
    assert_eq!(code(finalise(&mut d, "ada", r, &v)), "cosign_missing");
    // Co-signing one's own version is not a second signature.
    assert_eq!(
        code(cosign(&mut d, "ada", r, "cardiac", cardiac)),
        "self_cosign"
    );
    cosign(&mut d, "cara", r, "cardiac", cardiac).unwrap();
    assert_eq!(code(finalise(&mut d, "rex", r, &v)), "not_attending");
    assert_eq!(code(finalise(&mut d, "rad", r, &v)), "not_attending");
    let mut stale = v.clone();
    stale.insert("findings".into(), v["impression"]);
    assert_eq!(
        code(finalise(&mut d, "ada", r, &stale)),
        "coverage_mismatch"
    );
    let fin = finalise(&mut d, "ada", r, &v).unwrap();
    assert_eq!(
        code(d.write_section("ada", r, "findings", "late")),
        "finalised"
    );
    assert_eq!(code(finalise(&mut d, "ada", r, &v)), "already_final");
    let view = d.view(r);
    assert_eq!(view.status, ReportState::Final);
    assert_eq!(view.signoff.as_ref().unwrap().entry, fin);
    let cardiac_view = view.sections.iter().find(|s| s.name == "cardiac").unwrap();
    assert_eq!(cardiac_view.text.as_deref(), Some("LVEF 55%"));
    assert_eq!(
        cardiac_view.versions[0].cosigns[0].author.name,
        "Dr Carl Cardio"
    );

    d.append(
        "ada",
        Some(r),
        Kind::AddendumWrite,
        &AddendumWrite {
            text: "Addendum".into(),
        },
    )
    .unwrap();
    assert_eq!(d.view(r).status, ReportState::Amended);
}

#[test]
fn a_cardiologists_own_version_is_the_cardiologists_signature() {
    let mut d = Department::new();
    let r = d.report("ada", "cardiac-mr");
    let mut v = BTreeMap::new();
    for s in ["technique", "findings", "impression"] {
        v.insert(s.to_string(), d.write_section("ada", r, s, "text").unwrap());
    }
    let cardiac = d
        .append(
            "cara",
            Some(r),
            Kind::SectionWrite,
            &write_fields("cardiac", "LVEF 60%", &[("lvef", "60")]),
        )
        .unwrap();
    v.insert("cardiac".to_string(), cardiac);
    // No co-sign needed: the version's own author is the role the template names.
    finalise(&mut d, "ada", r, &v).unwrap();
    assert_eq!(d.view(r).status, ReportState::Final);
}

#[test]
fn addenda_need_a_final_and_sections_must_exist() {
    let mut d = Department::new();
    let r = d.report("ada", "ct-chest");
    assert_eq!(
        code(d.append(
            "ada",
            Some(r),
            Kind::AddendumWrite,
            &AddendumWrite { text: "x".into() }
        )),
        "not_final"
    );
    assert_eq!(
        code(d.write_section("ada", r, "cardiac", "x")),
        "unknown_section"
    );
    assert_eq!(
        code(d.write_section("ada", r, "findings", "  ")),
        "empty_text"
    );
    assert_eq!(
        code(finalise(&mut d, "ada", r, &BTreeMap::new())),
        "section_missing"
    );
}

#[test]
fn fields_are_checked_and_required_ones_block_final_but_optional_sections_do_not() {
    let mut d = Department::new();
    let r = d.report("ada", "cardiac-mr");
    let bad = |fields: &[(&str, &str)]| write_fields("cardiac", "Normal function.", fields);
    assert_eq!(
        d.append("ada", Some(r), Kind::SectionWrite, &bad(&[("lvef", "150")]))
            .unwrap_err(),
        Rejection::Report(ReportRuleError::FieldValue {
            section: "cardiac".into(),
            field: "lvef".into(),
            reason: "150 is outside 0..100".into()
        })
    );
    assert_eq!(
        code(d.append("ada", Some(r), Kind::SectionWrite, &bad(&[("ef", "50")]))),
        "unknown_field"
    );
    let mut v = BTreeMap::new();
    for s in ["technique", "findings", "cardiac", "impression"] {
        v.insert(s.to_string(), d.write_section("ada", r, s, "text").unwrap());
    }
    cosign(&mut d, "cara", r, "cardiac", v["cardiac"]).unwrap();
    assert_eq!(code(finalise(&mut d, "ada", r, &v)), "field_missing");

    // CT chest's comparison section is optional: final goes through without it.
    let ct = d.report("ada", "ct-chest");
    let mut v = BTreeMap::new();
    for s in ["technique", "findings", "impression"] {
        v.insert(
            s.to_string(),
            d.write_section("ada", ct, s, "text").unwrap(),
        );
    }
    finalise(&mut d, "ada", ct, &v).unwrap();
    let view = d.view(ct);
    let comparison = view
        .sections
        .iter()
        .find(|s| s.name == "comparison")
        .unwrap();
    assert!(!comparison.required && comparison.text.is_none());
}

/// Scenario 2 of the insider list: an attending (or a stolen attending key) writes a new
/// impression whose parents leave out the final, then signs a second final dated in the future.
#[test]
fn a_second_final_beside_the_first_is_a_visible_conflict_never_a_silent_rewrite() {
    let mut d = Department::new();
    let r = d.report("ada", "ct-chest");
    let mut v = BTreeMap::new();
    for s in ["technique", "findings", "impression"] {
        v.insert(
            s.to_string(),
            d.write_section("ada", r, s, &format!("{s}: as read"))
                .unwrap(),
        );
    }
    let before_final = d.ledger.report(&r).unwrap().heads();
    let fin = finalise(&mut d, "ada", r, &v).unwrap();
    let section = |view: &crate::ReportView, name: &str| {
        view.sections
            .iter()
            .find(|s| s.name == name)
            .unwrap()
            .clone()
    };
    let signed_text = section(&d.view(r), "impression").text;

    // The rewrite names the heads from before the sign-off.
    let rewrite = crate::payload::Payload::to_bytes(&SectionWrite {
        section: "impression".into(),
        text: "Rewritten after sign-off.".into(),
        fields: BTreeMap::new(),
        macros: Vec::new(),
        links: Vec::new(),
    });
    let e = d.sign(
        "bob",
        Some(r),
        Kind::SectionWrite,
        &rewrite,
        Some(before_final),
    );
    let rewritten = e.id();
    d.store(e, rewrite).unwrap();
    // It is accepted (nothing final is in its past), but the report still reads as signed.
    assert_eq!(d.view(r).status, ReportState::Final);
    assert_eq!(section(&d.view(r), "impression").text, signed_text);
    // The second final, far in the future, covering the rewrite.
    let mut v2 = v.clone();
    v2.insert("impression".into(), rewritten);
    d.clock += 10 * 365 * 24 * 3600 * 1000;
    let bytes = crate::payload::Payload::to_bytes(&ReportStatus {
        status: Status::Final,
        sections: v2,
    });
    let second = d.sign(
        "bob",
        Some(r),
        Kind::ReportStatus,
        &bytes,
        Some(vec![rewritten]),
    );
    let second_id = second.id();
    d.store(second, bytes).unwrap();
    let view = d.view(r);
    assert_eq!(view.status, ReportState::Conflict);
    assert!(view.signoff.is_none());
    assert_eq!(view.signoffs.iter().filter(|s| s.in_force).count(), 2);
    let impression = section(&view, "impression");
    assert_eq!(impression.text, None);
    assert_eq!(impression.conflicting_versions.len(), 2);
    // The untouched sections still read as both sign-offs agree.
    assert_eq!(
        section(&view, "findings").text.as_deref(),
        Some("findings: as read")
    );

    // Nobody keeps their own sign-off: that takes a second attending's signature.
    let own = ReportResolve {
        keep: fin,
        note: String::new(),
    };
    assert_eq!(
        code(d.append("ada", Some(r), Kind::ReportResolve, &own)),
        "self_resolve"
    );
    // Bob resolves it by keeping Ada's; his stays in the record.
    let resolve = ReportResolve {
        keep: fin,
        note: "Mine was signed without seeing Ada's.".into(),
    };
    d.append("bob", Some(r), Kind::ReportResolve, &resolve)
        .unwrap();
    let view = d.view(r);
    assert_eq!(view.status, ReportState::Final);
    assert_eq!(view.signoff.as_ref().unwrap().entry, fin);
    assert_eq!(section(&view, "impression").text, signed_text);
    assert!(view
        .signoffs
        .iter()
        .any(|s| s.entry == second_id && !s.in_force));
    // A resolution needs a conflict, and only an attending resolves.
    let again = ReportResolve {
        keep: fin,
        note: String::new(),
    };
    assert_eq!(
        code(d.append("ada", Some(r), Kind::ReportResolve, &again)),
        "no_conflict"
    );
    assert_eq!(
        code(d.append("rad", Some(r), Kind::ReportResolve, &again)),
        "role_may_not_write"
    );
}

/// Scenario 6: an AI model's node adds a result to a report nobody granted it.
#[test]
fn an_ai_model_writes_only_to_reports_it_was_granted() {
    let mut d = Department::new();
    let r = d.report("ada", "ct-chest");
    let result = AiResult {
        model: crate::fixture::ai_model().model,
        version: crate::fixture::ai_model().version,
        inputs: vec![],
        parameters: BTreeMap::new(),
        outputs: BTreeMap::new(),
        section: "findings".into(),
        text: "Mean 40 HU.".into(),
    };
    assert_eq!(
        code(d.append("ai", Some(r), Kind::AiResult, &result)),
        "not_granted"
    );
    let member = AccessChange {
        member: d.public("ai"),
    };
    d.append("ada", Some(r), Kind::AccessGrant, &member)
        .unwrap();
    d.append("ai", Some(r), Kind::AiResult, &result).unwrap();
    d.append("ada", Some(r), Kind::AccessRevoke, &member)
        .unwrap();
    assert_eq!(
        code(d.append("ai", Some(r), Kind::AiResult, &result)),
        "not_granted"
    );
}

/// Scenario 5: a report may not bring its own rules under a built-in name.
#[test]
fn a_report_names_its_template_by_content_and_only_published_ones_are_custom() {
    let mut d = Department::new();
    let builtin = crate::template::template("cardiac-mr").unwrap().clone();
    // cardiac-mr without the cardiologist's co-sign, under the built-in name.
    let mut weakened = builtin.clone();
    for s in &mut weakened.sections {
        s.cosign_role = None;
    }
    let create = |t: &crate::Template, name: &str| ReportCreate {
        study: "1.2.3".into(),
        template: name.into(),
        template_hash: t.content_hash(),
        images: vec![],
    };
    assert_eq!(
        code(d.append(
            "ada",
            None,
            Kind::ReportCreate,
            &create(&weakened, "cardiac-mr")
        )),
        "unknown_template"
    );
    // Publishing it under the built-in name is refused before it is stored.
    assert_eq!(
        code(d.roster_entry(
            "ada",
            Kind::TemplatePublish,
            &TemplatePublish {
                template: weakened.clone()
            }
        )),
        "builtin_template_name"
    );
    // Under its own name, by an admin, it becomes available to every report.
    let mut custom = weakened;
    custom.name = "cardiac-mr-lite".into();
    assert_eq!(
        code(d.append(
            "ada",
            None,
            Kind::ReportCreate,
            &create(&custom, "cardiac-mr-lite")
        )),
        "unknown_template"
    );
    assert_eq!(
        code(d.roster_entry(
            "rad",
            Kind::TemplatePublish,
            &TemplatePublish {
                template: custom.clone()
            }
        )),
        "not_admin"
    );
    d.roster_entry(
        "ada",
        Kind::TemplatePublish,
        &TemplatePublish {
            template: custom.clone(),
        },
    )
    .unwrap();
    let r = d
        .append(
            "ada",
            None,
            Kind::ReportCreate,
            &create(&custom, "cardiac-mr-lite"),
        )
        .unwrap();
    assert_eq!(d.view(r).template, "cardiac-mr-lite");
    // A name that does not match the content is refused.
    assert_eq!(
        code(d.append(
            "ada",
            None,
            Kind::ReportCreate,
            &create(&builtin, "ct-chest")
        )),
        "template_mismatch"
    );
}

#[test]
fn who_may_create_reports_is_the_networks_policy() {
    let mut d = Department::new();
    let t = crate::template::template("ct-chest").unwrap();
    let create = ReportCreate {
        study: "1.2.3".into(),
        template: "ct-chest".into(),
        template_hash: t.content_hash(),
        images: vec![],
    };
    assert_eq!(
        code(d.append("ai", None, Kind::ReportCreate, &create)),
        "role_may_not_write"
    );
    assert!(d.append("rex", None, Kind::ReportCreate, &create).is_ok());
}

#[test]
fn who_may_create_reports_can_be_narrowed_by_the_genesis() {
    let mut d = Department::with_policy(countersign_ledger::roster::Policy {
        report_creators: vec![countersign_ledger::Role::Attending],
        ..Default::default()
    });
    let t = crate::template::template("ct-chest").unwrap();
    let create = ReportCreate {
        study: "1.2.3".into(),
        template: "ct-chest".into(),
        template_hash: t.content_hash(),
        images: vec![],
    };
    assert_eq!(
        code(d.append("rex", None, Kind::ReportCreate, &create)),
        "may_not_create_reports"
    );
    assert!(d.append("bob", None, Kind::ReportCreate, &create).is_ok());
}

/// A report on a department template stands only while the roster accepts the entry that
/// published it: published by an admin whose revocation, signed without having seen it, leaves
/// it outside the frontier.
#[test]
fn a_report_on_a_template_whose_publication_is_refused_is_refused() {
    let mut d = Department::new();
    let mut bob = d.member("bob");
    bob.admin = true;
    d.roster_entry("ada", Kind::RosterMember, &bob).unwrap();
    let before = d.ledger.roster_log().unwrap().dag().heads();
    let mut custom = crate::template::template("ct-chest").unwrap().clone();
    custom.name = "ct-chest-local".into();
    let publish = crate::payload::Payload::to_bytes(&TemplatePublish {
        template: custom.clone(),
    });
    let network = d.network();
    let e = d.sign("bob", Some(network), Kind::TemplatePublish, &publish, None);
    d.store(e, publish).unwrap();
    let r = d.report_on("ada", &custom, "1.2.3", vec![]);
    assert_eq!(d.view(r).status, ReportState::Draft);
    // Ada revokes Bob from the roster as she saw it before his publication.
    let revoke = crate::payload::Payload::to_bytes(&RevokePayload {
        key: d.public("bob"),
        reason: String::new(),
        frontier: Frontier::new(),
    });
    let e = d.sign(
        "ada",
        Some(network),
        Kind::RosterRevoke,
        &revoke,
        Some(before),
    );
    d.store(e, revoke).unwrap();
    let log = d.ledger.report(&r).unwrap();
    assert_eq!(
        log.standing(&r).map(
            |s| matches!(s, crate::Standing::Refused(e) if e.code() == "template_not_accepted")
        ),
        Some(true)
    );
}
