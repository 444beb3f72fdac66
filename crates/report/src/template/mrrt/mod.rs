//! A subset of IHE MRRT (Management of Radiology Report Templates): an HTML5 document whose
//! `<section>` elements are the report sections and whose `<input>`, `<select>` and
//! `<textarea>` elements, typed by `data-field-type`, are the fields.
//!
//! Read: the title (`<title>` or `dcterms.title`), the name (`dcterms.identifier` when it is a
//! valid name, else the title in lowercase with dashes), top-level sections (`id`, title from
//! `data-section-name` or the `<header>`), fields of type TEXT, NUMBER (`data-field-unit`,
//! `min`, `max`), SELECTION_LIST (`<option value>`) and DATE, labels from `<label for>`,
//! and "must be completed before final" from `data-field-completion-action="PROHIBIT"` or
//! `required`. What MRRT has and Countersign does not (nested sections, TIME, CHECKBOX, multiple
//! selections, fields outside sections) is refused with its line, never dropped silently.
//! Countersign's own rules travel as `data-countersign-*` attributes, which MRRT tools ignore.

use std::collections::HashMap;

use countersign_ledger::Role;

use super::native::MAX_TEMPLATE_BYTES;
use super::{parse_role, FieldDef, FieldKind, SectionDef, Template, TemplateError};
use tokens::{tokenize, Event};

mod tokens;
mod write;

pub use write::to_mrrt;

/// An `<option>`: its `value` attribute if it has one, and its text.
type OptionRead = (Option<String>, String);

/// A field as read, before its label (which may come later in the document) is known.
struct PendingField {
    def: FieldDef,
    id: String,
    line: usize,
}

struct PendingSection {
    def: SectionDef,
    line: usize,
    fields: Vec<PendingField>,
    header: String,
}

fn unsupported(line: usize, what: impl Into<String>, why: impl Into<String>) -> TemplateError {
    TemplateError::Unsupported {
        line: Some(line),
        what: what.into(),
        why: why.into(),
    }
}

fn role_attr(
    attrs: &HashMap<String, String>,
    key: &str,
    line: usize,
) -> Result<Option<Role>, TemplateError> {
    attrs
        .get(key)
        .map(|v| parse_role(v, Some(line), key))
        .transpose()
}

/// Lowercase letters, digits and dashes from any text: "CT Chest (adult)" → "ct-chest-adult".
fn slug(text: &str) -> String {
    let mut out = String::new();
    for c in text.trim().chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-').chars().take(64).collect()
}

/// An id as it is when it is already a valid name, else its [`slug`].
fn identifier(id: &str) -> String {
    if super::valid_name(id) {
        id.to_string()
    } else {
        slug(id)
    }
}

fn collapse(text: &str) -> String {
    super::normalise(text)
}

