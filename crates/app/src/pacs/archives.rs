//! The archives a home knows: their configuration (where each is, how long to wait, whether
//! signed-off reports go back to it, its sealed credentials), kept in the store's meta table.

use super::*;

/// Where a home keeps its archives (the store's meta table, as a JSON array).
const ARCHIVES_META: &str = "pacs.archives";
/// The most archives a home keeps.
pub const MAX_ARCHIVES: usize = 64;
/// The AE title a home calls itself on a DIMSE association when none is configured.
pub const DEFAULT_CALLING_AET: &str = countersign_pacs::dimse::DEFAULT_CALLING_AET;

/// How an archive is reached.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "protocol", rename_all = "lowercase")]
pub enum ArchiveEndpoint {
    /// DICOMweb: the base URL under which `/studies` is.
    Dicomweb { url: String },
    /// DIMSE: `AET@HOST:PORT`, and the AE title this home calls itself; with `move_port`,
    /// retrieved by C-MOVE to that title, received on that port of this machine, rather
    /// than by C-GET.
    Dimse {
        address: String,
        calling_aet: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        move_port: Option<u16>,
    },
}

/// An archive as configured in the home.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchiveConfig {
    pub name: String,
    #[serde(flatten)]
    pub endpoint: ArchiveEndpoint,
    /// How long to wait for the archive to say anything (connect, each answer, each read).
    #[serde(default = "default_timeout")]
    pub timeout_s: u64,
    /// Whether a report's SR is sent here when it is signed off (and on each addendum).
    #[serde(default)]
    pub store_back: bool,
    /// That it is sent credentials, and which (the user, never the secret: that is sealed
    /// apart, see `credentials`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<ArchiveAuth>,
    /// The credentials, unsealed by [`Home::archive`] for this use; never stored or shown.
    #[serde(skip)]
    pub(super) secret: Option<std::sync::Arc<Credentials>>,
}

/// How an archive is used, beside where it is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ArchiveOptions {
    /// Seconds to wait for each answer (default [`DEFAULT_TIMEOUT_S`]).
    pub timeout_s: Option<u64>,
    /// Send signed-off reports here ([`Home::store_back`]).
    pub store_back: bool,
}

/// The wait for an archive when none is configured.
pub const DEFAULT_TIMEOUT_S: u64 = 30;
/// The longest wait that may be configured.
pub const MAX_TIMEOUT_S: u64 = 600;

fn default_timeout() -> u64 {
    DEFAULT_TIMEOUT_S
}

impl ArchiveConfig {
    pub(super) fn limits(&self) -> Limits {
        Limits {
            timeout: std::time::Duration::from_secs(self.timeout_s.clamp(1, MAX_TIMEOUT_S)),
            ..Limits::default()
        }
    }

    pub(super) fn client(&self) -> Result<Archive> {
        let limits = self.limits();
        let archive = match &self.endpoint {
            ArchiveEndpoint::Dicomweb { url } => countersign_pacs::DicomWeb::new(url, limits)
                .and_then(|web| match (&self.auth, &self.secret) {
                    (None, _) => Ok(web),
                    (Some(auth), Some(secret)) => {
                        web.with_credentials((**secret).clone(), auth.allow_cleartext)
                    }
                    // A configuration listed, not loaded by `Home::archive`: never dialled
                    // without the credentials it says it has.
                    (Some(_), None) => Err(PacsError::InvalidInput(
                        "its credentials were not unsealed for this use".into(),
                    )),
                })
                .map(Archive::DicomWeb),
            ArchiveEndpoint::Dimse {
                address,
                calling_aet,
                move_port,
            } => Dimse::parse(address, Some(calling_aet)).map(|mut d| {
                d.timeout = limits.timeout;
                d.move_port = *move_port;
                Archive::Dimse(d)
            }),
        };
        archive.map_err(|e| self.error(e))
    }

    pub(super) fn error(&self, source: PacsError) -> AppError {
        AppError::Pacs {
            archive: self.name.clone(),
            source,
        }
    }
}

/// What `pacs test` found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ArchiveTest {
    pub archive: String,
    pub protocol: &'static str,
    /// The round trip of a C-ECHO (DIMSE) or of a one-study QIDO-RS search (DICOMweb).
    pub rtt_ms: f64,
}

pub(super) fn check_name(name: &str) -> Result<()> {
    if name.is_empty()
        || name.len() > 64
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        return Err(AppError::InvalidInput(format!(
            "{:?} is not an archive name (1 to 64 letters, digits, '-', '_' or '.')",
            name.chars().take(80).collect::<String>()
        )));
    }
    Ok(())
}

impl Home {
    /// The archives this home knows, in the order they were added.
    pub fn pacs_list(&self) -> Result<Vec<ArchiveConfig>> {
        archives_in(&self.store().db())
    }

