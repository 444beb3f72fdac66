//! Signed text must read as its bytes say. A bidi override ("nodule in the \u{202E}thgir\u{202C}
//! upper lobe" shows "right" where the bytes say "thgir"; "\u{202E}5.21\u{202C} mm" shows 12.5) or
//! any other invisible formatting or control character lets a viewer show one thing while the
//! attending signs another, so free text holding one counts for nothing (`hidden_character`).
//!
//! What is refused: every C0 and C1 control character and DEL — where the text may have lines,
//! but for the line feed, the carriage return and the tab, which text pasted from another
//! program or a file written on Windows holds and which older builds signed (refusing them now
//! would unsettle reports signed then: found by review, 2026-12-05); the line and paragraph
//! separators U+2028 and U+2029 (some viewers break the line there, others show nothing: one
//! line break is `\n`); and every Unicode format character (general category Cf: the bidi
//! embeddings, overrides, isolates and marks U+202A–202E, U+2066–2069, U+200E/200F, U+061C;
//! zero-width spaces, word joiners, invisible operators, interlinear annotations, tag
//! characters) except four that never change which letters are read or in what order: the
//! zero-width joiner and non-joiner U+200C/U+200D (Persian, Indic scripts and emoji sequences
//! spell with them), the soft hyphen U+00AD (a hyphenation point, common in pasted text) and
//! U+FEFF (a byte order mark at the start of a file from Windows).
//!
//! Judged as a report rule, not when the payload parses: a payload that does not parse is not
//! storable, so an entry signed before this rule (by an older build) would drop out of its log
//! on the next load, with every entry after it; refused by rule it stays stored and shown, as
//! refused, like any other refusal (see [`crate::log`]).

use super::Payload;

/// Unicode general category Cf (Unicode 16.0), as inclusive ranges.
const FORMAT: &[(char, char)] = &[
    ('\u{ad}', '\u{ad}'),
    ('\u{600}', '\u{605}'),
    ('\u{61c}', '\u{61c}'),
    ('\u{6dd}', '\u{6dd}'),
    ('\u{70f}', '\u{70f}'),
    ('\u{890}', '\u{891}'),
    ('\u{8e2}', '\u{8e2}'),
    ('\u{180e}', '\u{180e}'),
    ('\u{200b}', '\u{200f}'),
    ('\u{202a}', '\u{202e}'),
    ('\u{2060}', '\u{2064}'),
    ('\u{2066}', '\u{206f}'),
    ('\u{feff}', '\u{feff}'),
    ('\u{fff9}', '\u{fffb}'),
    ('\u{110bd}', '\u{110bd}'),
    ('\u{110cd}', '\u{110cd}'),
    ('\u{13430}', '\u{1343f}'),
    ('\u{1bca0}', '\u{1bca3}'),
    ('\u{1d173}', '\u{1d17a}'),
    ('\u{e0001}', '\u{e0001}'),
    ('\u{e0020}', '\u{e007f}'),
];

/// Whether `c` is a Unicode format character (general category Cf).
pub fn is_format(c: char) -> bool {
    FORMAT.iter().any(|&(a, b)| (a..=b).contains(&c))
}

/// The first control character of `text` (C0, DEL, C1; a tab is one), with its byte offset —
/// a line feed counts only when `lines` is false.
pub fn control_char(text: &str, lines: bool) -> Option<(usize, char)> {
    text.char_indices()
        .find(|&(_, c)| c.is_control() && !(lines && c == '\n'))
}

/// The first character of `text` a reader does not see as its bytes say (see the module
/// docs), with its byte offset: a control character (where `lines`, but a line feed, carriage
/// return or tab), a line or paragraph separator, or a format character other than the four
/// the module docs name. The one check of every signed free text: section and addendum text,
/// field values, AI text, comments, critical results, link labels and macro fill values.
pub fn hidden_char(text: &str, lines: bool) -> Option<(usize, char)> {
    text.char_indices().find(|&(_, c)| {
        (c.is_control() && !(lines && matches!(c, '\n' | '\r' | '\t')))
            || matches!(c, '\u{2028}' | '\u{2029}')
            || (is_format(c) && !matches!(c, '\u{200c}' | '\u{200d}' | '\u{ad}' | '\u{feff}'))
    })
}

/// A character [`hidden_char`] refuses, and where: which field of the payload, at which byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HiddenChar {
    pub field: String,
    pub offset: usize,
    pub ch: char,
}

impl Payload {
    /// The first hidden character in the payload's free text (see the module docs). The
    /// data-protection kinds are not judged by it: an erasure or a restriction is never refused
    /// for how its legal basis is written.
    pub fn hidden_char(&self) -> Option<HiddenChar> {
        self.free_text()
            .into_iter()
            .find_map(|(field, text, lines)| {
                hidden_char(text, lines).map(|(offset, ch)| HiddenChar { field, offset, ch })
            })
    }

    /// Every free text of the payload: what it is, the text, and whether it may have lines.
    fn free_text<'a>(&'a self) -> Vec<(String, &'a str, bool)> {
        let mut texts = Vec::new();
        let mut put = |field: &str, text: &'a str, lines: bool| {
            texts.push((field.to_string(), text, lines));
        };
        match self {
            Payload::Write(w) => {
                put("the section text", &w.text, true);
                for (name, value) in &w.fields {
                    put(&format!("field {name}"), value, true);
                }
            }
            Payload::Addendum(a) => put("the addendum text", &a.text, true),
            Payload::Critical(c) => {
                put("the critical finding", &c.finding, true);
                put("who was told", &c.to, false);
            }
            Payload::Followup(f) => put("the follow-up finding", &f.finding, true),
            Payload::FollowupClose(c) => put("the follow-up study", &c.study, false),
            Payload::AiResult(r) => {
                put("the AI model's name", &r.model, false);
                put("the AI model's version", &r.version, false);
                put("the proposed text", &r.text, true);
                for (what, map) in [("parameter", &r.parameters), ("output", &r.outputs)] {
                    for (k, v) in map {
                        put(&format!("an AI {what}'s name"), k, false);
                        put(&format!("AI {what} {k}"), v, true);
                    }
                }
            }
            Payload::AiReview(r) => {
                if let Some(t) = &r.text {
                    put("the edited text", t, true);
                }
                if let Some(c) = &r.comment {
                    put("the review's comment", c, true);
                }
            }
            Payload::AiReceived(r) => {
                put("the proposed text", &r.text, true);
                let d = &r.device;
                put("the device's manufacturer", &d.manufacturer, false);
                put("the device's model", &d.model, false);
                for v in &d.software_versions {
                    put("a software version", v, false);
                }
                let codes = r
                    .measurements
                    .iter()
                    .flat_map(|m| [Some(&m.concept), m.units.as_ref()])
                    .chain(
                        r.findings
                            .iter()
                            .flat_map(|f| [Some(&f.concept), Some(&f.value)]),
                    )
                    .flatten();
                for c in codes {
                    put("a coded meaning", &c.meaning, false);
                }
                for m in &r.measurements {
                    put("a measured value", &m.value, false);
                }
            }
            Payload::Resolve(r) => put("the resolution's note", &r.note, true),
            Payload::Move(m) => put("the move's reason", &m.reason, true),
            _ => {}
        }
        texts
    }
}

#[cfg(test)]
mod tests;
