//! The command line: every command, its arguments and how they are parsed (clap). The
//! roster's and the key store's arguments are in `args/identity.rs`, the report's and the
//! bundle's in `args/report.rs`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use countersign_app::imaging::{Window, WindowChoice};
use countersign_app::keys::token::TokenChoice;
use countersign_app::keys::KeyStoreKind;
use countersign_app::ledger::roster::AiModelInfo;
use countersign_app::ledger::{PublicKey, Role};
use countersign_app::report::payload::Channel;
use countersign_app::AppError;

mod ai;
mod identity;
mod image;
mod report;

pub(crate) use ai::*;
pub(crate) use identity::*;
pub(crate) use image::*;
pub(crate) use report::*;

#[derive(Parser, Debug)]
#[command(
    name = "countersign",
    version,
    about = "Signed, provenance-tracked radiology reports"
)]
pub(crate) struct Cli {
    /// The home directory (ledger and keys). Defaults to $COUNTERSIGN_HOME, else the desktop
    /// app's data directory.
    #[arg(long, global = true, value_name = "DIR")]
    pub(crate) home: Option<PathBuf>,
    /// Print machine-readable JSON on stdout.
    #[arg(long, global = true)]
    pub(crate) json: bool,
    /// Log to stderr: -v for what happens (info), -vv for detail (debug). RUST_LOG, when set,
    /// takes precedence. Logs never hold patient data, report text or keys.
    #[arg(short = 'v', long, global = true, action = clap::ArgAction::Count)]
    pub(crate) verbose: u8,
    /// Read the key's passphrase from this file (one line), when a command needs the key.
    /// Never give a passphrase itself on the command line.
    #[arg(
        long,
        global = true,
        value_name = "PATH",
        env = "COUNTERSIGN_PASSPHRASE_FILE",
        hide_env_values = true
    )]
    pub(crate) passphrase_file: Option<PathBuf>,
    /// Read the key's passphrase from this open file descriptor (one line), e.g. `3<file`.
    #[arg(long, global = true, value_name = "N")]
    pub(crate) passphrase_fd: Option<u32>,
    /// Sign through the agent on this socket (`countersign agent`) instead of unsealing the key
    /// here. `serve` and `sync` still need the passphrase.
    #[arg(
        long,
        global = true,
        value_name = "SOCKET",
        env = "COUNTERSIGN_AGENT_SOCK"
    )]
    pub(crate) agent: Option<PathBuf>,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Subcommand, Debug)]
pub(crate) enum Command {
    /// Inspect and render DICOM files (needs no home).
    #[command(subcommand)]
    Image(ImageCommand),
    #[command(flatten)]
    Home(HomeCommand),
}

