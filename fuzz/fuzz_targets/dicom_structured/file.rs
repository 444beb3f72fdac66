//! The file: its container, the transfer syntax, the file meta group, deflate.

use arbitrary::{Arbitrary, Result, Unstructured};

use crate::choose::{few, sometimes, usually, SopClass};
use crate::codestream::Codec;
use crate::extra::Extra;
use crate::image::ImageModule;
use crate::lut::{LutSequence, Palette};
use crate::nesting::Nesting;
use crate::pixels::Pixels;
use crate::value::{padded, Attr, Len, Value, VrPick};
use crate::writer::{DataSet, Layout, LengthField, Order, Writer, EXPLICIT_LE};

// ---------------------------------------------------------------------------------------------
// The file

/// A DICOM file, described.
#[derive(Debug)]
pub(crate) struct File {
    container: Container,
    syntax: Syntax,
    meta: Meta,
    deflate: Deflate,
    order: Order,
    sop_class: Option<Attr<SopClass>>,
    image: ImageModule,
    modality_lut: Option<LutSequence>,
    voi_lut: Option<LutSequence>,
    palette: Option<Palette>,
    nestings: Vec<Nesting>,
    extras: Vec<Extra>,
    pixels: Pixels,
}

impl<'a> Arbitrary<'a> for File {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        let syntax: Syntax = u.arbitrary()?;
        let image: ImageModule = u.arbitrary()?;
        let palette_odds = if image.photometric_is("PALETTE COLOR") {
            15
        } else {
            1
        };
        Ok(File {
            container: u.arbitrary()?,
            meta: u.arbitrary()?,
            deflate: u.arbitrary()?,
            order: u.arbitrary()?,
            sop_class: usually(u)?,
            palette: sometimes(u, palette_odds, 16)?,
            modality_lut: sometimes(u, 1, 8)?,
            voi_lut: sometimes(u, 1, 8)?,
            nestings: few(u, 2)?,
            extras: few(u, 6)?,
            pixels: Pixels::arbitrary_for(u, syntax)?,
            syntax,
            image,
        })
    }
}

impl File {
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        let data_set = self.data_set(self.syntax.layout());
        let mut file = Writer::new(EXPLICIT_LE);
        match &self.container {
            Container::Bare => return data_set.finish(),
            Container::Part10 { preamble } => {
                file.out.extend(preamble.iter().cycle().take(128));
                if preamble.is_empty() {
                    file.out.resize(128, 0);
                }
                file.out.extend_from_slice(b"DICM");
            }
            Container::MagicOnly => file.out.extend_from_slice(b"DICM"),
        }
        self.meta
            .write(&mut file, self.syntax, self.sop_class.as_ref());
        if self.syntax == Syntax::Deflated {
            file.out.extend(self.deflate.apply(data_set.finish()));
        } else {
            file.append(data_set);
        }
        file.finish()
    }

    fn data_set(&self, layout: Layout) -> Writer {
        let mut ds = DataSet {
            layout,
            elements: Vec::new(),
        };
        ds.attr((0x0008, 0x0016), "UI", &self.sop_class);
        ds.with((0x0008, 0x0018), |w| {
            w.element(
                (0x0008, 0x0018),
                "UI",
                b"1.2.826.0.1.3680043.10.1.19\0",
                Len::Exact,
            )
        });
        self.image.write(&mut ds);
        let geometry = self.image.geometry();
        for (tag, lut) in [
            ((0x0028, 0x3000), &self.modality_lut),
            ((0x0028, 0x3010), &self.voi_lut),
        ] {
            if let Some(lut) = lut {
                ds.with(tag, |w| lut.write(w, tag));
            }
        }
        if let Some(palette) = &self.palette {
            palette.write(&mut ds);
        }
        for nesting in &self.nestings {
            ds.with(nesting.tag.tag(), |w| nesting.write(w));
        }
        for extra in &self.extras {
            ds.with(extra.tag.tag(), |w| extra.write(w));
        }
        self.pixels.write(&mut ds, self.syntax, &geometry);
        ds.finish(self.order)
    }
}

