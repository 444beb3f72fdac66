//! Running a parsed command against the app: images (no home needed) and the home's commands.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use countersign_app::entry_id;
use countersign_app::imaging::WindowChoice;
use countersign_app::keys::KeyStoreKind;
use countersign_app::{AppError, Home, PassphraseSource};
use serde::Serialize;

use crate::args::public_key;
use crate::args::{
    BundleCommand, Cli, Command, HomeCommand, ImageCommand, KeyCommand, MacroCommand, NewKeyStore,
    PeerCommand, RosterCommand, SyncCommand, TemplateCommand,
};
use crate::human;
use crate::output::{entry_out, written, Output};
use crate::term::line;

pub(crate) fn image(cmd: ImageCommand) -> Result<Output, AppError> {
    Ok(match cmd {
        ImageCommand::Phantom {
            output,
            slices,
            size,
            seed,
            thickness,
        } => {
            let spec = countersign_app::imaging::PhantomSpec {
                seed: seed.clone(),
                slices,
                size,
                slice_thickness_mm: thickness,
                ..Default::default()
            };
            let files = countersign_app::imaging::write_phantom_series(&spec, &output)?;
            #[derive(Serialize)]
            struct Phantom {
                study: String,
                files: usize,
            }
            let out = Phantom {
                study: countersign_app::imaging::phantom_study_uid(&seed),
                files: files.len(),
            };
            let text = format!(
                "wrote {} slices of study {} to {}",
                out.files,
                out.study,
                output.display()
            );
            Output::new(&out, text)
        }
        ImageCommand::Info { file } => {
            let info = countersign_app::image_info(&file)?;
            let text = human::image_info(&info);
            Output::new(&info, text)
        }
        ImageCommand::Render {
            file,
            output,
            frame,
            window,
            thumbnail,
        } => {
            let png = countersign_app::image_render_png(
                &file,
                frame,
                window.unwrap_or(WindowChoice::Default),
                thumbnail,
            )?;
            written(&output, &png)?
        }
    })
}

pub(crate) fn run(cli: Cli) -> Result<Output, AppError> {
    match cli.command {
        Command::Image(cmd) => image(cmd),
        Command::Home(cmd) => {
            let source = crate::passphrase::source(cli.passphrase_file, cli.passphrase_fd);
            home_command(cli.home, cmd, cli.json, source, cli.agent)
        }
    }
}

