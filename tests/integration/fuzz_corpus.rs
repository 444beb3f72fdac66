//! Replays every fuzz corpus file through the fuzz targets' invariants, so `make test` keeps
//! what the fuzzer found without needing a fuzzer.

use std::path::PathBuf;

fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = crate::common::tests_dir()
        .join("../fuzz/corpus")
        .join(target);
    let mut files: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|f| {
            let path = f.unwrap().path();
            let bytes = std::fs::read(&path).unwrap();
            (path, bytes)
        })
        .collect();
    files.sort();
    files
}

#[test]
fn header_decode_corpus_replays_clean() {
    let files = corpus("header_decode");
    assert!(files.len() >= 2, "corpus is missing");
    for (path, bytes) in files {
        let result =
            std::panic::catch_unwind(|| countersign_ledger::fuzz_checks::header_decode(&bytes));
        assert!(result.is_ok(), "{} breaks an invariant", path.display());
    }
}

#[test]
fn bundle_decode_corpus_replays_clean() {
    let files = corpus("bundle_decode");
    assert!(!files.is_empty(), "corpus is missing");
    // The demo bundle seed must still frame: a format change would silently empty the corpus.
    let demo = files
        .iter()
        .find(|(p, _)| p.ends_with("demo-bundle"))
        .expect("demo-bundle seed");
    assert!(countersign_ledger::bundle::decode(&demo.1).is_ok());
    for (path, bytes) in files {
        let result =
            std::panic::catch_unwind(|| countersign_ledger::fuzz_checks::bundle_decode(&bytes));
        assert!(result.is_ok(), "{} breaks an invariant", path.display());
    }
}

#[test]
fn dicom_decode_corpus_replays_clean() {
    let files = corpus("dicom_decode");
    assert!(files.len() >= 6, "corpus is missing");
    // The seeds (a phantom slice in six encodings) still decode: a regression would silently
    // turn the corpus into noise.
    for (path, bytes) in files.iter().filter(|(p, _)| {
        p.file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("seed-")
    }) {
        let image = countersign_imaging::from_bytes(bytes)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(
            image
                .render(0, countersign_imaging::WindowChoice::Default)
                .is_ok(),
            "{}",
            path.display()
        );
    }
    for (path, bytes) in files {
        let result =
            std::panic::catch_unwind(|| countersign_imaging::fuzz_checks::open_decode(&bytes));
        assert!(result.is_ok(), "{} breaks an invariant", path.display());
    }
}

#[test]
fn sr_parse_corpus_replays_clean() {
    let files = corpus("sr_parse");
    assert!(files.len() >= 2, "corpus is missing");
    // The seeds (highdicom TID 1500 SRs) still read, with what they hold: a regression would
    // silently turn the corpus into noise.
    for (path, bytes) in files.iter().filter(|(p, _)| {
        p.file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("seed-")
    }) {
        let sr = countersign_imaging::sr::parse_sr(bytes)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(!sr.references.is_empty(), "{}", path.display());
    }
    for (path, bytes) in files {
        let result =
            std::panic::catch_unwind(|| countersign_imaging::fuzz_checks::sr_parse(&bytes));
        assert!(result.is_ok(), "{} breaks an invariant", path.display());
    }
}

#[test]
fn template_parse_corpus_replays_clean() {
    let files = corpus("template_parse");
    // The shipped templates in all three encodings are seeds; each must still read.
    let seeds = files
        .iter()
        .filter(|(p, _)| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("ct-chest.")
        })
        .count();
    assert_eq!(
        seeds, 3,
        "the ct-chest seeds (toml, html, json) are missing"
    );
    for (path, bytes) in files {
        let result =
            std::panic::catch_unwind(|| countersign_report::template::fuzz::template_parse(&bytes));
        assert!(result.is_ok(), "{} breaks an invariant", path.display());
    }
}

#[test]
fn macro_parse_corpus_replays_clean() {
    let files = corpus("macro_parse");
    // The shipped macro file and one macro.publish payload are seeds; each must still read.
    let seed = |name: &str| {
        files
            .iter()
            .find(|(p, _)| p.ends_with(name))
            .unwrap_or_else(|| panic!("seed {name} is missing"))
            .1
            .clone()
    };
    let file = String::from_utf8(seed("seed-macros.toml")).unwrap();
    assert!(
        countersign_report::macros::parse_native(&file)
            .unwrap()
            .len()
            >= 5
    );
    assert!(countersign_report::macros::publication(&seed("seed-publish.json")).is_ok());
    for (path, bytes) in files {
        let result =
            std::panic::catch_unwind(|| countersign_report::macros::fuzz::macro_parse(&bytes));
        assert!(result.is_ok(), "{} breaks an invariant", path.display());
    }
}