/// How the file starts.
#[derive(Debug)]
enum Container {
    /// 128 bytes of preamble (these bytes repeated; zeros when empty), then `DICM`.
    Part10 { preamble: Vec<u8> },
    /// `DICM` at byte 0.
    MagicOnly,
    /// A data set without meta group.
    Bare,
}

impl<'a> Arbitrary<'a> for Container {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(match u.int_in_range(0u8..=15)? {
            0..=10 => Container::Part10 {
                preamble: Vec::new(),
            },
            11 => {
                let mut preamble = vec![0; u.int_in_range(1..=8)?];
                u.fill_buffer(&mut preamble)?;
                Container::Part10 { preamble }
            }
            12 => Container::MagicOnly,
            _ => Container::Bare,
        })
    }
}

/// The transfer syntaxes the meta group names.
#[derive(Debug, Clone, Copy, PartialEq, Arbitrary)]
pub(crate) enum Syntax {
    ExplicitLe,
    ImplicitLe,
    ExplicitBe,
    Deflated,
    JpegBaseline,
    JpegExtended,
    JpegLossless,
    JpegLosslessSv1,
    JpegLs,
    JpegLsNearLossless,
    Jpeg2000Lossless,
    Jpeg2000,
    Rle,
    /// A UID no registry knows.
    Unknown,
}

impl Syntax {
    fn uid(self) -> &'static str {
        match self {
            Syntax::ExplicitLe => "1.2.840.10008.1.2.1",
            Syntax::ImplicitLe => "1.2.840.10008.1.2",
            Syntax::ExplicitBe => "1.2.840.10008.1.2.2",
            Syntax::Deflated => "1.2.840.10008.1.2.1.99",
            Syntax::JpegBaseline => "1.2.840.10008.1.2.4.50",
            Syntax::JpegExtended => "1.2.840.10008.1.2.4.51",
            Syntax::JpegLossless => "1.2.840.10008.1.2.4.57",
            Syntax::JpegLosslessSv1 => "1.2.840.10008.1.2.4.70",
            Syntax::JpegLs => "1.2.840.10008.1.2.4.80",
            Syntax::JpegLsNearLossless => "1.2.840.10008.1.2.4.81",
            Syntax::Jpeg2000Lossless => "1.2.840.10008.1.2.4.90",
            Syntax::Jpeg2000 => "1.2.840.10008.1.2.4.91",
            Syntax::Rle => "1.2.840.10008.1.2.5",
            Syntax::Unknown => "1.2.840.10008.1.2.4.9999",
        }
    }

    fn layout(self) -> Layout {
        match self {
            Syntax::ImplicitLe => Layout {
                explicit: false,
                big: false,
            },
            Syntax::ExplicitBe => Layout {
                explicit: true,
                big: true,
            },
            _ => EXPLICIT_LE,
        }
    }

    pub(crate) fn encapsulated(self) -> bool {
        !matches!(
            self,
            Syntax::ExplicitLe | Syntax::ImplicitLe | Syntax::ExplicitBe | Syntax::Deflated
        )
    }

    /// The codestream this syntax's fragments hold.
    pub(crate) fn codec(self) -> Option<Codec> {
        Some(match self {
            Syntax::JpegBaseline => Codec::Jpeg(0xC0),
            Syntax::JpegExtended => Codec::Jpeg(0xC1),
            Syntax::JpegLossless | Syntax::JpegLosslessSv1 => Codec::Jpeg(0xC3),
            Syntax::JpegLs | Syntax::JpegLsNearLossless => Codec::Jpeg(0xF7),
            Syntax::Jpeg2000Lossless => Codec::J2k { jp2: false },
            Syntax::Jpeg2000 => Codec::J2k { jp2: false },
            Syntax::Rle => Codec::Rle,
            _ => return None,
        })
    }
}

/// The file meta group, and what may be wrong with it.
#[derive(Debug)]
struct Meta {
    group_length: Len,
    transfer_syntax: TransferSyntaxField,
    transfer_syntax_vr: VrPick,
    version: bool,
    /// An element of another group inside the meta group length.
    stray: bool,
}

#[derive(Debug)]
enum TransferSyntaxField {
    Proper,
    Missing,
    /// Odd length, no NUL.
    Unpadded,
    /// Another syntax than the data set is written in.
    Says(Syntax),
    Text(String),
}

