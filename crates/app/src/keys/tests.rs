use super::sealed::BODY_LEN;
use super::*;
use proptest::prelude::*;
use rand::SeedableRng;
use sha2::{Digest, Sha256};

const FAST: KdfParams = KdfParams::FAST_FOR_TESTS;

fn rng(seed: u64) -> rand::rngs::StdRng {
    rand::rngs::StdRng::seed_from_u64(seed)
}

fn sealed(seed: [u8; 32], pass: &str) -> (PublicKey, Vec<u8>) {
    let public = SecretKey::from_seed(&seed).public();
    let bytes = seal(&seed, &public, &Passphrase::new(pass), FAST, &mut rng(7)).unwrap();
    (public, bytes)
}

/// Rewrites the checksum after a deliberate change, as someone editing the file would.
fn rechecksum(bytes: &mut [u8]) {
    let sum = Sha256::digest(&bytes[..BODY_LEN]);
    bytes[BODY_LEN..].copy_from_slice(&sum);
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 24,
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x5EED_0014),
        ..ProptestConfig::default()
    })]

    /// Whatever the seed and passphrase, opening gives the seed back; and a flip of any one bit
    /// anywhere in the file is refused as damaged, never opened and never taken for a wrong
    /// passphrase.
    #[test]
    fn a_sealed_key_opens_to_its_seed_and_any_flipped_bit_is_damage(
        seed in any::<[u8; 32]>(),
        pass in "[ -~]{8,40}",
        bit in 0usize..SEALED_LEN * 8,
    ) {
        let (public, bytes) = sealed(seed, &pass);
        prop_assert_eq!(bytes.len(), SEALED_LEN);
        let opened = unseal(&bytes, &public, &Passphrase::new(pass.clone())).unwrap();
        prop_assert_eq!(*opened, seed);
        let mut flipped = bytes.clone();
        flipped[bit / 8] ^= 1 << (bit % 8);
        let refused = unseal(&flipped, &public, &Passphrase::new(pass));
        prop_assert!(matches!(refused, Err(OpenError::Damaged(_))), "bit {}: {:?}", bit, refused);
    }

    /// Any other passphrase is refused as wrong (the file itself is intact).
    #[test]
    fn another_passphrase_is_wrong(seed in any::<[u8; 32]>(), pass in "[a-z]{8,20}", other in "[a-z]{8,20}") {
        prop_assume!(pass != other);
        let (public, bytes) = sealed(seed, &pass);
        prop_assert_eq!(
            unseal(&bytes, &public, &Passphrase::new(other)).map(|_| ()),
            Err(OpenError::WrongPassphrase)
        );
    }
}

#[test]
fn the_sealed_file_does_not_hold_the_seed() {
    let seed = [0x42; 32];
    let (_, bytes) = sealed(seed, "a good passphrase");
    assert!(!bytes.windows(32).any(|w| w == seed));
    let hex = hex::encode(seed);
    assert!(!String::from_utf8_lossy(&bytes).contains(&hex));
}

#[test]
fn a_sealed_key_renamed_onto_another_public_key_does_not_open() {
    let (_, bytes) = sealed([1; 32], "a good passphrase");
    let other = SecretKey::from_seed(&[2; 32]).public();
    assert!(unseal(&bytes, &other, &Passphrase::new("a good passphrase")).is_err());
}

#[test]
fn lowering_the_parameters_fails_the_tag_even_with_the_checksum_rewritten() {
    let seed = [3; 32];
    let public = SecretKey::from_seed(&seed).public();
    let params = KdfParams {
        memory_kib: 16 * 1024,
        iterations: 2,
        lanes: 1,
    };
    let pass = Passphrase::new("a good passphrase");
    let mut bytes = seal(&seed, &public, &pass, params, &mut rng(1)).unwrap();
    bytes[11..15].copy_from_slice(&1u32.to_le_bytes());
    rechecksum(&mut bytes);
    assert_eq!(sealed_params(&bytes).unwrap().iterations, 1);
    assert!(unseal(&bytes, &public, &pass).is_err());
}

#[test]
fn parameters_outside_the_sane_range_are_refused_before_anything_is_derived() {
    let (public, bytes) = sealed([4; 32], "a good passphrase");
    for (at, value) in [
        (7, u32::MAX),        // 4 TiB of memory
        (7, 1024 * 1024 + 1), // just over 1 GiB
        (7, 8 * 1024 - 1),    // under 8 MiB
        (11, 0),              // no pass
        (11, 17),             // too many passes
        (15, 0),              // no lane
        (15, 5),              // too many lanes
    ] {
        let mut tampered = bytes.clone();
        tampered[at..at + 4].copy_from_slice(&value.to_le_bytes());
        rechecksum(&mut tampered);
        let started = std::time::Instant::now();
        let refused = unseal(&tampered, &public, &Passphrase::new("a good passphrase"));
        assert!(
            matches!(&refused, Err(OpenError::Damaged(r)) if r.contains("outside")),
            "{at}={value}: {refused:?}"
        );
        assert!(started.elapsed() < std::time::Duration::from_millis(50));
    }
}