#[test]
fn sync_decode_corpus_replays_clean() {
    let files = corpus("sync_decode");
    // The seeds still decode: a wire change would silently turn the corpus into noise.
    for (path, bytes) in files.iter().filter(|(p, _)| {
        p.file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("seed-")
    }) {
        use countersign_sync::protocol::{Envelope, Request, Response};
        let request = Envelope::<Request>::decode(bytes);
        let response = Envelope::<Response>::decode(bytes);
        assert!(
            request.is_ok() || response.is_ok(),
            "seed {} no longer decodes",
            path.display()
        );
        // The delegated seeds carry the golden delegation, which still verifies.
        if path.to_string_lossy().contains("seed-delegated-") {
            let d = request
                .map(|r| r.delegation)
                .or(response.map(|r| r.delegation))
                .unwrap()
                .expect("a delegation");
            assert_eq!(d.verify(&d.network, Some(&d.node)), Ok(()));
        }
    }
    assert!(files.len() >= 6, "corpus is missing");
    for (path, bytes) in files {
        let result = std::panic::catch_unwind(|| countersign_sync::protocol::fuzz_check(&bytes));
        assert!(result.is_ok(), "{} breaks an invariant", path.display());
    }
}

#[test]
fn checkpoint_decode_corpus_replays_clean() {
    let files = corpus("checkpoint_decode");
    // The seeds are validly signed checkpoints: they must still decode and verify.
    for (path, bytes) in files.iter().filter(|(p, _)| {
        p.file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("seed-")
    }) {
        assert!(
            countersign_ledger::checkpoint::SignedCheckpoint::decode(bytes).is_ok(),
            "seed {} no longer decodes",
            path.display()
        );
    }
    assert!(files.len() >= 2, "corpus is missing");
    for (path, bytes) in files {
        let result =
            std::panic::catch_unwind(|| countersign_ledger::fuzz_checks::checkpoint_decode(&bytes));
        assert!(result.is_ok(), "{} breaks an invariant", path.display());
    }
}

#[test]
fn payload_parse_corpus_replays_clean() {
    let files = corpus("payload_parse");
    assert!(files.len() >= 4, "the payload seeds are missing");
    for (path, bytes) in files {
        let result =
            std::panic::catch_unwind(|| countersign_report::payload::fuzz::payload_parse(&bytes));
        assert!(result.is_ok(), "{} breaks an invariant", path.display());
    }
}

#[test]
fn sealed_payload_corpus_replays_clean() {
    let files = corpus("sealed_payload");
    assert!(files.len() >= 4, "the sealed payload seeds are missing");
    for (path, bytes) in files {
        let result = std::panic::catch_unwind(|| {
            countersign_report::payload::seal::fuzz::open_envelope(&bytes)
        });
        assert!(result.is_ok(), "{} breaks an invariant", path.display());
    }
}

#[test]
fn archive_read_corpus_replays_clean() {
    let files = corpus("archive_read");
    assert!(!files.is_empty(), "the archive seeds are missing");
    for (path, bytes) in files {
        let result = std::panic::catch_unwind(|| countersign_app::fuzz_archive_read(&bytes));
        assert!(result.is_ok(), "{} breaks an invariant", path.display());
    }
}

/// `dicom_structured`'s inputs are descriptions of files, not files, so what is replayed here is
/// the DICOM files its minimised corpus serialises to (`corpus/dicom_structured_dcm/`, written by
/// the target with `DICOM_STRUCTURED_DUMP` set: see fuzz/README.md). Files that keep a C codec
/// busy for more than a second belong in fuzz/known-slow/ and are left out if they are here too.
#[test]
fn dicom_structured_corpus_replays_clean() {
    let files = corpus("dicom_structured_dcm");
    assert!(!files.is_empty(), "corpus is missing");
    let known_slow: Vec<Vec<u8>> =
        std::fs::read_dir(crate::common::tests_dir().join("../fuzz/known-slow"))
            .unwrap()
            .map(|f| f.unwrap().path())
            .filter(|p| p.extension().is_none_or(|e| e != "md"))
            .map(|p| std::fs::read(p).unwrap())
            .collect();
    for (path, bytes) in files.into_iter().filter(|(_, b)| !known_slow.contains(b)) {
        let result =
            std::panic::catch_unwind(|| countersign_imaging::fuzz_checks::open_decode(&bytes));
        assert!(result.is_ok(), "{} breaks an invariant", path.display());
    }
}

