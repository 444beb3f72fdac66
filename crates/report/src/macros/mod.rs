//! AutoText macros as data: a name, the template sections it applies to, and text with
//! `[field]` placeholders that the radiologist fills in (Tab moves between them in the editor).
//!
//! Macros sit next to templates. The built-in ones (`crates/report/templates/macros.toml`) are
//! for the built-in templates; a department's are published to the roster log by an admin
//! (`macro.publish`), so every peer has the same set. A section version names the macros its
//! text was built from by name and content hash ([`MacroRef`], in `section.write`), which is
//! what the provenance shows and what the sign-off rule reads: a covered version whose text
//! still holds a placeholder of one of *its* macros is unfilled, and sign-off is refused
//! naming the field ([`unfilled`]). A `[sic]` typed by hand is not a field of any macro the
//! write names, so it never blocks.
//!
//! # Placeholder grammar
//! A field is `[` name `]`, the name 1 to [`MAX_FIELD_NAME`] bytes of lowercase ASCII
//! letters, digits and dashes, starting with a letter: `[size]`, `[lobe]`, `[prior-date]`.
//! In a macro's text every `[` opens a field and every `]` closes one (a text that needs a
//! literal bracket is not a macro). A macro has at most [`MAX_MACRO_FIELDS`] distinct fields
//! (one may appear more than once: filling it fills every occurrence), and its text is 1 to
//! [`MAX_MACRO_TEXT`] bytes with no control characters but line feeds.

#[doc(hidden)]
pub mod fuzz;

use std::collections::BTreeMap;
use std::sync::OnceLock;

use countersign_ledger::{EntryId, Hash, Roster};
use serde::{Deserialize, Serialize};

use crate::template::{normalise, valid_name};

/// The longest macro text, in bytes: a findings paragraph, not a report.
pub const MAX_MACRO_TEXT: usize = 4096;
/// The most distinct fields a macro has.
pub const MAX_MACRO_FIELDS: usize = 16;
/// The longest field name, in bytes.
pub const MAX_FIELD_NAME: usize = 32;
/// The most template sections one macro applies to.
pub const MAX_APPLIES: usize = 32;
/// The most macros one `section.write` names.
pub const MAX_MACROS_PER_WRITE: usize = 16;
/// The largest macro file read, in bytes, and the most macros in it.
pub const MAX_MACRO_FILE_BYTES: usize = 256 * 1024;
pub const MAX_MACROS_PER_FILE: usize = 256;
/// The longest value `--fill` puts in a field, in bytes.
pub const MAX_FILL: usize = 200;
/// The only native macro file format so far.
pub const FORMAT: u32 = 1;

/// One template section a macro may be inserted into.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MacroTarget {
    pub template: String,
    pub section: String,
}

/// A macro: what the radiologist types (`name`), what the palette shows (`title`), where it
/// may go (`applies`) and what it inserts (`text`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Macro {
    pub name: String,
    pub title: String,
    pub applies: Vec<MacroTarget>,
    pub text: String,
}

/// What a `section.write` says it was built from: a macro's name and content hash.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MacroRef {
    pub name: String,
    pub hash: Hash,
}

/// `macro.publish` (roster log, admins only): a macro the department's reports may use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MacroPublish {
    #[serde(rename = "macro")]
    pub definition: Macro,
}

/// What is wrong with a macro, or with a macro file (1-based line, when known). Every variant
/// has a stable [`code`](Self::code).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MacroError {
    #[error("{}{message}", at(*line))]
    Syntax {
        line: Option<usize>,
        message: String,
    },
    #[error("{}macro name {name:?} must be 1 to 64 lowercase letters, digits and dashes", at(*line))]
    Name { line: Option<usize>, name: String },
    #[error("{}macro {name}: {message}", at(*line))]
    Invalid {
        line: Option<usize>,
        name: String,
        message: String,
    },
    #[error("{}macro {name}: {found:?} at byte {offset} is not a field: a field is [name], the name 1 to {MAX_FIELD_NAME} lowercase letters, digits and dashes, starting with a letter", at(*line))]
    Placeholder {
        line: Option<usize>,
        name: String,
        offset: usize,
        found: String,
    },
    #[error("{}macro {name} has {found} fields; at most {MAX_MACRO_FIELDS}", at(*line))]
    TooManyFields {
        line: Option<usize>,
        name: String,
        found: usize,
    },
    #[error("{}macro {name:?} appears twice in the file", at(*line))]
    Duplicate { line: Option<usize>, name: String },
}

