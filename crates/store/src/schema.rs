//! Numbered migrations. `PRAGMA user_version` holds the number of the last one applied; a
//! database from a newer Countersign is refused rather than guessed at.

pub(crate) const MIGRATIONS: &[&str] = &[
    // 1: entries, heads, payloads, fork evidence, metadata. Every append writes one page of
    // each table and index touched, so the set is kept small: a durable append costs little
    // more than a raw single-row commit.
    r#"
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    -- `header` and `signature` are exactly the signed bytes; the other columns are an index
    -- derived from the header and are re-checked against it by verify.
    CREATE TABLE entries (
        arrival      INTEGER PRIMARY KEY AUTOINCREMENT,
        id           BLOB NOT NULL UNIQUE,
        log          BLOB NOT NULL,
        author       BLOB NOT NULL,
        seq          INTEGER NOT NULL,
        kind         TEXT NOT NULL,
        timestamp_ms INTEGER NOT NULL,
        payload_hash BLOB NOT NULL,
        header       BLOB NOT NULL,
        signature    BLOB NOT NULL,
        UNIQUE (log, author, seq)
    );
    -- The entries of each log that no other entry names as a parent.
    CREATE TABLE heads (
        log BLOB NOT NULL,
        id  BLOB NOT NULL,
        PRIMARY KEY (log, id)
    ) WITHOUT ROWID;
    -- Payloads are kept apart from headers so one can be erased while the chain still verifies.
    CREATE TABLE payloads (
        hash  BLOB PRIMARY KEY,
        bytes BLOB NOT NULL
    ) WITHOUT ROWID;
    -- Equivocation: `first` is the entry in `entries`; the second is kept here whole.
    CREATE TABLE forks (
        log              BLOB NOT NULL,
        author           BLOB NOT NULL,
        seq              INTEGER NOT NULL,
        first            BLOB NOT NULL,
        second           BLOB NOT NULL,
        second_header    BLOB NOT NULL,
        second_signature BLOB NOT NULL,
        second_payload   BLOB,
        PRIMARY KEY (log, author, seq, second)
    );
    "#,
    // 2: the index of imported DICOM instances; the files live in the content-addressed
    // image store under `images/`, named by their SHA-256.
    r#"
    CREATE TABLE instances (
        sha256             BLOB PRIMARY KEY,
        size               INTEGER NOT NULL,
        study              TEXT NOT NULL,
        series             TEXT,
        instance           TEXT,
        patient            TEXT,
        patient_id         TEXT,
        study_date         TEXT,
        modality           TEXT,
        study_description  TEXT,
        series_description TEXT,
        sop_class          TEXT NOT NULL,
        frames             INTEGER NOT NULL,
        imported_ms        INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX instances_by_study ON instances (study);
    "#,
    // 3: the order a reader scrolls a series in (instances imported before this have NULLs
    // and sort after, by UID).
    r#"
    ALTER TABLE instances ADD COLUMN instance_number INTEGER;
    ALTER TABLE instances ADD COLUMN slice_location REAL;
    "#,
    // 4: the SOP Class UID, which exports reference (`sop_class` holds its name, for people);
    // instances imported before this have NULL and are read from their file when exported.
    r#"
    ALTER TABLE instances ADD COLUMN sop_class_uid TEXT;
    "#,
    // 5: a log's entries in arrival order without a sort (opening a 10k-entry report read its
    // rows in 49 ms through the (log, author, seq) index and a temporary B-tree).
    r#"
    CREATE INDEX entries_by_log ON entries (log, arrival);
    "#,
    // 6: signed checkpoints from peers (the newest per log and signer, exactly as signed), and
    // split-view evidence: a checkpoint its signer did not stand by, with the earlier one.
    r#"
    CREATE TABLE checkpoints (
        log          BLOB NOT NULL,
        signer       BLOB NOT NULL,
        timestamp_ms INTEGER NOT NULL,
        bytes        BLOB NOT NULL,
        PRIMARY KEY (log, signer)
    ) WITHOUT ROWID;
    CREATE TABLE split_views (
        log      BLOB NOT NULL,
        signer   BLOB NOT NULL,
        reason   TEXT NOT NULL,
        earlier  BLOB,
        later    BLOB NOT NULL,
        found_ms INTEGER NOT NULL
    );
    "#,
    // 7: entries dated beyond the allowed clock skew ahead of this home's clock, held aside
    // (not stored as entries, not shown, not sent on) until their time comes.
    r#"
    CREATE TABLE held (
        id        BLOB PRIMARY KEY,
        due_ms    INTEGER NOT NULL,
        header    BLOB NOT NULL,
        signature BLOB NOT NULL,
        payload   BLOB
    ) WITHOUT ROWID;
    CREATE INDEX held_by_due ON held (due_ms);
    "#,
    // 8: unsigned text as it is typed, per report and section: kept in the home (owner-only,
    // like the ledger) rather than in the webview's storage, and dropped once signed.
    r#"
    CREATE TABLE drafts (
        report   BLOB NOT NULL,
        section  TEXT NOT NULL,
        text     TEXT NOT NULL,
        saved_ms INTEGER NOT NULL,
        PRIMARY KEY (report, section)
    ) WITHOUT ROWID;
    "#,
    // 9: what the sandboxed decode worker (of the build named by `decoder`) made of each
    // imported image (by SHA-256): every frame decoded, so it may be decoded in-process from
    // now on; a frame refused in words (`message`), so the words are shown instead; or the
    // worker crashed on it (`refused`), so it is never decoded in-process.
    r#"
    CREATE TABLE decode_checks (
        sha256     BLOB PRIMARY KEY,
        frames     INTEGER NOT NULL,
        refused    TEXT,
        message    TEXT,
        decoder    TEXT NOT NULL,
        checked_ms INTEGER NOT NULL
    ) WITHOUT ROWID;
    "#,
    // 10: sync at scale. Entries a peer sent that this home refuses by rule (or that still
    // wait for something they depend on), kept with their reason instead of refusing the
    // peer's whole batch; and what this home remembers of each peer across restarts: the last
    // reconcile that completed, and a cut-off (for proof of misbehaviour only) with its expiry.
    r#"
    CREATE TABLE quarantine (
        id          BLOB PRIMARY KEY,
        log         BLOB NOT NULL,
        author      BLOB NOT NULL,
        seq         INTEGER NOT NULL,
        kind        TEXT NOT NULL,
        code        TEXT NOT NULL,
        reason      TEXT NOT NULL,
        waiting     INTEGER NOT NULL,
        header      BLOB NOT NULL,
        signature   BLOB NOT NULL,
        payload     BLOB,
        peer        TEXT,
        received_ms INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX quarantine_waiting ON quarantine (waiting, received_ms);
    CREATE TABLE peer_state (
        peer              TEXT PRIMARY KEY,
        last_reconcile_ms INTEGER,
        stored            INTEGER NOT NULL DEFAULT 0,
        cut_off_reason    TEXT,
        cut_off_ms        INTEGER,
        cut_off_until_ms  INTEGER,
        strikes           INTEGER NOT NULL DEFAULT 0
    ) WITHOUT ROWID;
    "#,
    // 11: fork evidence bounded (issue 13). One piece of evidence per (log, author, seq) —
    // the first kept, the rest dropped — and evidence is the second entry's signed header
    // (which commits to its payload by hash) and signature: the payload is not needed to
    // prove equivocation, and one key could store a thousand 16 MiB "forks" at one position.
    // The roster log's evidence keeps its payload, in `payloads` by its hash (the header's
    // 32 bytes before the 8-byte length): a frozen admin's revocations still stand on both
    // sides of their fork, so the roster reads it (the roster log is capped and admin-only).
    r#"
    CREATE TABLE forks_bounded (
        log              BLOB NOT NULL,
        author           BLOB NOT NULL,
        seq              INTEGER NOT NULL,
        first            BLOB NOT NULL,
        second           BLOB NOT NULL,
        second_header    BLOB NOT NULL,
        second_signature BLOB NOT NULL,
        PRIMARY KEY (log, author, seq)
    );
    INSERT INTO forks_bounded
        SELECT log, author, seq, first, second, second_header, second_signature
        FROM forks f
        WHERE f.rowid = (SELECT MIN(g.rowid) FROM forks g
                         WHERE g.log = f.log AND g.author = f.author AND g.seq = f.seq);
    INSERT OR IGNORE INTO payloads (hash, bytes)
        SELECT substr(f.second_header, length(f.second_header) - 39, 32), f.second_payload
        FROM forks f JOIN forks_bounded b ON b.second = f.second
        WHERE f.second_payload IS NOT NULL
          AND lower(hex(f.log)) = (SELECT value FROM meta WHERE key = 'network');
    DROP TABLE forks;
    ALTER TABLE forks_bounded RENAME TO forks;
    "#,
    // 12: a row per report for lists (`report list`, the desktop's study list), derived from
    // the entries and rebuildable from them (the app rebuilds it when `meta` does not name the
    // projection version it writes, as after this migration); kept in step with the entries in
    // the transaction that stores them. Paged newest change first, and per study by creation.
    // The study list pages through the imported studies newest first, through the index on
    // their date.
    r#"
    CREATE TABLE report_summaries (
        report     BLOB PRIMARY KEY,
        study      TEXT NOT NULL,
        template   TEXT NOT NULL,
        status     TEXT NOT NULL,
        created_ms INTEGER NOT NULL,
        last_ms    INTEGER NOT NULL,
        entries    INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX report_summaries_by_change ON report_summaries (last_ms, report);
    CREATE INDEX report_summaries_by_study ON report_summaries (study, created_ms, report);
    CREATE INDEX instances_by_date ON instances (study_date DESC, study);
    "#,
    // 13: erasure (GDPR Art. 17). The report logs whose personal data this home destroyed: a
    // payload of one of them is never stored again, whichever path brings it (a bundle from
    // before the erasure, a peer that has not heard of it). And the images it deleted, by
    // SHA-256 only, until their files are gone (a crash between the commit and the unlink is
    // finished on the next open).
    r#"
    CREATE TABLE erased_logs (
        log       BLOB PRIMARY KEY,
        erasure   BLOB NOT NULL,
        erased_ms INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE erased_images (
        sha256 BLOB PRIMARY KEY
    ) WITHOUT ROWID;
    -- The studies a report was moved away from (filed under the wrong patient), derived from
    -- its report.move entries like the report list's rows: what the wrong study's list shows
    -- in its place.
    CREATE TABLE report_moves (
        report     BLOB NOT NULL,
        from_study TEXT NOT NULL,
        PRIMARY KEY (report, from_study)
    ) WITHOUT ROWID;
    CREATE INDEX report_moves_by_study ON report_moves (from_study, report);
    "#,
    // 14: a row per AI proposal (`ai.result`, `ai.received`) with its review, derived from the
    // entries like the report list's rows and kept in step in the same transactions: what
    // `ai stats` counts without projecting every report. `digest`/`review_digest` are SHA-256
    // of the entry's stored bytes when the row was projected from them verified, so `ai stats`
    // notices bytes changed since; `unverified` says why an entry does not count (NULL: it
    // does). Names are not kept (the roster gives them when read), nor modality (the images
    // of the row's study give it when read).
    r#"
    CREATE TABLE ai_outcomes (
        entry             BLOB PRIMARY KEY,
        log               BLOB NOT NULL,
        received          INTEGER NOT NULL,
        model             TEXT NOT NULL,
        version           TEXT NOT NULL,
        author            BLOB NOT NULL,
        manufacturer      TEXT,
        time_ms           INTEGER NOT NULL,
        study             TEXT NOT NULL,
        unverified        TEXT,
        digest            BLOB,
        review            BLOB,
        decision          TEXT,
        review_ms         INTEGER,
        reviewer          BLOB,
        words_changed     INTEGER,
        review_unverified TEXT,
        review_digest     BLOB
    ) WITHOUT ROWID;
    CREATE INDEX ai_outcomes_by_log ON ai_outcomes (log);
    CREATE INDEX ai_outcomes_by_model ON ai_outcomes (model, time_ms);
    "#,
    // 15: sealed payloads (issue 16). One random data key per report log, made by the home
    // that signs the report's `report.create`; its sealed payloads open with it. Never in a
    // log (an append-only, replicated log could never forget it): here, beside the payloads,
    // deleted — with `secure_delete` on — in the transaction that erases the report, which
    // makes every copy of its ciphertext anywhere unreadable.
    r#"
    CREATE TABLE IF NOT EXISTS report_keys (
        log BLOB PRIMARY KEY,
        key BLOB NOT NULL
    ) WITHOUT ROWID;
    "#,
    // 16: one key serves one report. A key held for two logs (a member re-using the key of a
    // report they could read) would survive the erasure of either as the other's key; the
    // SHA-256 of each key is unique (a hash, not a second copy of the key in an index). Rows
    // written before this (a developer's home) have NULL, which the index does not compare.
    r#"
    ALTER TABLE report_keys ADD COLUMN key_sha256 BLOB;
    CREATE UNIQUE INDEX report_keys_by_hash ON report_keys (key_sha256);
    "#,
    // 17: data keys wrapped at rest. `key` holds the data key wrapped under the home's
    // key-encryption key (`countersign_ledger::Kek`, derived from a signature by the member's
    // key, so it exists only while that key is unlocked) when `wrapped` is 1; rows stored in
    // clear by older builds say 0. A migration has no key-encryption key and cannot wrap
    // them: the home wraps them the next time its key is unlocked (`wrap_clear_report_keys`).
    r#"
    ALTER TABLE report_keys ADD COLUMN wrapped INTEGER NOT NULL DEFAULT 0;
    "#,
    // 18: where a slice lies (issue 15: a prior scrolled beside the current study by
    // position): the plane and the position along its normal in mm. Instances indexed before
    // this have NULLs; the viewer falls back to `slice_location` for them.
    r#"
    ALTER TABLE instances ADD COLUMN plane TEXT;
    ALTER TABLE instances ADD COLUMN position REAL;
    "#,
    // 19: sync at scale, the storage pass (issue 13). Each log gets a local number when its
    // first entry arrives here (`logs`), and the per-log indexes and `heads` are keyed by it
    // instead of by the 32-byte log id: a log's entries then sit together, and a home taking
    // logs one after another (a first sync, a difference of new reports) appends at the end
    // of those b-trees instead of dirtying a page at a random place in each. `entries.log`
    // stays (the signed header's log, re-checked by verify, and what rows are read by); only
    // the indexes move. Payloads become a rowid table, in arrival order, with their hash in a
    // small index of its own: the bytes no longer sit in a b-tree keyed by hash, where every
    // insert moved payload bytes around at a random place. Every reader looks payloads up by
    // hash as before (erasure, dedupe, a fork's roster payload, serving).
    //
    // Applied in one transaction like every migration: a crash leaves the old schema or the
    // new, never half. `sqlite_sequence` keeps the highest arrival ever given (an entry
    // removed by hand from the end does not hand its number out again).
    r#"
    CREATE TABLE logs (
        log_no INTEGER PRIMARY KEY,
        log    BLOB NOT NULL UNIQUE
    );
    INSERT INTO logs (log) SELECT log FROM entries GROUP BY log ORDER BY MIN(arrival);
    CREATE TABLE entries_v19 (
        arrival      INTEGER PRIMARY KEY AUTOINCREMENT,
        id           BLOB NOT NULL UNIQUE,
        log          BLOB NOT NULL,
        author       BLOB NOT NULL,
        seq          INTEGER NOT NULL,
        kind         TEXT NOT NULL,
        timestamp_ms INTEGER NOT NULL,
        payload_hash BLOB NOT NULL,
        header       BLOB NOT NULL,
        signature    BLOB NOT NULL,
        log_no       INTEGER NOT NULL,
        UNIQUE (log_no, author, seq)
    );
    INSERT INTO entries_v19 (arrival, id, log, author, seq, kind, timestamp_ms, payload_hash,
                             header, signature, log_no)
        SELECT e.arrival, e.id, e.log, e.author, e.seq, e.kind, e.timestamp_ms, e.payload_hash,
               e.header, e.signature, l.log_no
        FROM entries e JOIN logs l ON l.log = e.log ORDER BY e.arrival;
    DELETE FROM sqlite_sequence WHERE name = 'entries_v19';
    INSERT INTO sqlite_sequence (name, seq)
        SELECT 'entries_v19', seq FROM sqlite_sequence WHERE name = 'entries';
    CREATE TABLE heads_v19 (
        log_no INTEGER NOT NULL,
        id     BLOB NOT NULL,
        PRIMARY KEY (log_no, id)
    ) WITHOUT ROWID;
    INSERT INTO heads_v19 (log_no, id)
        SELECT l.log_no, h.id FROM heads h JOIN logs l ON l.log = h.log ORDER BY l.log_no, h.id;
    CREATE TABLE payloads_v19 (
        hash  BLOB NOT NULL UNIQUE,
        bytes BLOB NOT NULL
    );
    INSERT OR IGNORE INTO payloads_v19 (hash, bytes)
        SELECT p.hash, p.bytes FROM entries e JOIN payloads p ON p.hash = e.payload_hash
        ORDER BY e.arrival;
    INSERT OR IGNORE INTO payloads_v19 (hash, bytes) SELECT hash, bytes FROM payloads;
    DROP TABLE entries;
    DROP TABLE heads;
    DROP TABLE payloads;
    ALTER TABLE entries_v19 RENAME TO entries;
    ALTER TABLE heads_v19 RENAME TO heads;
    ALTER TABLE payloads_v19 RENAME TO payloads;
    CREATE INDEX entries_by_log ON entries (log_no, arrival);
    "#,
    // 20: sync at scale, the storage pass, part two (issue 13). A payload is keyed by its
    // entry's arrival number and has no hash index: a home taking entries in appends to it,
    // where the hash index (its own b-tree keyed by random hashes) took a page at a random
    // place per entry, and at a million reports no longer stayed in the page cache. Every
    // reader by hash goes through the entry (`entries.payload_hash`); an entry's payload is
    // its own row, so two entries with the same bytes keep a copy each (and an erasure
    // removes the erased log's own, never another log's). The roster log's fork evidence,
    // whose payload is not an entry's, keeps it in `fork_payloads` by position (one piece
    // of evidence per position; listing evidence still reads none).
    //
    // The report list's rows are keyed by their log's number too, so a new report's row is
    // appended rather than put at a random place in a b-tree keyed by its id; readers by
    // report id go through `logs` (a row's `report` stays, what lists page by and show). A
    // row whose report has no log numbered yet (a row of nothing, which `verify` names) gets
    // a number, as `put_summary` gives one.
    //
    // The copy keeps what every entry reads, but for an erased report's entries whose
    // payload another log shared: they read none, as this build stores none for them. A
    // fork's payload is copied only for roster kinds (named by the signed header's kind,
    // the byte after the fixed 113 giving its length), as `insert_fork` keeps it.
    r#"
    CREATE TABLE payloads_v20 (
        arrival INTEGER PRIMARY KEY,
        bytes   BLOB NOT NULL
    );
    INSERT INTO payloads_v20 (arrival, bytes)
        SELECT e.arrival, p.bytes FROM entries e JOIN payloads p ON p.hash = e.payload_hash
        WHERE e.kind IN ('payload.erase', 'report.restrict')
           OR e.log NOT IN (SELECT log FROM erased_logs)
        ORDER BY e.arrival;
    CREATE TABLE fork_payloads (
        log    BLOB NOT NULL,
        author BLOB NOT NULL,
        seq    INTEGER NOT NULL,
        bytes  BLOB NOT NULL,
        PRIMARY KEY (log, author, seq)
    ) WITHOUT ROWID;
    INSERT INTO fork_payloads (log, author, seq, bytes)
        SELECT f.log, f.author, f.seq, p.bytes FROM forks f
        JOIN payloads p
          ON p.hash = substr(f.second_header, length(f.second_header) - 39, 32)
        WHERE CAST(substr(f.second_header, 115,
                          unicode(CAST(substr(f.second_header, 114, 1) AS TEXT))) AS TEXT)
              IN ('network.genesis', 'roster.member', 'roster.revoke', 'roster.readmit',
                  'roster.rotate', 'template.publish', 'macro.publish');
    DROP TABLE payloads;
    ALTER TABLE payloads_v20 RENAME TO payloads;
    CREATE TABLE report_summaries_v20 (
        log_no     INTEGER PRIMARY KEY,
        report     BLOB NOT NULL,
        study      TEXT NOT NULL,
        template   TEXT NOT NULL,
        status     TEXT NOT NULL,
        created_ms INTEGER NOT NULL,
        last_ms    INTEGER NOT NULL,
        entries    INTEGER NOT NULL
    );
    INSERT OR IGNORE INTO logs (log) SELECT report FROM report_summaries ORDER BY created_ms;
    INSERT INTO report_summaries_v20 (log_no, report, study, template, status, created_ms,
                                      last_ms, entries)
        SELECT l.log_no, s.report, s.study, s.template, s.status, s.created_ms, s.last_ms,
               s.entries
        FROM report_summaries s JOIN logs l ON l.log = s.report ORDER BY l.log_no;
    DROP TABLE report_summaries;
    ALTER TABLE report_summaries_v20 RENAME TO report_summaries;
    CREATE INDEX report_summaries_by_change ON report_summaries (last_ms, report);
    CREATE INDEX report_summaries_by_study ON report_summaries (study, created_ms, report);
    "#,
    // 21: an erased image is remembered with the erasure's mark (rising with every image and
    // study erased), and kept once its file is gone (`file_gone`) instead of forgotten; so is
    // a study whose images an erasure deleted. An import that began before the erasure read a
    // lower mark, and refuses such an image, or an image of such a study, when it comes to
    // index it: a retrieval still streaming the study must not bring it back (found by
    // review, 2026-12-04). An import begun after the erasure reads a mark at least as high,
    // and stores the images again, a new act. One row per image and study ever erased.
    r#"
    CREATE TABLE erased_images_v21 (
        sha256    BLOB PRIMARY KEY,
        erased_at INTEGER NOT NULL,
        file_gone INTEGER NOT NULL DEFAULT 0
    ) WITHOUT ROWID;
    INSERT INTO erased_images_v21 (sha256, erased_at) SELECT sha256, 0 FROM erased_images;
    DROP TABLE erased_images;
    ALTER TABLE erased_images_v21 RENAME TO erased_images;
    CREATE INDEX erased_images_by_mark ON erased_images (erased_at);
    CREATE TABLE erased_studies (
        study     TEXT PRIMARY KEY,
        erased_at INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX erased_studies_by_mark ON erased_studies (erased_at);
    "#,
    // 22: the report logs that granted an AI model access, found without reading every entry.
    // A restricted reader's reconciliation set (an AI model's node) is built from them, and
    // `logs_with_grants` read the whole entries table for it (at a million reports, gigabytes,
    // on the serving node's event loop at each of the model's steps; found by review,
    // 2026-12-05). A partial index holds grant entries only: storing any other entry writes
    // nothing more.
    r#"
    CREATE INDEX entries_grants ON entries (log) WHERE kind = 'access.grant';
    "#,
    // 23: the Issuer of Patient ID (0010,0021) of each instance. A Patient ID is unique only
    // per issuer: across a region's hospitals two people share one, and a patient's erasure
    // by the bare ID erased both (found by a clinical-safety review, 2026-12-05). Instances
    // indexed before this have NULL, "issuer not recorded": a patient's erasure tells them
    // apart from a known issuer rather than guess they are the same person.
    r#"
    ALTER TABLE instances ADD COLUMN issuer TEXT;
    "#,
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;
