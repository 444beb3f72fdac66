//! Report templates as data: sections, their fields, what must be written before sign-off and
//! which role must co-sign what.
//!
//! A template is written in the native TOML format ([`parse_native`], files in
//! `crates/report/templates/`) or imported from the IHE MRRT HTML subset ([`from_mrrt`]). The
//! rules are the network's, not a report's: a report names its template by content hash
//! ([`Template::content_hash`]), and that template is either built in or published to the roster
//! log by an admin (`template.publish`). A built-in name cannot be published again, so
//! `cardiac-mr` always means the cardiac MR template with its cardiologist co-sign.

#[doc(hidden)]
pub mod fuzz;
mod mrrt;
mod native;

use std::sync::OnceLock;

use countersign_ledger::Role;
use serde::{Deserialize, Serialize};

pub use mrrt::{from_mrrt, to_mrrt};
pub(crate) use native::quote;
pub use native::{parse_native, to_native, MAX_TEMPLATE_BYTES};

/// The largest number of sections, fields per section and pick-list options a template may
/// have: a template is read from files and from other peers' entries, so everything is bounded.
pub const MAX_SECTIONS: usize = 64;
pub const MAX_FIELDS: usize = 64;
pub const MAX_OPTIONS: usize = 256;
/// Longest name, title, label, unit or option, in bytes.
pub const MAX_TEXT: usize = 200;

/// A named, ordered list of sections.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Template {
    pub name: String,
    pub title: String,
    pub sections: Vec<SectionDef>,
    /// A section whose signed-off version a resident wrote needs this role's co-signature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resident_countersign: Option<Role>,
}

impl Template {
    /// The template of a report whose `report.create` payload is not held: no sections, so
    /// no rule that needs one can pass.
    pub fn not_held() -> Template {
        Template {
            name: String::new(),
            title: String::new(),
            sections: Vec::new(),
            resident_countersign: None,
        }
    }
}

/// One section of a template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SectionDef {
    pub name: String,
    pub title: String,
    /// The section must be written before final sign-off.
    #[serde(default)]
    pub required: bool,
    /// A member of this role must co-sign the section's final version before sign-off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cosign_role: Option<Role>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldDef>,
}

/// A structured field of a section. (Not `deny_unknown_fields`: serde cannot combine it with
/// the flattened kind; the native reader refuses unknown keys itself.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldDef {
    pub name: String,
    pub label: String,
    #[serde(flatten)]
    pub kind: FieldKind,
    /// The field must have a value in the signed-off version of its section.
    #[serde(default)]
    pub required: bool,
}

/// What a field holds. Values are signed as strings and checked against this.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum FieldKind {
    /// Free text on one line.
    Text,
    /// One of a fixed list of options.
    Pick { options: Vec<String> },
    /// A decimal number, with an optional unit and bounds.
    Number {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        unit: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min: Option<f64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max: Option<f64>,
    },
    /// A calendar date, `YYYY-MM-DD`.
    Date,
}

// Bounds are finite numbers ([`Template::validate`] refuses NaN and infinities), so equality
// is an equivalence.
impl Eq for FieldKind {}

/// The field types the native format accepts, as written there.
pub const FIELD_TYPES: &[&str] = &["text", "pick", "number", "date"];

/// What is wrong with a template, and where (1-based line of the file, when known).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("{}{message}", at(*line))]
    Syntax {
        line: Option<usize>,
        message: String,
    },
    #[error("{}unknown field type {found:?}; supported: {}", at(*line), FIELD_TYPES.join(", "))]
    UnknownFieldType { line: Option<usize>, found: String },
    #[error("{}{what} has no name", at(*line))]
    MissingName { line: Option<usize>, what: String },
    #[error("{}section {name:?} appears twice", at(*line))]
    DuplicateSection { line: Option<usize>, name: String },
    #[error("{}section {section:?} has field {name:?} twice", at(*line))]
    DuplicateField {
        line: Option<usize>,
        section: String,
        name: String,
    },
    #[error("{}{what} is not supported: {why}", at(*line))]
    Unsupported {
        line: Option<usize>,
        what: String,
        why: String,
    },
    #[error("{}{message}", at(*line))]
    Invalid {
        line: Option<usize>,
        message: String,
    },
}

fn at(line: Option<usize>) -> String {
    line.map_or(String::new(), |l| format!("line {l}: "))
}

fn invalid(line: Option<usize>, message: impl Into<String>) -> TemplateError {
    TemplateError::Invalid {
        line,
        message: message.into(),
    }
}

/// A template name: lowercase letters, digits and dashes, as in file names and URLs.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
}