pub(crate) fn home_command(
    home: Option<PathBuf>,
    command: HomeCommand,
    json: bool,
    passphrase: PassphraseSource,
    agent: Option<PathBuf>,
) -> Result<Output, AppError> {
    let dir = home.unwrap_or_else(countersign_app::default_home);
    let mut home = Home::open_with(&dir, passphrase)?;
    // A rotation this home asked for that has reached it since: sign with the new key now.
    // One that cannot be adopted (its new key does not open) is said, not made every
    // command's failure: `key` and `whoami` must still run to look into it.
    match home.adopt_rotation() {
        Ok(Some(new)) => {
            eprintln!("note: this home's key was rotated; it signs with {new} from now on")
        }
        Ok(None) => {}
        Err(e) => eprintln!(
            "note: this home's key rotation stands but could not be adopted now ({}): {}",
            e.code(),
            line(&e.to_string())
        ),
    }
    // A sync node's peer identity is the key itself, and an agent never gives it out; an agent
    // does not serve another agent either.
    let signs_here = matches!(
        command,
        HomeCommand::Serve { .. } | HomeCommand::Sync { .. } | HomeCommand::Agent { .. }
    );
    if let (Some(socket), false) = (&agent, signs_here) {
        home.use_agent(socket);
    }
    if home.key_unsealed()? {
        eprintln!(
            "note: this home's key is still stored unsealed; it is sealed under a passphrase \
             the first time a command needs it with one given (--passphrase-file, \
             COUNTERSIGN_PASSPHRASE_FILE, --passphrase-fd or a terminal)"
        );
    }
    Ok(match command {
        HomeCommand::Init {
            name,
            role,
            admin,
            network_name,
            model,
            store,
        } => {
            let model = model.for_member(role, &name)?;
            let network = admin.then_some(network_name.as_str());
            let who = match store.choice()? {
                NewKeyStore::Sealed => home.init(&name, role, network, model)?,
                NewKeyStore::Keychain => home.init_keychain(&name, role, network, model)?,
                NewKeyStore::Token(token) => {
                    home.init_token(&name, role, network, model, &token)?
                }
            };
            let text = human::whoami(&who);
            Output::new(&who, text)
        }
        HomeCommand::Agent {
            socket,
            idle_timeout,
        } => {
            let mut options = countersign_app::agent::AgentOptions::for_home(&dir);
            if let Some(socket) = socket {
                options.socket = socket;
            }
            options.idle = std::time::Duration::from_secs(idle_timeout);
            let summary = home.serve_agent(&options, |socket, key| {
                // The first line on stdout, printed once the socket answers: scripts wait on
                // it (or `eval` it), never on a sleep.
                let line = if json {
                    serde_json::json!({ "socket": socket, "key": key }).to_string()
                } else {
                    // Quoted for the shell that evals it.
                    let quoted = socket.display().to_string().replace('\'', "'\\''");
                    format!(
                        "COUNTERSIGN_AGENT_SOCK='{quoted}'; export COUNTERSIGN_AGENT_SOCK; # signs as {key}"
                    )
                };
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{line}");
                let _ = out.flush();
            })?;
            let text = format!(
                "agent stopped after {} signature(s), {} refused: key forgotten",
                summary.signatures, summary.refused
            );
            Output::new(&summary, text)
        }
        HomeCommand::Whoami => {
            let who = home.whoami()?;
            Output::new(&who, human::whoami(&who))
        }
        HomeCommand::Join { invitation } => {
            let joined = home.join(&invitation)?;
            let text = format!(
                "joined network {} (founded by {}); invited by {}; {} peer(s) to dial: run \
                 `countersign sync` or `serve`",
                joined.network,
                joined.founder,
                joined.invited_by,
                joined.peers.len()
            );
            Output::new(&joined, text)
        }
        HomeCommand::Roster(RosterCommand::Invite { key, peers, days }) => {
            let invitation = home.invite(public_key(&key)?, peers, days)?;
            let value = serde_json::json!({ "invitation": invitation, "days": days });
            Output::new(&value, invitation)
        }
        HomeCommand::Key(KeyCommand::ChangePassphrase {
            new_passphrase_file,
        }) => {
            // The current passphrase is checked before the new one is asked for.
            home.change_passphrase(|| {
                crate::passphrase::new_passphrase(new_passphrase_file.as_deref())
            })?;
            let who = home.whoami()?;
            #[derive(Serialize)]
            struct Changed {
                key: countersign_app::ledger::PublicKey,
                sealed: String,
            }
            let out = Changed {
                key: who.key,
                sealed: home.sealed_key_path()?.display().to_string(),
            };
            let text = format!("the key {} is sealed under the new passphrase", who.key);
            Output::new(&out, text)
        }
        HomeCommand::Key(KeyCommand::Move {
            to,
            new_passphrase_file,
        }) => {
            let moved = home.key_move(to, || {
                crate::passphrase::new_passphrase(new_passphrase_file.as_deref())
            })?;
            let text = match to {
                KeyStoreKind::Keychain => format!(
                    "the key {} is in the OS keychain now; its sealed file was wiped",
                    moved.key
                ),
                KeyStoreKind::Sealed => format!(
                    "the key {} is sealed in {} now; it was removed from the OS keychain",
                    moved.key,
                    home.sealed_key_path()?.display()
                ),
                // Refused by `key_move`: a key is never moved onto a token.
                KeyStoreKind::Token => format!("the key {} is on a token", moved.key),
            };
            Output::new(&moved, text)
        }
        HomeCommand::Key(KeyCommand::Rotate) => {
            let r = home.key_rotate()?;
            let text = if r.pending {
                format!(
                    "new key {} sealed beside {}; pass this request to an admin, who runs \
                     `countersign roster rotate REQUEST`. This home switches to the new key \
                     when the rotation reaches it (sync, bundle import):\n{}",
                    r.new, r.old, r.request
                )
            } else {
                format!(
                    "rotated {} to {} (entry {}); this home signs with the new key",
                    r.old,
                    r.new,
                    r.entry.map(|e| e.to_hex()).unwrap_or_default()
                )
            };
            Output::new(&r, text)
        }
        HomeCommand::Roster(RosterCommand::Rotate { request }) => {
            entry_out(home.roster_rotate(&request)?, "rotated")
        }
        HomeCommand::Roster(RosterCommand::Replace {
            key,
            new_key,
            reason,
        }) => entry_out(
            home.roster_replace(public_key(&key)?, public_key(&new_key)?, &reason)?,
            "replaced",
        ),
        HomeCommand::Roster(RosterCommand::Add {
            key,
            name,
            role,
            admin,
            model,
        }) => {
            let model = model.for_member(role, &name)?;
            entry_out(
                home.roster_add(public_key(&key)?, &name, role, admin, model)?,
                "added",
            )
        }
        HomeCommand::Roster(RosterCommand::Revoke { key, reason }) => {
            entry_out(home.roster_revoke(public_key(&key)?, &reason)?, "revoked")
        }
        HomeCommand::Roster(RosterCommand::Readmit { entry, change }) => {
            let change = change.as_deref().map(entry_id).transpose()?;
            entry_out(
                home.roster_readmit(entry_id(&entry)?, change)?,
                "readmitted",
            )
        }
        HomeCommand::Roster(RosterCommand::List) => {
            let members = home.roster_list()?;
            let text = human::roster(&members);
            Output::new(&members, text)
        }
        HomeCommand::Peer(cmd) => {
            let peers = match cmd {
                PeerCommand::Add { addr } => home.peer_add(&addr)?,
                PeerCommand::List => home.peers()?,
            };
            let text = peers.join("\n");
            Output::new(&peers, text)
        }
        HomeCommand::Report(cmd) => crate::report::report(&mut home, cmd)?,
        HomeCommand::Bundle(BundleCommand::Export {
            report,
            output,
            no_keys,
        }) => {
            let report = report.as_deref().map(entry_id).transpose()?;
            let bytes = home.bundle_export_with(report, !no_keys)?;
            written(&output, &bytes)?
        }
        HomeCommand::Bundle(BundleCommand::Import {
            file,
            network,
            trust_founder,
        }) => {
            let founder = trust_founder.as_deref().map(public_key).transpose()?;
            let anchor = match (network, founder) {
                (Some(n), founder) => Some(countersign_app::Anchor::Network {
                    network: entry_id(&n)?,
                    founder,
                }),
                (None, Some(f)) => Some(countersign_app::Anchor::Founder(f)),
                (None, None) => None,
            };
            let imported = home.bundle_import_trusting(&file, anchor)?;
            let mut out = Output::new(&imported, human::import(&imported));
            // Forks and entries stored but refused by a rule are problems
            // an auditor must see (exit 1); held entries are only early.
            // So is an audit archive whose provenance.txt says what its entries do not, or
            // could not be held to them.
            out.problem = !imported.forks.is_empty()
                || !imported.refused.is_empty()
                || imported
                    .provenance_text
                    .as_ref()
                    .is_some_and(countersign_app::ProvenanceText::is_problem);
            out
        }
        HomeCommand::Verify { report } => {
            let report = report.as_deref().map(entry_id).transpose()?;
            let verified = home.verify(report)?;
            let mut out = Output::new(&verified, human::verify(&verified));
            out.problem = !verified.ok;
            out
        }
        HomeCommand::Import { paths } => {
            let paths: Vec<&std::path::Path> = paths.iter().map(PathBuf::as_path).collect();
            let bar = std::io::stderr().is_terminal() && !json;
            let summary = home.import(&paths, |p| {
                if bar {
                    eprint!("\rimporting {}/{}", p.done, p.total);
                    if p.done == p.total {
                        eprintln!();
                    }
                }
            })?;
            let text = human::import_summary(&summary);
            Output::new(&summary, text)
        }
        HomeCommand::Ai(cmd) => crate::ai::ai(&mut home, cmd)?,
        HomeCommand::Reindex => {
            let reports = home.reindex()?;
            #[derive(Serialize)]
            struct Reindexed {
                reports: u64,
            }
            Output::new(
                &Reindexed { reports },
                format!("report list rebuilt from the entries: {reports} reports"),
            )
        }
        HomeCommand::Erase {
            subject,
            issuer,
            basis,
        } => {
            let subject = data_subject(subject, issuer)?;
            let done = home.erase(&subject, &basis)?;
            let mut text = format!(
                "erased: {} report(s), one signed payload.erase each; their text and images are \
                 destroyed on every home that receives it",
                done.reports.len()
            );
            if !done.studies.is_empty() {
                text.push_str(&format!(
                    "; {} of the patient's studies destroyed here (images and index; a study no \
                     report is about, on this home only)",
                    done.studies.len()
                ));
            }
            Output::new(&done, text)
        }
        HomeCommand::Restrict {
            subject,
            issuer,
            basis,
            lift,
        } => {
            let subject = data_subject(subject, issuer)?;
            let done = home.restrict(&subject, &basis, !lift)?;
            let what = if lift {
                "restriction lifted"
            } else {
                "restricted"
            };
            Output::new(&done, format!("{what}: {} report(s)", done.reports.len()))
        }
        HomeCommand::Followups => {
            let open = home.followups()?;
            let text = human::followups(&open);
            Output::new(&open, text)
        }
        HomeCommand::Export {
            report,
            format,
            output,
        } => {
            let bytes = home.export_to(entry_id(&report)?, format, &output)?;
            #[derive(Serialize)]
            struct Exported {
                file: String,
                bytes: u64,
            }
            let out = Exported {
                file: output.display().to_string(),
                bytes,
            };
            let text = format!("wrote {} bytes to {}", out.bytes, out.file);
            Output::new(&out, text)
        }
        HomeCommand::Serve {
            listen,
            peers,
            mdns,
            delivery_backoff_ms,
        } => {
            let backoff = std::time::Duration::from_millis(delivery_backoff_ms.max(1));
            countersign_app::sync::serve(home, &listen, &peers, mdns, backoff, |l| {
                let line = if json {
                    serde_json::to_string(l).unwrap_or_default()
                } else {
                    format!("serving as {} on {}", l.peer, l.listen.join(" "))
                };
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{line}");
                let _ = out.flush();
            })?;
            Output::new(&serde_json::json!({}), String::new())
        }
        HomeCommand::Sync {
            what: Some(SyncCommand::Status),
            ..
        } => {
            let status = home.sync_status()?;
            let text = human::sync_status(&status);
            Output::new(&status, text)
        }
        HomeCommand::Sync {
            what: None,
            peer,
            once: _,
            timeout,
        } => {
            // No --peer: the first peer this home remembers (`peer add`, or an invitation's).
            let remembered = home.peers()?.into_iter().next();
            let peer = peer.or(remembered).ok_or_else(|| {
                AppError::InvalidInput(
                    "give --peer ADDRESS to sync with (this home remembers none), or `sync status`"
                        .into(),
                )
            })?;
            let report = countersign_app::sync::sync_once(
                home,
                &peer,
                std::time::Duration::from_secs(timeout),
            )?;
            let text = format!(
                "synced with {}: {} entries received, {} sent",
                line(&report.peer),
                report.received,
                report.sent
            );
            Output::new(&report, text)
        }
        HomeCommand::Template(TemplateCommand::List) => {
            let list = home.templates()?;
            let text = human::templates(&list);
            Output::new(&list, text)
        }
        HomeCommand::Template(TemplateCommand::Publish { file }) => {
            let t = home.template_publish(&file)?;
            let text = format!(
                "published template {} ({}, {} sections)",
                line(&t.name),
                line(&t.title),
                t.sections
            );
            Output::new(&t, text)
        }
        HomeCommand::Template(TemplateCommand::Show { name, mrrt }) => {
            let t = home.template(&name)?;
            let text = if mrrt {
                countersign_app::report::template::to_mrrt(&t)
            } else {
                countersign_app::report::template::to_native(&t)
            };
            Output::new(&t, crate::term::text(text.trim_end()).into_owned())
        }
        HomeCommand::Macro(MacroCommand::List { template, section }) => {
            let list = home.macros(template.as_deref(), section.as_deref())?;
            let text = human::macros(&list);
            Output::new(&list, text)
        }
        HomeCommand::Macro(MacroCommand::Show { name }) => {
            let m = home.macro_show(&name)?;
            let text = human::macro_show(&m);
            Output::new(&m, text)
        }
        HomeCommand::Macro(MacroCommand::Publish { file }) => {
            let list = home.macro_publish(&file)?;
            let text = list
                .iter()
                .map(|m| format!("published macro {} ({})", line(&m.name), line(&m.title)))
                .collect::<Vec<_>>()
                .join("\n");
            Output::new(&list, text)
        }
        HomeCommand::Pacs(cmd) => crate::pacs::pacs(&mut home, cmd)?,
        cmd @ (HomeCommand::Worklist { .. }
        | HomeCommand::Priors { .. }
        | HomeCommand::PriorReport { .. }
        | HomeCommand::Deliver { .. }
        | HomeCommand::Deliveries { .. }
        | HomeCommand::Retrieve { .. }) => crate::pacs::reading(&mut home, cmd, json)?,
        HomeCommand::Studies => {
            let studies = home.studies()?;
            let text = human::studies(&studies);
            Output::new(&studies, text)
        }
        HomeCommand::Demo => {
            let demo = home.demo()?;
            let text = human::demo(&demo, &dir);
            Output::new(&demo, text)
        }
    })
}

fn data_subject(
    s: crate::args::SubjectArgs,
    issuer: crate::args::IssuerArg,
) -> Result<countersign_app::DataSubject, AppError> {
    match (s.patient, s.report) {
        (Some(id), _) => Ok(countersign_app::DataSubject::Patient {
            id,
            issuer: issuer.issuer,
        }),
        (None, Some(r)) => Ok(countersign_app::DataSubject::Report(entry_id(&r)?)),
        (None, None) => Err(AppError::InvalidInput(
            "say whose data: --patient ID or --report R".into(),
        )),
    }
}
