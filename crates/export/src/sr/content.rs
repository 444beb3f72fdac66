//! The SR content tree: items, containers, observer contexts, and the containers of a section
//! (its text and structured fields, or one per version when sign-offs disagree on it).

use super::*;

pub(super) fn item(
    relationship: &str,
    value_type: &str,
    concept: Option<Code>,
) -> InMemDicomObject {
    let mut i = InMemDicomObject::new_empty();
    put(&mut i, tags::RELATIONSHIP_TYPE, VR::CS, relationship);
    put(&mut i, tags::VALUE_TYPE, VR::CS, value_type);
    if let Some(c) = concept {
        put_seq(&mut i, tags::CONCEPT_NAME_CODE_SEQUENCE, vec![code_item(c)]);
    }
    i
}

pub(super) fn text(relationship: &str, concept: Code, value: &str) -> InMemDicomObject {
    let mut i = item(relationship, "TEXT", Some(concept));
    put(&mut i, tags::TEXT_VALUE, VR::UT, value);
    i
}

pub(super) fn container(
    relationship: &str,
    concept: Code,
    content: Vec<InMemDicomObject>,
) -> InMemDicomObject {
    let mut i = item(relationship, "CONTAINER", Some(concept));
    put(&mut i, tags::CONTINUITY_OF_CONTENT, VR::CS, "SEPARATE");
    put_seq(&mut i, tags::CONTENT_SEQUENCE, content);
    i
}

/// TID 1002 observer context for one person or AI model.
pub(super) fn observer(a: &Author) -> Vec<InMemDicomObject> {
    let mut kind = item(
        "HAS OBS CONTEXT",
        "CODE",
        Some(("121005", "DCM", "Observer Type")),
    );
    let mut out = Vec::new();
    match &a.ai_model {
        Some(m) => {
            put_seq(
                &mut kind,
                tags::CONCEPT_CODE_SEQUENCE,
                vec![code_item(("121007", "DCM", "Device"))],
            );
            out.push(kind);
            let mut device_uid = item(
                "HAS OBS CONTEXT",
                "UIDREF",
                Some(("121012", "DCM", "Device Observer UID")),
            );
            put(
                &mut device_uid,
                tags::UID,
                VR::UI,
                &uid(&format!("device/{}", a.key)),
            );
            out.push(device_uid);
            out.push(text(
                "HAS OBS CONTEXT",
                ("121013", "DCM", "Device Observer Name"),
                a.name_then.as_ref().unwrap_or(&a.name),
            ));
            out.push(text(
                "HAS OBS CONTEXT",
                ("121014", "DCM", "Device Observer Manufacturer"),
                &m.vendor,
            ));
            out.push(text(
                "HAS OBS CONTEXT",
                ("121015", "DCM", "Device Observer Model Name"),
                &format!("{} {}", m.model, m.version),
            ));
        }
        None => {
            put_seq(
                &mut kind,
                tags::CONCEPT_CODE_SEQUENCE,
                vec![code_item(("121006", "DCM", "Person"))],
            );
            out.push(kind);
            let mut name = item(
                "HAS OBS CONTEXT",
                "PNAME",
                Some(("121008", "DCM", "Person Observer Name")),
            );
            // The observer as they signed: a later rename does not change who observed.
            let signed_as = a.name_then.as_ref().unwrap_or(&a.name);
            put(
                &mut name,
                tags::PERSON_NAME,
                VR::PN,
                &person_name(signed_as),
            );
            out.push(name);
        }
    }
    out
}

/// A code whose value and meaning are made here (a local code of a section's name).
pub(super) type OwnedCode = (String, &'static str, String);

fn borrowed(c: &OwnedCode) -> Code<'_> {
    (&c.0, c.1, &c.2)
}

/// Standard codes for the sections every template has; the rest are local, by
/// [`local_code`]: two sections whose names share their first 16 characters are still two
/// codes.
pub(super) fn section_codes(s: &SectionView) -> (OwnedCode, OwnedCode) {
    let own = |(v, scheme, m): Code<'static>| (v.to_string(), scheme, m.to_string());
    match s.name.as_str() {
        "findings" => (
            own(("121070", "DCM", "Findings")),
            own(("121071", "DCM", "Finding")),
        ),
        "impression" => (
            own(("121072", "DCM", "Impressions")),
            own(("121073", "DCM", "Impression")),
        ),
        _ => {
            let local = (local_code(&s.name), LOCAL, s.title.clone());
            (local.clone(), local)
        }
    }
}

