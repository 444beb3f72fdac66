//! An AI model as a department member: its own home runs a real algorithm on the report's
//! images and signs the result; the result travels as a bundle; unreviewed it blocks sign-off;
//! accepted, it becomes the section's text, attributed to the model and the reviewer.

use crate::common::Home;

fn bundle(from: &Home, report: Option<&str>, to: &Home) {
    let bytes = from.bundle(report);
    let run = to.import(&bytes);
    assert_eq!(run.code, 0, "{}", run.stderr);
}

#[test]
fn an_ai_result_is_signed_by_the_model_reviewed_by_a_radiologist_and_blocks_sign_off_until_then() {
    let series = tempfile::tempdir().unwrap();
    let dir = series.path().join("series");
    let (ada, study) = crate::common::founder_with_phantom(&dir, 8, 64);
    let report = ada.new_report(&study, "ct-chest");

    // The model's home: its own key, on the roster as an ai-model, holding the report and images.
    let member = crate::common::AI_MEMBER;
    let model = Home::new();
    let key = model.ok(&[&["init"][..], &member].concat())["key"]
        .as_str()
        .unwrap()
        .to_string();
    ada.ok(&[&["roster", "add", "--key", &key][..], &member].concat());
    // Not granted this report, the model's result is refused by its own home (and would be by
    // every peer): an AI writes only where it may read.
    bundle(&ada, Some(&report), &model);
    model.ok(&["import", dir.to_str().unwrap()]);
    let ungranted = model.run(&["ai", "run", "--report", &report]);
    assert_eq!(ungranted.code, 2);
    assert!(
        ungranted.stderr.contains("not_granted"),
        "{}",
        ungranted.stderr
    );
    ada.ok(&["report", "grant", &report, "--member", &key]);
    bundle(&ada, Some(&report), &model);
    let result = model.ok(&["ai", "run", "--report", &report])["entry"]
        .as_str()
        .unwrap()
        .to_string();
    // A person cannot sign as the model: ai run refuses a human identity.
    let refused = ada.run(&["ai", "run", "--report", &report]);
    assert_eq!(refused.code, 2);
    bundle(&model, Some(&report), &ada);

    let view = ada.ok(&["report", "show", &report]);
    let ai = &view["ai"][0];
    assert_eq!(ai["entry"], result.as_str());
    assert_eq!(ai["author"]["ai_model"]["vendor"], "Countersign Labs");
    assert_eq!(ai["parameters"]["algorithm"], "soft-tissue-stats/1");
    let mean: f64 = ai["outputs"]["mean_hu"].as_str().unwrap().parse().unwrap();
    // The phantom's brain is +10 to +40 HU: the model measured what is there.
    assert!((0.0..=100.0).contains(&mean) && mean > 5.0, "{mean}");
    assert!(ai["review"].is_null());

    // Every section written, but the AI result unreviewed: sign-off is refused in words.
    for (section, text) in [
        ("technique", "Non-contrast CT."),
        ("findings", "Normal brain parenchyma."),
        ("impression", "Normal."),
    ] {
        ada.write(&report, section, text);
    }
    let blocked = ada.run(&["report", "finalize", &report]);
    assert_eq!(blocked.code, 2);
    assert!(
        blocked.stderr.contains("refused by rule unreviewed_ai")
            && blocked.stderr.contains("has not been reviewed"),
        "{}",
        blocked.stderr
    );
    // The model cannot review its own (or any) result: the role table refuses, nothing stored.
    let before = model.count();
    let own_review = model.run(&[
        "report",
        "review",
        &report,
        "--ai-entry",
        &result,
        "--accept",
    ]);
    assert_eq!(own_review.code, 2);
    assert!(
        own_review
            .stderr
            .contains("refused by rule role_may_not_write: role ai-model may not write ai.review"),
        "{}",
        own_review.stderr
    );
    assert_eq!(model.count(), before);

    // Accepted: the proposal is the findings, the review is bound to the result.
    ada.ok(&[
        "report",
        "review",
        &report,
        "--ai-entry",
        &result,
        "--accept",
        "--comment",
        "Agree.",
    ]);
    let view = ada.ok(&["report", "show", &report]);
    assert_eq!(view["ai"][0]["review"]["decision"], "accept");
    assert_eq!(view["ai"][0]["review"]["reviewer"]["name"], "Dr Ada");
    let findings = view["sections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "findings")
        .unwrap();
    assert_eq!(findings["text"], view["ai"][0]["text"]);
    // Reviewed once only.
    let again = ada.run(&[
        "report",
        "review",
        &report,
        "--ai-entry",
        &result,
        "--reject",
    ]);
    assert!(
        again.stderr.contains("already reviewed"),
        "{}",
        again.stderr
    );

    ada.ok(&["report", "finalize", &report]);
    assert_eq!(ada.ok(&["verify"])["ok"], true);
}

/// A department (Ada) with a report on `files` imported, and a model member `name` whose home
/// was granted that report and holds it with its images.
fn with_model(name: &str, files: &[std::path::PathBuf]) -> (Home, Home, String) {
    let ada = Home::new();
    ada.ok(&["init", "--name", "Dr Ada", "--role", "attending", "--admin"]);
    let mut import = vec!["import"];
    import.extend(files.iter().map(|f| f.to_str().unwrap()));
    ada.ok(&import);
    let study = ada.ok(&["studies"])[0]["study"]
        .as_str()
        .unwrap()
        .to_string();
    let report = ada.new_report(&study, "ct-chest");
    let member = [
        "--name",
        name,
        "--role",
        "ai-model",
        "--vendor",
        "Countersign examples",
        "--model-version",
        "1.0",
    ];
    let model = Home::new();
    let key = model.ok(&[&["init"][..], &member].concat())["key"]
        .as_str()
        .unwrap()
        .to_string();
    ada.ok(&[&["roster", "add", "--key", &key][..], &member].concat());
    ada.ok(&["report", "grant", &report, "--member", &key]);
    bundle(&ada, Some(&report), &model);
    model.ok(&import);
    (ada, model, report)
}

/// A phantom CT series of `slices` images, in a folder kept by `dir`.
fn phantom(dir: &tempfile::TempDir, slices: u32) -> Vec<std::path::PathBuf> {
    let out = dir.path().join("series");
    let home = Home::new();
    home.ok(&[
        "image",
        "phantom",
        "-o",
        out.to_str().unwrap(),
        "--slices",
        &slices.to_string(),
        "--size",
        "64",
    ]);
    vec![out]
}

/// The example model program shipped in the repository.
fn example_model() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/models/series-geometry")
        .canonicalize()
        .unwrap()
}