#[derive(Subcommand, Debug)]
pub(crate) enum HomeCommand {
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
        #[command(flatten)]
        store: KeyStoreArgs,
    },
    /// Show this home's identity and network.
    Whoami,
    /// Unlock the key once and sign for this user's other commands over a Unix socket, as
    /// ssh-agent does. Prints `COUNTERSIGN_AGENT_SOCK=…` once listening (with --json,
    /// {"socket","key"}); forgets the key and exits after --idle-timeout seconds without a
    /// signature.
    Agent {
        /// The socket's path (default: agent.sock in the home).
        #[arg(long, value_name = "PATH")]
        socket: Option<PathBuf>,
        /// Seconds without a signature after which the agent forgets the key and exits.
        #[arg(long, value_name = "SECS", default_value_t = 600)]
        idle_timeout: u64,
    },
    /// Join the department an admin's invitation names (`roster invite`): this home then
    /// takes only that network, from its peers. Run `init` first.
    Join {
        /// The invitation's text (`countersign-invite:…`).
        invitation: String,
    },
    /// This home's key: its passphrase, and the store that keeps it.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Manage the department roster (admin only).
    #[command(subcommand)]
    Roster(RosterCommand),
    /// Peers this home dials whenever it runs a sync node (serve, the desktop app).
    #[command(subcommand)]
    Peer(PeerCommand),
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
    /// Rebuild the report list (a table derived from the entries) from the entries.
    Reindex,
    /// Erase a patient's personal data (GDPR Art. 17): signs a payload.erase in each of the
    /// patient's reports (or one report); every home that receives it destroys the reports'
    /// text and images and keeps the signed headers. With --patient, this home also destroys
    /// the images of every study of the patient it holds that no report is about (a patient
    /// with no report at all included). An attending or a data-protection officer signs it.
    /// It cannot be undone. A Patient ID is unique only per Issuer of Patient ID: if the studies
    /// holding it carry more than one issuer, name one with --issuer.
    Erase {
        #[command(flatten)]
        subject: SubjectArgs,
        #[command(flatten)]
        issuer: IssuerArg,
        /// The legal basis, recorded in the signed entry (e.g. "GDPR Art. 17(1)(b)").
        #[arg(long)]
        basis: String,
    },
    /// Restrict the processing of a patient's data (GDPR Art. 18): views and exports show no
    /// content until the restriction is lifted (--lift). Signed, reversible.
    Restrict {
        #[command(flatten)]
        subject: SubjectArgs,
        #[command(flatten)]
        issuer: IssuerArg,
        #[arg(long)]
        basis: String,
        /// Lift the restriction instead.
        #[arg(long)]
        lift: bool,
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
    /// Picture archives (PACS) this home reads from: DICOMweb or DIMSE.
    #[command(subcommand)]
    Pacs(PacsCommand),
    /// The reading worklist: studies on the archive(s), newest first, with this department's
    /// report state for each (none, draft, preliminary, final, amended, conflict).
    Worklist {
        /// Only this archive (default: every configured archive).
        #[arg(long, value_name = "NAME")]
        pacs: Option<String>,
        /// Only studies holding a series of this modality (CT, MR, …).
        #[arg(long)]
        modality: Option<String>,
        /// Only studies dated on or after this day (YYYY-MM-DD).
        #[arg(long, value_name = "DATE")]
        since: Option<String>,
        /// At most this many studies per archive.
        #[arg(long, default_value_t = 500)]
        limit: usize,
    },
    /// The patient's other studies, newest first: those the archive(s) list for the study's
    /// Patient ID and those in the image store, each with this department's report state.
    Priors {
        /// The study being read (Study Instance UID).
        #[arg(long, value_name = "UID")]
        study: String,
        /// Only this archive (default: every configured archive; none configured: local only).
        #[arg(long, value_name = "NAME")]
        pacs: Option<String>,
    },
    /// A prior study's report: this home's own (with who wrote and signed it), else the
    /// newest SR on the archive(s) as text, else the newest Encapsulated PDF written to a file,
    /// else none.
    PriorReport {
        /// The prior study (Study Instance UID), as `priors` lists it.
        #[arg(long, value_name = "UID")]
        study: String,
        /// Only this archive (default: every configured archive, in order).
        #[arg(long, value_name = "NAME")]
        pacs: Option<String>,
        /// The prior's patient, as `priors` lists it (default: the patient this home's images of
        /// the study name, else the one the archive files it under): a report of another
        /// patient is refused.
        #[arg(long, value_name = "ID")]
        patient_id: Option<String>,
    },
    /// Reports sent to archives on sign-off (store-back): delivered or failed, most recent
    /// first; --retry tries the failed ones again.
    Deliveries {
        #[arg(long)]
        retry: bool,
    },
    /// Send a signed-off report's DICOM SR to an archive, into the study of its images
    /// (STOW-RS or C-STORE); the same version sent again is the same instance.
    Deliver {
        report: String,
        #[arg(long, value_name = "NAME")]
        pacs: String,
    },
    /// Retrieve a study from an archive into the image store, through the same checks as
    /// `import`; an instance of another patient or study is refused.
    Retrieve {
        #[arg(long, value_name = "NAME")]
        pacs: String,
        /// The Study Instance UID.
        #[arg(long, value_name = "UID")]
        study: String,
        /// Whose study it is (the worklist's patient_id): needed when the archive files the
        /// study under several patients; instances of any other patient are refused.
        #[arg(long, value_name = "ID")]
        patient_id: Option<String>,
    },
    /// Open follow-up recommendations across all reports, soonest due first.
    Followups,
    /// Write a report as PDF, FHIR R4 (JSON Bundle), DICOM SR, or an offline audit bundle
    /// (tar: the signed entries plus a human-readable provenance report).
    Export {
        report: String,
        #[arg(long, value_parser = parse_export_format)]
        format: countersign_app::ExportFormat,
        #[arg(short = 'o', long = "output")]
        output: PathBuf,
    },
    /// Run a sync node: serve this home's logs to the department's peers and pull theirs; runs
    /// until stopped. With --json the first stdout line is {"peer", "listen"}.
    Serve {
        /// An address to listen on, e.g. /ip4/127.0.0.1/tcp/0 or /ip4/0.0.0.0/udp/0/quic-v1.
        #[arg(long, required = true)]
        listen: Vec<String>,
        /// A peer to connect to (a multiaddr ending in `/p2p/<peer id>`).
        #[arg(long = "peer")]
        peers: Vec<String>,
        /// Discover peers on the LAN with mDNS.
        #[arg(long)]
        mdns: bool,
        /// The first wait before a failed delivery to an archive is tried again by itself
        /// (doubling after each failure, at most an hour).
        #[arg(long, default_value_t = 30_000)]
        delivery_backoff_ms: u64,
    },
    /// Sync once with a peer: pull what it has, let it pull what this home has, print counts.
    #[command(args_conflicts_with_subcommands = true)]
    Sync {
        #[command(subcommand)]
        what: Option<SyncCommand>,
        /// The peer to sync with (default: the first one this home remembers).
        #[arg(long)]
        peer: Option<String>,
        /// Sync once and exit (the only mode so far; `serve` keeps syncing).
        #[arg(long)]
        once: bool,
        /// Give up after this many seconds.
        #[arg(long, default_value_t = 60)]
        timeout: u64,
    },
    /// List, import and show report templates.
    #[command(subcommand)]
    Template(TemplateCommand),
    /// AutoText macros: list, show and publish (see README, "AutoText").
    #[command(subcommand)]
    Macro(MacroCommand),
    /// AI contributions signed by this home's ai-model identity.
    #[command(subcommand)]
    Ai(AiCommand),
}

