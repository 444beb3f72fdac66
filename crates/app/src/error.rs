//! Errors of the use cases. Each has a stable `code` from a fixed list; the desktop shell sends
//! `{code, message}` to the UI and the CLI prints the message.

use countersign_ledger::bundle::BundleError;
use countersign_ledger::{EntryError, RuleError};
use countersign_report::ReportRuleError;
use countersign_store::StoreError;
use serde::Serialize;

/// Why an entry is refused: the pure acceptance path's answer, with a stable `code()` from
/// [`countersign_report::accept::REJECTION_CODES`].
pub use countersign_report::accept::Rejection;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("no identity in {home}; run `countersign init` first")]
    NotInitialized { home: String },
    /// The desktop opens its home off the window's way (after an update, opening upgrades
    /// the store first, which takes a while for years of reports): asked before it is open.
    #[error("this home is still being opened (after an update its store is upgraded first, which takes a while for a large department); it is shown as soon as it is open")]
    HomeOpening,
    #[error("{home} already holds an identity ({key})")]
    AlreadyInitialized { home: String, key: String },
    #[error("this home does not belong to a department network yet; found one with `init --admin` or import a bundle from an admin")]
    NoNetwork,
    #[error("{what} not found")]
    NotFound { what: String },
    #[error("{0}")]
    InvalidInput(String),
    #[error("refused by rule {}: {}", .0.code(), .0)]
    NotAllowed(Box<Rejection>),
    #[error("entry {entry} refused by rule {}; nothing from this bundle was stored: {reason}", .reason.code())]
    EntryRefused {
        entry: String,
        reason: Box<Rejection>,
    },
    #[error("not a valid bundle: {0}")]
    BadBundle(#[from] BundleError),
    #[error("bundle entry {index} is not authentic: {reason}")]
    BundleEntry { index: usize, reason: String },
    #[error("private key for {key} is missing or unreadable: {reason}")]
    KeyMissing { key: String, reason: String },
    /// The secret key is needed and no passphrase could be had (no source given, no terminal):
    /// says how to give one. Never waits for input.
    #[error("{0}")]
    PassphraseRequired(String),
    #[error("wrong passphrase for key {key}")]
    WrongPassphrase { key: String },
    /// The stored key is damaged: a sealed key file truncated, changed or not a sealed key at
    /// all; a keychain item that is not the seed of this key.
    #[error("the stored key of {key} is damaged: {reason}")]
    KeyDamaged { key: String, reason: String },
    /// The home's key is in the OS keychain and the keychain cannot be reached: no D-Bus session
    /// bus, no Secret Service on it, or it did not answer.
    #[error("the OS keychain is unavailable: {0}")]
    KeychainUnavailable(String),
    /// The keychain holds the key in a locked collection, and unlocking it was refused, dismissed
    /// or could not be asked (no display for its prompt).
    #[error("the OS keychain holding the key {key} is locked and was not unlocked (its unlock prompt was dismissed or could not be shown)")]
    KeychainLocked { key: String },
    /// The desktop app's key is locked (not unlocked yet this session, or locked when idle).
    #[error("the key is locked: unlock it to sign")]
    Locked,
    /// A sync node's identity is its member key, which cannot change while it runs: the home's
    /// key was rotated since it started (adopted by another process on the home, or a rotation
    /// that reached the node from a peer), and peers no longer serve the old key.
    #[error("{}", node_key_rotated(new, *switched))]
    NodeKeyRotated { new: String, switched: bool },
    /// Signing a final asks for the passphrase again, whatever was unlocked before.
    #[error("signing a report off as final asks for your passphrase again")]
    ReauthRequired,
    /// The PIN the token holding the key refused.
    #[error("wrong PIN for token {token}")]
    WrongPin { token: String },
    /// The token refuses its user PIN after too many wrong ones: unblock it with its SO PIN.
    #[error("the PIN of token {token} is locked after too many wrong tries: unblock it with the token's own tools (its SO PIN)")]
    PinLocked { token: String },
    /// The token holding the key is not there (not inserted, removed, deleted), or its module
    /// cannot be loaded.
    #[error("{0}")]
    TokenMissing(String),
    /// The token cannot hold or use an Ed25519 key (no `CKM_EDDSA`, another curve).
    #[error("{0}")]
    TokenUnsupported(String),
    /// Any other failure the token reported.
    #[error("{0}")]
    Token(String),
    /// The key never leaves its holder, and what was asked needs it in this process (a sync
    /// node's peer identity).
    #[error("{0}")]
    KeyNotExportable(String),
    /// The key's holder outside this process (a token, an agent) made no signature.
    #[error("the key could not sign: {0}")]
    SigningFailed(String),
    /// `COUNTERSIGN_AGENT_SOCK` names no agent that answers, or one holding another key.
    #[error("{0}")]
    AgentUnavailable(String),
    /// The agent put its key away for good and stopped, rather than sign: the key is no longer
    /// its home's to sign with (the home's profile names another key — a rotation adopted —
    /// or the department's roster rotated, replaced or revoked it). Code `key_rotated`: as for
    /// a handle holding a key another process rotated away, the key to sign with is the one
    /// the home names now (start the agent again).
    #[error("{0}")]
    AgentKeyRetired(String),
    /// No model program is bound to this node for the model it would sign as.
    #[error("{0}")]
    AiModelUnbound(String),
    /// The model program ran past its timeout (it was killed; nothing signed).
    #[error("{0}")]
    AiModelTimeout(String),
    /// The model program did not start, or exited with a failure.
    #[error("{0}")]
    AiModelFailed(String),
    /// The model program printed too much, or not the contract's JSON.
    #[error("{0}")]
    AiModelOutput(String),
    /// A model refused the report's images (e.g. a CT model given an MR study).
    #[error("{0}")]
    AiInputRefused(String),
    /// An SR given to `ai import` was refused: too large, not an SR, or malformed.
    #[error(transparent)]
    Sr(countersign_imaging::sr::SrError),
    /// An SR given to `ai import` is about another study than the report's.
    #[error("{0}")]
    SrWrongStudy(String),
    /// The same SR file (by SHA-256) was already received into the report.
    #[error("{0}")]
    SrAlreadyReceived(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Image(countersign_imaging::ImagingError),
    /// The sandboxed decoder crashed, hung or ran out of memory on this image.
    #[error("this image is not decoded here: {0}")]
    ImageRefused(String),
    #[error("the image file has changed since the report named it: expected SHA-256 {expected}, found {found}")]
    ImageChanged { expected: String, found: String },
    #[error("template {file}: {error}")]
    Template {
        file: String,
        error: countersign_report::TemplateError,
    },
    /// A macro file that does not read: its own code (`macro_syntax`, `macro_placeholder`, …).
    #[error("macro file {file}: {error}")]
    Macro {
        file: String,
        error: countersign_report::macros::MacroError,
    },
    /// `--fill` names a field the macro does not have, or gives a value no field takes.
    #[error(transparent)]
    MacroFill(#[from] countersign_report::macros::FillError),
    #[error("sync: {0}")]
    Sync(String),
    /// A network this home was not told to trust, or none told yet.
    #[error(transparent)]
    Untrusted(#[from] countersign_report::accept::trust::TrustError),
    #[error("not a valid rotation request: {0}")]
    Rotation(#[from] countersign_ledger::rotation::RotationError),
    /// A valid rotation request this home does not apply (another network), or a rotation this
    /// home cannot ask for (its key revoked, rotated already, not on the roster).
    #[error("{0}")]
    RotationRefused(String),
    /// Another program on this home held its key lock (a rotation adopted, a passphrase
    /// changed, a key moved) for longer than a key operation waits (`keys::lock::WAIT`).
    #[error("another program on this home is changing its key (a rotation, a passphrase change or a key move; perhaps waiting on the keychain's prompt): nothing was changed; try again once it is done")]
    KeyBusy,
    /// A rotation of this home's key waits for an admin, and what was asked would leave it
    /// unadoptable: `key move` (the rotation's new key is kept in the store the current one
    /// is in, and adopting looks for it in the store the profile names).
    #[error("a rotation of this home's key to {new} waits for an admin: {what} once it is applied and adopted here (`countersign sync`, or a bundle from the admin)")]
    RotationPending { new: String, what: String },
    #[error("not a valid invitation: {0}")]
    Invitation(#[from] countersign_ledger::invitation::InvitationError),
    /// A valid invitation this home does not take (expired, for another key) or may not give.
    #[error("{0}")]
    InvitationRefused(String),
    /// A file path a command will not write to (inside the home, no file name).
    #[error("{0}")]
    PathRefused(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
    /// What an archive holds of a study is not one patient's: nothing of it is taken.
    #[error("{0}")]
    WrongPatient(String),
    /// The report's payloads are sealed under a data key this home does not hold: its content
    /// cannot leave the home (an export or a delivery would be an empty report that verifies).
    #[error(
        "report {report}: this home holds the report's entries but not its key; sync with a \
         peer that may read it"
    )]
    ReportUnreadable { report: String },
    /// Talking to a picture archive failed: it is named, and what went wrong said.
    #[error("archive {archive}: {source}")]
    Pacs {
        archive: String,
        source: countersign_pacs::PacsError,
    },
    /// An archive's stored credentials do not open (sealed under another member key, moved,
    /// or damaged): the archive is named, the reason said, nothing of the secret.
    #[error("archive {archive}: its stored credentials do not open: {reason}")]
    ArchiveCredentials { archive: String, reason: String },
    /// An SR an archive holds as a prior study's report is refused by the SR reader (too
    /// large or deep, not an SR, malformed): the archive and the instance are named, the
    /// code is the reader's.
    #[error("archive {archive}: its SR {instance} is not shown: {source}")]
    ArchiveSr {
        archive: String,
        instance: String,
        source: countersign_imaging::sr::SrError,
    },
}

/// The fixed list of error codes the UI and scripts can rely on.
pub const ERROR_CODES: &[&str] = &[
    "not_initialized",
    "home_opening",
    "already_initialized",
    "no_network",
    "not_found",
    "invalid_input",
    "not_allowed",
    "bad_bundle",
    "key_missing",
    "passphrase_required",
    "wrong_passphrase",
    "key_damaged",
    "keychain_unavailable",
    "keychain_locked",
    "locked",
    "reauth_required",
    "signing_failed",
    "wrong_pin",
    "pin_locked",
    "token_missing",
    "token_unsupported",
    "token_error",
    "key_not_exportable",
    "agent_unavailable",
    "ai_model_unbound",
    "ai_model_timeout",
    "ai_model_failed",
    "ai_model_output",
    "ai_input_refused",
    "sr_too_large",
    "sr_not_sr",
    "sr_malformed",
    "sr_wrong_study",
    "sr_already_received",
    "newer_ledger",
    "damaged_ledger",
    "disk_full",
    "data_key_unopened",
    "key_rotated",
    "bad_image",
    "unsupported_image",
    "image_changed",
    "bad_template",
    "macro_syntax",
    "macro_name",
    "macro_invalid",
    "macro_placeholder",
    "macro_too_many_fields",
    "macro_duplicate",
    "macro_fill_unknown",
    "macro_fill_value",
    "sync_failed",
    "not_joined",
    "untrusted_network",
    "inviter_not_admin",
    "invitation_malformed",
    "invitation_forged",
    "invitation_refused",
    "rotation_malformed",
    "rotation_forged",
    "rotation_refused",
    "rotation_pending",
    "key_busy",
    "path_refused",
    "pacs_unreachable",
    "pacs_timeout",
    "pacs_refused",
    "pacs_unauthorized",
    "pacs_credentials_unreadable",
    "pacs_malformed",
    "pacs_too_large",
    "wrong_patient",
    "report_unreadable",
    "storage",
    "io",
];

impl AppError {
    pub fn code(&self) -> &'static str {
        match self {
            AppError::NotInitialized { .. } => "not_initialized",
            AppError::HomeOpening => "home_opening",
            AppError::AlreadyInitialized { .. } => "already_initialized",
            AppError::NoNetwork => "no_network",
            AppError::NotFound { .. } => "not_found",
            AppError::InvalidInput(_) => "invalid_input",
            AppError::NotAllowed(_) | AppError::EntryRefused { .. } => "not_allowed",
            AppError::BadBundle(_) | AppError::BundleEntry { .. } => "bad_bundle",
            AppError::KeyMissing { .. } => "key_missing",
            AppError::PassphraseRequired(_) => "passphrase_required",
            AppError::WrongPassphrase { .. } => "wrong_passphrase",
            AppError::KeyDamaged { .. } => "key_damaged",
            AppError::KeychainUnavailable(_) => "keychain_unavailable",
            AppError::KeychainLocked { .. } => "keychain_locked",
            AppError::Locked => "locked",
            AppError::ReauthRequired => "reauth_required",
            AppError::SigningFailed(_) => "signing_failed",
            AppError::WrongPin { .. } => "wrong_pin",
            AppError::PinLocked { .. } => "pin_locked",
            AppError::TokenMissing(_) => "token_missing",
            AppError::TokenUnsupported(_) => "token_unsupported",
            AppError::Token(_) => "token_error",
            AppError::KeyNotExportable(_) => "key_not_exportable",
            AppError::AgentUnavailable(_) => "agent_unavailable",
            AppError::AiModelUnbound(_) => "ai_model_unbound",
            AppError::AiModelTimeout(_) => "ai_model_timeout",
            AppError::AiModelFailed(_) => "ai_model_failed",
            AppError::AiModelOutput(_) => "ai_model_output",
            AppError::AiInputRefused(_) => "ai_input_refused",
            AppError::Sr(e) => e.code(),
            AppError::SrWrongStudy(_) => "sr_wrong_study",
            AppError::SrAlreadyReceived(_) => "sr_already_received",
            AppError::ArchiveSr { source, .. } => source.code(),
            AppError::Store(StoreError::NewerSchema { .. }) => "newer_ledger",
            AppError::Store(StoreError::NotADatabase(_)) => "damaged_ledger",
            AppError::Store(StoreError::DiskFull) => "disk_full",
            AppError::Store(StoreError::TooLarge { .. }) => "invalid_input",
            AppError::Store(StoreError::KeysLocked) => "locked",
            AppError::Store(StoreError::KeyUnwrap { .. }) => "data_key_unopened",
            AppError::Store(StoreError::KeysRotated)
            | AppError::NodeKeyRotated { .. }
            | AppError::AgentKeyRetired(_) => "key_rotated",
            AppError::Store(_) => "storage",
            AppError::Io { .. } => "io",
            AppError::ImageChanged { .. } => "image_changed",
            AppError::ImageRefused(_) => "bad_image",
            AppError::Template { .. } => "bad_template",
            AppError::Macro { error, .. } => error.code(),
            AppError::MacroFill(e) => e.code(),
            AppError::Sync(_) => "sync_failed",
            AppError::Untrusted(e) => e.code(),
            AppError::Invitation(e) => e.code(),
            AppError::InvitationRefused(_) => "invitation_refused",
            AppError::Rotation(e) => e.code(),
            AppError::RotationRefused(_) => "rotation_refused",
            AppError::RotationPending { .. } => "rotation_pending",
            AppError::KeyBusy => "key_busy",
            AppError::PathRefused(_) => "path_refused",
            AppError::WrongPatient(_) => "wrong_patient",
            AppError::ReportUnreadable { .. } => "report_unreadable",
            AppError::ArchiveCredentials { .. } => "pacs_credentials_unreadable",
            AppError::Pacs { source, .. } => {
                use countersign_pacs::PacsError as P;
                match source {
                    P::Unreachable(_) => "pacs_unreachable",
                    P::Timeout(_) => "pacs_timeout",
                    P::Refused(_) => "pacs_refused",
                    P::Unauthorized(_) => "pacs_unauthorized",
                    P::Malformed(_) => "pacs_malformed",
                    P::TooLarge { .. } => "pacs_too_large",
                    P::InvalidInput(_) => "invalid_input",
                    // Only ever this app's own doing (it stopped the retrieval on an error
                    // of its own, which is the one reported).
                    P::Io { .. } | P::Stopped => "io",
                }
            }
            AppError::Image(e) => match e {
                countersign_imaging::ImagingError::UnsupportedTransferSyntax { .. }
                | countersign_imaging::ImagingError::Unsupported(_) => "unsupported_image",
                countersign_imaging::ImagingError::Io { .. } => "io",
                _ => "bad_image",
            },
        }
    }

    /// The `{code, message}` form that crosses to the UI.
    pub fn to_wire(&self) -> WireError {
        WireError {
            code: self.code(),
            rule: self.rule(),
            message: self.to_string(),
        }
    }

    /// For an entry refused by a rule, that rule's stable code (see
    /// [`countersign_report::accept::REJECTION_CODES`]).
    pub fn rule(&self) -> Option<&'static str> {
        match self {
            AppError::NotAllowed(r) => Some(r.code()),
            AppError::EntryRefused { reason, .. } => Some(reason.code()),
            _ => None,
        }
    }

    /// This error as a log may say it: ids, rule names, counts and sizes, never what someone
    /// wrote or a file's path. A rule's message can quote a field value, an invalid input can
    /// quote the input, and a path can hold a patient's name (folders named after patients are
    /// common on exported CDs); those are logged as their code only.
    pub fn loggable(&self) -> String {
        match self {
            AppError::NotAllowed(r) => format!("refused by rule {}", r.code()),
            AppError::EntryRefused { entry, reason } => {
                format!("entry {entry} refused by rule {}", reason.code())
            }
            // Record numbers, sizes, ids and keys only.
            AppError::BadBundle(_)
            | AppError::BundleEntry { .. }
            | AppError::ImageChanged { .. }
            | AppError::Store(_) => self.to_string(),
            AppError::KeyMissing { key, .. } => format!("private key for {key} is missing"),
            AppError::WrongPassphrase { key } => format!("wrong passphrase for key {key}"),
            AppError::WrongPin { .. } | AppError::PinLocked { .. } => self.to_string(),
            AppError::KeyDamaged { key, .. } => format!("the stored key of {key} is damaged"),
            // The archive's name and the failure's kind: a malformed answer's words can quote
            // what the archive sent, which may be a patient's.
            AppError::Pacs { archive, .. }
            | AppError::ArchiveSr { archive, .. }
            | AppError::ArchiveCredentials { archive, .. } => {
                format!("archive {archive}: {}", self.code())
            }
            // About the bus and the keychain's state, never its content.
            AppError::KeychainUnavailable(_) | AppError::KeychainLocked { .. } => self.to_string(),
            _ => self.code().to_string(),
        }
    }

    pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> AppError {
        let context = context.into();
        move |source| AppError::Io { context, source }
    }
}

/// The words of [`AppError::NodeKeyRotated`].
fn node_key_rotated(new: &str, switched: bool) -> String {
    if switched {
        format!(
            "this home's key was rotated to {new} while this sync node ran as the old key, which \
             the department's peers no longer serve: the node stopped; start it again (it runs \
             as the new key)"
        )
    } else {
        format!(
            "the department's roster moved this node's key to {new} (a rotation, or an admin's \
             replacement of a lost key), and this home has not switched to it (its new key does \
             not open here now, or it is not this home's): peers no longer serve the old key, \
             so the node does not run as it; unlock the home (or run any `countersign` command) \
             to adopt a rotation it asked for, or set this home up again with the new key"
        )
    }
}

impl From<Rejection> for AppError {
    fn from(e: Rejection) -> Self {
        AppError::NotAllowed(Box::new(e))
    }
}

impl From<ReportRuleError> for AppError {
    fn from(e: ReportRuleError) -> Self {
        Rejection::Report(e).into()
    }
}

impl From<EntryError> for AppError {
    fn from(e: EntryError) -> Self {
        match e {
            // Not a rule's refusal: this home's own signer failed.
            EntryError::Signing(e) => e.into(),
            e => Rejection::from(e).into(),
        }
    }
}

impl From<countersign_ledger::SignError> for AppError {
    fn from(e: countersign_ledger::SignError) -> Self {
        match e {
            countersign_ledger::SignError::Failed(why) => AppError::SigningFailed(why),
            // Wherever it is converted (an entry's signature, the data-key wrapping key's):
            // the key is no longer the home's, not a signer's failure.
            countersign_ledger::SignError::KeyPutAway(why) => AppError::AgentKeyRetired(why),
        }
    }
}

impl From<RuleError> for AppError {
    fn from(e: RuleError) -> Self {
        Rejection::Rule(e).into()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WireError {
    pub code: &'static str,
    /// The refusing rule's code, when a rule refused an entry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<&'static str>,
    pub message: String,
}

pub type Result<T, E = AppError> = std::result::Result<T, E>;
