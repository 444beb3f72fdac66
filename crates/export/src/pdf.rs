//! The report as a PDF: A4 pages in PDF's standard Helvetica and Courier (no fonts embedded,
//! so every reader has them), text wrapped by the fonts' real advance widths, critical results
//! on a red band, and the provenance appendix with every entry's id, key and signature.

use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str, TextStr};

use countersign_report::links::{ImageLink, LinkKind};

use crate::document::{document, Block};
use crate::widths;
use crate::{ExportInput, Thumbnail};

const PAGE_W: f32 = 595.28;
const PAGE_H: f32 = 841.89;
const MARGIN_X: f32 = 56.0;
const MARGIN_TOP: f32 = 60.0;
const MARGIN_BOTTOM: f32 = 64.0;
const TEXT_W: f32 = PAGE_W - 2.0 * MARGIN_X;
/// The square a linked frame's thumbnail is fitted into, in points.
const FIGURE_BOX: f32 = 140.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Font {
    Regular,
    Bold,
    Mono,
}

impl Font {
    fn name(self) -> Name<'static> {
        match self {
            Font::Regular => Name(b"F1"),
            Font::Bold => Name(b"F2"),
            Font::Mono => Name(b"F3"),
        }
    }

    /// Advance width of one WinAnsi byte, in 1/1000 em.
    fn advance(self, byte: u8) -> f32 {
        let table = match self {
            Font::Mono => return 600.0,
            Font::Regular => &widths::REGULAR,
            Font::Bold => &widths::BOLD,
        };
        match byte.checked_sub(32) {
            Some(i) => f32::from(table[usize::from(i)]),
            None => 0.0,
        }
    }

    fn width(self, text: &[u8], size: f32) -> f32 {
        text.iter().map(|&b| self.advance(b)).sum::<f32>() * size / 1000.0
    }
}

#[derive(Debug, Clone, Copy)]
struct Style {
    font: Font,
    size: f32,
    leading: f32,
    grey: f32,
    before: f32,
    indent: f32,
}

fn style(b: &Block) -> Style {
    let s = |font, size, leading, grey, before, indent| Style {
        font,
        size,
        leading,
        grey,
        before,
        indent,
    };
    match b {
        Block::Title(_) => s(Font::Bold, 18.0, 24.0, 0.0, 0.0, 0.0),
        Block::Meta(_) | Block::Line(_) => s(Font::Regular, 9.5, 13.0, 0.35, 0.0, 0.0),
        Block::Banner(_) => s(Font::Bold, 10.5, 14.0, 0.0, 10.0, 6.0),
        Block::Heading(_) => s(Font::Bold, 12.0, 16.0, 0.0, 12.0, 0.0),
        Block::Para(_) => s(Font::Regular, 10.5, 14.0, 0.0, 2.0, 0.0),
        Block::Note(_) => s(Font::Regular, 8.5, 11.0, 0.4, 1.0, 10.0),
        Block::Mono(_) => s(Font::Mono, 7.0, 9.0, 0.3, 0.0, 22.0),
        Block::Figure { .. } => s(Font::Regular, 9.5, 13.0, 0.2, 6.0, 0.0),
    }
}

fn text_of(b: &Block) -> &str {
    match b {
        Block::Title(t)
        | Block::Meta(t)
        | Block::Line(t)
        | Block::Banner(t)
        | Block::Heading(t)
        | Block::Para(t)
        | Block::Note(t)
        | Block::Mono(t)
        | Block::Figure { caption: t, .. } => t,
    }
}

/// A character in WinAnsi (Windows-1252), the encoding of the standard fonts, if it has one.
fn win_ansi(c: char) -> Option<u8> {
    let special = [
        ('€', 0x80),
        ('‚', 0x82),
        ('ƒ', 0x83),
        ('„', 0x84),
        ('…', 0x85),
        ('†', 0x86),
        ('‡', 0x87),
        ('ˆ', 0x88),
        ('‰', 0x89),
        ('Š', 0x8A),
        ('‹', 0x8B),
        ('Œ', 0x8C),
        ('Ž', 0x8E),
        ('‘', 0x91),
        ('’', 0x92),
        ('“', 0x93),
        ('”', 0x94),
        ('•', 0x95),
        ('–', 0x96),
        ('—', 0x97),
        ('˜', 0x98),
        ('™', 0x99),
        ('š', 0x9A),
        ('›', 0x9B),
        ('œ', 0x9C),
        ('ž', 0x9E),
        ('Ÿ', 0x9F),
    ];
    match u32::from(c) {
        0x20..=0x7E | 0xA0..=0xFF => Some(c as u8),
        _ => special.iter().find(|(s, _)| *s == c).map(|&(_, b)| b),
    }
}