impl<'a> Arbitrary<'a> for Meta {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        let transfer_syntax = match u.int_in_range(0u8..=63)? {
            60 => TransferSyntaxField::Missing,
            61 => TransferSyntaxField::Unpadded,
            62 => TransferSyntaxField::Says(u.arbitrary()?),
            63 => TransferSyntaxField::Text(u.arbitrary()?),
            _ => TransferSyntaxField::Proper,
        };
        Ok(Meta {
            group_length: u.arbitrary()?,
            transfer_syntax,
            transfer_syntax_vr: u.arbitrary()?,
            version: u.ratio(7u8, 8)?,
            stray: !u.ratio(31u8, 32)?,
        })
    }
}

impl Meta {
    fn write(&self, w: &mut Writer, syntax: Syntax, sop_class: Option<&Attr<SopClass>>) {
        let group_length = w.header((0x0002, 0x0000), "UL");
        w.set_length(group_length, 4);
        w.u32(0);
        let start = w.out.len();
        if self.version {
            w.element((0x0002, 0x0001), "OB", &[0, 1], Len::Exact);
        }
        let class = sop_class.map_or("1.2.840.10008.5.1.4.1.1.7", |a| a.value.0);
        w.value(
            (0x0002, 0x0002),
            "UI",
            VrPick::Dictionary,
            Len::Exact,
            &Value::Text(class.into()),
        );
        w.element(
            (0x0002, 0x0003),
            "UI",
            b"1.2.826.0.1.3680043.10.1.19\0",
            Len::Exact,
        );
        let ts = match &self.transfer_syntax {
            TransferSyntaxField::Proper => Some(padded(syntax.uid().as_bytes(), "UI")),
            TransferSyntaxField::Missing => None,
            TransferSyntaxField::Unpadded => Some(syntax.uid().as_bytes().to_vec()),
            TransferSyntaxField::Says(other) => Some(padded(other.uid().as_bytes(), "UI")),
            TransferSyntaxField::Text(text) => Some(text.as_bytes().to_vec()),
        };
        if let Some(ts) = ts {
            let vr = self.transfer_syntax_vr.resolve("UI");
            w.element((0x0002, 0x0010), &vr, &ts, Len::Exact);
        }
        w.element(
            (0x0002, 0x0012),
            "UI",
            b"1.2.826.0.1.3680043.10.1\0",
            Len::Exact,
        );
        if self.stray {
            w.element((0x0300, 0x0000), "UL", &[0; 4], Len::Exact);
        }
        // The group length field is (0002,0000)'s value, the 4 bytes before `start`.
        let value = LengthField {
            at: start - 4,
            wide: true,
            value_start: start,
        };
        w.resolve(value, self.group_length, w.out.len() - start);
    }
}

/// How a deflated data set is compressed.
#[derive(Debug, Clone, Copy)]
enum Deflate {
    /// Stored (uncompressed) deflate blocks: the inflated data set is the one written.
    Stored,
    Truncated(u16),
    /// Not compressed at all, as if the syntax were explicit little endian.
    Raw,
}

impl<'a> Arbitrary<'a> for Deflate {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(match u.int_in_range(0u8..=15)? {
            14 => Deflate::Truncated(u.arbitrary()?),
            15 => Deflate::Raw,
            _ => Deflate::Stored,
        })
    }
}

impl Deflate {
    fn apply(self, data: Vec<u8>) -> Vec<u8> {
        match self {
            Deflate::Raw => data,
            Deflate::Stored => stored_deflate(&data),
            Deflate::Truncated(n) => {
                let mut out = stored_deflate(&data);
                out.truncate(n as usize);
                out
            }
        }
    }
}

/// Raw deflate (RFC 1951) of stored blocks.
fn stored_deflate(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + data.len() / 65535 * 5 + 5);
    let mut chunks = data.chunks(65535).peekable();
    if chunks.peek().is_none() {
        return vec![1, 0, 0, 0xFF, 0xFF];
    }
    while let Some(chunk) = chunks.next() {
        out.push(u8::from(chunks.peek().is_none()));
        let len = chunk.len() as u16;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(chunk);
    }
    out
}
