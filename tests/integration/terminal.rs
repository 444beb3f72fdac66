//! Hostile text must not rewrite an auditor's terminal (found by review, 2026-12-05). What
//! the CLI prints for a person quotes what others wrote: the legal basis of an erasure (exempt
//! from the signed-text rule), names, section text. An escape sequence in one would clear the
//! screen and draw a signed report that is not there; a line feed would fake a line of its
//! own; a lone carriage return would hide the sentence before it. Each is printed escaped, in
//! `report show` and in the audit archive's `provenance.txt`; `--json` keeps the bytes as
//! signed. And a name that holds one is never signed by an honest home.

use std::process::Command;

use countersign_ledger::{bundle, Hash, Kind, SecretKey};
use countersign_report::payload::SectionWrite;

use crate::common::{craft, crafted_roster, ct_chest_create, founder, Home, AI_MEMBER};

/// Clears the screen, homes the cursor, then a line break and a fake line, under a bidi
/// override: what an attending could give as the basis of an erasure.
const BASIS: &str = "GDPR Art. 17\u{1b}[2J\u{1b}[H\ncreated by Dr Nobody\u{202e}";
const BASIS_SHOWN: &str = "GDPR Art. 17\\u{1b}[2J\\u{1b}[H\\u{a}created by Dr Nobody\\u{202e}";

fn assert_escaped(what: &str, text: &str) {
    for c in ['\u{1b}', '\u{202e}', '\r'] {
        assert!(!text.contains(c), "{what} holds {c:?}: {text:?}");
    }
    assert!(
        !text
            .lines()
            .any(|l| l.trim_start().starts_with("created by Dr Nobody")),
        "{what} has the basis's fake line: {text}"
    );
}

#[test]
fn an_erasure_basis_with_escape_sequences_prints_escaped_in_report_show_and_provenance() {
    let (a, report) = Home::demo();
    a.ok(&["erase", "--report", &report, "--basis", BASIS]);
    // As signed, for scripts: serde escapes it in JSON.
    assert_eq!(
        a.ok(&["report", "show", &report])["erasure"]["basis"],
        BASIS
    );
    let shown = a.text(&["report", "show", &report]);
    assert_escaped("report show", &shown);
    assert!(shown.contains(BASIS_SHOWN), "{shown}");

    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("audit.tar");
    a.ok(&[
        "export",
        &report,
        "--format",
        "bundle",
        "-o",
        archive.to_str().unwrap(),
    ]);
    let out = Command::new("tar")
        .arg("-xOf")
        .arg(&archive)
        .arg("provenance.txt")
        .output()
        .expect("tar");
    assert!(out.status.success());
    let provenance = String::from_utf8(out.stdout).unwrap();
    assert_escaped("provenance.txt", &provenance);
    assert!(provenance.contains(BASIS_SHOWN), "{provenance}");
}

/// The signed-text rule lets a carriage return through (Windows line ends, older builds); a
/// lone one made a terminal print the second sentence over the first.
#[test]
fn a_lone_carriage_return_in_section_text_shows_both_sentences() {
    let ada = founder("Dr Ada");
    let report = ada.new_report("1.2.3.4", "ct-chest");
    let text = "Spiculated mass, malignant.\rNo mass seen.            ";
    ada.write(&report, "findings", text).ok();
    let shown = ada.text(&["report", "show", &report]);
    assert!(!shown.contains('\r'), "{shown:?}");
    assert!(
        shown.contains("Spiculated mass, malignant.\nNo mass seen."),
        "{shown}"
    );
}

/// A line feed in a member's name would fake a "co-signed by …" line in every `report show`,
/// even one piped into a file; an escape sequence or a bidi override in a name, a model's
/// details or the network's name would rewrite or reorder what is read. None is signed.
#[test]
fn a_name_with_a_line_break_or_escape_sequence_is_refused_at_roster_add_and_init() {
    let ada = founder("Dr Ada");
    let eve = Home::new();
    let key = eve.key_of_new_member();
    let members = ada.ok(&["roster", "list"]);
    for name in [
        "Dr Eve\n     co-signed by Dr Ada at 2026-12-05 10:00:00 UTC [verified]",
        "Dr Eve\u{1b}[1A\u{1b}[2K",
        "Dr \u{202e}evE",
    ] {
        let refused = ada.run(&[
            "roster",
            "add",
            "--key",
            &key,
            "--name",
            name,
            "--role",
            "attending",
        ]);
        assert_eq!(refused.error_code(), "invalid_input", "{}", refused.stderr);
    }
    assert_eq!(ada.ok(&["roster", "list"]), members);

    let init = |args: &[&str]| {
        let home = Home::new();
        let run = home.run(&[&["init"], args].concat());
        assert_eq!(
            run.error_code(),
            "invalid_input",
            "{args:?}: {}",
            run.stderr
        );
        assert_ne!(home.run(&["whoami"]).code, 0, "{args:?} made an identity");
    };
    init(&["--name", "Dr\nEve", "--role", "attending"]);
    init(&[
        "--name",
        "Dr Eve",
        "--role",
        "attending",
        "--admin",
        "--network-name",
        "Radiology\u{1b}[2J",
    ]);
    let mut model = AI_MEMBER.to_vec();
    model[5] = "Countersign\u{2066} Labs";
    init(&model);
}

