//! The home's side of encryption at rest: what `append` (and the actions' dry run) signs when a
//! report is sealed, its payload under the report's data key, and the key-encryption key the
//! data keys are wrapped under, made by the key session from the signing key. Apart from
//! `home.rs` because neither needs a [`Home`](super::Home): both are plain functions of the
//! state or of a key.

use countersign_ledger::{Kind, LogId, Signer};

use crate::error::{AppError, Result};
use crate::keys::KeyHandle;
use crate::state::LedgerState;

/// What `append` signs as the payload of a `kind` entry of `log` (`None`: a new log): sealed
/// under the report's data key when the report is sealed (see
/// [`countersign_report::payload::seal`]) — for a new report, under a new random key, returned
/// to be stored beside it. `None` when the payload goes in clear (the roster log, erasures and
/// restrictions, a report created before sealing). A new report's create is bound to its
/// `(author, timestamp)`, the header it is signed under.
pub(crate) fn seal_payload(
    state: &LedgerState,
    log: Option<LogId>,
    kind: Kind,
    payload: &[u8],
    seal_new: bool,
    (author, timestamp_ms): (&countersign_ledger::PublicKey, u64),
) -> Result<(Option<Vec<u8>>, Option<countersign_ledger::DataKey>)> {
    use countersign_report::payload::seal;
    use countersign_report::Sealing;
    use rand_core::{OsRng, RngCore};
    if !seal::kind_is_sealed(kind) {
        return Ok((None, None));
    }
    let mut nonce = [0u8; seal::NONCE_LEN];
    OsRng.fill_bytes(&mut nonce);
    match log {
        None if kind == Kind::ReportCreate && seal_new => {
            let mut bytes = zeroize::Zeroizing::new([0u8; countersign_ledger::DATA_KEY_LEN]);
            OsRng.fill_bytes(bytes.as_mut_slice());
            let key = countersign_ledger::DataKey::from_bytes(*bytes);
            // Bound to the header it will be signed under (see `seal::create_binding`).
            let bound = seal::create_binding(author, timestamp_ms);
            let sealed = seal::seal(&key, &nonce, kind, Some(&bound), payload);
            Ok((Some(sealed), Some(key)))
        }
        None => Ok((None, None)),
        Some(log) => match state.ledger.report_as_judged(&log) {
            // Erased: its key is gone, and the rules refuse the entry for what it is
            // (`report_erased`), sealed or not.
            Some(r) if r.erasure().is_some() => Ok((None, None)),
            Some(r) if matches!(r.sealing(), Sealing::Sealed { .. }) => {
                let key = state.ledger.key(&log).ok_or_else(|| AppError::NotFound {
                    what: format!(
                        "the data key of report {log} (this home holds its sealed payloads, not \
                         its key: it cannot write to a report it cannot read)"
                    ),
                })?;
                Ok((
                    Some(seal::seal(key, &nonce, kind, Some(&log), payload)),
                    None,
                ))
            }
            _ => Ok((None, None)),
        },
    }
}

/// The key-encryption key `key` makes (see [`countersign_ledger::Kek`]): its signature of the
/// wrapping message, checked against its public key before use — a token or an agent
/// answering with anything else fails here, loudly, instead of wrapping keys under garbage.
pub(crate) fn kek_of(key: &KeyHandle) -> Result<countersign_ledger::Kek> {
    let member = key.public();
    let signature = key.try_sign(&countersign_ledger::kek_message(&member))?;
    countersign_ledger::Kek::from_signature(&member, &signature).map_err(|e| {
        tracing::warn!(key = %member, "the key holder's wrapping signature does not verify");
        AppError::SigningFailed(e.to_string())
    })
}
