//! Human-readable output. Scripts use `--json`; this is for people at a terminal.

use std::fmt::Write;
use std::path::Path;

use countersign_app::keys::KeyStoreKind;
use countersign_app::ledger::Member;
use countersign_app::report::{Author, EntryStatus};
use countersign_app::{
    DemoSummary, ImportReport, ProvenanceText, ReportSummary, VerifyReport, WhoAmI,
};

use crate::term::line;

mod report_view;
pub use report_view::report;

/// `YYYY-MM-DD HH:MM:SS UTC` from milliseconds since the epoch.
pub fn time(ms: u64) -> String {
    let secs = ms / 1000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// " (AutoText: nodule)": the macros a section version was built from, as provenance says.
fn macros_note(macros: &[countersign_app::report::macros::MacroRef]) -> String {
    if macros.is_empty() {
        return String::new();
    }
    let names: Vec<_> = macros.iter().map(|m| line(&m.name)).collect();
    format!(" (AutoText: {})", names.join(", "))
}

/// The first 12 characters of an id; by characters, and escaped, since an id a payload gives
/// (a link's image hash) may not be hex at all.
fn short(hex: &str) -> String {
    let first: String = hex.chars().take(12).collect();
    line(&first).into_owned()
}

fn who(a: &Author) -> String {
    // For a rotated key: "; key 2 of 2, rotated on 2026-12-01".
    let key = a.person.as_ref().map_or(String::new(), |p| {
        let day = |ms: u64| time(ms).chars().take(10).collect::<String>();
        match (p.rotated_ms, p.retired_ms) {
            (Some(ms), _) if p.replaced_lost_key => {
                format!("; {}, replaced a lost key on {}", p.ordinal(), day(ms))
            }
            (Some(ms), _) => format!("; {}, rotated on {}", p.ordinal(), day(ms)),
            (None, Some(ms)) => format!("; {}, replaced on {}", p.ordinal(), day(ms)),
            (None, None) => format!("; {}", p.ordinal()),
        }
    });
    // Renamed since it signed: the name it signed under too, and any other it had.
    let mut key = match &a.name_then {
        Some(then) => format!("; signed as {}{key}", line(then)),
        None => key,
    };
    if !a.formerly.is_empty() {
        let formerly: Vec<String> = a.formerly.iter().map(|n| line(n).into_owned()).collect();
        let _ = write!(key, "; formerly {}", formerly.join(", "));
    }
    // The name and the model's details are whatever the roster entry that admitted the key
    // says: one line each, nothing a terminal acts on.
    let name = line(&a.name);
    match (&a.role, &a.ai_model) {
        (_, Some(m)) => format!(
            "{name} (AI {} {} v{}{key})",
            line(&m.vendor),
            line(&m.model),
            line(&m.version)
        ),
        (Some(r), None) => format!("{name} ({r}{key})"),
        (None, None) => format!("{name} [{}]", short(&a.key.to_hex())),
    }
}

fn status(s: &EntryStatus) -> String {
    match s {
        EntryStatus::Verified => "verified".into(),
        EntryStatus::Fork => "FORK".into(),
        EntryStatus::Erased => "payload erased".into(),
        EntryStatus::Invalid { reason } => format!("INVALID: {}", line(reason)),
        EntryStatus::Refused { code, .. } => format!("REFUSED ({})", line(code)),
    }
}

pub fn whoami(w: &WhoAmI) -> String {
    let network = w
        .network
        .map_or("no network yet".into(), |n| format!("network {n}"));
    let admin = if w.admin { ", admin" } else { "" };
    let store = match w.key_store {
        KeyStoreKind::Sealed => "sealed under a passphrase in this home",
        KeyStoreKind::Keychain => "in the OS keychain",
        KeyStoreKind::Token => "on a hardware token, opened with its PIN",
    };
    format!(
        "{} ({}{admin})\nkey {} ({store})\n{network}",
        line(&w.name),
        w.role,
        w.key
    )
}

pub fn roster(members: &[Member]) -> String {
    let mut out = String::new();
    for m in members {
        let revoked = match (&m.revoked, &m.rotated_to) {
            (Some(r), Some(new)) => format!(
                ", rotated to {} by entry {}",
                short(&new.to_hex()),
                short(&r.entry.to_hex())
            ),
            (Some(r), None) => format!(", revoked by entry {}", short(&r.entry.to_hex())),
            (None, _) => String::new(),
        };
        let revoked = match &m.rotated_from {
            Some(old) => format!("{revoked}, rotated from {}", short(&old.to_hex())),
            None => revoked,
        };
        let admin = if m.admin { ", admin" } else { "" };
        let _ = writeln!(
            out,
            "{}  {} ({}{admin}{revoked})",
            m.key,
            line(&m.name),
            m.role
        );
    }
    out.trim_end().to_string()
}

/// The lines of a page of reports; `more` is the cursor of the next page, if the page is full.
pub fn report_list(list: &[ReportSummary], more: Option<&str>) -> String {
    if list.is_empty() {
        return "no reports".into();
    }
    let mut lines: Vec<String> = list
        .iter()
        .map(|r| {
            if r.moved_to.is_some() {
                return format!("{}  MOVED to another patient's study", r.report);
            }
            format!(
                "{}  {:<11} {:<10} study {}",
                r.report,
                format!("{:?}", r.status).to_lowercase(),
                line(&r.template),
                line(&r.study)
            )
        })
        .collect();
    if let Some(cursor) = more {
        lines.push(format!("more: report list --after {cursor}"));
    }
    lines.join("\n")
}

pub fn import(r: &ImportReport) -> String {
    let mut out = format!(
        "imported {} new entries ({} already here)",
        r.new, r.duplicate
    );
    for f in &r.forks {
        let _ = write!(out, "\n{}", line(&f.problem));
    }
    for s in &r.refused {
        let code = line(s.code.as_deref().unwrap_or("rule"));
        let _ = write!(
            out,
            "\nstored but REFUSED ({code}) {}: {}",
            s.entry,
            line(&s.problem)
        );
    }
    for s in &r.held {
        let _ = write!(out, "\nheld {}: {}", s.entry, line(&s.problem));
    }
    match &r.provenance_text {
        None => {}
        Some(ProvenanceText::Matches { unsigned }) => {
            let _ = write!(
                out,
                "\nprovenance.txt reads as the signed entries do, except these lines, which \
                 the exporter's image store gave and no one signed:"
            );
            // The archive's own words: one line each, nothing a terminal acts on.
            for unsigned in unsigned {
                let _ = write!(out, "\n  {}", line(unsigned));
            }
        }
        Some(ProvenanceText::Differs {
            line: at,
            archive,
            entries,
            written_by,
        }) => {
            let _ = write!(
                out,
                "\nprovenance.txt does NOT read as the signed entries do: do not trust it; \
                 `report show` reads the entries imported. Line {at}:\n  archive: \
                 {}\n  entries: {}",
                line(archive),
                line(entries)
            );
            if let Some(v) = written_by {
                let _ = write!(
                    out,
                    "\n  (its README says Countersign {} wrote it, and this is {}: the wording \
                     may differ between versions — compare with `report show`)",
                    line(v),
                    env!("CARGO_PKG_VERSION")
                );
            }
        }
        Some(ProvenanceText::NotChecked { reason }) => {
            let _ = write!(
                out,
                "\nprovenance.txt NOT CHECKED, so do not trust it: {}",
                line(reason)
            );
        }
        Some(ProvenanceText::AiPackage) => {
            let _ = write!(
                out,
                "\nan AI audit package: provenance.json and summary.pdf are the exporter's and \
                 are not checked; `ai stats` gives the figures from the entries imported"
            );
        }
    }
    out
}

pub fn verify(v: &VerifyReport) -> String {
    let mut out = if v.ok {
        format!(
            "verified: {} entries, every signature, hash, link and rule checks out ({:.3} s)",
            v.entries, v.seconds
        )
    } else {
        format!(
            "NOT VERIFIED: {} problems in {} entries ({:.3} s)",
            v.problems.len(),
            v.entries,
            v.seconds
        )
    };
    for p in &v.problems {
        let _ = write!(out, "\n{}: {}", p.entry, line(&p.problem));
    }
    // Held entries are not in the ledger yet, so "every entry checks out" says nothing of
    // them: said, so that an auditor does not read them as checked (found by review,
    // 2026-12-05).
    if v.held > 0 {
        let _ = write!(
            out,
            "\n{} entries held (dated ahead of this home's clock), not shown: they are taken \
             in and checked when their time comes",
            v.held
        );
    }
    if !v.quarantined.is_empty() {
        let _ = write!(
            out,
            "\n{} entries a peer sent are quarantined (not in the ledger; `sync status` says why):",
            v.quarantined.len()
        );
        for q in &v.quarantined {
            let state = if q.waiting { "waiting" } else { "refused" };
            let _ = write!(out, "\n  {} {state}: {}", line(&q.entry), line(&q.code));
        }
    }
    out
}

pub fn image_info(i: &countersign_app::imaging::ImageInfo) -> String {
    let mut out = format!(
        "{}\n{} ({})",
        line(&i.description),
        line(&i.transfer_syntax),
        line(&i.transfer_syntax_uid)
    );
    if i.has_pixels {
        let _ = write!(
            out,
            "\n{}×{} × {} frame(s), {} sample(s) of {} bits ({} stored{}), {}",
            i.columns,
            i.rows,
            i.frames,
            i.samples_per_pixel,
            i.bits_allocated,
            i.bits_stored,
            if i.signed { ", signed" } else { "" },
            line(
                i.photometric
                    .as_deref()
                    .unwrap_or("no photometric interpretation")
            )
        );
    }
    for (label, value) in [
        ("modality", &i.modality),
        ("study", &i.study_uid),
        ("series", &i.series_uid),
        ("date", &i.study_date),
        ("description", &i.series_description),
    ] {
        if let Some(v) = value {
            let _ = write!(out, "\n{label}: {}", line(v));
        }
    }
    out
}

pub fn import_summary(s: &countersign_app::ImportSummary) -> String {
    let mut out = format!(
        "imported {} files ({} already here), {} not imported",
        s.imported,
        s.duplicates,
        s.failed.len()
    );
    for f in &s.failed {
        let _ = write!(out, "\n  {}: {}", line(&f.path), line(&f.reason));
    }
    if !s.undecodable.is_empty() {
        let _ = write!(
            out,
            "\n{} imported whose pixels cannot be shown:",
            s.undecodable.len()
        );
        for f in &s.undecodable {
            let _ = write!(out, "\n  {}: {}", line(&f.path), line(&f.reason));
        }
    }
    out
}

pub fn studies(list: &[countersign_app::StudySummary]) -> String {
    if list.is_empty() {
        return "no studies".into();
    }
    list.iter()
        .map(|s| {
            format!(
                "{}  {}  {}  {}  {} ({} instances)",
                line(s.date.as_deref().unwrap_or("--------")),
                line(s.modality.as_deref().unwrap_or("--")),
                line(s.patient.as_deref().unwrap_or("(no name)")),
                line(s.description.as_deref().unwrap_or("")),
                line(&s.study),
                s.instances
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn sync_status(s: &countersign_app::sync::SyncStatus) -> String {
    let mut out = String::new();
    if s.peers.is_empty() {
        out.push_str("no peer synced with yet\n");
    }
    for p in &s.peers {
        let who = line(p.name.as_deref().unwrap_or(&p.peer));
        let last = p
            .last_reconcile_ms
            .map_or("never".to_string(), |ms| time(ms.max(0) as u64));
        out.push_str(&format!(
            "{who}: last reconcile {last}, {} entries received\n",
            p.stored
        ));
        if let Some(c) = &p.cut_off {
            let state = if c.active {
                "cut off until"
            } else {
                "was cut off until"
            };
            out.push_str(&format!(
                "  {state} {} ({}; strike {})\n",
                time(c.until_ms.max(0) as u64),
                line(&c.reason),
                c.strikes
            ));
        }
    }
    if s.quarantined.is_empty() {
        out.push_str("nothing quarantined\n");
    } else {
        out.push_str(&format!("{} entries quarantined:\n", s.quarantined.len()));
        for q in &s.quarantined {
            let state = if q.waiting { "waiting" } else { "refused" };
            out.push_str(&format!(
                "  {} {} {state}: {} ({})\n",
                short(&q.entry),
                line(&q.kind),
                line(&q.code),
                line(&q.reason)
            ));
        }
    }
    out.trim_end().to_string()
}

pub fn templates(list: &[countersign_app::TemplateRef]) -> String {
    list.iter()
        .map(|t| {
            format!(
                "{:<20} {:<24} {} sections ({})",
                line(&t.name),
                line(&t.title),
                t.sections,
                t.source
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn macros(list: &[countersign_app::MacroInfo]) -> String {
    if list.is_empty() {
        return "no macros".into();
    }
    list.iter()
        .map(|m| {
            let fields: Vec<String> = m.fields.iter().map(|f| format!("[{}]", line(f))).collect();
            format!(
                "{:<20} {:<32} {} ({}){}",
                line(&m.name),
                line(&m.title),
                applies(&m.applies),
                line(m.source),
                if fields.is_empty() {
                    String::new()
                } else {
                    format!(" fields {}", fields.join(" "))
                }
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn macro_show(m: &countersign_app::MacroInfo) -> String {
    format!(
        "{} — {} ({}, {})\napplies to {}\n\n{}",
        line(&m.name),
        line(&m.title),
        m.source,
        m.hash.to_hex(),
        applies(&m.applies),
        crate::term::text(&m.text)
    )
}

/// "ct-chest/findings, mr-cardiac/impression": where a macro applies.
fn applies(list: &[countersign_app::report::macros::MacroTarget]) -> String {
    list.iter()
        .map(|a| format!("{}/{}", line(&a.template), line(&a.section)))
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn followups(list: &[countersign_app::OpenFollowup]) -> String {
    if list.is_empty() {
        return "no open follow-ups".into();
    }
    list.iter()
        .map(|f| {
            format!(
                "due {}  {}  (recommended by {}; report {}, follow-up {})",
                line(&f.due),
                line(&f.finding),
                line(&f.recommended_by),
                f.report,
                f.followup
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn demo(d: &DemoSummary, home: &Path) -> String {
    let mut out = format!(
        "Demo department founded in {} (network {})\n",
        home.display(),
        d.network
    );
    for m in &d.members {
        let _ = writeln!(out, "  {} ({})  {}", line(&m.name), m.role, m.key);
    }
    let _ = writeln!(
        out,
        "Synthetic phantom study {} imported (no patient data).",
        d.study
    );
    let _ = write!(out, "Cardiac MR report {} written, co-signed and signed off ({} entries).\nSee it with: countersign --home {} report show {}", d.report, d.entries, home.display(), d.report);
    out
}

/// The AI reviewer's figures, one block per model version.
pub fn ai_stats(stats: &countersign_app::report::oversight::AiStats) -> String {
    let pct = |r: Option<f64>| r.map_or("–".into(), |r| format!("{:.1}%", r * 100.0));
    let mut out = String::new();
    for m in &stats.models {
        out.push_str(&format!(
            "{} {}{}: {} proposals — {} accepted, {} edited, {} rejected, {} unreviewed; \
             acceptance {}, rejection {}\n  edits: {} words changed at the median, {} at p90; \
             review after {} s at the median, {} s at p90; {} reviewer(s)\n",
            line(&m.model),
            line(&m.version),
            m.vendor
                .as_ref()
                .map_or(String::new(), |v| format!(" by {}", line(v))),
            m.proposals,
            m.accepted,
            m.edited,
            m.rejected,
            m.unreviewed,
            pct(m.acceptance_rate),
            pct(m.rejection_rate),
            m.edit_words.p50,
            m.edit_words.p90,
            m.review_ms.p50 / 1000,
            m.review_ms.p90 / 1000,
            m.reviewers.len(),
        ));
    }
    for d in &stats.drift {
        out.push_str(&format!(
            "drift: {} {} → {}: acceptance {:.1}% → {:.1}% ({:+.1} points)\n",
            line(&d.model),
            line(&d.from),
            line(&d.to),
            d.acceptance_from * 100.0,
            d.acceptance_to * 100.0,
            d.change * 100.0
        ));
    }
    for e in &stats.excluded {
        out.push_str(&format!(
            "excluded: {} {} ({})\n",
            e.kind,
            e.entry,
            line(&e.reason)
        ));
    }
    if out.is_empty() {
        out.push_str("no AI proposals\n");
    }
    out.trim_end().to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn formats_utc_times() {
        assert_eq!(super::time(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(super::time(1_764_081_000_000), "2025-11-25 14:30:00 UTC");
        assert_eq!(super::time(951_782_400_000), "2000-02-29 00:00:00 UTC");
    }
}