#[test]
fn a_truncated_or_lengthened_file_or_bad_magic_is_damaged() {
    let (public, bytes) = sealed([5; 32], "a good passphrase");
    let pass = Passphrase::new("a good passphrase");
    for len in [0, 7, 58, SEALED_LEN - 1] {
        assert!(matches!(
            unseal(&bytes[..len], &public, &pass),
            Err(OpenError::Damaged(_))
        ));
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(matches!(
        unseal(&longer, &public, &pass),
        Err(OpenError::Damaged(_))
    ));
    let mut magic = bytes;
    magic[0] = b'X';
    rechecksum(&mut magic);
    assert!(
        matches!(unseal(&magic, &public, &pass), Err(OpenError::Damaged(r)) if r.contains("magic"))
    );
}

#[test]
fn the_default_parameters_are_within_the_sane_range_and_sealing_refuses_others() {
    assert!(KdfParams::DEFAULT.is_sane());
    assert!(KdfParams::FAST_FOR_TESTS.is_sane());
    let public = SecretKey::from_seed(&[6; 32]).public();
    let weak = KdfParams {
        memory_kib: 64,
        iterations: 1,
        lanes: 1,
    };
    assert!(seal(
        &[6; 32],
        &public,
        &Passphrase::new("a good passphrase"),
        weak,
        &mut rng(2)
    )
    .is_err());
}

#[test]
fn a_passphrase_is_never_printed_and_a_files_line_break_is_not_part_of_it() {
    let p = Passphrase::new("hunter2-hunter2");
    assert!(!format!("{p:?}").contains("hunter2"));
    assert!(!format!("{:?}", PassphraseSource::fixed(p.clone())).contains("hunter2"));
    let from_file = Passphrase::from_file_bytes(Zeroizing::new(b"hunter2-hunter2\r\n".to_vec()));
    assert_eq!(from_file.bytes(), p.bytes());
    let from_file = Passphrase::from_file_bytes(Zeroizing::new(b"hunter2-hunter2\n".to_vec()));
    assert_eq!(from_file.bytes(), p.bytes());
    assert!(Passphrase::new("short").check_new().is_err());
    assert!(Passphrase::new("long enough").check_new().is_ok());
}

#[test]
fn the_store_seals_owner_only_and_a_wrong_passphrase_changes_nothing() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let store = KeyStore::new(dir.path());
    let key = SecretKey::from_seed(&[8; 32]);
    store
        .save(&key, &Passphrase::new("a good passphrase"))
        .unwrap();
    let path = store.sealed_path(&key.public());
    let before = fs::read(&path).unwrap();
    assert_eq!(before.len(), SEALED_LEN);
    let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let err = store
        .load(&key.public(), &Passphrase::new("not the passphrase"))
        .unwrap_err();
    assert_eq!(err.code(), "wrong_passphrase");
    assert_eq!(fs::read(&path).unwrap(), before);
    let opened = store
        .load(&key.public(), &Passphrase::new("a good passphrase"))
        .unwrap();
    assert_eq!(opened.public(), key.public());
    // No temporary file is left beside it.
    let names: Vec<_> = fs::read_dir(dir.path().join("keys"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
}

#[test]
fn a_plaintext_key_is_sealed_then_its_file_is_removed() {
    let dir = tempfile::tempdir().unwrap();
    let store = KeyStore::new(dir.path());
    let key = SecretKey::from_seed(&[9; 32]);
    fs::create_dir_all(dir.path().join("keys")).unwrap();
    let plain = store.plaintext_path(&key.public());
    fs::write(&plain, [9u8; 32]).unwrap();
    assert!(store.is_plaintext(&key.public()));
    let pass = Passphrase::new("a good passphrase");
    let migrated = store.migrate(&key.public(), &pass).unwrap();
    assert_eq!(migrated.public(), key.public());
    assert!(!plain.exists());
    assert!(!store.is_plaintext(&key.public()));
    assert_eq!(
        store.load(&key.public(), &pass).unwrap().public(),
        key.public()
    );
}

#[test]
fn a_plaintext_key_under_the_wrong_name_is_damaged_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let store = KeyStore::new(dir.path());
    let key = SecretKey::from_seed(&[10; 32]);
    fs::create_dir_all(dir.path().join("keys")).unwrap();
    let plain = store.plaintext_path(&key.public());
    fs::write(&plain, [11u8; 32]).unwrap();
    let err = store
        .migrate(&key.public(), &Passphrase::new("a good passphrase"))
        .unwrap_err();
    assert_eq!(err.code(), "key_damaged");
    assert!(plain.exists());
    assert!(!store.sealed_path(&key.public()).exists());
}
