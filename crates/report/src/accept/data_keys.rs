//! A report's data key as the ledger holds it: given, checked against the one held, and used
//! to open a sealed payload before the rules read it.

use super::*;

impl Ledger {
    /// Gives the ledger a report's data key, so that its sealed payloads are opened before
    /// the rules read them. A second, different key for a log is refused
    /// (`data_key_conflict`): only the report's creator makes one. A log already loaded
    /// without its key (judged by its headers alone) is unloaded, to be loaded again — now
    /// readable — by the caller; returns whether it was.
    pub fn add_key(&mut self, log: LogId, key: DataKey) -> Result<bool, Rejection> {
        if let Some(held) = self.keys.get(&log) {
            if *held != key {
                return Err(ReportRuleError::DataKeyConflict { log }.into());
            }
            return Ok(false);
        }
        let reload = self
            .reports
            .get(&log)
            .is_some_and(|r| r.sealing() == Sealing::Sealed { readable: false });
        if reload {
            self.unload(&log);
        }
        self.keys.insert(log, key);
        Ok(reload)
    }

    /// The data key of a report log, when this home holds it (and the log is loaded).
    pub fn key(&self, log: &LogId) -> Option<&DataKey> {
        self.keys.get(log)
    }

    /// Forgets a report's data key (its erasure destroyed it).
    pub fn forget_key(&mut self, log: &LogId) {
        self.keys.remove(log);
    }

    /// A report-log payload as the rules read it: parsed, and opened first when sealed;
    /// `None` when it is sealed under a key this home does not hold (the entry is then judged
    /// by its header alone, like an erased one). A payload sealed where it must be in clear,
    /// or in clear where it must be sealed, is refused: otherwise a member could write clear
    /// text that no erasure shreds.
    pub(super) fn open_report_payload(
        &self,
        entry: &Entry,
        bytes: &[u8],
    ) -> Result<Option<Payload>, Rejection> {
        let h = entry.header();
        let log = entry.log_id();
        let sealed = seal::is_sealed(bytes);
        let log_sealed = match h.kind {
            Kind::ReportCreate => Some(sealed),
            _ => match self.reports.get(&log).map(ReportLog::sealing) {
                Some(Sealing::Clear) => Some(false),
                Some(Sealing::Sealed { .. }) => Some(true),
                Some(Sealing::Unknown) | None => None,
            },
        };
        // An erased report refuses every entry but erasure and restriction by its headers, and
        // its key is gone: whether a payload is sealed says nothing more there. Only an
        // erasure placed and accepted counts — never one merely noted for a batch (see
        // [`Ledger::note_erasure`]): a noted erasure that never stands would otherwise let
        // clear text into a sealed report on the homes that saw it, and not on the others.
        let erased = self
            .reports
            .get(&log)
            .is_some_and(|r| r.erasure().is_some());
        let log_sealed = log_sealed.filter(|_| !erased);
        let must_seal = seal::kind_is_sealed(h.kind);
        // A network whose genesis requires sealed reports takes no report created in clear.
        if h.kind == Kind::ReportCreate && !sealed && self.roster().policy().sealed_reports {
            return Err(ReportRuleError::PayloadNotSealed { kind: h.kind }.into());
        }
        if sealed && !must_seal {
            return Err(ReportRuleError::PayloadWronglySealed { kind: h.kind }.into());
        }
        match (log_sealed, sealed) {
            (Some(true), false) if must_seal => {
                return Err(ReportRuleError::PayloadNotSealed { kind: h.kind }.into())
            }
            (Some(false), true) => {
                return Err(ReportRuleError::PayloadWronglySealed { kind: h.kind }.into())
            }
            _ => {}
        }
        if !sealed {
            return Ok(Some(
                Payload::parse(h.kind, bytes).map_err(ReportRuleError::from)?,
            ));
        }
        // The one thing a home without the key can judge of an envelope, judged on every home
        // alike (with the key, opening would refuse the same bytes, as `seal_broken`).
        seal::check_sealed_len(bytes).map_err(|e| ReportRuleError::SealMalformed {
            kind: h.kind,
            len: e.len,
        })?;
        let Some(key) = self.keys.get(&log) else {
            return Ok(None);
        };
        // A create is bound to its own author and timestamp (its id is not known when sealed).
        let bound = if h.kind == Kind::ReportCreate {
            seal::create_binding(&h.author, h.timestamp_ms)
        } else {
            log
        };
        let plain = seal::open(key, h.kind, Some(&bound), bytes)
            .map_err(|_| ReportRuleError::SealBroken { kind: h.kind })?;
        Ok(Some(
            Payload::parse(h.kind, &plain).map_err(ReportRuleError::from)?,
        ))
    }

    /// How a report whose `report.create` payload is `payload` is sealed here.
    pub(super) fn sealing_of(&self, log: &LogId, payload: Option<&[u8]>) -> Sealing {
        match payload {
            None => Sealing::Unknown,
            Some(p) if seal::is_sealed(p) => Sealing::Sealed {
                readable: self.keys.contains_key(log),
            },
            Some(_) => Sealing::Clear,
        }
    }
}
