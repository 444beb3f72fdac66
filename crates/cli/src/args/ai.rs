//! Arguments of the AI commands: running and binding a model, receiving a vendor's results,
//! the reviewer's figures and the audit package.

use super::*;

#[derive(Subcommand, Debug)]
pub(crate) enum AiCommand {
    /// Run the model bound to this node on the report's images and sign its result (an
    /// `ai.result`), only if it ran and its output held to the contract (README, AI models).
    Run {
        #[arg(long)]
        report: String,
    },
    /// Bind this node's model member to what runs as it: an executable speaking the contract
    /// (--program), a service speaking it over HTTP (--endpoint), or the built-in example
    /// (--builtin soft-tissue-stats).
    Bind {
        #[arg(long, value_name = "PATH", conflicts_with_all = ["builtin", "endpoint"], required_unless_present_any = ["builtin", "endpoint"])]
        program: Option<PathBuf>,
        /// A service speaking the contract over HTTP: POST URL with the input and the images
        /// as multipart/related, the output as JSON in the answer (see the README).
        #[arg(long, value_name = "URL", conflicts_with = "builtin")]
        endpoint: Option<String>,
        /// An argument to pass the program (repeat for more).
        #[arg(
            long = "arg",
            value_name = "ARG",
            requires = "program",
            allow_hyphen_values = true
        )]
        args: Vec<String>,
        /// Seconds the program may run, or the endpoint may take to answer (default 60, at
        /// most 3600).
        #[arg(long, conflicts_with = "builtin")]
        timeout: Option<u64>,
        /// Bytes the program may print, or the endpoint answer (default 65536, at most
        /// 1048576).
        #[arg(long, conflicts_with = "builtin")]
        max_output: Option<usize>,
        #[arg(long, value_name = "NAME")]
        builtin: Option<String>,
    },
    /// Attest receipt of an AI result delivered as a DICOM SR (a TID 1500 measurement report):
    /// signs an `ai.received` with this home's key, never as the device; reviewed like any AI
    /// result before sign-off.
    ///
    /// With --pacs and --study, the AI results an AI product stored into that study on the
    /// archive (SRs whose observer is a device; reports by people are left alone).
    ///
    /// With --folder, one pass over a drop folder: each SR in it is received (or refused) on
    /// its own and moved into DIR/received/ or DIR/refused/ (beside NAME.why.txt), so that a
    /// systemd path unit can run the pass whenever a file arrives.
    Import {
        /// The SR file (at most 64 MiB).
        #[arg(required_unless_present_any = ["folder", "pacs"], conflicts_with_all = ["folder", "pacs"])]
        sr: Option<PathBuf>,
        /// A drop folder of SR files (one pass).
        #[arg(long, value_name = "DIR", conflicts_with = "pacs")]
        folder: Option<PathBuf>,
        /// The archive to take the study's AI results (SRs a device wrote) from (see `pacs add`).
        #[arg(long, value_name = "NAME", requires = "study")]
        pacs: Option<String>,
        /// The study whose AI results to take from the archive.
        #[arg(long, value_name = "UID", requires = "pacs")]
        study: Option<String>,
        /// The report it is for (default: the one report this home holds on the SR's study).
        #[arg(long)]
        report: Option<String>,
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
    /// Write the AI audit package to FILE: one archive holding the signed entries of every
    /// report it speaks of (`bundle import FILE` then `verify` and `ai stats` recompute the
    /// figures offline), provenance.json (a FHIR R4 Bundle: one Provenance per AI result, the
    /// AI a Device agent, the human reviewer the verifier, with the signatures), summary.pdf
    /// (the `ai stats` figures, the selection, who exported it when, what was excluded) and a
    /// README, over the same reports and proposals as `ai stats`.
    Export {
        /// The archive to write (never inside the home).
        #[arg(long, short = 'o', value_name = "FILE")]
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
