//! The Countersign ledger store: one SQLite file per home.
//!
//! WAL mode with `synchronous=FULL`, so an entry is on disk before [`Store::write`] returns and
//! before anything shows it as signed or sends it anywhere. Entries keep the exact signed header
//! bytes and signature; payloads live in their own table so one can be erased while the chain
//! still verifies. Inserts are idempotent. Schema changes are numbered migrations, and a database
//! from a newer build is refused.
//!
//! ```
//! use countersign_ledger::{Entry, Hash, Header, Kind, SecretKey};
//! use countersign_store::Store;
//!
//! let dir = tempfile::tempdir().unwrap();
//! let mut store = Store::open(&dir.path().join("ledger.sqlite3")).unwrap();
//! let key = SecretKey::from_seed(&[3; 32]);
//! let payload = br#"{"study":"1.2.3","template":"ct-chest"}"#;
//! let header = Header::new(Hash::of(b"net"), Hash::ZERO, key.public(), 1, 0,
//!                          Kind::ReportCreate, vec![], payload);
//! let entry = Entry::sign(header, &key).unwrap();
//!
//! let new = store.write(|db| db.insert_entry(&entry, Some(payload))).unwrap();
//! assert!(new);
//! // Inserting the same entry again changes nothing.
//! assert!(!store.write(|db| db.insert_entry(&entry, Some(payload))).unwrap());
//! assert_eq!(store.db().heads(&entry.log_id()).unwrap(), vec![entry.id()]);
//! ```

mod ai_outcomes;
mod checkpoints;
mod db;
mod direct;
mod drafts;
mod erasure;
mod held;
mod images;
mod kek_member;
mod leftovers;
mod log_nos;
mod report_keys;
mod schema;
mod summaries;
mod sync_state;

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags, TransactionBehavior};

pub use ai_outcomes::{AiOutcomeRow, AiOutcomeSelection, AiReviewRow};
pub use checkpoints::{SplitViewRow, MAX_SPLIT_VIEWS};
pub use db::{Db, ForkRow, StoredEntry};
pub use drafts::{MAX_DRAFTS, MAX_DRAFT_BYTES};
pub use erasure::{keeps_payload_when_erased, Erased};
pub use held::{HeldRow, MAX_HELD};
pub use images::{
    commit_staged, image_path, prepare_image_folders, stage_image, DecodeCheck, Instance,
    StagedImage, StudyPatient, SYNCFS_FROM,
};
pub use leftovers::{is_stale, process_alive, sweep_staged_images, Swept, DEAD_AFTER, STALE_AFTER};
pub use schema::SCHEMA_VERSION;
pub use summaries::{ChangeCursor, StudyCursor, SummaryRow};
pub use sync_state::{
    Kept, PeerStateRow, QuarantineRow, SetItem, MAX_PEER_STATES, MAX_QUARANTINE,
    MAX_QUARANTINE_PAYLOAD_BYTES, MAX_QUARANTINE_PAYLOAD_BYTES_PER_PEER, MAX_QUARANTINE_PER_AUTHOR,
    MAX_QUARANTINE_PER_PEER,
};

/// What went wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the ledger at {path}: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("the ledger at {path} has schema version {found}; this build knows up to {supported}. Use a newer Countersign")]
    NewerSchema {
        path: PathBuf,
        found: u32,
        supported: u32,
    },
    #[error("the disk is full; nothing was written")]
    DiskFull,
    #[error("the ledger file is damaged or is not a Countersign ledger: {0}")]
    NotADatabase(rusqlite::Error),
    #[error("ledger database error while {context}: {source}")]
    Sqlite {
        context: &'static str,
        source: rusqlite::Error,
    },
    #[error("the {what} would be larger than the {limit} a home keeps")]
    TooLarge { what: &'static str, limit: u64 },
    /// A data key is asked for (or given) while this home's key-encryption key is not
    /// installed: the member's key is locked.
    #[error("this home's data keys are sealed under its member key, which is locked: unlock it (give the passphrase or PIN) to read or store them")]
    KeysLocked,
    /// The installed key-encryption key is not the one the data keys are wrapped under:
    /// another process on this home adopted a key rotation since this one opened its key.
    #[error("this home's key was rotated by another process since this one opened it, and its data keys are now sealed under the new key: nothing was written, and the old key was put away; unlock again (the new key opens with the same passphrase)")]
    KeysRotated,
    /// A wrapped data key does not open under the installed key-encryption key.
    #[error("the stored data key of report {log} does not open: {reason}")]
    KeyUnwrap {
        log: String,
        reason: countersign_ledger::WrapError,
    },
}

