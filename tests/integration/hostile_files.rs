//! The hostile files of `countersign_testkit::hostile`, handed to the real CLI as a radiologist
//! or an auditor would hand them over: each gets a clear error (exit 2, one line) using at most
//! 2 s of CPU and 256 MiB, and nothing of it is stored; a folder holding all of them beside a
//! good series imports the good series, and its images still decode.

use std::path::Path;

use serde_json::Value;

use crate::common::{bin, python, Home};

/// What a command cost: its exit status and stderr, and the CPU time and peak resident memory
/// of it and every process it waited for (a decode worker included), as the kernel counted
/// them for a Python parent that ran nothing else.
struct Measured {
    code: i64,
    stdout: String,
    stderr: String,
    cpu_seconds: f64,
    peak_mib: f64,
}

fn measured(args: &[&str]) -> Measured {
    const RUN: &str = "import json, resource, subprocess, sys\n\
        p = subprocess.run(sys.argv[1:], capture_output=True)\n\
        r = resource.getrusage(resource.RUSAGE_CHILDREN)\n\
        print(json.dumps({'code': p.returncode, 'stdout': p.stdout.decode(errors='replace'),\n\
            'stderr': p.stderr.decode(errors='replace'), 'cpu': r.ru_utime + r.ru_stime,\n\
            'kib': r.ru_maxrss}))\n";
    let out = std::process::Command::new(python())
        .arg("-c")
        .arg(RUN)
        .arg(bin())
        .args(args)
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    Measured {
        code: v["code"].as_i64().unwrap(),
        stdout: v["stdout"].as_str().unwrap().to_string(),
        stderr: v["stderr"].as_str().unwrap().to_string(),
        cpu_seconds: v["cpu"].as_f64().unwrap(),
        peak_mib: v["kib"].as_f64().unwrap() / 1024.0,
    }
}

/// A clear refusal, cheaply: exit 2, one line naming the problem, within the bounds.
fn refused_cheaply(m: &Measured, what: &str, says: &str) {
    assert_eq!(m.code, 2, "{what}: {}", m.stderr);
    assert!(m.stderr.contains(says), "{what}: {}", m.stderr);
    assert_eq!(m.stderr.trim().lines().count(), 1, "{what}: {}", m.stderr);
    eprintln!(
        "{what}: {:.2} s CPU, {:.0} MiB peak",
        m.cpu_seconds, m.peak_mib
    );
    assert!(m.cpu_seconds <= 2.0, "{what}: {:.2} s CPU", m.cpu_seconds);
    assert!(m.peak_mib <= 256.0, "{what}: {:.0} MiB", m.peak_mib);
}

fn hostile_folder(dir: &Path) -> Vec<countersign_testkit::hostile::HostileFile> {
    countersign_testkit::hostile::write_folder(dir).unwrap()
}

fn path_of<'a>(files: &'a [countersign_testkit::hostile::HostileFile], name: &str) -> &'a str {
    files
        .iter()
        .find(|f| f.name == name)
        .unwrap()
        .path
        .to_str()
        .unwrap()
}

#[test]
fn each_hostile_file_gets_a_clear_error_within_two_seconds_of_cpu_and_256_mib() {
    let dir = tempfile::tempdir().unwrap();
    let files = hostile_folder(&dir.path().join("hostile"));
    let png = dir.path().join("out.png");
    let png = png.to_str().unwrap();

    let m = measured(&["image", "info", path_of(&files, "deep-nesting.dcm")]);
    refused_cheaply(&m, "deep nesting", "nest deeper than 32 levels");

    let render = |name: &str| measured(&["image", "render", path_of(&files, name), "-o", png]);
    let m = render("segmented-lut-bomb.dcm");
    refused_cheaply(&m, "segmented LUT bomb", "is empty");

    // CharLS spins for about 7 s on it; the worker is stopped at its budget.
    let m = render("jpeg-ls-spin.dcm");
    refused_cheaply(&m, "JPEG-LS spin", "did not finish within");
    assert!(!Path::new(png).exists(), "a PNG was written");

    let home = Home::new();
    home.ok(&[
        "init",
        "--name",
        "Dr Auditor",
        "--role",
        "attending",
        "--admin",
    ]);
    let before = home.count();
    let home_dir = home.dir.to_str().unwrap();
    let m = measured(&[
        "--home",
        home_dir,
        "bundle",
        "import",
        path_of(&files, "audit-archive-4gib.tar"),
    ]);
    refused_cheaply(&m, "4 GiB tar header", "claims 4294967296 bytes");
    assert_eq!(home.count(), before, "something of the archive was stored");
}

