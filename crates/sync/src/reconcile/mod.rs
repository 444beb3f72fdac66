//! The set two peers reconcile, and one round of reconciling it.
//!
//! Every entry and piece of fork evidence a home holds is one item: its header's timestamp and
//! its id. Peers compare fingerprints of ranges of the sorted set and split the ranges that
//! differ until the differing ids are listed (the Negentropy protocol, by the `negentropy`
//! crate), so the bytes and time of a reconcile follow what differs, not what is held.
//! Items sort by [`order_key`] first: the roster log's entries before everything (a new home
//! takes the roster before the reports it authorises: they are listed, so fetched, first),
//! then by timestamp, so a department's new entries sit together at the end of the set and a
//! catch-up narrows to them in a few rounds. The key is only an order both sides compute the
//! same way from the entry; nothing is judged by it.
//!
//! A reconcile starts from a window: items keyed before `from` (an epoch boundary, about
//! two weeks back) are compared by one digest of per-epoch sums kept as items arrive, and only
//! when that digest differs is the whole set reconciled. So a department's years of history
//! cost a digest, and the time of a reconcile follows the recent window and the difference.
//!
//! ```
//! use countersign_ledger::Hash;
//! use countersign_sync::reconcile::{ReconcileSet, Round};
//!
//! let mut mine = ReconcileSet::new();
//! let mut theirs = ReconcileSet::new();
//! for i in 0..1000u32 {
//!     let id = Hash::of(&i.to_be_bytes());
//!     theirs.insert(u64::from(i), &id);
//!     if i % 100 != 7 {
//!         mine.insert(u64::from(i), &id);
//!     }
//! }
//! mine.settle();
//! theirs.settle();
//! let mut message = Round::start(&mine, 0).unwrap();
//! let mut need = Vec::new();
//! loop {
//!     let answer = Round::answer(&theirs, 0, &message).unwrap();
//!     match Round::next(&mine, 0, &answer, &mut need).unwrap() {
//!         Some(m) => message = m,
//!         None => break,
//!     }
//! }
//! need.sort();
//! let mut lacking: Vec<Hash> = (0..1000u32).filter(|i| i % 100 == 7)
//!     .map(|i| Hash::of(&i.to_be_bytes())).collect();
//! lacking.sort();
//! assert_eq!(need, lacking);
//! ```

use negentropy::{Bound, Id, Item, Negentropy, NegentropyStorageBase};

use countersign_ledger::{EntryId, Hash};

mod listed;

/// The most bytes one reconciliation message takes: Negentropy stops adding ranges there and
/// sends a fingerprint of the rest (at most a range's worth past it, below
/// [`crate::protocol::MAX_RECONCILE`]).
pub const FRAME_LIMIT: u64 = 500_000;

/// Where an entry sorts in the set: 0 for the roster log's (the network genesis and the log
/// whose id is the network's), else its header's timestamp.
pub fn order_key(roster: bool, timestamp_ms: u64) -> u64 {
    if roster {
        0
    } else {
        timestamp_ms
    }
}

/// The items a home reconciles, sorted by (timestamp, id). New items go to a pending list and
/// are merged in by [`ReconcileSet::settle`], in place and in linear time, so a set of
/// millions takes each new entry without being sorted again.
#[derive(Debug, Default, Clone)]
pub struct ReconcileSet {
    items: Vec<Item>,
    pending: Vec<Item>,
    /// Per epoch (key >> [`EPOCH_BITS`]): how many items and the sum of their ids (mod 2^256),
    /// kept as items arrive, so the digest of everything before a window costs one pass over
    /// the epochs, not the items.
    epochs: std::collections::BTreeMap<u64, (u64, [u64; 4])>,
}

/// An epoch spans 2^30 ms (about twelve days) of keys.
pub const EPOCH_BITS: u32 = 30;

/// The epoch a whole pull starts its window at for a clock reading of `now_ms`: the one
/// before the current, so the window spans twelve to twenty-five days of keys. Only an
/// efficiency choice of the puller (the server takes whatever `from` it is sent).
pub fn window_start(now_ms: u64) -> u64 {
    (now_ms >> EPOCH_BITS).saturating_sub(1)
}

