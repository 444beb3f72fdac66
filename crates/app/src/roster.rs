//! Roster use cases: an admin adds, changes, revokes and readmits members.
//!
//! A change to an admitted member and a revocation both name the member's **frontier**: for
//! every report log this home holds, the member's last entry there. The admin vouches for
//! those entries (and each one's chain before it); anything else the member signs — in any
//! log, whatever date it carries — is judged by the new details, or refused after a
//! revocation. An honest entry that reaches the admin only after the revocation is vouched for
//! afterwards with [`Home::roster_readmit`].

use countersign_ledger::roster::{
    AiModelInfo, Frontier, MemberPayload, ReadmitPayload, RevokePayload,
};
use countersign_ledger::{EntryId, Kind, Member, PublicKey, Role};

use crate::error::{AppError, Result};
use crate::home::{json, now_ms, Home};

/// Refuses a name or detail that every home will show as written (a member's name, an AI
/// model's vendor, model and version, the network's name) when it holds a control or format
/// character: a line feed fakes a line of `report show` ("co-signed by …"), an escape sequence
/// rewrites the reader's terminal, a bidi override shows letters in another order. Judged by
/// the signed-text rule for one line (`hidden_char`), so that an honest home never signs one;
/// entries already signed are shown escaped by the CLI, not refused (found by review,
/// 2026-12-05).
pub(crate) fn check_shown(what: &str, value: &str) -> Result<()> {
    match countersign_report::payload::text::hidden_char(value, false) {
        None => Ok(()),
        Some((offset, c)) => Err(AppError::InvalidInput(format!(
            "{what} holds a control or formatting character (U+{:04X} at byte {offset}); every \
             home shows it as written, so it may hold none",
            c as u32
        ))),
    }
}

/// [`check_shown`] for each of an AI model's details.
pub(crate) fn check_model(m: &AiModelInfo) -> Result<()> {
    check_shown("the model's vendor", &m.vendor)?;
    check_shown("the model's name", &m.model)?;
    check_shown("the model's version", &m.version)?;
    if let Some(id) = &m.regulatory_id {
        check_shown("the model's regulatory id", id)?;
    }
    Ok(())
}

impl Home {
    /// The member's last entry in every report log this home holds.
    pub(crate) fn frontier_of(
        &self,
        key: &PublicKey,
        network: &countersign_ledger::NetworkId,
    ) -> Result<Frontier> {
        Ok(self
            .store()
            .db()
            .last_entries_by(key)?
            .into_iter()
            .filter(|(log, _)| log != network)
            .collect())
    }

    /// Adds a member, or changes an admitted member's details, signed by this home's admin key.
    /// For a change, the member's entries this home holds keep the details they were signed
    /// under; what they sign from now on is judged by the new ones.
    pub fn roster_add(
        &mut self,
        key: PublicKey,
        name: &str,
        role: Role,
        admin: bool,
        ai_model: Option<AiModelInfo>,
    ) -> Result<EntryId> {
        if name.trim().is_empty() {
            return Err(AppError::InvalidInput("a member needs a name".into()));
        }
        check_shown("the member's name", name)?;
        if let Some(m) = &ai_model {
            check_model(m)?;
        }
        if ai_model.is_some() && role != Role::AiModel {
            return Err(AppError::InvalidInput(
                "model details are only for the ai-model role".into(),
            ));
        }
        // A model's results are held to the model and version the roster names for its key
        // (`ai_model_mismatch`): a key admitted without them could claim any model.
        if ai_model.is_none() && role == Role::AiModel {
            return Err(AppError::InvalidInput(
                "an ai-model member needs its model details (vendor, model and version)".into(),
            ));
        }
        let network = self.state()?.network()?;
        let payload = json(&MemberPayload {
            valid_from: now_ms(),
            ai_model,
            frontier: self.frontier_of(&key, &network)?,
            ..MemberPayload::new(key, name, role, admin)
        });
        Ok(self
            .append_own(Some(network), Kind::RosterMember, &payload)?
            .id())
    }

    /// Revokes a member. The entries of theirs this home holds stay valid (their frontier);
    /// anything else they sign is refused on every peer, whatever its timestamp.
    pub fn roster_revoke(&mut self, key: PublicKey, reason: &str) -> Result<EntryId> {
        let state = self.state()?;
        let network = state.network()?;
        if state.roster().member(&key).is_none() {
            return Err(AppError::NotFound {
                what: format!("member {key}"),
            });
        }
        let payload = json(&RevokePayload {
            key,
            reason: reason.to_string(),
            frontier: self.frontier_of(&key, &network)?,
        });
        Ok(self
            .append_own(Some(network), Kind::RosterRevoke, &payload)?
            .id())
    }

    /// Vouches for one more entry of a member (and their chain before it in that report): an
    /// honest entry written before a revocation or role change that reached this home after it,
    /// judged under the details before `change` (by default the member's latest change). The
    /// entry must be stored here (it is, refused, until this is signed).
    pub fn roster_readmit(&mut self, entry: EntryId, change: Option<EntryId>) -> Result<EntryId> {
        let network = self.state()?.network()?;
        let row = self
            .store()
            .db()
            .get(&entry)?
            .ok_or_else(|| AppError::NotFound {
                what: format!("entry {entry}"),
            })?;
        let stored = crate::state::decode_row(&row).map_err(|reason| {
            AppError::InvalidInput(format!("stored entry is damaged ({reason}); run verify"))
        })?;
        let payload = json(&ReadmitPayload {
            key: stored.header().author,
            log: stored.log_id(),
            entry,
            change,
        });
        Ok(self
            .append_own(Some(network), Kind::RosterReadmit, &payload)?
            .id())
    }

    pub fn roster_list(&self) -> Result<Vec<Member>> {
        Ok(self.state()?.roster().members().cloned().collect())
    }
}

#[cfg(test)]
mod tests {
    use countersign_ledger::{Role, SecretKey};

    /// Found by review (2026-12-05): a model's results are held to the model its roster entry
    /// names (`ai_model_mismatch`), and a key admitted without one is held to none, so it could
    /// claim any model. Admitting an ai-model member needs its details. Fails if it is admitted.
    #[test]
    fn an_ai_model_member_is_not_admitted_without_its_model_details() {
        let dir = tempfile::tempdir().unwrap();
        let mut home = crate::tests::founded(dir.path());
        let model = SecretKey::from_seed(&[9; 32]).public();
        let refused = home
            .roster_add(model, "a model", Role::AiModel, false, None)
            .unwrap_err();
        assert_eq!(refused.code(), "invalid_input", "{refused}");
        assert!(home.state().unwrap().roster().member(&model).is_none());
    }

    /// Names in any script pass, the zero-width non-joiner Persian spells with included; a line
    /// feed (a fake "co-signed by" line), an escape sequence and a bidi override do not.
    #[test]
    fn a_name_with_a_control_or_format_character_is_refused() {
        for ok in [
            "Dr Ada Lovelace",
            "Dr Żaneta Ó Briain",
            "مهر\u{200c}داد",
            "李医生",
        ] {
            assert!(super::check_shown("the name", ok).is_ok(), "{ok}");
        }
        for bad in [
            "Dr Eve\n     co-signed by Dr Ada",
            "Dr Eve\u{1b}[2J",
            "Dr \u{202e}evE",
            "Dr Eve\r",
            "Dr\u{200b}Eve",
        ] {
            let e = super::check_shown("the name", bad).unwrap_err();
            assert_eq!(e.code(), "invalid_input", "{bad:?}");
        }
    }
}
