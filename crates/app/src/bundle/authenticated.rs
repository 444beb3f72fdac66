//! A bundle's entries read, decoded and their signatures checked before anything is stored,
//! and put in causal order.

use super::*;

/// An authenticated entry and its payload as the bundle carried it. Boxed, so that each is
/// freed whole once stored: the import would otherwise keep every entry's half a kilobyte in
/// the batch until the batch ends, beside the state it has grown meanwhile.
pub(super) type Received = Box<(Entry, Option<Vec<u8>>)>;

/// A bundle's entries, every one decoded and its signature checked; nothing stored yet. Needs
/// no home, so it can be made on any thread.
#[derive(Debug)]
pub struct Authenticated {
    pub(super) entries: Vec<Received>,
    /// The reports' data keys the bundle carried (taken before its entries on import).
    pub(super) keys: bundle::BundleKeys,
}

/// What a bundle carries (see [`Authenticated::carried`]).
#[derive(Debug, Default)]
pub(crate) struct Carried {
    pub reports: Vec<countersign_ledger::EntryId>,
    pub per_log: HashMap<countersign_ledger::EntryId, usize>,
}

impl Carried {
    /// How many distinct entries of `log` the bundle carries.
    pub fn of(&self, log: &countersign_ledger::EntryId) -> usize {
        self.per_log.get(log).copied().unwrap_or(0)
    }
}

impl Authenticated {
    /// What the bundle carries: the reports whose `report.create` it holds, and how many
    /// distinct entries of each log (reports and the roster).
    pub(crate) fn carried(&self) -> Carried {
        let mut per_log: HashMap<countersign_ledger::EntryId, std::collections::BTreeSet<_>> =
            HashMap::new();
        let mut reports = Vec::new();
        for r in &self.entries {
            let id = r.0.id();
            let kind = r.0.header().kind;
            // A log's first entry cannot name its own id: the create and the genesis are the
            // logs they start.
            let log = if matches!(
                kind,
                countersign_ledger::Kind::ReportCreate | countersign_ledger::Kind::NetworkGenesis
            ) {
                id
            } else {
                r.0.header().log
            };
            if kind == countersign_ledger::Kind::ReportCreate {
                reports.push(id);
            }
            per_log.entry(log).or_default().insert(id);
        }
        Carried {
            reports,
            per_log: per_log.into_iter().map(|(k, v)| (k, v.len())).collect(),
        }
    }

    /// Frames untrusted bundle bytes and checks every signature (`verify_strict`).
    pub fn from_bundle(bytes: &[u8]) -> Result<Authenticated> {
        Authenticated::read(bytes)
    }

    /// Reads an untrusted bundle from a stream and checks every signature (`verify_strict`).
    /// Records are read a chunk at a time and each chunk is checked on every core, so neither
    /// the bundle's bytes nor its records are ever held whole: only the entries they become.
    /// The first problem met reading front to back refuses the bundle.
    pub fn read(source: impl Read) -> Result<Authenticated> {
        use rayon::prelude::*;
        let mut records = bundle::Reader::new(source);
        let data_keys = records.keys().map_err(|e| match e {
            bundle::ReadError::Bundle(e) => AppError::BadBundle(e),
            bundle::ReadError::Io { record, source } => AppError::Io {
                context: format!("reading bundle record {record}"),
                source,
            },
        })?;
        // A batch has few authors: each key is checked (decompressed) once, not per entry.
        let mut keys: HashMap<[u8; 32], PublicKey> = HashMap::new();
        let mut chunk: Vec<BundleRecord> = Vec::with_capacity(CHUNK);
        let mut checked: Vec<Result<(Entry, Option<Vec<u8>>)>> = Vec::with_capacity(CHUNK);
        let mut entries: Vec<Received> = Vec::new();
        loop {
            for record in records.by_ref().take(CHUNK) {
                chunk.push(record.map_err(|e| match e {
                    bundle::ReadError::Bundle(e) => AppError::BadBundle(e),
                    bundle::ReadError::Io { record, source } => AppError::Io {
                        context: format!("reading bundle record {record}"),
                        source,
                    },
                })?);
            }
            if chunk.is_empty() {
                break;
            }
            for author in chunk.iter().filter_map(|r| header::author_bytes(&r.header)) {
                if let std::collections::hash_map::Entry::Vacant(slot) = keys.entry(author) {
                    if let Ok(key) = PublicKey::from_bytes(&author) {
                        slot.insert(key);
                    }
                }
            }
            let first = entries.len();
            // Signatures are independent: checked on every core.
            chunk
                .par_drain(..)
                .enumerate()
                .map(|(i, r)| authenticate(first + i, r, &keys))
                .collect_into_vec(&mut checked);
            // Boxed here, not on the worker that checked it: the box is freed on this thread
            // when its entry is stored, and memory an idle worker's allocator owns is not
            // reclaimed while it idles (the import's peak grew by that much).
            for entry in checked.drain(..) {
                entries.push(Box::new(entry?));
            }
        }
        Ok(Authenticated {
            entries,
            keys: data_keys,
        })
    }