fn ai_results(home: &Home) -> i64 {
    home.db()
        .query_row(
            "SELECT COUNT(*) FROM entries WHERE kind = 'ai.result'",
            [],
            |r| r.get(0),
        )
        .unwrap()
}

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

/// The example model service (examples/models/series-geometry-serve, run by
/// tests/integration/model_endpoint.py with misbehaviours at other paths), on loopback; stopped
/// when dropped.
struct ModelService {
    child: std::process::Child,
    base: String,
}

impl ModelService {
    fn start() -> ModelService {
        use std::io::BufRead;
        let mut child = std::process::Command::new(crate::common::python())
            .arg(crate::common::tests_dir().join("integration/model_endpoint.py"))
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("the model service said {line:?}"));
        ModelService {
            base: url.trim_end_matches("/infer").to_string(),
            child,
        }
    }
}

impl Drop for ModelService {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A model served over HTTP speaks the same contract: the node sends the report's images as
/// multipart/related (the service checks each part against the SHA-256 it names, and counts
/// them), signs what it answered with the model's key, naming the endpoint; a service that
/// hangs, fails, answers garbage or too much, redirects, or is not there signs nothing.
#[test]
fn a_model_served_over_http_runs_under_the_contract_and_misbehaviour_signs_nothing() {
    let series = tempfile::tempdir().unwrap();
    let (ada, model, report) = with_model("series-geometry", &phantom(&series, 5));
    let service = ModelService::start();
    let url = format!("{}/infer", service.base);
    let bound = model.ok(&["ai", "bind", "--endpoint", &url]);
    assert_eq!(bound["kind"], "endpoint", "{bound}");
    let result = crate::common::str_of(&model.ok(&["ai", "run", "--report", &report])["entry"]);
    bundle(&model, Some(&report), &ada);
    let view = ada.ok(&["report", "show", &report]);
    let ai = &view["ai"][0];
    assert_eq!(ai["entry"], result.as_str());
    assert_eq!(ai["parameters"]["endpoint"], url.as_str(), "{ai}");
    assert_eq!(ai["parameters"]["contract"], "countersign-ai-model/1");
    assert!(ai["parameters"].get("program_sha256").is_none(), "{ai}");
    // What the service read from the five parts it was sent, each hashed as named.
    assert_eq!(ai["outputs"]["images"], "5", "{ai}");
    assert_eq!(ai["outputs"]["matrix"], "64×64", "{ai}");
    assert_eq!(ai_results(&model), 1);

    let cases: [(&str, &[&str], &str, &str); 5] = [
        (
            "/hang",
            &["--timeout", "1"],
            "ai_model_timeout",
            "within 1 s",
        ),
        (
            "/fail",
            &[],
            "ai_model_failed",
            "HTTP 500: the model ran out of GPU memory",
        ),
        ("/garbage", &[], "ai_model_output", "not the contract"),
        (
            "/chatty",
            &["--max-output", "1000"],
            "ai_model_output",
            "more than 1000 bytes",
        ),
        ("/redirect", &[], "ai_model_failed", "HTTP 307"),
    ];
    for (path, extra, code, says) in cases {
        let url = format!("{}{path}", service.base);
        model.ok(&[&["ai", "bind", "--endpoint", &url][..], extra].concat());
        let run = model.run(&["ai", "run", "--report", &report]);
        assert_eq!(run.error_code(), code, "{path}: {}", run.stderr);
        assert!(run.stderr.contains(says), "{path}: {}", run.stderr);
        assert_eq!(ai_results(&model), 1, "{path}");
    }
    // Nothing listening: a clear failure, nothing signed.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let gone = format!("http://{}/infer", closed.local_addr().unwrap());
    drop(closed);
    model.ok(&["ai", "bind", "--endpoint", &gone]);
    let run = model.run(&["ai", "run", "--report", &report]);
    assert_eq!(run.error_code(), "ai_model_failed", "{}", run.stderr);
    assert_eq!(ai_results(&model), 1);
    // Bindings that would leak: another scheme, credentials in the URL.
    for bad in ["ftp://127.0.0.1/infer", "http://token@127.0.0.1/infer"] {
        assert_eq!(
            model.run(&["ai", "bind", "--endpoint", bad]).error_code(),
            "invalid_input",
            "{bad}"
        );
    }
}

/// The built-in example measures CT attenuation: on an MR study it refuses, naming why.
#[test]
fn soft_tissue_stats_refuses_an_mr_study() {
    let (_ada, model, report) = with_model(
        "soft-tissue-stats",
        &[countersign_testkit::corpus("MR_small.dcm")],
    );
    let run = model.run(&["ai", "run", "--report", &report]);
    assert_eq!(run.error_code(), "ai_input_refused", "{}", run.stderr);
    assert!(run.stderr.contains("are MR"), "{}", run.stderr);
    assert_eq!(ai_results(&model), 0);
}

/// `ai stats` counts what the entries say, per model and version; a review whose signature is
/// broken in SQLite is excluded and listed (its proposal reads as unreviewed), and `verify`
/// reports it too.
#[test]
fn ai_stats_counts_verified_entries_and_flags_a_tampered_review() {
    let series = tempfile::tempdir().unwrap();
    let (ada, model, report) = with_model("series-geometry", &phantom(&series, 2));
    let program = example_model();
    model.ok(&["ai", "bind", "--program", program.to_str().unwrap()]);
    let results: Vec<String> = (0..3)
        .map(|_| {
            model.ok(&["ai", "run", "--report", &report])["entry"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    bundle(&model, Some(&report), &ada);
    ada.ok(&[
        "report",
        "review",
        &report,
        "--ai-entry",
        &results[0],
        "--accept",
    ]);
    let edited = ada.ok(&[
        "report",
        "review",
        &report,
        "--ai-entry",
        &results[1],
        "--edit",
        "2 CT images, matrix 64×64 in plane.",
    ])["entry"]
        .as_str()
        .unwrap()
        .to_string();
    let stats = ada.ok(&["ai", "stats"]);
    let m = &stats["models"][0];
    assert_eq!(
        (
            m["model"].as_str(),
            m["proposals"].as_u64(),
            m["accepted"].as_u64(),
            m["edited"].as_u64(),
            m["unreviewed"].as_u64()
        ),
        (Some("series-geometry"), Some(3), Some(1), Some(1), Some(1)),
        "{stats}"
    );
    assert_eq!(m["acceptance_rate"], 1.0);
    assert!(m["edit_words"]["max"].as_u64().unwrap() > 0, "{stats}");
    assert_eq!(
        ada.ok(&["ai", "stats", "--modality", "MR"])["models"],
        serde_json::json!([])
    );
    assert_eq!(
        ada.ok(&[
            "ai",
            "stats",
            "--model",
            "series-geometry",
            "--since",
            "2000-01-01"
        ])["models"][0]["proposals"],
        3
    );
    assert_eq!(
        ada.run(&["ai", "stats", "--since", "last week"])
            .error_code(),
        "invalid_input"
    );

    // The edit's signature broken in place: excluded from every figure, listed, and verify
    // says so.
    let id = countersign_ledger::Hash::from_hex(&edited).unwrap();
    ada.db()
        .execute(
            "UPDATE entries SET signature = zeroblob(64) WHERE id = ?1",
            [id.as_bytes().as_slice()],
        )
        .unwrap();
    let stats = ada.ok(&["ai", "stats"]);
    let m = &stats["models"][0];
    assert_eq!(
        (m["edited"].as_u64(), m["unreviewed"].as_u64()),
        (Some(0), Some(2)),
        "{stats}"
    );
    let excluded = stats["excluded"].as_array().unwrap();
    assert_eq!(excluded.len(), 1, "{stats}");
    assert_eq!(excluded[0]["entry"], edited.as_str());
    assert_eq!(excluded[0]["kind"], "ai.review");
    let verified = ada.run(&["verify"]);
    assert_eq!(verified.code, 1);
    assert!(verified.stdout.contains(&edited), "{}", verified.stdout);
}
