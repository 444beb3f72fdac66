//! The PACS commands: `pacs add|list|test|remove`, `worklist`, `retrieve`, `priors` and
//! `prior-report`. Thin: each calls one use case of the app and prints what it returns.

use std::io::IsTerminal;

use zeroize::Zeroizing;

use countersign_app::{AppError, ArchiveEndpoint, Home, WorklistQuery};

use crate::args::{HomeCommand, PacsCommand};
use crate::output::Output;
use crate::term::{line, text};

pub(crate) fn pacs(home: &mut Home, cmd: PacsCommand) -> Result<Output, AppError> {
    Ok(match cmd {
        PacsCommand::Add {
            name,
            dicomweb,
            dimse,
            calling_aet,
            move_port,
            timeout,
            store_back,
            user,
            password_file,
            token_file,
            allow_cleartext_credentials,
        } => {
            let credentials = match (user, password_file, token_file) {
                (Some(user), Some(file), None) => Some(
                    countersign_app::ArchiveCredentials::basic(
                        &user,
                        read_secret(&file, "password")?,
                    )
                    .map_err(|e| AppError::InvalidInput(e.to_string()))?,
                ),
                (None, None, Some(file)) => Some(
                    countersign_app::ArchiveCredentials::bearer(read_secret(&file, "token")?)
                        .map_err(|e| AppError::InvalidInput(e.to_string()))?,
                ),
                _ => None,
            };
            if allow_cleartext_credentials && credentials.is_none() {
                return Err(AppError::InvalidInput(
                    "--allow-cleartext-credentials is for an archive given credentials".into(),
                ));
            }
            let login = credentials.map(|credentials| countersign_app::ArchiveLogin {
                credentials,
                allow_cleartext: allow_cleartext_credentials,
            });
            let endpoint = match (dicomweb, dimse) {
                (Some(url), None) => ArchiveEndpoint::Dicomweb { url },
                (None, Some(address)) => ArchiveEndpoint::Dimse {
                    address,
                    calling_aet: calling_aet
                        .unwrap_or_else(|| countersign_app::pacs::DEFAULT_CALLING_AET.into()),
                    move_port,
                },
                _ => {
                    return Err(AppError::InvalidInput(
                        "give either --dicomweb URL or --dimse AET@HOST:PORT".into(),
                    ))
                }
            };
            let options = countersign_app::ArchiveOptions {
                timeout_s: timeout,
                store_back,
            };
            let added = home.pacs_add_with(&name, endpoint, options, login)?;
            let text = format!(
                "archive {} added: {}",
                added.name,
                endpoint_text(&added.endpoint)
            );
            Output::new(&added, text)
        }
        PacsCommand::List => {
            let archives = home.pacs_list()?;
            let text = archives
                .iter()
                .map(|a| {
                    let login = match &a.auth {
                        Some(auth) => format!(
                            "\t{} {}",
                            auth.kind,
                            auth.user.as_deref().unwrap_or("token")
                        ),
                        None => String::new(),
                    };
                    format!("{}\t{}{login}", a.name, endpoint_text(&a.endpoint))
                })
                .collect::<Vec<_>>()
                .join("\n");
            Output::new(&archives, text)
        }
        PacsCommand::Test { name } => {
            let test = home.pacs_test(&name)?;
            let text = format!(
                "archive {} answers ({}): {:.1} ms",
                test.archive, test.protocol, test.rtt_ms
            );
            Output::new(&test, text)
        }
        PacsCommand::Remove { name } => {
            home.pacs_remove(&name)?;
            Output::new(
                &serde_json::json!({ "removed": name }),
                format!("archive {name} removed"),
            )
        }
    })
}

/// A password or token from the first line of `path`, read bounded, held zeroized.
fn read_secret(path: &std::path::Path, what: &str) -> Result<Zeroizing<String>, AppError> {
    use std::io::Read;
    let max = countersign_app::pacs::MAX_SECRET_LEN as u64;
    let file = std::fs::File::open(path).map_err(|source| AppError::Io {
        context: format!("reading the {what} file {}", path.display()),
        source,
    })?;
    // Room for the most read, so the buffer never moves (a move leaves a copy unwiped).
    let mut bytes = Zeroizing::new(Vec::with_capacity(max as usize + 3));
    file.take(max + 3)
        .read_to_end(&mut bytes)
        .map_err(|source| AppError::Io {
            context: format!("reading the {what} file {}", path.display()),
            source,
        })?;
    let text = std::str::from_utf8(&bytes).map_err(|_| {
        AppError::InvalidInput(format!("the {what} file {} is not text", path.display()))
    })?;
    let line = text.split(['\r', '\n']).next().unwrap_or_default();
    if line.len() as u64 > max {
        return Err(AppError::InvalidInput(format!(
            "the {what} file {} holds more than {max} bytes",
            path.display()
        )));
    }
    Ok(Zeroizing::new(line.to_string()))
}

