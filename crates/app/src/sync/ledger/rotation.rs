//! The key a node runs as, held to the home's: a node's identity is its member key, which
//! cannot change while it runs, so a rotation of the home's key ends the node (see
//! [`HomeLedger::watch_rotation`]).

use countersign_ledger::PublicKey;

use super::HomeLedger;

impl HomeLedger {
    /// The node runs as member `key` (its peer id, or the member its delegation is from):
    /// the receiver is given the home's new key once the home's key is another. Looked for
    /// whenever something was committed to the home
    /// ([`countersign_sync::Ledger::changed_logs`]): a rotation adopted by another process on
    /// the home records its new key in the store, and one that reached this node from a peer
    /// is adopted here first. The node's identity cannot change
    /// while it runs, and the department's peers no longer serve the old key: the node is to
    /// stop (`serve` ends with `key_rotated`; the desktop locks, and starts its node again as
    /// the new key once unlocked).
    pub(crate) fn watch_rotation(
        &mut self,
        key: PublicKey,
    ) -> tokio::sync::watch::Receiver<Option<PublicKey>> {
        let (said, heard) = tokio::sync::watch::channel(None);
        self.runs_as = Some((key, said));
        heard
    }

    /// See [`HomeLedger::watch_rotation`].
    pub(super) fn check_rotation(&mut self) {
        let key = match &self.runs_as {
            Some((key, said)) if said.borrow().is_none() => *key,
            _ => return,
        };
        if let Err(e) = self.home.adopt_rotation() {
            tracing::warn!(
                error = e.code(),
                "could not adopt a rotation of this home's key"
            );
        }
        match self.home.keys().profile() {
            Ok(Some(profile)) if profile.key != key => {
                tracing::warn!(
                    old = %key,
                    new = %profile.key,
                    "this home's key was rotated: the sync node running as the old key stops"
                );
                if let Some((_, said)) = &self.runs_as {
                    said.send_replace(Some(profile.key));
                }
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = e.code(), "could not read this home's key profile"),
        }
    }
}
