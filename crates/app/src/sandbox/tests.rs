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
    phantom_of_size(64)
}

fn phantom_of_size(size: u16) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let spec = countersign_imaging::PhantomSpec {
        seed: "sandbox".into(),
        slices: 1,
        size,
        ..Default::default()
    };
    let files = countersign_imaging::write_phantom_series(&spec, dir.path()).unwrap();
    std::fs::read(&files[0]).unwrap()
}

#[cfg(target_os = "linux")]
#[test]
fn the_worker_can_neither_open_files_nor_connect_nor_start_programs_nor_signal_the_app() {
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
            signal_parent: false,
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
        Verdict::Refused { code, message, .. } => {
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

#[test]
fn a_header_declaring_absurd_pixels_gets_the_longest_budget_not_an_overflow() {
    let bytes = phantom_slice();
    let mut info = countersign_imaging::from_bytes(&bytes).unwrap().info;
    assert_eq!(budget_for(Some(&info)), BASE_BUDGET);
    info.rows = 1760;
    info.columns = 1760;
    info.bits_allocated = 16;
    assert_eq!(
        budget_for(Some(&info)),
        BASE_BUDGET + Duration::from_secs(1)
    );
    info.rows = u32::MAX;
    info.columns = u32::MAX;
    info.frames = u32::MAX;
    info.samples_per_pixel = u16::MAX;
    info.bits_allocated = u16::MAX;
    assert_eq!(budget_for(Some(&info)), MAX_BUDGET);
    assert_eq!(budget_for(None), BASE_BUDGET);
}

/// Regression (review): a file whose first frame the decoder refused in words was recorded as
/// harmless, and its other frames — never tried — were then decoded in the app. Now every frame
/// is tried in the worker, and a file with a refused frame is never decoded in the app: the
/// viewer gets the worker's words.
#[test]
fn an_image_with_a_refused_frame_is_never_decoded_in_the_app() {
    let dir = tempfile::tempdir().unwrap();
    // Sound metadata; a palette the decoder refuses in words.
    let bytes = countersign_testkit::hostile::segmented_lut_bomb(10);
    let file = dir.path().join("palette.dcm");
    std::fs::write(&file, &bytes).unwrap();
    let mut home = crate::tests::open_home(&dir.path().join("home")).unwrap();
    let summary = home.import(&[file.as_path()], |_| {}).unwrap();
    assert_eq!(summary.imported, 1, "{summary:?}");
    assert_eq!(summary.undecodable.len(), 1, "{summary:?}");
    let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes));
    let err = home.frame_packet(&sha, 0).unwrap_err();
    assert_eq!(err.code(), "bad_image");
    assert!(err.to_string().contains("frame 1:"), "{err}");
}

/// Regression (review): the parent wrote a file to its worker with a blocking write, so a
/// worker that stopped reading held the parent (and the desktop app's lock) forever.
#[test]
fn a_worker_that_stops_reading_costs_one_budget_not_the_app() {
    let mut sandbox = DecodeSandbox::new();
    sandbox.stall_worker().unwrap();
    // Far more than a pipe holds, so the write itself must end at the deadline. The stalled
    // worker used no CPU, so it counts as starved, and a fresh worker gets the file.
    let bytes = phantom_of_size(512);
    assert!(bytes.len() > 256 << 10, "{} bytes", bytes.len());
    assert_eq!(
        sandbox.check(&bytes).unwrap(),
        Verdict::Harmless {
            frames: 1,
            error: None
        }
    );
}

