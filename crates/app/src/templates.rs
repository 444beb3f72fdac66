//! Templates: the built-in ones and those an admin published to the department's roster,
//! publishing native or MRRT HTML files, and showing one in either format. Rules are the
//! network's: a report names its template by content hash, so it cannot bring its own.

use std::path::Path;

use countersign_report::template::{self, Template, TemplateError};
use serde::Serialize;

use crate::error::{AppError, Result};
use crate::home::Home;

/// A template a new report can be written from.
#[derive(Debug, Clone, Serialize)]
pub struct TemplateRef {
    pub name: String,
    pub title: String,
    /// `built-in` or `published`.
    pub source: &'static str,
    pub sections: usize,
}

/// The format a template file is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemplateFormat {
    Native,
    Mrrt,
}

impl TemplateFormat {
    /// `.html`/`.htm` files are MRRT; anything else is read as native TOML.
    pub fn of(path: &Path) -> TemplateFormat {
        match path.extension().and_then(|e| e.to_str()) {
            Some(e) if e.eq_ignore_ascii_case("html") || e.eq_ignore_ascii_case("htm") => {
                TemplateFormat::Mrrt
            }
            _ => TemplateFormat::Native,
        }
    }
}

fn describe(t: &Template, source: &'static str) -> TemplateRef {
    TemplateRef {
        name: t.name.clone(),
        title: t.title.clone(),
        source,
        sections: t.sections.len(),
    }
}

impl Home {
    /// The templates an admin published to the roster and the roster accepts, in roster order
    /// (a later one of the same name is a newer version).
    fn published_templates(&self) -> Result<Vec<Template>> {
        let state = self.state()?;
        Ok(state
            .roster()
            .templates()
            .filter_map(|(_, bytes)| {
                serde_json::from_slice::<countersign_report::payload::TemplatePublish>(bytes)
                    .ok()
                    .map(|p| p.template)
            })
            .collect())
    }

    /// Built-in templates first, then those published to the department's roster, by name
    /// (the newest version of each).
    pub fn templates(&self) -> Result<Vec<TemplateRef>> {
        let mut out: Vec<TemplateRef> = template::builtin()
            .iter()
            .map(|t| describe(t, "built-in"))
            .collect();
        let mut newest: std::collections::BTreeMap<String, Template> = Default::default();
        for t in self.published_templates()? {
            newest.insert(t.name.clone(), t);
        }
        out.extend(newest.values().map(|t| describe(t, "published")));
        Ok(out)
    }

    /// The template called `name`: built in, else the newest published to the roster.
    pub fn template(&self, name: &str) -> Result<Template> {
        if let Some(t) = template::template(name) {
            return Ok(t.clone());
        }
        if let Some(t) = self
            .published_templates()?
            .into_iter()
            .rfind(|t| t.name == name)
        {
            return Ok(t);
        }
        let known: Vec<String> = self.templates()?.into_iter().map(|t| t.name).collect();
        Err(AppError::InvalidInput(format!(
            "unknown template {name:?}; templates: {}",
            known.join(", ")
        )))
    }

    /// The template a new report is written to (named by its content hash in the report).
    pub(crate) fn template_for_report(&self, name: &str) -> Result<Template> {
        self.template(name)
    }

    /// Reads a template file (native, or MRRT HTML by extension), checks it and publishes it
    /// to the department's roster, signed by this home's admin key: from then on every peer's
    /// reports may use it, and every peer judges them by exactly this template. A built-in
    /// name cannot be taken; publishing a name again is a new version (reports already written
    /// keep the version they name by content hash).
    pub fn template_publish(&mut self, path: &Path) -> Result<TemplateRef> {
        let t = read_template(path, TemplateFormat::of(path))?;
        if template::template(&t.name).is_some() {
            return Err(AppError::InvalidInput(format!(
                "{:?} is a built-in template; give the published one another name",
                t.name
            )));
        }
        let network = self.state()?.network()?;
        let payload = crate::home::json(&countersign_report::payload::TemplatePublish {
            template: t.clone(),
        });
        self.append_own(
            Some(network),
            countersign_ledger::Kind::TemplatePublish,
            &payload,
        )?;
        Ok(describe(&t, "published"))
    }
}

/// Reads and checks one template file; errors name the file and the line.
pub fn read_template(path: &Path, format: TemplateFormat) -> Result<Template> {
    let size = std::fs::metadata(path)
        .map_err(AppError::io(format!("reading {}", path.display())))?
        .len();
    if size > template::MAX_TEMPLATE_BYTES as u64 {
        return Err(AppError::Template {
            file: path.display().to_string(),
            error: TemplateError::Invalid {
                line: None,
                message: format!(
                    "{size} bytes; a template is at most {}",
                    template::MAX_TEMPLATE_BYTES
                ),
            },
        });
    }
    let text = std::fs::read_to_string(path)
        .map_err(AppError::io(format!("reading {}", path.display())))?;
    let parsed = match format {
        TemplateFormat::Native => template::parse_native(&text),
        TemplateFormat::Mrrt => template::from_mrrt(&text),
    };
    parsed.map_err(|error| AppError::Template {
        file: path.display().to_string(),
        error,
    })
}
