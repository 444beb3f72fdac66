//! `ai.received`: an AI result that arrived as a DICOM Structured Report (a vendor's TID 1500
//! measurement report, as IHE AI Results delivers it), attested by the member whose node
//! received it.
//!
//! Why a kind of its own rather than `ai.result` with an origin: the entry's author is the
//! receiving person (or their gateway node), not the model. The roster decides who may write a
//! kind from the signed header alone (`ai.result`: only an AI-model key, so that a result is
//! the model's own signature); an attestation of receipt must be writable by people and never
//! by a model, and must never read as the device's signature. The review gate treats both the
//! same: each is an AI proposal that a human accepts, edits or rejects before sign-off.

use serde::{Deserialize, Serialize};

use super::AiResult;

/// At most this many measurements, and as many findings, in one attestation.
pub const MAX_RECEIVED_RESULTS: usize = 256;
/// At most this many referenced SOP instances per measurement or finding.
pub const MAX_RECEIVED_ITEM_REFERENCES: usize = 64;
/// At most this many referenced SOP instances in one attestation.
pub const MAX_RECEIVED_REFERENCES: usize = 1024;
/// The longest string kept from the SR, in characters.
pub const MAX_RECEIVED_STRING: usize = 1024;

/// A coded concept as the SR gave it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SrCode {
    pub value: String,
    pub scheme: String,
    pub meaning: String,
}

/// The device the SR names: its General Equipment module, and its device observer context
/// (TID 1004) when it has one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SrDevice {
    pub manufacturer: String,
    /// The model name: the equipment's Manufacturer's Model Name, else the device observer's.
    pub model: String,
    /// Software Versions, as listed.
    #[serde(default)]
    pub software_versions: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observer: Option<SrObserver>,
}

/// A device observer context: observer type DEVICE and what it says of the device.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SrObserver {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manufacturer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SrMeasurement {
    pub concept: SrCode,
    /// The Numeric Value as written (a decimal string).
    pub value: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub units: Option<SrCode>,
    /// SOP Instance UIDs of the images it was made on.
    #[serde(default)]
    pub references: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SrFinding {
    pub concept: SrCode,
    pub value: SrCode,
    #[serde(default)]
    pub references: Vec<String>,
}

/// `ai.received`: what the receiving node attests. It signs that a file with this SHA-256
/// arrived and said this; it never signs that the device's findings are right (a human review
/// does that, as for any AI result).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AiReceived {
    /// SHA-256 (hex) of the SR file as received.
    pub sr_sha256: String,
    pub sop_class: String,
    pub sop_instance: String,
    /// The SR's Study Instance UID: it must be the report's study.
    pub study: String,
    pub device: SrDevice,
    #[serde(default)]
    pub measurements: Vec<SrMeasurement>,
    #[serde(default)]
    pub findings: Vec<SrFinding>,
    /// Every SOP instance the SR references.
    #[serde(default)]
    pub references: Vec<String>,
    /// The section the result is proposed for, and its text (written from the SR by
    /// [`AiReceived::proposal`], so that accepting it puts the SR's content in the report).
    pub section: String,
    pub text: String,
}

fn bounded(what: &str, s: &str) -> Result<(), String> {
    if s.chars().count() > MAX_RECEIVED_STRING {
        return Err(format!(
            "{what} is longer than {MAX_RECEIVED_STRING} characters"
        ));
    }
    Ok(())
}

fn code_ok(what: &str, c: &SrCode) -> Result<(), String> {
    if c.meaning.trim().is_empty() {
        return Err(format!("{what} has no meaning"));
    }
    bounded(what, &c.value)?;
    bounded(what, &c.scheme)?;
    bounded(what, &c.meaning)
}

fn references_ok(references: &[String], max: usize) -> Result<(), String> {
    if references.len() > max {
        return Err(format!("{} references; at most {max}", references.len()));
    }
    references
        .iter()
        .try_for_each(|r| bounded("a reference", r))
}

