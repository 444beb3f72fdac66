//! The AutoText rules through the acceptance path: a write names only macros the roster (or
//! the built-ins) knows and that apply to its section; a sign-off covering a section with an
//! unfilled field of its macros is refused, naming the section and the field.

use std::collections::BTreeMap;

use countersign_ledger::{EntryId, Kind, LogId};

use super::{builtin_named, Macro, MacroPublish, MacroRef, MacroTarget};
use crate::accept::{Ledger, Rejection, Verdict};
use crate::fixture::Department;
use crate::log::Standing;
use crate::payload::{ReportStatus, SectionWrite, Status};

fn code<T>(r: &Result<T, Rejection>) -> &'static str {
    match r {
        Ok(_) => "accepted",
        Err(e) => e.code(),
    }
}

fn write(
    d: &mut Department,
    r: LogId,
    section: &str,
    text: &str,
    macros: &[MacroRef],
) -> Result<EntryId, Rejection> {
    let w = SectionWrite {
        section: section.into(),
        text: text.into(),
        fields: BTreeMap::new(),
        macros: macros.to_vec(),
        links: Vec::new(),
    };
    d.append("ada", Some(r), Kind::SectionWrite, &w)
}

fn status(
    d: &mut Department,
    r: LogId,
    status: Status,
    sections: &BTreeMap<String, EntryId>,
) -> Result<EntryId, Rejection> {
    let s = ReportStatus {
        status,
        sections: sections.clone(),
    };
    d.append("ada", Some(r), Kind::ReportStatus, &s)
}

fn nodule() -> MacroRef {
    builtin_named("nodule").unwrap().reference()
}

/// A ct-chest report with technique and impression written, findings from `findings`.
fn report_with_findings(d: &mut Department, findings: &str) -> (LogId, BTreeMap<String, EntryId>) {
    let r = d.report("ada", "ct-chest");
    let mut v = BTreeMap::new();
    v.insert(
        "technique".to_string(),
        write(d, r, "technique", "CT chest without contrast.", &[]).unwrap(),
    );
    v.insert(
        "findings".to_string(),
        write(d, r, "findings", findings, &[nodule()]).unwrap(),
    );
    v.insert(
        "impression".to_string(),
        write(d, r, "impression", "Nodule.", &[]).unwrap(),
    );
    (r, v)
}

#[test]
fn sign_off_is_refused_naming_each_unfilled_field_until_it_is_filled() {
    let mut d = Department::new();
    let text = builtin_named("nodule").unwrap().text.clone();
    let (r, mut v) = report_with_findings(&mut d, &text);

    let refused = status(&mut d, r, Status::Final, &v);
    assert_eq!(code(&refused), "field_unfilled");
    assert_eq!(
        refused.unwrap_err().to_string(),
        "Findings: [size] and [lobe] are not filled"
    );
    // A preliminary covers the newest versions too: refused the same way.
    let prelim = status(&mut d, r, Status::Preliminary, &BTreeMap::new());
    assert_eq!(code(&prelim), "field_unfilled");

    // One field filled: the message names the one left.
    let half = text.replace("[size]", "12");
    v.insert(
        "findings".into(),
        write(&mut d, r, "findings", &half, &[nodule()]).unwrap(),
    );
    let refused = status(&mut d, r, Status::Final, &v);
    assert_eq!(
        refused.unwrap_err().to_string(),
        "Findings: [lobe] is not filled"
    );

    let filled = half.replace("[lobe]", "right upper lobe");
    v.insert(
        "findings".into(),
        write(&mut d, r, "findings", &filled, &[nodule()]).unwrap(),
    );
    assert_eq!(
        code(&status(&mut d, r, Status::Preliminary, &BTreeMap::new())),
        "accepted"
    );
    assert_eq!(code(&status(&mut d, r, Status::Final, &v)), "accepted");
}

