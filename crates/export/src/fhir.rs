//! The report as a FHIR R4 Bundle (type `collection`): a DiagnosticReport, an Observation per
//! written section (structured fields as components), an Observation per critical result, the
//! Patient, the ImagingStudy, the department Organization, a Practitioner per person and a
//! Device per AI model — and a Provenance per signed entry, whose agent is the Practitioner or
//! the Device, on behalf of the department, with the entry's ed25519 signature.

use std::collections::BTreeMap;

use base64::Engine;
use countersign_ledger::{EntryId, Kind, PublicKey};
use countersign_report::template::FieldKind;
use countersign_report::{Author, ReportState, SectionView};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::document::document;
use crate::time::date_time;
use crate::ExportInput;

/// A UUID (version 5 layout) derived from `seed`, so the same report state exports the same
/// resource identities.
fn uuid(seed: &str) -> String {
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

fn key_identifier(key: &PublicKey) -> Value {
    json!({ "system": "urn:countersign:key", "value": key.to_string() })
}

fn report_status(s: ReportState) -> &'static str {
    match s {
        ReportState::Draft => "partial",
        ReportState::Preliminary => "preliminary",
        ReportState::Final => "final",
        ReportState::Amended => "appended",
    }
}

/// An ISO-ASTM E1762 signature type: author, co-author (a co-signature) or verification (the
/// sign-off).
fn signature_type(kind: Kind) -> (&'static str, &'static str) {
    match kind {
        Kind::SectionCosign => ("1.2.840.10065.1.12.1.2", "Coauthor's Signature"),
        Kind::ReportStatus => ("1.2.840.10065.1.12.1.5", "Verification Signature"),
        Kind::AiReview => ("1.2.840.10065.1.12.1.6", "Validation Signature"),
        _ => ("1.2.840.10065.1.12.1.1", "Author's Signature"),
    }
}

fn participant(kind: Kind) -> (&'static str, &'static str) {
    match kind {
        Kind::SectionCosign | Kind::AiReview => ("verifier", "Verifier"),
        Kind::ReportStatus => ("attester", "Attester"),
        _ => ("author", "Author"),
    }
}

fn field_component(s: &SectionView) -> Vec<Value> {
    s.fields
        .iter()
        .filter_map(|f| {
            let value = f.value.as_ref()?;
            let mut c = json!({
                "code": {
                    "coding": [{ "system": "urn:countersign:field", "code": f.def.name, "display": f.def.label }],
                    "text": f.def.label
                }
            });
            match &f.def.kind {
                FieldKind::Number { unit, .. } => {
                    let number: f64 = value.parse().ok()?;
                    let mut q = json!({ "value": number });
                    if let Some(u) = unit {
                        q["unit"] = json!(u);
                        q["system"] = json!("http://unitsofmeasure.org");
                        q["code"] = json!(u);
                    }
                    c["valueQuantity"] = q;
                }
                FieldKind::Date => c["valueDateTime"] = json!(value),
                FieldKind::Text | FieldKind::Pick { .. } => c["valueString"] = json!(value),
            }
            Some(c)
        })
        .collect()
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
        json!({
            "resourceType": "Organization",
            "identifier": [{ "system": "urn:countersign:network", "value": input.network.to_hex() }],
            "name": input.network_name,
        }),
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
            Some(m) => {
                let mut identifier = vec![key_identifier(&a.key)];
                if let Some(r) = &m.regulatory_id {
                    identifier
                        .push(json!({ "system": "urn:countersign:regulatory-id", "value": r }));
                }
                json!({
                    "resourceType": "Device",
                    "identifier": identifier,
                    "manufacturer": m.vendor,
                    "deviceName": [{ "name": m.model, "type": "model-name" }],
                    "version": [{ "value": m.version }],
                })
            }
            None => json!({
                "resourceType": "Practitioner",
                "identifier": [key_identifier(&a.key)],
                "name": [{ "text": a.name }],
                "qualification": [{ "code": { "text": a.role.map_or("not on the roster".to_string(), |r| r.to_string()) } }],
            }),
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
    for s in &v.sections {
        let components = field_component(s);
        let Some(current) = s.versions.last() else {
            continue;
        };
        let what = format!("section/{}", s.name);
        let mut o = json!({
            "resourceType": "Observation",
            "status": if v.signoff.is_some() { "final" } else { "preliminary" },
            "code": {
                "coding": [{ "system": "urn:countersign:section", "code": s.name, "display": s.title }],
                "text": s.title
            },
            "subject": patient,
            "issued": date_time(current.time_ms),
            "performer": std::iter::once(&current.author)
                .chain(current.cosigns.iter().map(|c| &c.author))
                .map(|a| ids.reference(&agent_key(a)))
                .collect::<Vec<_>>(),
        });
        if let Some(t) = s.text.as_ref().filter(|t| !t.trim().is_empty()) {
            o["valueString"] = json!(t);
        }
        if !components.is_empty() {
            o["component"] = Value::Array(components);
        }
        results.push(ids.reference(&what));
        entries.push(entry(&ids, &what, o));
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
    if let Some(i) = v
        .sections
        .iter()
        .find(|s| s.name == "impression")
        .and_then(|s| s.text.clone())
    {
        report["conclusion"] = json!(i);
    }
    entries.push(entry(&ids, "report", report));

    for item in &v.provenance {
        let target = match &item.section {
            Some(s)
                if v.sections
                    .iter()
                    .any(|x| &x.name == s && !x.versions.is_empty()) =>
            {
                ids.reference(&format!("section/{s}"))
            }
            _ => ids.reference("report"),
        };
        let who = ids.reference(&agent_key(&item.author));
        let (ptype, pdisplay) = participant(item.kind);
        let mut prov = json!({
            "resourceType": "Provenance",
            "target": [target],
            "recorded": date_time(item.time_ms),
            "policy": ["urn:countersign:entry:v1"],
            "activity": { "text": item.kind.name() },
            "agent": [{
                "type": { "coding": [{
                    "system": "http://terminology.hl7.org/CodeSystem/provenance-participant-type",
                    "code": ptype,
                    "display": pdisplay
                }] },
                "who": who,
                "onBehalfOf": org,
            }],
            "entity": [{
                "role": "source",
                "what": { "identifier": { "system": "urn:countersign:entry", "value": item.entry.to_hex() } }
            }],
        });
        if let Some(sig) = input.signatures.get(&item.entry) {
            let (code, display) = signature_type(item.kind);
            prov["signature"] = json!([{
                "type": [{ "system": "urn:iso-astm:E1762-95:2013", "code": code, "display": display }],
                "when": date_time(item.time_ms),
                "who": who,
                "sigFormat": "application/octet-stream",
                "data": base64::engine::general_purpose::STANDARD.encode(sig),
            }]);
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
