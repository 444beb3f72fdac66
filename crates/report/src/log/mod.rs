//! One report's log: its entries, the standing of each (accepted, or refused with the rule that
//! refused it), and the indexes the report rules read.
//!
//! An entry's standing is a pure function of its causal past and the roster: the report rules
//! (`check`) look only at entries in the past that are themselves accepted, and the author's
//! role is the one the roster gives that very entry (see [`countersign_ledger::Roster::authority`]).
//! A new entry cannot change the standing of an entry already held (nothing held has it in its
//! past), so entries are judged once on arrival; when the roster changes, the whole log is judged
//! again ([`ReportLog::rejudge`]). Two peers holding the same entries and roster therefore hold
//! the same standings, whatever the order things arrived in.
//!
//! This file holds the types, the [`ReportLog`] struct, its constructor and its plain
//! accessors; the rest of `impl ReportLog` is split by what it is about:
//!
//! - `insert`: adding and judging entries (`check`, `insert`, `rejudge`) and the index and
//!   facts kept for the rules;
//! - `check`: the report rules themselves;
//! - `binding`: which study the report is about, and its moves between studies;
//! - `erasure`: erasure and restriction, and forgetting an equivocation's payloads;
//! - `order`: heads and the deterministic order entries are shown in;
//! - `summary`: the report's summary row.

use std::collections::{BTreeMap, HashMap};

use countersign_ledger::dag::Dag;
use countersign_ledger::{Entry, EntryId, IdMap, Kind, LogId, PublicKey, Roster};

use crate::payload::{Payload, ReportCreate};
use crate::template::Template;

mod binding;
mod check;
mod erasure;
mod insert;
mod order;
mod summary;

pub(crate) use check::is_data_protection;
pub use check::ReportRuleError;
pub use summary::Summary;

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

/// Whether an entry counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing {
    Accepted,
    /// Boxed: a log keeps a standing per entry, nearly all `Accepted`, and an unboxed rule
    /// error made every one of them 80 bytes instead of 8 (a 100 000-entry import, issue 19).
    Refused(Box<ReportRuleError>),
}

impl Standing {
    pub fn refused(e: ReportRuleError) -> Standing {
        Standing::Refused(Box::new(e))
    }

    pub fn is_accepted(&self) -> bool {
        matches!(self, Standing::Accepted)
    }
}

/// Accepted entries by what the rules ask about them.
#[derive(Debug, Clone, Default)]
struct Index {
    finals: Vec<EntryId>,
    resolves: Vec<EntryId>,
    /// Accepted versions per section.
    versions: HashMap<String, Vec<EntryId>>,
    /// Accepted co-signatures per version.
    cosigns: IdMap<Vec<EntryId>>,
    ai_results: Vec<EntryId>,
    ai_reviews: IdMap<Vec<EntryId>>,
    followups: Vec<EntryId>,
    followup_closes: IdMap<Vec<EntryId>>,
    access: Vec<EntryId>,
    /// Accepted `report.move` entries: the study an entry is about is asked for every AI
    /// result and measurement judged, and must not cost a pass over the whole log.
    moves: Vec<EntryId>,
}

/// What else a judgement needs besides the roster: the positions from which authors are frozen
/// by their own equivocation in this log.
pub type Frozen = BTreeMap<PublicKey, u64>;

/// Where a report's template comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemplateSource {
    Builtin,
    /// The `template.publish` entry in the roster log.
    Published(EntryId),
}

/// Whether a report's payloads are sealed (see [`crate::payload::seal`]), as its
/// `report.create` says: a report created sealed has every sealable payload sealed, one from
/// before sealing has every payload in clear.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sealing {
    /// Not known: the `report.create` came without its payload (erased, or headers only).
    #[default]
    Unknown,
    /// Created before payloads were sealed: every payload is in clear.
    Clear,
    /// Sealed under the report's data key; `readable` when this home holds the key. A home
    /// without it holds the ciphertext and judges the log by its headers alone.
    Sealed { readable: bool },
}

/// A report log held in memory.
#[derive(Debug, Clone)]
pub struct ReportLog {
    id: LogId,
    create: ReportCreate,
    template: Template,
    source: TemplateSource,
    created_by: PublicKey,
    created_ms: u64,
    dag: Dag,
    /// Boxed: a map's table holds a slot per entry and as many again empty (it doubles as it
    /// grows, and holds the old table beside the new while it does); at ~470 bytes an entry,
    /// the empty slots cost as much as the entries (a 100 000-entry import, issue 19).
    entries: IdMap<Box<LogEntry>>,
    standing: IdMap<Standing>,
    index: Index,
    /// Per entry with an accepted final sign-off in its past (itself included), the lowest
    /// such final's id: "descends from the final", computed once when the entry is judged,
    /// from its parents' facts. Judging an entry after a final reads its parents' facts
    /// instead of walking the report's ancestry once per final (which, past an equivocation
    /// in the final's author's chain, walked the whole log for every entry). Only entries
    /// that descend from a final have one.
    final_before: IdMap<EntryId>,
    /// Whether the `report.create` payload is held (the study, template and images above are
    /// the report's own). Not when it was erased, or has not come: the log is then judged
    /// with no template, and only by its headers once erased.
    content: bool,
    /// The accepted `payload.erase` entries. The lowest id is the log's erasure.
    erasures: Vec<EntryId>,
    /// While erased: the payloads held, set aside so that no rule or view reads them, and put
    /// back if the erasure stops standing (a revocation or rotation that leaves it outside
    /// its author's frontier). A home drops them from its store; in memory, keeping them makes
    /// what is shown a function of the entries held, whatever order they came in.
    withheld: IdMap<Payload>,
    withheld_create: Option<(ReportCreate, Template, TemplateSource)>,
    /// Whether its payloads are sealed, and readable here.
    sealing: Sealing,
}

