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

use countersign_ledger::roster::{Frontier, GenesisPayload, MemberPayload, RotatePayload};
use countersign_ledger::rotation;
use countersign_ledger::{Entry, EntryId, Hash, Header, Kind, LogId, NetworkId, Role, SecretKey};
use serde::Serialize;

use crate::accept::{Ledger, Rejection, Verdict};
use crate::log::Standing;
use crate::payload::{Payload, ReportCreate, SectionWrite};
use crate::view::{EntryStatus, ReportView};

/// The people (and the model) of the fixture: `(short name, display name, role, admin)`.
pub const PEOPLE: &[(&str, &str, Role, bool)] = &[
    ("ada", "Dr Ada Attending", Role::Attending, true),
    ("rex", "Dr Rhea Resident", Role::Resident, false),
    ("cara", "Dr Carl Cardio", Role::Cardiologist, false),
    ("rad", "Dr Rad Radiologist", Role::Radiologist, false),
    ("bob", "Dr Bob Attending", Role::Attending, false),
    ("ai", "SoftTissue", Role::AiModel, false),
];

/// What the fixture's AI member is.
pub fn ai_model() -> countersign_ledger::roster::AiModelInfo {
    countersign_ledger::roster::AiModelInfo {
        vendor: "Countersign Labs".into(),
        model: "SoftTissue".into(),
        version: "2.1".into(),
        regulatory_id: Some("CE 0123".into()),
    }
}

/// A department whose members sign entries into one [`Ledger`].
#[derive(Debug)]
pub struct Department {
    pub ledger: Ledger,
    keys: BTreeMap<&'static str, SecretKey>,
    /// Keys rotated away, as `"<who>@<n>"` (key `n` of that person, from 1).
    retired: BTreeMap<String, SecretKey>,
    /// The timestamp of the last entry signed (milliseconds since the epoch).
    pub clock: u64,
    /// How far the clock moves on for each entry signed.
    pub step_ms: u64,
    /// Every entry stored, with its payload, in the order it was accepted.
    pub stored: Vec<(Entry, Vec<u8>)>,
}

impl Default for Department {
    fn default() -> Self {
        Department::new()
    }
}

impl Department {
    /// Founded by `ada`, who admits everyone else in [`PEOPLE`]; the clock starts at
    /// 2023-11-14 (room to date entries back) and moves on 10 ms per entry.
    pub fn new() -> Department {
        Department::starting_at(1_700_000_000_000, 10)
    }

    /// [`Department::new`] with its own clock.
    pub fn starting_at(clock: u64, step_ms: u64) -> Department {
        Department::founded(clock, step_ms, None)
    }

    /// [`Department::new`] under a policy of its own (who may create reports).
    pub fn with_policy(policy: countersign_ledger::roster::Policy) -> Department {
        Department::founded(1_700_000_000_000, 10, Some(policy))
    }

