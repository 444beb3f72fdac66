//! The one place that makes an untrusted string safe for a terminal. Much of what the CLI
//! prints was written by someone else: a member's name, an AI model's vendor, model and
//! version, the network's name, the legal basis of an erasure or restriction (exempt from the
//! signed-text rule: an erasure is never refused for how its basis is written), section names
//! and field names of refused entries quoted in error messages, an archive's text. An escape
//! sequence in one (`ESC[2J ESC[H` and a fake report) would clear the auditor's screen and
//! draw what it likes; a line feed in a name fakes a "co-signed by …" line even in a file the
//! output is piped to; a bidi override shows letters in an order the bytes do not say; a lone
//! carriage return hides the start of a line. So every untrusted value in human output goes
//! through [`line`] or [`text`] (found by review, 2026-12-05), and the whole output through
//! [`output`] as a second guard. `--json` output is left to serde, which escapes control
//! characters itself.

use std::borrow::Cow;

use countersign_app::report::payload::text::is_format;

/// Whether `c` must never reach a terminal as is: a C0 or C1 control character or DEL, the
/// line or paragraph separator (some terminals break the line there), or a Unicode format
/// character (general category Cf: the bidi embeddings, overrides, isolates and marks that
/// reorder text, the zero-width characters and word joiners that hide it) — but the four the
/// signed-text rule lets through, which never change which letters are read or in what order
/// (the zero-width non-joiner and joiner that Persian, Indic scripts and emoji sequences spell
/// with, the soft hyphen, the byte order mark): escaped, a signed Persian name read
/// `مهر\u{200c}داد` (found by review, 2026-12-05).
fn hidden(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{2028}' | '\u{2029}')
        || (is_format(c) && !matches!(c, '\u{200c}' | '\u{200d}' | '\u{ad}' | '\u{feff}'))
}

fn escape(out: &mut String, c: char) {
    use std::fmt::Write;
    let _ = write!(out, "\\u{{{:x}}}", c as u32);
}