impl StoreError {
    pub(crate) fn sqlite(context: &'static str) -> impl FnOnce(rusqlite::Error) -> StoreError {
        move |source| match source.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DiskFull) => StoreError::DiskFull,
            Some(rusqlite::ErrorCode::NotADatabase)
            | Some(rusqlite::ErrorCode::DatabaseCorrupt) => StoreError::NotADatabase(source),
            _ => StoreError::Sqlite { context, source },
        }
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// An open ledger database.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    path: PathBuf,
    /// The key-encryption key the data keys are wrapped under at rest, while the member's key
    /// is unlocked (see [`Store::set_kek`]). In memory only.
    kek: KekSlot,
}

/// Where a store keeps its key-encryption key: behind a lock, so that a reader holding the
/// store by shared reference can install it when it unlocks the member key on demand.
#[derive(Debug, Default)]
pub(crate) struct KekSlot(std::sync::Mutex<Option<std::sync::Arc<countersign_ledger::Kek>>>);

impl KekSlot {
    pub(crate) fn get(&self) -> Option<std::sync::Arc<countersign_ledger::Kek>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn set(&self, kek: Option<std::sync::Arc<countersign_ledger::Kek>>) {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = kek;
    }
}

impl Store {
    /// Opens (creating if needed) the ledger at `path` and applies pending migrations.
    pub fn open(path: &Path) -> Result<Store> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        tracing::debug!(path = %path.display(), "opening the ledger");
        let conn = Connection::open_with_flags(path, flags).map_err(|source| StoreError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        let mut store = Store {
            conn,
            path: path.to_path_buf(),
            kek: KekSlot::default(),
        };
        configure(&store.conn)?;
        store.migrate()?;
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn migrate(&mut self) -> Result<()> {
        let found: u32 = self
            .conn
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .map_err(StoreError::sqlite("reading the schema version"))?;
        if found > SCHEMA_VERSION {
            // Info, not warn: the caller is told too (the CLI prints it as its error line).
            tracing::info!(
                found,
                supported = SCHEMA_VERSION,
                "ledger refused: written by a newer Countersign"
            );
            return Err(StoreError::NewerSchema {
                path: self.path.clone(),
                found,
                supported: SCHEMA_VERSION,
            });
        }
        for (index, sql) in schema::MIGRATIONS.iter().enumerate().skip(found as usize) {
            let number = index as u32 + 1;
            let tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(StoreError::sqlite("starting a migration"))?;
            // Re-check under the write lock: another process may have migrated meanwhile.
            let now: u32 = tx
                .pragma_query_value(None, "user_version", |row| row.get(0))
                .map_err(StoreError::sqlite("reading the schema version"))?;
            if now >= number {
                continue;
            }
            tx.execute_batch(sql)
                .map_err(StoreError::sqlite("applying a migration"))?;
            tx.pragma_update(None, "user_version", number)
                .map_err(StoreError::sqlite("recording the schema version"))?;
            tx.commit()
                .map_err(StoreError::sqlite("committing a migration"))?;
            // A new home applies every migration: info only for an existing ledger upgraded.
            if found == 0 {
                tracing::debug!(migration = number, "schema migration applied");
            } else {
                tracing::info!(migration = number, "schema migration applied");
            }
        }
        tracing::debug!(schema = SCHEMA_VERSION, was = found, "ledger open");
        Ok(())
    }

    /// Read access outside a transaction (each statement sees a consistent snapshot).
    pub fn db(&self) -> Db<'_> {
        Db::new(&self.conn, &self.kek)
    }

    /// Installs the key-encryption key the data keys are wrapped under (the member's key was
    /// unlocked), or with `None` forgets it (locked): every [`Db`] made from now on reads and
    /// stores data keys through it. The caller derives it (`countersign_ledger::Kek`).
    pub fn set_kek(&self, kek: Option<std::sync::Arc<countersign_ledger::Kek>>) {
        self.kek.set(kek);
    }