#[test]
fn only_the_named_macros_fields_block_a_literal_bracket_does_not() {
    let mut d = Department::new();
    // "[sic]" typed by hand, and "[size]" typed without naming the macro: no macro field.
    let r = d.report("ada", "ct-chest");
    let mut v = BTreeMap::new();
    v.insert(
        "technique".to_string(),
        write(&mut d, r, "technique", "As requested [sic].", &[]).unwrap(),
    );
    v.insert(
        "findings".to_string(),
        write(
            &mut d,
            r,
            "findings",
            "A 4 mm nodule [sic], [size] as typed.",
            &[],
        )
        .unwrap(),
    );
    // The findings typed by hand, naming the nodule macro: "[sic]" is none of its fields.
    v.insert(
        "findings".to_string(),
        write(
            &mut d,
            r,
            "findings",
            "A 4 mm nodule [sic] in the right lobe.",
            &[nodule()],
        )
        .unwrap(),
    );
    v.insert(
        "impression".to_string(),
        write(
            &mut d,
            r,
            "impression",
            "Nodule [sic], Lung-RADS 2.",
            &[builtin_named("nodule-impression").unwrap().reference()],
        )
        .unwrap(),
    );
    assert_eq!(code(&status(&mut d, r, Status::Final, &v)), "accepted");
}

#[test]
fn a_write_names_only_known_macros_that_apply_to_its_section() {
    let mut d = Department::new();
    let r = d.report("ada", "ct-chest");
    let forged = MacroRef {
        name: "nodule".into(),
        hash: countersign_ledger::Hash::of(b"another text"),
    };
    assert_eq!(
        code(&write(&mut d, r, "findings", "x", &[forged])),
        "unknown_macro"
    );
    let nobody = MacroRef {
        name: "adrenal".into(),
        hash: countersign_ledger::Hash::of(b"x"),
    };
    assert_eq!(
        code(&write(&mut d, r, "findings", "x", &[nobody])),
        "unknown_macro"
    );
    // The cardiac macro is for cardiac-mr's cardiac section; the nodule one for findings.
    let cardiac = builtin_named("normal-cardiac").unwrap().reference();
    let e = write(&mut d, r, "findings", "x", &[cardiac]).unwrap_err();
    assert_eq!(e.code(), "macro_not_applicable");
    assert!(
        e.to_string()
            .contains("section findings of template ct-chest"),
        "{e}"
    );
    assert_eq!(
        code(&write(&mut d, r, "impression", "x", &[nodule()])),
        "macro_not_applicable"
    );
    assert_eq!(
        code(&write(&mut d, r, "findings", "x", &[nodule()])),
        "accepted"
    );
}

fn adrenal() -> Macro {
    Macro {
        name: "adrenal".into(),
        title: "Adrenal nodule".into(),
        applies: vec![MacroTarget {
            template: "ct-chest".into(),
            section: "findings".into(),
        }],
        text: "A [size] mm [side] adrenal nodule.".into(),
    }
}

#[test]
fn an_admin_publishes_a_macro_nobody_else_does_and_no_builtin_name_is_taken() {
    let mut d = Department::new();
    let publish = |m: Macro| MacroPublish { definition: m };
    assert_eq!(
        code(&d.roster_entry("bob", Kind::MacroPublish, &publish(adrenal()))),
        "not_admin"
    );
    let builtin = builtin_named("nodule").unwrap().clone();
    assert_eq!(
        code(&d.roster_entry("ada", Kind::MacroPublish, &publish(builtin))),
        "builtin_macro_name"
    );
    let bad = Macro {
        text: "A [Size] nodule".into(),
        ..adrenal()
    };
    assert_eq!(
        code(&d.roster_entry("ada", Kind::MacroPublish, &publish(bad))),
        "bad_macro"
    );
    // Before its publication a write naming it is refused; after, the same macro is known.
    let r = d.report("ada", "ct-chest");
    let text = "A [size] mm left adrenal nodule.";
    assert_eq!(
        code(&write(
            &mut d,
            r,
            "findings",
            text,
            &[adrenal().reference()]
        )),
        "unknown_macro"
    );
    d.roster_entry("ada", Kind::MacroPublish, &publish(adrenal()))
        .unwrap();
    assert_eq!(
        super::catalogue(d.ledger.roster())
            .iter()
            .filter(|(m, _)| m.name == "adrenal")
            .count(),
        1
    );
    let w = write(&mut d, r, "findings", text, &[adrenal().reference()]).unwrap();
    let mut v = BTreeMap::new();
    v.insert("findings".to_string(), w);
    v.insert(
        "technique".into(),
        write(&mut d, r, "technique", "CT.", &[]).unwrap(),
    );
    v.insert(
        "impression".into(),
        write(&mut d, r, "impression", "Adrenal nodule.", &[]).unwrap(),
    );
    let e = status(&mut d, r, Status::Final, &v).unwrap_err();
    assert_eq!(e.to_string(), "Findings: [size] is not filled");
}