/// A value meant to fill part of one line (a name, model details, a network name, a legal
/// basis, a section name, a code's message): every hidden character, the line feed, carriage
/// return and tab included, is shown as `\u{..}`.
pub(crate) fn line(s: &str) -> Cow<'_, str> {
    if !s.chars().any(hidden) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if hidden(c) {
            escape(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// A value that may have lines (section text, addendum text, an archive's report): line feeds
/// and tabs stay; a carriage return ends a line too — `\r\n` as one break, a lone `\r` as its
/// own, so that the text before it is not overwritten by the text after it on a terminal
/// ("Spiculated mass, malignant.\rNo mass seen." shows both sentences); every other hidden
/// character is shown as `\u{..}`.
pub(crate) fn text(s: &str) -> Cow<'_, str> {
    if !s.chars().any(|c| hidden(c) && c != '\n' && c != '\t') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\n' | '\t' => out.push(c),
            '\r' => {
                chars.next_if_eq(&'\n');
                out.push('\n');
            }
            c if hidden(c) => escape(&mut out, c),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// The whole human output of a command, after each untrusted value in it went through [`line`]
/// or [`text`]: a hidden character left is one a value that was missed brought, and is shown
/// as `\u{..}` (line feeds and tabs are the output's own layout, and stay).
pub(crate) fn output(s: &str) -> Cow<'_, str> {
    if !s.chars().any(|c| hidden(c) && c != '\n' && c != '\t') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if hidden(c) && c != '\n' && c != '\t' {
            escape(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::{line, output, text};

    #[test]
    fn clean_text_is_left_as_it_is() {
        for s in ["Dr Ada Lovelace", "Ærøskøbing — 5 mm × 3 mm", "محمد", ""] {
            assert!(matches!(line(s), std::borrow::Cow::Borrowed(_)), "{s}");
            assert!(matches!(text(s), std::borrow::Cow::Borrowed(_)), "{s}");
        }
        assert_eq!(text("Findings.\n\tNormal."), "Findings.\n\tNormal.");
    }

    /// ESC (a CSI sequence that clears the screen and homes the cursor), BEL, DEL and a C1
    /// control (U+009B, a one-character CSI on some terminals) are escaped in both forms.
    #[test]
    fn control_characters_are_escaped() {
        let hostile = "GDPR\u{1b}[2J\u{1b}[H\u{7}\u{7f}\u{9b}2J";
        let want = "GDPR\\u{1b}[2J\\u{1b}[H\\u{7}\\u{7f}\\u{9b}2J";
        assert_eq!(line(hostile), want);
        assert_eq!(text(hostile), want);
        assert_eq!(output(hostile), want);
    }

    /// An archive's SR text carrying an escape sequence (clear the line, move up) reaches the
    /// terminal escaped, its line breaks kept (the test `printable` had in `pacs.rs`).
    #[test]
    fn archive_text_with_escape_sequences_is_printed_escaped() {
        let shown = text("Normal.\u{1b}[2K\u{1b}[1Averified by Dr X\nnext\u{7}");
        assert_eq!(
            shown,
            "Normal.\\u{1b}[2K\\u{1b}[1Averified by Dr X\nnext\\u{7}"
        );
        assert!(!shown.contains('\u{1b}'));
    }

    /// A line feed, a carriage return or a tab in a name would fake or hide a line: escaped.
    #[test]
    fn a_single_line_value_escapes_line_feeds_returns_and_tabs() {
        assert_eq!(
            line("Dr Eve\n     co-signed by Dr Ada\r\tx"),
            "Dr Eve\\u{a}     co-signed by Dr Ada\\u{d}\\u{9}x"
        );
    }

    /// A lone carriage return would let the second sentence overwrite the first on a
    /// terminal: both show, each on its own line; a CRLF is one break.
    #[test]
    fn multi_line_text_turns_a_carriage_return_into_a_line_break() {
        assert_eq!(
            text("Spiculated mass, malignant.\rNo mass seen.            "),
            "Spiculated mass, malignant.\nNo mass seen.            "
        );
        assert_eq!(text("one\r\ntwo\r\rthree"), "one\ntwo\n\nthree");
    }

    /// Bidi embeddings, overrides, isolates and marks reorder what is read; zero-width
    /// characters, the word joiner and the BOM hide text; the line and paragraph separators
    /// break lines on some terminals.
    #[test]
    fn format_characters_are_escaped() {
        for c in [
            '\u{202a}', '\u{202b}', '\u{202c}', '\u{202d}', '\u{202e}', '\u{2066}', '\u{2067}',
            '\u{2068}', '\u{2069}', '\u{200e}', '\u{200f}', '\u{61c}', '\u{200b}', '\u{2060}',
            '\u{2028}', '\u{2029}',
        ] {
            let s = format!("a{c}b");
            let want = format!("a\\u{{{:x}}}b", c as u32);
            assert_eq!(line(&s), want);
            assert_eq!(text(&s), want);
            assert_eq!(output(&s), want);
        }
    }

    /// The four format characters the signed-text rule lets through are printed as they are:
    /// a Persian name spelled with a zero-width non-joiner, an emoji sequence with joiners, a
    /// soft hyphen, a byte order mark (found by review, 2026-12-05: escaped, `report show`
    /// read `مهر\u{200c}داد`).
    #[test]
    fn the_format_characters_signed_text_may_hold_are_printed_as_they_are() {
        for s in [
            "مهر\u{200c}داد",
            "👩\u{200d}⚕️",
            "Radio\u{ad}logy",
            "\u{feff}Dr A",
        ] {
            assert_eq!(line(s), s);
            assert_eq!(text(s), s);
            assert_eq!(output(s), s);
        }
    }

    /// The guard over the whole output keeps its layout (line feeds, tabs) and escapes the
    /// rest, a carriage return included.
    #[test]
    fn the_whole_output_keeps_its_lines_and_escapes_the_rest() {
        assert_eq!(output("a\tb\nc\rd\u{1b}[1A"), "a\tb\nc\\u{d}d\\u{1b}[1A");
    }
}