impl MacroError {
    /// The stable code scripts and the UI match on (see the README's list).
    pub fn code(&self) -> &'static str {
        match self {
            MacroError::Syntax { .. } => "macro_syntax",
            MacroError::Name { .. } => "macro_name",
            MacroError::Invalid { .. } => "macro_invalid",
            MacroError::Placeholder { .. } => "macro_placeholder",
            MacroError::TooManyFields { .. } => "macro_too_many_fields",
            MacroError::Duplicate { .. } => "macro_duplicate",
        }
    }

    fn at_line(mut self, at: Option<usize>) -> Self {
        match &mut self {
            MacroError::Syntax { line, .. }
            | MacroError::Name { line, .. }
            | MacroError::Invalid { line, .. }
            | MacroError::Placeholder { line, .. }
            | MacroError::TooManyFields { line, .. }
            | MacroError::Duplicate { line, .. } => *line = line.or(at),
        }
        self
    }
}

fn at(line: Option<usize>) -> String {
    line.map_or(String::new(), |l| format!("line {l}: "))
}

/// One `[field]` in a text: its name and byte range (brackets included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placeholder<'a> {
    pub name: &'a str,
    pub start: usize,
    pub end: usize,
}

fn field_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= MAX_FIELD_NAME
        && b[0].is_ascii_lowercase()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
}

/// Every well-formed `[field]` in `text`, in order (anything else is left as text).
pub fn placeholders(text: &str) -> Vec<Placeholder<'_>> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'[' {
            // The name ends at the first `]` within reach; a longer run is not a field.
            let limit = (i + 2 + MAX_FIELD_NAME).min(bytes.len());
            if let Some(close) = bytes[i + 1..limit].iter().position(|&c| c == b']') {
                let end = i + 1 + close;
                // `[` and `]` are ASCII, so both ends are character boundaries.
                let name = &text[i + 1..end];
                if field_name(name) {
                    out.push(Placeholder {
                        name,
                        start: i,
                        end: end + 1,
                    });
                    i = end + 1;
                    continue;
                }
            }
        }
        i += 1;
    }
    out
}

/// The fields of `names` whose placeholder is still in `text`, in the order they appear,
/// each once: the pure sign-off rule's question, asked the same by every peer and the app.
pub fn unfilled<'a>(text: &'a str, names: &[&str]) -> Vec<&'a str> {
    let mut out: Vec<&str> = Vec::new();
    for p in placeholders(text) {
        if names.contains(&p.name) && !out.contains(&p.name) {
            out.push(p.name);
        }
    }
    out
}

impl Macro {
    /// SHA-256 of the macro's JSON encoding: the name a `section.write` uses for it.
    pub fn content_hash(&self) -> Hash {
        Hash::of(&serde_json::to_vec(self).expect("macros serialise to JSON"))
    }

    /// How a write names this macro.
    pub fn reference(&self) -> MacroRef {
        MacroRef {
            name: self.name.clone(),
            hash: self.content_hash(),
        }
    }

    /// The distinct field names of the text, in the order they first appear.
    pub fn fields(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for p in placeholders(&self.text) {
            if !out.contains(&p.name) {
                out.push(p.name);
            }
        }
        out
    }

    pub fn applies_to(&self, template: &str, section: &str) -> bool {
        self.applies
            .iter()
            .any(|a| a.template == template && a.section == section)
    }

    fn invalid(&self, message: impl Into<String>) -> MacroError {
        MacroError::Invalid {
            line: None,
            name: self.name.clone(),
            message: message.into(),
        }
    }

