//! A hostile peer: a test harness that speaks `/countersign/sync/5` with a member's key but
//! serves whatever it likes — forged signatures, entries of another network, batches holding
//! nothing asked for, a flood by a stranger. The honest node (a real `serve` process) stores
//! none of it, cuts the peer off only where the bytes prove it misbehaved (quarantining what a
//! rule refuses), and still syncs with an honest peer afterwards.

mod other_network;
mod peer;
mod served;
mod split_view;

use countersign_ledger::NetworkId;

use crate::common::Home;

fn network_of(home: &Home) -> NetworkId {
    home.ok(&["whoami"])["network"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

fn quarantine_count(home: &Home) -> u64 {
    home.db()
        .query_row("SELECT COUNT(*) FROM quarantine", [], |r| {
            r.get::<_, i64>(0)
        })
        .unwrap() as u64
}

fn followup(finding: &str) -> Vec<u8> {
    format!(r#"{{"finding":"{finding}","due":"2027-01-01"}}"#).into_bytes()
}
