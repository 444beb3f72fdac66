//! The unit tests of gossip's pure parts: an announcement's encoding, its bounds and its
//! split into messages, the verdict on a received message, the rate buckets, what was heard,
//! and the topic filter. Apart so that the code they test reads in one sitting; their names
//! (`node::gossip::tests::…`) are unchanged.

use countersign_ledger::Hash;
use libp2p::gossipsub;
use proptest::prelude::*;

use super::mesh::AnnounceTopics;
use super::receive::{judge, take_pulls, Verdict};
use super::*;

fn h(i: u8) -> Hash {
    Hash([i; 32])
}

#[test]
fn an_announcement_round_trips_and_is_bounded() {
    let a = Announcement::split(vec![
        Announced::new(h(2), 0, vec![h(9), h(7)]),
        Announced::new(h(1), 3, vec![h(5)]),
    ]);
    assert_eq!(a.len(), 1);
    let bytes = a[0].encode();
    assert_eq!(bytes.len(), 3 + 2 * 37 + 3 * 32);
    assert_eq!(Announcement::decode(&bytes), Ok(a[0].clone()));
    assert_eq!(a[0].logs[0].log, h(1), "logs ascending");
    assert_eq!(a[0].logs[1].heads, vec![h(7), h(9)], "heads ascending");
    // "Every log": no logs.
    let every = Announcement::default().encode();
    assert_eq!(every, vec![VERSION, 0, 0]);
    assert_eq!(Announcement::decode(&every), Ok(Announcement::default()));
}

#[test]
fn the_largest_announcement_fits_its_bound_and_more_is_split() {
    // 1024 logs with one head each: exactly the bound.
    let logs: Vec<Announced> = (0..MAX_LOGS as u32)
        .map(|i| {
            let mut id = [0u8; 32];
            id[..4].copy_from_slice(&i.to_be_bytes());
            Announced::new(Hash(id), u32::MAX, vec![Hash([0xff; 32])])
        })
        .collect();
    let one = Announcement::split(logs.clone());
    assert_eq!(one.len(), 1);
    let bytes = one[0].encode();
    assert_eq!(bytes.len(), MAX_ENCODED);
    assert_eq!(Announcement::decode(&bytes), Ok(one[0].clone()));
    // One log more, or heads past the bound, make a second message.
    let mut more = logs;
    more.push(Announced::new(Hash([0xfe; 32]), 0, vec![h(1)]));
    assert_eq!(Announcement::split(more).len(), 2);
    let heavy: Vec<Announced> = (0..100u8)
        .map(|i| Announced::new(h(i), 0, (0..16).map(|j| h(j + 100)).collect()))
        .collect();
    let split = Announcement::split(heavy);
    assert_eq!(split.len(), 2);
    assert!(split
        .iter()
        .all(|m| m.logs.iter().map(|l| l.heads.len()).sum::<usize>() <= MAX_HEADS));
    // A log with more heads than a message gives is announced without them.
    let many = Announced::new(h(1), 0, (0..17).map(h).collect());
    assert!(many.heads.is_empty());
}

#[test]
fn bounds_and_order_are_checked_before_reading() {
    // A claimed count past the bound, with nothing behind it.
    let mut b = vec![VERSION];
    b.extend_from_slice(&(MAX_LOGS as u16 + 1).to_be_bytes());
    assert!(matches!(
        Announcement::decode(&b),
        Err(GossipDecodeError::TooMany { what: "logs", .. })
    ));
    // Another version.
    assert_eq!(
        Announcement::decode(&[2, 0, 0]),
        Err(GossipDecodeError::Version(2))
    );
    // Too many heads for one log.
    let mut b = vec![VERSION, 0, 1];
    b.extend_from_slice(&[1; 32]);
    b.extend_from_slice(&[0; 4]);
    b.push(MAX_HEADS_PER_LOG as u8 + 1);
    assert!(matches!(
        Announcement::decode(&b),
        Err(GossipDecodeError::TooMany { .. })
    ));
    // Logs out of order, or twice.
    let twice = Announcement {
        logs: vec![
            Announced::new(h(1), 0, vec![]),
            Announced::new(h(1), 0, vec![]),
        ],
    }
    .encode();
    assert_eq!(
        Announcement::decode(&twice),
        Err(GossipDecodeError::Unordered("logs"))
    );
    // Trailing bytes, truncation, and a message past the byte bound.
    let mut t = Announcement::default().encode();
    t.push(0);
    assert_eq!(
        Announcement::decode(&t),
        Err(GossipDecodeError::TrailingBytes(1))
    );
    assert_eq!(
        Announcement::decode(&[VERSION, 0]),
        Err(GossipDecodeError::Truncated)
    );
    assert!(Announcement::decode(&vec![0; MAX_ENCODED + 1]).is_err());
}