fn add_id(sum: &mut [u64; 4], id: &[u8; 32]) {
    let mut carry = 0u128;
    for (i, limb) in sum.iter_mut().enumerate() {
        let mut w = [0u8; 8];
        w.copy_from_slice(&id[i * 8..i * 8 + 8]);
        let v = *limb as u128 + u64::from_le_bytes(w) as u128 + carry;
        *limb = v as u64;
        carry = v >> 64;
    }
}

fn item(timestamp_ms: u64, id: &EntryId) -> Item {
    // u64::MAX is the protocol's "end of the set" bound: kept for it.
    Item::with_timestamp_and_id(timestamp_ms.min(u64::MAX - 1), Id::from_byte_array(id.0))
}

impl ReconcileSet {
    pub fn new() -> ReconcileSet {
        ReconcileSet::default()
    }

    /// Adds an item at `key` (see [`order_key`]); it counts once [`ReconcileSet::settle`]
    /// has run.
    pub fn insert(&mut self, key: u64, id: &EntryId) {
        self.pending.push(item(key, id));
    }

    /// Room for `additional` more inserts before the next [`ReconcileSet::settle`], made once:
    /// a home building its whole set reserves what its store holds, rather than growing the
    /// vector by doubling — each doubling a new allocation and a copy of every item, which an
    /// allocator that keeps what is freed (mimalloc, as shipped) left resident: a serving node
    /// of 1 000 000 reports peaked at 275 MiB with this, 281–290 MiB without (README).
    pub fn reserve(&mut self, additional: usize) {
        self.pending.reserve_exact(additional);
    }

    /// Merges what was inserted since the last call into the sorted set.
    pub fn settle(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        self.pending.sort_unstable();
        self.pending.dedup();
        // Only items not held yet count into the epochs' sums.
        let items = &self.items;
        self.pending.retain(|p| items.binary_search(p).is_err());
        for p in &self.pending {
            let e = self
                .epochs
                .entry(p.timestamp >> EPOCH_BITS)
                .or_insert((0, [0; 4]));
            e.0 += 1;
            add_id(&mut e.1, p.id.as_bytes());
        }
        let (old, new) = (self.items.len(), self.pending.len());
        if old == 0 {
            self.items = std::mem::take(&mut self.pending);
            return;
        }
        // Merged from the back into the grown vector: no second copy of the set.
        self.items.resize(old + new, Item::with_timestamp(0));
        let (mut i, mut j, mut k) = (old, new, old + new);
        while j > 0 {
            if i > 0 && self.items[i - 1] > self.pending[j - 1] {
                self.items[k - 1] = self.items[i - 1];
                i -= 1;
            } else {
                self.items[k - 1] = self.pending[j - 1];
                j -= 1;
            }
            k -= 1;
        }
        self.pending.clear();
        self.pending.shrink_to(1024);
        // No dedup pass: `pending` was deduplicated and holds only items not in `items`, so
        // the merge is strictly ascending already. A pass over the whole set here cost a
        // million-report home tens of milliseconds per settle (the merge above touches only
        // the items after the smallest new one: new entries sort near the end).
        debug_assert!(self.items.windows(2).all(|w| w[0] < w[1]));
    }

    /// Settled items.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Bytes the set holds (for memory accounting).
    pub fn bytes(&self) -> usize {
        (self.items.capacity() + self.pending.capacity()) * std::mem::size_of::<Item>()
    }
}

impl ReconcileSet {
    /// The digest of every item keyed before epoch `from`: SHA-256 over each non-empty
    /// epoch's number, count and id sum, in order.
    pub fn base(&self, from: u64) -> Hash {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(b"countersign reconcile base v1");
        for (epoch, (count, sum)) in self.epochs.range(..from) {
            h.update(epoch.to_be_bytes());
            h.update(count.to_be_bytes());
            for limb in sum {
                h.update(limb.to_le_bytes());
            }
        }
        Hash(h.finalize().into())
    }

