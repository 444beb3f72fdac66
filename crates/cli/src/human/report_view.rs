//! One report as `report show` prints it: its state, each section with who wrote and co-signed
//! it and when, sign-offs, addenda, links, and the provenance of every entry.
//!
//! Every value in it was written by a member, a peer or an archive: names, legal bases,
//! section text and the rest go through [`crate::term`] (an erasure's basis could otherwise
//! clear the auditor's screen and draw a signed report that is not there).

use std::fmt::Write;

use countersign_app::report::ReportView;

use super::*;
use crate::term::text;

pub fn report(v: &ReportView) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{} report {}", line(&v.template_title), v.report);
    let _ = writeln!(
        out,
        "study {}  status {}",
        line(&v.study),
        format!("{:?}", v.status).to_uppercase()
    );
    let _ = writeln!(
        out,
        "created by {} at {}",
        who(&v.created_by),
        time(v.created_ms)
    );
    // What this home holds of the log ends here: a copy (an audit archive, say) that left out
    // a later entry — an addendum, a second sign-off — reads whole, so an auditor confirms the
    // latest entry with the department by another channel.
    let heads: Vec<String> = v.heads.iter().map(|h| h.to_string()).collect();
    let _ = writeln!(
        out,
        "latest {} {}",
        if heads.len() == 1 {
            "entry"
        } else {
            "entries (concurrent)"
        },
        heads.join(", ")
    );
    if let Some(e) = &v.erasure {
        let _ = writeln!(
            out,
            "ERASED on {} by {} ({}): every section, addendum and finding is destroyed; the \
             signed headers below still verify",
            time(e.time_ms),
            who(&e.by),
            line(&e.basis)
        );
    }
    if v.unreadable && v.locked {
        let _ = writeln!(
            out,
            "NOT READABLE HERE: THE HOME IS LOCKED: this home holds the report's key sealed \
             under your key; give the passphrase (--passphrase-file, COUNTERSIGN_PASSPHRASE_FILE \
             or a terminal) or the token's PIN to read it"
        );
    } else if v.unreadable {
        let _ = writeln!(
            out,
            "NOT READABLE HERE: the report is sealed and this home does not hold its key; the \
             signed headers below verify, the content cannot be read"
        );
    }
    // A report created in clear (before sealing, or by a client that does not seal): what is
    // written into it is stored in clear too, and an erasure deletes it but cannot shred
    // copies elsewhere.
    if !v.sealed && v.erasure.is_none() {
        let _ = writeln!(
            out,
            "CREATED IN CLEAR: this report is not sealed; its text is stored in clear on every \
             home, and an erasure deletes what it finds but cannot shred other copies"
        );
    }
    for m in &v.moves {
        let _ = writeln!(
            out,
            "moved from study {} to study {} on {} by {} ({})",
            line(&m.from),
            line(&m.to),
            time(m.time_ms),
            who(&m.by),
            line(&m.reason)
        );
    }
    if let Some(r) = &v.restriction {
        let _ = writeln!(
            out,
            "RESTRICTED on {} by {} ({}): the content is withheld until the restriction is lifted",
            time(r.time_ms),
            who(&r.by),
            line(&r.basis)
        );
    }
    if let Some(s) = &v.signoff {
        let _ = writeln!(
            out,
            "signed off by {} at {} [{}]",
            who(&s.author),
            time(s.time_ms),
            status(&s.status)
        );
    }
    // Critical results first, as a banner: they are what a reader must not miss.
    for c in &v.critical {
        let _ = writeln!(
            out,
            "\n!! CRITICAL RESULT: {} — told {} by {:?} at {}{} (recorded by {})",
            line(&c.critical.finding),
            line(&c.critical.to),
            c.critical.via,
            time(c.critical.communicated_ms),
            if c.critical.read_back {
                ", read back"
            } else {
                ""
            },
            who(&c.author)
        );
    }
    for s in &v.sections {
        let _ = writeln!(out, "\n## {}", line(&s.title));
        match &s.text {
            // A lone carriage return in signed text (the rule lets it through) would let the
            // text after it overwrite the text before it on a terminal: each shows on its line.
            Some(t) => {
                let _ = writeln!(out, "{}", text(t));
            }
            None if s.required => {
                let _ = writeln!(out, "(not written; required before sign-off)");
            }
            None => {
                let _ = writeln!(out, "(not written)");
            }
        }
        for f in &s.fields {
            if let Some(d) = &f.display {
                let _ = writeln!(out, "  {}: {}", line(&f.def.label), line(d));
            }
        }
        // The current version's links to images, by the marker its text carries.
        let current = s.versions.iter().find(|v| Some(v.entry) == s.current);
        for l in current.map_or(&[][..], |v| &v.links) {
            let _ = writeln!(
                out,
                "  {} {}{} on image {}, frame {}",
                l.marker(),
                l.kind.word(),
                if l.label.is_empty() || l.label == l.kind.word() {
                    String::new()
                } else {
                    format!(" ({})", line(&l.label))
                },
                short(&l.image),
                l.frame + 1
            );
        }
        for (i, ver) in s.versions.iter().enumerate() {
            let _ = writeln!(
                out,
                "  v{} by {} at {} [{}] {}{}",
                i + 1,
                who(&ver.author),
                time(ver.time_ms),
                status(&ver.status),
                short(&ver.entry.to_hex()),
                macros_note(&ver.macros)
            );
            for c in &ver.cosigns {
                let _ = writeln!(
                    out,
                    "     co-signed by {} at {} [{}]",
                    who(&c.author),
                    time(c.time_ms),
                    status(&c.status)
                );
            }
        }
    }
    for a in &v.addenda {
        let _ = writeln!(
            out,
            "\n## Addendum by {} at {} [{}]",
            who(&a.author),
            time(a.time_ms),
            status(&a.status)
        );
        let _ = writeln!(out, "{}", text(a.text.as_deref().unwrap_or("(erased)")));
    }
    for f in &v.followups {
        let state = match &f.closed {
            Some(c) => format!("closed by study {} at {}", line(&c.study), time(c.time_ms)),
            None => "open".into(),
        };
        let _ = writeln!(
            out,
            "\nFollow-up due {}: {} (recommended by {}; {state})",
            line(&f.due),
            line(&f.finding),
            who(&f.author)
        );
    }
    let _ = writeln!(out, "\nProvenance ({} entries):", v.provenance.len());
    for p in &v.provenance {
        let section = p.section.as_deref().map_or(String::new(), |s| {
            format!(" {}{}", line(s), macros_note(&p.macros))
        });
        let _ = writeln!(
            out,
            "  {} {:<15}{section:<12} {} #{} at {} [{}]",
            short(&p.entry.to_hex()),
            p.kind.name(),
            who(&p.author),
            p.seq,
            time(p.time_ms),
            match (&p.status, &v.erasure) {
                (EntryStatus::Erased, Some(e)) => format!(
                    "signature verified, erased on {} by {} ({})",
                    time(e.time_ms),
                    who(&e.by),
                    line(&e.basis)
                ),
                (s, _) => status(s),
            }
        );
    }
    out.trim_end().to_string()
}