#[test]
fn only_a_member_is_heard_and_only_a_direct_sender_is_held_to_it() {
    let good = Announcement::split(vec![Announced::new(h(1), 0, vec![h(2)])])[0].encode();
    assert!(matches!(
        judge(true, true, true, &good),
        Verdict::Consider(_)
    ));
    assert!(matches!(
        judge(true, false, true, &good),
        Verdict::Consider(_)
    ));
    // A stranger (or a revoked member, or an AI model) that sent it itself: rejected.
    assert!(matches!(
        judge(false, true, true, &good),
        Verdict::Reject(_)
    ));
    // The same relayed by a member whose roster may be behind: ignored, not held against it.
    assert!(matches!(
        judge(false, false, true, &good),
        Verdict::Ignore(_)
    ));
    // Malformed from a member: rejected; past the rate: ignored.
    assert!(matches!(
        judge(true, false, true, &[VERSION, 0xff]),
        Verdict::Reject(_)
    ));
    assert!(matches!(
        judge(true, true, false, &good),
        Verdict::Ignore(_)
    ));
}

#[test]
fn a_source_past_its_rate_is_held_back_until_it_refills() {
    let mut g = Gossip::new(Arc::default());
    let peer = PeerId::random();
    let t0 = Instant::now();
    let taken = (0..200).filter(|_| g.within_rate(peer, t0)).count();
    assert_eq!(taken, BURST as usize);
    assert!(g.within_rate(peer, t0 + Duration::from_millis(100)));
    // Other sources have their own allowance.
    assert!(g.within_rate(PeerId::random(), t0));
}

#[test]
fn what_was_announced_is_not_announced_again() {
    let mut g = Gossip::new(Arc::default());
    let now = Instant::now();
    let a = Announcement::split(vec![Announced::new(h(1), 0, vec![h(2)])]);
    g.hear(&a[0], now);
    let b = Announcement::split(vec![Announced::new(h(1), 0, vec![h(3)])]);
    g.hear(&b[0], now);
    assert!(g.heard_since(&h(1), &[h(2), h(3)], 0).is_some());
    assert!(
        g.heard_since(&h(1), &[h(2), h(4)], 0).is_none(),
        "a head nobody announced"
    );
    assert!(
        g.heard_since(&h(1), &[h(2)], 1).is_none(),
        "new fork evidence"
    );
    assert!(g.heard_since(&h(9), &[h(2)], 0).is_none());
}

/// A restarted home whose first whole pull ended just before its peer stored an entry heard
/// of it from nobody: the peer left the heads out of its announcement (announced to it
/// already) and counted every subscriber as reached, so the home waited for the next whole
/// reconcile, 30 s later (`three_peers_converge_and_pick_up_writes_made_while_serving`
/// timed out). A peer counts as having heard them only if it had been subscribed long enough
/// by then to be grafted, or gossiped to by the other members.
#[test]
fn a_peer_that_joined_after_an_announcement_is_not_counted_as_having_heard_it() {
    let mut g = Gossip::new(Arc::default());
    let topic = IdentTopic::new(format!("{TOPIC_PREFIX}{}", "ab".repeat(32)));
    let other = IdentTopic::new(format!("{TOPIC_PREFIX}{}", "cd".repeat(32)));
    let t0 = Instant::now();
    let heard_at = t0 + SETTLED + Duration::from_secs(1);
    let [settled, just, fresh, late, elsewhere, unknown] = [(); 6].map(|_| PeerId::random());
    // Subscriptions seen before this node joins its topic count from when they were seen.
    g.join(settled, topic.hash(), t0);
    g.join(elsewhere, other.hash(), t0);
    g.topic = Some(topic.clone());
    g.join(just, topic.hash(), heard_at - SETTLED);
    g.join(fresh, topic.hash(), heard_at - Duration::from_millis(500));
    g.hear(
        &Announcement::split(vec![Announced::new(h(1), 0, vec![h(2)])])[0],
        heard_at,
    );
    g.join(late, topic.hash(), heard_at + Duration::from_millis(5));
    let since = g.heard_since(&h(1), &[h(2)], 0);
    assert_eq!(since, Some(heard_at));
    let heard = |g: &Gossip, p: &PeerId| g.heard_what_was_left_out(p, since);
    assert!(heard(&g, &settled), "subscribed long before");
    assert!(heard(&g, &just), "subscribed exactly SETTLED before");
    assert!(
        !heard(&g, &fresh),
        "subscribed just before, maybe not yet grafted"
    );
    assert!(!heard(&g, &late), "subscribed after it was heard");
    assert!(!heard(&g, &elsewhere), "on another topic");
    assert!(!heard(&g, &unknown), "never seen to subscribe");
    // A head added later keeps the earliest time: a peer counts as having heard them all only
    // if it was there before the first.
    g.hear(
        &Announcement::split(vec![Announced::new(h(1), 0, vec![h(3)])])[0],
        heard_at + Duration::from_millis(50),
    );
    assert_eq!(g.heard_since(&h(1), &[h(2), h(3)], 0), Some(heard_at));
    // Nothing left out: every subscriber is reached by the publication.
    assert!(g.heard_what_was_left_out(&late, None));
    // One that left the topic, or disconnected, and came back counts from its return.
    g.leave_topic(settled, topic.hash());
    assert!(!heard(&g, &settled), "left the topic");
    g.join(settled, topic.hash(), t0);
    g.left(&settled);
    assert!(!heard(&g, &settled), "disconnected");
}