#[derive(Subcommand, Debug)]
pub(crate) enum KeyCommand {
    /// Seal the key under a new passphrase (the current one from --passphrase-file, the
    /// environment, --passphrase-fd or the terminal; the new one from --new-passphrase-file or
    /// the terminal, twice). The sealed file is replaced atomically.
    ChangePassphrase {
        /// Read the new passphrase from this file (one line).
        #[arg(long, value_name = "PATH")]
        new_passphrase_file: Option<PathBuf>,
    },
    /// Move the key to another store: `keychain` (the OS keychain; the sealed file is then
    /// wiped) or `sealed` (a file sealed under a new passphrase; the keychain item is then
    /// removed). The new store is written and read back before the home names it.
    Move {
        #[arg(long, value_parser = parse_key_store)]
        to: KeyStoreKind,
        /// With --to sealed: read the new passphrase from this file (one line).
        #[arg(long, value_name = "PATH")]
        new_passphrase_file: Option<PathBuf>,
    },
    /// Move this home to a new key: the new key is sealed under the same passphrase, and the
    /// old key signs its consent. An admin's home applies it at once; otherwise pass the
    /// printed request to an admin (`roster rotate REQUEST`): this home switches to the new
    /// key when the rotation reaches it (`sync`, `bundle import`). Asked again before then, it
    /// prints the same request.
    Rotate,
}

#[derive(Subcommand, Debug)]
pub(crate) enum SyncCommand {
    /// Peers (last reconcile, entries received, cut-offs with reason and expiry) and what is
    /// quarantined, as every node this home ran left them.
    Status,
}

#[derive(Subcommand, Debug)]
pub(crate) enum TemplateCommand {
    /// The built-in templates and those published to the department's roster.
    List,
    /// Check a template file (native TOML, or MRRT HTML if it ends in .html) and publish it to
    /// the department's roster (admin only); errors name the line.
    #[command(alias = "import")]
    Publish { file: PathBuf },
    /// Print a template in the native format, or as MRRT HTML.
    Show {
        name: String,
        #[arg(long)]
        mrrt: bool,
    },
}

#[derive(Subcommand, Debug)]
pub(crate) enum MacroCommand {
    /// The built-in macros and those published to the department's roster (newest version of
    /// each name), optionally only those for a template and/or one of its sections.
    List {
        #[arg(long)]
        template: Option<String>,
        #[arg(long)]
        section: Option<String>,
    },
    /// Print a macro: where it applies, its text and its `[fields]`.
    Show { name: String },
    /// Check a macro file (TOML, `[[macro]]` tables) and publish each macro in it to the
    /// department's roster (admin only); errors name the line.
    Publish { file: PathBuf },
}

pub(crate) fn parse_export_format(s: &str) -> Result<countersign_app::ExportFormat, String> {
    s.parse()
}

pub(crate) fn parse_field(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.trim().to_string(), v.to_string()))
        .filter(|(k, _)| !k.is_empty())
        .ok_or_else(|| format!("{s:?}: expected NAME=VALUE"))
}

