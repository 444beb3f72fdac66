//! Report use cases: create, write, co-sign, finalise, add an addendum, list and show.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use countersign_ledger::{EntryId, Hash, Kind, PublicKey};
use countersign_report::payload::{
    AccessChange, AddendumWrite, Channel, CriticalResult, FollowupClose, FollowupRecommend,
    LengthUnit, MeasurementAdd, ReportCreate, ReportStatus, SectionCosign, SectionWrite,
    ViewReceipt,
};
use countersign_report::{EntryStatus, Payload, ReportState, ReportView, Status};
use serde::Serialize;
use sha2::{Digest, Sha256};

mod read;

pub(crate) use read::{page_limit, summaries_of_study};
pub use read::{ReportSummary, MAX_PAGE};

use crate::error::{AppError, Result};
use crate::home::{json, Home};

/// A reader gets one read receipt per report in this long, however often they open it.
pub const READ_BATCH_MS: u64 = 10 * 60 * 1000;

/// One line of `followups`: an open recommendation and where it was made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OpenFollowup {
    pub report: EntryId,
    pub study: String,
    pub followup: EntryId,
    pub finding: String,
    pub due: String,
    pub recommended_by: String,
}

/// One line of `report list`, read from the report list's table (see [`crate::projection`]).
/// SHA-256 of a file, streamed.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut file =
        std::fs::File::open(path).map_err(AppError::io(format!("opening {}", path.display())))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file
            .read(&mut buf)
            .map_err(AppError::io(format!("reading {}", path.display())))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

impl Home {
    /// Starts a report on a study, binding it to the SHA-256 of each image file given.
    pub fn report_new(&mut self, study: &str, template: &str, images: &[&Path]) -> Result<EntryId> {
        if study.trim().is_empty() {
            return Err(AppError::InvalidInput("a study UID is required".into()));
        }
        let definition = self.template_for_report(template)?;
        // Given files are hashed; without any, the report binds every imported instance of
        // the study.
        let images = if images.is_empty() {
            self.study_images(study)?
        } else {
            images
                .iter()
                .map(|p| sha256_file(p))
                .collect::<Result<Vec<_>>>()?
        };
        let payload = json(&ReportCreate {
            study: study.to_string(),
            template: definition.name.clone(),
            template_hash: definition.content_hash(),
            images,
        });
        Ok(self.append_own(None, Kind::ReportCreate, &payload)?.id())
    }

    /// Signs a findings version as `key` rather than this home's identity: for benchmarks and
    /// tests that play a department's members on one machine.
    #[doc(hidden)]
    pub fn append_as(
        &mut self,
        key: &countersign_ledger::SecretKey,
        report: EntryId,
        text: &str,
    ) -> Result<EntryId> {
        let payload = json(&SectionWrite {
            section: "findings".into(),
            text: text.to_string(),
            fields: BTreeMap::new(),
            macros: Vec::new(),
            links: Vec::new(),
        });
        Ok(self
            .append(key, Some(report), Kind::SectionWrite, &payload)?
            .id())
    }

    /// Signs a new version of a section.
    pub fn report_write(&mut self, report: EntryId, section: &str, text: &str) -> Result<EntryId> {
        self.report_write_fields(report, section, text, BTreeMap::new())
    }

    /// Signs a new version of a section with `NAME=VALUE` pairs for its structured fields, as a
    /// user gives them: a field given twice is refused, never resolved by the last value.
    pub fn report_write_pairs(
        &mut self,
        report: EntryId,
        section: &str,
        text: &str,
        pairs: Vec<(String, String)>,
    ) -> Result<EntryId> {
        let mut fields = BTreeMap::new();
        for (name, value) in pairs {
            if fields.insert(name.clone(), value).is_some() {
                return Err(AppError::InvalidInput(format!(
                    "field {name} is given twice; give each field once"
                )));
            }
        }
        self.report_write_fields(report, section, text, fields)
    }

    /// Signs a new version of a section with values for its structured fields (checked against
    /// the report's template by the report rules).
    pub fn report_write_fields(
        &mut self,
        report: EntryId,
        section: &str,
        text: &str,
        fields: BTreeMap<String, String>,
    ) -> Result<EntryId> {
        // The links the new text still refers to by marker stay with it (see `links`); a
        // plain write names no macro (only those of its own text are judged at sign-off).
        let links = self.links_carried(report, section, text)?;
        self.write_version(report, section, text, text, fields, Vec::new(), links)
    }

