//! One log's DAG as an index: which entries it holds, each entry's causal past summarised as a
//! version vector (for every author, the highest sequence number in the entry's past), the
//! positions (author, sequence) with the entries at them, and the heads.
//!
//! Every author's entries in a log form a chain: entry `n` has the author's entry `n - 1` in its
//! past ([`Dag::check`] refuses anything else). That makes "is `a` in the past of `b`" a lookup:
//! `a` is in `b`'s past exactly when `b`'s version vector reaches `a`'s sequence for `a`'s
//! author — unless the author equivocated (two entries at one position) at or after `a`'s
//! position, where the index walks the parents instead. Nothing here reads a clock.
//!
//! ```
//! use countersign_ledger::dag::Dag;
//! use countersign_ledger::{Entry, Hash, Header, Kind, SecretKey};
//!
//! let key = SecretKey::from_seed(&[7; 32]);
//! let net = Hash::of(b"net");
//! let h = Header::new(net, Hash::ZERO, key.public(), 1, 1_000, Kind::ReportCreate, vec![], b"{}");
//! let genesis = Entry::sign(h, &key).unwrap();
//! let log = genesis.id();
//! let mut dag = Dag::new(log);
//! dag.insert(&genesis).unwrap();
//! let h = Header::new(net, log, key.public(), 2, 2_000, Kind::SectionWrite, vec![genesis.id()], b"{}");
//! let second = Entry::sign(h, &key).unwrap();
//! dag.check(&second).unwrap();
//! dag.insert(&second).unwrap();
//! assert!(dag.in_past(&genesis.id(), &second.id()));
//! assert_eq!(dag.heads(), vec![second.id()]);
//! ```

use std::collections::{BTreeSet, HashMap};

use crate::entry::Entry;
use crate::hash::{EntryId, IdMap, IdSet, LogId};
use crate::identity::PublicKey;
use crate::rules::{RuleError, TIMESTAMP_TOLERANCE_MS};

/// What the index keeps of one entry.
#[derive(Debug, Clone)]
struct Node {
    id: EntryId,
    author: u16,
    seq: u64,
    timestamp_ms: u64,
    parents: Vec<u32>,
    /// Highest sequence per author index in the entry's past, itself included; authors added
    /// after this entry are absent (zero).
    vv: Box<[u64]>,
}

/// The index of one log. See the module docs.
#[derive(Debug, Clone)]
pub struct Dag {
    log: LogId,
    index: IdMap<u32>,
    nodes: Vec<Node>,
    authors: Vec<PublicKey>,
    author_index: HashMap<PublicKey, u16>,
    /// Entries at each (author, sequence); more than one is an equivocation.
    positions: HashMap<(u16, u64), Vec<u32>>,
    /// Per author, the positions where they equivocated.
    forked: HashMap<u16, BTreeSet<u64>>,
    /// Per author, the highest sequence held.
    last_seq: HashMap<u16, u64>,
    heads: BTreeSet<EntryId>,
}

/// At most this many authors write in one log (a report is a handful of people and models;
/// the roster log is its admins): bounds every version vector.
pub const MAX_AUTHORS_PER_LOG: usize = 4096;

impl Dag {
    pub fn new(log: LogId) -> Dag {
        Dag {
            log,
            index: IdMap::default(),
            nodes: Vec::new(),
            authors: Vec::new(),
            author_index: HashMap::new(),
            positions: HashMap::new(),
            forked: HashMap::new(),
            last_seq: HashMap::new(),
            heads: BTreeSet::new(),
        }
    }

    pub fn log(&self) -> LogId {
        self.log
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    pub fn contains(&self, id: &EntryId) -> bool {
        self.index.contains_key(id)
    }

    /// Every entry of the log, in the order they were added.
    pub fn ids(&self) -> impl Iterator<Item = &EntryId> + '_ {
        self.nodes.iter().map(|n| &n.id)
    }

