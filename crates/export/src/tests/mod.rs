//! Unit tests of the exports, by what they cover: the example report in each format
//! (`example.rs`), a conflict and its resolution (`conflict.rs`), a refused report
//! (`refused.rs`), and image links with their thumbnails and SR coordinates (`links.rs`). This
//! file holds the helper the SR checks of more than one of them share.

use dicom_dictionary_std::tags;

mod ai;
mod conflict;
mod dicom_values;
mod example;
mod links;
mod refused;

/// Every TEXT item of an SR content tree, with the person observers of its container (the
/// observer context in force where the text is).
fn sr_texts(
    item: &dicom_object::InMemDicomObject,
    observers: &[String],
    out: &mut Vec<(String, Vec<String>)>,
) {
    let Some(children) = item
        .element(tags::CONTENT_SEQUENCE)
        .ok()
        .and_then(|e| e.items())
    else {
        return;
    };
    let value = |i: &dicom_object::InMemDicomObject, tag| {
        i.element(tag)
            .ok()
            .and_then(|e| e.to_str().ok())
            .map(|s| s.trim().to_string())
    };
    // Observer context accumulates down the tree (PS3.3 C.17.5).
    let mut here = observers.to_vec();
    here.extend(
        children
            .iter()
            .filter(|c| value(c, tags::RELATIONSHIP_TYPE).as_deref() == Some("HAS OBS CONTEXT"))
            .filter_map(|c| value(c, tags::PERSON_NAME)),
    );
    for c in children {
        match value(c, tags::VALUE_TYPE).as_deref() {
            Some("TEXT") => {
                out.push((value(c, tags::TEXT_VALUE).unwrap_or_default(), here.clone()))
            }
            Some("CONTAINER") => sr_texts(c, &here, out),
            _ => {}
        }
    }
}