    /// How many entries the bundle carried.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Decodes one record into an entry, keeping its bytes, and checks its signature.
fn authenticate(
    index: usize,
    record: BundleRecord,
    keys: &HashMap<[u8; 32], PublicKey>,
) -> Result<(Entry, Option<Vec<u8>>)> {
    let BundleRecord {
        header,
        signature,
        payload,
    } = record;
    let entry = Entry::decode_unverified_owned(header, &signature, |k| keys.get(k).copied())
        .map_err(|e| AppError::BundleEntry {
            index,
            reason: e.to_string(),
        })?;
    // Named by its id too (the hash of its header, known before the signature is judged), so
    // that whoever holds the sender's copy can find the entry.
    entry
        .verify_signature()
        .map_err(|e| AppError::BundleEntry {
            index,
            reason: format!("entry {}: {e}", entry.id()),
        })?;
    Ok((entry, payload))
}

/// The batch with every entry after its parents that the batch carries (ties in arrival
/// order): Kahn's algorithm, linear in the batch. Retrying what waits pass after pass was
/// quadratic for a batch that came in reverse causal order (500 entries: 665 ms against 7 ms).
pub(crate) fn causal_order<T>(batch: Vec<T>) -> Vec<T>
where
    T: std::ops::Deref<Target = (Entry, Option<Vec<u8>>)>,
{
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;
    let at: IdMap<usize> = batch
        .iter()
        .enumerate()
        .map(|(i, r)| (r.0.id(), i))
        .collect();
    let mut waiting_on = vec![0usize; batch.len()];
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); batch.len()];
    for (i, r) in batch.iter().enumerate() {
        let mut parents: Vec<usize> =
            r.0.header()
                .parents
                .iter()
                .filter_map(|p| at.get(p).copied())
                .filter(|&p| p != i)
                .collect();
        parents.sort_unstable();
        parents.dedup();
        waiting_on[i] = parents.len();
        for p in parents {
            children[p].push(i);
        }
    }
    // The index of ids is done with: freed before the order is built.
    drop(at);
    let mut ready: BinaryHeap<Reverse<usize>> = (0..batch.len())
        .filter(|&i| waiting_on[i] == 0)
        .map(Reverse)
        .collect();
    let mut order = Vec::with_capacity(batch.len());
    let mut placed = vec![false; batch.len()];
    while let Some(Reverse(i)) = ready.pop() {
        placed[i] = true;
        order.push(i);
        for &c in &children[i] {
            waiting_on[c] -= 1;
            if waiting_on[c] == 0 {
                ready.push(Reverse(c));
            }
        }
    }
    // A cycle (two entries naming each other: their ids cannot both hold) is left to the
    // passes below to report.
    order.extend((0..batch.len()).filter(|&i| !placed[i]));
    // Every index is in `order` once, so every slot is taken exactly once.
    let mut slots: Vec<Option<T>> = batch.into_iter().map(Some).collect();
    order.into_iter().filter_map(|i| slots[i].take()).collect()
}
