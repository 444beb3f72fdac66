//! The native template format: TOML, one `[[section]]` table per section and one
//! `[[section.field]]` per field. Every error names the line it is about.

use countersign_ledger::Role;
use serde::Deserialize;
use toml::Spanned;

use super::{normalise, FieldDef, FieldKind, SectionDef, Template, TemplateError, FIELD_TYPES};

/// The only native format version so far.
pub const FORMAT: u32 = 1;
/// The largest template file read, in bytes.
pub const MAX_TEMPLATE_BYTES: usize = 256 * 1024;

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawTemplate {
    format: Option<Spanned<u32>>,
    name: Option<Spanned<String>>,
    title: Option<String>,
    resident_countersign: Option<Spanned<String>>,
    #[serde(default, rename = "section")]
    sections: Vec<Spanned<RawSection>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSection {
    name: Option<Spanned<String>>,
    title: Option<String>,
    #[serde(default)]
    required: bool,
    cosign: Option<Spanned<String>>,
    #[serde(default, rename = "field")]
    fields: Vec<Spanned<RawField>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawField {
    name: Option<Spanned<String>>,
    label: Option<String>,
    #[serde(rename = "type")]
    kind: Option<Spanned<String>>,
    unit: Option<String>,
    min: Option<f64>,
    max: Option<f64>,
    options: Option<Vec<String>>,
    #[serde(default)]
    required: bool,
}

/// Maps byte offsets to 1-based line numbers.
struct Lines<'a>(&'a str);

impl Lines<'_> {
    fn of(&self, offset: usize) -> usize {
        let end = offset.min(self.0.len());
        self.0.as_bytes()[..end]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1
    }

    fn of_span<T>(&self, s: &Spanned<T>) -> Option<usize> {
        Some(self.of(s.span().start))
    }
}

impl TemplateError {
    /// Puts `line` on an error that does not name one yet.
    pub(crate) fn at_line(self, at: Option<usize>) -> Self {
        use TemplateError::*;
        let fill = |line: Option<usize>| line.or(at);
        match self {
            Syntax { line, message } => Syntax {
                line: fill(line),
                message,
            },
            UnknownFieldType { line, found } => UnknownFieldType {
                line: fill(line),
                found,
            },
            MissingName { line, what } => MissingName {
                line: fill(line),
                what,
            },
            DuplicateSection { line, name } => DuplicateSection {
                line: fill(line),
                name,
            },
            DuplicateField {
                line,
                section,
                name,
            } => DuplicateField {
                line: fill(line),
                section,
                name,
            },
            Unsupported { line, what, why } => Unsupported {
                line: fill(line),
                what,
                why,
            },
            Invalid { line, message } => Invalid {
                line: fill(line),
                message,
            },
        }
    }
}

fn role(lines: &Lines, value: &Spanned<String>) -> Result<Role, TemplateError> {
    super::parse_role(value.get_ref(), lines.of_span(value), "role")
}

/// Reads a template in the native format and checks it ([`Template::validate`]).
pub fn parse_native(text: &str) -> Result<Template, TemplateError> {
    if text.len() > MAX_TEMPLATE_BYTES {
        return Err(TemplateError::Invalid {
            line: None,
            message: format!(
                "a template file is at most {MAX_TEMPLATE_BYTES} bytes, this one {}",
                text.len()
            ),
        });
    }
    let lines = Lines(text);
    let raw: RawTemplate = toml::from_str(text).map_err(|e| TemplateError::Syntax {
        line: e.span().map(|s| lines.of(s.start)),
        message: e.message().trim().to_string(),
    })?;
    match &raw.format {
        Some(f) if *f.get_ref() == FORMAT => {}
        Some(f) => {
            return Err(TemplateError::Unsupported {
                line: lines.of_span(f),
                what: format!("format {}", f.get_ref()),
                why: format!("this version reads format {FORMAT}"),
            })
        }
        None => {
            return Err(TemplateError::Syntax {
                line: Some(1),
                message: format!("missing `format = {FORMAT}`"),
            })
        }
    }
    let name = raw.name.as_ref().ok_or(TemplateError::MissingName {
        line: Some(1),
        what: "the template".into(),
    })?;
    let mut sections: Vec<SectionDef> = Vec::with_capacity(raw.sections.len());
    for s in &raw.sections {
        let line = lines.of_span(s);
        let section = section(&lines, s.get_ref(), line)?;
        if sections.iter().any(|o| o.name == section.name) {
            return Err(TemplateError::DuplicateSection {
                line: s.get_ref().name.as_ref().and_then(|n| lines.of_span(n)),
                name: section.name,
            });
        }
        section.validate().map_err(|e| e.at_line(line))?;
        sections.push(section);
    }
    let template = Template {
        name: name.get_ref().clone(),
        title: normalise(&raw.title.unwrap_or_default()),
        sections,
        resident_countersign: raw
            .resident_countersign
            .as_ref()
            .map(|r| role(&lines, r))
            .transpose()?,
    };
    template
        .validate()
        .map_err(|e| e.at_line(lines.of_span(name)))?;
    Ok(template)
}