    /// The items keyed at or after epoch `from`.
    fn window(&self, from: u64) -> Window<'_> {
        let start = from.saturating_mul(1 << EPOCH_BITS);
        let at = self.items.partition_point(|i| i.timestamp < start);
        Window(&self.items[at..])
    }
}

/// A sorted run of items, as Negentropy reads its storage.
struct Window<'a>(&'a [Item]);

impl NegentropyStorageBase for Window<'_> {
    fn size(&self) -> Result<usize, negentropy::Error> {
        Ok(self.0.len())
    }

    fn get_item(&self, i: usize) -> Result<Option<Item>, negentropy::Error> {
        Ok(self.0.get(i).copied())
    }

    fn iterate(
        &self,
        begin: usize,
        end: usize,
        cb: &mut dyn FnMut(Item, usize) -> Result<bool, negentropy::Error>,
    ) -> Result<(), negentropy::Error> {
        if begin > end || end > self.0.len() {
            return Err(negentropy::Error::BadRange);
        }
        for (i, item) in self.0[begin..end].iter().enumerate() {
            if !cb(*item, begin + i)? {
                break;
            }
        }
        Ok(())
    }

    fn find_lower_bound(&self, first: usize, last: usize, value: &Bound) -> usize {
        let last = last.min(self.0.len());
        let first = first.min(last);
        first + self.0[first..last].partition_point(|i| *i < value.item)
    }
}

/// Why a reconciliation message is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a reconciliation message is malformed: {0}")]
pub struct RoundError(String);

fn round_error(e: negentropy::Error) -> RoundError {
    RoundError(e.to_string())
}

/// The steps of one reconcile: the puller starts and continues it, the server answers each
/// message. Neither side keeps state between messages: each step reads the set as it is.
#[derive(Debug)]
pub struct Round;

impl Round {
    /// The puller's first message over the items keyed at or after epoch `from` (0: all).
    pub fn start(set: &ReconcileSet, from: u64) -> Result<Vec<u8>, RoundError> {
        let window = set.window(from);
        let mut n = Negentropy::borrowed(&window, FRAME_LIMIT).map_err(round_error)?;
        n.initiate().map_err(round_error)
    }

    /// The server's answer to a message from a peer, over the same window.
    pub fn answer(set: &ReconcileSet, from: u64, message: &[u8]) -> Result<Vec<u8>, RoundError> {
        let window = set.window(from);
        let mut n = Negentropy::borrowed(&window, FRAME_LIMIT).map_err(round_error)?;
        n.reconcile(message).map_err(round_error)
    }

    /// The puller's next message after the server's `answer`, or `None` once the windows are
    /// reconciled. Ids the server holds and this set lacks are added to `need`, in the set's
    /// order (as the server listed them).
    pub fn next(
        set: &ReconcileSet,
        from: u64,
        answer: &[u8],
        need: &mut Vec<EntryId>,
    ) -> Result<Option<Vec<u8>>, RoundError> {
        let window = set.window(from);
        let mut n = Negentropy::borrowed(&window, FRAME_LIMIT).map_err(round_error)?;
        n.set_initiator();
        let mut have = Vec::new();
        let mut ids = Vec::new();
        let next = n
            .reconcile_with_ids(answer, &mut have, &mut ids)
            .map_err(round_error)?;
        // In the order the server listed them (see `listed`), not the crate's.
        let mut ids: Vec<[u8; 32]> = ids.into_iter().map(|id| id.to_bytes()).collect();
        listed::in_listed_order(&mut ids, answer);
        need.extend(ids.into_iter().map(Hash));
        Ok(next)
    }
}

