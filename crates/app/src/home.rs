//! A home: one directory holding the ledger database and the key store. Every use case is a
//! method on [`Home`]. This file holds opening, the caches and appending; the key of the
//! session is in `key_session`, creating an identity in `identity`.

mod identity;
mod key_session;
mod verified;
pub(crate) use verified::Verified;

pub use key_session::DataKeys;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use countersign_ledger::{Entry, Hash, Header, Kind, LogId, NetworkId, PublicKey, Role, Signer};
use countersign_store::Store;
use serde::Serialize;

use crate::error::Rejection;
use crate::error::{AppError, Result};
use crate::keys::{KeyHandle, KeyStore, KeyStoreKind, PassphraseSource, Profile};
use crate::state::{LedgerState, Verdict, MAX_LOADED_LOGS};
use countersign_ledger::rules::TIMESTAMP_TOLERANCE_MS;
use countersign_report::Standing;

/// The directory the desktop app uses when `$COUNTERSIGN_HOME` is not set.
pub fn default_home() -> PathBuf {
    if let Some(dir) = std::env::var_os("COUNTERSIGN_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    dirs::data_dir()
        .unwrap_or_else(|| PathBuf::from("."))
        .join("org.countersign.desktop")
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The answer to `whoami`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WhoAmI {
    pub key: PublicKey,
    pub name: String,
    pub role: Role,
    pub network: Option<NetworkId>,
    pub admin: bool,
    /// Whether this home holds a network or was told which one to trust (by an invitation):
    /// until then it neither syncs nor listens.
    pub joined: bool,
    /// Where the private key is kept: `sealed` (a file under the home, sealed under a
    /// passphrase), `keychain` (the OS keychain) or `token` (a hardware token, unlocked with
    /// its PIN).
    pub key_store: KeyStoreKind,
    /// Whether unlocking the key asks for a passphrase or a PIN (what the desktop's unlock
    /// screen shows).
    pub needs_passphrase: bool,
}

#[derive(Debug)]
struct Cache {
    data_version: i64,
    state: LedgerState,
}

/// An open home.
#[derive(Debug)]
pub struct Home {
    dir: PathBuf,
    pub(crate) store: Store,
    keys: KeyStore,
    /// Validation state, kept across appends and reads; dropped when another connection
    /// commits (SQLite's data_version moves) or this one writes outside `append`.
    cache: Mutex<Option<Cache>>,
    /// Entries whose stored bytes were verified, so reopening a report re-checks only what
    /// changed on disk.
    verified: Mutex<Verified>,
    /// This home's signing key, unsealed once (it is wiped from memory when the home is dropped
    /// or locked).
    pub(crate) signer: Option<KeyHandle>,
    /// Where the passphrase comes from when the signing key is needed and not unsealed yet.
    passphrase: Option<PassphraseSource>,
    /// The agent that signs for this home instead, when one was named.
    agent: Option<PathBuf>,
    /// The decode worker images are checked by (see [`crate::sandbox`]), kept between calls so
    /// that a study imported by an earlier build is checked by one worker, not one per image.
    pub(crate) decoder: Mutex<crate::sandbox::DecodeSandbox>,
    /// Whether reports created here are sealed (always, but in the benchmarks' baseline).
    seal_new_reports: bool,
    /// The report list's rows need a rebuild that waits for the data keys (see
    /// [`Home::open`]).
    projection_pending: bool,
}

impl Home {
    /// Opens the home at `dir`, creating the directory and ledger if needed.
    pub fn open(dir: &Path) -> Result<Home> {
        create_private_dir(dir)?;
        let mut store = Store::open(&dir.join("ledger.sqlite3"))?;
        // The image store's prefix folders, made once (see `prepare_image_folders`).
        countersign_store::prepare_image_folders(dir).map_err(AppError::io(format!(
            "preparing the image store in {}",
            dir.display()
        )))?;
        // The report list's rows, rebuilt from the entries if this home has none of this
        // version yet (once, after an upgrade). A home holding data keys rebuilds them once its
        // key is unlocked (see `finish_projection`): rebuilt locked, every sealed report's row
        // would lose its study and template.
        let db = store.db();
        let projection_pending =
            !(crate::projection::current(&db)? && crate::projection::ai::current(&db)?) && {
                // Only wrapped keys wait: rows an older build stored in clear read as they are.
                let (held, clear) = db.report_key_counts()?;
                held > clear
            };
        if !projection_pending {
            crate::projection::ensure(&mut store)?;
        }
        let home = Home {
            dir: dir.to_path_buf(),
            store,
            keys: KeyStore::new(dir),
            cache: Mutex::new(None),
            verified: Mutex::new(Verified::default()),
            signer: None,
            passphrase: None,
            agent: None,
            decoder: Mutex::new(crate::sandbox::DecodeSandbox::new()),
            seal_new_reports: true,
            projection_pending,
        };
        // An erasure whose images were not all unlinked (a crash after its commit) is
        // finished now.
        if !home.store.db().erased_image_files()?.is_empty() {
            crate::erasure::after_commit(&home)?;
        }
        Ok(home)
    }

    /// Opens the home at `dir` with a passphrase source, asked only when the secret key is
    /// needed. A home whose key is still stored unsealed (from before keys were sealed) is
    /// sealed now if the source gives a passphrase; if it has none (no terminal, no file), the
    /// home opens all the same, for reading, and is sealed the first time a key is needed.
    pub fn open_with(dir: &Path, source: PassphraseSource) -> Result<Home> {
        let mut home = Home::open(dir)?;
        home.passphrase = Some(source);
        if home.projection_pending {
            home.open_keys(false)?;
            home.finish_projection()?;
        }
        if home.key_unsealed()? {
            match home.signer() {
                Ok(_) => {}
                Err(AppError::PassphraseRequired(_)) => {
                    tracing::warn!(
                        "the key is stored unsealed: it is sealed when a passphrase is given"
                    );
                }
                Err(e) => return Err(e),
            }
        }
        Ok(home)
    }

    /// Whether reports created from now on are sealed (and, before `init`, whether the network
    /// this home founds requires sealed reports). For the benchmarks only, which measure the
    /// same work with and without sealing in one run: a report created clear is one from
    /// before sealing existed, whose text no erasure shreds.
    #[doc(hidden)]
    pub fn set_seal_new_reports(&mut self, on: bool) {
        self.seal_new_reports = on;
    }

    /// Sets (or with `None`, removes) where the passphrase comes from.
    pub fn set_passphrase_source(&mut self, source: Option<PassphraseSource>) {
        self.passphrase = source;
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub(crate) fn keys(&self) -> &KeyStore {
        &self.keys
    }

    pub(crate) fn profile(&self) -> Result<Profile> {
        self.keys
            .profile()?
            .ok_or_else(|| AppError::NotInitialized {
                home: self.dir.display().to_string(),
            })
    }

    /// Signs as this home's identity (see [`Home::append`]).
    pub(crate) fn append_own(
        &mut self,
        log: Option<LogId>,
        kind: Kind,
        payload: &[u8],
    ) -> Result<Entry> {
        let key = self.signer()?;
        self.append(&key, log, kind, payload)
    }

    /// A fresh read-only view of the validation state (roster and network).
    pub(crate) fn state(&self) -> Result<LedgerState> {
        LedgerState::load(&self.store.db())
    }

    pub fn whoami(&self) -> Result<WhoAmI> {
        let profile = self.profile()?;
        let state = self.state()?;
        let member = state.roster().member(&profile.key);
        Ok(WhoAmI {
            key: profile.key,
            name: member.map_or(profile.name.clone(), |m| m.name.clone()),
            role: member.map_or(profile.role, |m| m.role),
            network: state.network().ok(),
            admin: member.is_some_and(|m| m.admin),
            joined: state.network().is_ok() || self.anchor()?.is_some(),
            key_store: profile.store,
            needs_passphrase: profile.store.needs_passphrase(),
        })
    }

    /// Checks and stores an entry someone else signed (used for genesis entries).
    fn store_checked(&mut self, entry: &Entry, payload: &[u8]) -> Result<()> {
        let Home { store, cache, .. } = self;
        *lock(cache.get_mut()) = None;
        store.write(|db| {
            let mut state = LedgerState::load(db)?;
            let mark = crate::projection::mark(db, &mut state)?;
            match state.ledger.accept(entry, Some(payload), now_ms())? {
                Verdict::New(Standing::Accepted) => {}
                Verdict::New(Standing::Refused(e)) => return Err(Rejection::Report(*e).into()),
                Verdict::Duplicate | Verdict::Fork { .. } | Verdict::Held { .. } => return Ok(()),
            }
            db.insert_entry(entry, Some(payload))?;
            if entry.header().kind == Kind::NetworkGenesis {
                db.set_meta("network", &entry.id().to_hex())?;
            }
            crate::projection::update(db, &mut state, mark)?;
            Ok(())
        })
    }

    /// Signs `payload` as the next entry of `log` (or as a new log when `log` is `None` and the
    /// kind is a genesis kind) with `key`, checks it against every rule, and stores it durably.
    /// Returns only after the commit: the id printed is an id on disk.
    pub(crate) fn append<S: Signer + ?Sized>(
        &mut self,
        key: &S,
        log: Option<LogId>,
        kind: Kind,
        payload: &[u8],
    ) -> Result<Entry> {
        let seal_new = self.seal_new_reports;
        // The state is kept across appends; a failed commit drops it (it may hold the entry).
        self.write_with_state(|db, state| {
            let network = state.network()?;
            let author = key.public();
            let now = now_ms();
            let (log_field, seq, parents, timestamp) = match log {
                None => (Hash::ZERO, 1, vec![], now),
                Some(log) => {
                    state.load_log(db, &log)?;
                    let (parents, seq) =
                        state.ledger.position_for(&log, &author).ok_or_else(|| {
                            AppError::NotFound {
                                what: format!("report {log}"),
                            }
                        })?;
                    // This clock's time — never a parent's copied forward, which would let one
                    // entry dated in 2099 drag every later one there. A parent at most the
                    // tolerance ahead is within the rule; one further ahead was held back.
                    let latest = state.ledger.latest_timestamp(&log, &parents);
                    let ts = now.max(latest.saturating_sub(TIMESTAMP_TOLERANCE_MS));
                    (log, seq, parents, ts)
                }
            };
            // Sealed before signing: the header commits to the envelope, so every signature
            // verifies with or without the key.
            let creator = (&author, timestamp);
            let (sealed, new_key) = seal_payload(state, log, kind, payload, seal_new, creator)?;
            let payload: &[u8] = sealed.as_deref().unwrap_or(payload);
            let header = Header::new(
                network, log_field, author, seq, timestamp, kind, parents, payload,
            );
            let entry = Entry::sign(header, key)?;
            // A new report's key is stored with it, in the same transaction, and given to the
            // ledger before it judges the entry (which opens the payload with it).
            if let Some(data_key) = new_key {
                db.put_report_key(&entry.id(), &data_key)?;
                state.ledger.add_key(entry.id(), data_key)?;
            }
            // Info, not warn: the caller is told too. The rule's name, never its message (it
            // can quote a field value).
            let refused = |r: &Rejection| {
                tracing::info!(kind = %kind, log = %log_field, rule = %r.code(), "entry refused");
            };
            // Judged by the one acceptance path before anything is stored: what this home
            // would refuse from a peer, it does not sign for its own user either.
            match state
                .ledger
                .judge(&entry, Some(payload), now)
                .inspect_err(refused)?
            {
                Verdict::New(Standing::Accepted) => {}
                Verdict::New(Standing::Refused(e)) => {
                    let r = Rejection::Report(*e);
                    refused(&r);
                    return Err(r.into());
                }
                other => {
                    return Err(AppError::InvalidInput(format!(
                        "a freshly signed entry was not new ({other:?})"
                    )))
                }
            }
            db.insert_entry(&entry, Some(payload))?;
            state.ledger.insert(&entry, Some(payload))?;
            tracing::info!(
                entry = %entry.id(),
                log = %entry.log_id(),
                kind = %kind,
                author = %author,
                seq,
                "entry signed"
            );
            Ok(entry)
        })
    }

    /// Runs `f` in one write transaction with the validation state kept across calls
    /// (reloaded when another connection has committed). If `f` fails, the transaction rolls
    /// back and the state, which may hold what was rolled back, is dropped.
    pub(crate) fn write_with_state<T>(
        &mut self,
        f: impl FnOnce(&countersign_store::Db<'_>, &mut LedgerState) -> Result<T>,
    ) -> Result<T> {
        // What the write stores is projected with the reports it reaches readable, when the
        // passphrase source can open them.
        self.open_keys(false)?;
        self.finish_projection()?;
        let Home { store, cache, .. } = self;
        let cache = lock(cache.get_mut());
        let result = store.write(|db| {
            let version = db_data_version(db)?;
            if cache.as_ref().is_none_or(|c| c.data_version != version) {
                *cache = Some(Cache {
                    data_version: version,
                    state: LedgerState::load(db)?,
                });
            }
            let state = &mut cache.as_mut().ok_or(AppError::NoNetwork)?.state;
            state.trim(MAX_LOADED_LOGS);
            // Whatever this write stores — here, by a held entry released, by a bundle or a
            // peer's batch — its reports' rows in the report list are kept in step before it
            // commits.
            let mark = crate::projection::mark(db, state)?;
            // Entries held for later come in with the first write after their time.
            crate::bundle::release_held(db, state)?;
            let out = f(db, state)?;
            // Whatever brought an erasure, what it erases goes in this same transaction.
            let erased = crate::erasure::apply(db, state, mark.arrival())?;
            crate::projection::update(db, state, mark)?;
            Ok((out, !erased.is_empty()))
        });
        match result {
            Ok((out, erased)) => {
                if erased {
                    crate::erasure::after_commit(self)?;
                }
                Ok(out)
            }
            Err(e) => {
                *cache = None;
                Err(e)
            }
        }
    }

    /// The rebuild of the report list's rows that waited for the data keys, once they are open.
    pub(crate) fn finish_projection(&mut self) -> Result<()> {
        if self.projection_pending && self.store.kek().is_some() {
            crate::projection::ensure(&mut self.store)?;
            self.projection_pending = false;
            self.forget_state();
        }
        Ok(())
    }

    /// Drops the validation state kept across calls (it holds data keys, or was loaded
    /// without them): the next use loads it again.
    pub(crate) fn forget_state(&self) {
        *self.cache.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }

    pub(crate) fn store_mut(&mut self) -> &mut Store {
        *lock(self.cache.get_mut()) = None;
        &mut self.store
    }

    /// Runs `f` on the validation state with `log` loaded, reusing the state kept across calls
    /// while no other connection has committed.
    pub(crate) fn with_state<T>(
        &self,
        log: &LogId,
        f: impl FnOnce(&mut LedgerState, &countersign_store::Db<'_>) -> Result<T>,
    ) -> Result<T> {
        self.open_keys(false)?;
        let db = self.store.db();
        let mut guard = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        let version = db_data_version(&db)?;
        if guard.as_ref().is_none_or(|c| c.data_version != version) {
            *guard = Some(Cache {
                data_version: version,
                state: LedgerState::load(&db)?,
            });
        }
        let state = &mut guard.as_mut().ok_or(AppError::NoNetwork)?.state;
        state.trim(MAX_LOADED_LOGS);
        if let Err(e) = state.load_log(&db, log) {
            // A half-loaded log must not be served next time.
            *guard = None;
            return Err(e);
        }
        f(state, &db)
    }

    pub(crate) fn verified(&self) -> std::sync::MutexGuard<'_, Verified> {
        self.verified.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// What `append` signs as the payload of a `kind` entry of `log` (`None`: a new log): sealed
/// under the report's data key when the report is sealed (see
/// [`countersign_report::payload::seal`]) — for a new report, under a new random key, returned
/// to be stored beside it. `None` when the payload goes in clear (the roster log, erasures and
/// restrictions, a report created before sealing). A new report's create is bound to its
/// `(author, timestamp)`, the header it is signed under.
pub(crate) fn seal_payload(
    state: &LedgerState,
    log: Option<LogId>,
    kind: Kind,
    payload: &[u8],
    seal_new: bool,
    (author, timestamp_ms): (&countersign_ledger::PublicKey, u64),
) -> Result<(Option<Vec<u8>>, Option<countersign_ledger::DataKey>)> {
    use countersign_report::payload::seal;
    use countersign_report::Sealing;
    use rand_core::{OsRng, RngCore};
    if !seal::kind_is_sealed(kind) {
        return Ok((None, None));
    }
    let mut nonce = [0u8; seal::NONCE_LEN];
    OsRng.fill_bytes(&mut nonce);
    match log {
        None if kind == Kind::ReportCreate && seal_new => {
            let mut bytes = zeroize::Zeroizing::new([0u8; countersign_ledger::DATA_KEY_LEN]);
            OsRng.fill_bytes(bytes.as_mut_slice());
            let key = countersign_ledger::DataKey::from_bytes(*bytes);
            // Bound to the header it will be signed under (see `seal::create_binding`).
            let bound = seal::create_binding(author, timestamp_ms);
            let sealed = seal::seal(&key, &nonce, kind, Some(&bound), payload);
            Ok((Some(sealed), Some(key)))
        }
        None => Ok((None, None)),
        Some(log) => match state.ledger.report_as_judged(&log) {
            // Erased: its key is gone, and the rules refuse the entry for what it is
            // (`report_erased`), sealed or not.
            Some(r) if r.erasure().is_some() => Ok((None, None)),
            Some(r) if matches!(r.sealing(), Sealing::Sealed { .. }) => {
                let key = state.ledger.key(&log).ok_or_else(|| AppError::NotFound {
                    what: format!(
                        "the data key of report {log} (this home holds its sealed payloads, not \
                         its key: it cannot write to a report it cannot read)"
                    ),
                })?;
                Ok((
                    Some(seal::seal(key, &nonce, kind, Some(&log), payload)),
                    None,
                ))
            }
            _ => Ok((None, None)),
        },
    }
}

/// The key-encryption key `key` makes (see [`countersign_ledger::Kek`]): its signature of the
/// wrapping message, checked against its public key before use — a token or an agent
/// answering with anything else fails here, loudly, instead of wrapping keys under garbage.
pub(crate) fn kek_of(key: &KeyHandle) -> Result<countersign_ledger::Kek> {
    let member = key.public();
    let signature = key.try_sign(&countersign_ledger::kek_message(&member))?;
    countersign_ledger::Kek::from_signature(&member, &signature).map_err(|e| {
        tracing::warn!(key = %member, "the key holder's wrapping signature does not verify");
        AppError::SigningFailed(e.to_string())
    })
}

fn lock<T>(r: std::sync::LockResult<T>) -> T {
    r.unwrap_or_else(PoisonError::into_inner)
}

fn db_data_version(db: &countersign_store::Db<'_>) -> Result<i64> {
    Ok(db.data_version()?)
}

pub(crate) fn json<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("payload types serialise to JSON")
}

/// Makes every file and folder this process creates from now on readable by its owner only
/// (umask 077): the ledger, its WAL, images, exports and keys hold PHI or secrets, and a
/// shared reading-room workstation has other local users. Process-wide, so the shells call
/// it first thing, before any thread or file exists.
pub fn owner_only_files() {
    #[cfg(unix)]
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o077));
}

/// Turns off backtraces captured by libraries for their errors (`RUST_LIB_BACKTRACE=0`)
/// unless the environment asks for them itself; a panic's backtrace still follows
/// `RUST_BACKTRACE`. Why: dicom-rs's errors capture a backtrace whenever `RUST_BACKTRACE=1`
/// is set, and it raises one at the normal end of every data set it reads, so with that
/// variable set (common on a developer's or a CI machine) every image read walked the stack:
/// 1.6 % of a 500-instance retrieval's CPU, all of it on the storing thread (`perf`). No error
/// of this application shows a library's backtrace. Process-wide: the shells call it first
/// thing, before any thread exists (the environment is not to be changed once there are).
pub fn no_library_backtraces() {
    if std::env::var_os("RUST_LIB_BACKTRACE").is_none() {
        std::env::set_var("RUST_LIB_BACKTRACE", "0");
    }
}

/// Turns off transparent huge pages for this process (`PR_SET_THP_DISABLE`): memory is then
/// faulted in and zeroed 4 KiB at a time, as it is touched, not 2 MiB at a time. Why: the
/// allocator asks for huge pages for its arenas (`madvise`), so a retrieval's half-megabyte
/// instance buffers each cost the kernel zeroing a whole 2 MiB page (about 20 per 500-slice
/// retrieval, a tenth of its samples, on the thread draining the archive's socket), and a
/// serving sync node's resident memory held the unused rest of its huge pages. Measured
/// against the build before, alternating run by run: a 500-slice DICOMweb retrieval 11 %
/// faster with `MIMALLOC_ALLOW_THP=0` (which makes the same call), 4 % with this call built in,
/// in a noisier hour (medians of 16 runs each, by hand), a 1 000 000-report serving node's peak RSS
/// 209–221 MiB against 237–253, the first full sync's and verify's rates unchanged
/// (`benches/sync_scale.rs`; README, issue 13). Process-wide, and inherited by the processes
/// this one starts (the decode worker, the demo's Orthanc): the shells call it first thing.
pub fn no_huge_pages() {
    // A kernel without the call refuses it, and memory is then as before; nothing to report
    // (the shells call this before logging starts).
    #[cfg(target_os = "linux")]
    let _ = nix::sys::prctl::set_thp_disable(true);
}

/// Creates the home folder (and any missing parents) as the owner's only, and narrows an
/// existing home to the owner: whatever modes its files have, nobody else can reach them.
fn create_private_dir(dir: &Path) -> Result<()> {
    let context = || format!("creating {}", dir.display());
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(AppError::io(context()))?;
        let mode = std::fs::metadata(dir)
            .map_err(AppError::io(context()))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode & 0o700))
                .map_err(AppError::io(context()))?;
        }
    }
    #[cfg(not(unix))]
    std::fs::create_dir_all(dir).map_err(AppError::io(context()))?;
    Ok(())
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    /// Without it, the allocator's arenas are faulted in 2 MiB at a time (see the function).
    #[test]
    fn no_huge_pages_turns_transparent_huge_pages_off_for_the_process() {
        super::no_huge_pages();
        assert!(nix::sys::prctl::get_thp_disable().expect("prctl"));
    }
}
