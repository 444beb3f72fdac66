//! Which program a model member's node runs: the built-in example, an executable the operator
//! bound with `ai bind --program`, or a service at an HTTP endpoint (`ai bind --endpoint`). Kept in this home's store (it is this node's setting, not the
//! department's: the roster says who the model is, the node says what runs as it).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::{AppError, Result};
use crate::home::Home;

const BINDING: &str = "ai.binding";

/// The built-in example model's name: it runs only under this name, so a roster entry naming
/// another model is never signed with its output.
pub const SOFT_TISSUE_STATS: &str = "soft-tissue-stats";

/// How long a program may run unless bound with another timeout.
pub const DEFAULT_TIMEOUT_SECS: u64 = 60;
/// The longest timeout a binding may set.
pub const MAX_TIMEOUT_SECS: u64 = 3600;
/// The most a program may print on stdout unless bound with another bound.
pub const DEFAULT_MAX_OUTPUT: usize = 64 << 10;
/// The largest output bound a binding may set (an `ai.result` is signed whole).
pub const MAX_OUTPUT: usize = 1 << 20;

/// What `ai run` runs on this node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum ModelBinding {
    /// A model built into the app ([`SOFT_TISSUE_STATS`]).
    Builtin { name: String },
    /// An executable speaking the contract in [`super::program`].
    Program {
        path: PathBuf,
        #[serde(default)]
        args: Vec<String>,
        timeout_secs: u64,
        max_output_bytes: usize,
    },
    /// A service speaking the same contract over HTTP ([`super::endpoint`]).
    Endpoint {
        url: String,
        timeout_secs: u64,
        max_output_bytes: usize,
    },
}

/// A binding's timeout and output bound, defaulted and checked.
fn bounds(timeout_secs: Option<u64>, max_output_bytes: Option<usize>) -> Result<(u64, usize)> {
    let timeout_secs = timeout_secs.unwrap_or(DEFAULT_TIMEOUT_SECS);
    if timeout_secs == 0 || timeout_secs > MAX_TIMEOUT_SECS {
        return Err(AppError::InvalidInput(format!(
            "a model's timeout is 1 to {MAX_TIMEOUT_SECS} seconds"
        )));
    }
    let max_output_bytes = max_output_bytes.unwrap_or(DEFAULT_MAX_OUTPUT);
    if max_output_bytes == 0 || max_output_bytes > MAX_OUTPUT {
        return Err(AppError::InvalidInput(format!(
            "a model's output bound is 1 to {MAX_OUTPUT} bytes"
        )));
    }
    Ok((timeout_secs, max_output_bytes))
}

impl ModelBinding {
    /// A program binding, its bounds checked and its path made absolute (it must exist and be a
    /// file now; it is hashed into every result it signs).
    pub fn program(
        path: PathBuf,
        args: Vec<String>,
        timeout_secs: Option<u64>,
        max_output_bytes: Option<usize>,
    ) -> Result<ModelBinding> {
        let (timeout_secs, max_output_bytes) = bounds(timeout_secs, max_output_bytes)?;
        let path = std::fs::canonicalize(&path).map_err(|e| {
            AppError::InvalidInput(format!("model program {}: {e}", path.display()))
        })?;
        if !path.is_file() {
            return Err(AppError::InvalidInput(format!(
                "model program {} is not a file",
                path.display()
            )));
        }
        Ok(ModelBinding::Program {
            path,
            args,
            timeout_secs,
            max_output_bytes,
        })
    }

    /// An HTTP endpoint binding (see [`super::endpoint`]), its URL and bounds checked. Nothing
    /// is sent until `ai run`.
    pub fn endpoint(
        url: &str,
        timeout_secs: Option<u64>,
        max_output_bytes: Option<usize>,
    ) -> Result<ModelBinding> {
        let (timeout_secs, max_output_bytes) = bounds(timeout_secs, max_output_bytes)?;
        Ok(ModelBinding::Endpoint {
            url: super::endpoint::endpoint_url(url)?,
            timeout_secs,
            max_output_bytes,
        })
    }

    /// The built-in model `name` (only [`SOFT_TISSUE_STATS`] exists).
    pub fn builtin(name: &str) -> Result<ModelBinding> {
        if name != SOFT_TISSUE_STATS {
            return Err(AppError::InvalidInput(format!(
                "there is no built-in model {name:?}; the one built in is {SOFT_TISSUE_STATS}"
            )));
        }
        Ok(ModelBinding::Builtin { name: name.into() })
    }
}

impl Home {
    /// Binds this node's model member to `binding` (replacing any earlier one).
    pub fn ai_bind(&mut self, binding: ModelBinding) -> Result<ModelBinding> {
        let text = serde_json::to_string(&binding).expect("a binding serialises");
        self.store_mut()
            .write(|db| db.set_meta(BINDING, &text).map_err(AppError::from))?;
        tracing::info!(kind = ?std::mem::discriminant(&binding), "model bound");
        Ok(binding)
    }

    /// What this node runs as its model: the binding, else the built-in example when the
    /// roster's model is the built-in's name, else nothing.
    pub fn ai_binding(&self, model_name: &str) -> Result<Option<ModelBinding>> {
        if let Some(text) = self.store().db().meta(BINDING)? {
            let binding = serde_json::from_str(&text).map_err(|e| {
                AppError::InvalidInput(format!("this node's model binding is damaged: {e}"))
            })?;
            return Ok(Some(binding));
        }
        Ok(
            (model_name == SOFT_TISSUE_STATS).then(|| ModelBinding::Builtin {
                name: SOFT_TISSUE_STATS.into(),
            }),
        )
    }
}