    /// The entries no other entry of the log names as a parent, in id order.
    pub fn heads(&self) -> Vec<EntryId> {
        self.heads.iter().copied().collect()
    }

    /// The sequence number `author`'s next entry takes: one past the highest they hold here.
    pub fn next_seq(&self, author: &PublicKey) -> u64 {
        let Some(&a) = self.author_index.get(author) else {
            return 1;
        };
        self.last_seq.get(&a).copied().unwrap_or(0) + 1
    }

    /// The newest timestamp among `ids` (zero when none is held).
    pub fn latest_timestamp(&self, ids: &[EntryId]) -> u64 {
        ids.iter()
            .filter_map(|id| self.index.get(id))
            .map(|&i| self.nodes[i as usize].timestamp_ms)
            .max()
            .unwrap_or(0)
    }

    /// The entries held at `author`'s position `seq` (two or more: an equivocation).
    pub fn at_position(&self, author: &PublicKey, seq: u64) -> Vec<EntryId> {
        let Some(&a) = self.author_index.get(author) else {
            return Vec::new();
        };
        self.positions
            .get(&(a, seq))
            .map(|v| v.iter().map(|&i| self.nodes[i as usize].id).collect())
            .unwrap_or_default()
    }

    /// An entry other than `id` held at `author`'s position `seq`, if any (no allocation: asked
    /// for every entry taken in).
    pub fn other_at_position(&self, author: &PublicKey, seq: u64, id: &EntryId) -> Option<EntryId> {
        let a = self.author_index.get(author)?;
        self.positions
            .get(&(*a, seq))?
            .iter()
            .map(|&i| self.nodes[i as usize].id)
            .find(|other| other != id)
    }

    /// The lowest position at which `author` equivocated in this log, if they did.
    pub fn first_fork(&self, author: &PublicKey) -> Option<u64> {
        let a = self.author_index.get(author)?;
        self.forked.get(a).and_then(|s| s.iter().next().copied())
    }

    /// The structural rules an entry of this log must pass against what the log holds: every
    /// parent held (in this log), the author's previous entry in its past (the chain), and a
    /// timestamp not before any parent's beyond [`TIMESTAMP_TOLERANCE_MS`]. A genesis entry is
    /// checked by [`crate::rules::check_shape`]; it is only admitted into an empty index.
    pub fn check(&self, entry: &Entry) -> Result<(), RuleError> {
        let h = entry.header();
        if h.kind.is_genesis() {
            return Ok(());
        }
        let mut reached = 0u64;
        let author = self.author_index.get(&h.author).copied();
        for parent in &h.parents {
            let &i = self
                .index
                .get(parent)
                .ok_or(RuleError::UnknownParent { parent: *parent })?;
            let p = &self.nodes[i as usize];
            if h.timestamp_ms.saturating_add(TIMESTAMP_TOLERANCE_MS) < p.timestamp_ms {
                return Err(RuleError::TimestampBeforeParent {
                    parent: *parent,
                    parent_ms: p.timestamp_ms,
                    found_ms: h.timestamp_ms,
                });
            }
            if let Some(a) = author {
                reached = reached.max(p.vv.get(a as usize).copied().unwrap_or(0));
            }
        }
        if reached + 1 != h.seq {
            return Err(RuleError::ChainBroken {
                expected: reached + 1,
                found: h.seq,
            });
        }
        if author.is_none() && self.authors.len() >= MAX_AUTHORS_PER_LOG {
            return Err(RuleError::TooManyAuthors {
                limit: MAX_AUTHORS_PER_LOG,
            });
        }
        Ok(())
    }

