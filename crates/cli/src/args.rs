//! The command line: every command, its arguments and how they are parsed (clap).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use countersign_app::imaging::{Window, WindowChoice};
use countersign_app::keys::token::TokenChoice;
use countersign_app::keys::KeyStoreKind;
use countersign_app::ledger::roster::AiModelInfo;
use countersign_app::ledger::{PublicKey, Role};
use countersign_app::report::payload::Channel;
use countersign_app::AppError;

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
    /// text and images and keeps the signed headers. An attending or a data-protection
    /// officer signs it. It cannot be undone.
    Erase {
        #[command(flatten)]
        subject: SubjectArgs,
        /// The legal basis, recorded in the signed entry (e.g. "GDPR Art. 17(1)(b)").
        #[arg(long)]
        basis: String,
    },
    /// Restrict the processing of a patient's data (GDPR Art. 18): views and exports show no
    /// content until the restriction is lifted (--lift). Signed, reversible.
    Restrict {
        #[command(flatten)]
        subject: SubjectArgs,
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
        /// A peer to connect to (a multiaddr ending in /p2p/<peer id>).
        #[arg(long = "peer")]
        peers: Vec<String>,
        /// Discover peers on the LAN with mDNS.
        #[arg(long)]
        mdns: bool,
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
pub(crate) enum AiCommand {
    /// Run the model bound to this node on the report's images and sign its result (an
    /// `ai.result`), only if it ran and its output held to the contract (README, AI models).
    Run {
        #[arg(long)]
        report: String,
    },
    /// Bind this node's model member to the program that runs as it: an executable speaking
    /// the contract (--program), or the built-in example (--builtin soft-tissue-stats).
    Bind {
        #[arg(
            long,
            value_name = "PATH",
            conflicts_with = "builtin",
            required_unless_present = "builtin"
        )]
        program: Option<PathBuf>,
        /// An argument to pass the program (repeat for more).
        #[arg(
            long = "arg",
            value_name = "ARG",
            requires = "program",
            allow_hyphen_values = true
        )]
        args: Vec<String>,
        /// Seconds the program may run (default 60, at most 3600).
        #[arg(long, requires = "program")]
        timeout: Option<u64>,
        /// Bytes the program may print (default 65536, at most 1048576).
        #[arg(long, requires = "program")]
        max_output: Option<usize>,
        #[arg(long, value_name = "NAME")]
        builtin: Option<String>,
    },
    /// Attest receipt of an AI result delivered as a DICOM SR (a TID 1500 measurement report):
    /// signs an `ai.received` with this home's key, never as the device; reviewed like any AI
    /// result before sign-off.
    Import {
        /// The SR file (at most 64 MiB).
        sr: PathBuf,
        #[arg(long)]
        report: String,
        /// The section its findings are proposed for (default findings).
        #[arg(long)]
        section: Option<String>,
    },
    /// The AI reviewer's figures per model and version: proposals, accepted / edited /
    /// rejected / unreviewed, rates, edit size, time to review, reviewers, drift between
    /// versions; entries that do not verify are excluded and listed.
    Stats {
        #[arg(long)]
        model: Option<String>,
        /// Only proposals signed on or after this date (YYYY-MM-DD, UTC).
        #[arg(long, value_name = "DATE")]
        since: Option<String>,
        /// Only reports on studies of this modality (e.g. CT).
        #[arg(long)]
        modality: Option<String>,
    },
    /// The AI audit package (EU AI Act Art. 12 and 14): see `ai audit export`.
    #[command(subcommand)]
    Audit(AiAuditCommand),
}

