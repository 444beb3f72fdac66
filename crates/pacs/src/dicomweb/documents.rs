//! A study's report instances over DICOMweb: QIDO-RS of the study's series, then of the
//! instances of those that can hold a report; WADO-RS of one instance into memory.

use std::io::Write;
use std::path::Path;

use serde_json::Value;

use super::{http_error, multipart_error, refused, DicomWeb, ACCEPT_JSON, ACCEPT_STUDY};
use crate::documents::{one_more_series, DocumentMatch, DOCUMENT_MODALITIES, MAX_DOCUMENTS};
use crate::multipart::MultipartReader;
use crate::qido::{self, values};
use crate::{check_uid, PacsError, Result};

/// Instance attributes asked beyond the defaults (SOP Class and Instance UIDs): the date
/// and time to order reports by.
const INSTANCE_FIELDS: &[&str] = &["00080023", "00080033"];

impl DicomWeb {
    /// QIDO-RS `GET` of `path` under the base, as DICOM JSON objects.
    fn qido(&self, path: &str, query: &[(&str, &str)]) -> Result<Vec<Value>> {
        let mut request = self
            .get(&format!("{}/{path}", self.base))
            .header("Accept", ACCEPT_JSON);
        for (k, v) in query {
            request = request.query(*k, *v);
        }
        let mut response = request.call().map_err(http_error)?;
        match response.status().as_u16() {
            204 => return Ok(Vec::new()),
            200 => {}
            other => return Err(refused("QIDO-RS", other)),
        }
        let body = response
            .body_mut()
            .with_config()
            .limit(qido::MAX_JSON_BYTES)
            .read_to_vec()
            .map_err(http_error)?;
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Vec::new());
        }
        match serde_json::from_slice(&body) {
            Ok(Value::Array(items)) if items.len() <= qido::MAX_RESULTS => Ok(items),
            Ok(Value::Array(_)) => Err(PacsError::TooLarge {
                what: "the search's answer".into(),
                limit: qido::MAX_RESULTS as u64,
            }),
            Ok(_) => Err(PacsError::Malformed(
                "QIDO-RS: the answer is not an array".into(),
            )),
            Err(e) => Err(PacsError::Malformed(format!(
                "QIDO-RS: the answer is not JSON: {e}"
            ))),
        }
    }

    pub(crate) fn documents(&self, study: &str) -> Result<Vec<DocumentMatch>> {
        let mut found = Vec::new();
        let mut searched = 0;
        let series = self.qido(&format!("studies/{study}/series"), &[])?;
        for s in &series {
            let modality = first(s, "00080060")?;
            if !modality
                .as_deref()
                .is_some_and(|m| DOCUMENT_MODALITIES.contains(&m))
            {
                continue;
            }
            one_more_series(&mut searched)?;
            let Some(uid) = first(s, "0020000E")? else {
                return Err(PacsError::Malformed(
                    "QIDO-RS: a series without its Series Instance UID".into(),
                ));
            };
            // Put into a URL path below: a UID or nothing.
            check_uid(&uid).map_err(|_| {
                PacsError::Malformed("QIDO-RS: a Series Instance UID is not a UID".into())
            })?;
            let mut query: Vec<(&str, &str)> = INSTANCE_FIELDS
                .iter()
                .map(|f| ("includefield", *f))
                .collect();
            let limit = MAX_DOCUMENTS.to_string();
            query.push(("limit", &limit));
            for i in self.qido(&format!("studies/{study}/series/{uid}/instances"), &query)? {
                let sop_class = first(&i, "00080016")?;
                let Some(kind) = DocumentMatch::kind_of(sop_class.as_deref(), modality.as_deref())
                else {
                    continue;
                };
                let Some(instance) = first(&i, "00080018")? else {
                    return Err(PacsError::Malformed(
                        "QIDO-RS: an instance without its SOP Instance UID".into(),
                    ));
                };
                check_uid(&instance).map_err(|_| {
                    PacsError::Malformed("QIDO-RS: a SOP Instance UID is not a UID".into())
                })?;
                found.push(DocumentMatch {
                    kind,
                    series: uid.clone(),
                    instance,
                    sop_class,
                    date: first(&i, "00080023")?,
                    time: first(&i, "00080033")?,
                });
                if found.len() > MAX_DOCUMENTS {
                    return Err(PacsError::TooLarge {
                        what: "the study's reports".into(),
                        limit: MAX_DOCUMENTS as u64,
                    });
                }
            }
        }
        Ok(found)
    }

    pub(crate) fn fetch_instance(
        &self,
        study: &str,
        series: &str,
        instance: &str,
        path: &Path,
        limit: u64,
    ) -> Result<()> {
        let url = format!(
            "{}/studies/{study}/series/{series}/instances/{instance}",
            self.base
        );
        let response = self
            .get(&url)
            .header("Accept", ACCEPT_STUDY)
            .call()
            .map_err(http_error)?;
        match response.status().as_u16() {
            200 => {}
            404 => {
                return Err(PacsError::Refused(format!(
                    "WADO-RS answered HTTP 404: it does not hold instance {instance}"
                )))
            }
            other => return Err(refused("WADO-RS", other)),
        }
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        // One part and its headers: the body is cut a little past the instance's limit.
        let body = response
            .into_body()
            .into_with_config()
            .limit(limit.saturating_add(64 * 1024))
            .reader();
        let mut parts = MultipartReader::new(body, &content_type).map_err(multipart_error)?;
        let file = std::fs::File::create(path)
            .map_err(PacsError::io(format!("creating {}", path.display())))?;
        let mut out = std::io::BufWriter::new(file);
        let part = parts.next_part(&mut out, limit).map_err(multipart_error)?;
        out.flush()
            .map_err(PacsError::io(format!("writing {}", path.display())))?;
        match part {
            Some(_) => Ok(()),
            None => Err(PacsError::Refused(format!(
                "WADO-RS sent no part for instance {instance}"
            ))),
        }
    }
}

/// An attribute's first value, if it has one that is not empty.
fn first(item: &Value, tag: &str) -> Result<Option<String>> {
    let Value::Object(map) = item else {
        return Err(PacsError::Malformed(
            "QIDO-RS: a result is not an object".into(),
        ));
    };
    match map.get(tag) {
        None => Ok(None),
        Some(attr) => Ok(values(attr)
            .map_err(|why| PacsError::Malformed(format!("QIDO-RS: attribute {tag}: {why}")))?
            .into_iter()
            .next()
            .filter(|v| !v.is_empty())),
    }
}