    /// Checks everything a macro must be, whatever it was read from (a file, a peer's entry).
    pub fn validate(&self) -> Result<(), MacroError> {
        if !valid_name(&self.name) {
            return Err(MacroError::Name {
                line: None,
                name: self.name.chars().take(80).collect(),
            });
        }
        if self.title.trim().is_empty() || normalise(&self.title) != self.title {
            return Err(self.invalid(
                "the title is empty or has control characters or extra spaces".to_string(),
            ));
        }
        if self.title.len() > crate::template::MAX_TEXT {
            return Err(self.invalid(format!(
                "the title is longer than {} bytes",
                crate::template::MAX_TEXT
            )));
        }
        if self.applies.is_empty() || self.applies.len() > MAX_APPLIES {
            return Err(self.invalid(format!(
                "a macro applies to 1 to {MAX_APPLIES} template sections, not {}",
                self.applies.len()
            )));
        }
        for (i, a) in self.applies.iter().enumerate() {
            if !valid_name(&a.template) || !valid_name(&a.section) {
                return Err(self.invalid(format!(
                    "applies to {:?}/{:?}: template and section are names (lowercase letters, digits and dashes)",
                    a.template.chars().take(80).collect::<String>(),
                    a.section.chars().take(80).collect::<String>()
                )));
            }
            if self.applies[..i].contains(a) {
                return Err(self.invalid(format!("applies to {}/{} twice", a.template, a.section)));
            }
        }
        self.validate_text()
    }

    fn validate_text(&self) -> Result<(), MacroError> {
        let text = &self.text;
        if text.trim().is_empty() || text.trim() != text {
            return Err(self.invalid("the text is empty or starts or ends with spaces"));
        }
        if text.len() > MAX_MACRO_TEXT {
            return Err(self.invalid(format!(
                "the text is {} bytes; at most {MAX_MACRO_TEXT}",
                text.len()
            )));
        }
        // Control characters only, as when macros were first published: a publication that
        // does not validate is not storable, and one an older build stored would strand every
        // roster entry after it. What a macro puts in a section is judged there, with the
        // section's text (`payload::text::hidden_char`).
        if crate::payload::text::control_char(text, true).is_some() {
            return Err(self.invalid("the text has control characters (only line feeds)"));
        }
        // Every bracket belongs to a field: the brackets outside the fields found are errors.
        let fields = placeholders(text);
        let mut next = fields.iter().peekable();
        for (offset, b) in text.bytes().enumerate() {
            while next.peek().is_some_and(|p| p.end <= offset) {
                next.next();
            }
            let inside = next.peek().is_some_and(|p| p.start <= offset);
            if (b == b'[' || b == b']') && !inside {
                let found: String = text[offset..].chars().take(MAX_FIELD_NAME + 2).collect();
                return Err(MacroError::Placeholder {
                    line: None,
                    name: self.name.clone(),
                    offset,
                    found,
                });
            }
        }
        let distinct = self.fields().len();
        if distinct > MAX_MACRO_FIELDS {
            return Err(MacroError::TooManyFields {
                line: None,
                name: self.name.clone(),
                found: distinct,
            });
        }
        Ok(())
    }

    /// The text with the given fields filled (every occurrence); fields not given stay as
    /// placeholders. A value is one line of at most [`MAX_FILL`] bytes without brackets (a
    /// value holding a field would leave it unfilled) or invisible characters
    /// ([`crate::payload::text::hidden_char`]); a name the macro does not have is an error, so
    /// a typo is not silently dropped.
    pub fn fill(&self, values: &BTreeMap<String, String>) -> Result<String, FillError> {
        let fields = self.fields();
        for (name, value) in values {
            if !fields.contains(&name.as_str()) {
                return Err(FillError::UnknownField {
                    name: self.name.clone(),
                    field: name.chars().take(80).collect(),
                    fields: fields.iter().map(|f| f.to_string()).collect(),
                });
            }
            if value.trim().is_empty()
                || value.len() > MAX_FILL
                || value.contains(['[', ']'])
                || crate::payload::text::hidden_char(value, false).is_some()
            {
                return Err(FillError::BadValue {
                    field: name.clone(),
                });
            }
        }
        let mut out = String::with_capacity(self.text.len());
        let mut from = 0;
        for p in placeholders(&self.text) {
            out.push_str(&self.text[from..p.start]);
            match values.get(p.name) {
                Some(v) => out.push_str(v.trim()),
                None => out.push_str(&self.text[p.start..p.end]),
            }
            from = p.end;
        }
        out.push_str(&self.text[from..]);
        Ok(out)
    }
}

