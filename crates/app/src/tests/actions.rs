//! What the app offers its user (write, sign off, co-sign, erase, restrict) is what the rules a
//! peer applies would accept: asked of the rules, never restated.

#[test]
fn the_app_says_what_its_user_may_do_by_judging_each_action_as_a_peer_would() {
    let dir = tempfile::tempdir().unwrap();
    let mut home = crate::tests::open_home(dir.path()).unwrap();
    let demo = home.demo().unwrap();
    // The demo report is final: an addendum is welcome, a new version or a second final not.
    let done = home.report_actions(demo.report).unwrap();
    assert!(done.addendum.allowed);
    assert_eq!(done.finalize.rule, Some("already_final"));
    assert!(done.write.values().all(|a| a.rule == Some("finalised")));
    // A fresh report: every section may be written; sign-off waits for the required ones.
    let report = home.report_new("1.2.3.9", "ct-chest", &[]).unwrap();
    let open = home.report_actions(report).unwrap();
    assert!(open.write.values().all(|a| a.allowed));
    assert_eq!(open.finalize.rule, Some("section_missing"));
    assert_eq!(open.addendum.rule, Some("not_final"));
    for s in ["technique", "findings", "impression"] {
        home.report_write(report, s, "Written.").unwrap();
    }
    let ready = home.report_actions(report).unwrap();
    assert!(ready.finalize.allowed, "{:?}", ready.finalize);
    // Co-signing one's own version is not offered: it would not be a second signature.
    assert_eq!(ready.cosign["findings"].rule, Some("self_cosign"));
    // Asking signs nothing.
    assert_eq!(home.report_show(report).unwrap().provenance.len(), 4);
}

#[test]
fn erasing_and_restricting_are_offered_by_the_rules_and_an_erased_report_offers_no_editing() {
    use crate::DataSubject;
    let dir = tempfile::tempdir().unwrap();
    let mut home = crate::tests::open_home(dir.path()).unwrap();
    let demo = home.demo().unwrap();
    let subject = DataSubject::Report(demo.report);
    // An attending may erase and restrict; there is nothing to lift.
    let before = home.report_actions(demo.report).unwrap();
    assert!(before.erase.allowed, "{:?}", before.erase);
    assert!(before.restrict.allowed, "{:?}", before.restrict);
    assert!(!before.lift.allowed && before.lift.rule.is_none());
    // Restricted: lifting is offered, restricting again is not.
    home.restrict(&subject, "GDPR Art. 18(1)(a)", true).unwrap();
    let restricted = home.report_actions(demo.report).unwrap();
    assert!(restricted.lift.allowed, "{:?}", restricted.lift);
    assert!(!restricted.restrict.allowed && restricted.restrict.rule.is_none());
    home.restrict(&subject, "accuracy verified", false).unwrap();
    assert!(home.report_actions(demo.report).unwrap().restrict.allowed);
    // Erased: no editing of any kind, and no second erasure offered.
    home.erase(&subject, "GDPR Art. 17(1)(b)").unwrap();
    let erased = home.report_actions(demo.report).unwrap();
    assert!(!erased.erase.allowed && erased.erase.rule.is_none());
    assert_eq!(erased.addendum.rule, Some("report_erased"));
    assert!(erased
        .write
        .values()
        .all(|a| a.rule == Some("report_erased")));
    assert!(!erased.finalize.allowed);
    // Restriction still may follow an erasure (the rules keep it open).
    assert!(erased.restrict.allowed, "{:?}", erased.restrict);
}