    /// Signs a section version: its text and fields, the AutoText macros it was built from
    /// and its links to images (each judged by the report rules). The one place a
    /// `section.write` of this home's own is made; the section's draft is dropped after if it
    /// holds `typed`, the text the version was made from (the signed text itself, or what a
    /// figure's marker was placed into).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn write_version(
        &mut self,
        report: EntryId,
        section: &str,
        text: &str,
        typed: &str,
        fields: BTreeMap<String, String>,
        macros: Vec<countersign_report::macros::MacroRef>,
        links: Vec<countersign_report::links::ImageLink>,
    ) -> Result<EntryId> {
        let payload = json(&SectionWrite {
            section: section.to_string(),
            text: text.to_string(),
            fields,
            links,
            macros,
        });
        let id = self
            .append_own(Some(report), Kind::SectionWrite, &payload)?
            .id();
        // Signed: the draft is no longer needed. (Were this to fail, the draft would only
        // equal the text signed from, which the editor shows as no draft once it reloads.)
        if let Err(e) = self.draft_signed(report, section, typed) {
            tracing::warn!(error = %e.loggable(), "a signed section's draft was not dropped");
        }
        Ok(id)
    }

    /// Co-signs the current version of a section.
    pub fn report_cosign(&mut self, report: EntryId, section: &str) -> Result<EntryId> {
        let view = self.report_show(report)?;
        let version = view
            .sections
            .iter()
            .find(|s| s.name == section)
            .ok_or_else(|| AppError::InvalidInput(format!("report has no section {section:?}")))?
            .current
            .ok_or_else(|| {
                AppError::InvalidInput(format!("section {section} has no text to co-sign"))
            })?;
        let payload = json(&SectionCosign {
            section: section.to_string(),
            version,
        });
        Ok(self
            .append_own(Some(report), Kind::SectionCosign, &payload)?
            .id())
    }

    /// Signs the report off as final, covering the current version of every section.
    pub fn report_finalize(&mut self, report: EntryId) -> Result<EntryId> {
        let view = self.report_show(report)?;
        let sections: BTreeMap<String, EntryId> = view
            .sections
            .iter()
            .filter_map(|s| s.current.map(|v| (s.name.clone(), v)))
            .collect();
        let payload = json(&ReportStatus {
            status: Status::Final,
            sections,
        });
        Ok(self
            .append_own(Some(report), Kind::ReportStatus, &payload)?
            .id())
    }

    /// Settles a conflict between sign-offs that do not descend from each other: this home's
    /// attending keeps `keep`; the others stay in the record, superseded.
    pub fn report_resolve(
        &mut self,
        report: EntryId,
        keep: EntryId,
        note: &str,
    ) -> Result<EntryId> {
        let payload = json(&countersign_report::payload::ReportResolve {
            keep,
            note: note.to_string(),
        });
        Ok(self
            .append_own(Some(report), Kind::ReportResolve, &payload)?
            .id())
    }

    /// Marks the report preliminary: written and ready for the attending's sign-off (a resident
    /// may do this; only an attending finalises).
    pub fn report_preliminary(&mut self, report: EntryId) -> Result<EntryId> {
        let payload = json(&ReportStatus {
            status: Status::Preliminary,
            sections: BTreeMap::new(),
        });
        Ok(self
            .append_own(Some(report), Kind::ReportStatus, &payload)?
            .id())
    }

    /// Adds a signed addendum to a final report.
    pub fn report_addendum(&mut self, report: EntryId, text: &str) -> Result<EntryId> {
        if text.trim().is_empty() {
            return Err(AppError::InvalidInput("an addendum needs text".into()));
        }
        let payload = json(&AddendumWrite {
            text: text.to_string(),
        });
        Ok(self
            .append_own(Some(report), Kind::AddendumWrite, &payload)?
            .id())
    }

    /// Measures the length between two points (image pixel coordinates) of a frame of one of
    /// the report's images — in mm from the image's own Pixel Spacing, else in pixels marked
    /// uncalibrated — and signs it. The length is computed here from the file, not taken from
    /// the caller.
    pub fn measure_length(
        &mut self,
        report: EntryId,
        image: &str,
        frame: u32,
        from: [f64; 2],
        to: [f64; 2],
    ) -> Result<(EntryId, MeasurementAdd)> {
        let info = self.open_image(image)?.info;
        let inside = |p: [f64; 2]| {
            p.iter().all(|v| v.is_finite())
                && (0.0..=f64::from(info.columns)).contains(&p[0])
                && (0.0..=f64::from(info.rows)).contains(&p[1])
        };
        if !inside(from) || !inside(to) || frame >= info.frames.max(1) {
            return Err(AppError::InvalidInput(
                "the measured points are not on the image".into(),
            ));
        }
        let (dx, dy) = (to[0] - from[0], to[1] - from[1]);
        let (length, unit) = match info.pixel_spacing {
            // Pixel Spacing: row spacing (along y), then column spacing (along x).
            Some([row, column]) if row > 0.0 && column > 0.0 => {
                ((dx * column).hypot(dy * row) * 1000.0, LengthUnit::Um)
            }
            _ => (dx.hypot(dy) * 1000.0, LengthUnit::Mpx),
        };
        let milli = |p: [f64; 2]| {
            [
                (p[0] * 1000.0).round() as i64,
                (p[1] * 1000.0).round() as i64,
            ]
        };
        let m = MeasurementAdd {
            image: image.to_string(),
            frame,
            from: milli(from),
            to: milli(to),
            length: length.round() as u64,
            unit,
        };
        Ok((self.measurement_add(report, &m)?, m))
    }

    /// Records a critical result and how it was communicated (now, by this home's identity).
    pub fn report_critical(
        &mut self,
        report: EntryId,
        finding: &str,
        to: &str,
        via: Channel,
        read_back: bool,
    ) -> Result<EntryId> {
        let payload = json(&CriticalResult {
            finding: finding.to_string(),
            to: to.to_string(),
            via,
            communicated_ms: crate::home::now_ms(),
            read_back,
        });
        self.append_checked(report, Kind::CriticalResult, &payload)
    }

    /// Recommends a follow-up, due by `due` (`YYYY-MM-DD`).
    pub fn report_followup(
        &mut self,
        report: EntryId,
        finding: &str,
        due: &str,
    ) -> Result<EntryId> {
        let payload = json(&FollowupRecommend {
            finding: finding.to_string(),
            due: due.to_string(),
        });
        self.append_checked(report, Kind::FollowupRecommend, &payload)
    }

    /// Grants (or revokes) `member` the right to read `report`: what an AI model's node is
    /// sent by its peers depends on it. Signed by this home's identity (an attending).
    pub fn report_access(
        &mut self,
        report: EntryId,
        member: PublicKey,
        grant: bool,
    ) -> Result<EntryId> {
        if self.state()?.roster().member(&member).is_none() {
            return Err(AppError::InvalidInput(format!(
                "{member} is not on the roster"
            )));
        }
        let payload = json(&AccessChange { member });
        let kind = if grant {
            Kind::AccessGrant
        } else {
            Kind::AccessRevoke
        };
        self.append_checked(report, kind, &payload)
    }

    /// Closes a follow-up: study `study` is the one that answered it.
    pub fn followup_close(
        &mut self,
        report: EntryId,
        followup: EntryId,
        study: &str,
    ) -> Result<EntryId> {
        let payload = json(&FollowupClose {
            followup,
            study: study.to_string(),
        });
        self.append_checked(report, Kind::FollowupClose, &payload)
    }

    /// Records that this home's reader had `sections` of the report on screen — unless they
    /// already have a receipt for those sections from the last [`READ_BATCH_MS`]: receipts are
    /// batched, not one per glance. Returns the new receipt, if one was signed.
    pub fn report_viewed(
        &mut self,
        report: EntryId,
        sections: &[String],
    ) -> Result<Option<EntryId>> {
        let me = self.whoami()?.key;
        let now = crate::home::now_ms();
        let view = self.report_show(report)?;
        let recent = view.reads.iter().any(|r| {
            r.author.key == me
                && now.saturating_sub(r.time_ms) < READ_BATCH_MS
                && sections.iter().all(|s| r.sections.contains(s))
        });
        if recent {
            return Ok(None);
        }
        let payload = json(&ViewReceipt {
            sections: sections.to_vec(),
        });
        self.append_checked(report, Kind::View, &payload).map(Some)
    }

    /// Every open follow-up across all reports, soonest due first.
    pub fn followups(&self) -> Result<Vec<OpenFollowup>> {
        let mut open = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = self.report_page(after.as_deref(), 1000)?;
            let Some(last) = page.last() else { break };
            after = Some(last.cursor.clone());
            self.open_followups(page, &mut open)?;
        }
        open.sort_by(|a, b| a.due.cmp(&b.due).then(a.followup.cmp(&b.followup)));
        Ok(open)
    }

    fn open_followups(&self, page: Vec<ReportSummary>, open: &mut Vec<OpenFollowup>) -> Result<()> {
        for summary in page {
            let view = self.report_show(summary.report)?;
            for f in view.followups.into_iter().filter(|f| f.closed.is_none()) {
                open.push(OpenFollowup {
                    report: summary.report,
                    study: summary.study.clone(),
                    followup: f.entry,
                    finding: f.finding,
                    due: f.due,
                    recommended_by: f.author.name,
                });
            }
        }
        Ok(())
    }

    /// Appends a report-log entry after the payload checks a peer would apply.
    pub(crate) fn append_checked(
        &mut self,
        report: EntryId,
        kind: Kind,
        payload: &[u8],
    ) -> Result<EntryId> {
        Payload::parse(kind, payload).map_err(|e| AppError::InvalidInput(e.to_string()))?;
        Ok(self.append_own(Some(report), kind, payload)?.id())
    }

    /// Signs a measurement on one of the report's images.
    pub fn measurement_add(&mut self, report: EntryId, m: &MeasurementAdd) -> Result<EntryId> {
        self.append_checked(report, Kind::MeasurementAdd, &json(m))
    }
}
