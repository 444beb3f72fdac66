//! A member's details a change sets, and which of two admins' concurrent changes of them is in
//! force: the most senior author's.

use super::resolve::Latest;
use super::*;

impl RosterLog {
    /// Records the accepted change `id` (by an author of `rank`, setting `details`) among
    /// `key`'s latest — the accepted changes of it no later accepted one has in its past — and
    /// returns the details in force: the most senior author's of those.
    pub(super) fn in_force(
        &self,
        latest: &mut Latest,
        key: &PublicKey,
        id: EntryId,
        rank: u32,
        details: Details,
    ) -> Details {
        let latest = latest.entry(*key).or_default();
        // (The roster order is causal: no change judged before this one has it in its past.)
        latest.retain(|(c, ..)| !self.dag.in_past(c, &id));
        latest.push((id, rank, details));
        latest[winner(latest)].2.clone()
    }
}

/// A member's details a change sets: what two admins' concurrent changes can dispute.
#[derive(Debug, Clone)]
pub(super) struct Details {
    name: String,
    role: Role,
    valid_from: u64,
    valid_until: Option<u64>,
    devices: Vec<String>,
    ai_model: Option<AiModelInfo>,
}

impl Details {
    pub(super) fn of_payload(p: &MemberPayload) -> Details {
        Details {
            name: p.name.clone(),
            role: p.role,
            valid_from: p.valid_from,
            valid_until: p.valid_until,
            devices: p.devices.clone(),
            ai_model: p.ai_model.clone(),
        }
    }

    pub(super) fn of_member(m: &Member) -> Details {
        Details {
            name: m.name.clone(),
            role: m.role,
            valid_from: m.valid_from,
            valid_until: m.valid_until,
            devices: m.devices.clone(),
            ai_model: m.ai_model.clone(),
        }
    }

    pub(super) fn apply(self, m: &mut Member) {
        m.name = self.name;
        m.role = self.role;
        m.valid_from = self.valid_from;
        m.valid_until = self.valid_until;
        m.devices = self.devices;
        m.ai_model = self.ai_model;
    }
}

/// Which of a key's latest changes (none in another's past) is in force: the most senior
/// author's (lowest rank). Two of one author's cannot both stand (concurrent entries of one
/// author are a fork, and frozen); the entry id only makes the choice total.
pub(super) fn winner(latest: &[(EntryId, u32, Details)]) -> usize {
    (0..latest.len())
        .min_by_key(|i| (latest[*i].1, latest[*i].0))
        .unwrap_or(0)
}

pub(super) fn member_from(p: &MemberPayload, admitted: EntryId) -> Member {
    Member {
        key: p.key,
        name: p.name.clone(),
        role: p.role,
        admin: p.admin,
        valid_from: p.valid_from,
        valid_until: p.valid_until,
        devices: p.devices.clone(),
        ai_model: p.ai_model.clone(),
        admitted,
        seniority: None,
        revoked: None,
        readmitted: Vec::new(),
        rotated_from: None,
        rotated_to: None,
    }
}
