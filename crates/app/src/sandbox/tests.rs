use super::*;

/// The worker in this test harness (see `WorkerCommand::test_harness`); as a test of its own,
/// it checks that the worker decodes a phantom slice from inside its confinement.
#[test]
fn decode_worker() {
    serve_if_worker_child();
    let mut sandbox = DecodeSandbox::new();
    assert_eq!(
        sandbox.check(&phantom_slice()).unwrap(),
        Verdict::Harmless {
            frames: 1,
            error: None
        }
    );
}

fn phantom_slice() -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let spec = countersign_imaging::PhantomSpec {
        seed: "sandbox".into(),
        slices: 1,
        size: 64,
        ..Default::default()
    };
    let files = countersign_imaging::write_phantom_series(&spec, dir.path()).unwrap();
    std::fs::read(&files[0]).unwrap()
}

#[cfg(target_os = "linux")]
#[test]
fn the_worker_can_neither_open_files_nor_connect_nor_start_programs() {
    let mut sandbox = DecodeSandbox::new();
    let confinement = sandbox.confinement().unwrap();
    assert!(confinement.seccomp, "{confinement:?}");
    assert!(confinement.rlimits, "{confinement:?}");
    assert_eq!(
        sandbox.probe().unwrap(),
        ProbeReport {
            open_file: false,
            create_file: false,
            connect: false,
            spawn: false,
            thread: true,
        }
    );
}

#[test]
fn a_worker_that_dies_costs_one_file_and_the_next_file_gets_a_fresh_worker() {
    let mut sandbox = DecodeSandbox::new();
    let bytes = phantom_slice();
    sandbox.abort_worker().unwrap();
    match sandbox.check(&bytes).unwrap() {
        Verdict::Refused { code, message } => {
            assert_eq!(code, "decoder_crashed");
            assert!(message.contains("SIGABRT"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        sandbox.check(&bytes).unwrap(),
        Verdict::Harmless { frames: 1, .. }
    ));
}

#[test]
fn a_jpeg_ls_file_that_makes_charls_spin_is_stopped_at_its_budget() {
    let spin = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../fuzz/known-slow/jpeg-ls-charls-spins-7s.dcm"),
    )
    .unwrap();
    let mut sandbox = DecodeSandbox::new();
    match sandbox.check(&spin).unwrap() {
        Verdict::Refused { code, .. } => assert_eq!(code, "decode_timeout"),
        other => panic!("{other:?}"),
    }
    // The worker stuck in CharLS was killed; the next file is decoded by a new one.
    assert!(matches!(
        sandbox.check(&phantom_slice()).unwrap(),
        Verdict::Harmless { frames: 1, .. }
    ));
}

#[test]
fn an_ordinary_decoder_error_is_harmless_and_kept_as_the_error() {
    let mut bytes = phantom_slice();
    // Cut the pixel data short: the decoder refuses it in words, the worker lives on.
    bytes.truncate(bytes.len() - 100);
    let mut sandbox = DecodeSandbox::new();
    match sandbox.check(&bytes).unwrap() {
        Verdict::Harmless { error: Some(e), .. } => assert!(!e.is_empty()),
        Verdict::Harmless { error: None, .. } => {
            panic!("a truncated frame decoded")
        }
        other => panic!("{other:?}"),
    }
}
