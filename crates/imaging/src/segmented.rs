//! Segmented palette colour lookup tables (PS3.3 C.7.9.2): a table written as a run of
//! segments — discrete values, linear ramps from the previous value, and indirect copies of
//! earlier segments — expanded here into the plain table the presentation path uses.

const DISCRETE: u16 = 0;
const LINEAR: u16 = 1;
const INDIRECT: u16 = 2;

/// Expands segmented table data (16-bit words) into exactly `entries` values.
///
/// Every index is checked, the output never grows past `entries`, an indirect segment may not
/// point at another indirect segment, and a discrete or linear segment must add at least one
/// value — so the work is bounded by the words given plus the entries made, and hostile data can
/// neither overrun nor loop. (Indirect copies of empty segments cost 65 535 steps each and added
/// nothing: minutes of CPU from a few megabytes.)
pub(crate) fn expand(words: &[u16], entries: usize) -> Result<Vec<u16>, String> {
    let mut out = Vec::with_capacity(entries);
    let mut at = 0;
    while at < words.len() {
        at = segment(words, at, &mut out, entries, true)?;
    }
    if out.len() != entries {
        return Err(format!(
            "segments expand to {} entries, descriptor says {entries}",
            out.len()
        ));
    }
    Ok(out)
}

/// Expands the segment at `at` onto `out`; returns where the next segment starts.
fn segment(
    words: &[u16],
    at: usize,
    out: &mut Vec<u16>,
    entries: usize,
    indirect_allowed: bool,
) -> Result<usize, String> {
    let word = |i: usize| {
        words
            .get(at + i)
            .copied()
            .ok_or_else(|| format!("segment at word {at} runs past the end of the data"))
    };
    let (opcode, length) = (word(0)?, usize::from(word(1)?));
    if length == 0 && opcode != INDIRECT {
        return Err(format!("segment at word {at} is empty"));
    }
    let room = |n: usize| {
        if out.len() + n > entries {
            Err(format!(
                "segments expand past the {entries} entries the descriptor gives"
            ))
        } else {
            Ok(())
        }
    };
    match opcode {
        DISCRETE => {
            room(length)?;
            let values = words
                .get(at + 2..at + 2 + length)
                .ok_or_else(|| format!("discrete segment at word {at} runs past the end"))?;
            out.extend_from_slice(values);
            Ok(at + 2 + length)
        }
        LINEAR => {
            room(length)?;
            let y1 = f64::from(word(2)?);
            let y0 =
                f64::from(*out.last().ok_or(
                    "a linear segment cannot come first: it starts from the previous value",
                )?);
            // The n values step from just after y0 to exactly y1.
            out.extend(
                (1..=length).map(|k| (y0 + (y1 - y0) * k as f64 / length as f64).round() as u16),
            );
            Ok(at + 3)
        }
        INDIRECT if indirect_allowed => {
            // Offset in words from the start of the data, least significant word first.
            let offset = usize::from(word(2)?) | (usize::from(word(3)?) << 16);
            let mut from = offset;
            for _ in 0..length {
                if from >= words.len() {
                    return Err(format!("indirect segment at word {at} points past the end"));
                }
                from = segment(words, from, out, entries, false)?;
            }
            Ok(at + 4)
        }
        INDIRECT => Err(format!(
            "indirect segment at word {at} copies another indirect segment"
        )),
        other => Err(format!("unknown segment type {other} at word {at}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: a table of indirect segments each copying 65 535 empty segments did billions
    /// of steps and produced nothing. The empty segment is refused when first copied.
    #[test]
    fn indirect_copies_of_empty_segments_are_refused_at_once() {
        let mut words = vec![DISCRETE, 1, 7, DISCRETE, 0];
        for _ in 0..250_000 {
            words.extend_from_slice(&[INDIRECT, u16::MAX, 3, 0]);
        }
        let err = expand(&words, 4).unwrap_err();
        assert!(err.contains("word 3 is empty"), "{err}");
    }

    #[test]
    fn discrete_then_linear_ramps_to_the_given_value() {
        // 0, 10 then four steps up to 50.
        let lut = expand(&[DISCRETE, 2, 0, 10, LINEAR, 4, 50], 6).unwrap();
        assert_eq!(lut, [0, 10, 20, 30, 40, 50]);
    }

    #[test]
    fn a_linear_ramp_down_rounds_to_the_nearest_value() {
        let lut = expand(&[DISCRETE, 1, 100, LINEAR, 3, 0], 4).unwrap();
        assert_eq!(lut, [100, 67, 33, 0]);
    }

    #[test]
    fn indirect_copies_earlier_segments_continuing_from_the_last_value() {
        // Segment 0 at word 0: discrete [5]; segment 1 at word 3: linear 2 steps to 7.
        // The indirect segment copies both: discrete [5] again, then a ramp from 5 to 7.
        let words = [DISCRETE, 1, 5, LINEAR, 2, 7, INDIRECT, 2, 0, 0];
        assert_eq!(expand(&words, 6).unwrap(), [5, 6, 7, 5, 6, 7]);
    }

    #[test]
    fn hostile_tables_are_refused_in_words() {
        let cases: &[(&[u16], usize, &str)] = &[
            (&[LINEAR, 3, 9], 3, "cannot come first"),
            (&[DISCRETE, 5, 1, 2], 5, "runs past the end"),
            (&[DISCRETE, 2, 1, 2, LINEAR, 60000, 9], 10, "expand past"),
            (
                &[DISCRETE, 1, 1, INDIRECT, 1, 3, 0],
                4,
                "copies another indirect",
            ),
            (
                &[DISCRETE, 1, 1, INDIRECT, 1, 0xFFFF, 0xFFFF],
                4,
                "points past the end",
            ),
            (&[7, 1, 1], 1, "unknown segment type 7"),
            (&[DISCRETE, 0, DISCRETE, 1, 1], 1, "is empty"),
            (&[DISCRETE, 1, 1, LINEAR, 0, 9], 1, "is empty"),
            (&[DISCRETE, 2, 1, 2], 3, "expand to 2 entries"),
        ];
        for (words, entries, expected) in cases {
            let err = expand(words, *entries).unwrap_err();
            assert!(err.contains(expected), "{words:?}: {err}");
        }
    }
}