/// Why a macro's fields could not be filled as asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FillError {
    #[error("macro {name} has no field [{field}]; its fields: {}", fields.join(", "))]
    UnknownField {
        name: String,
        field: String,
        fields: Vec<String>,
    },
    #[error("the value for [{field}] must be one line of 1 to {MAX_FILL} bytes without brackets or invisible formatting characters")]
    BadValue { field: String },
}

impl FillError {
    pub fn code(&self) -> &'static str {
        match self {
            FillError::UnknownField { .. } => "macro_fill_unknown",
            FillError::BadValue { .. } => "macro_fill_value",
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    format: Option<toml::Spanned<u32>>,
    #[serde(default, rename = "macro")]
    macros: Vec<toml::Spanned<Macro>>,
}

/// Reads a macro file (TOML: `format = 1`, one `[[macro]]` table per macro, each with `name`,
/// `title`, `applies = [{ template, section }, …]` and `text`) and checks every macro in it.
pub fn parse_native(text: &str) -> Result<Vec<Macro>, MacroError> {
    if text.len() > MAX_MACRO_FILE_BYTES {
        return Err(MacroError::Syntax {
            line: None,
            message: format!(
                "a macro file is at most {MAX_MACRO_FILE_BYTES} bytes, this one {}",
                text.len()
            ),
        });
    }
    let line_of = |offset: usize| {
        text.as_bytes()[..offset.min(text.len())]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1
    };
    let raw: RawFile = toml::from_str(text).map_err(|e| MacroError::Syntax {
        line: e.span().map(|s| line_of(s.start)),
        message: e.message().trim().to_string(),
    })?;
    match &raw.format {
        Some(f) if *f.get_ref() == FORMAT => {}
        Some(f) => {
            return Err(MacroError::Syntax {
                line: Some(line_of(f.span().start)),
                message: format!(
                    "format {} is not supported; this version reads format {FORMAT}",
                    f.get_ref()
                ),
            })
        }
        None => {
            return Err(MacroError::Syntax {
                line: Some(1),
                message: format!("missing `format = {FORMAT}`"),
            })
        }
    }
    if raw.macros.is_empty() || raw.macros.len() > MAX_MACROS_PER_FILE {
        return Err(MacroError::Syntax {
            line: None,
            message: format!(
                "a macro file holds 1 to {MAX_MACROS_PER_FILE} [[macro]] tables, not {}",
                raw.macros.len()
            ),
        });
    }
    let mut out: Vec<Macro> = Vec::with_capacity(raw.macros.len());
    for m in raw.macros {
        let line = Some(line_of(m.span().start));
        let m = m.into_inner();
        m.validate().map_err(|e| e.at_line(line))?;
        if out.iter().any(|o| o.name == m.name) {
            return Err(MacroError::Duplicate { line, name: m.name });
        }
        out.push(m);
    }
    Ok(out)
}

/// Writes macros in the native format ([`parse_native`] reads them back equal).
pub fn to_native(macros: &[Macro]) -> String {
    use crate::template::quote;
    let mut out =
        format!("# Countersign AutoText macros, native format {FORMAT}.\nformat = {FORMAT}\n");
    for m in macros {
        let applies: Vec<String> = m
            .applies
            .iter()
            .map(|a| {
                format!(
                    "{{ template = {}, section = {} }}",
                    quote(&a.template),
                    quote(&a.section)
                )
            })
            .collect();
        out.push_str(&format!(
            "\n[[macro]]\nname = {}\ntitle = {}\napplies = [{}]\ntext = {}\n",
            quote(&m.name),
            quote(&m.title),
            applies.join(", "),
            quote(&m.text)
        ));
    }
    out
}

const BUILTIN_SOURCE: &str = include_str!("../../templates/macros.toml");

/// The built-in macros (parsed once; a unit test proves the file parses whole).
pub fn builtin() -> &'static [Macro] {
    static PARSED: OnceLock<Vec<Macro>> = OnceLock::new();
    PARSED.get_or_init(|| parse_native(BUILTIN_SOURCE).unwrap_or_default())
}

