//! The document as plain text: the audit bundle's human-readable provenance report, and the
//! text a FHIR DiagnosticReport presents.

use crate::document::Block;

/// Lines are wrapped at this many characters (identifiers and signatures are never broken).
const WIDTH: usize = 100;

/// Plain text, wrapped at 100 columns.
pub fn render(doc: &[Block]) -> String {
    let mut out = String::new();
    for b in doc {
        match b {
            Block::Title(t) => {
                out.push_str(&t.to_uppercase());
                out.push('\n');
                out.push_str(&"=".repeat(t.chars().count()));
                out.push('\n');
            }
            Block::Meta(t) => push_wrapped(&mut out, t, ""),
            Block::Banner(t) => {
                out.push('\n');
                push_wrapped(&mut out, &format!("!! {t}"), "   ");
            }
            Block::Heading(t) => {
                out.push('\n');
                out.push_str(t);
                out.push('\n');
                out.push_str(&"-".repeat(t.chars().count()));
                out.push('\n');
            }
            Block::Para(t) => push_wrapped(&mut out, t, ""),
            Block::Note(t) => push_wrapped(&mut out, &format!("  {t}"), "    "),
            Block::Figure { caption, .. } => push_wrapped(&mut out, caption, "  "),
            Block::Mono(t) => {
                out.push_str("    ");
                out.push_str(t);
                out.push('\n');
            }
        }
    }
    out
}

/// Greedy word wrap keeping the paragraph's leading spaces; continuation lines start with
/// `indent`.
fn push_wrapped(out: &mut String, text: &str, indent: &str) {
    for paragraph in text.split('\n') {
        let lead = &paragraph[..paragraph.len() - paragraph.trim_start().len()];
        let mut line = lead.to_string();
        let mut words_on_line = 0;
        for word in paragraph.split_whitespace() {
            let len = line.chars().count();
            if words_on_line > 0 && len + 1 + word.chars().count() > WIDTH {
                out.push_str(&line);
                out.push('\n');
                line = indent.to_string();
                words_on_line = 0;
            } else if words_on_line > 0 {
                line.push(' ');
            }
            line.push_str(word);
            words_on_line += 1;
        }
        out.push_str(&line);
        out.push('\n');
    }
}