impl ReportLog {
    /// Starts a log from its `report.create` entry and the template it names (resolved by the
    /// caller: built in, or published to the roster). The genesis is judged like any entry.
    ///
    /// `content` is `None` when the genesis came without its payload: the log of an erased
    /// report, whose entries travel as headers only — or when it is sealed and this home does
    /// not hold its key (`sealing` says which).
    pub fn new(
        genesis: &Entry,
        content: Option<(ReportCreate, (Template, TemplateSource))>,
        roster: &Roster,
        sealing: Sealing,
    ) -> Result<Self, ReportRuleError> {
        let held = content.is_some();
        let (create, (template, source)) = content.unwrap_or_else(|| {
            (
                ReportCreate::not_held(),
                (Template::not_held(), TemplateSource::Builtin),
            )
        });
        let id = genesis.id();
        let mut dag = Dag::new(id);
        dag.insert(genesis)
            .map_err(|e| ReportRuleError::Structure(e.to_string()))?;
        let mut log = ReportLog {
            id,
            created_by: genesis.header().author,
            created_ms: genesis.header().timestamp_ms,
            create: create.clone(),
            template,
            source,
            dag,
            entries: IdMap::default(),
            standing: IdMap::default(),
            index: Index::default(),
            final_before: IdMap::default(),
            content: held,
            erasures: Vec::new(),
            withheld: IdMap::default(),
            withheld_create: None,
            sealing,
        };
        let entry = LogEntry::new(genesis, held.then_some(Payload::Create(create)));
        let standing = log.judge(&entry, roster, &Frozen::new());
        log.entries.insert(id, Box::new(entry));
        log.standing.insert(id, standing);
        Ok(log)
    }

    pub fn id(&self) -> EntryId {
        self.id
    }

    /// The report's `report.create` payload; when it is not held (see
    /// [`ReportLog::has_content`]), one with no study, template or images.
    pub fn create(&self) -> &ReportCreate {
        &self.create
    }

    /// Whether the report's `report.create` payload is held: not once erased, nor when the
    /// entries came as headers only.
    pub fn has_content(&self) -> bool {
        self.content
    }

    /// Whether the report's payloads are sealed, and readable here.
    pub fn sealing(&self) -> Sealing {
        self.sealing
    }

    /// Whether the report is sealed under a key this home does not hold: its entries are
    /// judged by their headers alone, and its content reads as not readable here.
    pub fn unreadable(&self) -> bool {
        self.sealing == Sealing::Sealed { readable: false }
    }

    pub fn template(&self) -> &Template {
        &self.template
    }

    pub fn template_source(&self) -> TemplateSource {
        self.source
    }

    /// Binds the report to another publication of the same template (same content hash):
    /// which one the roster accepts can change as roster entries arrive.
    pub fn set_template_source(&mut self, source: TemplateSource) {
        self.source = source;
    }

    pub fn dag(&self) -> &Dag {
        &self.dag
    }

    /// Who signed the `report.create`, and when (their clock).
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
        self.entries.get(id).map(Box::as_ref)
    }

    pub fn contains(&self, id: &EntryId) -> bool {
        self.entries.contains_key(id)
    }

    /// Accepted, or refused and why; `None` for an entry not held.
    pub fn standing(&self, id: &EntryId) -> Option<&Standing> {
        self.standing.get(id)
    }

    /// Whether the report itself (its `report.create`) is accepted.
    pub fn is_accepted(&self) -> bool {
        self.standing(&self.id).is_some_and(Standing::is_accepted)
    }

    /// Whether `author` delivered `version` to `archive` (an accepted `report.delivered` naming
    /// both, not a rejection note): a home signs one such entry per version and archive, and
    /// asks this under its write lock, where another process's is seen.
    pub fn delivered_by(&self, author: &PublicKey, archive: &str, version: &EntryId) -> bool {
        self.entries.values().any(|e| {
            e.author == *author
                && matches!(&e.payload, Some(Payload::Delivered(d))
                    if d.archive == archive && d.version == *version && d.rejection_note.is_none())
                && self.standing(&e.id).is_some_and(Standing::is_accepted)
        })
    }

    /// Every entry held that is refused, with why, in topological order.
    pub fn refused(&self) -> Vec<(EntryId, &ReportRuleError)> {
        self.dag
            .topological()
            .into_iter()
            .filter_map(|id| match self.standing.get(&id) {
                Some(Standing::Refused(e)) => Some((id, &**e)),
                _ => None,
            })
            .collect()
    }
}
