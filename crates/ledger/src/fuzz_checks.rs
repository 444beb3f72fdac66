//! The invariants the fuzz targets check on arbitrary bytes, shared with the corpus replay that
//! `make test` runs. Each function panics if an invariant breaks, which is what a fuzzer reports.

use crate::{bundle, header, Entry};

/// Header decoding never panics, and whatever decodes is canonical: it re-encodes to the same
/// bytes, and an entry built from it has the SHA-256 of those bytes as its id.
pub fn header_decode(data: &[u8]) {
    if let Ok(h) = header::decode(data) {
        assert_eq!(h.encode(), data, "decoded header is not canonical");
        let entry = Entry::decode_unverified(data, &[0; 64]).expect("decoded once, decodes again");
        assert_eq!(entry.id(), crate::Hash::of(data));
        // An all-zero signature never verifies.
        assert!(entry.verify_signature().is_err());
    }
}

/// Bundle framing never panics, never allocates beyond its input, and frames canonically; the
/// streaming reader frames exactly as `decode` does (the same records, or the same error).
pub fn bundle_decode(data: &[u8]) {
    let decoded = bundle::decode(data);
    let streamed = bundle::Reader::new(data)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| match e {
            bundle::ReadError::Bundle(e) => e,
            e @ bundle::ReadError::Io { .. } => panic!("reading a slice failed: {e}"),
        });
    assert_eq!(
        streamed, decoded,
        "the streaming reader and decode disagree"
    );
    let keyed = bundle::decode_keyed(data);
    assert_eq!(
        keyed.as_ref().map(|(_, r)| r),
        decoded.as_ref(),
        "decode and decode_keyed disagree"
    );
    if let Ok((keys, records)) = keyed {
        assert_eq!(
            bundle::encode_records_keyed(&keys, &records),
            data,
            "bundle framing is not canonical"
        );
        for r in &records {
            header_decode(&r.header);
        }
    }
}

/// Checkpoint decoding never panics; what decodes (its signature verified) is kept as the
/// exact bytes received, and an all-zero signature never verifies.
pub fn checkpoint_decode(data: &[u8]) {
    if let Ok(c) = crate::checkpoint::SignedCheckpoint::decode(data) {
        assert_eq!(c.bytes(), data);
        assert!(c.checkpoint().heads.len() <= crate::checkpoint::MAX_CHECKPOINT_HEADS);
        assert!(data.len() <= crate::checkpoint::MAX_CHECKPOINT_LEN);
    }
}

/// Split-view evidence decoding never panics, and what decodes is canonical (one encoding per
/// pair) with both claims by one signer about one log.
pub fn split_view_decode(data: &[u8]) {
    if let Ok(pair) = crate::split_view::SplitViewEvidence::decode(data) {
        assert_eq!(pair.encode(), data, "decoded evidence is not canonical");
        let (a, b) = (pair.earlier().checkpoint(), pair.later().checkpoint());
        assert!(a.signer == b.signer && a.log == b.log && a.network == b.network);
        assert_eq!(pair.id(), crate::split_view::SplitViewEvidence::id_of(data));
    }
}

/// Invitation parsing never panics, from bytes or from text.
pub fn invitation_parse(data: &[u8]) {
    crate::invitation::fuzz_check(data);
}

/// Rotation request parsing never panics, from bytes or from text; what parses is canonical and
/// its signatures verify.
pub fn rotation_parse(data: &[u8]) {
    crate::rotation::fuzz_check(data);
}

/// Node delegation decoding never panics; what decodes is canonical, and it verifies only with
/// a signature that does, and never for another node.
pub fn delegation_decode(data: &[u8]) {
    crate::delegation::fuzz_check(data);
}