#[derive(Subcommand, Debug)]
pub(crate) enum PacsCommand {
    /// Configure an archive: --dicomweb URL, or --dimse AET@HOST:PORT.
    Add {
        name: String,
        /// The DICOMweb base URL (under which /studies is).
        #[arg(
            long,
            value_name = "URL",
            conflicts_with = "dimse",
            required_unless_present = "dimse"
        )]
        dicomweb: Option<String>,
        /// The DIMSE archive's AE title, host and port.
        #[arg(long, value_name = "AET@HOST:PORT")]
        dimse: Option<String>,
        /// The AE title this home calls itself (DIMSE; default COUNTERSIGN).
        #[arg(long, value_name = "AET", requires = "dimse")]
        calling_aet: Option<String>,
        /// Retrieve by C-MOVE to this home's AE title, received on this port of this machine
        /// (for an archive without C-GET; the archive must know the title at this address).
        #[arg(long, value_name = "PORT", requires = "dimse")]
        move_port: Option<u16>,
        /// Seconds to wait for each of the archive's answers (1 to 600; default 30).
        #[arg(long, value_name = "SECS")]
        timeout: Option<u64>,
        /// Send each report's SR here when it is signed off, and on each addendum.
        #[arg(long)]
        store_back: bool,
        /// DICOMweb: log in with HTTP Basic as this user (the password from --password-file).
        #[arg(long, value_name = "USER", requires_all = ["dicomweb", "password_file"])]
        user: Option<String>,
        /// The file holding the --user's password (its first line). Sealed under this home's
        /// key, never stored in clear.
        #[arg(long, value_name = "FILE", requires = "user")]
        password_file: Option<PathBuf>,
        /// DICOMweb: send this file's bearer token (its first line) instead of a user and
        /// password. Sealed under this home's key.
        #[arg(
            long,
            value_name = "FILE",
            requires = "dicomweb",
            conflicts_with = "user"
        )]
        token_file: Option<PathBuf>,
        /// Send the credentials over plain http:// to a host other than this machine (readable
        /// by anything on the network path: for a lab network only; use https://).
        #[arg(long)]
        allow_cleartext_credentials: bool,
    },
    /// The configured archives.
    List,
    /// Check that an archive answers (C-ECHO, or a QIDO-RS probe), with the round trip.
    Test { name: String },
    /// Forget an archive.
    Remove { name: String },
}

#[derive(Subcommand, Debug)]
pub(crate) enum PeerCommand {
    /// Remember a peer: a multiaddr ending in `/p2p/<peer id>`.
    Add { addr: String },
    /// The peers remembered.
    List,
}

pub(crate) fn parse_key_store(s: &str) -> Result<KeyStoreKind, String> {
    s.parse()
}

pub(crate) fn parse_role(s: &str) -> Result<Role, String> {
    s.parse()
}

pub(crate) fn parse_point(s: &str) -> Result<[f64; 2], String> {
    let (x, y) = s.split_once(',').ok_or_else(|| format!("{s:?}: use X,Y"))?;
    let number = |v: &str| v.trim().parse::<f64>().map_err(|e| format!("{v:?}: {e}"));
    Ok([number(x)?, number(y)?])
}

pub(crate) fn parse_channel(s: &str) -> Result<Channel, String> {
    match s {
        "phone" => Ok(Channel::Phone),
        "in-person" => Ok(Channel::InPerson),
        "message" => Ok(Channel::Message),
        other => Err(format!("{other:?}: use phone, in-person or message")),
    }
}

pub(crate) fn public_key(s: &str) -> Result<PublicKey, AppError> {
    s.parse()
        .map_err(|e| AppError::InvalidInput(format!("{s:?} is not a public key: {e}")))
}

/// With --patient: which Issuer of Patient ID (0010,0021), when the studies holding that
/// Patient ID here carry more than one (they may be different people).
#[derive(Args, Debug)]
pub(crate) struct IssuerArg {
    /// Only the studies whose images carry the Patient ID with this issuer ('' for those with
    /// no issuer recorded, as images imported before issuers were recorded have).
    #[arg(long, value_name = "ISSUER", requires = "patient")]
    pub issuer: Option<String>,
}

/// Whose data: every report of a patient, or one report.
#[derive(Args, Debug)]
#[group(required = true, multiple = false)]
pub(crate) struct SubjectArgs {
    /// The Patient ID, as in the imported studies.
    #[arg(long, value_name = "ID")]
    pub patient: Option<String>,
    /// One report's id.
    #[arg(long, value_name = "REPORT")]
    pub report: Option<String>,
}
