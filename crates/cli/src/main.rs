//! `countersign`: everything the desktop app does, for scripts, servers and auditors.
//!
//! Every command takes `--json` for machine output. Exit status: 0 success, 1 verification found
//! a problem, 2 bad usage or bad input (with a one-line message on stderr).
//!
//! ```text
//! countersign --home /tmp/h demo
//! countersign --home /tmp/h report list --json
//! countersign --home /tmp/h verify --json
//! ```

mod human;

/// Large image buffers are freed and allocated again several times per render; mimalloc reuses
/// the freed pages where the system allocator maps fresh ones, each page faulted in and zeroed
/// (a third fewer page faults rendering a 1760² CR).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use countersign_app::imaging::{Window, WindowChoice};
use countersign_app::ledger::roster::AiModelInfo;
use countersign_app::ledger::{EntryId, PublicKey, Role};
use countersign_app::report::payload::{Channel, Decision};
use countersign_app::{AppError, Home};
use serde::Serialize;

#[derive(Parser, Debug)]
#[command(
    name = "countersign",
    version,
    about = "Signed, provenance-tracked radiology reports"
)]
struct Cli {
    /// The home directory (ledger and keys). Defaults to $COUNTERSIGN_HOME, else the desktop
    /// app's data directory.
    #[arg(long, global = true, value_name = "DIR")]
    home: Option<PathBuf>,
    /// Print machine-readable JSON on stdout.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Inspect and render DICOM files (needs no home).
    #[command(subcommand)]
    Image(ImageCommand),
    #[command(flatten)]
    Home(HomeCommand),
}