/// Text as every reader leaves it: words separated by single spaces, no control characters.
/// Readers normalise what they read, and a template from a peer must already be normal, so a
/// title means the same after any round trip through HTML, TOML or JSON.
pub fn normalise(text: &str) -> String {
    text.split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn bounded_text(what: &str, text: &str) -> Result<(), TemplateError> {
    if text.trim().is_empty() {
        return Err(invalid(None, format!("{what} is empty")));
    }
    if normalise(text) != text {
        return Err(invalid(
            None,
            format!("{what} has control characters or extra spaces: {text:?}"),
        ));
    }
    if text.len() > MAX_TEXT {
        return Err(invalid(
            None,
            format!("{what} is longer than {MAX_TEXT} bytes"),
        ));
    }
    Ok(())
}

impl Template {
    /// SHA-256 of the template's JSON encoding (fields in declaration order, maps sorted): the
    /// name reports use for it in `report.create`.
    pub fn content_hash(&self) -> countersign_ledger::Hash {
        let bytes = serde_json::to_vec(self).expect("templates serialise to JSON");
        countersign_ledger::Hash::of(&bytes)
    }

    /// Checks everything a template must be, whatever it was read from: names are identifiers,
    /// titles and labels non-empty and bounded, sections and fields unique and bounded,
    /// pick-lists non-empty, number bounds finite and ordered, co-sign roles human.
    pub fn validate(&self) -> Result<(), TemplateError> {
        if !valid_name(&self.name) {
            return Err(invalid(
                None,
                format!(
                    "template name {:?} must be lowercase letters, digits and dashes",
                    self.name
                ),
            ));
        }
        bounded_text("the template title", &self.title)?;
        if self.sections.is_empty() || self.sections.len() > MAX_SECTIONS {
            return Err(invalid(
                None,
                format!(
                    "a template has 1 to {MAX_SECTIONS} sections, not {}",
                    self.sections.len()
                ),
            ));
        }
        for (i, s) in self.sections.iter().enumerate() {
            if self.sections[..i].iter().any(|o| o.name == s.name) {
                return Err(TemplateError::DuplicateSection {
                    line: None,
                    name: s.name.clone(),
                });
            }
            s.validate()?;
        }
        for role in self.sections.iter().filter_map(|s| s.cosign_role) {
            human_role(role)?;
        }
        if let Some(role) = self.resident_countersign {
            human_role(role)?;
        }
        Ok(())
    }

    pub fn section(&self, name: &str) -> Option<&SectionDef> {
        self.sections.iter().find(|s| s.name == name)
    }
}

/// A role named in a template file; `what` says where, for the error.
pub(crate) fn parse_role(
    value: &str,
    line: Option<usize>,
    what: &str,
) -> Result<Role, TemplateError> {
    value.trim().parse().map_err(|e| TemplateError::Invalid {
        line,
        message: format!("{what}: {e}"),
    })
}

fn human_role(role: Role) -> Result<(), TemplateError> {
    if role.is_human() && role != Role::Resident {
        Ok(())
    } else {
        Err(invalid(None, format!("a {role} cannot be the co-signer")))
    }
}

impl SectionDef {
    fn validate(&self) -> Result<(), TemplateError> {
        if !valid_name(&self.name) {
            return Err(invalid(
                None,
                format!(
                    "section name {:?} must be lowercase letters, digits and dashes",
                    self.name
                ),
            ));
        }
        bounded_text(&format!("the title of section {}", self.name), &self.title)?;
        if self.fields.len() > MAX_FIELDS {
            return Err(invalid(
                None,
                format!("section {} has more than {MAX_FIELDS} fields", self.name),
            ));
        }
        for (i, f) in self.fields.iter().enumerate() {
            if self.fields[..i].iter().any(|o| o.name == f.name) {
                return Err(TemplateError::DuplicateField {
                    line: None,
                    section: self.name.clone(),
                    name: f.name.clone(),
                });
            }
            f.validate(&self.name)?;
        }
        Ok(())
    }

    pub fn field(&self, name: &str) -> Option<&FieldDef> {
        self.fields.iter().find(|f| f.name == name)
    }
}

impl FieldDef {
    fn validate(&self, section: &str) -> Result<(), TemplateError> {
        if !valid_name(&self.name) {
            return Err(invalid(
                None,
                format!(
                    "field name {:?} in section {section} must be lowercase letters, digits and dashes",
                    self.name
                ),
            ));
        }
        bounded_text(&format!("the label of field {}", self.name), &self.label)?;
        match &self.kind {
            FieldKind::Pick { options } => {
                if options.is_empty() || options.len() > MAX_OPTIONS {
                    return Err(invalid(
                        None,
                        format!(
                            "pick-list {} has 1 to {MAX_OPTIONS} options, not {}",
                            self.name,
                            options.len()
                        ),
                    ));
                }
                for (i, o) in options.iter().enumerate() {
                    bounded_text(&format!("an option of {}", self.name), o)?;
                    if options[..i].contains(o) {
                        return Err(invalid(
                            None,
                            format!("pick-list {} lists {o:?} twice", self.name),
                        ));
                    }
                }
            }
            FieldKind::Number { unit, min, max } => {
                if let Some(u) = unit {
                    bounded_text(&format!("the unit of {}", self.name), u)?;
                }
                if min.is_some_and(|v| !v.is_finite()) || max.is_some_and(|v| !v.is_finite()) {
                    return Err(invalid(
                        None,
                        format!("the bounds of {} must be finite numbers", self.name),
                    ));
                }
                if let (Some(lo), Some(hi)) = (min, max) {
                    if lo > hi {
                        return Err(invalid(
                            None,
                            format!("{}: min {lo} is above max {hi}", self.name),
                        ));
                    }
                }
            }
            FieldKind::Text | FieldKind::Date => {}
        }
        Ok(())
    }

    /// Checks a value signed for this field; says in words what is wrong.
    pub fn check_value(&self, value: &str) -> Result<(), String> {
        if value.trim().is_empty() {
            return Err("the value is empty".into());
        }
        if value.len() > 1000 {
            return Err("the value is longer than 1000 bytes".into());
        }
        match &self.kind {
            FieldKind::Text => Ok(()),
            FieldKind::Pick { options } => {
                if options.iter().any(|o| o == value) {
                    Ok(())
                } else {
                    Err(format!("{value:?} is not one of {}", options.join(", ")))
                }
            }
            FieldKind::Number { min, max, .. } => {
                let n = parse_decimal(value)
                    .ok_or_else(|| format!("{value:?} is not a decimal number"))?;
                if min.is_some_and(|lo| n < lo) || max.is_some_and(|hi| n > hi) {
                    return Err(format!(
                        "{value} is outside {}..{}",
                        min.map_or("".into(), |v| v.to_string()),
                        max.map_or("".into(), |v| v.to_string())
                    ));
                }
                Ok(())
            }
            FieldKind::Date => {
                if crate::payload::valid_date(value) {
                    Ok(())
                } else {
                    Err(format!("{value:?} is not a YYYY-MM-DD date"))
                }
            }
        }
    }

    /// The value as a reader sees it: the number with its unit.
    pub fn display(&self, value: &str) -> String {
        match &self.kind {
            FieldKind::Number { unit: Some(u), .. } => format!("{value} {u}"),
            _ => value.to_string(),
        }
    }
}

/// A plain decimal (`-12`, `3.5`): no exponents, infinities or hex, so the signed string means
/// one number to every reader.
fn parse_decimal(s: &str) -> Option<f64> {
    let digits = s.strip_prefix('-').unwrap_or(s);
    let mut parts = digits.splitn(2, '.');
    let whole = parts.next()?;
    let frac = parts.next();
    let all_digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(whole) || frac.is_some_and(|f| !all_digits(f)) || s.len() > 32 {
        return None;
    }
    s.parse().ok()
}

/// The shipped templates, in the native format.
const BUILTIN_SOURCES: &[&str] = &[
    include_str!("../../templates/ct-chest.toml"),
    include_str!("../../templates/cardiac-mr.toml"),
    include_str!("../../templates/pet-mr.toml"),
    include_str!("../../templates/chest-radiograph.toml"),
];

/// The built-in templates (parsed once; a unit test proves each parses).
pub fn builtin() -> &'static [Template] {
    static PARSED: OnceLock<Vec<Template>> = OnceLock::new();
    PARSED.get_or_init(|| {
        BUILTIN_SOURCES
            .iter()
            .filter_map(|src| parse_native(src).ok())
            .collect()
    })
}

/// The built-in template called `name`.
pub fn template(name: &str) -> Option<&'static Template> {
    builtin().iter().find(|t| t.name == name)
}

/// The built-in template whose content hash is `hash`.
pub fn builtin_by_hash(hash: &countersign_ledger::Hash) -> Option<&'static Template> {
    static HASHES: OnceLock<Vec<countersign_ledger::Hash>> = OnceLock::new();
    let hashes = HASHES.get_or_init(|| builtin().iter().map(Template::content_hash).collect());
    hashes.iter().position(|h| h == hash).map(|i| &builtin()[i])
}

#[cfg(test)]
mod tests;