#[test]
fn sync_reconcile_corpus_replays_clean() {
    let files = corpus("sync_reconcile");
    assert!(files.len() >= 3, "corpus is missing");
    for (path, bytes) in files {
        let result = std::panic::catch_unwind(|| countersign_sync::reconcile::fuzz_check(&bytes));
        assert!(result.is_ok(), "{} breaks an invariant", path.display());
    }
}

#[test]
fn gossip_decode_corpus_replays_clean() {
    use countersign_sync::node::gossip::Announcement;
    let files = corpus("gossip_decode");
    // Seeds still decode and the refused examples are still refused: a change of the encoding
    // would silently turn the corpus into noise.
    for (path, bytes) in &files {
        let name = path.file_name().unwrap().to_string_lossy();
        if name.starts_with("seed-") {
            assert!(
                Announcement::decode(bytes).is_ok(),
                "seed {} no longer decodes",
                path.display()
            );
        }
        if name.starts_with("refused-") {
            assert!(
                Announcement::decode(bytes).is_err(),
                "{} now decodes",
                path.display()
            );
        }
    }
    assert!(files.len() >= 8, "corpus is missing");
    for (path, bytes) in files {
        let result =
            std::panic::catch_unwind(|| countersign_sync::node::gossip::fuzz_check(&bytes));
        assert!(result.is_ok(), "{} breaks an invariant", path.display());
    }
}

#[test]
fn split_view_decode_corpus_replays_clean() {
    let files = corpus("split_view_decode");
    assert!(files.len() >= 2, "corpus is missing");
    let seed = files
        .iter()
        .find(|(p, _)| p.ends_with("seed-pair"))
        .expect("seed-pair");
    assert!(
        countersign_ledger::split_view::SplitViewEvidence::decode(&seed.1).is_ok(),
        "the validly signed pair no longer decodes"
    );
    for (path, bytes) in files {
        let result =
            std::panic::catch_unwind(|| countersign_ledger::fuzz_checks::split_view_decode(&bytes));
        assert!(result.is_ok(), "{} breaks an invariant", path.display());
    }
}

#[test]
fn rotation_parse_corpus_replays_clean() {
    let files = corpus("rotation_parse");
    assert!(files.len() >= 2, "corpus is missing");
    let seed = files
        .iter()
        .find(|(p, _)| p.ends_with("seed-request"))
        .expect("seed-request");
    let text = std::str::from_utf8(&seed.1).unwrap();
    assert!(
        countersign_ledger::rotation::RotationRequest::parse(text).is_ok(),
        "the signed request no longer parses"
    );
    for (path, bytes) in files {
        let result =
            std::panic::catch_unwind(|| countersign_ledger::fuzz_checks::rotation_parse(&bytes));
        assert!(result.is_ok(), "{} breaks an invariant", path.display());
    }
}

#[test]
fn invitation_parse_corpus_replays_clean() {
    let files = corpus("invitation_parse");
    assert!(files.len() >= 2, "corpus is missing");
    let seed = files
        .iter()
        .find(|(p, _)| p.ends_with("seed-invitation"))
        .expect("seed-invitation");
    let text = std::str::from_utf8(&seed.1).unwrap();
    assert!(
        countersign_ledger::invitation::Invitation::parse(text).is_ok(),
        "the signed invitation no longer parses"
    );
    for (path, bytes) in files {
        let result =
            std::panic::catch_unwind(|| countersign_ledger::fuzz_checks::invitation_parse(&bytes));
        assert!(result.is_ok(), "{} breaks an invariant", path.display());
    }
}

#[test]
fn agent_request_corpus_replays_clean() {
    let files = corpus("agent_request");
    assert!(files.len() >= 2, "corpus is missing");
    // The seed asking to sign an entry of the seed key must still be one the agent signs.
    let seed = files
        .iter()
        .find(|(p, _)| p.ends_with("seed-sign-entry"))
        .expect("seed-sign-entry");
    let key = countersign_ledger::SecretKey::from_seed(&[1; 32]).public();
    match countersign_app::agent::proto::Request::decode(&seed.1) {
        Ok(countersign_app::agent::proto::Request::Sign(message)) => assert!(
            countersign_app::agent::proto::may_sign(&message, &key).is_ok(),
            "the agent no longer signs the seed entry"
        ),
        other => panic!("the seed is not a sign request: {other:?}"),
    }
    for (path, bytes) in files {
        let result = std::panic::catch_unwind(|| countersign_app::agent::proto::fuzz_check(&bytes));
        assert!(result.is_ok(), "{} breaks an invariant", path.display());
    }
}