/// The invariants the `sync_reconcile` fuzz target checks: a step from a peer, answered by a
/// server or continued by a puller over a set of a few hundred items, is refused or answered
/// (never a panic), and an answer keeps to the message bound.
#[doc(hidden)]
pub fn fuzz_check(data: &[u8]) {
    let mut set = ReconcileSet::new();
    for i in 0..300u64 {
        set.insert(i / 7, &Hash::of(&i.to_be_bytes()));
    }
    set.settle();
    if let Ok(answer) = Round::answer(&set, 0, data) {
        assert!(
            answer.len() <= crate::protocol::MAX_RECONCILE,
            "an answer past the bound"
        );
    }
    let mut need = Vec::new();
    if let Ok(Some(next)) = Round::next(&set, 0, data, &mut need) {
        assert!(
            next.len() <= crate::protocol::MAX_RECONCILE,
            "a step past the bound"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn id(i: u64) -> EntryId {
        Hash::of(&i.to_be_bytes())
    }

    /// Runs a whole reconcile; returns what `mine` lacks and the bytes both ways.
    fn reconcile(mine: &ReconcileSet, theirs: &ReconcileSet) -> (Vec<EntryId>, usize) {
        let mut need = Vec::new();
        let mut message = Round::start(mine, 0).unwrap();
        let mut bytes = message.len();
        for _ in 0..64 {
            assert!(message.len() as u64 <= FRAME_LIMIT + 2048);
            let answer = Round::answer(theirs, 0, &message).unwrap();
            assert!(answer.len() as u64 <= FRAME_LIMIT + 2048);
            bytes += answer.len();
            match Round::next(mine, 0, &answer, &mut need).unwrap() {
                Some(m) => {
                    bytes += m.len();
                    message = m
                }
                None => {
                    need.sort();
                    need.dedup();
                    return (need, bytes);
                }
            }
        }
        panic!("no convergence in 64 rounds");
    }

    /// Regression: the ids a puller lacks came in hash order (the `negentropy` crate gathers a
    /// listed range's ids in a hash set), so a first sync fetched a few entries of thousands
    /// of reports per batch, children before their parents. They now come in the set's order:
    /// by key (a report's entries together, parents first), whatever their ids.
    #[test]
    fn a_puller_lacks_ids_in_the_order_of_the_set() {
        let mut theirs = ReconcileSet::new();
        let mut mine = ReconcileSet::new();
        let n = 40_000u64;
        for i in 0..n {
            theirs.insert(i / 3, &id(i));
            // A few held here, so the server lists ranges around them.
            if i % 997 == 0 {
                mine.insert(i / 3, &id(i));
            }
        }
        theirs.settle();
        mine.settle();
        let mut need = Vec::new();
        let mut message = Round::start(&mine, 0).unwrap();
        let mut steps = 0;
        loop {
            let answer = Round::answer(&theirs, 0, &message).unwrap();
            steps += 1;
            match Round::next(&mine, 0, &answer, &mut need).unwrap() {
                Some(m) => message = m,
                None => break,
            }
        }
        assert!(steps > 1, "the ids came over more than one step");
        let expected: Vec<EntryId> = theirs
            .items
            .iter()
            .map(|item| Hash(item.id.to_bytes()))
            .filter(|h| !mine.items.iter().any(|m| m.id.to_bytes() == h.0))
            .collect();
        assert_eq!(need.len(), expected.len());
        assert!(
            need == expected,
            "the lacking ids came out of the set's order"
        );
    }

    #[test]
    fn settle_merges_in_order_and_drops_duplicates() {
        let mut s = ReconcileSet::new();
        for i in [5u64, 1, 9] {
            s.insert(i, &id(i));
        }
        s.settle();
        for i in [3u64, 9, 0, 12] {
            s.insert(i, &id(i));
        }
        s.settle();
        let got: Vec<u64> = s.items.iter().map(|i| i.timestamp).collect();
        assert_eq!(got, vec![0, 1, 3, 5, 9, 12]);
    }

    /// The base digest covers exactly the epochs before the window, whatever order items came
    /// in, and a difference inside the window leaves it equal.
    #[test]
    fn the_base_digest_covers_the_history_before_the_window() {
        let epoch = 1u64 << EPOCH_BITS;
        let mut a = ReconcileSet::new();
        let mut b = ReconcileSet::new();
        for i in 0..3000u64 {
            a.insert(i * 5_000_000, &id(i));
        }
        for i in (0..3000u64).rev() {
            b.insert(i * 5_000_000, &id(i));
        }
        a.settle();
        b.settle();
        let from = (2999 * 5_000_000) / epoch;
        assert_eq!(a.base(from), b.base(from));
        // A new item in the window: the base stays, the window differs.
        b.insert(from * epoch + 1, &id(99_999));
        b.settle();
        assert_eq!(a.base(from), b.base(from));
        // One before it: the base differs.
        b.insert(7, &id(88_888));
        b.settle();
        assert_ne!(a.base(from), b.base(from));
        // Inserting an item twice counts it once.
        a.insert(7, &id(88_888));
        a.settle();
        a.insert(7, &id(88_888));
        a.settle();
        assert_ne!(
            a.base(from + 1),
            b.base(from + 1),
            "b also has 99 999 in its window"
        );
        assert_eq!(a.base(from), b.base(from));
        // And a window reconcile finds the one item.
        let (mut need, mut message) = (Vec::new(), Round::start(&a, from).unwrap());
        loop {
            let answer = Round::answer(&b, from, &message).unwrap();
            match Round::next(&a, from, &answer, &mut need).unwrap() {
                Some(m) => message = m,
                None => break,
            }
        }
        assert_eq!(need, vec![id(99_999)]);
    }

    #[test]
    fn sixty_thousand_items_reconcile_within_the_frame_bound() {
        let mut mine = ReconcileSet::new();
        let mut theirs = ReconcileSet::new();
        for i in 0..60_000u64 {
            theirs.insert(i, &id(i));
        }
        theirs.settle();
        mine.settle();
        // An empty home: every id is listed, frame by frame.
        let (need, _) = reconcile(&mine, &theirs);
        assert_eq!(need.len(), 60_000);
    }

    #[test]
    fn a_recent_difference_costs_bytes_in_proportion_to_it() {
        let mut mine = ReconcileSet::new();
        let mut theirs = ReconcileSet::new();
        for i in 0..200_000u64 {
            theirs.insert(i, &id(i));
            if i < 199_000 {
                mine.insert(i, &id(i));
            }
        }
        mine.settle();
        theirs.settle();
        let (need, bytes) = reconcile(&mine, &theirs);
        assert_eq!(need.len(), 1000);
        // The ids themselves are 32 000 bytes; ranges and fingerprints add a little.
        assert!(bytes < 80_000, "{bytes} bytes for 1000 new items");
    }

    #[test]
    fn a_hostile_message_is_refused_not_a_panic() {
        let mut s = ReconcileSet::new();
        for i in 0..100u64 {
            s.insert(i, &id(i));
        }
        s.settle();
        for bad in [&[][..], &[0x61, 0xff], &[0x61, 0x00, 0x21], &[0x10]] {
            let _ = Round::answer(&s, 0, bad);
        }
        assert!(Round::answer(&s, 0, &[0x00]).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 64,
            rng_seed: proptest::test_runner::RngSeed::Fixed(0x5EED_0013),
            ..ProptestConfig::default()
        })]
        /// Whatever the two sets, the puller learns exactly what it lacks.
        #[test]
        fn the_puller_learns_exactly_what_it_lacks(
            theirs in proptest::collection::btree_set(0u64..5000, 0..600),
            mine in proptest::collection::btree_set(0u64..5000, 0..600),
            spread in 1u64..1000,
        ) {
            let mut a = ReconcileSet::new();
            let mut b = ReconcileSet::new();
            for i in &mine { a.insert(i / spread, &id(*i)); }
            for i in &theirs { b.insert(i / spread, &id(*i)); }
            a.settle();
            b.settle();
            let (need, _) = reconcile(&a, &b);
            let mut want: Vec<EntryId> = theirs.difference(&mine).map(|i| id(*i)).collect();
            want.sort();
            prop_assert_eq!(need, want);
        }
    }
}