#[derive(Subcommand, Debug)]
pub(crate) enum AiAuditCommand {
    /// Write DIR/provenance.json (a FHIR R4 Bundle: one Provenance per AI result, the AI a
    /// Device agent, the human reviewer the verifier, with the signatures) and DIR/summary.pdf
    /// (the `ai stats` figures, the selection, who exported it when, what was excluded),
    /// over the same reports and proposals as `ai stats`.
    Export {
        /// The folder to write into (created if missing; never inside the home).
        #[arg(long, short = 'o', value_name = "DIR")]
        out: PathBuf,
        #[arg(long)]
        model: Option<String>,
        /// Only proposals signed on or after this date (YYYY-MM-DD, UTC).
        #[arg(long, value_name = "DATE")]
        since: Option<String>,
        /// Only reports on studies of this modality (e.g. CT).
        #[arg(long)]
        modality: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
pub(crate) enum ImageCommand {
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

pub(crate) fn parse_export_format(s: &str) -> Result<countersign_app::ExportFormat, String> {
    s.parse()
}

pub(crate) fn parse_field(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.trim().to_string(), v.to_string()))
        .filter(|(k, _)| !k.is_empty())
        .ok_or_else(|| format!("{s:?}: expected NAME=VALUE"))
}

pub(crate) fn parse_window(s: &str) -> Result<WindowChoice, String> {
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
        /// Seconds to wait for each of the archive's answers (1 to 600; default 30).
        #[arg(long, value_name = "SECS")]
        timeout: Option<u64>,
        /// Send each report's SR here when it is signed off, and on each addendum.
        #[arg(long)]
        store_back: bool,
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
    /// Remember a peer: a multiaddr ending in /p2p/<peer id>.
    Add { addr: String },
    /// The peers remembered.
    List,
}

#[derive(Subcommand, Debug)]
pub(crate) enum RosterCommand {
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
    /// Revoke a member. What of theirs this home holds stays valid (their frontier); anything
    /// else they sign is refused everywhere, whatever date it carries.
    Revoke {
        #[arg(long)]
        key: String,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Vouch for one more entry of a member: an honest entry written before a revocation or
    /// role change that arrived after it (and their entries before it in that report).
    Readmit {
        #[arg(long)]
        entry: String,
        /// The change it came before: a revocation, or a role change that took authority
        /// away; by default the member's revocation, else their latest such change. Only the
        /// change's author or a more senior admin may amend it.
        #[arg(long)]
        change: Option<String>,
    },
    /// Apply a member's key rotation request (`key rotate` printed it): their new key takes
    /// over their name, role and grants; their old key signs nothing after it (what of theirs
    /// this home holds stays valid, as for a revocation).
    Rotate {
        /// The request's text (`countersign-rotate:…`).
        request: String,
    },
    /// Replace a member's lost key by a new one, as an admin alone: the old key is revoked (what
    /// of theirs this home holds stays valid) and the new key is the same person.
    Replace {
        /// The lost key.
        #[arg(long)]
        key: String,
        /// The key of the member's new home (`countersign init` there prints it).
        #[arg(long)]
        new_key: String,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// List the members.
    List,
    /// Sign an invitation for a new member's key to join this department (admin only):
    /// print it and pass it on; they run `countersign join INVITATION`.
    Invite {
        #[arg(long)]
        key: String,
        /// A department node to dial first (repeatable; default: this home's `peer list`).
        #[arg(long = "peer")]
        peers: Vec<String>,
        /// Days the invitation is good for (1 to 90).
        #[arg(long, default_value_t = countersign_app::INVITATION_DAYS)]
        days: u64,
    },
}

/// Where `init` keeps the new identity's private key.
#[derive(Args, Debug)]
pub(crate) struct KeyStoreArgs {
    /// Where the private key is held: `sealed`, a file under the home sealed under a
    /// passphrase; `keychain`, the OS keychain (the Secret Service on Linux; no passphrase,
    /// nothing under the home); or `token`, a PKCS#11 hardware token it never leaves (the
    /// passphrase options then give the token's user PIN).
    #[arg(long, value_enum, default_value = "sealed")]
    pub(crate) key_store: KeyStoreChoice,
    /// With --key-store token: the token's PKCS#11 module, e.g.
    /// /usr/lib/softhsm/libsofthsm2.so.
    #[arg(long, value_name = "PATH", required_if_eq("key_store", "token"))]
    pub(crate) pkcs11_module: Option<PathBuf>,
    /// With --key-store token: the token's label.
    #[arg(long, value_name = "LABEL", required_if_eq("key_store", "token"))]
    pub(crate) token_label: Option<String>,
    /// With --key-store token: use the Ed25519 key pair already on the token with this CKA_ID
    /// (hex) instead of generating one.
    #[arg(long, value_name = "HEX")]
    pub(crate) pkcs11_key_id: Option<String>,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KeyStoreChoice {
    Sealed,
    Keychain,
    Token,
}

/// The store `init` puts a new key in, with what it needs to reach it.
pub(crate) enum NewKeyStore {
    Sealed,
    Keychain,
    Token(TokenChoice),
}

impl KeyStoreArgs {
    /// The store to hold the key; token options given with another store are refused rather
    /// than ignored.
    pub(crate) fn choice(self) -> Result<NewKeyStore, AppError> {
        match (self.key_store, self.pkcs11_module, self.token_label) {
            (KeyStoreChoice::Token, Some(module), Some(label)) => {
                let key_id = self
                    .pkcs11_key_id
                    .map(|id| {
                        hex::decode(&id)
                            .ok()
                            .filter(|b| !b.is_empty())
                            .ok_or_else(|| {
                                AppError::InvalidInput(format!(
                                    "--pkcs11-key-id {id:?} is not a key id in hex"
                                ))
                            })
                    })
                    .transpose()?;
                Ok(NewKeyStore::Token(TokenChoice {
                    module,
                    label,
                    key_id,
                }))
            }
            (KeyStoreChoice::Token, _, _) => Err(AppError::InvalidInput(
                "--key-store token needs --pkcs11-module and --token-label".into(),
            )),
            (KeyStoreChoice::Sealed, None, None) if self.pkcs11_key_id.is_none() => {
                Ok(NewKeyStore::Sealed)
            }
            (KeyStoreChoice::Keychain, None, None) if self.pkcs11_key_id.is_none() => {
                Ok(NewKeyStore::Keychain)
            }
            (KeyStoreChoice::Sealed | KeyStoreChoice::Keychain, _, _) => {
                Err(AppError::InvalidInput(
                    "--pkcs11-module, --token-label and --pkcs11-key-id go with --key-store token"
                        .into(),
                ))
            }
        }
    }
}

/// What an `ai-model` member is: the roster records it, and every entry it signs shows it.
#[derive(Args, Debug)]
pub(crate) struct ModelArgs {
    /// The model's vendor (with --role ai-model).
    #[arg(long)]
    pub(crate) vendor: Option<String>,
    /// The model's name (default: the member's name).
    #[arg(long)]
    pub(crate) model: Option<String>,
    /// The model's version (with --role ai-model).
    #[arg(long)]
    pub(crate) model_version: Option<String>,
    /// A regulatory clearance id (e.g. a 510(k) or CE number).
    #[arg(long)]
    pub(crate) regulatory_id: Option<String>,
}

impl ModelArgs {
    /// The model details an `ai-model` member needs, and nobody else may carry.
    pub(crate) fn for_member(
        self,
        role: Role,
        name: &str,
    ) -> Result<Option<AiModelInfo>, AppError> {
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
pub(crate) struct SectionArg {
    pub(crate) report: String,
    #[arg(long)]
    pub(crate) section: String,
}

#[derive(Subcommand, Debug)]
pub(crate) enum ReportCommand {
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
        #[arg(long, default_value = "")]
        text: String,
        /// A structured field's value, NAME=VALUE (repeatable); checked against the template.
        #[arg(long = "field", value_name = "NAME=VALUE", value_parser = parse_field)]
        fields: Vec<(String, String)>,
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
    /// Settle a conflict between sign-offs: keep one (attending only); the others stay in the
    /// record, superseded.
    Resolve {
        report: String,
        #[arg(long)]
        keep: String,
        #[arg(long, default_value = "")]
        note: String,
    },
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
    /// Let a member read a report (or, with --revoke, no longer): an AI model's node is sent
    /// only the reports it was granted.
    Grant {
        report: String,
        /// The member's key (hex).
        #[arg(long)]
        member: String,
        #[arg(long)]
        revoke: bool,
    },
    /// List reports, the most recently changed first, a page at a time: each line carries the
    /// `cursor` the next page starts after (`--after`).
    List {
        /// Reports in the page (1 to 10000).
        #[arg(long, default_value_t = 100)]
        limit: usize,
        /// Start after the line with this cursor (the last line of the page before).
        #[arg(long, value_name = "CURSOR")]
        after: Option<String>,
        /// Only this study's reports (Study Instance UID), with those moved away from it
        /// shown as moved.
        #[arg(long, value_name = "UID", conflicts_with = "after")]
        study: Option<String>,
    },
    /// Show a report with the provenance of every section.
    Show { report: String },
    /// Move a report filed under the wrong patient to the right patient's study (an
    /// attending signs it): its history stays, signed; the wrong study lists it as moved only.
    Move {
        report: String,
        /// The right patient's ID (the study's images must carry it).
        #[arg(long, value_name = "ID")]
        to_patient: String,
        /// The right study (Study Instance UID), imported here.
        #[arg(long, value_name = "UID")]
        study: String,
        #[arg(long)]
        reason: String,
    },
}

#[derive(Subcommand, Debug)]
pub(crate) enum BundleCommand {
    /// Write the roster and one report (or all) to FILE.
    Export {
        report: Option<String>,
        #[arg(short = 'o', long = "output")]
        output: PathBuf,
    },
    /// Verify every entry of FILE, then store them. A home that holds no network yet takes
    /// only the one named here (or joined by invitation): an auditor names it.
    Import {
        file: PathBuf,
        /// The network id the bundle must be of.
        #[arg(long)]
        network: Option<String>,
        /// The key that must have founded the bundle's network.
        #[arg(long)]
        trust_founder: Option<String>,
    },
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
