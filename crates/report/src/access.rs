//! Who may read a report log, and so be sent it by a peer. People on the roster read the
//! department's reports, as they would on its PACS; an AI model reads only the reports an
//! attending granted it (`access.grant`) and has not revoked since (`access.revoke`), so a
//! vendor's node is sent the studies it is asked to work on and nothing else.
//!
//! ```
//! use countersign_ledger::{Kind, Role, SecretKey};
//! use countersign_report::access::may_read;
//!
//! let model = SecretKey::from_seed(&[1; 32]).public();
//! assert!(may_read(Role::Radiologist, &model, []));
//! assert!(!may_read(Role::AiModel, &model, []));
//! assert!(may_read(Role::AiModel, &model, [(Kind::AccessGrant, model)]));
//! assert!(!may_read(Role::AiModel, &model, [(Kind::AccessGrant, model), (Kind::AccessRevoke, model)]));
//! ```

use countersign_ledger::{Kind, PublicKey, Role};

/// Whether a member with `role` and `key` may read a report log whose access changes, in
/// the order they were stored, are `changes` (kind and the member each names).
pub fn may_read(
    role: Role,
    key: &PublicKey,
    changes: impl IntoIterator<Item = (Kind, PublicKey)>,
) -> bool {
    if role != Role::AiModel {
        return true;
    }
    changes
        .into_iter()
        .filter(|(_, member)| member == key)
        .fold(false, |granted, (kind, _)| match kind {
            Kind::AccessGrant => true,
            Kind::AccessRevoke => false,
            _ => granted,
        })
}
