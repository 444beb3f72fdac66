//! Values as DICOM's string VRs can hold them (PS3.5 6.2). A value a VR cannot hold is made to
//! fit only where that changes nothing a reader relies on (a description, a display name); an
//! identifier is written exactly or not at all ([`ExportError`]), and a clinical number exactly,
//! as a DS when one holds it ([`decimal_string`]) and otherwise as text.

use crate::ExportError;

/// Cuts text to at most `max` characters (DICOM lengths count characters of the VR).
pub(crate) fn cut(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

/// `text` with what a string VR must not hold turned into spaces: control characters, and the
/// backslash that would split it into several values (VM > 1 where one is meant).
fn one_value(text: &str) -> String {
    text.chars()
        .map(|c| if c == '\\' || c.is_control() { ' ' } else { c })
        .collect()
}

/// A Long String (LO, SH): one value of at most `max` characters, for text a reader only reads
/// (a description, a code meaning, an organisation).
pub(crate) fn short_text(text: &str, max: usize) -> String {
    cut(&one_value(text), max)
}

/// An identifier as an LO (Patient ID): written as it is, or refused. A Patient ID cut short
/// or split in two could name, in a PACS, another patient; a refused export names none.
pub(crate) fn identifier(what: &str, id: &str) -> Result<String, ExportError> {
    if id.chars().count() > 64 || id.chars().any(|c| c == '\\' || c.is_control()) {
        return Err(ExportError::Unrepresentable {
            what: what.into(),
            why: "it is longer than DICOM's 64 characters or has a backslash or control \
                  character, and a changed identifier could name another patient or study"
                .into(),
        });
    }
    Ok(id.to_string())
}

/// A display name ("Dr Ada Attending") in DICOM's Person Name form (family^given^middle^prefix):
/// the last word is taken as the family name, a leading title as the prefix. `^` and `=` (which
/// would add name components or component groups), `\` (a second name) and control characters
/// are spaces here: a name is one person, with one alphabetic group of at most 64 characters.
pub(crate) fn person_name(name: &str) -> String {
    let clean: String = name
        .chars()
        .map(|c| {
            if matches!(c, '\\' | '^' | '=') || c.is_control() {
                ' '
            } else {
                c
            }
        })
        .collect();
    let mut words: Vec<&str> = clean.split_whitespace().collect();
    let prefix = match words.first() {
        Some(w)
            if words.len() > 1
                && matches!(w.trim_end_matches('.'), "Dr" | "Prof" | "Mr" | "Ms" | "Mrs") =>
        {
            words.remove(0)
        }
        _ => "",
    };
    let family = words.pop().unwrap_or("");
    let pn = format!("{family}^{}^^{prefix}", words.join(" "));
    cut(pn.trim_end_matches('^'), 64)
        .trim_end_matches('^')
        .to_string()
}

/// A patient's name as the study's images give it (already in PN form, its `^` and `=` are
/// its structure): one value, each component group at most 64 characters.
pub(crate) fn patient_name(pn: &str) -> String {
    one_value(pn)
        .split('=')
        .map(|group| cut(group, 64))
        .collect::<Vec<_>>()
        .join("=")
}

/// The longest Decimal String (DS).
const DS_MAX: usize = 16;

/// A signed decimal (`-12`, `0.5`, `000055`: the numbers a template's Number field accepts) as a
/// DS of at most 16 characters that is the same number: leading and trailing zeros dropped,
/// else in exponent form (`1.2E-16`). `None` when no DS is: more significant digits than 16
/// characters hold, or not a plain decimal at all. Never rounded: a number no DS holds is the
/// caller's to write another way (the SR writes it as TEXT).
pub(crate) fn decimal_string(value: &str) -> Option<String> {
    let (negative, digits) = match value.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, value),
    };
    let (whole, frac) = match digits.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (digits, None),
    };
    let all_digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(whole) || frac.is_some_and(|f| !all_digits(f)) {
        return None;
    }
    let frac = frac.unwrap_or("");
    // value = significant × 10^exponent, significant without leading or trailing zeros.
    let joined = format!("{whole}{frac}");
    let mut exponent = -i64::try_from(frac.len()).ok()?;
    let trimmed = joined.trim_start_matches('0');
    let significant = trimmed.trim_end_matches('0');
    exponent += i64::try_from(trimmed.len() - significant.len()).ok()?;
    if significant.is_empty() {
        return Some("0".into());
    }
    let sign = if negative { "-" } else { "" };
    let n = i64::try_from(significant.len()).ok()?;
    let plain = if exponent >= 0 {
        (exponent <= DS_MAX as i64)
            .then(|| format!("{sign}{significant}{}", "0".repeat(exponent as usize)))
    } else if n + exponent > 0 {
        let (int, dec) = significant.split_at((n + exponent) as usize);
        Some(format!("{sign}{int}.{dec}"))
    } else {
        (-exponent <= DS_MAX as i64).then(|| {
            format!(
                "{sign}0.{}{significant}",
                "0".repeat((-exponent - n) as usize)
            )
        })
    };
    // One digit before the point (`1.2E-16`), else the digits as an integer (`12E-17`, a
    // character shorter): whichever fits, the first preferred.
    let (first, rest) = significant.split_at(1);
    let point = if rest.is_empty() { "" } else { "." };
    let scientific = format!("{sign}{first}{point}{rest}E{}", exponent + n - 1);
    let integer = format!("{sign}{significant}E{exponent}");
    [plain, Some(scientific), Some(integer)]
        .into_iter()
        .flatten()
        .find(|s| s.len() <= DS_MAX)
}