    /// Adds an archive (checked, not contacted: `pacs test` does that), waiting `timeout_s`
    /// seconds at most for each of its answers (default [`DEFAULT_TIMEOUT_S`]).
    pub fn pacs_add(
        &mut self,
        name: &str,
        endpoint: ArchiveEndpoint,
        options: ArchiveOptions,
    ) -> Result<ArchiveConfig> {
        self.pacs_add_with(name, endpoint, options, None)
    }

    /// [`Home::pacs_add`] with credentials for a DICOMweb archive: sealed under the home's
    /// key (which must be open, or openable from the passphrase source: never stored in
    /// clear), sent with every request, refused over plain http to another host unless
    /// `allow_cleartext`.
    pub fn pacs_add_with(
        &mut self,
        name: &str,
        endpoint: ArchiveEndpoint,
        options: ArchiveOptions,
        login: Option<ArchiveLogin>,
    ) -> Result<ArchiveConfig> {
        check_name(name)?;
        if login.is_some() && !matches!(endpoint, ArchiveEndpoint::Dicomweb { .. }) {
            return Err(AppError::InvalidInput(
                "credentials are for a DICOMweb archive (a DIMSE archive knows this home by its AE title)".into(),
            ));
        }
        if let ArchiveEndpoint::Dimse {
            move_port: Some(0), ..
        } = endpoint
        {
            return Err(AppError::InvalidInput("a C-MOVE port is 1 to 65535".into()));
        }
        let timeout_s = options.timeout_s.unwrap_or(DEFAULT_TIMEOUT_S);
        if !(1..=MAX_TIMEOUT_S).contains(&timeout_s) {
            return Err(AppError::InvalidInput(format!(
                "a timeout is 1 to {MAX_TIMEOUT_S} seconds"
            )));
        }
        let config = ArchiveConfig {
            name: name.to_string(),
            endpoint,
            timeout_s,
            store_back: options.store_back,
            auth: login.as_ref().map(ArchiveAuth::of),
            secret: login
                .as_ref()
                .map(|l| std::sync::Arc::new(l.credentials.clone())),
        };
        // Normalised as the client reads it, so the list shows what will be dialled.
        let config = match config.client()? {
            Archive::DicomWeb(web) => ArchiveConfig {
                endpoint: ArchiveEndpoint::Dicomweb {
                    url: web.base().to_string(),
                },
                ..config
            },
            Archive::Dimse(dimse) => ArchiveConfig {
                endpoint: ArchiveEndpoint::Dimse {
                    address: dimse.address(),
                    calling_aet: dimse.calling_aet.clone(),
                    move_port: dimse.move_port,
                },
                ..config
            },
        };
        let mut archives = self.pacs_list()?;
        if archives.iter().any(|a| a.name == name) {
            return Err(AppError::InvalidInput(format!(
                "an archive named {name} is already configured (pacs remove {name} first)"
            )));
        }
        if archives.len() >= MAX_ARCHIVES {
            return Err(AppError::InvalidInput(format!(
                "this home already has {MAX_ARCHIVES} archives"
            )));
        }
        let sealed = match (&login, &config.auth) {
            (Some(login), Some(auth)) => {
                self.need_keys()?;
                let kek = self.store().kek().ok_or(AppError::Locked)?;
                let sealed = credentials::seal(&kek, name, auth, login.credentials.secret());
                Some(serde_json::to_string(&sealed).map_err(|e| {
                    AppError::InvalidInput(format!("encoding the sealed credentials: {e}"))
                })?)
            }
            _ => None,
        };
        archives.push(config.clone());
        self.save_archives_and(&archives, |db| match &sealed {
            Some(sealed) => db.set_meta(&credentials::meta_key(name), sealed),
            // No credentials now: none left from an archive of this name before.
            None => db.delete_meta(&credentials::meta_key(name)),
        })?;
        tracing::info!(
            archive = name,
            credentials = config.auth.is_some(),
            "archive added"
        );
        Ok(config)
    }

    /// Forgets an archive.
    pub fn pacs_remove(&mut self, name: &str) -> Result<()> {
        let mut archives = self.pacs_list()?;
        let before = archives.len();
        archives.retain(|a| a.name != name);
        if archives.len() == before {
            return Err(not_configured(name));
        }
        self.save_archives_and(&archives, |db| db.delete_meta(&credentials::meta_key(name)))?;
        // The sealed secret's bytes leave the WAL too (the store deletes securely).
        self.store().truncate_wal()?;
        Ok(())
    }