/// Reads an MRRT HTML template (the subset above) and checks it.
pub fn from_mrrt(html: &str) -> Result<Template, TemplateError> {
    if html.len() > MAX_TEMPLATE_BYTES {
        return Err(TemplateError::Invalid {
            line: None,
            message: format!(
                "a template file is at most {MAX_TEMPLATE_BYTES} bytes, this one {}",
                html.len()
            ),
        });
    }
    let mut title = String::new();
    let mut meta: HashMap<String, String> = HashMap::new();
    let mut labels: HashMap<String, String> = HashMap::new();
    let mut sections: Vec<PendingSection> = Vec::new();
    let mut current: Option<PendingSection> = None;
    // Where character data currently goes: the title, a label (by its `for`), a section
    // header, or an option of the open select (value, text).
    enum Capture {
        None,
        Title,
        Label(String),
        Header,
        Option,
    }
    let mut capture = Capture::None;
    let mut label_text = String::new();
    let mut select: Option<(PendingField, Vec<OptionRead>)> = None;

    for event in tokenize(html) {
        match event {
            Event::Text(t) => match &capture {
                Capture::Title => title.push_str(&t),
                Capture::Label(_) => label_text.push_str(&t),
                Capture::Header => {
                    if let Some(s) = current.as_mut() {
                        s.header.push_str(&t);
                    }
                }
                Capture::Option => {
                    if let Some((_, options)) = select.as_mut() {
                        if let Some(last) = options.last_mut() {
                            last.1.push_str(&t);
                        }
                    }
                }
                Capture::None => {}
            },
            Event::Start { name, attrs, line } => match name.as_str() {
                "title" => capture = Capture::Title,
                "meta" => {
                    if let (Some(n), Some(c)) = (attrs.get("name"), attrs.get("content")) {
                        meta.insert(n.to_ascii_lowercase(), c.clone());
                    }
                }
                "section" => {
                    if let Some(open) = &current {
                        return Err(unsupported(
                            line,
                            "a nested section",
                            format!(
                                "Countersign sections do not nest (inside section {:?}, line {})",
                                open.def.name, open.line
                            ),
                        ));
                    }
                    let id = attrs.get("id").cloned().unwrap_or_default();
                    let given = attrs.get("data-section-name").cloned().unwrap_or_default();
                    let name = identifier(if id.is_empty() { &given } else { &id });
                    if name.is_empty() {
                        return Err(TemplateError::MissingName {
                            line: Some(line),
                            what: "a section (no id or data-section-name)".into(),
                        });
                    }
                    current = Some(PendingSection {
                        def: SectionDef {
                            name,
                            title: collapse(&given),
                            required: attrs
                                .get("data-countersign-required")
                                .is_some_and(|v| v == "true"),
                            cosign_role: role_attr(&attrs, "data-countersign-cosign", line)?,
                            fields: Vec::new(),
                        },
                        line,
                        fields: Vec::new(),
                        header: String::new(),
                    });
                }
                "header" if current.is_some() => capture = Capture::Header,
                "label" => {
                    label_text.clear();
                    capture = Capture::Label(attrs.get("for").cloned().unwrap_or_default());
                }
                "input" | "textarea" | "select" => {
                    let Some(section) = current.as_mut() else {
                        return Err(unsupported(
                            line,
                            format!("a <{name}> outside any section"),
                            "every field belongs to a section",
                        ));
                    };
                    let field = field(&name, &attrs, line)?;
                    if name == "select" {
                        select = Some((field, Vec::new()));
                    } else {
                        section.fields.push(field);
                    }
                }
                "option" if select.is_some() => {
                    if let Some((_, options)) = select.as_mut() {
                        options.push((attrs.get("value").cloned(), String::new()));
                    }
                    capture = Capture::Option;
                }
                _ => {}
            },
            Event::End { name } => match name.as_str() {
                "title" | "header" | "option" => capture = Capture::None,
                "label" => {
                    if let Capture::Label(target) = &capture {
                        labels.insert(target.clone(), collapse(&label_text));
                    }
                    capture = Capture::None;
                }
                "select" => {
                    if let (Some((mut field, options)), Some(section)) =
                        (select.take(), current.as_mut())
                    {
                        field.def.kind = FieldKind::Pick {
                            options: options
                                .into_iter()
                                .map(|(value, text)| collapse(&value.unwrap_or(text)))
                                .collect(),
                        };
                        section.fields.push(field);
                    }
                }
                "section" => {
                    if let Some(s) = current.take() {
                        sections.push(s);
                    }
                }
                _ => {}
            },
        }
    }
    if let Some(open) = current {
        sections.push(open);
    }

    let title = meta
        .get("dcterms.title")
        .cloned()
        .unwrap_or_else(|| collapse(&title));
    let name = meta
        .get("dcterms.identifier")
        .map(|i| identifier(i))
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| slug(&title));
    if name.is_empty() {
        return Err(TemplateError::MissingName {
            line: None,
            what: "the template (no <title>, dcterms.title or dcterms.identifier)".into(),
        });
    }
    if sections.is_empty() {
        return Err(TemplateError::Invalid {
            line: None,
            message: "the template has no <section>".into(),
        });
    }
    let mut template = Template {
        name,
        title,
        sections: Vec::with_capacity(sections.len()),
        resident_countersign: meta
            .get("countersign.resident-countersign")
            .map(|v| parse_role(v, None, "countersign.resident-countersign"))
            .transpose()?,
    };
    for mut s in sections {
        if s.def.title.is_empty() {
            s.def.title = collapse(&s.header);
        }
        if template.sections.iter().any(|o| o.name == s.def.name) {
            return Err(TemplateError::DuplicateSection {
                line: Some(s.line),
                name: s.def.name,
            });
        }
        for mut f in s.fields {
            if f.def.label.is_empty() {
                f.def.label = labels
                    .get(&f.id)
                    .cloned()
                    .unwrap_or_else(|| collapse(&f.id));
            }
            if s.def.fields.iter().any(|o| o.name == f.def.name) {
                return Err(TemplateError::DuplicateField {
                    line: Some(f.line),
                    section: s.def.name.clone(),
                    name: f.def.name,
                });
            }
            f.def
                .validate(&s.def.name)
                .map_err(|e| e.at_line(Some(f.line)))?;
            s.def.fields.push(f.def);
        }
        s.def.validate().map_err(|e| e.at_line(Some(s.line)))?;
        template.sections.push(s.def);
    }
    template.validate()?;
    Ok(template)
}