    /// The installed key-encryption key, if any.
    pub fn kek(&self) -> Option<std::sync::Arc<countersign_ledger::Kek>> {
        self.kek.get()
    }

    /// Runs `f` in one read transaction: every read in it sees the ledger as of its first
    /// read, whatever other processes commit meanwhile (in WAL mode a reader never blocks a
    /// writer, nor waits for one). A check of the whole store needs it when run beside a node
    /// storing a peer's entries: read statement by statement, it can see a log's entries from
    /// before a commit and the report list's rows or a peer's checkpoint from after it, and
    /// report a problem that is in neither state (`verify`, 2026-12-04). The WAL cannot be
    /// checkpointed past what it reads until it ends, so it is for a bounded check, not a
    /// session. Called inside a transaction of this store (a read within a read, or within a
    /// write), `f` runs in that one: it sees what it sees.
    pub fn read<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&Db<'_>) -> std::result::Result<T, E>,
    ) -> std::result::Result<T, E> {
        if !self.conn.is_autocommit() {
            return f(&Db::new(&self.conn, &self.kek));
        }
        let tx = self
            .conn
            .unchecked_transaction()
            .map_err(StoreError::sqlite("starting a read"))?;
        let out = f(&Db::new(&tx, &self.kek))?;
        // Nothing was written: ending it only lets the WAL move on.
        tx.commit().map_err(StoreError::sqlite("ending a read"))?;
        Ok(out)
    }

    /// Runs `f` in one write transaction taken up front (`BEGIN IMMEDIATE`), so no other
    /// process can interleave between reading the heads and appending. Commits if `f` succeeds;
    /// on error nothing is written.
    pub fn write<T, E: From<StoreError>>(
        &mut self,
        f: impl FnOnce(&Db<'_>) -> std::result::Result<T, E>,
    ) -> std::result::Result<T, E> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(StoreError::sqlite("starting a write"))?;
        let log_nos = log_nos::LogNos::default();
        let out = f(&Db::in_write(&tx, &self.kek, &log_nos))?;
        tx.commit().map_err(StoreError::sqlite("committing"))?;
        Ok(out)
    }

    /// Checkpoints the whole WAL into the database file and truncates the WAL to nothing, so
    /// that no older version of a page (say, one an erasure overwrote) stays in it. Returns
    /// whether it completed: a reader on another connection can hold the WAL open, and then
    /// what it still reads stays until the next checkpoint.
    pub fn truncate_wal(&self) -> Result<bool> {
        let (busy, _log, _done): (i64, i64, i64) = self
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .map_err(StoreError::sqlite("checkpointing the WAL"))?;
        Ok(busy == 0)
    }

    /// [`Store::truncate_wal`] unless it would wait: `Ok(false)` at once when another
    /// connection writes or reads (instead of waiting up to the busy timeout, 10 s, holding
    /// whoever holds this store). For the truncations no one waits on (the key locking).
    pub fn try_truncate_wal(&self) -> Result<bool> {
        self.conn
            .busy_timeout(std::time::Duration::ZERO)
            .map_err(StoreError::sqlite("setting the busy timeout"))?;
        let done = match self.truncate_wal() {
            Err(StoreError::Sqlite { source, .. })
                if source.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy) =>
            {
                Ok(false)
            }
            other => other,
        };
        self.conn
            .busy_timeout(BUSY_TIMEOUT)
            .map_err(StoreError::sqlite("setting the busy timeout"))?;
        done
    }

    /// Switches this connection into (or, with `false`, back out of) the settings for taking
    /// in a large pull: a page cache of [`INTAKE_CACHE_KIB`] and a WAL checkpointed every
    /// [`INTAKE_WAL_PAGES`] pages instead of every 16 384. Transactions and durability do not
    /// change (each batch still commits whole, `synchronous=FULL`); only how often the pages
    /// of the hash-keyed indexes are read back and copied into the database file does. Out
    /// of it, the WAL is checkpointed at once, so the file does not stay large.
    ///
    /// A new home's first sync inserts into indexes keyed by hashes, so each entry dirties a
    /// page of each, all over them: with a 32 MiB cache a 600 000-entry intake read a page
    /// back from the OS for about every second insert, and checkpointed about once per
    /// 4 000-entry batch, copying the same index pages into the file again and again.
    pub fn set_intake(&self, on: bool) -> Result<()> {
        let sql = if on {
            format!(
                "PRAGMA cache_size = -{INTAKE_CACHE_KIB}; \
                 PRAGMA wal_autocheckpoint = {INTAKE_WAL_PAGES};"
            )
        } else {
            format!("PRAGMA cache_size = -{CACHE_KIB}; PRAGMA wal_autocheckpoint = {WAL_PAGES};")
        };
        self.conn
            .execute_batch(&sql)
            .map_err(StoreError::sqlite("sizing the page cache"))?;
        if !on {
            // Passive: never waits for a reader; what a reader still holds goes at the next
            // automatic checkpoint.
            self.conn
                .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
                .map_err(StoreError::sqlite("checkpointing the WAL"))?;
        }
        Ok(())
    }

    /// Changes whenever another connection commits; lets callers keep caches honest.
    pub fn data_version(&self) -> Result<i64> {
        self.conn
            .pragma_query_value(None, "data_version", |row| row.get(0))
            .map_err(StoreError::sqlite("reading data_version"))
    }
}