/// A peer that receives the report's write before the roster's macro publication refuses it
/// until the publication arrives, then stands exactly as on the publishing home.
#[test]
fn a_second_home_judges_a_published_macro_the_same_whatever_order_it_arrives_in() {
    let mut d = Department::new();
    d.roster_entry(
        "ada",
        Kind::MacroPublish,
        &MacroPublish {
            definition: adrenal(),
        },
    )
    .unwrap();
    let r = d.report("ada", "ct-chest");
    let w = write(
        &mut d,
        r,
        "findings",
        "A 9 mm left adrenal nodule.",
        &[adrenal().reference()],
    )
    .unwrap();
    // Everything but the publication first, then the publication.
    let mut other = Ledger::default();
    let (publish, rest): (Vec<_>, Vec<_>) = d
        .stored
        .iter()
        .partition(|(e, _)| e.header().kind == Kind::MacroPublish);
    for (e, p) in rest {
        other.accept(e, Some(p), d.clock).unwrap();
    }
    assert!(matches!(
        other.standing(&r, &w),
        Some(Standing::Refused(e)) if e.code() == "unknown_macro"
    ));
    for (e, p) in publish {
        assert!(matches!(
            other.accept(e, Some(p), d.clock),
            Ok(Verdict::New(_))
        ));
    }
    assert_eq!(other.standing(&r, &w), Some(Standing::Accepted));
    assert_eq!(d.ledger.standing(&r, &w), Some(Standing::Accepted));
}

/// Review finding (2026-12-01): a later version that kept the text of a macro's version but
/// named no macro (a plain `report write`, or one naming another macro) signed off with the
/// macro's `[lobe]` still in it. The macros of the section's earlier versions in its past
/// stay in force.
#[test]
fn a_later_version_naming_no_macro_does_not_lift_the_fields_of_an_earlier_one() {
    let mut d = Department::new();
    let text = builtin_named("nodule")
        .unwrap()
        .text
        .replace("[size]", "12");
    let (r, mut v) = report_with_findings(&mut d, &text);
    // Version 2 by a plain write, the field still there, no macro named.
    v.insert(
        "findings".into(),
        write(&mut d, r, "findings", &format!("{text} Stable."), &[]).unwrap(),
    );
    let refused = status(&mut d, r, Status::Final, &v);
    assert_eq!(code(&refused), "field_unfilled");
    assert_eq!(
        refused.unwrap_err().to_string(),
        "Findings: [lobe] is not filled"
    );
    // Filled in a third version: accepted.
    let filled = text.replace("[lobe]", "left lower lobe");
    v.insert(
        "findings".into(),
        write(&mut d, r, "findings", &filled, &[]).unwrap(),
    );
    assert_eq!(code(&status(&mut d, r, Status::Final, &v)), "accepted");
}

/// Every built-in macro is named by its content hash in signed writes: a release that
/// changed one's text (or encoding) would make every write naming it `unknown_macro` on
/// upgraded peers while older ones accept it. A built-in's text never changes: a new text
/// is a new name. Pinned here, each one.
#[test]
fn golden_content_hashes_of_every_built_in_macro() {
    let pinned: Vec<(String, String)> = super::builtin()
        .iter()
        .map(|m| (m.name.clone(), m.content_hash().to_hex()))
        .collect();
    let expected: &[(&str, &str)] = &[
        (
            "normal-chest",
            "8c7aa88afa0ed99e65ce72d1cdbfb58fc96dfd26079f73efb8f9f0f3c99a4b9e",
        ),
        (
            "nodule",
            "ba7218006769ba65eb163e4ab1b75bdd9bbad9f38afe73c87120972496f07c5c",
        ),
        (
            "nodule-impression",
            "ed8550bc21d800dfe91af5fdfd480e44ca9bd7701d99f58d794f8e354a4df991",
        ),
        (
            "normal-cardiac",
            "e6dc52f560b14f76cc85c8b94ff469169dfbc8ce6b17d689db322dad662ec396",
        ),
        (
            "cine-lge",
            "6cbb77cbeaa53b5487b5d3a773eb355bb032a4879a49f24243acb0e175d380ac",
        ),
        (
            "normal-cxr",
            "111565320b62485af7e65017f5586ee3e91854b7bece744cf9b895488f3f2f9f",
        ),
        (
            "no-change",
            "f35860e81b676162f12811eca345abf605bfe63cd490bbf2d1d47e54e2eeaa62",
        ),
    ];
    assert_eq!(
        pinned,
        expected
            .iter()
            .map(|(n, h)| (n.to_string(), h.to_string()))
            .collect::<Vec<_>>()
    );
}