impl AiReceived {
    pub(super) fn check(self) -> Result<Self, String> {
        super::non_empty("the proposed text", &self.text)?;
        super::non_empty("the device's model", &self.device.model)?;
        super::non_empty("the SR's study", &self.study)?;
        if self.sr_sha256.len() != 64 || !self.sr_sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!("{:?} is not a SHA-256", self.sr_sha256));
        }
        if self.measurements.is_empty() && self.findings.is_empty() {
            return Err("an AI result with no measurement and no finding".into());
        }
        if self.measurements.len() > MAX_RECEIVED_RESULTS
            || self.findings.len() > MAX_RECEIVED_RESULTS
        {
            return Err(format!(
                "{} measurements and {} findings; at most {MAX_RECEIVED_RESULTS} of each",
                self.measurements.len(),
                self.findings.len()
            ));
        }
        for s in [
            &self.sop_class,
            &self.sop_instance,
            &self.study,
            &self.device.manufacturer,
            &self.device.model,
        ] {
            bounded("a device or SR attribute", s)?;
        }
        if self.device.software_versions.len() > 16 {
            return Err("more than 16 software versions".into());
        }
        for m in &self.measurements {
            code_ok("a measurement's concept", &m.concept)?;
            bounded("a measured value", &m.value)?;
            if let Some(u) = &m.units {
                code_ok("a measurement's units", u)?;
            }
            references_ok(&m.references, MAX_RECEIVED_ITEM_REFERENCES)?;
        }
        for f in &self.findings {
            code_ok("a finding's concept", &f.concept)?;
            code_ok("a finding's value", &f.value)?;
            references_ok(&f.references, MAX_RECEIVED_ITEM_REFERENCES)?;
        }
        references_ok(&self.references, MAX_RECEIVED_REFERENCES)?;
        Ok(self)
    }

    /// The device's version, as its Software Versions list it ("unstated" when the SR gives
    /// none): what `ai stats` counts a result under, beside the model name.
    pub fn version(&self) -> String {
        if self.device.software_versions.is_empty() {
            "unstated".into()
        } else {
            self.device.software_versions.join(" / ")
        }
    }

    /// The device, in words: "Acme AI LungScan 2.1".
    pub fn device_words(&self) -> String {
        let d = &self.device;
        let mut words = Vec::new();
        if !d.manufacturer.is_empty() {
            words.push(d.manufacturer.as_str());
        }
        words.push(d.model.as_str());
        let version = self.version();
        format!("{} {version}", words.join(" "))
    }

    /// The provenance statement: "received as DICOM SR from `<device>` `<version>`, attested by
    /// `<who>`".
    pub fn statement(&self, attested_by: &str) -> String {
        format!(
            "received as DICOM SR from {}, attested by {attested_by}",
            self.device_words()
        )
    }

    /// The section text a received SR proposes: its measurements and findings, one sentence
    /// each, in the SR's order, within the 10 000 bytes an AI proposal may carry (those beyond
    /// are counted, and stay in the entry's measurements and findings).
    pub fn proposal(
        device: &str,
        measurements: &[SrMeasurement],
        findings: &[SrFinding],
    ) -> String {
        const BUDGET: usize = 9_000;
        let mut lines = Vec::new();
        for m in measurements {
            let units = m
                .units
                .as_ref()
                .map(|u| format!(" {}", u.value))
                .unwrap_or_default();
            lines.push(format!("{}: {}{units}.", m.concept.meaning, m.value));
        }
        for f in findings {
            lines.push(format!("{}: {}.", f.concept.meaning, f.value.meaning));
        }
        let mut text = format!("AI result received as DICOM SR from {device}.");
        let mut used = 0;
        for line in &lines {
            if text.len() + line.len() + 1 > BUDGET {
                break;
            }
            text.push(' ');
            text.push_str(line);
            used += 1;
        }
        if used < lines.len() {
            text.push_str(&format!(" ({} more in the SR.)", lines.len() - used));
        }
        text
    }

    /// The proposal as an [`AiResult`] (model and version the device's), so that everything
    /// that reads AI proposals — the review, sign-off's gate, `ai stats`, exports — reads a
    /// received one the same way. The measurements and findings are its outputs.
    pub fn as_result(&self) -> AiResult {
        let mut outputs = std::collections::BTreeMap::new();
        let mut put = |key: String, value: String| {
            let mut k = key.clone();
            let mut n = 1;
            while outputs.contains_key(&k) {
                n += 1;
                k = format!("{key} #{n}");
            }
            outputs.insert(k, value);
        };
        for m in &self.measurements {
            let units = m.units.as_ref().map(|u| format!(" {}", u.value));
            put(
                m.concept.meaning.clone(),
                format!("{}{}", m.value, units.unwrap_or_default()),
            );
        }
        for f in &self.findings {
            put(f.concept.meaning.clone(), f.value.meaning.clone());
        }
        let mut parameters = std::collections::BTreeMap::new();
        parameters.insert("origin".into(), "dicom-sr".into());
        parameters.insert("sr_sha256".into(), self.sr_sha256.clone());
        parameters.insert("sr_sop_instance".into(), self.sop_instance.clone());
        parameters.insert("manufacturer".into(), self.device.manufacturer.clone());
        AiResult {
            model: self.device.model.clone(),
            version: self.version(),
            // The SR names images by SOP Instance UID, not by the SHA-256 a report binds.
            inputs: Vec::new(),
            parameters,
            outputs,
            section: self.section.clone(),
            text: self.text.clone(),
        }
    }
}