/// A pull holds at most `MAX_LOGS` logs. Announcements that together named more were all
/// marked pulled with the logs past the bound cut off, which then waited for the fallback to
/// other members or the next whole reconcile (30 s); one that does not fit now waits whole
/// for the next kick, once the pull ends.
#[test]
fn an_announcement_that_does_not_fit_a_pull_waits_whole_for_the_next() {
    let (puller, other) = (libp2p::PeerId::random(), libp2p::PeerId::random());
    let ids = |from: u32, n: u32| -> Vec<Hash> {
        (from..from + n)
            .map(|i| Hash::of(&i.to_le_bytes()))
            .collect()
    };
    let waiting = |from: u32, n: u32, puller| Pending {
        id: gossipsub::MessageId::new(&from.to_le_bytes()),
        via: puller,
        source: puller,
        puller,
        announcement: Announcement {
            logs: ids(from, n)
                .into_iter()
                .map(|l| Announced::new(l, 0, vec![h(1)]))
                .collect(),
        },
        until: tokio::time::Instant::now(),
        pulled: false,
        fell_back: false,
    };
    let mut queue: std::collections::VecDeque<Pending> = [
        waiting(0, 1000, puller),
        waiting(1000, 100, puller),
        waiting(0, 10, puller),
        waiting(5000, 3, other),
    ]
    .into();
    let wanted = take_pulls(&mut queue, |_| false);
    // (Compared whole, reported by length: a thousand ids printed help no one.)
    let first = &wanted[&puller];
    assert!(
        *first == ids(0, 1000),
        "the first whole, the third adding nothing: {} logs",
        first.len()
    );
    assert_eq!(wanted[&other], ids(5000, 3));
    let pulled: Vec<bool> = queue.iter().map(|p| p.pulled).collect();
    assert_eq!(
        pulled,
        [true, false, true, true],
        "the second waits, not cut"
    );
    // The next kick, that pull over: the second, whole.
    let wanted = take_pulls(&mut queue, |_| false);
    assert_eq!(wanted.len(), 1);
    assert_eq!(wanted[&puller], ids(1000, 100));
    assert!(queue.iter().all(|p| p.pulled));
    // While a pull from its puller runs, an announcement waits.
    queue.push_back(waiting(7000, 2, puller));
    assert!(take_pulls(&mut queue, |p| *p == puller).is_empty());
    assert!(!queue[4].pulled);
}

#[test]
fn the_topic_filter_takes_only_announcement_topics() {
    use gossipsub::TopicSubscriptionFilter;
    let mut f = AnnounceTopics;
    let ours = IdentTopic::new(format!("{TOPIC_PREFIX}{}", h(0xab))).hash();
    assert!(f.can_subscribe(&ours));
    assert!(!f.can_subscribe(&IdentTopic::new("countersign/announce/xyz").hash()));
    assert!(!f.can_subscribe(&IdentTopic::new("other").hash()));
}

proptest! {
    #![proptest_config(ProptestConfig {
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x5EED_0013),
        ..ProptestConfig::default()
    })]
    #[test]
    fn any_bytes_decode_or_are_refused(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        fuzz_check(&bytes);
    }

    #[test]
    fn announcements_round_trip(
        logs in prop::collection::vec(
            (any::<[u8; 32]>(), any::<u32>(), prop::collection::vec(any::<[u8; 32]>(), 0..20)),
            0..40,
        )
    ) {
        let logs = logs
            .into_iter()
            .map(|(l, f, hs)| Announced::new(Hash(l), f, hs.into_iter().map(Hash).collect()))
            .collect();
        for m in Announcement::split(logs) {
            let bytes = m.encode();
            prop_assert_eq!(Announcement::decode(&bytes), Ok(m));
            fuzz_check(&bytes);
        }
    }
}
