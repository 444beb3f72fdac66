//! The key a node runs as, held to the home's: a node's identity is its member key, which
//! cannot change while it runs, so a rotation of the home's key ends the node (see
//! [`HomeLedger::watch_rotation`]).

use countersign_ledger::PublicKey;
use serde::Serialize;

use super::HomeLedger;

/// The key a node runs as, moved to another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct KeyMoved {
    /// The key the home's profile or the roster names now.
    pub new: PublicKey,
    /// Whether this home switched to it (it signs with it from now on); if not, the roster
    /// moved the key (a rotation this home cannot adopt now, or an admin's replacement of a
    /// lost key) and peers no longer serve the old one either way.
    pub switched: bool,
}

/// What a ledger watches for its node (see [`HomeLedger::watch_rotation`]).
#[derive(Debug)]
pub(super) struct RunsAs {
    key: PublicKey,
    said: tokio::sync::watch::Sender<Option<KeyMoved>>,
    /// Whether the roster was looked at since the node started.
    roster_seen: bool,
}

impl From<KeyMoved> for crate::AppError {
    fn from(moved: KeyMoved) -> Self {
        crate::AppError::NodeKeyRotated {
            new: moved.new.to_hex(),
            switched: moved.switched,
        }
    }
}

impl HomeLedger {
    /// The key the node runs as, once [`HomeLedger::watch_rotation`] was told.
    pub(crate) fn runs_as_key(&self) -> Option<PublicKey> {
        self.runs_as.as_ref().map(|r| r.key)
    }

    /// The node runs as member `key` (its peer id, or the member its delegation is from):
    /// the receiver is told once the key is no longer the home's. Looked for whenever
    /// something was committed to the home
    /// ([`countersign_sync::Ledger::changed_logs`]): another process that adopted a rotation
    /// switched the home's profile to the new key; and whenever the roster changed, a rotation
    /// of this key that stands there now is adopted here (one that reached this node from a
    /// peer), and said even if it cannot be (its new key does not open without a passphrase
    /// this process lacks; an admin's replacement of a lost key, which no home adopts). The
    /// node's identity cannot change while it runs, and the department's peers no longer
    /// serve the old key: the node is to stop (`serve` ends with `key_rotated`; the desktop
    /// locks, and starts its node again as the new key once unlocked).
    pub(crate) fn watch_rotation(
        &mut self,
        key: PublicKey,
    ) -> tokio::sync::watch::Receiver<Option<KeyMoved>> {
        let (said, heard) = tokio::sync::watch::channel(None);
        self.runs_as = Some(RunsAs {
            key,
            said,
            roster_seen: false,
        });
        heard
    }

    /// See [`HomeLedger::watch_rotation`]; `roster_changed`: the roster log has entries stored
    /// since the last look.
    pub(super) fn check_rotation(&mut self, roster_changed: bool) {
        let (key, look_at_roster) = match &self.runs_as {
            Some(r) if r.said.borrow().is_none() => (r.key, roster_changed || !r.roster_seen),
            _ => return,
        };
        let mut moved = None;
        if look_at_roster {
            // Only with news on the roster: adopting reads the whole roster state.
            if let Err(e) = self.home.adopt_rotation() {
                tracing::warn!(
                    error = e.code(),
                    "could not adopt a rotation of this home's key"
                );
            }
            match self.home.state() {
                Ok(state) => {
                    moved = state.roster().rotation_of(&key).map(|r| KeyMoved {
                        new: r.new,
                        switched: false,
                    })
                }
                Err(e) => tracing::warn!(error = e.code(), "could not read the roster"),
            }
        }
        match self.home.keys().profile() {
            Ok(Some(profile)) if profile.key != key => {
                moved = Some(KeyMoved {
                    new: profile.key,
                    switched: true,
                })
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = e.code(), "could not read this home's key profile"),
        }
        let Some(runs_as) = &mut self.runs_as else {
            return;
        };
        runs_as.roster_seen |= look_at_roster;
        if let Some(moved) = moved {
            tracing::warn!(
                old = %key,
                new = %moved.new,
                switched = moved.switched,
                "this home's key was rotated: the sync node running as the old key stops"
            );
            runs_as.said.send_replace(Some(moved));
        }
    }
}
