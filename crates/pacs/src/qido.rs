//! Decoding QIDO-RS study search results: the DICOM JSON model (PS3.18 F.2), an array of
//! objects keyed by tag (`"0020000D": {"vr": "UI", "Value": ["1.2…"]}`).
//!
//! Only the attributes a worklist shows are read; the rest is ignored. The body is read into
//! memory only up to [`MAX_JSON_BYTES`] (a page of studies is small), and at most
//! [`MAX_RESULTS`] studies are taken from it.

use serde_json::Value;

use crate::StudyMatch;

/// The most bytes of a QIDO-RS response this client reads.
pub const MAX_JSON_BYTES: u64 = 16 * 1024 * 1024;
/// The most studies one search returns.
pub const MAX_RESULTS: usize = 10_000;
/// The longest attribute value kept (a longer one is cut: LO is 64 characters, PN 324).
const MAX_VALUE_CHARS: usize = 1024;

/// Why a QIDO-RS answer is not one.
#[derive(Debug, thiserror::Error)]
pub enum QidoError {
    #[error("the answer is not JSON: {0}")]
    NotJson(String),
    #[error("the answer is not an array of DICOM JSON objects: {0}")]
    Shape(String),
    #[error("the answer holds more than {MAX_RESULTS} studies")]
    TooMany,
}

/// The studies in a QIDO-RS `/studies` response body. An empty body (some archives answer
/// 204 with none) is no study.
pub fn decode_studies(body: &[u8]) -> Result<Vec<StudyMatch>, QidoError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Vec::new());
    }
    let value: Value =
        serde_json::from_slice(body).map_err(|e| QidoError::NotJson(e.to_string()))?;
    let Value::Array(items) = value else {
        return Err(QidoError::Shape("the top level is not an array".into()));
    };
    if items.len() > MAX_RESULTS {
        return Err(QidoError::TooMany);
    }
    items
        .iter()
        .enumerate()
        .map(|(i, item)| study(i, item))
        .collect()
}

fn study(index: usize, item: &Value) -> Result<StudyMatch, QidoError> {
    let Value::Object(map) = item else {
        return Err(QidoError::Shape(format!("result {index} is not an object")));
    };
    let get = |tag: &str| -> Result<Vec<String>, QidoError> {
        match map.get(tag) {
            None => Ok(Vec::new()),
            Some(attr) => values(attr)
                .map_err(|why| QidoError::Shape(format!("result {index}, attribute {tag}: {why}"))),
        }
    };
    let first = |tag: &str| -> Result<Option<String>, QidoError> {
        Ok(get(tag)?.into_iter().next().filter(|v| !v.is_empty()))
    };
    let study = first("0020000D")?.ok_or_else(|| {
        QidoError::Shape(format!(
            "result {index} has no Study Instance UID (0020000D)"
        ))
    })?;
    let instances = match first("00201208")? {
        None => None,
        Some(n) => Some(n.trim().parse::<u64>().map_err(|_| {
            QidoError::Shape(format!(
                "result {index}: Number of Study Related Instances is not a count"
            ))
        })?),
    };
    Ok(StudyMatch {
        study,
        patient_name: first("00100010")?,
        patient_id: first("00100020")?,
        // Trimmed as an import trims it: compared with the issuers of the images held here.
        issuer: first("00100021")?
            .map(|i| i.trim().to_string())
            .filter(|i| !i.is_empty()),
        date: first("00080020")?,
        time: first("00080030")?,
        modalities: get("00080061")?
            .into_iter()
            .filter(|m| !m.is_empty())
            .collect(),
        description: first("00081030")?,
        accession: first("00080050")?,
        instances,
    })
}

/// An attribute's values as text: strings, numbers, and person names (their alphabetic form).
pub(crate) fn values(attr: &Value) -> Result<Vec<String>, String> {
    let Value::Object(attr) = attr else {
        return Err("not an object".into());
    };
    let Some(list) = attr.get("Value") else {
        // Present but empty (zero length), or given inline as binary: no text.
        return Ok(Vec::new());
    };
    let Value::Array(list) = list else {
        return Err("Value is not an array".into());
    };
    list.iter()
        .map(|v| match v {
            Value::String(s) => Ok(cut(s)),
            Value::Number(n) => Ok(n.to_string()),
            Value::Null => Ok(String::new()),
            Value::Object(pn) => match pn.get("Alphabetic") {
                Some(Value::String(s)) => Ok(cut(s)),
                None => Ok(String::new()),
                Some(_) => Err("a person name is not text".into()),
            },
            _ => Err("a value is neither text nor a number".into()),
        })
        .collect()
}

fn cut(s: &str) -> String {
    s.trim().chars().take(MAX_VALUE_CHARS).collect()
}

/// Fuzzing entry point: decodes `data` as a QIDO-RS answer; whatever it is, no panic, and
/// every study decoded has a UID.
pub fn fuzz_qido(data: &[u8]) {
    if let Ok(studies) = decode_studies(data) {
        assert!(studies.len() <= MAX_RESULTS);
        for s in studies {
            assert!(!s.study.is_empty());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_orthanc_style_results() {
        let body = br#"[{
            "00080020": {"vr": "DA", "Value": ["20260101"]},
            "00080050": {"vr": "SH", "Value": ["ACC1"]},
            "00080061": {"vr": "CS", "Value": ["CT", "SR"]},
            "00081030": {"vr": "LO", "Value": ["Head"]},
            "00100010": {"vr": "PN", "Value": [{"Alphabetic": "Phantom^Shepp"}]},
            "00100020": {"vr": "LO", "Value": ["P1"]},
            "00100021": {"vr": "LO", "Value": ["HOSP-A"]},
            "0020000D": {"vr": "UI", "Value": ["1.2.3"]},
            "00201208": {"vr": "IS", "Value": [4]},
            "00080090": {"vr": "PN"}
        }]"#;
        let got = decode_studies(body).unwrap();
        assert_eq!(
            got,
            vec![StudyMatch {
                study: "1.2.3".into(),
                patient_name: Some("Phantom^Shepp".into()),
                patient_id: Some("P1".into()),
                issuer: Some("HOSP-A".into()),
                date: Some("20260101".into()),
                time: None,
                modalities: vec!["CT".into(), "SR".into()],
                description: Some("Head".into()),
                accession: Some("ACC1".into()),
                instances: Some(4),
            }]
        );
        assert_eq!(decode_studies(b"").unwrap(), vec![]);
        assert_eq!(decode_studies(b"[]").unwrap(), vec![]);
    }

    #[test]
    fn refuses_garbage_with_a_reason() {
        for (body, words) in [
            (&b"<html>oops</html>"[..], "not JSON"),
            (b"{}", "not an array"),
            (b"[1]", "not an object"),
            (b"[{}]", "no Study Instance UID"),
            (
                br#"[{"0020000D": {"Value": "1.2"}}]"#,
                "Value is not an array",
            ),
            (
                br#"[{"0020000D": {"Value": ["1.2"]}, "00201208": {"Value": ["many"]}}]"#,
                "not a count",
            ),
        ] {
            let err = decode_studies(body).unwrap_err().to_string();
            assert!(err.contains(words), "{err}");
        }
    }
}
