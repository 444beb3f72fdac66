//! Image links: a linked frame as a thumbnail in the PDF and a point on its frame in the SR, and
//! a link to a frame the image does not have.

use dicom_dictionary_std::tags;

use crate::{document, example, pdf, sr, text};

/// The example report with an arrow linked into its first written section, on a multi-frame
/// image (frame 2 of 3), and a 4×4 thumbnail of that frame (or one that lies about its size).
fn with_link(pixels: usize) -> crate::ExportInput {
    use countersign_report::links::{ImageLink, LinkKind};
    let mut input = example::input();
    input.images[0].frames = 3;
    let image = input.images[0].sha256.clone();
    let section = input
        .view
        .sections
        .iter_mut()
        .find(|s| s.current.is_some())
        .unwrap();
    let current = section.current.unwrap();
    let version = section
        .versions
        .iter_mut()
        .find(|v| v.entry == current)
        .unwrap();
    version.links.push(ImageLink {
        fig: 1,
        kind: LinkKind::Arrow,
        study: input.study.uid.clone(),
        series: input.images[0].series_uid.clone(),
        image: image.clone(),
        frame: 1,
        points: vec![[2_000, 1_000]],
        label: "effusion".into(),
        measurement: None,
    });
    input.thumbnails.push(crate::Thumbnail {
        image,
        frame: 1,
        width: 4,
        height: 4,
        channels: 1,
        pixels: vec![128; pixels],
        source: [8, 8],
    });
    input
}

#[test]
fn a_linked_frame_is_a_thumbnail_in_the_pdf_and_a_point_on_its_frame_in_the_sr() {
    let input = with_link(16);
    let plain = text::render(&document(&input));
    assert!(
        plain.contains("[fig 1] effusion — arrow on image 9f86d081884c…, frame 2"),
        "{plain}"
    );
    let contains = |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).any(|w| w == needle);
    let pdf = pdf::render(&input);
    assert!(
        contains(&pdf, b"/Subtype /Image"),
        "the thumbnail is an image object"
    );
    assert!(contains(&pdf, b"/Im0 Do"), "and drawn on the page");
    // A thumbnail whose pixels are not as many as its size says is never written: an empty box.
    let short = pdf::render(&with_link(15));
    assert!(!contains(&short, b"/Subtype /Image"));

    let bytes = sr::render(&input).unwrap();
    let obj = dicom_object::from_reader(&bytes[128..]).unwrap();
    // Down the tree to the SCOORD: its POINT, and the IMAGE it is selected from, frame 2.
    fn find<'a>(
        item: &'a dicom_object::InMemDicomObject,
        value_type: &str,
    ) -> Option<&'a dicom_object::InMemDicomObject> {
        for c in item.element(tags::CONTENT_SEQUENCE).ok()?.items()? {
            let vt = c.element(tags::VALUE_TYPE).ok()?.to_str().ok()?;
            if vt.trim() == value_type {
                return Some(c);
            }
            if let Some(found) = find(c, value_type) {
                return Some(found);
            }
        }
        None
    }
    let scoord = find(&obj, "SCOORD").expect("a SCOORD");
    let str_of = |i: &dicom_object::InMemDicomObject, tag| {
        i.element(tag).unwrap().to_str().unwrap().trim().to_string()
    };
    assert_eq!(str_of(scoord, tags::GRAPHIC_TYPE), "POINT");
    assert_eq!(
        scoord
            .element(tags::GRAPHIC_DATA)
            .unwrap()
            .to_multi_float32()
            .unwrap(),
        vec![2.0, 1.0]
    );
    let image = find(scoord, "IMAGE").expect("the image it is selected from");
    assert_eq!(str_of(image, tags::RELATIONSHIP_TYPE), "SELECTED FROM");
    let sop = &image
        .element(tags::REFERENCED_SOP_SEQUENCE)
        .unwrap()
        .items()
        .unwrap()[0];
    assert_eq!(str_of(sop, tags::REFERENCED_SOP_INSTANCE_UID), "2.25.1001");
    assert_eq!(str_of(sop, tags::REFERENCED_FRAME_NUMBER), "2");
}

/// Review finding (2026-12-01): a link's frame is a member's signed u32: `frame + 1` overflowed
/// (a panic in a debug build, Referenced Frame Number 0 in a release one), and a frame past the
/// image's last was referenced anyway. It is named, not referenced, and the text counts in u64.
#[test]
fn a_link_to_a_frame_the_image_does_not_have_is_named_not_referenced() {
    // The control: a frame the image has is referenced, and shows as SCOORD in the dump.
    let held = sr::render(&with_link(16)).unwrap();
    let held = format!("{:?}", dicom_object::from_reader(&held[128..]).unwrap());
    assert!(held.contains("SCOORD"));
    for frame in [3, u32::MAX] {
        let mut input = with_link(16);
        for s in &mut input.view.sections {
            for v in &mut s.versions {
                for l in &mut v.links {
                    l.frame = frame;
                }
            }
        }
        let bytes = sr::render(&input).unwrap();
        let obj = dicom_object::from_reader(&bytes[128..]).unwrap();
        let dump = format!("{obj:?}");
        assert!(!dump.contains("SCOORD"), "frame {frame}: no SCOORD");
        let plain = text::render(&document(&input));
        assert!(
            plain.contains(&format!("frame {}", u64::from(frame) + 1)),
            "{plain}"
        );
    }
}
