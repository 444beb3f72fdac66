//! Joining a department by invitation, never by proximity. A home without a network adopts
//! one only from a trust anchor it was given: an invitation an admin signed (`roster invite`
//! → `join`), or, for an auditor's bundle, the network id or founder key named on the command
//! line. Until then it refuses every network's genesis (`not_joined`), and its nodes neither
//! listen nor announce themselves on the LAN. The gate itself is pure
//! ([`countersign_report::accept::trust::admits`]); this module keeps the anchor in the
//! store's meta and checks invitations.

use countersign_ledger::invitation::Invitation;
use countersign_ledger::{NetworkId, PublicKey};
use countersign_report::accept::trust::Anchor;
use serde::Serialize;

use crate::error::{AppError, Result};
use crate::home::{now_ms, Home};

const TRUSTED_NETWORK: &str = "trust.network";
const TRUSTED_FOUNDER: &str = "trust.founder";
/// Who signed the invitation this home joined by (held to the roster by `verify`).
pub(crate) const INVITED_BY: &str = "trust.invited_by";
/// How long an invitation is good for unless the admin says otherwise.
pub const INVITATION_DAYS: u64 = 7;
/// The longest an invitation may be good for.
pub const MAX_INVITATION_DAYS: u64 = 90;

/// What `join` did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Joined {
    pub network: NetworkId,
    pub founder: PublicKey,
    /// The admin who signed the invitation (`verify` holds it to the roster once it arrives:
    /// `inviter_not_admin`).
    pub invited_by: PublicKey,
    pub expires_ms: u64,
    /// The peers remembered from the invitation (dialled by every node this home runs).
    pub peers: Vec<String>,
}

/// Reads the anchor kept in the store's meta.
pub(crate) fn anchor_in(db: &countersign_store::Db<'_>) -> Result<Option<Anchor>> {
    let key = |hex: String| -> Result<PublicKey> {
        hex.parse()
            .map_err(|_| AppError::InvalidInput("the trusted founder key is damaged".into()))
    };
    let founder = db.meta(TRUSTED_FOUNDER)?.map(key).transpose()?;
    Ok(match db.meta(TRUSTED_NETWORK)? {
        Some(hex) => Some(Anchor::Network {
            network: hex
                .parse()
                .map_err(|_| AppError::InvalidInput("the trusted network id is damaged".into()))?,
            founder,
        }),
        None => founder.map(Anchor::Founder),
    })
}

impl Home {
    /// What this home was told to trust, if it holds no network yet.
    pub fn anchor(&self) -> Result<Option<Anchor>> {
        anchor_in(&self.store().db())
    }

    /// Whether this home belongs to a network or was told which one to trust: only then do
    /// its nodes listen, dial or run mDNS.
    pub fn joined(&self) -> Result<bool> {
        Ok(self.store().db().meta("network")?.is_some() || self.anchor()?.is_some())
    }

    /// Trusts `anchor` (an auditor's `--network` / `--trust-founder`) for a home that holds no
    /// network yet. A home that holds one keeps it: naming another is refused.
    pub fn trust(&mut self, anchor: Anchor) -> Result<()> {
        if let Some(hex) = self.store().db().meta("network")? {
            let held: NetworkId = hex
                .parse()
                .map_err(|_| AppError::InvalidInput("stored network id is damaged".into()))?;
            return match anchor {
                Anchor::Network { network, .. } if network != held => Err(
                    countersign_report::accept::trust::TrustError::OtherNetwork {
                        expected: held,
                        found: network,
                    }
                    .into(),
                ),
                _ => Ok(()),
            };
        }
        let (network, founder) = match anchor {
            Anchor::Network { network, founder } => (Some(network), founder),
            Anchor::Founder(f) => (None, Some(f)),
        };
        // The anchor is replaced whole: a founder named before does not outlive a new network.
        self.store_mut().write(|db| {
            db.delete_meta(TRUSTED_NETWORK)?;
            db.delete_meta(TRUSTED_FOUNDER)?;
            if let Some(n) = network {
                db.set_meta(TRUSTED_NETWORK, &n.to_hex())?;
            }
            if let Some(f) = founder {
                db.set_meta(TRUSTED_FOUNDER, &f.to_hex())?;
            }
            Ok::<_, AppError>(())
        })?;
        tracing::info!(network = ?network.map(|n| n.to_hex()), "trust anchor set");
        Ok(())
    }

