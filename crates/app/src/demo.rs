//! `demo`: a department network and a cardiac MR report with contributions by three people, so
//! a newcomer sees the whole idea in one command.

use countersign_ledger::roster::AiModelInfo;
use countersign_ledger::{EntryId, Kind, PublicKey, Role, SecretKey, Signer};
use countersign_report::payload::{Channel, Decision, SectionCosign, SectionWrite};
use serde::Serialize;

use std::path::{Path, PathBuf};

use countersign_imaging::{phantom_study_uid, write_phantom_series, PhantomSpec};

use crate::error::{AppError, Result};
use crate::home::{json, Home};
use crate::keys::{Passphrase, DEMO_PASSPHRASE};

#[derive(Debug, Clone, Serialize)]
pub struct DemoMember {
    pub key: PublicKey,
    pub name: String,
    pub role: Role,
}

#[derive(Debug, Clone, Serialize)]
pub struct DemoSummary {
    pub network: EntryId,
    /// The synthetic phantom study the report is bound to.
    pub study: String,
    pub report: EntryId,
    pub members: Vec<DemoMember>,
    pub entries: u64,
}

impl Home {
    /// Founds a demo network in this (empty) home with an attending radiologist (this home's
    /// identity), a cardiologist and a resident whose keys are kept in this home's key store,
    /// every key sealed under [`DEMO_PASSPHRASE`], and writes a signed-off cardiac MR report.
    pub fn demo(&mut self) -> Result<DemoSummary> {
        self.demo_sealed(&Passphrase::new(DEMO_PASSPHRASE))
    }

