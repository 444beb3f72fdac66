//! Who an entry's author was when they signed it (review of 2026-12-05): the view named each
//! author's role and AI model as the roster has them now, while the rules judge each entry by
//! the details in force for it; and no rule held an AI result's model and version to its key's.

use countersign_ledger::Role;

use super::*;
use crate::payload::{AccessChange, AiResult};

fn result(model: &str, version: &str) -> AiResult {
    AiResult {
        model: model.into(),
        version: version.into(),
        inputs: vec![],
        parameters: BTreeMap::new(),
        outputs: BTreeMap::new(),
        section: "findings".into(),
        text: "Mean 40 HU over the region.".into(),
    }
}

fn grant_ai(d: &mut Department, r: LogId) {
    let grant = AccessChange {
        member: d.public("ai"),
    };
    d.append("ada", Some(r), Kind::AccessGrant, &grant).unwrap();
}

/// Found: a resident's draft, once the resident was promoted (with a frontier covering it),
/// read "Written by Dr Rhea Resident (attending)" in the view and so in every export; a
/// demoted attending's sign-off read "(radiologist)". Each entry now names the role the rules
/// judged it by.
#[test]
fn a_promoted_residents_draft_still_reads_as_written_by_a_resident() {
    let mut d = Department::new();
    let r = d.report("ada", "ct-chest");
    let draft = d.write_section("rex", r, "findings", "Nodule.").unwrap();
    let (r2, v) = written_report(&mut d, "bob");
    let signoff = final_by(&mut d, "bob", r2, &v);
    d.change_member("rex", Role::Attending, None).unwrap();
    d.change_member("bob", Role::Radiologist, None).unwrap();
    let later = d.write_section("rex", r, "impression", "Nodule.").unwrap();
    let view = d.view(r);
    let version = |name: &str, id: EntryId| {
        view.sections
            .iter()
            .find(|s| s.name == name)
            .and_then(|s| s.versions.iter().find(|v| v.entry == id))
            .map(|v| v.author.role)
            .unwrap()
    };
    assert_eq!(version("findings", draft), Some(Role::Resident));
    assert_eq!(version("impression", later), Some(Role::Attending));
    let in_provenance = view.provenance.iter().find(|p| p.entry == draft).unwrap();
    assert_eq!(in_provenance.author.role, Some(Role::Resident));
    let view = d.view(r2);
    let s = view.signoff.as_ref().unwrap();
    assert_eq!((s.entry, s.author.role), (signoff, Some(Role::Attending)));
    // What the roster says now is still what `author` answers.
    let now = crate::view::author(d.ledger.roster(), &d.public("rex"));
    assert_eq!(now.role, Some(Role::Attending));
}

/// Found: nothing held an `ai.result`'s `model` and `version` to the model the roster names its
/// key: a model's key could sign results as another model (the PDF, `ai stats`' grouping).
/// Refused now (`ai_model_mismatch`), judged by the details in force for the entry: after an
/// upgrade, the results signed before it stand as the version they were, and the view names
/// that version.
#[test]
fn an_ai_key_cannot_sign_results_as_another_model() {
    let mut d = Department::new();
    let r = d.report("ada", "ct-chest");
    grant_ai(&mut d, r);
    let code = |res: Result<EntryId, Rejection>| res.map_or_else(|e| e.code(), |_| "accepted");
    assert_eq!(
        code(d.append("ai", Some(r), Kind::AiResult, &result("LungScan", "2.1"))),
        "ai_model_mismatch"
    );
    assert_eq!(
        code(d.append("ai", Some(r), Kind::AiResult, &result("SoftTissue", "9.0"))),
        "ai_model_mismatch"
    );
    let before = d
        .append("ai", Some(r), Kind::AiResult, &result("SoftTissue", "2.1"))
        .unwrap();
    // The upgrade names the frontier of what the model signed so far.
    d.change_member("ai", Role::AiModel, Some(("SoftTissue", "3.0")))
        .unwrap();
    assert_eq!(
        code(d.append("ai", Some(r), Kind::AiResult, &result("SoftTissue", "2.1"))),
        "ai_model_mismatch"
    );
    let after = d
        .append("ai", Some(r), Kind::AiResult, &result("SoftTissue", "3.0"))
        .unwrap();
    assert_eq!(standing_code(&mut d.ledger, &r, &before), "accepted");
    let view = d.view(r);
    let version_of = |id: EntryId| {
        let ai = view.ai.iter().find(|a| a.entry == id).unwrap();
        ai.author.ai_model.as_ref().unwrap().version.clone()
    };
    assert_eq!(version_of(before), "2.1");
    assert_eq!(version_of(after), "3.0");
    // A key the roster gives no model details (admitted by an older build) is held to none:
    // refused, every result it ever signed dropped out of the oversight figures (found by
    // review, 2026-12-05). New members of the role are admitted with details (the app).
    let mut bare = d.member("ai");
    bare.ai_model = None;
    bare.frontier = d.frontier_of(&bare.key);
    d.roster_entry("ada", Kind::RosterMember, &bare).unwrap();
    assert_eq!(
        code(d.append("ai", Some(r), Kind::AiResult, &result("SoftTissue", "3.0"))),
        "accepted"
    );
}

/// Found (review, 2026-12-05): an author's name in the view was the roster's name now, so a
/// rename of a key — honest, or an admin's to make what it signed read as another person's —
/// rewrote who signed every entry before it, in the view and every export. The view keeps the
/// name now (one person across renames) and names the one each entry was signed under; a
/// rename crafted without a frontier (so that it seems to reach back over every entry) still
/// shows the key's former names.
#[test]
fn a_rename_does_not_rewrite_who_signed_before_it() {
    let mut d = Department::new();
    let r = d.report("ada", "ct-chest");
    let before = d.write_section("rex", r, "findings", "Nodule.").unwrap();
    let was = d.member("rex").name;
    let mut renamed = d.member("rex");
    renamed.name = "Dr Mallory".into();
    renamed.frontier = d.frontier_of(&renamed.key);
    d.roster_entry("ada", Kind::RosterMember, &renamed).unwrap();
    let after = d.write_section("rex", r, "impression", "Nodule.").unwrap();
    let view = d.view(r);
    let author_of = |id: EntryId| {
        view.provenance
            .iter()
            .find(|p| p.entry == id)
            .unwrap()
            .author
            .clone()
    };
    let a = author_of(before);
    assert_eq!(a.name, "Dr Mallory");
    assert_eq!(a.name_then.as_deref(), Some(was.as_str()));
    assert!(a.formerly.is_empty(), "{:?}", a.formerly);
    let b = author_of(after);
    assert_eq!((b.name_then, b.formerly), (None, vec![was.clone()]));

    // The same rename with no frontier: every entry reads as signed under the new name, but
    // not one hides the name the key had.
    let mut d = Department::new();
    let r = d.report("ada", "ct-chest");
    let before = d.write_section("rex", r, "findings", "Nodule.").unwrap();
    let mut crafted = d.member("rex");
    crafted.name = "Dr Mallory".into();
    d.roster_entry("ada", Kind::RosterMember, &crafted).unwrap();
    let view = d.view(r);
    let a = &view
        .provenance
        .iter()
        .find(|p| p.entry == before)
        .unwrap()
        .author;
    assert_eq!(a.name, "Dr Mallory");
    assert_eq!(a.formerly, vec![was]);
}