fn endpoint_text(e: &ArchiveEndpoint) -> String {
    match e {
        ArchiveEndpoint::Dicomweb { url } => format!("DICOMweb {url}"),
        ArchiveEndpoint::Dimse {
            address,
            calling_aet,
            move_port: None,
        } => format!("DIMSE {address} (calling AE {calling_aet})"),
        ArchiveEndpoint::Dimse {
            address,
            calling_aet,
            move_port: Some(port),
        } => format!("DIMSE {address} (calling AE {calling_aet}, C-MOVE to port {port})"),
    }
}

pub(crate) fn reading(home: &mut Home, cmd: HomeCommand, json: bool) -> Result<Output, AppError> {
    Ok(match cmd {
        HomeCommand::Worklist {
            pacs,
            modality,
            since,
            limit,
        } => {
            let rows = home.worklist(&WorklistQuery {
                archive: pacs,
                modality,
                since,
                limit,
            })?;
            let mut text = rows
                .iter()
                .map(|r| {
                    format!(
                        "{}\t{}\t{}\t{}\t{}\t{}",
                        line(r.date.as_deref().unwrap_or("-")),
                        line(&r.modalities.join(",")),
                        line(r.description.as_deref().unwrap_or("-")),
                        r.report,
                        line(&r.archive),
                        line(&r.study)
                    )
                })
                .collect::<Vec<_>>()
                .join("\n");
            // Said in words too, so that nobody reads an old list as today's.
            let mut down: Vec<(&str, u64, bool)> = rows
                .iter()
                .filter_map(|r| {
                    let refused = r.archive_error.as_deref() == Some("pacs_unauthorized");
                    Some((r.archive.as_str(), r.archive_answered_ms?, refused))
                })
                .collect();
            down.dedup();
            for (archive, ms, refused) in down {
                let why = if refused {
                    "refused this home's credentials"
                } else {
                    "did not answer"
                };
                text.push_str(&format!(
                    "\n(archive {} {why}: its studies are as it listed them at {})",
                    line(archive),
                    countersign_app::export_formats::date_time(ms)
                ));
            }
            Output::new(&rows, text)
        }
        HomeCommand::Priors { study, pacs } => {
            let priors = home.priors(&study, pacs.as_deref())?;
            let text = priors
                .iter()
                .map(|p| {
                    format!(
                        "{}\t{}\t{}\t{}\t{}\t{}",
                        line(p.date.as_deref().unwrap_or("-")),
                        line(p.modality.as_deref().unwrap_or("-")),
                        line(p.description.as_deref().unwrap_or("-")),
                        if p.local { "local" } else { "archive" },
                        p.report,
                        line(&p.study)
                    )
                })
                .collect::<Vec<_>>()
                .join("\n");
            Output::new(&priors, text)
        }
        HomeCommand::PriorReport {
            study,
            pacs,
            patient_id,
        } => {
            let prior = home.prior_report(&study, pacs.as_deref(), patient_id.as_deref())?;
            let text = prior_report_text(&prior);
            Output::new(&prior, text)
        }
        HomeCommand::Deliver { report, pacs } => {
            let sent = home.deliver(countersign_app::entry_id(&report)?, &pacs)?;
            let text = format!(
                "report {} delivered to {} as SR {} ({} bytes)",
                sent.report,
                line(&sent.archive),
                line(&sent.sop_instance),
                sent.bytes
            );
            Output::new(&sent, text)
        }
        HomeCommand::Deliveries { retry } => {
            let list = if retry {
                home.deliveries_retry()?
            } else {
                home.deliveries()?
            };
            let text = list
                .iter()
                .map(|d| {
                    format!(
                        "{}\t{}\t{}\t{}\t{} tries\t{}",
                        d.state,
                        d.kind,
                        line(&d.archive),
                        d.report,
                        d.attempts,
                        line(d.error.as_deref().unwrap_or(""))
                    )
                })
                .collect::<Vec<_>>()
                .join("\n");
            Output::new(&list, text)
        }
        HomeCommand::Retrieve {
            pacs,
            study,
            patient_id,
        } => {
            let bar = std::io::stderr().is_terminal() && !json;
            let got = home.retrieve(&pacs, &study, patient_id.as_deref(), &mut |p| {
                if bar {
                    if p.total > 0 {
                        eprint!("\rretrieving {}/{}", p.done, p.total);
                    } else {
                        eprint!("\rretrieving {}", p.done);
                    }
                }
            })?;
            if bar {
                eprintln!();
            }
            let mut text = format!(
                "{} instances of study {} from {} ({} bytes, {} already here)",
                got.instances,
                line(&got.study),
                line(&got.archive),
                got.bytes,
                got.duplicates
            );
            for f in &got.refused {
                text.push_str(&format!("\nrefused {}: {}", line(&f.path), line(&f.reason)));
            }
            for f in &got.undecodable {
                text.push_str(&format!(
                    "\nstored, not viewable {}: {}",
                    line(&f.path),
                    line(&f.reason)
                ));
            }
            Output::new(&got, text)
        }
        _ => unreachable!("only the reading commands are routed here"),
    })
}

