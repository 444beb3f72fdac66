//! The document as plain text: the audit bundle's human-readable provenance report, and the
//! text a FHIR DiagnosticReport presents.

use std::borrow::Cow;

use countersign_report::payload::text::is_format;

use crate::document::Block;

/// Lines are wrapped at this many characters (identifiers and signatures are never broken).
const WIDTH: usize = 100;

/// Whether `c` is one the signed-text rule refuses in text with lines (see
/// `countersign_report::payload::text`): a control character other than the line feed and the
/// tab (the carriage return is made a line break before this is asked), a line or paragraph
/// separator, or a format character other than the four that never change which letters are
/// read or in what order (U+200C/U+200D, spelling Persian and Indic names; U+00AD; U+FEFF).
fn hidden(c: char) -> bool {
    (c.is_control() && !matches!(c, '\n' | '\t'))
        || matches!(c, '\u{2028}' | '\u{2029}')
        || (is_format(c) && !matches!(c, '\u{200c}' | '\u{200d}' | '\u{ad}' | '\u{feff}'))
}

/// Text as the plain-text documents show it (the audit archive's `provenance.txt`, read in a
/// terminal or an editor; a FHIR report's text): `\r\n` and a lone `\r` are line breaks, so
/// that no text hides the text before it; an escape sequence (which would rewrite an auditor's
/// terminal), a bidi override (which shows letters in an order the bytes do not say) or any
/// other hidden character is shown as `\u{..}`. A legal basis of an erasure may hold any of them
/// (it is exempt from the signed-text rule), and so may a name an older build admitted (found by
/// review, 2026-12-05).
pub(crate) fn shown(text: &str) -> Cow<'_, str> {
    if !text.chars().any(|c| c == '\r' || hidden(c)) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\r' {
            chars.next_if_eq(&'\n');
            out.push('\n');
        } else if hidden(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// A value that fills part of one line (a name, a model's details, a legal basis): [`shown`],
/// and a line break in it shown as `\u{a}` too, so that it cannot add a line of its own (a
/// fake "erased on … by …" or "co-signed by …").
pub(crate) fn one_line(text: &str) -> Cow<'_, str> {
    if !text
        .chars()
        .any(|c| matches!(c, '\n' | '\r' | '\t') || hidden(c))
    {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.chars()
            .map(|c| {
                if matches!(c, '\n' | '\r' | '\t') || hidden(c) {
                    format!("\\u{{{:x}}}", c as u32)
                } else {
                    c.to_string()
                }
            })
            .collect(),
    )
}

/// Plain text, wrapped at 100 columns; every block through [`shown`].
pub fn render(doc: &[Block]) -> String {
    let mut out = String::new();
    for b in doc {
        match b {
            Block::Title(t) => {
                // Escaped after upper-casing, so that an escape reads `\u{1b}` here too.
                let upper = t.to_uppercase();
                let t = shown(&upper);
                out.push_str(&t);
                out.push('\n');
                out.push_str(&"=".repeat(t.chars().count()));
                out.push('\n');
            }
            Block::Meta(t) => push_wrapped(&mut out, &shown(t), ""),
            Block::Line(t) => {
                out.push_str(&one_line(t));
                out.push('\n');
            }
            Block::Banner(t) => {
                out.push('\n');
                push_wrapped(&mut out, &format!("!! {}", shown(t)), "   ");
            }
            Block::Heading(t) => {
                let t = shown(t);
                out.push('\n');
                out.push_str(&t);
                out.push('\n');
                out.push_str(&"-".repeat(t.chars().count()));
                out.push('\n');
            }
            Block::Para(t) => push_wrapped(&mut out, &shown(t), ""),
            Block::Note(t) => push_wrapped(&mut out, &format!("  {}", shown(t)), "    "),
            Block::Figure { caption, .. } => push_wrapped(&mut out, &shown(caption), "  "),
            Block::Mono(t) => {
                out.push_str("    ");
                out.push_str(&shown(t).replace('\n', "\\u{a}"));
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

#[cfg(test)]
mod tests {
    use super::{one_line, render};
    use crate::document::Block;

    /// An erasure's basis (exempt from the signed-text rule) holding an escape sequence that
    /// clears the screen, a bidi override and a lone carriage return reaches `provenance.txt`
    /// escaped, every block kind alike; both sides of the carriage return show.
    #[test]
    fn provenance_text_escapes_escape_sequences_and_bidi_overrides() {
        let hostile = "GDPR\u{1b}[2J\u{1b}[H \u{202e}evil\u{202c} one.\rtwo.";
        let doc = [
            Block::Title(hostile.into()),
            Block::Meta(hostile.into()),
            Block::Banner(hostile.into()),
            Block::Heading(hostile.into()),
            Block::Para(hostile.into()),
            Block::Note(hostile.into()),
            Block::Mono(hostile.into()),
        ];
        let plain = render(&doc);
        for c in ['\u{1b}', '\u{202e}', '\u{202c}', '\r'] {
            assert!(!plain.contains(c), "{c:?} in {plain}");
        }
        assert!(plain.contains("GDPR\\u{1b}[2J\\u{1b}[H \\u{202e}evil\\u{202c} one.\ntwo."));
        // Persian spells with the zero-width non-joiner: kept, as the signed-text rule keeps it.
        assert!(render(&[Block::Para("مهر\u{200c}داد".into())]).contains('\u{200c}'));
    }

    /// A line feed in a name or a basis cannot add a line of its own.
    #[test]
    fn a_one_line_value_escapes_its_line_breaks() {
        assert_eq!(
            one_line("Dr Eve\n  co-signed by Dr Ada\r\t"),
            "Dr Eve\\u{a}  co-signed by Dr Ada\\u{d}\\u{9}"
        );
        assert_eq!(one_line("Dr Ada"), "Dr Ada");
    }
}
