//! Report templates. Built in for now; the workflow work turns them into data files.

use countersign_ledger::Role;
use serde::Serialize;

/// One section of a template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SectionDef {
    pub name: &'static str,
    pub title: &'static str,
    /// A member of this role must co-sign the section's final version before sign-off.
    pub cosign_role: Option<Role>,
}

/// A named, ordered list of sections.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Template {
    pub name: &'static str,
    pub title: &'static str,
    pub sections: &'static [SectionDef],
}

const fn section(name: &'static str, title: &'static str) -> SectionDef {
    SectionDef {
        name,
        title,
        cosign_role: None,
    }
}

pub static TEMPLATES: &[Template] = &[
    Template {
        name: "ct-chest",
        title: "CT chest",
        sections: &[
            section("technique", "Technique"),
            section("findings", "Findings"),
            section("impression", "Impression"),
        ],
    },
    Template {
        name: "cardiac-mr",
        title: "Cardiac MR",
        sections: &[
            section("technique", "Technique"),
            section("findings", "Findings"),
            SectionDef {
                name: "cardiac",
                title: "Cardiac assessment",
                cosign_role: Some(Role::Cardiologist),
            },
            section("impression", "Impression"),
        ],
    },
];

/// The built-in template called `name`.
pub fn template(name: &str) -> Option<&'static Template> {
    TEMPLATES.iter().find(|t| t.name == name)
}

impl Template {
    pub fn section(&self, name: &str) -> Option<&SectionDef> {
        self.sections.iter().find(|s| s.name == name)
    }
}
