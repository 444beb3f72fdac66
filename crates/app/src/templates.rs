//! Templates: the built-in ones and those imported into this home (`<home>/templates/NAME.toml`,
//! in the native format), importing native or MRRT HTML files, and showing one in either format.

use std::path::{Path, PathBuf};

use countersign_report::template::{self, Template, TemplateError};
use serde::Serialize;

use crate::error::{AppError, Result};
use crate::home::Home;

/// A template a new report can be written from.
#[derive(Debug, Clone, Serialize)]
pub struct TemplateRef {
    pub name: String,
    pub title: String,
    /// `built-in` or `imported`.
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
    fn template_dir(&self) -> PathBuf {
        self.dir().join("templates")
    }

    fn template_path(&self, name: &str) -> PathBuf {
        // Names are checked to be lowercase letters, digits and dashes before they get here.
        self.template_dir().join(format!("{name}.toml"))
    }

    /// Built-in templates first, then those imported into this home, by name.
    pub fn templates(&self) -> Result<Vec<TemplateRef>> {
        let mut out: Vec<TemplateRef> = template::builtin()
            .iter()
            .map(|t| describe(t, "built-in"))
            .collect();
        let mut imported = self.imported_templates()?;
        imported.sort_by(|a, b| a.name.cmp(&b.name));
        out.extend(imported.iter().map(|t| describe(t, "imported")));
        Ok(out)
    }

    fn imported_templates(&self) -> Result<Vec<Template>> {
        let dir = self.template_dir();
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(AppError::io(format!("reading {}", dir.display()))(e)),
        };
        let mut out = Vec::new();
        for entry in entries {
            let path = entry
                .map_err(AppError::io(format!("reading {}", dir.display())))?
                .path();
            if path.extension().is_some_and(|e| e == "toml") {
                out.push(read_template(&path, TemplateFormat::Native)?);
            }
        }
        Ok(out)
    }

    /// The template called `name`: built-in, else imported into this home.
    pub fn template(&self, name: &str) -> Result<Template> {
        if let Some(t) = template::template(name) {
            return Ok(t.clone());
        }
        let path = self.template_path(name);
        if template::valid_name(name) && path.is_file() {
            return read_template(&path, TemplateFormat::Native);
        }
        let known: Vec<String> = self.templates()?.into_iter().map(|t| t.name).collect();
        Err(AppError::InvalidInput(format!(
            "unknown template {name:?}; templates: {}",
            known.join(", ")
        )))
    }

    /// Reads a template file (native, or MRRT HTML by extension), checks it and keeps it in
    /// this home. A built-in name cannot be taken; importing the same name again replaces it
    /// (reports already written keep the template they were written to: they carry it).
    pub fn template_import(&self, path: &Path) -> Result<TemplateRef> {
        let t = read_template(path, TemplateFormat::of(path))?;
        if template::template(&t.name).is_some() {
            return Err(AppError::InvalidInput(format!(
                "{:?} is a built-in template; give the imported one another name",
                t.name
            )));
        }
        let dir = self.template_dir();
        std::fs::create_dir_all(&dir)
            .map_err(AppError::io(format!("creating {}", dir.display())))?;
        // Written aside and renamed, so a crash never leaves half a template.
        let target = self.template_path(&t.name);
        let tmp = target.with_extension("toml.tmp");
        std::fs::write(&tmp, template::to_native(&t))
            .map_err(AppError::io(format!("writing {}", tmp.display())))?;
        std::fs::rename(&tmp, &target)
            .map_err(AppError::io(format!("writing {}", target.display())))?;
        Ok(describe(&t, "imported"))
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