    /// [`Home::demo`] with the keys sealed under `passphrase` (the desktop's "Open demo" asks,
    /// offering the demo passphrase).
    pub fn demo_sealed(&mut self, passphrase: &Passphrase) -> Result<DemoSummary> {
        let me = self.init_sealed(
            "Dr Ada Attending",
            Role::Attending,
            Some("Countersign demo department"),
            None,
            passphrase,
        )?;
        let network = self.state()?.network()?;
        // Unsealed by init; shared, so that it signs while the home is borrowed.
        let attending = self.signer()?;
        let cardiologist = SecretKey::generate(&mut rand_core::OsRng);
        let resident = SecretKey::generate(&mut rand_core::OsRng);
        let mut members = vec![DemoMember {
            key: me.key,
            name: me.name,
            role: me.role,
        }];
        let model = SecretKey::generate(&mut rand_core::OsRng);
        let model_info = AiModelInfo {
            vendor: "Countersign Labs".into(),
            model: crate::ai::SOFT_TISSUE_STATS.into(),
            version: "1.0.0".into(),
            regulatory_id: None,
        };
        for (key, name, role) in [
            (&cardiologist, "Dr Carl Cardiologist", Role::Cardiologist),
            (&resident, "Dr Rhea Resident", Role::Resident),
            (&model, crate::ai::SOFT_TISSUE_STATS, Role::AiModel),
        ] {
            self.keys().save(key, passphrase)?;
            let info = (role == Role::AiModel).then(|| model_info.clone());
            self.roster_add(key.public(), name, role, false, info)?;
            members.push(DemoMember {
                key: key.public(),
                name: name.into(),
                role,
            });
        }

        // A synthetic study (no patient data), imported so the report binds its images.
        let spec = demo_phantom(&network.to_string());
        let staging = self.dir().join("demo-phantom");
        let files = write_phantom_series(&spec, &staging)?;
        let paths: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
        self.import(&paths, |_| {})?;
        std::fs::remove_dir_all(&staging)
            .map_err(AppError::io("removing the demo staging folder"))?;
        let study = phantom_study_uid(&spec.seed);
        let report = self.report_new(&study, "cardiac-mr", &[])?;
        let write = |section: &str, text: &str, fields: &[(&str, &str)]| {
            json(&SectionWrite {
                section: section.into(),
                text: text.into(),
                fields: fields
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                macros: Vec::new(),
                links: Vec::new(),
            })
        };
        type Step<'a> = (&'a dyn Signer, &'a str, &'a str, &'a [(&'a str, &'a str)]);
        let steps: [Step; 5] = [
            (&resident as &dyn Signer, "technique", "Cine SSFP in short axis and long axis planes; late gadolinium enhancement after 0.1 mmol/kg gadobutrol.", &[]),
            (&resident, "findings", "Normal left ventricular size. No pericardial effusion.", &[]),
            (&attending, "findings", "Normal left ventricular size and wall thickness. No pericardial effusion. No late gadolinium enhancement.", &[]),
            (&attending, "cardiac", "LVEF 58%. LVEDV 142 ml (indexed 74 ml/m2). Normal regional wall motion. No myocardial scar.", &[("lvef", "58"), ("lge", "none")]),
            (&attending, "impression", "Structurally normal heart with preserved biventricular function.", &[]),
        ];
        let mut technique = None;
        for (key, section, text, fields) in steps {
            let id = self
                .append(
                    key,
                    Some(report),
                    Kind::SectionWrite,
                    &write(section, text, fields),
                )?
                .id();
            if section == "technique" {
                technique = Some(id);
            }
        }
        // The resident drafted the technique; the attending countersigns it.
        if let Some(version) = technique {
            let payload = json(&SectionCosign {
                section: "technique".into(),
                version,
            });
            self.append(&attending, Some(report), Kind::SectionCosign, &payload)?;
        }
        // An incidental finding that needed the referrer told now.
        self.report_critical(
            report,
            "Incidental 9 mm pulmonary nodule in the right lower lobe on the localiser images.",
            "Dr Hale, referring cardiologist",
            Channel::Phone,
            true,
        )?;
        // The attending grants the AI model this report (it may write only where it may read);
        // the model measures the images and proposes findings text; the attending edits it
        // into the findings (an AI draft, reviewed by a human, signed by both).
        let grant = json(&countersign_report::payload::AccessChange {
            member: model.public(),
        });
        self.append(&attending, Some(report), Kind::AccessGrant, &grant)?;
        let proposal = self.soft_tissue_result(report, &model_info)?;
        let result = self
            .append(&model, Some(report), Kind::AiResult, &proposal)?
            .id();
        let measured = self
            .report_show(report)?
            .ai
            .first()
            .map(|a| a.result.text.clone())
            .unwrap_or_default();
        let edited = format!(
            "Normal left ventricular size and wall thickness. No pericardial effusion. No late \
             gadolinium enhancement. {measured}"
        );
        self.report_review(
            report,
            result,
            Decision::Edit,
            Some(&edited),
            Some("Kept the measurement; added the clinical findings."),
        )?;
        // The cardiologist co-signs the cardiac section, as the template requires.
        let cardiac = self
            .report_show(report)?
            .sections
            .iter()
            .find(|s| s.name == "cardiac")
            .and_then(|s| s.versions.last().map(|v| v.entry));
        if let Some(version) = cardiac {
            let payload = json(&SectionCosign {
                section: "cardiac".into(),
                version,
            });
            self.append(&cardiologist, Some(report), Kind::SectionCosign, &payload)?;
        }
        self.report_finalize(report)?;
        // A follow-up recommended after sign-off, due in a year.
        let due = countersign_export::date(crate::home::now_ms() + 365 * 24 * 3600 * 1000);
        self.report_followup(
            report,
            "Repeat cardiac MR in 12 months to confirm stable function.",
            &due,
        )?;
        let entries = self.store().db().count_entries()?;
        tracing::info!(report = %report, entries, "demo written");
        Ok(DemoSummary {
            network,
            study,
            report,
            members,
            entries,
        })
    }
}

/// The demo study's phantom for a network (the demo archive offers the same study again).
pub(crate) fn demo_phantom(network: &str) -> PhantomSpec {
    PhantomSpec {
        seed: format!("countersign demo {network}"),
        slices: 16,
        size: 128,
        ..Default::default()
    }
}
