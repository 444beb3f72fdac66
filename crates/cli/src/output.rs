//! What a command prints: a JSON form, a human form, and whether it found a problem.

use countersign_app::ledger::EntryId;
use countersign_app::AppError;
use serde::Serialize;

/// What a command produced: its JSON form, its human form, and whether it found a problem.
pub(crate) struct Output {
    pub(crate) json: serde_json::Value,
    pub(crate) human: String,
    pub(crate) problem: bool,
}

impl Output {
    pub(crate) fn new<T: Serialize>(value: &T, human: String) -> Output {
        Output {
            json: serde_json::to_value(value).unwrap_or(serde_json::Value::Null),
            human,
            problem: false,
        }
    }
}

#[derive(Serialize)]
pub(crate) struct EntryOut {
    entry: EntryId,
}

/// Writes `bytes` to `path` and says so: `{"file", "bytes"}`.
/// Writes a file the user named, owner-only (0600): a bundle carries report keys, a rendered
/// image a patient's pixels. An existing file is narrowed to 0600 before anything is written.
pub(crate) fn written(path: &std::path::Path, bytes: &[u8]) -> Result<Output, AppError> {
    use std::io::Write;
    let io = |source| AppError::Io {
        context: format!("writing {}", path.display()),
        source,
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(io)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(io)?;
    }
    file.write_all(bytes).map_err(io)?;
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

pub(crate) fn entry_out(id: EntryId, what: &str) -> Output {
    Output::new(&EntryOut { entry: id }, format!("{what} {id}"))
}