#[test]
fn a_folder_of_hostile_files_imports_only_what_is_sound_and_the_home_still_decodes_images() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("cd");
    let files = hostile_folder(&folder.join("hostile"));
    let spec = countersign_imaging::PhantomSpec {
        seed: "hostile-cd".into(),
        slices: 3,
        size: 64,
        ..Default::default()
    };
    countersign_imaging::write_phantom_series(&spec, &folder.join("series")).unwrap();

    let home = Home::new();
    let m = measured(&[
        "--home",
        home.dir.to_str().unwrap(),
        "--json",
        "import",
        folder.to_str().unwrap(),
    ]);
    assert_eq!(m.code, 0, "{}", m.stderr);
    eprintln!(
        "folder import: {:.2} s CPU, {:.0} MiB peak",
        m.cpu_seconds, m.peak_mib
    );
    assert!(m.peak_mib <= 256.0, "{:.0} MiB", m.peak_mib);
    let summary: Value = serde_json::from_str(&m.stdout).unwrap();
    assert_eq!(summary["imported"], 4, "{summary}");
    let reason = |list: &str, name: &str| -> String {
        summary[list]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["path"].as_str().unwrap().ends_with(name))
            .unwrap_or_else(|| panic!("{name} not in {list}: {summary}"))["reason"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(reason("failed", "deep-nesting.dcm").contains("nest deeper"));
    assert!(reason("failed", "jpeg-ls-spin.dcm").contains("decoder was stopped"));
    assert!(reason("failed", "audit-archive-4gib.tar").contains("not a readable DICOM file"));
    // Its metadata is sound, so it is listed; its pixels are refused in words, once, by the
    // worker, and the viewer says so rather than decoding it again.
    assert!(reason("undecodable", "segmented-lut-bomb.dcm").contains("is empty"));
    assert_eq!(files.len(), 4);

    // Nothing the worker was stopped on is in the image store; the good series decodes.
    let stored: usize = walk(&home.dir.join("images"));
    assert_eq!(stored, 4);
    crate::common::use_cli_as_decode_worker();
    let app = countersign_app::Home::open(&home.dir).unwrap();
    let study = countersign_imaging::phantom_study_uid(&spec.seed);
    for sha in app.study_images(&study).unwrap() {
        let packet = app.frame_packet(&sha, 0).unwrap();
        assert!(packet.len() > 64 * 64 * 2, "{sha}");
    }
}

fn walk(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| {
                    let p = e.path();
                    if p.is_dir() {
                        walk(&p)
                    } else {
                        1
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}

/// Every input the fuzzers found slow in a C codec (kept in `fuzz/known-slow/`, left out of the
/// in-process corpus replay) is now bounded by the decode worker's budget: `image render` ends
/// with a clear error, cheaply, however long the codec would have spun.
#[test]
fn every_known_slow_fuzz_input_is_stopped_by_the_decode_worker() {
    let dir = crate::common::tests_dir().join("../fuzz/known-slow");
    let mut inputs: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "dcm"))
        .collect();
    inputs.sort();
    assert!(!inputs.is_empty(), "{} holds no inputs", dir.display());
    let out = tempfile::tempdir().unwrap();
    let png = out.path().join("out.png");
    for input in inputs {
        let name = input.file_name().unwrap().to_string_lossy().into_owned();
        let m = measured(&[
            "image",
            "render",
            input.to_str().unwrap(),
            "-o",
            png.to_str().unwrap(),
        ]);
        refused_cheaply(&m, &name, "error:");
    }
}

/// A compressed image is decoded only in the worker; the dedicated worker beside the program
/// is used when it speaks this version's protocol, and a stale one (another version's hello)
/// is passed over for the program itself, not trusted and not fatal.
#[test]
fn a_stale_decode_worker_beside_the_program_is_passed_over() {
    let dir = tempfile::tempdir().unwrap();
    let cli = dir.path().join("countersign");
    std::fs::copy(bin(), &cli).unwrap();
    let worker = dir.path().join("countersign-decode-worker");
    std::fs::write(
        &worker,
        "#!/bin/sh\necho '{\"hello\":\"countersign-decode-worker/1\",\"landlock\":\"\",\"rlimits\":true,\"seccomp\":true}'\nexit 0\n",
    )
    .unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&worker, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let png = dir.path().join("out.png");
    // 12-bit lossy JPEG: libjpeg-turbo, so rendered only by a worker (colour and lossless JPEG
    // render in process, by Rust decoders).
    let jpeg = countersign_testkit::corpus("JPEG-lossy.dcm");
    let out = std::process::Command::new(&cli)
        .args(["image", "render"])
        .arg(&jpeg)
        .arg("-o")
        .arg(&png)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(std::fs::read(&png).unwrap().starts_with(b"\x89PNG"));
}
