//! The shared test fixture: a department (an attending admin who founded it, a resident, a
//! cardiologist, a radiologist and an AI model) that signs entries and passes them through the
//! one acceptance path. Used by this crate's tests, the export crate's examples and the
//! benchmarks, so that every test builds ledgers the same way.
//!
//! ```
//! use countersign_report::fixture::Department;
//!
//! let mut dept = Department::new();
//! let report = dept.report("ada", "ct-chest");
//! dept.write_section("ada", report, "findings", "No nodule.").unwrap();
//! let view = dept.view(report);
//! assert_eq!(view.sections.iter().find(|s| s.name == "findings").unwrap().text.as_deref(),
//!            Some("No nodule."));
//! ```

use std::collections::BTreeMap;

use countersign_ledger::roster::{GenesisPayload, MemberPayload};
use countersign_ledger::{Entry, EntryId, Hash, Header, Kind, LogId, NetworkId, Role, SecretKey};
use serde::Serialize;

use crate::accept::{Ledger, Rejection, Verdict};
use crate::log::Standing;
use crate::payload::{Payload, ReportCreate, SectionWrite};
use crate::view::{EntryStatus, ReportView};

/// The people (and the model) of the fixture, by short name: `(name, role, admin)`.
pub const PEOPLE: &[(&str, Role, bool)] = &[
    ("ada", Role::Attending, true),
    ("rex", Role::Resident, false),
    ("cara", Role::Cardiologist, false),
    ("rad", Role::Radiologist, false),
    ("bob", Role::Attending, false),
    ("ai", Role::AiModel, false),
];

/// A department whose members sign entries into one [`Ledger`].
#[derive(Debug)]
pub struct Department {
    pub ledger: Ledger,
    keys: BTreeMap<&'static str, SecretKey>,
    /// The timestamp of the next entry (milliseconds); each entry moves it on 10 ms.
    pub clock: u64,
    /// Every entry stored, with its payload, in the order it was accepted.
    pub stored: Vec<(Entry, Vec<u8>)>,
}

impl Default for Department {
    fn default() -> Self {
        Department::new()
    }
}

impl Department {
    /// Founded by `ada`, who admits everyone else in [`PEOPLE`].
    pub fn new() -> Department {
        let keys: BTreeMap<&'static str, SecretKey> = PEOPLE
            .iter()
            .enumerate()
            .map(|(i, (name, _, _))| (*name, SecretKey::from_seed(&[i as u8 + 1; 32])))
            .collect();
        let mut dept = Department {
            ledger: Ledger::default(),
            keys,
            // 2023-11-14: a realistic clock, with room to date entries back.
            clock: 1_700_000_000_000,
            stored: Vec::new(),
        };
        let genesis = Payload::to_bytes(&GenesisPayload {
            name: "Radiology".into(),
            founder: dept.member("ada"),
            policy: None,
        });
        let h = Header::new(
            Hash::ZERO,
            Hash::ZERO,
            dept.public("ada"),
            1,
            dept.clock,
            Kind::NetworkGenesis,
            vec![],
            &genesis,
        );
        let entry = Entry::sign(h, dept.key("ada")).expect("the founder signs");
        dept.store(entry, genesis).expect("the genesis");
        for (name, _, _) in &PEOPLE[1..] {
            let member = dept.member(name);
            dept.roster_entry("ada", Kind::RosterMember, &member)
                .expect("an admission");
        }
        dept
    }

    pub fn key(&self, who: &str) -> &SecretKey {
        self.keys
            .get(who)
            .unwrap_or_else(|| panic!("no {who} in the fixture"))
    }

    pub fn public(&self, who: &str) -> countersign_ledger::PublicKey {
        self.key(who).public()
    }

    /// `who`'s admission as [`PEOPLE`] describes them.
    pub fn member(&self, who: &str) -> MemberPayload {
        let (_, role, admin) = PEOPLE
            .iter()
            .find(|(n, _, _)| *n == who)
            .copied()
            .unwrap_or_else(|| panic!("no {who} in the fixture"));
        MemberPayload::new(self.public(who), who, role, admin)
    }

    pub fn network(&self) -> NetworkId {
        self.ledger.network().expect("founded")
    }

    /// Signs an entry by `who` in `log` (`None`: a new report) on `parents` (the log's heads
    /// when `None`) at `who`'s next position, without judging it.
    pub fn sign(
        &mut self,
        who: &str,
        log: Option<LogId>,
        kind: Kind,
        payload: &[u8],
        parents: Option<Vec<EntryId>>,
    ) -> Entry {
        self.clock += 10;
        let author = self.public(who);
        let (log_field, heads, seq) = match log {
            None => (Hash::ZERO, vec![], 1),
            Some(l) => {
                let (heads, seq) = self.ledger.position_for(&l, &author).expect("a loaded log");
                (l, heads, seq)
            }
        };
        let h = Header::new(
            self.network(),
            log_field,
            author,
            seq,
            self.clock,
            kind,
            parents.unwrap_or(heads),
            payload,
        );
        Entry::sign(h, self.key(who)).expect("signs")
    }

    /// Passes an entry through the acceptance path and keeps it when it is stored.
    pub fn store(&mut self, entry: Entry, payload: Vec<u8>) -> Result<Verdict, Rejection> {
        let verdict = self.ledger.accept(&entry, Some(&payload), self.clock)?;
        if let Verdict::New(_) = verdict {
            self.stored.push((entry, payload));
        }
        Ok(verdict)
    }

    /// Signs and stores; `Ok` with the id only when the entry is accepted.
    pub fn append(
        &mut self,
        who: &str,
        log: Option<LogId>,
        kind: Kind,
        payload: &impl Serialize,
    ) -> Result<EntryId, Rejection> {
        let bytes = Payload::to_bytes(payload);
        let entry = self.sign(who, log, kind, &bytes, None);
        let id = entry.id();
        match self.store(entry, bytes)? {
            Verdict::New(Standing::Accepted) => Ok(id),
            Verdict::New(Standing::Refused(e)) => Err(Rejection::Report(e)),
            other => panic!("a fresh entry was {other:?}"),
        }
    }

    /// A roster entry by `who` on the roster's heads.
    pub fn roster_entry(
        &mut self,
        who: &str,
        kind: Kind,
        payload: &impl Serialize,
    ) -> Result<EntryId, Rejection> {
        let network = self.network();
        self.append(who, Some(network), kind, payload)
    }

    /// A new report on a built-in template, created by `who`.
    pub fn report(&mut self, who: &str, template: &str) -> LogId {
        let t = crate::template::template(template).expect("a built-in template");
        let create = ReportCreate {
            study: "1.2.840.99".into(),
            template: template.into(),
            template_hash: t.content_hash(),
            images: vec![],
        };
        self.append(who, None, Kind::ReportCreate, &create)
            .expect("report created")
    }

    /// A new version of a section.
    pub fn write_section(
        &mut self,
        who: &str,
        report: LogId,
        section: &str,
        text: &str,
    ) -> Result<EntryId, Rejection> {
        let w = SectionWrite {
            section: section.into(),
            text: text.into(),
            fields: BTreeMap::new(),
        };
        self.append(who, Some(report), Kind::SectionWrite, &w)
    }

    /// The report as it reads now.
    pub fn view(&mut self, report: LogId) -> ReportView {
        let roster = self.ledger.roster().clone();
        self.ledger
            .report(&report)
            .expect("a report")
            .project(&roster, |_| EntryStatus::Verified)
    }
}