    /// Imports a bundle file into a home told to trust `anchor` for it (an auditor's
    /// `--network` / `--trust-founder`). If the import fails, the home is left trusting what it
    /// trusted before: a mistyped network id does not leave the home "joined".
    pub fn bundle_import_trusting(
        &mut self,
        path: &std::path::Path,
        anchor: Option<Anchor>,
    ) -> Result<crate::ImportReport> {
        let Some(anchor) = anchor else {
            return self.bundle_import_file(path);
        };
        let before = self.anchor()?;
        self.trust(anchor)?;
        let result = self.bundle_import_file(path);
        if result.is_err() && self.store().db().meta("network")?.is_none() {
            self.store_mut().write(|db| {
                db.delete_meta(TRUSTED_NETWORK)?;
                db.delete_meta(TRUSTED_FOUNDER)?;
                match before {
                    Some(Anchor::Network { network, founder }) => {
                        db.set_meta(TRUSTED_NETWORK, &network.to_hex())?;
                        if let Some(f) = founder {
                            db.set_meta(TRUSTED_FOUNDER, &f.to_hex())?;
                        }
                    }
                    Some(Anchor::Founder(f)) => db.set_meta(TRUSTED_FOUNDER, &f.to_hex())?,
                    None => {}
                }
                Ok::<_, AppError>(())
            })?;
        }
        result
    }

    /// Signs an invitation for `invitee` to this home's network (admins only), good for
    /// `days` days, naming `peers` (this home's remembered peers when none are given).
    pub fn invite(&mut self, invitee: PublicKey, peers: Vec<String>, days: u64) -> Result<String> {
        if days == 0 || days > MAX_INVITATION_DAYS {
            return Err(AppError::InvalidInput(format!(
                "an invitation is good for 1 to {MAX_INVITATION_DAYS} days"
            )));
        }
        let me = self.profile()?.key;
        let state = self.state()?;
        let network = state.network().map_err(|_| AppError::NoNetwork)?;
        let roster = state.roster();
        if !(roster.is_active(&me) && roster.member(&me).is_some_and(|m| m.admin)) {
            return Err(AppError::InvitationRefused(
                "only an admin of the department can invite".into(),
            ));
        }
        let founder = self
            .store()
            .db()
            .get(&network)?
            .and_then(|row| countersign_ledger::header::author_bytes(&row.header))
            .and_then(|k| PublicKey::from_bytes(&k).ok())
            .ok_or_else(|| AppError::InvalidInput("the network's genesis is not stored".into()))?;
        let peers = if peers.is_empty() {
            self.peers()?
        } else {
            peers
        };
        let now = now_ms();
        let invitation = Invitation {
            network,
            founder,
            invitee,
            issued_ms: now,
            expires_ms: now + days * 24 * 3_600_000,
            peers,
        };
        let text = invitation.try_sign(&self.signer()?)?;
        tracing::info!(invitee = %invitee, "invitation signed");
        Ok(text)
    }

    /// Joins the network an invitation names: checks its signature, that it is for this
    /// home's key and not expired, then trusts that network (and its founder) and remembers
    /// its peers. Who signed it is kept (`trust.invited_by`): the invitation's signature
    /// proves it unchanged, and the network's genesis, which must match it, proves the rest.
    pub fn join(&mut self, text: &str) -> Result<Joined> {
        let (invitation, issuer) = Invitation::parse(text)?;
        let me = self.profile()?.key;
        if invitation.invitee != me {
            return Err(AppError::InvitationRefused(format!(
                "this invitation is for key {}, and this home signs as {me}",
                invitation.invitee
            )));
        }
        let now = now_ms();
        // Whatever dates the signer wrote: an invitation is never good for longer than an
        // admin may make one, nor dated ahead of this clock (beyond its skew allowance).
        let lifetime = invitation.expires_ms.saturating_sub(invitation.issued_ms);
        if invitation.expires_ms < invitation.issued_ms
            || lifetime > MAX_INVITATION_DAYS * 24 * 3_600_000
            || invitation.issued_ms > now + countersign_report::accept::TIME_SKEW_MS
        {
            return Err(AppError::InvitationRefused(format!(
                "this invitation's dates are not an admin's: issued at {} ms, expiring at {} \
                 ms (at most {MAX_INVITATION_DAYS} days, never dated ahead)",
                invitation.issued_ms, invitation.expires_ms
            )));
        }
        if now > invitation.expires_ms {
            return Err(AppError::InvitationRefused(format!(
                "this invitation expired at {} ms; ask an admin for a new one",
                invitation.expires_ms
            )));
        }
        let anchor = Anchor::Network {
            network: invitation.network,
            founder: Some(invitation.founder),
        };
        self.trust(anchor)?;
        let mut peers = Vec::new();
        for p in &invitation.peers {
            // An address this home cannot dial is skipped, not fatal: the others may do.
            match self.peer_add(p) {
                Ok(_) => peers.push(p.clone()),
                Err(e) => {
                    tracing::warn!(error = %e.loggable(), "an invitation's peer address is not usable")
                }
            }
        }
        self.store_mut()
            .write(|db| db.set_meta(INVITED_BY, &issuer.to_hex()))?;
        tracing::info!(network = %invitation.network, "joined by invitation");
        Ok(Joined {
            network: invitation.network,
            founder: invitation.founder,
            invited_by: issuer,
            expires_ms: invitation.expires_ms,
            peers,
        })
    }
}