/// After a sign-off or an addendum: the report goes to every store-back archive. The signature
/// is already durable; a delivery that fails is said on stderr and kept for `deliveries
/// --retry`, never an error of the command.
pub(crate) fn store_back(home: &mut Home, report: countersign_app::ledger::EntryId) {
    match home.store_back(report) {
        Ok(records) => {
            for d in records.iter().filter(|d| d.state != "delivered") {
                eprintln!(
                    "note: the report was not delivered to archive {}: {} (kept for `deliveries --retry`)",
                    line(&d.archive),
                    line(d.error.as_deref().unwrap_or("unknown error"))
                );
            }
        }
        Err(e) => eprintln!(
            "note: store-back was not attempted: {}",
            line(&e.to_string())
        ),
    }
}

/// A prior's report for a terminal: where it came from, who signed it, then its text. What an
/// archive or a member wrote goes through [`crate::term`]: an escape sequence could move the
/// cursor and rewrite the lines above (such as who verified the report), a line feed in a name
/// could add a line of its own.
fn prior_report_text(prior: &countersign_app::pacs::PriorReport) -> String {
    use countersign_app::pacs::PriorFound;
    use std::fmt::Write;
    let mut out = String::new();
    let state = |s: &countersign_app::report::ReportState| {
        serde_json::to_value(s)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default()
    };
    match &prior.found {
        PriorFound::Ledger(r) => {
            let _ = writeln!(
                out,
                "report {} on study {} ({}, {}) from this home's ledger",
                r.report,
                line(&prior.study),
                line(&r.template_title),
                state(&r.status)
            );
            if let Some(s) = &r.signoff {
                let _ = writeln!(
                    out,
                    "signed off by {} at {}",
                    line(&s.author.name),
                    crate::human::time(s.time_ms)
                );
            }
            if r.unreadable || r.restricted {
                let _ = writeln!(
                    out,
                    "{}",
                    if r.restricted {
                        "its processing is restricted: no content is shown"
                    } else if r.locked {
                        "its text is sealed and this home's key is locked: unlock to read it"
                    } else {
                        "its text is sealed under a key this home does not hold"
                    }
                );
            }
            for s in &r.sections {
                let by = s.written.as_ref().map_or(String::new(), |w| {
                    format!(
                        " (written by {} at {})",
                        line(&w.author.name),
                        crate::human::time(w.time_ms)
                    )
                });
                let _ = writeln!(
                    out,
                    "\n{}{by}\n{}",
                    line(&s.title),
                    text(s.text.as_deref().unwrap_or("-"))
                );
            }
            for a in &r.addenda {
                let _ = writeln!(
                    out,
                    "\naddendum by {} at {}\n{}",
                    line(&a.author.name),
                    crate::human::time(a.time_ms),
                    text(a.text.as_deref().unwrap_or("-"))
                );
            }
        }
        PriorFound::ArchiveSr(sr) => {
            let _ = writeln!(
                out,
                "SR {} on archive {} ({}, {}, {}), {}",
                line(&sr.instance),
                line(&sr.archive),
                line(sr.title.as_deref().unwrap_or("untitled")),
                line(sr.completion.as_deref().unwrap_or("-")),
                line(sr.verification.as_deref().unwrap_or("-")),
                line(sr.date.as_deref().unwrap_or("undated"))
            );
            for v in &sr.verifiers {
                let _ = writeln!(
                    out,
                    "verified by {} {}",
                    line(&v.name),
                    line(v.datetime.as_deref().unwrap_or(""))
                );
            }
            if !sr.authors.is_empty() {
                let authors: Vec<_> = sr.authors.iter().map(|a| line(a)).collect();
                let _ = writeln!(out, "by {}", authors.join(", "));
            }
            for l in &sr.lines {
                let indent = "  ".repeat(l.depth.saturating_sub(1));
                let concept = line(l.concept.as_deref().unwrap_or("-"));
                if l.value.is_empty() {
                    let _ = writeln!(out, "{indent}{concept}");
                } else {
                    let _ = writeln!(out, "{indent}{concept}: {}", text(&l.value));
                }
            }
        }
        PriorFound::ArchivePdf(pdf) => {
            let _ = writeln!(
                out,
                "Encapsulated PDF {} on archive {} ({}, {}): {}",
                line(&pdf.instance),
                line(&pdf.archive),
                line(pdf.title.as_deref().unwrap_or("untitled")),
                line(pdf.date.as_deref().unwrap_or("undated")),
                pdf.path.display()
            );
        }
        PriorFound::None => {
            let _ = writeln!(
                out,
                "no report on study {} here or on the archives asked",
                line(&prior.study)
            );
        }
    }
    out.trim_end().to_string()
}
