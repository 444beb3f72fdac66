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

use std::cell::RefCell;
use std::collections::HashMap;

use countersign_ledger::Role;
use html5ever::tendril::StrTendril;
use html5ever::tokenizer::states::RawKind;
use html5ever::tokenizer::{
    BufferQueue, TagKind, Token, TokenSink, TokenSinkResult, Tokenizer, TokenizerOpts,
};

use super::native::MAX_TEMPLATE_BYTES;
use super::{FieldDef, FieldKind, SectionDef, Template, TemplateError};

/// One tag or run of text, with its line.
#[derive(Debug)]
enum Event {
    Start {
        name: String,
        attrs: HashMap<String, String>,
        line: usize,
    },
    End {
        name: String,
    },
    Text(String),
}

#[derive(Default)]
struct Sink {
    events: RefCell<Vec<Event>>,
}

impl TokenSink for Sink {
    type Handle = ();

    fn process_token(&self, token: Token, line: u64) -> TokenSinkResult<()> {
        let mut events = self.events.borrow_mut();
        match token {
            Token::TagToken(tag) => {
                let name = tag.name.to_string();
                if tag.kind == TagKind::EndTag {
                    events.push(Event::End { name });
                    return TokenSinkResult::Continue;
                }
                let attrs = tag
                    .attrs
                    .iter()
                    .map(|a| (a.name.local.to_string(), a.value.to_string()))
                    .collect();
                // The tokenizer alone does not know which elements hold raw text; without
                // this, the XML coded content MRRT keeps in a <script> would read as tags.
                let raw = match name.as_str() {
                    "script" => Some(RawKind::ScriptData),
                    "style" => Some(RawKind::Rawtext),
                    "title" | "textarea" => Some(RawKind::Rcdata),
                    _ => None,
                };
                events.push(Event::Start {
                    name,
                    attrs,
                    line: usize::try_from(line).unwrap_or(usize::MAX),
                });
                match raw {
                    Some(kind) if !tag.self_closing => TokenSinkResult::RawData(kind),
                    _ => TokenSinkResult::Continue,
                }
            }
            Token::CharacterTokens(text) => {
                events.push(Event::Text(text.to_string()));
                TokenSinkResult::Continue
            }
            _ => TokenSinkResult::Continue,
        }
    }
}

fn tokenize(html: &str) -> Vec<Event> {
    let tokenizer = Tokenizer::new(Sink::default(), TokenizerOpts::default());
    let input = BufferQueue::default();
    input.push_back(StrTendril::from_slice(html));
    let _ = tokenizer.feed(&input);
    tokenizer.end();
    tokenizer.sink.events.take()
}

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
    match attrs.get(key) {
        None => Ok(None),
        Some(v) => Role::ALL
            .iter()
            .copied()
            .find(|r| r.name() == v.trim())
            .map(Some)
            .ok_or_else(|| TemplateError::Invalid {
                line: Some(line),
                message: format!("{key}: unknown role {v:?}"),
            }),
    }
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
            .map(|v| {
                Role::ALL
                    .iter()
                    .copied()
                    .find(|r| r.name() == v.trim())
                    .ok_or_else(|| TemplateError::Invalid {
                        line: None,
                        message: format!("countersign.resident-countersign: unknown role {v:?}"),
                    })
            })
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

/// Writes a template as an MRRT HTML document that [`from_mrrt`] reads back to an equal template.
pub fn to_mrrt(t: &Template) -> String {
    let mut out = String::from("<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"UTF-8\">\n");
    out.push_str(&format!("<title>{}</title>\n", esc(&t.title)));
    out.push_str(&format!(
        "<meta name=\"dcterms.title\" content=\"{}\">\n<meta name=\"dcterms.identifier\" content=\"{}\">\n",
        esc(&t.title),
        esc(&t.name)
    ));
    if let Some(r) = t.resident_countersign {
        out.push_str(&format!(
            "<meta name=\"countersign.resident-countersign\" content=\"{}\">\n",
            r.name()
        ));
    }
    out.push_str("</head>\n<body>\n");
    for s in &t.sections {
        out.push_str(&format!(
            "<section id=\"{}\" class=\"level1\" data-section-name=\"{}\"",
            esc(&s.name),
            esc(&s.title)
        ));
        if s.required {
            out.push_str(" data-countersign-required=\"true\"");
        }
        if let Some(r) = s.cosign_role {
            out.push_str(&format!(" data-countersign-cosign=\"{}\"", r.name()));
        }
        out.push_str(&format!(
            ">\n<header class=\"level1\">{}</header>\n",
            esc(&s.title)
        ));
        for f in &s.fields {
            // Ids are unique in an HTML document; two sections may have fields of one name.
            let id = esc(&format!("{}.{}", s.name, f.name));
            let name = esc(&f.name);
            let completion = if f.required {
                " data-field-completion-action=\"PROHIBIT\""
            } else {
                ""
            };
            out.push_str(&format!(
                "<p><label for=\"{id}\">{}</label>\n",
                esc(&f.label)
            ));
            match &f.kind {
                FieldKind::Text => out.push_str(&format!(
                    "<input type=\"text\" id=\"{id}\" name=\"{name}\" data-field-type=\"TEXT\"{completion}>"
                )),
                FieldKind::Date => out.push_str(&format!(
                    "<input type=\"date\" id=\"{id}\" name=\"{name}\" data-field-type=\"DATE\"{completion}>"
                )),
                FieldKind::Number { unit, min, max } => {
                    out.push_str(&format!(
                        "<input type=\"number\" id=\"{id}\" name=\"{name}\" data-field-type=\"NUMBER\""
                    ));
                    if let Some(u) = unit {
                        out.push_str(&format!(" data-field-unit=\"{}\"", esc(u)));
                    }
                    for (key, v) in [("min", min), ("max", max)] {
                        if let Some(v) = v {
                            out.push_str(&format!(" {key}=\"{v:?}\""));
                        }
                    }
                    out.push_str(completion);
                    out.push('>');
                }
                FieldKind::Pick { options } => {
                    out.push_str(&format!(
                        "<select id=\"{id}\" name=\"{name}\" data-field-type=\"SELECTION_LIST\"{completion}>\n"
                    ));
                    for o in options {
                        out.push_str(&format!(
                            "<option value=\"{}\">{}</option>\n",
                            esc(o),
                            esc(o)
                        ));
                    }
                    out.push_str("</select>");
                }
            }
            out.push_str("</p>\n");
        }
        out.push_str("</section>\n");
    }
    out.push_str("</body>\n</html>\n");
    out
}

/// Escapes text for HTML content and double-quoted attributes.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}
