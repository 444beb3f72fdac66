//! Goal: signing and durably appending a section (`report write`: read heads and sequence under
//! the write lock, sign, check every rule, commit with WAL + synchronous=FULL) runs at ≥ 0.8× the
//! rate of a raw single-row SQLite commit with the same settings, with p99 within 1.5× of raw.
//!
//! Reports are rotated every 100 sections, as real reports hold tens of entries, not thousands.
//!
//! Goal (issue 16): with every payload sealed under its report's data key, append runs at
//! ≥ 0.9× the rate of the same appends in clear (a home that seals nothing new, the baseline:
//! what the app did before sealing), measured interleaved in the same run.

use std::cell::{Cell, RefCell};
use std::time::Instant;

use countersign_app::{Home, Passphrase, PassphraseSource};
use countersign_benches::quantile;
use countersign_ledger::{EntryId, Role};
use criterion::{criterion_group, criterion_main, Criterion};
use rusqlite::{params, Connection};

const PER_REPORT: u32 = 100;
const SAMPLES: usize = 2000;

struct Writer {
    home: RefCell<Home>,
    report: Cell<EntryId>,
    written: Cell<u32>,
}

impl Writer {
    fn write(&self) {
        let mut home = self.home.borrow_mut();
        if self.written.get() == PER_REPORT {
            let study = format!("1.2.840.{}", rand_study());
            self.report
                .set(home.report_new(&study, "ct-chest", &[]).expect("report"));
            self.written.set(0);
        }
        self.written.set(self.written.get() + 1);
        let text = format!(
            "Findings revision {}: no pulmonary nodule, no effusion.",
            self.written.get()
        );
        home.report_write(self.report.get(), "findings", &text)
            .expect("append");
    }
}

fn rand_study() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

struct Raw {
    conn: Connection,
    row: Vec<u8>,
}

impl Raw {
    fn commit(&self) {
        self.conn.execute_batch("BEGIN IMMEDIATE").expect("begin");
        self.conn
            .execute(
                "INSERT INTO t (header, signature) VALUES (?1, ?2)",
                params![self.row, [7u8; 64].as_slice()],
            )
            .expect("insert");
        self.conn.execute_batch("COMMIT").expect("commit");
    }
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("tempdir on disk");
    let passphrase = Passphrase::new("bench passphrase");
    let source = PassphraseSource::fixed(passphrase.clone());
    let mut home = Home::open_with(&dir.path().join("home"), source).expect("home");
    home.init("Dr Bench", Role::Attending, Some("Bench"), None)
        .expect("init");
    // The key is unlocked once, as the desktop does per session; every append below signs with
    // it in memory. One unlock's time (Argon2id with the default parameters) for the README.
    home.lock();
    let t = Instant::now();
    home.unlock(&passphrase).expect("unlock");
    eprintln!(
        "unlock: {:.0} ms (Argon2id {:?})",
        t.elapsed().as_secs_f64() * 1e3,
        countersign_app::keys::KdfParams::DEFAULT
    );
    let report = home
        .report_new("1.2.840.1", "ct-chest", &[])
        .expect("report");
    let writer = Writer {
        home: RefCell::new(home),
        report: Cell::new(report),
        written: Cell::new(0),
    };
    // The baseline: the same appends on a home of its own whose reports are created in clear.
    let mut clear_home = Home::open_with(
        &dir.path().join("clear"),
        PassphraseSource::fixed(passphrase.clone()),
    )
    .expect("home");
    // Before init: the network it founds is one from before sealing, which takes clear reports.
    clear_home.set_seal_new_reports(false);
    clear_home
        .init("Dr Clear", Role::Attending, Some("Bench"), None)
        .expect("init");
    let report = clear_home
        .report_new("1.2.840.2", "ct-chest", &[])
        .expect("report");
    let clear = Writer {
        home: RefCell::new(clear_home),
        report: Cell::new(report),
        written: Cell::new(0),
    };

    let conn = Connection::open(dir.path().join("raw.sqlite3")).expect("raw db");
    // The store's own settings (WAL, synchronous=FULL, page size, cache, checkpoint interval).
    countersign_store::configure(&conn).expect("the store's pragmas");
    conn.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, header BLOB, signature BLOB);")
        .expect("schema");
    let raw = Raw {
        conn,
        row: vec![0x42; 260],
    };

    let mut group = c.benchmark_group("append");
    group.bench_function("sign_and_durable_append", |b| b.iter(|| writer.write()));
    group.bench_function("sign_and_durable_append_clear", |b| {
        b.iter(|| clear.write())
    });
    group.bench_function("raw_sqlite_single_row_commit", |b| b.iter(|| raw.commit()));
    group.finish();

    // One line for the README: per-operation latencies, interleaved so all see the same disk.
    let (mut ours, mut base) = (Vec::with_capacity(SAMPLES), Vec::with_capacity(SAMPLES));
    let mut unsealed = Vec::with_capacity(SAMPLES);
    for _ in 0..SAMPLES {
        let t = Instant::now();
        writer.write();
        ours.push(t.elapsed().as_secs_f64() * 1e3);
        let t = Instant::now();
        clear.write();
        unsealed.push(t.elapsed().as_secs_f64() * 1e3);
        let t = Instant::now();
        raw.commit();
        base.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let rate = |v: &[f64]| v.len() as f64 / (v.iter().sum::<f64>() / 1e3);
    let (ro, rb) = (rate(&ours), rate(&base));
    let (p50o, p99o) = (quantile(&mut ours, 0.5), quantile(&mut ours, 0.99));
    let (p50b, p99b) = (quantile(&mut base, 0.5), quantile(&mut base, 0.99));
    println!(
        "SUMMARY sign + durable append: {ro:.0}/s, p50 {p50o:.3} ms, p99 {p99o:.3} ms; raw SQLite commit {rb:.0}/s, \
         p50 {p50b:.3} ms, p99 {p99b:.3} ms; rate {:.2}x raw ({}), p99 {:.2}x raw ({}); {}",
        ro / rb,
        countersign_benches::goal(">= 0.8x", ro / rb >= 0.8),
        p99o / p99b,
        countersign_benches::goal("<= 1.5x", p99o / p99b <= 1.5),
        countersign_benches::goal("p99 < 10 ms", p99o < 10.0),
    );
    sealing_summary(&mut ours, &mut unsealed);
}

fn sealing_summary(sealed: &mut [f64], clear: &mut [f64]) {
    let rate = |v: &[f64]| v.len() as f64 / (v.iter().sum::<f64>() / 1e3);
    let (rs, rc) = (rate(sealed), rate(clear));
    println!(
        "SUMMARY append sealed {rs:.0}/s (p99 {:.3} ms), clear {rc:.0}/s (p99 {:.3} ms): \
         {:.2}x ({})",
        quantile(sealed, 0.99),
        quantile(clear, 0.99),
        rs / rc,
        countersign_benches::goal(">= 0.9x clear", rs / rc >= 0.9),
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