    /// Adds an entry that passed [`Dag::check`] (or was stored after passing it). Inserting an
    /// entry already held changes nothing.
    pub fn insert(&mut self, entry: &Entry) -> Result<(), RuleError> {
        let id = entry.id();
        if self.index.contains_key(&id) {
            return Ok(());
        }
        let h = entry.header();
        let author = match self.author_index.get(&h.author) {
            Some(&a) => a,
            None => {
                let a = u16::try_from(self.authors.len())
                    .ok()
                    .filter(|a| (*a as usize) < MAX_AUTHORS_PER_LOG)
                    .ok_or(RuleError::TooManyAuthors {
                        limit: MAX_AUTHORS_PER_LOG,
                    })?;
                self.authors.push(h.author);
                self.author_index.insert(h.author, a);
                a
            }
        };
        let mut parents = Vec::with_capacity(h.parents.len());
        let mut vv = vec![0u64; self.authors.len()];
        for parent in &h.parents {
            let &i = self
                .index
                .get(parent)
                .ok_or(RuleError::UnknownParent { parent: *parent })?;
            parents.push(i);
            for (slot, seen) in vv.iter_mut().zip(self.nodes[i as usize].vv.iter()) {
                *slot = (*slot).max(*seen);
            }
        }
        vv[author as usize] = h.seq;
        let index = self.nodes.len() as u32;
        self.nodes.push(Node {
            id,
            author,
            seq: h.seq,
            timestamp_ms: h.timestamp_ms,
            parents,
            vv: vv.into_boxed_slice(),
        });
        self.index.insert(id, index);
        let at = self.positions.entry((author, h.seq)).or_default();
        at.push(index);
        if at.len() > 1 {
            self.forked.entry(author).or_default().insert(h.seq);
        }
        let last = self.last_seq.entry(author).or_insert(0);
        *last = (*last).max(h.seq);
        for p in &h.parents {
            self.heads.remove(p);
        }
        self.heads.insert(id);
        Ok(())
    }

    /// Whether `ancestor` is `of` or in its causal past. Both must be held; otherwise false.
    pub fn in_past(&self, ancestor: &EntryId, of: &EntryId) -> bool {
        match (self.index.get(ancestor), self.index.get(of)) {
            (Some(&a), Some(&o)) => self.reaches(o, a),
            _ => false,
        }
    }

    /// Whether `ancestor` is one of `parents` or in the past of one of them.
    pub fn in_past_of_all(&self, ancestor: &EntryId, parents: &[EntryId]) -> bool {
        let Some(&a) = self.index.get(ancestor) else {
            return false;
        };
        parents
            .iter()
            .filter_map(|p| self.index.get(p))
            .any(|&o| self.reaches(o, a))
    }

    /// Node `from` has node `to` in its past (or is it).
    fn reaches(&self, from: u32, to: u32) -> bool {
        let (f, t) = (&self.nodes[from as usize], &self.nodes[to as usize]);
        let seen = f.vv.get(t.author as usize).copied().unwrap_or(0);
        if seen < t.seq {
            return false;
        }
        // A fork at or after the target's position (up to what `from` reached) makes the
        // vector ambiguous about which branch `from` descends from: walk the parents.
        let ambiguous = self
            .forked
            .get(&t.author)
            .is_some_and(|s| s.range(t.seq..=seen).next().is_some());
        if !ambiguous {
            return true;
        }
        let mut stack = vec![from];
        let mut visited = vec![false; self.nodes.len()];
        while let Some(n) = stack.pop() {
            if n == to {
                return true;
            }
            if std::mem::replace(&mut visited[n as usize], true) {
                continue;
            }
            let node = &self.nodes[n as usize];
            // Nothing below the target's position of its author can lead to it.
            if node.vv.get(t.author as usize).copied().unwrap_or(0) < t.seq {
                continue;
            }
            stack.extend(node.parents.iter().copied());
        }
        false
    }

