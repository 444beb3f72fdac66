//! A template written as an MRRT HTML document.

use super::super::{FieldKind, Template};

/// Writes a template as an MRRT HTML document that [`from_mrrt`] reads back to an equal template.
///
/// [`from_mrrt`]: crate::template::from_mrrt
pub fn to_mrrt(t: &Template) -> String {
    let mut out = String::from("<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"UTF-8\">\n");
    out.push_str(&format!("<title>{}</title>\n", esc(&t.title)));
    out.push_str(&format!(
        "<meta name=\"dcterms.title\" content=\"{}\">\n<meta name=\"dcterms.identifier\" content=\"{}\">\n",
        esc(&t.title),
        esc(&t.name)
    ));
    if let Some(r) = t.resident_countersign {
        out.push_str(&format!(
            "<meta name=\"countersign.resident-countersign\" content=\"{}\">\n",
            r.name()
        ));
    }
    out.push_str("</head>\n<body>\n");
    for s in &t.sections {
        out.push_str(&format!(
            "<section id=\"{}\" class=\"level1\" data-section-name=\"{}\"",
            esc(&s.name),
            esc(&s.title)
        ));
        if s.required {
            out.push_str(" data-countersign-required=\"true\"");
        }
        if let Some(r) = s.cosign_role {
            out.push_str(&format!(" data-countersign-cosign=\"{}\"", r.name()));
        }
        out.push_str(&format!(
            ">\n<header class=\"level1\">{}</header>\n",
            esc(&s.title)
        ));
        for f in &s.fields {
            // Ids are unique in an HTML document; two sections may have fields of one name.
            let id = esc(&format!("{}.{}", s.name, f.name));
            let name = esc(&f.name);
            let completion = if f.required {
                " data-field-completion-action=\"PROHIBIT\""
            } else {
                ""
            };
            out.push_str(&format!(
                "<p><label for=\"{id}\">{}</label>\n",
                esc(&f.label)
            ));
            match &f.kind {
                FieldKind::Text => out.push_str(&format!(
                    "<input type=\"text\" id=\"{id}\" name=\"{name}\" data-field-type=\"TEXT\"{completion}>"
                )),
                FieldKind::Date => out.push_str(&format!(
                    "<input type=\"date\" id=\"{id}\" name=\"{name}\" data-field-type=\"DATE\"{completion}>"
                )),
                FieldKind::Number { unit, min, max } => {
                    out.push_str(&format!(
                        "<input type=\"number\" id=\"{id}\" name=\"{name}\" data-field-type=\"NUMBER\""
                    ));
                    if let Some(u) = unit {
                        out.push_str(&format!(" data-field-unit=\"{}\"", esc(u)));
                    }
                    for (key, v) in [("min", min), ("max", max)] {
                        if let Some(v) = v {
                            out.push_str(&format!(" {key}=\"{v:?}\""));
                        }
                    }
                    out.push_str(completion);
                    out.push('>');
                }
                FieldKind::Pick { options } => {
                    out.push_str(&format!(
                        "<select id=\"{id}\" name=\"{name}\" data-field-type=\"SELECTION_LIST\"{completion}>\n"
                    ));
                    for o in options {
                        out.push_str(&format!(
                            "<option value=\"{}\">{}</option>\n",
                            esc(o),
                            esc(o)
                        ));
                    }
                    out.push_str("</select>");
                }
            }
            out.push_str("</p>\n");
        }
        out.push_str("</section>\n");
    }
    out.push_str("</body>\n</html>\n");
    out
}

/// Escapes text for HTML content and double-quoted attributes.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}
