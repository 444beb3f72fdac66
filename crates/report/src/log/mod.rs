//! One report's log: its entries, the report rules checked against each entry's causal past, and
//! a deterministic order for projection.
//!
//! Every rule looks only at the entry's causal past (its ancestors), never at whatever else
//! happened to arrive first, so all peers accept the same entries whatever the delivery order.
//! The rules themselves are in [`check`]; this file holds the log, its ancestry and its order.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use countersign_ledger::{Entry, EntryId, IdMap, IdSet, Kind, PublicKey};

use crate::payload::{Payload, ReportCreate, Status};
use crate::template::{self, Template};

mod check;

pub use check::ReportRuleError;

/// What the report keeps of each entry.
#[derive(Debug, Clone)]
pub struct LogEntry {
    pub id: EntryId,
    pub author: PublicKey,
    pub seq: u64,
    pub timestamp_ms: u64,
    pub kind: Kind,
    pub parents: Vec<EntryId>,
    /// `None` when the payload was erased.
    pub payload: Option<Payload>,
}

impl LogEntry {
    pub fn new(entry: &Entry, payload: Option<Payload>) -> Self {
        let h = entry.header();
        LogEntry {
            id: entry.id(),
            author: h.author,
            seq: h.seq,
            timestamp_ms: h.timestamp_ms,
            kind: h.kind,
            parents: h.parents.clone(),
            payload,
        }
    }
}

/// A report log held in memory.
#[derive(Debug, Clone)]
pub struct ReportLog {
    id: EntryId,
    create: ReportCreate,
    template: Template,
    created_by: PublicKey,
    created_ms: u64,
    entries: IdMap<LogEntry>,
    /// Final sign-offs in this log; while there are none, no entry needs its ancestry walked
    /// to know it is not after final.
    finals: Vec<EntryId>,
}

impl ReportLog {
    /// Starts a log from its `report.create` entry.
    pub fn new(genesis: &Entry, payload: &[u8]) -> Result<Self, ReportRuleError> {
        let create: ReportCreate = crate::payload::parse_as(Kind::ReportCreate, payload)?;
        let template = match &create.definition {
            Some(def) => {
                def.validate()?;
                if def.name != create.template {
                    return Err(ReportRuleError::TemplateMismatch {
                        named: create.template.clone(),
                        defined: def.name.clone(),
                    });
                }
                def.clone()
            }
            None => template::template(&create.template)
                .cloned()
                .ok_or_else(|| ReportRuleError::UnknownTemplate {
                    name: create.template.clone(),
                })?,
        };
        let mut entries = IdMap::default();
        let id = genesis.id();
        entries.insert(
            id,
            LogEntry::new(genesis, Some(Payload::Create(create.clone()))),
        );
        Ok(ReportLog {
            id,
            create,
            template,
            created_by: genesis.header().author,
            created_ms: genesis.header().timestamp_ms,
            entries,
            finals: Vec::new(),
        })
    }

    pub fn id(&self) -> EntryId {
        self.id
    }

    pub fn create(&self) -> &ReportCreate {
        &self.create
    }

    pub fn template(&self) -> &Template {
        &self.template
    }

    /// Who signed the `report.create`, and when.
    pub fn created(&self) -> (PublicKey, u64) {
        (self.created_by, self.created_ms)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn get(&self, id: &EntryId) -> Option<&LogEntry> {
        self.entries.get(id)
    }

    pub fn contains(&self, id: &EntryId) -> bool {
        self.entries.contains_key(id)
    }

    /// Adds an entry already checked with [`ReportLog::check`] (or loaded from a store that
    /// only holds checked entries).
    pub fn insert(&mut self, entry: LogEntry) {
        if matches!(&entry.payload, Some(Payload::Status(s)) if s.status == Status::Final) {
            self.finals.push(entry.id);
        }
        self.entries.insert(entry.id, entry);
    }

    /// Every known ancestor of `parents`, including the parents themselves.
    pub fn ancestors(&self, parents: &[EntryId]) -> IdSet {
        let mut seen = IdSet::default();
        let mut stack: Vec<EntryId> = parents.to_vec();
        while let Some(id) = stack.pop() {
            if seen.insert(id) {
                if let Some(e) = self.entries.get(&id) {
                    stack.extend(e.parents.iter().copied());
                }
            }
        }
        seen
    }

    /// The current heads: entries no other entry names as a parent.
    pub fn heads(&self) -> Vec<EntryId> {
        let named: IdSet = self
            .entries
            .values()
            .flat_map(|e| e.parents.iter().copied())
            .collect();
        let mut heads: Vec<EntryId> = self
            .entries
            .keys()
            .filter(|id| !named.contains(id))
            .copied()
            .collect();
        heads.sort();
        heads
    }

    /// A deterministic topological order: parents first, ties broken by (timestamp, id).
    /// Independent of the order entries were inserted in.
    pub fn ordered(&self) -> Vec<&LogEntry> {
        // Kahn's algorithm over indices: one map lookup per parent link, the child lists
        // as one sorted edge array.
        let entries: Vec<&LogEntry> = self.entries.values().collect();
        let n = entries.len();
        let index: IdMap<usize> = entries.iter().enumerate().map(|(i, e)| (e.id, i)).collect();
        let mut waiting = vec![0usize; n];
        let mut edges: Vec<(usize, usize)> = Vec::with_capacity(n);
        for (child, e) in entries.iter().enumerate() {
            for parent in e.parents.iter().filter_map(|p| index.get(p)) {
                edges.push((*parent, child));
                waiting[child] += 1;
            }
        }
        edges.sort_unstable();
        let mut start = vec![0usize; n + 1];
        for &(parent, _) in &edges {
            start[parent + 1] += 1;
        }
        for i in 0..n {
            start[i + 1] += start[i];
        }
        let mut ready: BinaryHeap<Reverse<(u64, EntryId, usize)>> = entries
            .iter()
            .enumerate()
            .filter(|(i, _)| waiting[*i] == 0)
            .map(|(i, e)| Reverse((e.timestamp_ms, e.id, i)))
            .collect();
        let mut out = Vec::with_capacity(n);
        while let Some(Reverse((_, _, i))) = ready.pop() {
            out.push(entries[i]);
            for &(_, child) in &edges[start[i]..start[i + 1]] {
                waiting[child] -= 1;
                if waiting[child] == 0 {
                    let c = entries[child];
                    ready.push(Reverse((c.timestamp_ms, c.id, child)));
                }
            }
        }
        out
    }
}