/// A decimal as (negative, significant digits, exponent), `value = ±digits × 10^exponent` with
/// no leading or trailing zeros in the digits, zero as `(false, "", 0)`: two strings are the same
/// number exactly when their forms are equal, with no rounding through `f64`. Reads a plain
/// decimal (`-0012.50`) and an exponent form (`1.25E-16`, `1.2e-16`); `None` for anything else.
pub(crate) fn exact(s: &str) -> Option<(bool, String, i64)> {
    let (negative, s) = s.strip_prefix('-').map_or((false, s), |r| (true, r));
    let (mantissa, exponent) = match s.split_once(['E', 'e']) {
        Some((m, e)) => (m, e.parse::<i64>().ok()?),
        None => (s, 0),
    };
    let (whole, frac) = match mantissa.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (mantissa, None),
    };
    let all_digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(whole) || frac.is_some_and(|f| !all_digits(f)) {
        return None;
    }
    let frac = frac.unwrap_or("");
    let joined = format!("{whole}{frac}");
    let trimmed = joined.trim_start_matches('0');
    let significant = trimmed.trim_end_matches('0');
    if significant.is_empty() {
        return Some((false, String::new(), 0));
    }
    let exponent = exponent
        .checked_sub(i64::try_from(frac.len()).ok()?)?
        .checked_add(i64::try_from(trimmed.len() - significant.len()).ok()?)?;
    Some((negative, significant.to_string(), exponent))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_become_person_names() {
        assert_eq!(person_name("Dr Ada Attending"), "Attending^Ada^^Dr");
        assert_eq!(person_name("Carl van Dijk"), "Dijk^Carl van");
        assert_eq!(person_name("Prof. X"), "X^^^Prof.");
        assert_eq!(person_name("Auditor"), "Auditor");
    }

    #[test]
    fn a_name_with_dicom_delimiters_stays_one_person_name() {
        assert_eq!(person_name("Dr A\\B"), "B^A^^Dr");
        assert_eq!(person_name("Eve^Mallory=Evil"), "Evil^Eve Mallory");
        assert_eq!(person_name("Tab\tNew\nLine\u{1b}"), "Line^Tab New");
        let long = person_name(&format!("Dr {} Longname", "Given ".repeat(30)));
        assert!(long.chars().count() <= 64, "{long}");
        assert!(
            !long.contains(['\\', '=']) && !long.ends_with('^'),
            "{long}"
        );
        assert_eq!(patient_name("Doe^Jane\\Other"), "Doe^Jane Other");
        assert_eq!(
            patient_name(&format!("{}=Kanji", "a".repeat(70))),
            format!("{}=Kanji", "a".repeat(64))
        );
    }

    #[test]
    fn an_identifier_that_does_not_fit_is_refused_not_cut() {
        assert_eq!(identifier("x", "PHANTOM-0001").unwrap(), "PHANTOM-0001");
        assert!(identifier("x", &"7".repeat(64)).is_ok());
        assert!(identifier("x", &"7".repeat(65)).is_err());
        assert!(identifier("x", "A\\B").is_err());
        assert!(identifier("x", "A\nB").is_err());
        assert_eq!(short_text("Ward\\A\r\n", 64), "Ward A  ");
    }

    #[test]
    fn numbers_become_the_same_number_in_sixteen_characters() {
        for (signed, ds) in [
            ("55", "55"),
            ("000000000000000055", "55"),
            ("0.00000000000000012", "1.2E-16"),
            ("-0.000000000000000001", "-1E-18"),
            ("58.500", "58.5"),
            ("0", "0"),
            ("-0.000", "0"),
            ("00.10", "0.1"),
            ("12300000000000000000000", "1.23E22"),
            ("1234567890123456", "1234567890123456"),
            ("0.000000000000001234567", "1.234567E-15"),
            ("0.000000000000123456789123", "123456789123E-24"),
            ("-123.456", "-123.456"),
        ] {
            assert_eq!(decimal_string(signed).as_deref(), Some(ds), "{signed}");
        }
        // More significant digits than 16 characters hold: refused, never rounded.
        for signed in [
            "12345678901234567",
            "-1234567890123456",
            "1.00000000000000001",
            "",
            "1e5",
            "1.",
            ".5",
            "+1",
        ] {
            assert_eq!(decimal_string(signed), None, "{signed}");
        }
    }

    #[test]
    fn exact_forms_tell_numbers_apart_that_f64_does_not() {
        let exact = |s| exact(s).unwrap();
        assert_eq!(exact("-0012.50"), exact("-1.25E1"));
        assert_eq!(exact("0.00000000000000012"), exact("12E-17"));
        assert_eq!(exact("1.2e-16"), exact("0.00000000000000012"));
        assert_eq!(exact("-0.000"), exact("0"));
        assert_ne!(exact("1.00000000000000001"), exact("1"));
        assert_ne!(exact("1.2E-16"), exact("-1.2E-16"));
        for not_a_decimal in ["", "1.", ".5", "+1", "1E", "1x", "NaN"] {
            assert_eq!(super::exact(not_a_decimal), None, "{not_a_decimal}");
        }
    }

    proptest::proptest! {
        #[test]
        fn a_decimal_string_is_short_and_the_same_number(
            negative: bool,
            whole in "[0-9]{1,20}",
            frac in proptest::option::of("[0-9]{1,20}"),
        ) {
            let signed = format!(
                "{}{whole}{}",
                if negative { "-" } else { "" },
                frac.map_or(String::new(), |f| format!(".{f}"))
            );
            if let Some(ds) = decimal_string(&signed) {
                proptest::prop_assert!(ds.len() <= DS_MAX, "{signed} -> {ds}");
                // Compared as exact decimals: an f64 comparison would pass a DS rounded within
                // f64's 15-17 digits.
                proptest::prop_assert_eq!(exact(&ds), exact(&signed), "{} -> {}", signed, ds);
                proptest::prop_assert!(exact(&ds).is_some());
            } else {
                // Only a number of many significant digits does not fit (12 at the least: the
                // integer form of 11 digits with its sign and a 3-character exponent is 16).
                let digits: String = signed.chars().filter(char::is_ascii_digit).collect();
                let significant = digits.trim_start_matches('0').trim_end_matches('0');
                proptest::prop_assert!(significant.len() >= 12, "{signed}");
            }
        }
    }
}
