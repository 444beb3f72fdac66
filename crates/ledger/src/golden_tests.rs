//! Golden byte vectors for the v1 entry format. The expected bytes are checked in under
//! `golden/`; if an encoding change makes these fail, the format changed and every stored and
//! synced entry would stop verifying.

use crate::{Entry, Hash, Header, Kind, SecretKey};

struct Vector {
    name: &'static str,
    header: Header,
    seed: [u8; 32],
}

fn seed() -> [u8; 32] {
    let mut s = [0u8; 32];
    for (i, b) in s.iter_mut().enumerate() {
        *b = i as u8;
    }
    s
}

fn vectors() -> Vec<Vector> {
    let key = SecretKey::from_seed(&seed()).public();
    vec![
        Vector {
            name: "report-create",
            seed: seed(),
            header: Header::new(
                Hash::of(b"golden network"),
                Hash::ZERO,
                key,
                1,
                1_764_000_000_000,
                Kind::ReportCreate,
                vec![],
                br#"{"study":"1.2.826.0.1.3680043.2.1125.1","template":"ct-chest","images":[]}"#,
            ),
        },
        Vector {
            name: "section-write",
            seed: seed(),
            header: Header::new(
                Hash::of(b"golden network"),
                Hash::of(b"golden log"),
                key,
                7,
                1_764_000_123_456,
                Kind::SectionWrite,
                vec![Hash::of(b"parent two"), Hash::of(b"parent one")],
                br#"{"section":"findings","text":"No pulmonary nodule."}"#,
            ),
        },
    ]
}

fn golden(name: &str) -> (String, String, String) {
    let text = match name {
        "report-create" => include_str!("../golden/report-create.txt"),
        "section-write" => include_str!("../golden/section-write.txt"),
        other => panic!("no golden file for {other}"),
    };
    let field = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{key} = ")))
            .unwrap_or_else(|| panic!("{name}: missing {key}"))
            .to_string()
    };
    (field("header"), field("id"), field("signature"))
}

#[test]
fn encoding_matches_golden_bytes() {
    for v in vectors() {
        let key = SecretKey::from_seed(&v.seed);
        let entry = Entry::sign(v.header.clone(), &key).unwrap();
        let (header, id, signature) = golden(v.name);
        let actual = (
            hex::encode(entry.header_bytes()),
            entry.id().to_hex(),
            hex::encode(entry.signature()),
        );
        assert_eq!(
            actual,
            (header.clone(), id, signature.clone()),
            "vector {}",
            v.name
        );
        // And the golden bytes decode back to the same header and verify.
        let bytes = hex::decode(&header).unwrap();
        let sig: [u8; 64] = hex::decode(&signature).unwrap().try_into().unwrap();
        let decoded = Entry::from_parts(&bytes, &sig).unwrap();
        assert_eq!(decoded.header(), &v.header);
    }
}
