//! A model program bound to a model's home: the example program under the contract, programs
//! that misbehave, and a program that also writes a DICOM SR.

use super::{ai_results, bundle, example_model, phantom, with_model};

/// The example model shipped in the repository (examples/models/series-geometry, Python and
/// DCMTK's dcmdump) runs under the contract: its result is signed with the model's key, names
/// the program by file name and SHA-256, and is reviewed like any other.
#[test]
fn an_external_model_program_runs_under_the_contract_and_its_result_is_reviewed() {
    let series = tempfile::tempdir().unwrap();
    let (ada, model, report) = with_model("series-geometry", &phantom(&series, 6));
    // Nothing bound, and not the built-in's name: nothing runs, nothing is signed.
    assert_eq!(
        model.run(&["ai", "run", "--report", &report]).error_code(),
        "ai_model_unbound"
    );
    // The built-in runs only under its own name.
    model.ok(&["ai", "bind", "--builtin", "soft-tissue-stats"]);
    assert_eq!(
        model.run(&["ai", "run", "--report", &report]).error_code(),
        "ai_model_unbound"
    );
    let program = example_model();
    model.ok(&["ai", "bind", "--program", program.to_str().unwrap()]);
    let result = model.ok(&["ai", "run", "--report", &report])["entry"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        !model.dir.join("ai-work").exists()
            || std::fs::read_dir(model.dir.join("ai-work"))
                .unwrap()
                .count()
                == 0,
        "the program's copies of the images are removed after the run"
    );
    bundle(&model, Some(&report), &ada);
    let view = ada.ok(&["report", "show", &report]);
    let ai = &view["ai"][0];
    assert_eq!(ai["entry"], result.as_str());
    assert_eq!(ai["model"], "series-geometry");
    assert_eq!(ai["section"], "technique");
    assert_eq!(ai["parameters"]["program"], "series-geometry");
    assert_eq!(ai["parameters"]["contract"], "countersign-ai-model/1");
    let bytes = std::fs::read(&program).unwrap();
    assert_eq!(
        ai["parameters"]["program_sha256"],
        countersign_ledger::Hash::of(&bytes).to_hex()
    );
    // What dcmdump read from the six 64×64 phantom slices.
    assert_eq!(ai["outputs"]["images"], "6", "{ai}");
    assert_eq!(ai["outputs"]["matrix"], "64×64", "{ai}");
    assert!(
        ai["text"].as_str().unwrap().starts_with("6 CT images"),
        "{ai}"
    );
    ada.ok(&[
        "report",
        "review",
        &report,
        "--ai-entry",
        &result,
        "--accept",
    ]);
    let view = ada.ok(&["report", "show", &report]);
    let technique = view["sections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "technique")
        .unwrap();
    assert_eq!(technique["text"], view["ai"][0]["text"]);
}

/// A model program that hangs (with a child of its own), crashes, prints garbage or too much,
/// or one that would see the caller's environment: a clear error with its code, no entry, and
/// its working folder gone.
#[test]
fn a_model_program_that_hangs_crashes_or_misbehaves_signs_nothing() {
    let series = tempfile::tempdir().unwrap();
    let (_ada, model, report) = with_model("checked-model", &phantom(&series, 2));
    let scripts = tempfile::tempdir().unwrap();
    let script = |name: &str, body: &str| {
        let path = scripts.path().join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        let mut perms = std::fs::metadata(&path).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
        std::fs::set_permissions(&path, perms).unwrap();
        path
    };
    let valid = r#"{"section":"findings","text":"Nothing to add."}"#;
    let cases: Vec<(std::path::PathBuf, Vec<&str>, &str, &str)> = vec![
        (
            script("hangs", "sleep 600 &\nsleep 600"),
            vec!["--timeout", "1"],
            "ai_model_timeout",
            "within 1 s",
        ),
        (
            script("crashes", "echo 'the model exploded' >&2\nexit 3"),
            vec![],
            "ai_model_failed",
            "the model exploded",
        ),
        (
            script("garbage", "echo hello"),
            vec![],
            "ai_model_output",
            "not the contract",
        ),
        (
            script("chatty", "head -c 100000 /dev/zero | tr '\\0' a"),
            vec!["--max-output", "1000"],
            "ai_model_output",
            "more than 1000 bytes",
        ),
        (
            script(
                "unknown-field",
                r#"echo '{"section":"findings","text":"x","diagnosis":"cancer"}'"#,
            ),
            vec![],
            "ai_model_output",
            "unknown field",
        ),
    ];
    for (path, extra, code, says) in cases {
        let mut bind = vec!["ai", "bind", "--program", path.to_str().unwrap()];
        bind.extend(extra);
        model.ok(&bind);
        let run = model.run(&["ai", "run", "--report", &report]);
        assert_eq!(run.error_code(), code, "{}: {}", path.display(), run.stderr);
        assert!(
            run.stderr.contains(says),
            "{}: {}",
            path.display(),
            run.stderr
        );
        assert_eq!(ai_results(&model), 0, "{}", path.display());
        assert_eq!(
            std::fs::read_dir(model.dir.join("ai-work"))
                .unwrap()
                .count(),
            0,
            "{}",
            path.display()
        );
    }
    // The program sees none of the caller's environment (here, the passphrase file's name).
    let scrubbed = script(
        "scrubbed",
        &format!(
            "[ -z \"$COUNTERSIGN_PASSPHRASE_FILE\" ] || {{ echo leaked >&2; exit 9; }}\ncat >/dev/null\necho '{valid}'"
        ),
    );
    model.ok(&["ai", "bind", "--program", scrubbed.to_str().unwrap()]);
    model.ok(&["ai", "run", "--report", &report]);
    assert_eq!(ai_results(&model), 1);
}

/// A model that also writes a DICOM SR of its result (highdicom's TID 1500, as AI products
/// deliver): the SR is read as untrusted input and its hash, SOP Instance UID and measurements
/// are signed into the result; an SR about another study, a path out of the working folder, a
/// link, or a file that is no SR signs nothing.
#[test]
fn a_models_dicom_sr_is_checked_and_signed_into_its_result() {
    let series = tempfile::tempdir().unwrap();
    let (_ada, model, report) = with_model("sr-writer", &phantom(&series, 2));
    let scripts = tempfile::tempdir().unwrap();
    let write_sr = crate::common::tests_dir().join("integration/write_sr.py");
    let other_study = countersign_testkit::corpus("CT_small.dcm");
    // A program in Python (the test venv's, with highdicom): writes an SR about the first image
    // it is given (or about the file named by its argument), then names it as the mode says.
    let program = scripts.path().join("sr-writer");
    std::fs::write(
        &program,
        format!(
            r#"#!{python}
import json, os, shutil, subprocess, sys
request = json.load(sys.stdin)
mode = sys.argv[1]
image = sys.argv[2] if len(sys.argv) > 2 else request["images"][0]["path"]
subprocess.run([sys.executable, {write_sr:?}, image, "srs"], check=True, capture_output=True)
shutil.copy("srs/measurements.dcm", "result.dcm")
out = {{"section": "findings", "text": "Nodule measured; see the SR."}}
if mode == "good" or mode == "other-study":
    out["sr"] = "result.dcm"
elif mode == "escape":
    out["sr"] = "../result.dcm"
elif mode == "link":
    os.symlink("/etc/passwd", "link.dcm")
    out["sr"] = "link.dcm"
elif mode == "not-sr":
    open("junk.dcm", "w").write("hello")
    out["sr"] = "junk.dcm"
print(json.dumps(out))
"#,
            python = crate::common::python().display(),
            write_sr = write_sr.to_str().unwrap(),
        ),
    )
    .unwrap();
    let mut perms = std::fs::metadata(&program).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&program, perms).unwrap();
    let bind = |args: &[&str]| {
        let mut bind = vec!["ai", "bind", "--program", program.to_str().unwrap()];
        for a in args {
            bind.extend(["--arg", a]);
        }
        model.ok(&bind);
    };
    let refusals: [(&[&str], &str); 4] = [
        (
            &["other-study", other_study.to_str().unwrap()],
            "is about study",
        ),
        (&["escape"], "must name a file in the working folder"),
        (&["link"], "is not a plain file"),
        (&["not-sr"], "the SR is malformed"),
    ];
    for (args, says) in refusals {
        bind(args);
        let run = model.run(&["ai", "run", "--report", &report]);
        assert_eq!(
            run.error_code(),
            "ai_model_output",
            "{args:?}: {}",
            run.stderr
        );
        assert!(run.stderr.contains(says), "{args:?}: {}", run.stderr);
        assert_eq!(ai_results(&model), 0, "{args:?}");
    }
    bind(&["good"]);
    model.ok(&["ai", "run", "--report", &report]);
    assert_eq!(ai_results(&model), 1);
    let view = model.ok(&["report", "show", &report]);
    let ai = &view["ai"][0];
    assert_eq!(
        ai["parameters"]["sr_sha256"].as_str().unwrap().len(),
        64,
        "{ai}"
    );
    assert!(
        !ai["parameters"]["sr_sop_instance"]
            .as_str()
            .unwrap()
            .is_empty(),
        "{ai}"
    );
    let from_sr: Vec<&String> = ai["outputs"]
        .as_object()
        .unwrap()
        .keys()
        .filter(|k| k.starts_with("sr: "))
        .collect();
    assert!(
        !from_sr.is_empty(),
        "the SR's measurements are signed: {ai}"
    );
}