    /// Every held entry in a topological order where entries that are concurrent come in the
    /// order of `key` (then id): parents first. For showing entries side by side in the order
    /// their authors dated them; rules use [`Dag::topological`].
    pub fn topological_by<K: Ord + Copy>(&self, key: impl Fn(&EntryId) -> K) -> Vec<EntryId> {
        let n = self.nodes.len();
        let mut waiting: Vec<usize> = self.nodes.iter().map(|x| x.parents.len()).collect();
        let mut children: Vec<Vec<u32>> = vec![Vec::new(); n];
        for (i, node) in self.nodes.iter().enumerate() {
            for &p in &node.parents {
                children[p as usize].push(i as u32);
            }
        }
        let keyed = |i: u32| {
            let id = self.nodes[i as usize].id;
            std::cmp::Reverse((key(&id), id, i))
        };
        let mut ready: std::collections::BinaryHeap<_> = (0..n as u32)
            .filter(|&i| waiting[i as usize] == 0)
            .map(keyed)
            .collect();
        let mut out = Vec::with_capacity(n);
        while let Some(std::cmp::Reverse((_, id, i))) = ready.pop() {
            out.push(id);
            for &c in &children[i as usize] {
                waiting[c as usize] -= 1;
                if waiting[c as usize] == 0 {
                    ready.push(keyed(c));
                }
            }
        }
        out
    }

    /// Every held entry in a deterministic topological order: parents first, entries that are
    /// concurrent ordered by id. Depends only on the set held, never on insertion order.
    pub fn topological(&self) -> Vec<EntryId> {
        self.topological_by(|_| ())
    }

    /// How many entries `id` has in its past, itself included (counting each author's chain
    /// once): a causal measure of how much an entry saw.
    pub fn depth(&self, id: &EntryId) -> u64 {
        self.index
            .get(id)
            .map(|&i| self.nodes[i as usize].vv.iter().sum())
            .unwrap_or(0)
    }

    /// The author and sequence of a held entry.
    pub fn position(&self, id: &EntryId) -> Option<(PublicKey, u64)> {
        self.index.get(id).map(|&i| {
            let n = &self.nodes[i as usize];
            (self.authors[n.author as usize], n.seq)
        })
    }

