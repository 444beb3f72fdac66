//! An AI model as a department member: its own home runs a real algorithm on the report's
//! images and signs the result; the result travels as a bundle; unreviewed it blocks sign-off;
//! accepted, it becomes the section's text, attributed to the model and the reviewer.

mod builtin;
mod endpoint;
mod program;
mod stats;

use crate::common::Home;

fn bundle(from: &Home, report: Option<&str>, to: &Home) {
    let bytes = from.bundle(report);
    let run = to.import(&bytes);
    assert_eq!(run.code, 0, "{}", run.stderr);
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