#[derive(Subcommand, Debug)]
enum HomeCommand {
    /// Create this home's identity; with --admin, found a department network.
    Init {
        #[arg(long)]
        name: String,
        #[arg(long, value_parser = parse_role)]
        role: Role,
        #[arg(long)]
        admin: bool,
        /// The network's name (with --admin).
        #[arg(long, default_value = "Radiology department")]
        network_name: String,
        #[command(flatten)]
        model: ModelArgs,
    },
    /// Show this home's identity and network.
    Whoami,
    /// Manage the department roster (admin only).
    #[command(subcommand)]
    Roster(RosterCommand),
    /// Write, co-sign, finalise and read reports.
    #[command(subcommand)]
    Report(ReportCommand),
    /// Export or import a self-contained bundle of roster, entries and payloads.
    #[command(subcommand)]
    Bundle(BundleCommand),
    /// Re-check every signature, hash, link and rule in the ledger.
    Verify {
        /// Only this report (and the roster).
        report: Option<String>,
    },
    /// Found a demo network in an empty home and write a signed-off report by three people.
    Demo,
    /// Import DICOM files and folders (recursively) into the home's image store.
    Import {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// List the imported studies.
    Studies,
    /// Open follow-up recommendations across all reports, soonest due first.
    Followups,
    /// AI contributions signed by this home's ai-model identity.
    #[command(subcommand)]
    Ai(AiCommand),
}

#[derive(Subcommand, Debug)]
enum AiCommand {
    /// Run the model on the report's images and sign its result (an `ai.result`).
    Run {
        #[arg(long)]
        report: String,
    },
}

#[derive(Subcommand, Debug)]
enum ImageCommand {
    /// Write a synthetic CT head phantom series (no patient data) into a folder.
    Phantom {
        #[arg(short = 'o', long = "output")]
        output: PathBuf,
        #[arg(long, default_value_t = 32)]
        slices: u32,
        /// Rows and columns.
        #[arg(long, default_value_t = 256)]
        size: u16,
        /// Same seed, same UIDs and bytes.
        #[arg(long, default_value = "countersign phantom")]
        seed: String,
    },
    /// What the file is: patient, study, series, geometry, pixel format, presets.
    Info { file: PathBuf },
    /// Render one frame to PNG.
    Render {
        file: PathBuf,
        #[arg(short = 'o', long = "output")]
        output: PathBuf,
        /// 0-based frame number.
        #[arg(long, default_value_t = 0)]
        frame: u32,
        /// CENTER,WIDTH in modality units, or `minmax`; default: the header's first window.
        #[arg(long, value_parser = parse_window)]
        window: Option<WindowChoice>,
        /// Write a thumbnail no larger than N×N pixels.
        #[arg(long, value_name = "N")]
        thumbnail: Option<u32>,
    },
}

fn parse_window(s: &str) -> Result<WindowChoice, String> {
    if s == "minmax" {
        return Ok(WindowChoice::MinMax);
    }
    let (c, w) = s
        .split_once(',')
        .ok_or_else(|| format!("{s:?}: expected CENTER,WIDTH or minmax"))?;
    let number = |v: &str| v.trim().parse::<f64>().map_err(|e| format!("{v:?}: {e}"));
    let (center, width) = (number(c)?, number(w)?);
    if width < 1.0 {
        return Err(format!("window width {width} must be at least 1"));
    }
    Ok(WindowChoice::Explicit(Window { center, width }))
}

#[derive(Subcommand, Debug)]
enum RosterCommand {
    /// Add a member (or update their details).
    Add {
        #[arg(long)]
        key: String,
        #[arg(long)]
        name: String,
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// Make the member an admin too.
        #[arg(long)]
        admin: bool,
        #[command(flatten)]
        model: ModelArgs,
    },
    /// Revoke a member; their earlier signatures stay valid.
    Revoke {
        #[arg(long)]
        key: String,
        /// Revocation time in milliseconds since the epoch (default: now).
        #[arg(long)]
        from: Option<u64>,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// List the members.
    List,
}

/// What an `ai-model` member is: the roster records it, and every entry it signs shows it.
#[derive(Args, Debug)]
struct ModelArgs {
    /// The model's vendor (with --role ai-model).
    #[arg(long)]
    vendor: Option<String>,
    /// The model's name (default: the member's name).
    #[arg(long)]
    model: Option<String>,
    /// The model's version (with --role ai-model).
    #[arg(long)]
    model_version: Option<String>,
    /// A regulatory clearance id (e.g. a 510(k) or CE number).
    #[arg(long)]
    regulatory_id: Option<String>,
}

impl ModelArgs {
    /// The model details an `ai-model` member needs, and nobody else may carry.
    fn for_member(self, role: Role, name: &str) -> Result<Option<AiModelInfo>, AppError> {
        match (role, self.vendor, self.model_version) {
            (Role::AiModel, Some(vendor), Some(version)) => Ok(Some(AiModelInfo {
                vendor,
                model: self.model.unwrap_or_else(|| name.to_string()),
                version,
                regulatory_id: self.regulatory_id,
            })),
            (Role::AiModel, _, _) => Err(AppError::InvalidInput(
                "an ai-model member needs --vendor and --model-version".into(),
            )),
            (_, None, None) if self.model.is_none() && self.regulatory_id.is_none() => Ok(None),
            _ => Err(AppError::InvalidInput(
                "--vendor, --model, --model-version and --regulatory-id are for --role ai-model"
                    .into(),
            )),
        }
    }
}

#[derive(Args, Debug)]
struct SectionArg {
    report: String,
    #[arg(long)]
    section: String,
}

#[derive(Subcommand, Debug)]
enum ReportCommand {
    /// Start a report on a study.
    New {
        #[arg(long)]
        study: String,
        #[arg(long)]
        template: String,
        /// An image file the report is about (its SHA-256 is signed into the report).
        #[arg(long = "image", value_name = "FILE")]
        images: Vec<PathBuf>,
    },
    /// Sign a new version of a section.
    Write {
        #[command(flatten)]
        at: SectionArg,
        #[arg(long)]
        text: String,
    },
    /// Co-sign the current version of a section.
    Cosign {
        #[command(flatten)]
        at: SectionArg,
    },
    /// Measure and sign a length between two points of one of the report's images (mm from its
    /// Pixel Spacing, else pixels marked uncalibrated).
    Measure {
        report: String,
        /// SHA-256 of the image, as the report names it.
        #[arg(long)]
        image: String,
        /// 0-based frame number.
        #[arg(long, default_value_t = 0)]
        frame: u32,
        /// X,Y in image pixels (column, row).
        #[arg(long, value_parser = parse_point, allow_hyphen_values = true)]
        from: [f64; 2],
        #[arg(long, value_parser = parse_point, allow_hyphen_values = true)]
        to: [f64; 2],
    },
    /// Accept, edit or reject an AI result (an `ai.review`); accepted or edited text becomes the
    /// section's next version.
    #[command(group(clap::ArgGroup::new("decision").required(true).args(["accept", "reject", "edit"])))]
    Review {
        report: String,
        #[arg(long)]
        ai_entry: String,
        #[arg(long)]
        accept: bool,
        #[arg(long)]
        reject: bool,
        /// The text that replaces the AI's proposal.
        #[arg(long)]
        edit: Option<String>,
        #[arg(long)]
        comment: Option<String>,
    },
    /// Mark the report preliminary: written, awaiting sign-off.
    Preliminary { report: String },
    /// Sign the report off as final (attending only).
    Finalize { report: String },
    /// Add a signed addendum to a final report.
    Addendum {
        report: String,
        #[arg(long)]
        text: String,
    },
    /// Record a critical result and how it was communicated (now).
    Critical {
        report: String,
        #[arg(long)]
        finding: String,
        /// Who was told.
        #[arg(long)]
        to: String,
        #[arg(long, value_parser = parse_channel)]
        via: Channel,
        /// The clinician read the finding back.
        #[arg(long)]
        read_back: bool,
    },
    /// Recommend a follow-up, due by a date.
    Followup {
        report: String,
        #[arg(long)]
        finding: String,
        /// YYYY-MM-DD
        #[arg(long)]
        due: String,
    },
    /// Close a follow-up recommendation with the study that answered it.
    FollowupClose {
        report: String,
        #[arg(long)]
        followup: String,
        #[arg(long)]
        study: String,
    },
    /// List reports.
    List,
    /// Show a report with the provenance of every section.
    Show { report: String },
}

#[derive(Subcommand, Debug)]
enum BundleCommand {
    /// Write the roster and one report (or all) to FILE.
    Export {
        report: Option<String>,
        #[arg(short = 'o', long = "output")]
        output: PathBuf,
    },
    /// Verify every entry of FILE, then store them.
    Import { file: PathBuf },
}

fn parse_role(s: &str) -> Result<Role, String> {
    s.parse()
}

fn parse_point(s: &str) -> Result<[f64; 2], String> {
    let (x, y) = s.split_once(',').ok_or_else(|| format!("{s:?}: use X,Y"))?;
    let number = |v: &str| v.trim().parse::<f64>().map_err(|e| format!("{v:?}: {e}"));
    Ok([number(x)?, number(y)?])
}

fn parse_channel(s: &str) -> Result<Channel, String> {
    match s {
        "phone" => Ok(Channel::Phone),
        "in-person" => Ok(Channel::InPerson),
        "message" => Ok(Channel::Message),
        other => Err(format!("{other:?}: use phone, in-person or message")),
    }
}

fn entry_id(s: &str) -> Result<EntryId, AppError> {
    s.parse()
        .map_err(|e| AppError::InvalidInput(format!("{s:?} is not a report or entry id: {e}")))
}

fn public_key(s: &str) -> Result<PublicKey, AppError> {
    s.parse()
        .map_err(|e| AppError::InvalidInput(format!("{s:?} is not a public key: {e}")))
}

/// What a command produced: its JSON form, its human form, and whether it found a problem.
struct Output {
    json: serde_json::Value,
    human: String,
    problem: bool,
}

impl Output {
    fn new<T: Serialize>(value: &T, human: String) -> Output {
        Output {
            json: serde_json::to_value(value).unwrap_or(serde_json::Value::Null),
            human,
            problem: false,
        }
    }
}

#[derive(Serialize)]
struct EntryOut {
    entry: EntryId,
}

/// Writes `bytes` to `path` and says so: `{"file", "bytes"}`.
fn written(path: &std::path::Path, bytes: &[u8]) -> Result<Output, AppError> {
    std::fs::write(path, bytes).map_err(|source| AppError::Io {
        context: format!("writing {}", path.display()),
        source,
    })?;
    #[derive(Serialize)]
    struct Written {
        file: String,
        bytes: usize,
    }
    let out = Written {
        file: path.display().to_string(),
        bytes: bytes.len(),
    };
    let text = format!("wrote {} bytes to {}", out.bytes, out.file);
    Ok(Output::new(&out, text))
}

fn entry_out(id: EntryId, what: &str) -> Output {
    Output::new(&EntryOut { entry: id }, format!("{what} {id}"))
}

fn image(cmd: ImageCommand) -> Result<Output, AppError> {
    Ok(match cmd {
        ImageCommand::Phantom {
            output,
            slices,
            size,
            seed,
        } => {
            let spec = countersign_app::imaging::PhantomSpec {
                seed: seed.clone(),
                slices,
                size,
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

fn run(cli: Cli) -> Result<Output, AppError> {
    match cli.command {
        Command::Image(cmd) => image(cmd),
        Command::Home(cmd) => home_command(cli.home, cmd, cli.json),
    }
}

fn home_command(
    home: Option<PathBuf>,
    command: HomeCommand,
    json: bool,
) -> Result<Output, AppError> {
    let dir = home.unwrap_or_else(countersign_app::default_home);
    let mut home = Home::open(&dir)?;
    Ok(match command {
        HomeCommand::Init {
            name,
            role,
            admin,
            network_name,
            model,
        } => {
            let model = model.for_member(role, &name)?;
            let who = home.init(&name, role, admin.then_some(network_name.as_str()), model)?;
            let text = human::whoami(&who);
            Output::new(&who, text)
        }
        HomeCommand::Whoami => {
            let who = home.whoami()?;
            Output::new(&who, human::whoami(&who))
        }
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
        HomeCommand::Roster(RosterCommand::Revoke { key, from, reason }) => entry_out(
            home.roster_revoke(public_key(&key)?, from, &reason)?,
            "revoked",
        ),
        HomeCommand::Roster(RosterCommand::List) => {
            let members = home.roster_list()?;
            let text = human::roster(&members);
            Output::new(&members, text)
        }
        HomeCommand::Report(cmd) => report(&mut home, cmd)?,
        HomeCommand::Bundle(BundleCommand::Export { report, output }) => {
            let report = report.as_deref().map(entry_id).transpose()?;
            let bytes = home.bundle_export(report)?;
            written(&output, &bytes)?
        }
        HomeCommand::Bundle(BundleCommand::Import { file }) => {
            let imported = home.bundle_import_file(&file)?;
            let mut out = Output::new(&imported, human::import(&imported));
            out.problem = !imported.forks.is_empty() || !imported.skipped.is_empty();
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
        HomeCommand::Ai(AiCommand::Run { report }) => {
            entry_out(home.ai_run(entry_id(&report)?)?, "AI result signed")
        }
        HomeCommand::Followups => {
            let open = home.followups()?;
            let text = human::followups(&open);
            Output::new(&open, text)
        }
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

fn report(home: &mut Home, cmd: ReportCommand) -> Result<Output, AppError> {
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
        ReportCommand::Write { at, text } => entry_out(
            home.report_write(entry_id(&at.report)?, &at.section, &text)?,
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
            entry_out(home.report_finalize(entry_id(&report)?)?, "finalised")
        }
        ReportCommand::Addendum { report, text } => {
            entry_out(home.report_addendum(entry_id(&report)?, &text)?, "addendum")
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
        ReportCommand::List => {
            let list = home.report_list()?;
            Output::new(&list, human::report_list(&list))
        }
        ReportCommand::Show { report } => {
            let view = home.report_show(entry_id(&report)?)?;
            Output::new(&view, human::report(&view))
        }
    })
}

fn main() -> ExitCode {
    // Decoders run behind a panic guard that turns a fault into an error message; keep the
    // report of such a fault to one line instead of a backtrace.
    std::panic::set_hook(Box::new(|info| {
        let at = info
            .location()
            .map_or_else(String::new, |l| format!(" at {}:{}", l.file(), l.line()));
        eprintln!("internal fault{at}");
    }));
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let json = cli.json;
    match run(cli) {
        Ok(out) => {
            let text = if json {
                serde_json::to_string(&out.json).unwrap_or_default()
            } else {
                out.human
            };
            // A closed pipe (`countersign … | head`) is not an error worth a panic.
            let _ = writeln!(std::io::stdout(), "{text}");
            if out.problem {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
