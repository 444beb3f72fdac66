//! The `report` commands.

use std::path::PathBuf;

use countersign_app::entry_id;
use countersign_app::ledger::EntryId;
use countersign_app::report::payload::Decision;
use countersign_app::{AppError, Home};
use serde::Serialize;

use crate::args::ReportCommand;
use crate::human;
use crate::output::{entry_out, Output};

pub(crate) fn report(home: &mut Home, cmd: ReportCommand) -> Result<Output, AppError> {
    Ok(match cmd {
        ReportCommand::New {
            study,
            template,
            images,
        } => {
            let paths: Vec<&std::path::Path> = images.iter().map(PathBuf::as_path).collect();
            let id = home.report_new(&study, &template, &paths)?;
            #[derive(Serialize)]
            struct New {
                report: EntryId,
            }
            Output::new(&New { report: id }, format!("report {id}"))
        }
        ReportCommand::Write {
            at,
            text,
            fields,
            macro_name: Some(name),
            fill,
        } => {
            let _ = fields;
            entry_out(
                home.report_write_macro(entry_id(&at.report)?, &at.section, &name, &text, fill)?,
                "signed",
            )
        }
        ReportCommand::Write {
            at, text, fields, ..
        } => entry_out(
            home.report_write_pairs(entry_id(&at.report)?, &at.section, &text, fields)?,
            "signed",
        ),
        ReportCommand::Cosign { at } => entry_out(
            home.report_cosign(entry_id(&at.report)?, &at.section)?,
            "co-signed",
        ),
        ReportCommand::Measure {
            report,
            image,
            frame,
            from,
            to,
        } => {
            let (entry, m) = home.measure_length(entry_id(&report)?, &image, frame, from, to)?;
            #[derive(Serialize)]
            struct Measured {
                entry: EntryId,
                #[serde(flatten)]
                measurement: countersign_app::report::payload::MeasurementAdd,
            }
            let text = format!("signed {} ({} {:?})", entry, m.length, m.unit);
            Output::new(
                &Measured {
                    entry,
                    measurement: m,
                },
                text,
            )
        }
        ReportCommand::Link {
            at,
            measurement,
            arrow,
            key_image,
            label,
            at_char,
        } => {
            let target = link_target(measurement, arrow, key_image)?;
            let (entry, link) = home.report_link(
                entry_id(&at.report)?,
                &at.section,
                &target,
                None,
                at_char,
                label.as_deref(),
            )?;
            #[derive(Serialize)]
            struct Linked {
                entry: EntryId,
                section: String,
                link: countersign_app::report::links::ImageLink,
            }
            let text = format!("signed {entry}: {} in {}", link.marker(), at.section);
            Output::new(
                &Linked {
                    entry,
                    section: at.section,
                    link,
                },
                text,
            )
        }
        ReportCommand::Review {
            report,
            ai_entry,
            accept,
            reject: _,
            edit,
            comment,
        } => {
            let decision = match (&edit, accept) {
                (Some(_), _) => Decision::Edit,
                (None, true) => Decision::Accept,
                (None, false) => Decision::Reject,
            };
            let id = home.report_review(
                entry_id(&report)?,
                entry_id(&ai_entry)?,
                decision,
                edit.as_deref(),
                comment.as_deref(),
            )?;
            entry_out(id, "reviewed")
        }
        ReportCommand::Preliminary { report } => {
            entry_out(home.report_preliminary(entry_id(&report)?)?, "preliminary")
        }
        ReportCommand::Finalize { report } => {
            let id = entry_id(&report)?;
            let out = entry_out(home.report_finalize(id)?, "finalised");
            crate::pacs::store_back(home, id);
            out
        }
        ReportCommand::Resolve { report, keep, note } => entry_out(
            home.report_resolve(entry_id(&report)?, entry_id(&keep)?, &note)?,
            "resolved",
        ),
        ReportCommand::Addendum { report, text } => {
            let id = entry_id(&report)?;
            let out = entry_out(home.report_addendum(id, &text)?, "addendum");
            crate::pacs::store_back(home, id);
            out
        }
        ReportCommand::Critical {
            report,
            finding,
            to,
            via,
            read_back,
        } => entry_out(
            home.report_critical(entry_id(&report)?, &finding, &to, via, read_back)?,
            "critical result recorded",
        ),
        ReportCommand::Followup {
            report,
            finding,
            due,
        } => entry_out(
            home.report_followup(entry_id(&report)?, &finding, &due)?,
            "follow-up recommended",
        ),
        ReportCommand::FollowupClose {
            report,
            followup,
            study,
        } => entry_out(
            home.followup_close(entry_id(&report)?, entry_id(&followup)?, &study)?,
            "follow-up closed",
        ),
        ReportCommand::Grant {
            report,
            member,
            revoke,
        } => entry_out(
            home.report_access(
                entry_id(&report)?,
                crate::args::public_key(&member)?,
                !revoke,
            )?,
            if revoke {
                "read access revoked"
            } else {
                "read access granted"
            },
        ),
        ReportCommand::List {
            study: Some(study), ..
        } => {
            let list = home.study_reports(&study)?;
            Output::new(&list, human::report_list(&list, None))
        }
        ReportCommand::Move {
            report,
            to_patient,
            study,
            reason,
        } => {
            let entry = home.report_move(entry_id(&report)?, &to_patient, &study, &reason)?;
            entry_out(entry, "report moved")
        }
        ReportCommand::List { limit, after, .. } => {
            let list = home.report_page(after.as_deref(), limit)?;
            let more = (list.len() == limit)
                .then(|| list.last().map(|r| r.cursor.as_str()))
                .flatten();
            Output::new(&list, human::report_list(&list, more))
        }
        ReportCommand::Show { report } => {
            let id = entry_id(&report)?;
            let view = home.report_show(id)?;
            let links = home
                .report_links(id)?
                .into_iter()
                .map(|(section, link)| SectionLink { section, link })
                .collect();
            let human = human::report(&view);
            Output::new(&Shown { view, links }, human)
        }
    })
}