#[test]
fn a_render_in_the_worker_is_the_image_this_process_would_have_made() {
    let mut sandbox = DecodeSandbox::new();
    let bytes = std::fs::read(countersign_testkit::corpus("examples_ybr_color.dcm")).unwrap();
    let image = countersign_imaging::from_bytes(&bytes).unwrap();
    for (frame, max_side) in [(0, None), (image.info.frames - 1, Some(40))] {
        let request = RenderRequest {
            frame,
            window: countersign_imaging::WindowChoice::Default,
            max_side,
        };
        let there = sandbox
            .render(&bytes, &image.info, request)
            .unwrap()
            .unwrap();
        let mut here = image.render(frame, request.window).unwrap();
        if let Some(side) = max_side {
            here = countersign_imaging::thumbnail(&here, side);
        }
        // The window applied is not sent back (a colour image has none).
        here.window = None;
        assert_eq!(there, here, "frame {frame}");
    }
    // A frame the file does not have: the decoder's own error, as a message.
    let request = RenderRequest {
        frame: image.info.frames,
        window: countersign_imaging::WindowChoice::MinMax,
        max_side: None,
    };
    match sandbox.render(&bytes, &image.info, request).unwrap() {
        Err(Verdict::Harmless {
            error: Some(message),
            ..
        }) => assert!(message.contains("frame"), "{message}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_worker_that_dies_during_a_render_is_a_refusal_and_the_next_render_gets_a_fresh_worker() {
    let mut sandbox = DecodeSandbox::new();
    let bytes = phantom_slice();
    let info = countersign_imaging::from_bytes(&bytes).unwrap().info;
    let request = RenderRequest {
        frame: 0,
        window: countersign_imaging::WindowChoice::Default,
        max_side: None,
    };
    sandbox.abort_worker().unwrap();
    match sandbox.render(&bytes, &info, request).unwrap() {
        Err(Verdict::Refused { code, .. }) => assert_eq!(code, "decoder_crashed"),
        other => panic!("{other:?}"),
    }
    let rendered = sandbox.render(&bytes, &info, request).unwrap().unwrap();
    assert_eq!((rendered.width, rendered.height), (info.columns, info.rows));
}

#[test]
fn render_requests_round_trip_and_an_unknown_window_kind_is_refused() {
    use countersign_imaging::{Window, WindowChoice};
    for request in [
        RenderRequest {
            frame: 0,
            window: WindowChoice::Default,
            max_side: None,
        },
        RenderRequest {
            frame: u32::MAX,
            window: WindowChoice::Explicit(Window {
                center: -600.5,
                width: 1500.0,
            }),
            max_side: Some(256),
        },
        RenderRequest {
            frame: 7,
            window: WindowChoice::MinMax,
            max_side: Some(1),
        },
    ] {
        assert_eq!(RenderRequest::decode(&request.encode()), Some(request));
    }
    let mut bytes = RenderRequest {
        frame: 1,
        window: WindowChoice::Default,
        max_side: None,
    }
    .encode();
    bytes[4] = 3;
    assert_eq!(RenderRequest::decode(&bytes), None);
}

/// An uncompressed greyscale image is judged without the worker, and the verdict is the
/// worker's own — the same frames, the same words — for a sound slice and for one whose pixel
/// data is short; a compressed image is left to the worker. With the length check taken out
/// of `native_check`, the short slice is judged harmless here and not by the worker.
#[test]
fn a_verdict_reached_without_decoding_is_the_workers() {
    let mut sandbox = DecodeSandbox::new();
    let sound = phantom_slice();
    let short = countersign_testkit::hostile::with_one_row_more(&sound);
    for (name, bytes) in [("sound", &sound), ("short", &short)] {
        let image = countersign_imaging::from_bytes(bytes).unwrap();
        let here = verdict_without_decoding(&image).expect("judged without decoding");
        assert_eq!(here, sandbox.check(bytes).unwrap(), "{name}");
    }
    match verdict_without_decoding(&countersign_imaging::from_bytes(&short).unwrap()) {
        Some(Verdict::Harmless {
            frames: 0,
            error: Some(message),
        }) => assert!(message.starts_with("frame 1: "), "{message}"),
        other => panic!("{other:?}"),
    }
    let jpeg = std::fs::read(countersign_testkit::corpus("examples_ybr_color.dcm")).unwrap();
    let image = countersign_imaging::from_bytes(&jpeg).unwrap();
    assert_eq!(verdict_without_decoding(&image), None);
}
