//! A model served over HTTP (the example service on loopback, with misbehaving paths).

use super::{ai_results, bundle, phantom, with_model};

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