/// One `<input>`, `<textarea>` or `<select>` (a select's options are added at its end tag).
fn field(
    element: &str,
    attrs: &HashMap<String, String>,
    line: usize,
) -> Result<PendingField, TemplateError> {
    // `id` links the field to its <label> and is unique in the document; `name` is the field's
    // name within its section (MRRT tools write both).
    let id = attrs
        .get("id")
        .or_else(|| attrs.get("name"))
        .cloned()
        .unwrap_or_default();
    let name = identifier(attrs.get("name").unwrap_or(&id));
    if name.is_empty() {
        return Err(TemplateError::MissingName {
            line: Some(line),
            what: format!("a <{element}> field (no id or name)"),
        });
    }
    // MRRT's own type wins; the HTML element only implies one when it is absent.
    let declared = attrs.get("data-field-type").map(|t| t.to_ascii_uppercase());
    let implied = || -> Result<&'static str, TemplateError> {
        Ok(match (element, attrs.get("type").map(String::as_str)) {
            ("select", _) => "SELECTION_LIST",
            ("textarea", _) | ("input", None | Some("text")) => "TEXT",
            ("input", Some("number")) => "NUMBER",
            ("input", Some("date")) => "DATE",
            ("input", Some(other)) => {
                return Err(unsupported(
                    line,
                    format!("<input type={other:?}>"),
                    "supported inputs are text, number and date",
                ))
            }
            _ => "TEXT",
        })
    };
    let field_type: String = match declared {
        Some(d) => d,
        None => implied()?.to_string(),
    };
    let kind = match field_type.as_str() {
        "TEXT" => FieldKind::Text,
        "NUMBER" => FieldKind::Number {
            unit: attrs
                .get("data-field-unit")
                .cloned()
                .filter(|u| !u.is_empty()),
            min: number_attr(attrs, "min", line)?,
            max: number_attr(attrs, "max", line)?,
        },
        "SELECTION_LIST" => {
            if element != "select" {
                return Err(unsupported(
                    line,
                    format!("a SELECTION_LIST on <{element}>"),
                    "pick-lists are <select> elements",
                ));
            }
            if attrs.contains_key("multiple") {
                return Err(unsupported(
                    line,
                    "a multiple-selection list",
                    "a pick-list field holds one option",
                ));
            }
            FieldKind::Pick {
                options: Vec::new(),
            }
        }
        "DATE" => FieldKind::Date,
        other => {
            return Err(TemplateError::UnknownFieldType {
                line: Some(line),
                found: other.to_string(),
            })
        }
    };
    let required = attrs.contains_key("required")
        || attrs
            .get("data-field-completion-action")
            .is_some_and(|a| a.eq_ignore_ascii_case("PROHIBIT"));
    Ok(PendingField {
        def: FieldDef {
            name,
            label: attrs
                .get("data-field-name")
                .map(|l| collapse(l))
                .unwrap_or_default(),
            kind,
            required,
        },
        id,
        line,
    })
}

fn number_attr(
    attrs: &HashMap<String, String>,
    key: &str,
    line: usize,
) -> Result<Option<f64>, TemplateError> {
    match attrs.get(key) {
        None => Ok(None),
        Some(v) => v
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|n| n.is_finite())
            .map(Some)
            .ok_or_else(|| TemplateError::Invalid {
                line: Some(line),
                message: format!("{key}={v:?} is not a number"),
            }),
    }
}