/// `report show --json`: the report, and every link of its current versions in one list.
#[derive(Serialize)]
struct Shown {
    #[serde(flatten)]
    view: countersign_app::report::ReportView,
    links: Vec<SectionLink>,
}

#[derive(Serialize)]
struct SectionLink {
    section: String,
    #[serde(flatten)]
    link: countersign_app::report::links::ImageLink,
}

/// The one target `report link` was given.
fn link_target(
    measurement: Option<String>,
    arrow: Option<Vec<String>>,
    key_image: Option<Vec<String>>,
) -> Result<countersign_app::LinkTarget, AppError> {
    use countersign_app::LinkTarget;
    let number = |what: &str, v: &str| -> Result<f64, AppError> {
        v.parse::<f64>()
            .ok()
            .filter(|n| n.is_finite())
            .ok_or_else(|| AppError::InvalidInput(format!("{what} {v:?} is not a number")))
    };
    let frame = |v: &str| -> Result<u32, AppError> {
        v.parse::<u32>()
            .map_err(|_| AppError::InvalidInput(format!("frame {v:?} is not a frame number")))
    };
    Ok(match (measurement, arrow, key_image) {
        (Some(m), None, None) => LinkTarget::Measurement {
            entry: entry_id(&m)?,
        },
        (None, Some(a), None) if a.len() == 4 || a.len() == 6 => LinkTarget::Arrow {
            image: a[0].clone(),
            frame: frame(&a[1])?,
            tip: [number("x", &a[2])?, number("y", &a[3])?],
            tail: match (a.get(4), a.get(5)) {
                (Some(x), Some(y)) => Some([number("tail x", x)?, number("tail y", y)?]),
                _ => None,
            },
        },
        (None, None, Some(k)) if k.len() == 2 => LinkTarget::KeyImage {
            image: k[0].clone(),
            frame: frame(&k[1])?,
        },
        _ => {
            return Err(AppError::InvalidInput(
                "give one of --measurement ENTRY, --arrow IMAGE FRAME X Y [TAIL_X TAIL_Y], --key-image IMAGE FRAME"
                    .into(),
            ))
        }
    })
}