/// The connection settings every store uses: WAL, `synchronous=FULL`, 4 KiB pages, foreign keys,
/// the page cache and checkpoint interval. Public so that a benchmark's raw-SQLite baseline runs
/// with exactly the same settings.
pub fn configure(conn: &Connection) -> Result<()> {
    // Another process (the CLI beside the app) may hold the write lock for a moment.
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(StoreError::sqlite("setting the busy timeout"))?;
    // Takes effect only when the file is created (before WAL). 1 KiB pages once halved the
    // bytes of a single durable append (it touches five b-trees), but a peer's catch-up
    // commits thousands of entries at once: a 3300-entry batch took 77 ms to commit with
    // 1 KiB pages and 21 ms with 4 KiB, while single appends measured the same within noise.
    conn.pragma_update(None, "page_size", 4096)
        .map_err(StoreError::sqlite("setting the page size"))?;
    conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get::<_, String>(0))
        .map_err(StoreError::sqlite("switching to WAL"))?;
    // Deleted content is overwritten with zeros, in the tables and in the pages freed: an
    // erased report's text must not stay readable in the file's free space (GDPR Art. 17).
    conn.execute_batch(
        "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA secure_delete = ON;",
    )
    .map_err(StoreError::sqlite("setting durability pragmas"))?;
    // The id index is keyed by hashes, so inserts touch pages all over it: with the default
    // 2 MB cache a peer catching up on 30k entries spent 36 ms per 1000 at the start and
    // 90 ms at the end, reading index pages back from the OS. Checkpointing after 16 MiB of
    // WAL instead of the default 4 MiB copies a hot index page into the database file once
    // per several catch-up batches rather than once per batch.
    conn.execute_batch(&format!(
        "PRAGMA cache_size = -{CACHE_KIB}; PRAGMA wal_autocheckpoint = {WAL_PAGES};"
    ))
    .map_err(StoreError::sqlite("sizing the page cache"))
}

/// How long a statement waits for another connection's lock (see [`configure`]).
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// The page cache of a connection, in KiB (see [`configure`]).
const CACHE_KIB: i64 = 32 * 1024;
/// WAL pages between automatic checkpoints (64 MiB of 4 KiB pages; see [`configure`]).
const WAL_PAGES: i64 = 16_384;
/// The page cache while a large pull is taken in ([`Store::set_intake`]): 256 MiB, on top
/// of what the node holds otherwise, for the length of the pull.
pub const INTAKE_CACHE_KIB: i64 = 256 * 1024;
/// WAL pages between automatic checkpoints while a large pull is taken in: 512 MiB of WAL
/// on disk at most beside the database (about sixteen 4 000-entry batches of a new home).
pub const INTAKE_WAL_PAGES: i64 = 131_072;

#[cfg(test)]
mod tests;
