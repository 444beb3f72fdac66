//! The parsing of what a token hands back: its public key's `CKA_EC_POINT` and `CKA_EC_PARAMS`.

use proptest::prelude::*;

use super::{ed25519_point, is_ed25519_params, ED25519_OID, ED25519_PRINTABLE};

/// RFC 8032's first test vector's public key.
const KEY: [u8; 32] = [
    0xd7, 0x5a, 0x98, 0x01, 0x82, 0xb1, 0x0a, 0xb7, 0xd5, 0x4b, 0xfe, 0xd3, 0xc9, 0x64, 0x07, 0x3a,
    0x0e, 0xe1, 0x72, 0xf3, 0xda, 0xa6, 0x23, 0x25, 0xaf, 0x02, 0x1a, 0x68, 0xf7, 0x07, 0x51, 0x1a,
];

fn der(key: &[u8]) -> Vec<u8> {
    let mut out = vec![0x04, key.len() as u8];
    out.extend_from_slice(key);
    out
}

#[test]
fn the_der_octet_string_softhsm_gives_and_the_bare_point_both_parse() {
    // As SoftHSM2 2.6 returns it for a generated key (pkcs11-tool shows the same 34 bytes).
    assert_eq!(ed25519_point(&der(&KEY)), Ok(KEY));
    assert_eq!(ed25519_point(&KEY), Ok(KEY));
    // A bare point whose first byte happens to be the OCTET STRING tag is still 32 bytes.
    let mut tagged = KEY;
    tagged[0] = 0x04;
    tagged[1] = 0x20;
    assert_eq!(ed25519_point(&tagged), Ok(tagged));
}

#[test]
fn malformed_lengths_tags_and_trailing_bytes_are_refused() {
    let refused = |bytes: &[u8], what: &str| {
        assert!(ed25519_point(bytes).is_err(), "{what} was accepted");
    };
    refused(&[], "nothing");
    refused(&[0x04], "a tag alone");
    refused(&[0x04, 0x20], "a header without its value");
    refused(&der(&KEY)[..33], "one byte short");
    refused(&KEY[..31], "a bare point one byte short");
    let mut trailing = der(&KEY);
    trailing.push(0);
    refused(&trailing, "a byte after the value");
    let mut longer = der(&KEY);
    longer[1] = 0x21;
    refused(&longer, "a length past the end");
    let mut shorter = der(&KEY);
    shorter[1] = 0x1f;
    refused(&shorter, "a length short of the end");
    refused(&der(&[7u8; 31]), "a consistent 31-byte string");
    refused(&der(&[7u8; 57]), "an Ed448-sized string");
    let mut long_form = vec![0x04, 0x81, 0x20];
    long_form.extend_from_slice(&KEY);
    refused(&long_form, "a long-form length");
    // Said as such (any long form also fails the length check: this is the clearer word).
    let said = ed25519_point(&long_form).unwrap_err();
    assert!(said.contains("long-form"), "{said}");
    let mut bit_string = der(&KEY);
    bit_string[0] = 0x03;
    refused(&bit_string, "a BIT STRING");
    refused(&[0u8; 33], "33 bytes of zeros");
}

#[test]
fn ec_params_are_ed25519_in_either_standard_form_only() {
    assert!(is_ed25519_params(ED25519_OID));
    assert!(is_ed25519_params(ED25519_PRINTABLE));
    assert!(is_ed25519_params(&[0x06, 0x03, 0x2b, 0x65, 0x70]));
    // Ed448 (1.3.101.113), P-256, and the printable name of the other curve.
    assert!(!is_ed25519_params(&[0x06, 0x03, 0x2b, 0x65, 0x71]));
    assert!(!is_ed25519_params(&[
        0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07
    ]));
    assert!(!is_ed25519_params(b"\x13\x0aedwards448"));
    assert!(!is_ed25519_params(&[]));
}

proptest! {
    /// Whatever a token returns, the parser never panics, and what it accepts is exactly a bare
    /// 32-byte point or a DER OCTET STRING of one, whose value is the key it returns.
    #[test]
    fn any_bytes_parse_only_to_the_point_they_hold(bytes in prop::collection::vec(any::<u8>(), 0..80)) {
        if let Ok(key) = ed25519_point(&bytes) {
            prop_assert!(bytes == key || bytes == der(&key), "accepted {:02x?}", bytes);
        }
    }

    #[test]
    fn every_point_round_trips_in_both_forms(key in any::<[u8; 32]>()) {
        prop_assert_eq!(ed25519_point(&der(&key)), Ok(key));
        prop_assert_eq!(ed25519_point(&key), Ok(key));
    }

    #[test]
    fn a_der_string_of_any_other_length_is_refused(len in 0usize..100) {
        prop_assume!(len != 32 && len + 2 != 32);
        prop_assert!(ed25519_point(&der(&vec![9u8; len])).is_err());
    }
}
