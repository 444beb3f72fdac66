//! Where the CLI gets the key's passphrase (or, for a key on a hardware token, the token's PIN),
//! asked only when a command needs the secret key: in
//! order, `--passphrase-file PATH` (or `COUNTERSIGN_PASSPHRASE_FILE`), `--passphrase-fd N`, a
//! prompt on the terminal (no echo) when stdin is one; else the command fails at once with
//! `passphrase_required` (exit 2), never waiting for input.

use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use countersign_app::{AppError, Passphrase, PassphraseSource, PassphraseUse};
use zeroize::Zeroizing;

/// How to give a passphrase, for the error that says none was.
const HOW: &str = "the key is sealed under a passphrase and none was given: use \
    --passphrase-file PATH, COUNTERSIGN_PASSPHRASE_FILE=PATH or --passphrase-fd N, or run the \
    command in a terminal";

/// How to give a token's PIN, for the error that says none was.
const HOW_PIN: &str = "the key is on a hardware token and no PIN was given: use \
    --passphrase-file PATH, COUNTERSIGN_PASSPHRASE_FILE=PATH or --passphrase-fd N (a file \
    holding the PIN), or run the command in a terminal";

/// Longest passphrase read from a file or descriptor.
const MAX_BYTES: u64 = 4096;

/// The source for the global options: read once, then kept (a descriptor can be read only once).
pub(crate) fn source(file: Option<PathBuf>, fd: Option<u32>) -> PassphraseSource {
    let cached: Mutex<Option<Passphrase>> = Mutex::new(None);
    PassphraseSource::new(move |why| {
        let mut cached = cached.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(p) = cached.as_ref() {
            return Ok(p.clone());
        }
        let p = if let Some(path) = &file {
            read_file(path)?
        } else if let Some(fd) = fd {
            read_fd(fd)?
        } else if std::io::stdin().is_terminal() {
            prompt(why)?
        } else {
            return Err(AppError::PassphraseRequired(if why == PassphraseUse::Pin {
                HOW_PIN.into()
            } else {
                HOW.into()
            }));
        };
        *cached = Some(p.clone());
        Ok(p)
    })
}

/// The new passphrase of `key change-passphrase`: from `file`, else the terminal (twice).
pub(crate) fn new_passphrase(file: Option<&Path>) -> Result<Passphrase, AppError> {
    match file {
        Some(path) => read_file(path),
        None if std::io::stdin().is_terminal() => prompt(PassphraseUse::New),
        None => Err(AppError::PassphraseRequired(
            "no new passphrase: use --new-passphrase-file PATH, or run the command in a terminal"
                .into(),
        )),
    }
}

pub(crate) fn read_file(path: &Path) -> Result<Passphrase, AppError> {
    let file = std::fs::File::open(path).map_err(|source| AppError::Io {
        context: format!("reading the passphrase file {}", path.display()),
        source,
    })?;
    read_all(file, &format!("the passphrase file {}", path.display()))
}

fn read_fd(fd: u32) -> Result<Passphrase, AppError> {
    // The descriptor this process inherited, opened again by its name (no unsafe code).
    let path = PathBuf::from(format!("/dev/fd/{fd}"));
    let file = std::fs::File::open(&path).map_err(|source| AppError::Io {
        context: format!("reading the passphrase from descriptor {fd}"),
        source,
    })?;
    read_all(file, &format!("descriptor {fd}"))
}

fn read_all(file: std::fs::File, what: &str) -> Result<Passphrase, AppError> {
    // Room for the most that is read, so the buffer never moves (a move would leave a copy of
    // the passphrase behind, unwiped).
    let mut bytes = Zeroizing::new(Vec::with_capacity(MAX_BYTES as usize + 1));
    file.take(MAX_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|source| AppError::Io {
            context: format!("reading {what}"),
            source,
        })?;
    if bytes.len() as u64 > MAX_BYTES {
        return Err(AppError::InvalidInput(format!(
            "{what} holds more than {MAX_BYTES} bytes: not a passphrase"
        )));
    }
    Ok(Passphrase::from_file_bytes(bytes))
}

/// Asks on the terminal, without echo; a new passphrase twice.
fn prompt(why: PassphraseUse) -> Result<Passphrase, AppError> {
    let ask = |text: &str| -> Result<Passphrase, AppError> {
        rpassword::prompt_password(text)
            .map(Passphrase::new)
            .map_err(|source| AppError::Io {
                context: "reading the passphrase from the terminal".into(),
                source,
            })
    };
    match why {
        PassphraseUse::Unlock => ask("Passphrase of this home's key: "),
        PassphraseUse::Pin => ask("PIN of the token holding this home's key: "),
        PassphraseUse::New | PassphraseUse::Migrate => {
            let first = ask(if why == PassphraseUse::New {
                "New passphrase for this home's key: "
            } else {
                "This home's key is stored unsealed. Choose a passphrase to seal it: "
            })?;
            first.check_new()?;
            let again = ask("The same passphrase again: ")?;
            if !first.same_as(&again) {
                return Err(AppError::InvalidInput(
                    "the two passphrases differ; nothing was changed".into(),
                ));
            }
            Ok(first)
        }
    }
}
