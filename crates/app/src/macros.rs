//! AutoText: the macros a report's sections may use (built in, and those an admin published to
//! the department's roster), publishing a macro file, and writing a section from a macro. The
//! rules — which macros a write may name, and that sign-off refuses an unfilled `[field]` —
//! are the report crate's ([`countersign_report::macros`]), judged on every peer alike; this
//! module only finds, reads and signs.

use std::collections::BTreeMap;
use std::path::Path;

use countersign_ledger::{EntryId, Hash, Kind};
use countersign_report::macros::{
    self, Macro, MacroError, MacroPublish, MacroRef, MacroSource, MacroTarget,
};
use serde::Serialize;

use crate::error::{AppError, Result};
use crate::home::{json, Home};

/// A macro as the CLI and the editor list it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MacroInfo {
    pub name: String,
    pub title: String,
    /// `built-in` or `published`.
    pub source: &'static str,
    /// The content hash a write names it by.
    pub hash: Hash,
    pub applies: Vec<MacroTarget>,
    pub text: String,
    /// The `[field]` names of the text, in order.
    pub fields: Vec<String>,
}

fn info(m: &Macro, source: MacroSource) -> MacroInfo {
    MacroInfo {
        name: m.name.clone(),
        title: m.title.clone(),
        source: match source {
            MacroSource::Builtin => "built-in",
            MacroSource::Published(_) => "published",
        },
        hash: m.content_hash(),
        applies: m.applies.clone(),
        text: m.text.clone(),
        fields: m.fields().into_iter().map(str::to_string).collect(),
    }
}

impl Home {
    /// Every macro, newest version of each name (built-in ones first, then the published ones
    /// by name), optionally only those for a template and/or section.
    pub fn macros(&self, template: Option<&str>, section: Option<&str>) -> Result<Vec<MacroInfo>> {
        let state = self.state()?;
        let mut builtin = Vec::new();
        let mut published: BTreeMap<String, MacroInfo> = BTreeMap::new();
        for (m, source) in macros::catalogue(state.roster()) {
            let fits = m.applies.iter().any(|a| {
                template.is_none_or(|t| a.template == t) && section.is_none_or(|s| a.section == s)
            });
            if !fits {
                continue;
            }
            match source {
                MacroSource::Builtin => builtin.push(info(&m, source)),
                // Roster order: a later publication of a name is its newer version.
                MacroSource::Published(_) => {
                    published.insert(m.name.clone(), info(&m, source));
                }
            }
        }
        builtin.extend(published.into_values());
        Ok(builtin)
    }

    /// The macro called `name` (the newest published version of a department's).
    pub fn macro_show(&self, name: &str) -> Result<MacroInfo> {
        self.macros(None, None)?
            .into_iter()
            .find(|m| m.name == name)
            .ok_or_else(|| AppError::NotFound {
                what: format!("macro {:?}", name.chars().take(64).collect::<String>()),
            })
    }

    /// The macros that apply to one section of a report (its template's): what the editor's
    /// palette and name expansion offer.
    pub fn macros_for_section(&self, report: EntryId, section: &str) -> Result<Vec<MacroInfo>> {
        let template = self.report_show(report)?.template;
        self.macros(Some(&template), Some(section))
    }

    /// Reads a macro file and publishes each macro in it to the department's roster, signed by
    /// this home's admin key: from then on every peer has it. A built-in name cannot be taken;
    /// publishing a name again is a new version (reports already written keep the version they
    /// name by content hash).
    pub fn macro_publish(&mut self, path: &Path) -> Result<Vec<MacroInfo>> {
        let parsed = read_macros(path)?;
        if let Some(m) = parsed
            .iter()
            .find(|m| macros::builtin_named(&m.name).is_some())
        {
            return Err(AppError::InvalidInput(format!(
                "{:?} is a built-in macro; give the published one another name",
                m.name
            )));
        }
        let network = self.state()?.network()?;
        let mut out = Vec::with_capacity(parsed.len());
        for m in parsed {
            let payload = json(&MacroPublish {
                definition: m.clone(),
            });
            let entry = self.append_own(Some(network), Kind::MacroPublish, &payload)?;
            out.push(info(&m, MacroSource::Published(entry.id())));
        }
        Ok(out)
    }

    /// Signs a section version built from the macro called `name`: `text` (if any), then the
    /// macro's text with the `fill` values put in its fields (the others left as `[field]`,
    /// for sign-off to refuse until filled). The write names the macro by content hash.
    pub fn report_write_macro(
        &mut self,
        report: EntryId,
        section: &str,
        name: &str,
        text: &str,
        fill: Vec<(String, String)>,
    ) -> Result<EntryId> {
        let found = self
            .macros_for_section(report, section)?
            .into_iter()
            .find(|m| m.name == name);
        let Some(found) = found else {
            // Say why: no such macro, or one for another section.
            let exists = self.macro_show(name)?;
            return Err(AppError::InvalidInput(format!(
                "macro {} does not apply to section {section} of this report (it applies to {})",
                exists.name,
                exists
                    .applies
                    .iter()
                    .map(|a| format!("{}/{}", a.template, a.section))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        };
        let m = Macro {
            name: found.name.clone(),
            title: found.title.clone(),
            applies: found.applies.clone(),
            text: found.text.clone(),
        };
        let mut values = BTreeMap::new();
        for (k, v) in fill {
            if values.insert(k.clone(), v).is_some() {
                return Err(AppError::InvalidInput(format!(
                    "--fill {k} is given twice; give each field once"
                )));
            }
        }
        let expanded = m.fill(&values)?;
        let body = if text.trim().is_empty() {
            expanded
        } else {
            format!("{}\n{expanded}", text.trim_end())
        };
        self.report_write_with_macros(report, section, &body, BTreeMap::new(), vec![m.reference()])
    }

    /// Signs a section version naming the macros its text was built from (the editor sends
    /// those it expanded); the report rules judge that each is known and applies here.
    pub fn report_write_with_macros(
        &mut self,
        report: EntryId,
        section: &str,
        text: &str,
        fields: BTreeMap<String, String>,
        macros: Vec<MacroRef>,
    ) -> Result<EntryId> {
        // The links the text still refers to by marker stay with it.
        let links = self.links_carried(report, section, text)?;
        self.write_version(report, section, text, text, fields, macros, links)
    }
}

/// Reads and checks one macro file; errors name the file and the line.
pub fn read_macros(path: &Path) -> Result<Vec<Macro>> {
    let bad = |error: MacroError| AppError::Macro {
        file: path.display().to_string(),
        error,
    };
    let size = std::fs::metadata(path)
        .map_err(AppError::io(format!("reading {}", path.display())))?
        .len();
    if size > macros::MAX_MACRO_FILE_BYTES as u64 {
        return Err(bad(MacroError::Syntax {
            line: None,
            message: format!(
                "{size} bytes; a macro file is at most {}",
                macros::MAX_MACRO_FILE_BYTES
            ),
        }));
    }
    let text = std::fs::read_to_string(path)
        .map_err(AppError::io(format!("reading {}", path.display())))?;
    macros::parse_native(&text).map_err(bad)
}