/// Symbols of clinical text that WinAnsi lacks, as the WinAnsi text that means the same:
/// "≤ 5 mm" and "≥ 5 mm" must not print alike, and Greek mu is the micro sign WinAnsi has.
fn clinical_symbol(c: char) -> Option<&'static str> {
    Some(match c {
        '≤' => "<=",
        '≥' => ">=",
        '≠' => "!=",
        '≈' => "~",
        'μ' => "µ",
        '−' | '‐' | '‑' | '‒' => "-",
        '→' => "->",
        '←' => "<-",
        '′' => "'",
        '″' => "\"",
        _ => return None,
    })
}

/// One line of text (no line breaks: [`layout`] splits on them) in WinAnsi. Whitespace is a
/// space; a character neither WinAnsi nor [`clinical_symbol`] has is written as its code
/// point (`[U+2713]`): visible, and never one `?` standing for several different characters.
fn encode(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    for c in text.chars() {
        if c.is_whitespace() {
            out.push(b' ');
        } else if let Some(b) = win_ansi(c) {
            out.push(b);
        } else if let Some(s) = clinical_symbol(c) {
            out.extend(s.chars().filter_map(win_ansi));
        } else {
            out.extend(format!("[U+{:04X}]", u32::from(c)).bytes());
        }
    }
    out
}