fn section(
    lines: &Lines,
    raw: &RawSection,
    line: Option<usize>,
) -> Result<SectionDef, TemplateError> {
    let name = raw.name.as_ref().ok_or(TemplateError::MissingName {
        line,
        what: "a section".into(),
    })?;
    let mut fields: Vec<FieldDef> = Vec::with_capacity(raw.fields.len());
    for f in &raw.fields {
        let field = field(lines, f.get_ref(), lines.of_span(f), name.get_ref())?;
        if fields.iter().any(|o| o.name == field.name) {
            return Err(TemplateError::DuplicateField {
                line: f.get_ref().name.as_ref().and_then(|n| lines.of_span(n)),
                section: name.get_ref().clone(),
                name: field.name,
            });
        }
        fields.push(field);
    }
    Ok(SectionDef {
        name: name.get_ref().clone(),
        title: normalise(&raw.title.clone().unwrap_or_default()),
        required: raw.required,
        cosign_role: raw.cosign.as_ref().map(|r| role(lines, r)).transpose()?,
        fields,
    })
}

fn field(
    lines: &Lines,
    raw: &RawField,
    line: Option<usize>,
    section: &str,
) -> Result<FieldDef, TemplateError> {
    let name = raw
        .name
        .as_ref()
        .ok_or_else(|| TemplateError::MissingName {
            line,
            what: format!("a field of section {section}"),
        })?;
    let kind_name = raw.kind.as_ref().ok_or_else(|| TemplateError::Syntax {
        line,
        message: format!("field {} has no type", name.get_ref()),
    })?;
    let kind_line = lines.of_span(kind_name);
    // Keys that only some types take are refused on the others, rather than silently ignored.
    let only = |present: bool, key: &str, ty: &str| {
        if present {
            Err(TemplateError::Syntax {
                line: kind_line,
                message: format!("`{key}` is for {ty} fields, not {}", kind_name.get_ref()),
            })
        } else {
            Ok(())
        }
    };
    let kind = match kind_name.get_ref().as_str() {
        "pick" => FieldKind::Pick {
            options: raw.options.iter().flatten().map(|o| normalise(o)).collect(),
        },
        "number" => FieldKind::Number {
            unit: raw.unit.as_deref().map(normalise),
            min: raw.min,
            max: raw.max,
        },
        "text" => FieldKind::Text,
        "date" => FieldKind::Date,
        other => {
            debug_assert!(!FIELD_TYPES.contains(&other));
            return Err(TemplateError::UnknownFieldType {
                line: kind_line,
                found: other.to_string(),
            });
        }
    };
    if !matches!(kind, FieldKind::Pick { .. }) {
        only(raw.options.is_some(), "options", "pick")?;
    }
    if !matches!(kind, FieldKind::Number { .. }) {
        only(raw.unit.is_some(), "unit", "number")?;
        only(raw.min.is_some() || raw.max.is_some(), "min/max", "number")?;
    }
    Ok(FieldDef {
        name: name.get_ref().clone(),
        label: normalise(&raw.label.clone().unwrap_or_default()),
        kind,
        required: raw.required,
    })
}

/// Writes a template in the native format; [`parse_native`] reads it back to an equal template.
pub fn to_native(t: &Template) -> String {
    let mut out = format!(
        "# Countersign report template, native format {FORMAT}.\nformat = {FORMAT}\nname = {}\ntitle = {}\n",
        quote(&t.name),
        quote(&t.title)
    );
    if let Some(r) = t.resident_countersign {
        out.push_str(&format!("resident-countersign = {}\n", quote(r.name())));
    }
    for s in &t.sections {
        out.push_str(&format!(
            "\n[[section]]\nname = {}\ntitle = {}\n",
            quote(&s.name),
            quote(&s.title)
        ));
        if s.required {
            out.push_str("required = true\n");
        }
        if let Some(r) = s.cosign_role {
            out.push_str(&format!("cosign = {}\n", quote(r.name())));
        }
        for f in &s.fields {
            out.push_str(&format!(
                "\n[[section.field]]\nname = {}\nlabel = {}\n",
                quote(&f.name),
                quote(&f.label)
            ));
            match &f.kind {
                FieldKind::Text => out.push_str("type = \"text\"\n"),
                FieldKind::Date => out.push_str("type = \"date\"\n"),
                FieldKind::Pick { options } => {
                    let list: Vec<String> = options.iter().map(|o| quote(o)).collect();
                    out.push_str(&format!(
                        "type = \"pick\"\noptions = [{}]\n",
                        list.join(", ")
                    ));
                }
                FieldKind::Number { unit, min, max } => {
                    out.push_str("type = \"number\"\n");
                    if let Some(u) = unit {
                        out.push_str(&format!("unit = {}\n", quote(u)));
                    }
                    for (key, v) in [("min", min), ("max", max)] {
                        if let Some(v) = v {
                            out.push_str(&format!("{key} = {v:?}\n"));
                        }
                    }
                }
            }
            if f.required {
                out.push_str("required = true\n");
            }
        }
    }
    out
}

/// A TOML basic string.
pub(crate) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\u{:04X}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