    /// The parents of a held entry that are held in this log.
    pub fn parents(&self, id: &EntryId) -> Vec<EntryId> {
        self.index
            .get(id)
            .map(|&i| {
                self.nodes[i as usize]
                    .parents
                    .iter()
                    .map(|&p| self.nodes[p as usize].id)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Every held entry in `ids`' past, themselves included.
    pub fn ancestors(&self, ids: &[EntryId]) -> IdSet {
        let mut seen = IdSet::default();
        let mut stack: Vec<u32> = ids
            .iter()
            .filter_map(|i| self.index.get(i))
            .copied()
            .collect();
        while let Some(n) = stack.pop() {
            let node = &self.nodes[n as usize];
            if seen.insert(node.id) {
                stack.extend(node.parents.iter().copied());
            }
        }
        seen
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Hash, Header, Kind, SecretKey};

    const NET: Hash = Hash([3; 32]);

    struct Log {
        dag: Dag,
        genesis: Entry,
    }

    fn key(n: u8) -> SecretKey {
        SecretKey::from_seed(&[n; 32])
    }

    fn start() -> Log {
        let h = Header::new(
            NET,
            Hash::ZERO,
            key(1).public(),
            1,
            1_000,
            Kind::ReportCreate,
            vec![],
            b"{}",
        );
        let genesis = Entry::sign(h, &key(1)).unwrap();
        let mut dag = Dag::new(genesis.id());
        dag.insert(&genesis).unwrap();
        Log { dag, genesis }
    }

    fn entry(log: &Log, who: u8, seq: u64, ts: u64, parents: Vec<EntryId>, text: &str) -> Entry {
        let h = Header::new(
            NET,
            log.genesis.id(),
            key(who).public(),
            seq,
            ts,
            Kind::SectionWrite,
            parents,
            text.as_bytes(),
        );
        Entry::sign(h, &key(who)).unwrap()
    }

    #[test]
    fn an_author_must_have_their_previous_entry_in_the_past() {
        let mut log = start();
        let g = log.genesis.id();
        let a2 = entry(&log, 1, 2, 2_000, vec![g], "a2");
        log.dag.insert(&a2).unwrap();
        // Author 1's third entry naming only the genesis "forgets" their second.
        let forgetful = entry(&log, 1, 3, 3_000, vec![g], "a3");
        assert_eq!(
            log.dag.check(&forgetful),
            Err(RuleError::ChainBroken {
                expected: 2,
                found: 3
            })
        );
        // A skipped number is refused the same way, and so is a number reused after it.
        let skipped = entry(&log, 1, 4, 3_000, vec![a2.id()], "a4");
        assert!(matches!(
            log.dag.check(&skipped),
            Err(RuleError::ChainBroken { .. })
        ));
        let reused = entry(&log, 1, 2, 3_000, vec![a2.id()], "again");
        assert!(matches!(
            log.dag.check(&reused),
            Err(RuleError::ChainBroken { .. })
        ));
        // A new author starts at 1; their 1 may name any entry.
        let b1 = entry(&log, 2, 1, 3_000, vec![g], "b1");
        assert_eq!(log.dag.check(&b1), Ok(()));
        let b2 = entry(&log, 2, 2, 3_000, vec![g], "b2");
        assert!(matches!(
            log.dag.check(&b2),
            Err(RuleError::ChainBroken { .. })
        ));
    }

    #[test]
    fn parents_must_be_held_and_not_far_in_the_future_of_the_child() {
        let mut log = start();
        let g = log.genesis.id();
        let missing = entry(&log, 2, 1, 2_000, vec![Hash([9; 32])], "x");
        assert_eq!(
            log.dag.check(&missing),
            Err(RuleError::UnknownParent {
                parent: Hash([9; 32])
            })
        );
        let late = entry(&log, 2, 1, 10 * 60 * 1000, vec![g], "late");
        log.dag.insert(&late).unwrap();
        let early = entry(&log, 3, 1, 1, vec![late.id()], "before its parent");
        assert!(matches!(
            log.dag.check(&early),
            Err(RuleError::TimestampBeforeParent { .. })
        ));
        // Within the tolerance is clock skew, not a rule break.
        let skewed = entry(&log, 3, 1, 10 * 60 * 1000 - 1000, vec![late.id()], "skew");
        assert_eq!(log.dag.check(&skewed), Ok(()));
    }

    #[test]
    fn ancestry_follows_the_right_branch_of_a_fork() {
        let mut log = start();
        let g = log.genesis.id();
        let a = entry(&log, 2, 1, 2_000, vec![g], "branch a");
        let b = entry(&log, 2, 1, 2_000, vec![g], "branch b");
        log.dag.insert(&a).unwrap();
        log.dag.insert(&b).unwrap();
        assert_eq!(log.dag.first_fork(&key(2).public()), Some(1));
        let on_a = entry(&log, 3, 1, 3_000, vec![a.id()], "on a");
        log.dag.insert(&on_a).unwrap();
        assert!(log.dag.in_past(&a.id(), &on_a.id()));
        assert!(!log.dag.in_past(&b.id(), &on_a.id()));
        assert!(log.dag.in_past(&g, &on_a.id()));
        assert_eq!(log.dag.at_position(&key(2).public(), 1).len(), 2);
    }

    #[test]
    fn the_topological_order_is_the_same_whatever_the_insertion_order() {
        let mut one = start();
        let g = one.genesis.id();
        let xs: Vec<Entry> = (2..6u8)
            .map(|who| entry(&one, who, 1, 2_000, vec![g], "concurrent"))
            .collect();
        let mut two = Log {
            dag: Dag::new(g),
            genesis: one.genesis.clone(),
        };
        two.dag.insert(&two.genesis).unwrap();
        for x in &xs {
            one.dag.insert(x).unwrap();
        }
        for x in xs.iter().rev() {
            two.dag.insert(x).unwrap();
        }
        assert_eq!(one.dag.topological(), two.dag.topological());
        assert_eq!(one.dag.heads(), two.dag.heads());
        assert_eq!(one.dag.topological()[0], g);
    }
}