    fn founded(
        clock: u64,
        step_ms: u64,
        policy: Option<countersign_ledger::roster::Policy>,
    ) -> Department {
        let keys: BTreeMap<&'static str, SecretKey> = PEOPLE
            .iter()
            .enumerate()
            .map(|(i, (name, ..))| (*name, SecretKey::from_seed(&[i as u8 + 1; 32])))
            .collect();
        let mut dept = Department {
            ledger: Ledger::default(),
            keys,
            retired: BTreeMap::new(),
            clock,
            step_ms,
            stored: Vec::new(),
        };
        let genesis = Payload::to_bytes(&GenesisPayload {
            name: "Radiology, St Elsewhere".into(),
            founder: dept.member("ada"),
            policy,
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
        for (name, ..) in &PEOPLE[1..] {
            let member = dept.member(name);
            dept.roster_entry("ada", Kind::RosterMember, &member)
                .expect("an admission");
        }
        dept
    }

    /// `who`'s key now, or a key rotated away (`"bob@1"`: Bob's first key).
    pub fn key(&self, who: &str) -> &SecretKey {
        self.keys
            .get(who)
            .or_else(|| self.retired.get(who))
            .unwrap_or_else(|| panic!("no {who} in the fixture"))
    }

    pub fn public(&self, who: &str) -> countersign_ledger::PublicKey {
        self.key(who).public()
    }

    /// `who`'s admission as [`PEOPLE`] describes them.
    pub fn member(&self, who: &str) -> MemberPayload {
        let (_, name, role, admin) = PEOPLE
            .iter()
            .find(|(n, ..)| *n == who)
            .copied()
            .unwrap_or_else(|| panic!("no {who} in the fixture"));
        let mut m = MemberPayload::new(self.public(who), name, role, admin);
        if role == Role::AiModel {
            m.ai_model = Some(ai_model());
        }
        m
    }

    /// `key`'s last entry in every report stored: the frontier an admin holding all of it
    /// would name.
    pub fn frontier_of(&self, key: &countersign_ledger::PublicKey) -> Frontier {
        let network = self.network();
        self.stored
            .iter()
            .filter(|(e, _)| e.header().author == *key && e.log_id() != network)
            .map(|(e, _)| (e.log_id(), e.id()))
            .collect()
    }

    /// `admin` signs a rotation of `who`'s key to a new one, naming `frontier`: with the old
    /// key's consent and the new key's proof of possession when `consent`, else as a lost
    /// key's replacement. If the rotation stands, `who` signs with the new key from then on
    /// and the old one stays at hand as `"<who>@<n>"` (a thief's copy). The rotation's id, if
    /// it was stored (accepted or not; see the roster for its standing).
    pub fn rotate(
        &mut self,
        who: &'static str,
        admin: &str,
        consent: bool,
        frontier: Frontier,
    ) -> Result<EntryId, Rejection> {
        let network = self.network();
        let new = SecretKey::from_seed(&[0x40 + self.retired.len() as u8; 32]);
        let old = self.key(who);
        let payload = RotatePayload {
            old: old.public(),
            new: new.public(),
            consent: consent.then(|| rotation::consent(&network, old, &new.public())),
            possession: consent.then(|| rotation::possession(&network, &old.public(), &new)),
            reason: "new key".into(),
            frontier,
        };
        let bytes = Payload::to_bytes(&payload);
        let entry = self.sign(admin, Some(network), Kind::RosterRotate, &bytes, None);
        let id = entry.id();
        self.store(entry, bytes)?;
        if !matches!(self.ledger.roster().status(&id), Some(Ok(()))) {
            return Ok(id);
        }
        let n = 1 + self
            .retired
            .keys()
            .filter(|k| k.starts_with(&format!("{who}@")))
            .count();
        if let Some(old) = self.keys.insert(who, new) {
            self.retired.insert(format!("{who}@{n}"), old);
        }
        Ok(id)
    }

    /// The fixture's name for `key`: a person (`"bob"`) or a key rotated away (`"bob@1"`).
    pub fn name_of(&self, key: &countersign_ledger::PublicKey) -> Option<String> {
        self.keys
            .iter()
            .map(|(n, k)| (n.to_string(), k))
            .chain(self.retired.iter().map(|(n, k)| (n.clone(), k)))
            .find(|(_, k)| k.public() == *key)
            .map(|(n, _)| n)
    }

    /// The signature of every entry of `log` stored, by id (what exports carry).
    pub fn signatures(&self, log: LogId) -> BTreeMap<EntryId, [u8; 64]> {
        self.stored
            .iter()
            .filter(|(e, _)| e.log_id() == log)
            .map(|(e, _)| (e.id(), *e.signature()))
            .collect()
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
        self.clock += self.step_ms;
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
            Verdict::New(Standing::Refused(e)) => Err(Rejection::Report(*e)),
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

    /// `ada` changes `who`'s details to `role` (and, for the AI member, its model and version
    /// to `model`), naming the frontier of their entries so far: those keep the details they
    /// were signed under (a promotion, a model's upgrade).
    pub fn change_member(
        &mut self,
        who: &str,
        role: Role,
        model: Option<(&str, &str)>,
    ) -> Result<EntryId, Rejection> {
        let mut m = self.member(who);
        m.role = role;
        if let (Some(info), Some((model, version))) = (m.ai_model.as_mut(), model) {
            info.model = model.into();
            info.version = version.into();
        }
        m.frontier = self.frontier_of(&m.key);
        self.roster_entry("ada", Kind::RosterMember, &m)
    }

    /// A new report on a built-in template, created by `who`.
    pub fn report(&mut self, who: &str, template: &str) -> LogId {
        let t = crate::template::template(template).expect("a built-in template");
        self.report_on(who, t, "1.2.840.99", vec![])
    }

    /// A new report on `template` (built in, or published by [`Department::publish`]) about
    /// `study` and `images`.
    pub fn report_on(
        &mut self,
        who: &str,
        template: &crate::Template,
        study: &str,
        images: Vec<String>,
    ) -> LogId {
        let create = ReportCreate {
            study: study.into(),
            template: template.name.clone(),
            template_hash: template.content_hash(),
            images,
        };
        self.append(who, None, Kind::ReportCreate, &create)
            .expect("report created")
    }

    /// `ada` publishes a template to the roster.
    pub fn publish(&mut self, template: &crate::Template) -> EntryId {
        let p = crate::payload::TemplatePublish {
            template: template.clone(),
        };
        self.roster_entry("ada", Kind::TemplatePublish, &p)
            .expect("template published")
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
            macros: Vec::new(),
            links: Vec::new(),
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