/// The built-in macro called `name`.
pub fn builtin_named(name: &str) -> Option<&'static Macro> {
    builtin().iter().find(|m| m.name == name)
}

/// A `macro.publish` payload's macro, if it may be published: valid, and not named like a
/// built-in one (so `nodule` always means the shipped nodule macro).
pub fn publication(payload: &[u8]) -> Result<Macro, PublishError> {
    let p: MacroPublish = crate::payload::parse_as(countersign_ledger::Kind::MacroPublish, payload)
        .map_err(PublishError::Payload)?;
    p.definition.validate().map_err(PublishError::Macro)?;
    if builtin_named(&p.definition.name).is_some() {
        return Err(PublishError::BuiltinName {
            name: p.definition.name,
        });
    }
    Ok(p.definition)
}

/// Why a `macro.publish` payload cannot be stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PublishError {
    #[error(transparent)]
    Payload(crate::payload::PayloadError),
    #[error("the published macro is not valid: {0}")]
    Macro(MacroError),
    #[error("macro {name:?} is built in; a macro of that name cannot be published")]
    BuiltinName { name: String },
}

/// Where a macro comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MacroSource {
    Builtin,
    /// The `macro.publish` entry the roster accepted.
    Published(EntryId),
}

/// Every macro a report may use as the roster resolves: built-in ones, then the accepted
/// publications in roster order (a later one of a name is a newer version; reports keep the
/// version they name by hash).
pub fn catalogue(roster: &Roster) -> Vec<(Macro, MacroSource)> {
    let mut out: Vec<(Macro, MacroSource)> = builtin()
        .iter()
        .map(|m| (m.clone(), MacroSource::Builtin))
        .collect();
    out.extend(
        roster.macros().filter_map(|(id, bytes)| {
            Some((publication(bytes).ok()?, MacroSource::Published(*id)))
        }),
    );
    out
}

/// The macro a write names, as built in or published to the roster (name and content hash
/// both match), or `None`.
pub fn resolve(roster: &Roster, r: &MacroRef) -> Option<Macro> {
    // By name and exact hash, a built-in first: a department's publication whose name a later
    // release takes for a built-in still resolves (a new one of that name is refused).
    if let Some(m) = builtin_named(&r.name).filter(|m| m.content_hash() == r.hash) {
        return Some(m.clone());
    }
    roster
        .macros()
        .filter_map(|(_, bytes)| publication(bytes).ok())
        .find(|m| m.name == r.name && m.content_hash() == r.hash)
}

/// The fields of the macros `w` names whose placeholder is still in its text: what makes a
/// section version unfilled. The one function the sign-off rule and the app's pre-check ask.
/// A macro the roster does not know adds no field (the write itself is refused then).
pub fn unfilled_in_write(roster: &Roster, w: &crate::payload::SectionWrite) -> Vec<String> {
    unfilled_with(roster, &w.text, &w.macros)
}

/// The fields of the macros `refs` names whose placeholder is still in `text` (the sign-off
/// rule passes the macros a version answers for: its own and its section's earlier ones).
pub fn unfilled_with(roster: &Roster, text: &str, refs: &[MacroRef]) -> Vec<String> {
    if refs.is_empty() {
        return Vec::new();
    }
    let macros: Vec<Macro> = refs.iter().filter_map(|r| resolve(roster, r)).collect();
    let names: Vec<&str> = macros.iter().flat_map(|m| m.fields()).collect();
    unfilled(text, &names)
        .into_iter()
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod rule_tests;
