//! Arguments of the report's commands and of bundles.

use super::*;

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
        /// Insert this AutoText macro's text after --text (the write names the macro); its
        /// `[fields]` stay as placeholders, and sign-off refuses them, unless filled by --fill.
        #[arg(long = "macro", value_name = "NAME", conflicts_with = "fields")]
        macro_name: Option<String>,
        /// A macro field's value, NAME=VALUE (repeatable; with --macro).
        #[arg(long = "fill", value_name = "NAME=VALUE", value_parser = parse_field, requires = "macro_name")]
        fill: Vec<(String, String)>,
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
    /// Link a signed measurement, an arrow or a key image into a section: signs a new version
    /// whose text ends with the link's `[fig N]` marker and whose payload carries the link
    /// (study, series, instance SHA-256, frame, points).
    #[command(group(clap::ArgGroup::new("target").required(true).args(["measurement", "arrow", "key_image"])))]
    Link {
        #[command(flatten)]
        at: SectionArg,
        /// The `measurement.add` entry to link (its image, frame and end points).
        #[arg(long, value_name = "ENTRY")]
        measurement: Option<String>,
        /// An arrow's tip on a frame, in image pixels (column, row), and where its tail starts
        /// (TAIL_X TAIL_Y; up and to the left of the tip when not given).
        #[arg(long, num_args = 4..=6, value_names = ["IMAGE", "FRAME", "X", "Y", "TAIL_X", "TAIL_Y"])]
        arrow: Option<Vec<String>>,
        /// A whole frame as a key image.
        #[arg(long, num_args = 2, value_names = ["IMAGE", "FRAME"])]
        key_image: Option<Vec<String>>,
        /// What a reader sees beside the marker (default: the length, "arrow", "key image").
        #[arg(long)]
        label: Option<String>,
        /// Put the `[fig N]` marker this many characters into the section's text (its draft,
        /// else its signed text) rather than at its end.
        #[arg(long = "at-char", value_name = "N")]
        at_char: Option<usize>,
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
        /// Leave the reports' data keys out: a ciphertext-only bundle that verifies offline
        /// but whose sealed content cannot be read, and that an erasure shreds untouched.
        #[arg(long)]
        no_keys: bool,
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
