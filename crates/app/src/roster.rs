//! Roster use cases: an admin adds and revokes members.

use countersign_ledger::roster::{AiModelInfo, MemberPayload, RevokePayload};
use countersign_ledger::{EntryId, Kind, Member, PublicKey, Role};

use crate::error::{AppError, Result};
use crate::home::{json, now_ms, Home};

impl Home {
    /// Adds a member (or updates their details), signed by this home's admin key. The member's
    /// authority starts now.
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
        if ai_model.is_some() && role != Role::AiModel {
            return Err(AppError::InvalidInput(
                "model details are only for the ai-model role".into(),
            ));
        }
        let network = self.state()?.network()?;
        let payload = json(&MemberPayload {
            key,
            name: name.to_string(),
            role,
            admin,
            valid_from: now_ms(),
            valid_until: None,
            devices: vec![],
            ai_model,
        });
        Ok(self
            .append_own(Some(network), Kind::RosterMember, &payload)?
            .id())
    }

    /// Revokes a member from `from_ms` (default: now). Their earlier signatures stay valid.
    pub fn roster_revoke(
        &mut self,
        key: PublicKey,
        from_ms: Option<u64>,
        reason: &str,
    ) -> Result<EntryId> {
        let state = self.state()?;
        let network = state.network()?;
        if state.roster.member(&key).is_none() {
            return Err(AppError::NotFound {
                what: format!("member {key}"),
            });
        }
        let payload = json(&RevokePayload {
            key,
            from: from_ms.unwrap_or_else(now_ms),
            reason: reason.to_string(),
        });
        Ok(self
            .append_own(Some(network), Kind::RosterRevoke, &payload)?
            .id())
    }

    pub fn roster_list(&self) -> Result<Vec<Member>> {
        Ok(self.state()?.roster.members().cloned().collect())
    }
}