    /// Writes the archive list and, in the same transaction, `also` (an archive's secret).
    fn save_archives_and(
        &mut self,
        archives: &[ArchiveConfig],
        also: impl FnOnce(&countersign_store::Db<'_>) -> countersign_store::Result<()>,
    ) -> Result<()> {
        let json = serde_json::to_string(archives)
            .map_err(|e| AppError::InvalidInput(format!("encoding the archive list: {e}")))?;
        // Credentials sealed by a process holding the old key of a rotation another process
        // adopted would never open again (see `rotation::hold_kek`).
        self.write_holding_kek(|db| {
            db.set_meta(ARCHIVES_META, &json)?;
            Ok(also(db)?)
        })
    }

    /// An archive as configured, its credentials (if any) unsealed for this use: the home's
    /// key must be open or openable (`passphrase_required` or `locked` otherwise).
    pub(super) fn archive(&self, name: &str) -> Result<ArchiveConfig> {
        let config = self
            .pacs_list()?
            .into_iter()
            .find(|a| a.name == name)
            .ok_or_else(|| not_configured(name))?;
        self.unseal(config)
    }

    /// Every archive, each as [`Home::archive`] loads it.
    pub(super) fn archives(&self) -> Result<Vec<ArchiveConfig>> {
        self.pacs_list()?
            .into_iter()
            .map(|a| self.unseal(a))
            .collect()
    }

    /// Re-wraps every archive's credential key from the KEK installed now (the old member
    /// key's) to `new`, in one transaction; those already under `new` are left. One that
    /// opens under neither is left as it is (it was unreadable before) and said in the log.
    pub(crate) fn rewrap_archive_secrets(
        &mut self,
        new: &countersign_ledger::Kek,
    ) -> Result<usize> {
        let old = self.store().kek().ok_or(AppError::Locked)?;
        let mut moved = Vec::new();
        for config in self.pacs_list()?.into_iter().filter(|a| a.auth.is_some()) {
            let key = credentials::meta_key(&config.name);
            let Some(json) = self.store().db().meta(&key)? else {
                continue;
            };
            let Ok(sealed) = serde_json::from_str::<credentials::SealedSecret>(&json) else {
                continue;
            };
            match credentials::rewrap(&old, new, &config.name, &sealed) {
                Ok(Some(again)) => moved.push((key, again)),
                Ok(None) => {}
                Err(reason) => {
                    tracing::warn!(archive = %config.name, %reason, "archive credentials not re-wrapped")
                }
            }
        }
        let n = moved.len();
        let encoded = moved
            .into_iter()
            .map(|(key, sealed)| serde_json::to_string(&sealed).map(|j| (key, j)))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| AppError::InvalidInput(format!("encoding sealed credentials: {e}")))?;
        self.store_mut().write(|db| {
            for (key, json) in &encoded {
                db.set_meta(key, json)?;
            }
            Ok::<_, AppError>(())
        })?;
        Ok(n)
    }

    pub(super) fn unseal(&self, mut config: ArchiveConfig) -> Result<ArchiveConfig> {
        let Some(auth) = &config.auth else {
            return Ok(config);
        };
        let unreadable = |reason: String| AppError::ArchiveCredentials {
            archive: config.name.clone(),
            reason,
        };
        let sealed: credentials::SealedSecret = match self
            .store()
            .db()
            .meta(&credentials::meta_key(&config.name))?
        {
            Some(json) => serde_json::from_str(&json)
                .map_err(|_| unreadable("its sealed secret is malformed".into()))?,
            None => return Err(unreadable("its sealed secret is missing".into())),
        };
        self.need_keys()?;
        let kek = self.store().kek().ok_or(AppError::Locked)?;
        let secret = credentials::open(&kek, &config.name, auth, &sealed).map_err(&unreadable)?;
        let made = credentials::credentials(auth, secret).map_err(&unreadable)?;
        config.secret = Some(std::sync::Arc::new(made));
        Ok(config)
    }

    /// Checks that an archive answers, with the round trip.
    pub fn pacs_test(&self, name: &str) -> Result<ArchiveTest> {
        let config = self.archive(name)?;
        let rtt = config.client()?.echo().map_err(|e| config.error(e))?;
        Ok(ArchiveTest {
            archive: config.name.clone(),
            protocol: match config.endpoint {
                ArchiveEndpoint::Dicomweb { .. } => "dicomweb",
                ArchiveEndpoint::Dimse { .. } => "dimse",
            },
            rtt_ms: rtt.as_secs_f64() * 1000.0,
        })
    }
}

fn not_configured(name: &str) -> AppError {
    AppError::NotFound {
        what: format!("archive {name} (see `pacs list`)"),
    }
}

/// The archives configured in the home `db` reads.
fn archives_in(db: &countersign_store::Db<'_>) -> Result<Vec<ArchiveConfig>> {
    match db.meta(ARCHIVES_META)? {
        None => Ok(Vec::new()),
        Some(json) => serde_json::from_str(&json).map_err(|e| {
            AppError::InvalidInput(format!("the home's archive list is damaged: {e}"))
        }),
    }
}

/// Whether any archive configured in the home `db` reads has sealed credentials (wrapped under
/// the home's key-encryption key, as its data keys are).
pub(crate) fn holds_archive_secrets(db: &countersign_store::Db<'_>) -> Result<bool> {
    Ok(archives_in(db)?.iter().any(|a| a.auth.is_some()))
}