#[test]
fn delegation_decode_corpus_replays_clean() {
    use countersign_ledger::delegation::NodeDelegation;
    let files = corpus("delegation_decode");
    assert!(files.len() >= 2, "corpus is missing");
    // The golden delegation still decodes and verifies for its node: a change of the encoding
    // would silently turn the corpus into noise.
    let seed = files
        .iter()
        .find(|(p, _)| p.ends_with("seed-delegation"))
        .expect("seed-delegation");
    let d = NodeDelegation::decode(&seed.1).expect("the seed delegation decodes");
    assert_eq!(d.verify(&d.network, Some(&d.node)), Ok(()));
    for (path, bytes) in files {
        let result =
            std::panic::catch_unwind(|| countersign_ledger::fuzz_checks::delegation_decode(&bytes));
        assert!(result.is_ok(), "{} breaks an invariant", path.display());
    }
}

#[test]
fn multipart_read_corpus_replays_clean() {
    let files = corpus("multipart_read");
    assert!(files.len() >= 5, "corpus is missing");
    // The two-part seed still reads as two parts: a regression would turn the corpus into
    // inputs refused at the first byte.
    let seed = files
        .iter()
        .find(|(p, _)| p.ends_with("seed-two-parts"))
        .expect("seed-two-parts");
    let (content_type, body) = seed
        .1
        .split_at(seed.1.iter().position(|b| *b == b'\n').unwrap());
    let mut reader = countersign_pacs::multipart::MultipartReader::new(
        &body[1..],
        std::str::from_utf8(content_type).unwrap(),
    )
    .unwrap();
    let mut parts = 0;
    while reader
        .next_part(&mut std::io::sink(), 1 << 20)
        .unwrap()
        .is_some()
    {
        parts += 1;
    }
    assert_eq!(parts, 2);
    for (path, bytes) in files {
        let result =
            std::panic::catch_unwind(|| countersign_pacs::multipart::fuzz_multipart(&bytes));
        assert!(result.is_ok(), "{} breaks an invariant", path.display());
    }
}

#[test]
fn qido_decode_corpus_replays_clean() {
    let files = corpus("qido_decode");
    assert!(files.len() >= 3, "corpus is missing");
    let seed = files
        .iter()
        .find(|(p, _)| p.ends_with("seed-orthanc"))
        .expect("seed-orthanc");
    assert_eq!(
        countersign_pacs::qido::decode_studies(&seed.1)
            .unwrap()
            .len(),
        1
    );
    for (path, bytes) in files {
        let result = std::panic::catch_unwind(|| countersign_pacs::qido::fuzz_qido(&bytes));
        assert!(result.is_ok(), "{} breaks an invariant", path.display());
    }
}

#[test]
fn jpeg_lossless_corpus_replays_clean() {
    use rand::{Rng, SeedableRng};
    let files = corpus("jpeg_lossless");
    assert!(files.len() >= 2, "corpus is missing");
    // The seeds (16×16 images DCMTK's dcmcjpeg compressed with each predictor, 3–16 bits) decode
    // by both decoders: a regression would silently turn the corpus into noise.
    let seeds: Vec<&Vec<u8>> = files
        .iter()
        .filter(|(p, _)| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("seed-")
        })
        .map(|(path, bytes)| {
            let samples = countersign_imaging::fuzz_checks::jpeg_lossless(bytes)
                .unwrap_or_else(|| panic!("{}: not decoded by both", path.display()));
            assert_eq!(samples.len(), 256, "{}", path.display());
            bytes
        })
        .collect();
    assert!(seeds.len() >= 7);
    for (path, bytes) in &files {
        let result =
            std::panic::catch_unwind(|| countersign_imaging::fuzz_checks::jpeg_lossless(bytes));
        assert!(result.is_ok(), "{} breaks an invariant", path.display());
    }
    // And seeded mutations of the seeds, as a fuzzer's first steps would make them: bytes
    // changed, cut or repeated. Each must decode the same by both decoders or be refused.
    let mut rng = rand::rngs::StdRng::seed_from_u64(20);
    for round in 0..3000 {
        let mut bytes = seeds[round % seeds.len()].clone();
        for _ in 0..rng.gen_range(1..4) {
            let at = rng.gen_range(0..bytes.len());
            match rng.gen_range(0..4) {
                0 => bytes[at] = rng.gen(),
                1 => bytes[at] ^= 1 << rng.gen_range(0..8),
                2 => bytes.truncate(at.max(2)),
                _ => {
                    let end = (at + rng.gen_range(1..16)).min(bytes.len());
                    let copy = bytes[at..end].to_vec();
                    bytes.splice(at..at, copy);
                }
            }
        }
        let result =
            std::panic::catch_unwind(|| countersign_imaging::fuzz_checks::jpeg_lossless(&bytes));
        assert!(
            result.is_ok(),
            "mutation {round} breaks an invariant: {}",
            hex::encode(&bytes)
        );
    }
}