/// The structured fields of one version of a section. A number is written as the same number,
/// never rounded: a NUM when a 16-character DS holds it, else (more significant digits than a DS
/// holds, which a Number field accepts) a TEXT of the signed digits and unit under the same
/// concept name. Comprehensive SR lets a CONTAINER CONTAIN any value type (PS3.3 A.35.3.3.1.2),
/// and a signed final whose SR could never be exported would never reach the archive.
pub(super) fn fields(s: &SectionView, v: &VersionView) -> Vec<InMemDicomObject> {
    s.fields
        .iter()
        .filter_map(|f| {
            let value = v.fields.get(&f.def.name).map(String::as_str)?;
            let code = local_code(&f.def.name);
            let concept = (code.as_str(), LOCAL, f.def.label.as_str());
            Some(match &f.def.kind {
                FieldKind::Number { unit, .. } => match decimal_string(value) {
                    Some(ds) => {
                        let mut i = item("CONTAINS", "NUM", Some(concept));
                        let mut measured = InMemDicomObject::new_empty();
                        put(&mut measured, tags::NUMERIC_VALUE, VR::DS, &ds);
                        let units = match unit.as_deref() {
                            Some(u) => code_item((u, "UCUM", u)),
                            None => code_item(("1", "UCUM", "no units")),
                        };
                        put_seq(
                            &mut measured,
                            tags::MEASUREMENT_UNITS_CODE_SEQUENCE,
                            vec![units],
                        );
                        put_seq(&mut i, tags::MEASURED_VALUE_SEQUENCE, vec![measured]);
                        i
                    }
                    None => text("CONTAINS", concept, &f.def.display(value)),
                },
                FieldKind::Date => {
                    let mut i = item("CONTAINS", "DATE", Some(concept));
                    put(&mut i, tags::DATE, VR::DA, &value.replace('-', ""));
                    i
                }
                FieldKind::Text | FieldKind::Pick { .. } => text("CONTAINS", concept, value),
            })
        })
        .collect()
}

/// A section in conflict: one container per version signed off, each with its own observer
/// context (author and co-signers), its text and fields, and who signed it off.
pub(super) fn conflicting_section(view: &ReportView, s: &SectionView) -> Option<InMemDicomObject> {
    let versions = conflicting(view, s);
    if versions.is_empty() {
        return None;
    }
    let (heading, text_concept) = section_codes(s);
    let mut content = vec![text(
        "CONTAINS",
        ("conflict", LOCAL, "Conflict between sign-offs"),
        &format!(
            "CONFLICT: {} versions of this section were signed off; none is the report's until \
             an attending resolves it",
            versions.len()
        ),
    )];
    for (v, by) in versions {
        let mut items = observer(&v.author);
        for c in &v.cosigns {
            items.extend(observer(&c.author));
        }
        if let Some(t) = v.text.as_deref().filter(|t| !t.trim().is_empty()) {
            items.push(text("CONTAINS", borrowed(&text_concept), t));
        }
        items.extend(fields(s, v));
        let mut note = vec![format!("Signed as entry {}", v.entry)];
        note.extend(v.cosigns.iter().map(|c| {
            format!(
                "co-signed by {} (entry {})",
                crate::document::named(&c.author),
                c.entry
            )
        }));
        note.extend(by.iter().map(|f| {
            format!(
                "signed off by {} at {} (entry {})",
                crate::document::named(&f.author),
                readable(f.time_ms),
                f.entry
            )
        }));
        items.push(text(
            "CONTAINS",
            ("provenance", LOCAL, "Provenance"),
            &note.join("; "),
        ));
        content.push(container(
            "CONTAINS",
            ("version", LOCAL, "Version signed off"),
            items,
        ));
    }
    Some(container("CONTAINS", borrowed(&heading), content))
}

pub(super) fn section(
    view: &ReportView,
    s: &SectionView,
    images: &[crate::ImageRef],
) -> Result<Option<InMemDicomObject>, ExportError> {
    if !s.conflicting_versions.is_empty() {
        return Ok(conflicting_section(view, s));
    }
    let Some(current) = current_version(s) else {
        return Ok(None);
    };
    let (heading, text_concept) = section_codes(s);
    let mut content = observer(&current.author);
    for c in &current.cosigns {
        content.extend(observer(&c.author));
    }
    // A device observer for each model whose draft a reviewer took (accepted or edited), once
    // each; a rejected draft is no observer of the section (its provenance line says it).
    let mut devices = Vec::new();
    for ai in ai_taken(view, &s.name) {
        if !devices.contains(&&ai.author.key) {
            devices.push(&ai.author.key);
            content.extend(observer(&ai.author));
        }
    }
    if let Some(t) = s.text.as_deref().filter(|t| !t.trim().is_empty()) {
        content.push(text("CONTAINS", borrowed(&text_concept), t));
    }
    content.extend(fields(s, current));
    content.extend(super::links::link_items(view, images, &current.links)?);
    let mut note = vec![format!("Signed as entry {}", current.entry)];
    note.extend(current.cosigns.iter().map(|c| {
        format!(
            "co-signed by {} (entry {})",
            crate::document::named(&c.author),
            c.entry
        )
    }));
    note.extend(ai_lines(view, &s.name));
    content.push(text(
        "CONTAINS",
        ("provenance", LOCAL, "Provenance"),
        &note.join("; "),
    ));
    Ok(Some(container("CONTAINS", borrowed(&heading), content)))
}
