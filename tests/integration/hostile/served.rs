//! What a hostile member serves in place of honest entries (forged, of another network,
//! endless, tampered, a flood, oversized, forged evidence), and what the node does with each.

use countersign_ledger::bundle;
use countersign_ledger::split_view::SplitViewEvidence;
use countersign_ledger::{EntryId, Hash, Kind, LogId};

use super::peer::{sync_as, Attack, Flood, Hostile, FLOOD};
use super::{followup, network_of, quarantine_count};
use crate::common::{craft, now_ms, Home};

#[test]
fn a_hostile_member_is_cut_off_stores_nothing_and_honest_sync_still_completes() {
    let (a, report) = Home::demo();
    let serving = crate::sync::serve_for_tests(&a);
    let m = crate::sync::member_for_tests(&a, "Dr Mallory", "radiologist");
    m.ok(&["sync", "--peer", &serving.1, "--once"]);
    // What an honest sync of the demo costs the node, to compare the attacks against.
    let baseline = serving.0.peak_rss_kib();
    let key_hex = m.key();
    let secret = m.secret(&key_hex);
    let network = network_of(&a);
    let log: LogId = report.parse().unwrap();
    let heads = crate::common::ids(&a.ok(&["report", "show", &report])["heads"]);
    let entry = |net: &str, text: &str| {
        let p = followup(text);
        (
            craft(
                &secret,
                net,
                &report,
                1,
                now_ms(),
                Kind::FollowupRecommend,
                heads.clone(),
                &p,
            ),
            p,
        )
    };
    // 1. A forged signature.
    let (e, p) = entry(&network.to_hex(), "forged");
    let mut forged = bundle::encode([(&e, Some(p.as_slice()))]);
    let sig_at = forged.len() - p.len() - 5 - 64;
    forged[sig_at] ^= 1;
    // 2. Signed, but for another network.
    let (e, p) = entry(&Hash([9; 32]).to_hex(), "elsewhere");
    let other = bundle::encode([(&e, Some(p.as_slice()))]);
    // 3. An entry the node already has, forever.
    let genesis = a
        .db()
        .query_row(
            "SELECT header, signature FROM entries WHERE id = ?1",
            [log.as_bytes().as_slice()],
            |r| Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, Vec<u8>>(1)?)),
        )
        .unwrap();
    let known =
        countersign_ledger::Entry::from_parts(&genesis.0, &genesis.1.try_into().unwrap()).unwrap();
    let payload: Vec<u8> = a.db()
        .query_row("SELECT p.bytes FROM entries e JOIN payloads p ON p.arrival = e.arrival WHERE e.id = ?1",
            [log.as_bytes().as_slice()], |r| r.get(0))
        .unwrap();
    let endless = bundle::encode([(&known, Some(payload.as_slice()))]);
    // 4. Signed by a member, payload changed after signing.
    let (e, _) = entry(&network.to_hex(), "as signed");
    let tampered = followup("as sinned"); // same length: only the hash can tell
    let tampered = bundle::encode([(&e, Some(tampered.as_slice()))]);
    // 5. Signed by a member, as signed, but with a key given twice.
    // (Sealed under the report's key, as a member's home seals it: the rules open it, then
    // read the key twice.)
    let twice = a.sealed(
        &report,
        Kind::FollowupRecommend,
        br#"{"finding":"Nodule 4 mm","finding":"No nodule","due":"2027-01-01"}"#,
    );
    let e = craft(
        &secret,
        &network.to_hex(),
        &report,
        1,
        now_ms(),
        Kind::FollowupRecommend,
        heads.clone(),
        &twice,
    );
    let duplicate = bundle::encode([(&e, Some(twice.as_slice()))]);
    // 6. A million entries by a stranger.
    let flood = Flood {
        key: [0x5a; 32],
        network: network.to_hex(),
        log: report.clone(),
        parent: heads[0],
        sent: 0,
    };

    // 7. Split-view evidence whose later claim's signature was changed on the way.
    let forged_evidence = {
        use countersign_ledger::checkpoint::Checkpoint;
        let claim = |ms: u64, head: EntryId| {
            Checkpoint::new(network, log, secret.public(), ms, 1, vec![head])
                .unwrap()
                .sign(&secret)
        };
        let pair = SplitViewEvidence::new(claim(1, heads[0]), claim(2, Hash([3; 32]))).unwrap();
        let mut bytes = pair.encode();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        bytes
    };

    // What the node must do with each: cut the peer off (the bytes prove it misbehaved), or
    // end the pull (nothing to hold against it), or quarantine what a rule refuses.
    enum Outcome {
        CutOff(&'static str),
        PullEnds(&'static str),
        Quarantined(&'static str, u64),
    }
    for (name, attack_with, expected) in [
        (
            "forged",
            Attack::Forged(forged),
            Outcome::CutOff("not authentic"),
        ),
        (
            "other network",
            Attack::OtherNetwork(other),
            Outcome::CutOff("wrong_network"),
        ),
        (
            "endless duplicates",
            Attack::EndlessDuplicates(endless),
            Outcome::PullEnds("not asked for"),
        ),
        (
            "tampered payload",
            Attack::TamperedPayload(tampered),
            Outcome::CutOff("payload_hash"),
        ),
        // A stranger's entries wait for an admission that may yet come: kept up to one
        // author's quota of the quarantine, the rest left to be offered again.
        (
            "flood",
            Attack::Flood(flood),
            Outcome::Quarantined("unknown_author", countersign_app::MAX_QUARANTINE_PER_AUTHOR),
        ),
        // A member signed a payload that gives a key twice: a peer running an older build
        // could have stored it honestly, so it is quarantined, not held against the sender —
        // and still kept after the flood, which filled only its quota.
        (
            "duplicate key",
            Attack::DuplicateKey(duplicate),
            Outcome::Quarantined("bad_payload", 1),
        ),
        (
            "oversized",
            Attack::Oversized,
            Outcome::CutOff("exceeds the limit"),
        ),
        (
            "forged split-view evidence",
            Attack::ForgedEvidence(forged_evidence),
            Outcome::CutOff("split_view_bad_checkpoint"),
        ),
    ] {
        // A fresh member key per attack: a cut-off peer is not served until it expires.
        let mal = crate::sync::member_for_tests(&a, &format!("Mallory {name}"), "radiologist");
        let k = mal.key();
        let seed: [u8; 32] = mal.secret(&k).to_seed().as_slice().try_into().unwrap();
        let hostile = Hostile::new(network, log, k.parse().unwrap(), attack_with);
        let before = a.run(&["verify"]).json()["entries"].as_u64().unwrap();
        let quarantined_before = quarantine_count(&a);
        let result = sync_as(seed, hostile, &serving.1);
        match expected {
            Outcome::CutOff(why) => {
                let e = result.expect_err(name);
                assert!(e.contains("cut off") && e.contains(why), "{name}: {e}");
            }
            Outcome::PullEnds(why) => {
                let e = result.expect_err(name);
                assert!(!e.contains("cut off") && e.contains(why), "{name}: {e}");
            }
            Outcome::Quarantined(code, n) => {
                result.unwrap_or_else(|e| panic!("{name}: {e}"));
                // Up to the quarantine's bound, whatever was offered.
                let room = countersign_app::MAX_QUARANTINE - quarantined_before;
                assert_eq!(
                    quarantine_count(&a) - quarantined_before,
                    n.min(room),
                    "{name}"
                );
                let codes: i64 = a
                    .db()
                    .query_row(
                        "SELECT COUNT(*) FROM quarantine WHERE code = ?1",
                        [code],
                        |r| r.get(0),
                    )
                    .unwrap();
                assert!(codes >= 1, "{name}: nothing quarantined as {code}");
                // verify and sync status list it, with its rule.
                let listed = a.run(&["verify"]).json()["quarantined"].to_string();
                assert!(listed.contains(code), "{name}: {listed}");
                let status = a.ok(&["sync", "status"])["quarantined"].to_string();
                assert!(status.contains(code), "{name}: {status}");
            }
        }
        let v = a.run(&["verify"]).json();
        assert_eq!(
            v["entries"].as_u64().unwrap(),
            before,
            "{name}: something was stored"
        );
        assert_eq!(v["ok"], true, "{name}");
    }
    // `sync status --json` says, per peer, how many entries a quota refused to keep: the
    // flood's, past its author's quota.
    let refused = a.ok(&["sync", "status"])["quarantine_refused"].clone();
    let refused = refused.as_array().unwrap();
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0]["bound"], "author_quota", "{refused:?}");
    // (At least: a later pull may have offered some again.)
    assert!(
        refused[0]["entries"].as_u64().unwrap()
            >= FLOOD - countersign_app::MAX_QUARANTINE_PER_AUTHOR,
        "{refused:?}"
    );
    // The flood was kept to the quarantine's bound and the oversized frame refused by its
    // length: the node never held more than a few batches, whatever was offered. A pull
    // holds at most three batches (one being stored, one checked, one arriving) of at most
    // 4000 entries each, decoded beside their bytes, and the allocator keeps what they used:
    // measured, a flood of 20 000 entries and one of 100 000 both peak about 80 MiB above an
    // honest sync, so the bound is on batches, not on what is offered.
    let peak = serving.0.peak_rss_kib();
    eprintln!("serve peaked at {peak} KiB ({baseline} KiB after an honest sync)");
    assert!(
        peak < baseline + 128 * 1024,
        "serve peaked at {peak} KiB, {baseline} KiB before the attacks"
    );
    // An honest member still syncs with the same node.
    let honest = crate::sync::member_for_tests(&a, "Dr Honest", "cardiologist");
    let synced = honest.ok(&["sync", "--peer", &serving.1, "--once"]);
    assert!(synced["received"].as_u64().unwrap() > 10, "{synced}");
}