/// An error message can quote a hostile value (here the field name of an entry refused for a
/// hidden character, which the rule's message names as given): printed for a person, it is one
/// line with nothing a terminal acts on.
#[test]
fn an_error_message_quoting_a_hostile_field_name_prints_escaped() {
    let ada = founder("Dr Ada");
    let report = ada.new_report("1.2.3.4", "ct-chest");
    let out = ada
        .command()
        .args(["report", "write", &report, "--section", "findings"])
        .args(["--text", "Normal."])
        .args(["--field", "x\u{1b}[2J\nerror: none=\u{202e}"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("hidden_character"), "{stderr:?}");
    assert!(!stderr.contains('\u{1b}'), "{stderr:?}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr:?}");
    assert!(
        stderr.contains("field x\\u{1b}[2J\\u{a}error: none"),
        "{stderr:?}"
    );
}

/// Names an older build (or a hostile admin's own client) signed, which no honest home signs
/// now: a line feed in a member's name reaches an auditor's `report show` and `roster list` on
/// the line it belongs to, escaped.
#[test]
fn a_name_already_signed_with_a_line_break_prints_escaped_on_its_own_line() {
    let attending = SecretKey::from_seed(&[0x2a; 32]);
    let radiologist = SecretKey::from_seed(&[0x2b; 32]);
    // 2023-11-14: in the past on any clock that runs these tests, so nothing is held.
    let t0 = 1_700_000_000_000u64;
    let fake = "Dr Rad\n     co-signed by Dr Ada at 2023-11-14 22:13:20 UTC [verified]";
    let (network, roster) = crafted_roster(&attending, &radiologist, "Radiology", fake, t0);
    let [(genesis, genesis_payload), (admitted, admission)] = &roster[..] else {
        unreachable!("a genesis and an admission")
    };
    let zero = Hash::ZERO.to_hex();
    let create_payload = ct_chest_create("1.2.826.0.42");
    let create = craft(
        &attending,
        &network,
        &zero,
        1,
        t0 + 1,
        Kind::ReportCreate,
        vec![],
        &create_payload,
    );
    let report = create.id().to_hex();
    let write_payload = json(&SectionWrite {
        section: "findings".into(),
        text: "Normal.".into(),
        fields: Default::default(),
        macros: Vec::new(),
        links: Vec::new(),
    });
    let write = craft(
        &radiologist,
        &network,
        &report,
        1,
        t0 + 2,
        Kind::SectionWrite,
        vec![create.id()],
        &write_payload,
    );
    let auditor = Home::new();
    auditor.ok(&["init", "--name", "Auditor", "--role", "reviewer"]);
    let imported = auditor.import(&bundle::encode([
        (genesis, Some(genesis_payload.as_slice())),
        (admitted, Some(admission.as_slice())),
        (&create, Some(create_payload.as_slice())),
        (&write, Some(write_payload.as_slice())),
    ]));
    assert_eq!(imported.code, 0, "{}", imported.stderr);

    let shown = auditor.text(&["report", "show", &report]);
    assert!(
        shown.contains("Dr Rad\\u{a}     co-signed by Dr Ada"),
        "{shown}"
    );
    assert!(
        !shown
            .lines()
            .any(|l| l.trim_start().starts_with("co-signed by")),
        "a fake co-signature line: {shown}"
    );
    let roster = auditor.text(&["roster", "list"]);
    assert_eq!(roster.lines().count(), 2, "{roster}");
    assert!(roster.contains("Dr Rad\\u{a}"), "{roster}");
}

/// A payload as the JSON bytes an entry signs.
fn json<T: serde::Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).expect("serialisable")
}
