//! The report as a FHIR R4 Bundle (type `collection`): a DiagnosticReport, an Observation per
//! written section (structured fields as components), an Observation per critical result, the
//! Patient, the ImagingStudy, the department Organization, a Practitioner per person and a
//! Device per AI model — and a Provenance per signed entry, whose agent is the Practitioner or
//! the Device, on behalf of the department, with the entry's ed25519 signature. In a conflict
//! (status `unknown`), each version signed off of a section the sign-offs disagree on is an
//! Observation of its own, a member of the section's, and the conclusion gives every one; an
//! extension on a Provenance says how its entry stands when that is not simply verified
//! (refused and why, a sign-off superseded or in conflict).

use std::collections::BTreeMap;

use base64::Engine;
use countersign_ledger::roster::AiModelInfo;
use countersign_ledger::{EntryId, Kind, PublicKey};
use countersign_report::template::FieldKind;
use countersign_report::{Author, EntryStatus, ReportState, ReportView, SectionView, VersionView};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::document::{
    conflict_line, conflicting, current_version, document, in_force, signed_off_by, status_word,
};
use crate::time::date_time;
use crate::ExportInput;

/// A UUID (version 5 layout) derived from `seed`, so the same report state exports the same
/// resource identities.
pub(crate) fn uuid(seed: &str) -> String {
    let d = Sha256::digest(seed.as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

struct Ids {
    report: EntryId,
}

impl Ids {
    fn id(&self, what: &str) -> String {
        uuid(&format!("{}/{what}", self.report))
    }
    fn reference(&self, what: &str) -> Value {
        json!({ "reference": format!("urn:uuid:{}", self.id(what)) })
    }
}

fn entry(ids: &Ids, what: &str, resource: Value) -> Value {
    let mut resource = resource;
    resource["id"] = Value::String(ids.id(what));
    json!({ "fullUrl": format!("urn:uuid:{}", ids.id(what)), "resource": resource })
}

fn agent_key(a: &Author) -> String {
    match a.ai_model {
        Some(_) => format!("device/{}", a.key),
        None => format!("practitioner/{}", a.key),
    }
}

pub(crate) fn key_identifier(key: &PublicKey) -> Value {
    json!({ "system": "urn:countersign:key", "value": key.to_string() })
}

fn report_status(s: ReportState) -> &'static str {
    match s {
        ReportState::Draft => "partial",
        ReportState::Preliminary => "preliminary",
        ReportState::Final => "final",
        ReportState::Amended => "appended",
        // Two sign-offs in force: which one holds is not known until an attending resolves it.
        ReportState::Conflict => "unknown",
        ReportState::Refused => "entered-in-error",
        // Signed off once, but no sign-off stands: what is there is unsigned.
        ReportState::Withdrawn => "partial",
        // The content is destroyed; what remains says who wrote what kind of entry when.
        ReportState::Erased => "entered-in-error",
    }
}

/// An ISO-ASTM E1762 signature type: author, co-author (a co-signature) or verification (the
/// sign-off).
pub(crate) fn signature_type(kind: Kind) -> (&'static str, &'static str) {
    match kind {
        Kind::SectionCosign => ("1.2.840.10065.1.12.1.2", "Coauthor's Signature"),
        Kind::ReportStatus => ("1.2.840.10065.1.12.1.5", "Verification Signature"),
        Kind::AiReview => ("1.2.840.10065.1.12.1.6", "Validation Signature"),
        // Receipt of an AI result delivered as DICOM SR: recorded, not authored.
        Kind::AiReceived => (
            "1.2.840.10065.1.12.1.4",
            "Transcriptionist/Recorder Signature",
        ),
        _ => ("1.2.840.10065.1.12.1.1", "Author's Signature"),
    }
}

pub(crate) fn participant(kind: Kind) -> (&'static str, &'static str) {
    match kind {
        Kind::SectionCosign | Kind::AiReview => ("verifier", "Verifier"),
        Kind::ReportStatus => ("attester", "Attester"),
        Kind::AiReceived => ("enterer", "Enterer"),
        _ => ("author", "Author"),
    }
}

/// A model member as a Device: its key (and regulatory id), vendor, model name and version as
/// the roster gives them.
pub(crate) fn model_device(key: &PublicKey, m: &AiModelInfo) -> Value {
    let mut identifier = vec![key_identifier(key)];
    if let Some(r) = &m.regulatory_id {
        identifier.push(json!({ "system": "urn:countersign:regulatory-id", "value": r }));
    }
    json!({
        "resourceType": "Device",
        "identifier": identifier,
        "manufacturer": m.vendor,
        "deviceName": [{ "name": m.model, "type": "model-name" }],
        "version": [{ "value": m.version }],
    })
}

/// A person as a Practitioner: their key, name as the roster has it (and, `old`, the name they
/// signed under and any other the roster gave the key), and role.
pub(crate) fn practitioner(a: &Author) -> Value {
    let mut names = vec![json!({ "text": a.name })];
    for old in a.name_then.iter().chain(&a.formerly) {
        names.push(json!({ "text": old, "use": "old" }));
    }
    json!({
        "resourceType": "Practitioner",
        "identifier": [key_identifier(&a.key)],
        "name": names,
        "qualification": [{ "code": { "text": a.role.map_or("not on the roster".to_string(), |r| r.to_string()) } }],
    })
}

/// The department: its network (genesis id) and name.
pub(crate) fn organization(network: &EntryId, name: &str) -> Value {
    json!({
        "resourceType": "Organization",
        "identifier": [{ "system": "urn:countersign:network", "value": network.to_hex() }],
        "name": name,
    })
}

/// A Provenance agent of participant type `code` (R4's provenance-participant-type), on
/// behalf of the department.
pub(crate) fn provenance_agent(code: &str, display: &str, who: &Value, org: &Value) -> Value {
    json!({
        "type": { "coding": [participant_coding(code, display)] },
        "who": who,
        "onBehalfOf": org,
    })
}

pub(crate) fn participant_coding(code: &str, display: &str) -> Value {
    json!({
        "system": "http://terminology.hl7.org/CodeSystem/provenance-participant-type",
        "code": code,
        "display": display
    })
}

/// An entry's ed25519 signature as a Provenance signature (ISO-ASTM E1762 type from its kind),
/// signed by `who`.
pub(crate) fn signature(kind: Kind, time_ms: u64, who: &Value, sig: &[u8; 64]) -> Value {
    let (code, display) = signature_type(kind);
    json!({
        "type": [{ "system": "urn:iso-astm:E1762-95:2013", "code": code, "display": display }],
        "when": date_time(time_ms),
        "who": who,
        "sigFormat": "application/octet-stream",
        "data": base64::engine::general_purpose::STANDARD.encode(sig),
    })
}

/// The structured fields of one version of a section as Observation components.
fn field_component(s: &SectionView, values: &BTreeMap<String, String>) -> Vec<Value> {
    s.fields
        .iter()
        .filter_map(|f| {
            let value = values.get(&f.def.name)?;
            let mut c = json!({
                "code": {
                    "coding": [{ "system": "urn:countersign:field", "code": f.def.name, "display": f.def.label }],
                    "text": f.def.label
                }
            });
            match &f.def.kind {
                FieldKind::Number { unit, .. } => {
                    // A JSON number here is an f64: a value it cannot hold exactly (more
                    // significant digits than 15-17, which a Number field accepts) would be
                    // rounded, so it is written as the signed string with its unit instead.
                    let number = value
                        .parse::<f64>()
                        .ok()
                        .filter(|n| crate::sr::exact(&n.to_string()) == crate::sr::exact(value));
                    match number {
                        Some(number) => {
                            let mut q = json!({ "value": number });
                            if let Some(u) = unit {
                                q["unit"] = json!(u);
                                q["system"] = json!("http://unitsofmeasure.org");
                                q["code"] = json!(u);
                            }
                            c["valueQuantity"] = q;
                        }
                        None => c["valueString"] = json!(f.def.display(value)),
                    }
                }
                FieldKind::Date => c["valueDateTime"] = json!(value),
                FieldKind::Text | FieldKind::Pick { .. } => c["valueString"] = json!(value),
            }
            Some(c)
        })
        .collect()
}

/// An Observation of one version of a section: its text, fields, author and co-signers.
fn version_observation(
    ids: &Ids,
    s: &SectionView,
    v: &VersionView,
    status: &str,
    patient: &Value,
) -> Value {
    let mut o = json!({
        "resourceType": "Observation",
        "status": status,
        "code": {
            "coding": [{ "system": "urn:countersign:section", "code": s.name, "display": s.title }],
            "text": s.title
        },
        "subject": patient,
        "issued": date_time(v.time_ms),
        "performer": std::iter::once(&v.author)
            .chain(v.cosigns.iter().map(|c| &c.author))
            .map(|a| ids.reference(&agent_key(a)))
            .collect::<Vec<_>>(),
    });
    if let Some(t) = v.text.as_ref().filter(|t| !t.trim().is_empty()) {
        o["valueString"] = json!(t);
    }
    let components = field_component(s, &v.fields);
    if !components.is_empty() {
        o["component"] = Value::Array(components);
    }
    o
}

/// The Observation a section's entry (a write or a co-signature) counts toward: a conflicting
/// version's own, else the section's.
fn section_resource(v: &ReportView, section: &str, entry: &countersign_ledger::EntryId) -> String {
    let version = v
        .sections
        .iter()
        .filter(|s| s.name == section)
        .flat_map(|s| {
            s.versions
                .iter()
                .filter(|x| s.conflicting_versions.contains(&x.entry))
        })
        .find(|x| x.entry == *entry || x.cosigns.iter().any(|c| c.entry == *entry));
    match version {
        Some(x) => format!("section/{section}/{}", x.entry),
        None => format!("section/{section}"),
    }
}

/// The report's conclusion: the impression; in a conflict, every impression signed off, each
/// with who signed it off.
fn conclusion(v: &ReportView) -> Option<String> {
    let impression = v.sections.iter().find(|s| s.name == "impression");
    let versions = impression.map(|s| conflicting(v, s)).unwrap_or_default();
    if !versions.is_empty() {
        let mut parts = vec![conflict_line(v)];
        for (version, by) in versions {
            parts.push(format!(
                "Impression as signed off by {}: {}",
                signed_off_by(&by),
                version.text.as_deref().unwrap_or("(text erased)")
            ));
        }
        return Some(parts.join("\n\n"));
    }
    let text = impression.and_then(|s| s.text.clone());
    match (v.status, text) {
        (ReportState::Conflict, Some(t)) => Some(format!("{}\n\n{t}", conflict_line(v))),
        (ReportState::Conflict, None) => Some(conflict_line(v)),
        (_, t) => t,
    }
}

/// The report as a FHIR R4 Bundle, pretty-printed JSON.
pub fn render(input: &ExportInput) -> Vec<u8> {
    let v = &input.view;
    let ids = Ids { report: v.report };
    let mut entries: Vec<Value> = Vec::new();
    let org = ids.reference("organization");
    let patient = ids.reference("patient");
    entries.push(entry(
        &ids,
        "organization",
        organization(&input.network, &input.network_name),
    ));
    let mut p = json!({ "resourceType": "Patient" });
    if let Some(id) = &input.study.patient_id {
        p["identifier"] = json!([{ "value": id }]);
    }
    if let Some(n) = &input.study.patient_name {
        p["name"] = json!([{ "text": n.replace('^', " ").trim() }]);
    }
    entries.push(entry(&ids, "patient", p));

    // Every person and model that signed anything, once.
    let mut agents: BTreeMap<String, &Author> = BTreeMap::new();
    for item in &v.provenance {
        agents.insert(agent_key(&item.author), &item.author);
    }
    for (key, a) in &agents {
        let resource = match &a.ai_model {
            Some(m) => model_device(&a.key, m),
            None => practitioner(a),
        };
        entries.push(entry(&ids, key, resource));
    }

    let mut study = json!({
        "resourceType": "ImagingStudy",
        "status": "available",
        "subject": patient,
        "identifier": [{ "system": "urn:dicom:uid", "value": format!("urn:oid:{}", input.study.uid) }],
    });
    let mut series: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
    for i in &input.images {
        series.entry(&i.series_uid).or_default().push(json!({
            "uid": i.sop_instance_uid,
            "sopClass": { "system": "urn:ietf:rfc:3986", "code": format!("urn:oid:{}", i.sop_class_uid) },
        }));
    }
    if !series.is_empty() {
        let modality = input.study.modality.clone().unwrap_or_else(|| "OT".into());
        study["series"] = series
            .into_iter()
            .map(|(uid, instances)| json!({
                "uid": uid,
                "modality": { "system": "http://dicom.nema.org/resources/ontology/DCM", "code": modality },
                "instance": instances,
            }))
            .collect();
    }
    entries.push(entry(&ids, "imaging-study", study));

    let issued = date_time(v.signoff.as_ref().map_or(input.exported_ms, |s| s.time_ms));
    let mut results = Vec::new();
    let status = if v.signoff.is_some() {
        "final"
    } else {
        "preliminary"
    };
    for s in &v.sections {
        let what = format!("section/{}", s.name);
        let versions = conflicting(v, s);
        if !versions.is_empty() {
            // No one version is the section's: one Observation per version signed off, each
            // with who signed it off, grouped under the section's.
            let mut members = Vec::new();
            let mut issued = 0;
            for (version, by) in &versions {
                let version_what = format!("section/{}/{}", s.name, version.entry);
                let mut o = version_observation(&ids, s, version, "preliminary", &patient);
                o["note"] = json!([{ "text": format!("As signed off by {}; in conflict with the other sign-offs in force", signed_off_by(by)) }]);
                issued = issued.max(version.time_ms);
                members.push(ids.reference(&version_what));
                entries.push(entry(&ids, &version_what, o));
            }
            let o = json!({
                "resourceType": "Observation",
                "status": "preliminary",
                "code": {
                    "coding": [{ "system": "urn:countersign:section", "code": s.name, "display": s.title }],
                    "text": s.title
                },
                "subject": patient,
                "issued": date_time(issued),
                "dataAbsentReason": { "text": "Two sign-offs disagree on this section: each version signed off is a member" },
                "hasMember": members,
            });
            results.push(ids.reference(&what));
            entries.push(entry(&ids, &what, o));
            continue;
        }
        let Some(current) = current_version(s) else {
            continue;
        };
        results.push(ids.reference(&what));
        entries.push(entry(
            &ids,
            &what,
            version_observation(&ids, s, current, status, &patient),
        ));
    }
    for c in &v.critical {
        let what = format!("critical/{}", c.entry);
        results.push(ids.reference(&what));
        entries.push(entry(
            &ids,
            &what,
            json!({
                "resourceType": "Observation",
                "status": "final",
                "code": { "text": "Critical result" },
                "subject": patient,
                "issued": date_time(c.time_ms),
                "performer": [ids.reference(&agent_key(&c.author))],
                "interpretation": [{ "coding": [{
                    "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
                    "code": "AA",
                    "display": "Critical abnormal"
                }] }],
                "valueString": c.critical.finding,
                "note": [{ "text": crate::document::critical_line(c) }],
            }),
        ));
    }

    let text = crate::text::render(&document(input));
    let mut report = json!({
        "resourceType": "DiagnosticReport",
        "identifier": [{ "system": "urn:countersign:report", "value": v.report.to_hex() }],
        "status": report_status(v.status),
        "code": { "coding": [{ "system": "http://loinc.org", "code": "18748-4", "display": "Diagnostic imaging study" }], "text": v.template_title },
        "subject": patient,
        "imagingStudy": [ids.reference("imaging-study")],
        "issued": issued,
        "performer": [org.clone()],
        "result": results,
        "presentedForm": [{
            "contentType": "text/plain; charset=utf-8",
            "language": "en",
            "title": format!("{} report", v.template_title),
            "data": base64::engine::general_purpose::STANDARD.encode(text.as_bytes()),
        }],
    });
    if let Some(s) = &v.signoff {
        report["resultsInterpreter"] = json!([ids.reference(&agent_key(&s.author))]);
    }
    if let Some(date) = input.study.study_date.as_deref().filter(|d| d.len() == 8) {
        report["effectiveDateTime"] =
            json!(format!("{}-{}-{}", &date[..4], &date[4..6], &date[6..]));
    }
    if let Some(c) = conclusion(v) {
        report["conclusion"] = json!(c);
    }
    entries.push(entry(&ids, "report", report));

    let force = in_force(v);
    for item in &v.provenance {
        let refused = matches!(item.status, EntryStatus::Refused { .. });
        let mut targets = match &item.section {
            // A refused entry counts toward nothing but the report's record.
            Some(s)
                if !refused
                    && v.sections
                        .iter()
                        .any(|x| &x.name == s && !x.versions.is_empty()) =>
            {
                vec![ids.reference(&section_resource(v, s, &item.entry))]
            }
            _ => vec![ids.reference("report")],
        };
        let signoff = v.signoffs.iter().find(|s| s.entry == item.entry);
        // In a conflict, a sign-off also attests the versions it covers.
        if let Some(s) = signoff.filter(|s| s.in_force && force.len() > 1) {
            for (section, version) in &s.sections {
                if v.sections
                    .iter()
                    .any(|x| &x.name == section && x.conflicting_versions.contains(version))
                {
                    targets.push(ids.reference(&format!("section/{section}/{version}")));
                }
            }
        }
        let who = ids.reference(&agent_key(&item.author));
        let (ptype, pdisplay) = participant(item.kind);
        let mut prov = json!({
            "resourceType": "Provenance",
            "target": targets,
            "recorded": date_time(item.time_ms),
            "policy": ["urn:countersign:entry:v1"],
            "activity": { "text": item.kind.name() },
            "agent": [provenance_agent(ptype, pdisplay, &who, &org)],
            "entity": [{
                "role": "source",
                "what": { "identifier": { "system": "urn:countersign:entry", "value": item.entry.to_hex() } }
            }],
        });
        // How the entry stands, for a reader of the bundle: only verified entries are the
        // report's; a sign-off says whether it is in force.
        let mut standing = Vec::new();
        if item.status != EntryStatus::Verified {
            standing.push(status_word(&item.status, input.view.erasure.as_ref()));
        }
        if let EntryStatus::Refused { reason, .. } = &item.status {
            standing.push(format!("{reason}; counts for nothing in the report"));
        }
        match signoff {
            Some(s) if !s.in_force => standing.push("sign-off superseded".into()),
            Some(_) if force.len() > 1 => {
                standing.push("sign-off in force, in conflict with another".into())
            }
            _ => {}
        }
        if !standing.is_empty() {
            prov["extension"] = json!([{
                "url": "urn:countersign:entry-standing",
                "valueString": standing.join("; "),
            }]);
        }
        if let Some(sig) = input.signatures.get(&item.entry) {
            prov["signature"] = json!([signature(item.kind, item.time_ms, &who, sig)]);
        }
        entries.push(entry(&ids, &format!("provenance/{}", item.entry), prov));
    }

    let bundle = json!({
        "resourceType": "Bundle",
        "id": ids.id("bundle"),
        "identifier": { "system": "urn:countersign:export", "value": uuid(&format!("{}/{}", v.report, input.exported_ms)) },
        "type": "collection",
        "timestamp": date_time(input.exported_ms),
        "entry": entries,
    });
    let mut out = serde_json::to_vec_pretty(&bundle).expect("JSON values always serialise");
    out.push(b'\n');
    out
}