/// Greedy wrap by measured width; a word wider than a line is broken where it must be.
fn wrap(text: &[u8], font: Font, size: f32, width: f32) -> Vec<Vec<u8>> {
    let mut lines: Vec<Vec<u8>> = Vec::new();
    let mut line: Vec<u8> = Vec::new();
    for word in text.split(|&b| b == b' ').filter(|w| !w.is_empty()) {
        let with_space = if line.is_empty() {
            0.0
        } else {
            font.width(b" ", size)
        };
        if !line.is_empty() && font.width(&line, size) + with_space + font.width(word, size) > width
        {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(b' ');
        }
        for &b in word {
            if !line.is_empty() && font.width(&line, size) + font.width(&[b], size) > width {
                lines.push(std::mem::take(&mut line));
            }
            line.push(b);
        }
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

struct Line {
    font: Font,
    size: f32,
    grey: f32,
    x: f32,
    y: f32,
    red: bool,
    text: Vec<u8>,
}

#[derive(Default)]
struct Page {
    lines: Vec<Line>,
    /// Red bands behind critical results: x, y, width, height.
    bands: Vec<[f32; 4]>,
    /// Linked frames: the box (x, y, width, height) each is drawn in, and its link.
    figures: Vec<([f32; 4], ImageLink)>,
}

fn layout(doc: &[Block]) -> Vec<Page> {
    let mut pages = vec![Page::default()];
    let mut y = PAGE_H - MARGIN_TOP;
    for (i, b) in doc.iter().enumerate() {
        let st = style(b);
        let width = TEXT_W - 2.0 * st.indent;
        // A block's own line breaks are kept (numbered impressions, "Right: …" then "Left: …"),
        // each of its lines wrapped on its own.
        let lines: Vec<Vec<u8>> = text_of(b)
            .trim_end()
            .split('\n')
            .flat_map(|line| wrap(&encode(line), st.font, st.size, width))
            .collect();
        let height = st.before + st.leading * lines.len() as f32;
        // A heading keeps at least its first following block on its page; a banner stays whole.
        let keep = match b {
            Block::Heading(_) => height + 3.0 * 14.0,
            Block::Banner(_) => height + 8.0,
            _ => st.leading + st.before,
        };
        if y - keep < MARGIN_BOTTOM && i > 0 {
            pages.push(Page::default());
            y = PAGE_H - MARGIN_TOP;
        } else {
            y -= st.before;
        }
        let red = matches!(b, Block::Banner(_));
        if red {
            let h = st.leading * lines.len() as f32 + 8.0;
            if let Some(page) = pages.last_mut() {
                page.bands.push([MARGIN_X, y - h + 3.0, TEXT_W, h]);
            }
        }
        for text in lines {
            if y - st.leading < MARGIN_BOTTOM {
                pages.push(Page::default());
                y = PAGE_H - MARGIN_TOP;
            }
            y -= st.leading;
            if let Some(page) = pages.last_mut() {
                page.lines.push(Line {
                    font: st.font,
                    size: st.size,
                    grey: st.grey,
                    x: MARGIN_X + st.indent,
                    y: y + (st.leading - st.size) / 2.0,
                    red,
                    text,
                });
            }
        }
        if red {
            y -= 8.0;
        }
        if let Block::Figure { link, .. } = b {
            // The frame goes under its caption, on the same page as the caption's last line.
            if y - FIGURE_BOX - 6.0 < MARGIN_BOTTOM {
                pages.push(Page::default());
                y = PAGE_H - MARGIN_TOP;
            }
            y -= FIGURE_BOX + 6.0;
            if let Some(page) = pages.last_mut() {
                page.figures
                    .push(([MARGIN_X, y + 3.0, FIGURE_BOX, FIGURE_BOX], link.clone()));
            }
        }
    }
    pages
}

/// The report as PDF bytes, with the thumbnails of its linked frames.
pub fn render(input: &ExportInput) -> Vec<u8> {
    render_with_figures(
        &document(input),
        &format!("report {}", input.view.report),
        &format!("report {}", &input.view.report.to_hex()[..16]),
        &input.thumbnails,
    )
}

/// Any document as PDF bytes (the report, the AI audit summary): `subject` for the document
/// information, `label` for every page's footer.
pub fn render_blocks(doc: &[Block], subject: &str, label: &str) -> Vec<u8> {
    render_with_figures(doc, subject, label, &[])
}

/// The thumbnails the figures of `pages` show, each once: (index into `thumbnails`, its name
/// on the pages).
fn used_thumbnails(pages: &[Page], thumbnails: &[Thumbnail]) -> Vec<usize> {
    let mut used = Vec::new();
    for (_, link) in pages.iter().flat_map(|p| &p.figures) {
        if let Some(i) = thumbnail_of(link, thumbnails) {
            if !used.contains(&i) {
                used.push(i);
            }
        }
    }
    used
}

fn thumbnail_of(link: &ImageLink, thumbnails: &[Thumbnail]) -> Option<usize> {
    thumbnails
        .iter()
        .position(|t| t.image == link.image && t.frame == link.frame && t.is_whole())
}

/// `bytes` in the zlib format a PDF's FlateDecode reads.
fn deflate(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing into a Vec cannot fail.
    z.write_all(bytes)
        .and_then(|()| z.finish())
        .expect("zlib into memory")
}

fn image_name(n: usize) -> Vec<u8> {
    format!("Im{n}").into_bytes()
}

fn render_with_figures(
    doc: &[Block],
    subject: &str,
    label: &str,
    thumbnails: &[Thumbnail],
) -> Vec<u8> {
    let pages = layout(doc);
    let used = used_thumbnails(&pages, thumbnails);
    let mut pdf = Pdf::new();
    let catalog = Ref::new(1);
    let tree = Ref::new(2);
    let info = Ref::new(3);
    let fonts = [Ref::new(4), Ref::new(5), Ref::new(6)];
    let first_page = 7;
    let page_ids: Vec<Ref> = (0..pages.len())
        .map(|i| Ref::new(first_page + 2 * i as i32))
        .collect();
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree)
        .kids(page_ids.iter().copied())
        .count(pages.len() as i32);
    for (id, base) in fonts
        .iter()
        .zip([&b"Helvetica"[..], &b"Helvetica-Bold"[..], &b"Courier"[..]])
    {
        pdf.type1_font(*id)
            .base_font(Name(base))
            .encoding_predefined(Name(b"WinAnsiEncoding"));
    }
    let title = doc
        .iter()
        .find_map(|b| match b {
            Block::Title(t) => Some(t.as_str()),
            _ => None,
        })
        .unwrap_or("Report");
    pdf.document_info(info)
        .title(TextStr(title))
        .producer(TextStr("Countersign"))
        .subject(TextStr(subject));
    // Image objects follow the pages and their contents.
    let first_image = first_page + 2 * pages.len() as i32;
    let image_ids: Vec<Ref> = (0..used.len())
        .map(|k| Ref::new(first_image + k as i32))
        .collect();
    for (k, &i) in used.iter().enumerate() {
        let t = &thumbnails[i];
        // Zlib-compressed (FlateDecode): a grey CT thumbnail is a third of its raw bytes.
        let packed = deflate(&t.pixels);
        let mut image = pdf.image_xobject(image_ids[k], &packed);
        image.filter(pdf_writer::Filter::FlateDecode);
        image.width(t.width as i32).height(t.height as i32);
        if t.channels == 3 {
            image.color_space().device_rgb();
        } else {
            image.color_space().device_gray();
        }
        image.bits_per_component(8);
        image.finish();
    }
    let total = pages.len();
    for (n, page) in pages.iter().enumerate() {
        let content_id = Ref::new(page_ids[n].get() + 1);
        let mut p = pdf.page(page_ids[n]);
        p.media_box(Rect::new(0.0, 0.0, PAGE_W, PAGE_H))
            .parent(tree)
            .contents(content_id);
        let mut res = p.resources();
        let mut f = res.fonts();
        for (font, id) in [Font::Regular, Font::Bold, Font::Mono].iter().zip(fonts) {
            f.pair(font.name(), id);
        }
        f.finish();
        if !page.figures.is_empty() && !used.is_empty() {
            let mut x = res.x_objects();
            for (k, id) in image_ids.iter().enumerate() {
                x.pair(Name(&image_name(k)), *id);
            }
            x.finish();
        }
        res.finish();
        p.finish();
        let mut content = page_content(page, n + 1, total, label);
        content.push(b'\n');
        content.extend(figures_content(page, thumbnails, &used));
        pdf.stream(content_id, &content);
    }
    pdf.finish()
}

fn page_content(page: &Page, number: usize, total: usize, label: &str) -> Vec<u8> {
    let mut c = Content::new();
    for [x, y, w, h] in &page.bands {
        c.set_fill_rgb(0.99, 0.90, 0.89);
        c.rect(*x, *y, *w, *h);
        c.fill_nonzero();
    }
    for l in &page.lines {
        if l.red {
            c.set_fill_rgb(0.72, 0.07, 0.07);
        } else {
            c.set_fill_rgb(l.grey, l.grey, l.grey);
        }
        c.begin_text();
        c.set_font(l.font.name(), l.size);
        c.next_line(l.x, l.y);
        c.show(Str(&l.text));
        c.end_text();
    }
    let footer = encode(&format!("Countersign · {label} · page {number} of {total}"));
    c.set_fill_rgb(0.45, 0.45, 0.45);
    c.begin_text();
    c.set_font(Font::Regular.name(), 8.0);
    c.next_line(MARGIN_X, MARGIN_BOTTOM - 28.0);
    c.show(Str(&footer));
    c.end_text();
    c.finish().to_vec()
}

/// The linked frames of a page: each thumbnail fitted into its box, and the link's
/// annotation drawn over it in yellow (the line of a length, an arrow, a frame around a key
/// image); a frame not held here is an empty box with its caption above.
fn figures_content(page: &Page, thumbnails: &[Thumbnail], used: &[usize]) -> Vec<u8> {
    let mut c = Content::new();
    for ([x, y, w, h], link) in &page.figures {
        let shown = thumbnail_of(link, thumbnails).and_then(|i| {
            used.iter()
                .position(|u| *u == i)
                .map(|k| (k, &thumbnails[i]))
        });
        let Some((k, t)) = shown else {
            c.set_stroke_rgb(0.6, 0.6, 0.6);
            c.set_line_width(0.8);
            c.rect(*x, *y, *w, *h);
            c.stroke();
            continue;
        };
        // Fitted, aspect kept, in the box's top-left corner.
        let scale = (w / t.width as f32).min(h / t.height as f32);
        let (iw, ih) = (t.width as f32 * scale, t.height as f32 * scale);
        let (ix, iy) = (*x, *y + h - ih);
        c.save_state();
        c.transform([iw, 0.0, 0.0, ih, ix, iy]);
        c.x_object(Name(&image_name(k)));
        c.restore_state();
        // Image pixels (column, row from the top) to page points.
        let to_page = |p: [f64; 2]| {
            (
                ix + (p[0] as f32 / t.source[0] as f32) * iw,
                iy + ih - (p[1] as f32 / t.source[1] as f32) * ih,
            )
        };
        c.set_stroke_rgb(1.0, 0.82, 0.29);
        c.set_line_width(1.5);
        let points = link.pixels();
        match link.kind {
            LinkKind::Length if points.len() == 2 => {
                let (a, b) = (to_page(points[0]), to_page(points[1]));
                c.move_to(a.0, a.1);
                c.line_to(b.0, b.1);
                c.stroke();
            }
            LinkKind::Arrow if !points.is_empty() => {
                let tip = to_page(points[0]);
                // Without a signed tail the arrow comes from the upper left.
                let tail = points
                    .get(1)
                    .map_or((tip.0 - 18.0, tip.1 + 18.0), |p| to_page(*p));
                let (dx, dy) = (tip.0 - tail.0, tip.1 - tail.1);
                let len = dx.hypot(dy).max(1.0);
                let (ux, uy) = (dx / len, dy / len);
                c.move_to(tail.0, tail.1);
                c.line_to(tip.0, tip.1);
                for side in [-1.0f32, 1.0] {
                    c.move_to(tip.0, tip.1);
                    c.line_to(
                        tip.0 - 6.0 * ux + side * 3.5 * uy,
                        tip.1 - 6.0 * uy - side * 3.5 * ux,
                    );
                }
                c.stroke();
            }
            _ => {
                c.rect(ix + 1.0, iy + 1.0, iw - 2.0, ih - 2.0);
                c.stroke();
            }
        }
    }
    c.finish().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapped_lines_fit_the_measured_width() {
        let text = encode(&"Mild bibasal atelectasis without consolidation. ".repeat(12));
        let lines = wrap(&text, Font::Regular, 10.5, 200.0);
        assert!(lines.len() > 5);
        for l in &lines {
            assert!(
                Font::Regular.width(l, 10.5) <= 200.0,
                "{}",
                String::from_utf8_lossy(l)
            );
        }
        // Nothing is lost: the words come back in order.
        let joined: Vec<u8> = lines.join(&b' ');
        assert_eq!(joined, text.trim_ascii_end());
        // An unbreakable signature is broken by characters, never overflowing.
        let sig = encode(&"ab".repeat(64));
        for l in wrap(&sig, Font::Mono, 7.0, 100.0) {
            assert!(Font::Mono.width(&l, 7.0) <= 100.0);
        }
    }

    #[test]
    fn text_is_encoded_as_win_ansi() {
        assert_eq!(encode("é—“x”€"), vec![0xE9, 0x97, 0x93, b'x', 0x94, 0x80]);
        assert_eq!(encode("中✓"), b"[U+4E2D][U+2713]".to_vec());
        assert_eq!(Font::Regular.width(b"W", 1000.0), 944.0);
        assert_eq!(Font::Bold.width(b"i", 1000.0), 278.0);
    }

    /// Review finding (2026-12-05): every line break was a space (a paragraph's lines ran
    /// together) and anything outside WinAnsi a `?`: "≤ 5 mm" and "≥ 5 mm" both read "? 5 mm".
    #[test]
    fn a_paragraph_keeps_its_line_breaks_and_its_symbols() {
        let doc = [Block::Para(
            "1. A\n2. B ≤ 5 mm, C ≥ 5 mm\r\n\nRight: 3 μm − 2 ✓".into(),
        )];
        let pages = layout(&doc);
        let lines: Vec<String> = pages[0]
            .lines
            .iter()
            .map(|l| l.text.iter().map(|&b| char::from(b)).collect())
            .collect();
        assert_eq!(
            lines,
            [
                "1. A",
                "2. B <= 5 mm, C >= 5 mm",
                "",
                "Right: 3 \u{b5}m - 2 [U+2713]"
            ],
            "{lines:?}"
        );
        assert!(lines.iter().all(|l| !l.contains('?')));
        // The micro sign and the symbols WinAnsi has are themselves.
        assert_eq!(encode("µ×±°²³"), vec![0xB5, 0xD7, 0xB1, 0xB0, 0xB2, 0xB3]);
    }
}