/// An attestation of a TID 1500 SR from "Acme AI LungScan 2.1" about `study`.
#[cfg(test)]
pub(crate) fn example(study: &str) -> AiReceived {
    let code = |v: &str, m: &str| SrCode {
        value: v.into(),
        scheme: "SCT".into(),
        meaning: m.into(),
    };
    let measurements = vec![SrMeasurement {
        concept: code("118565006", "Volume"),
        value: "1234.5".into(),
        units: Some(code("mm3", "cubic millimeter")),
        references: vec!["2.25.42".into()],
    }];
    let findings = vec![SrFinding {
        concept: code("121071", "Finding"),
        value: code("27925004", "Nodule"),
        references: vec![],
    }];
    AiReceived {
        sr_sha256: "ab".repeat(32),
        sop_class: "1.2.840.10008.5.1.4.1.1.88.34".into(),
        sop_instance: "2.25.1".into(),
        study: study.into(),
        device: SrDevice {
            manufacturer: "Acme AI".into(),
            model: "LungScan".into(),
            software_versions: vec!["2.1".into()],
            serial: None,
            observer: None,
        },
        text: AiReceived::proposal("Acme AI LungScan 2.1", &measurements, &findings),
        measurements,
        findings,
        references: vec!["2.25.42".into()],
        section: "findings".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example() -> AiReceived {
        super::example("2.25.99")
    }

    #[test]
    fn the_proposal_and_statement_say_what_arrived_from_which_device() {
        let r = example().check().unwrap();
        assert_eq!(
            r.text,
            "AI result received as DICOM SR from Acme AI LungScan 2.1. Volume: 1234.5 mm3. \
             Finding: Nodule."
        );
        assert_eq!(
            r.statement("Dr Ada"),
            "received as DICOM SR from Acme AI LungScan 2.1, attested by Dr Ada"
        );
        let as_result = r.as_result();
        assert_eq!(
            (as_result.model.as_str(), as_result.version.as_str()),
            ("LungScan", "2.1")
        );
        assert_eq!(as_result.outputs["Volume"], "1234.5 mm3");
        assert_eq!(as_result.outputs["Finding"], "Nodule");
    }

    #[test]
    fn an_attestation_out_of_bounds_or_empty_is_not_a_payload() {
        let mut empty = example();
        empty.measurements.clear();
        empty.findings.clear();
        assert!(empty.check().is_err());
        let mut not_hash = example();
        not_hash.sr_sha256 = "x".into();
        assert!(not_hash.check().is_err());
        let mut many = example();
        many.measurements = vec![many.measurements[0].clone(); MAX_RECEIVED_RESULTS + 1];
        assert!(many.check().is_err());
        let mut refs = example();
        refs.measurements[0].references = vec!["1.2".into(); MAX_RECEIVED_ITEM_REFERENCES + 1];
        assert!(refs.check().is_err());
        let mut no_model = example();
        no_model.device.model = " ".into();
        assert!(no_model.check().is_err());
    }

    #[test]
    fn a_long_report_is_cut_within_the_proposal_limit_and_says_how_much_more() {
        let r = example();
        // Longer lines than a real report's, so that the budget runs out.
        let mut long = r.measurements[0].clone();
        long.concept.meaning = "Volume of the region of interest".repeat(4);
        let many = vec![long; 256];
        let text = AiReceived::proposal("Acme AI LungScan 2.1", &many, &[]);
        assert!(text.len() < 10_000, "{}", text.len());
        assert!(text.ends_with("more in the SR.)"), "{text}");
    }
}

/// Through the acceptance path: a person attests receipt, a model may not; the SR must be about
/// the report's study; unreviewed it blocks sign-off like a model's result; reviewed, `ai stats`
/// counts it under the device's model and version, and the view says where it came from.
#[cfg(test)]
mod rules {
    use std::collections::BTreeMap;

    use countersign_ledger::Kind;

    use crate::fixture::Department;
    use crate::payload::{AiReview, Decision, ReportStatus, Status};

    fn code<T>(r: Result<T, crate::accept::Rejection>) -> &'static str {
        r.map_or_else(|e| e.code(), |_| "accepted")
    }

    #[test]
    fn a_received_sr_is_attested_by_a_person_reviewed_and_counted_under_its_device() {
        let mut d = Department::new();
        let r = d.report("ada", "ct-chest");
        // The fixture's report is about study 1.2.840.99.
        let received = super::example("1.2.840.99");
        assert_eq!(
            code(d.append("ai", Some(r), Kind::AiReceived, &received)),
            "role_may_not_write"
        );
        assert_eq!(
            code(d.append("ada", Some(r), Kind::AiReceived, &super::example("2.25.5"))),
            "sr_wrong_study"
        );
        let id = d
            .append("rad", Some(r), Kind::AiReceived, &received)
            .unwrap();
        let mut sections = BTreeMap::new();
        for (name, text) in [
            ("technique", "CT."),
            ("findings", "Nodule."),
            ("impression", "Nodule."),
        ] {
            sections.insert(
                name.to_string(),
                d.write_section("ada", r, name, text).unwrap(),
            );
        }
        let final_with = |sections: &BTreeMap<String, _>| ReportStatus {
            status: Status::Final,
            sections: sections.clone(),
        };
        assert_eq!(
            code(d.append("ada", Some(r), Kind::ReportStatus, &final_with(&sections))),
            "unreviewed_ai"
        );
        let review = AiReview {
            result: id,
            decision: Decision::Accept,
            text: None,
            comment: None,
        };
        d.append("ada", Some(r), Kind::AiReview, &review).unwrap();
        let view = d.view(r);
        let ai = &view.ai[0];
        assert_eq!(
            ai.received.as_ref().unwrap().statement,
            "received as DICOM SR from Acme AI LungScan 2.1, attested by Dr Rad Radiologist"
        );
        assert_eq!(ai.author.name, "Dr Rad Radiologist");
        let stats = crate::oversight::ai_stats(&view.ai, &Default::default());
        let m = &stats.models[0];
        assert_eq!(
            (m.model.as_str(), m.version.as_str(), m.vendor.as_deref()),
            ("LungScan", "2.1", Some("Acme AI"))
        );
        assert_eq!((m.proposals, m.accepted), (1, 1));
        // Reviewed (the accepted text is written as the next version by the app), sign-off
        // passes the gate.
        sections.insert(
            "findings".into(),
            d.write_section("ada", r, "findings", &received.text)
                .unwrap(),
        );
        assert_eq!(
            code(d.append("ada", Some(r), Kind::ReportStatus, &final_with(&sections))),
            "accepted"
        );
    }
}
