use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;

fn nodule() -> &'static Macro {
    builtin_named("nodule").expect("built-in nodule macro")
}

#[test]
fn the_builtin_file_parses_whole_and_fits_the_builtin_templates() {
    let parsed = parse_native(BUILTIN_SOURCE).expect("macros.toml parses");
    assert_eq!(parsed.len(), builtin().len());
    assert!(builtin().len() >= 5);
    for m in builtin() {
        for a in &m.applies {
            let t = crate::template(&a.template)
                .unwrap_or_else(|| panic!("{}: no built-in template {}", m.name, a.template));
            assert!(
                t.section(&a.section).is_some(),
                "{}: {} has no section {}",
                m.name,
                a.template,
                a.section
            );
        }
    }
    assert_eq!(nodule().fields(), vec!["size", "lobe"]);
    assert!(builtin_named("normal-chest").unwrap().fields().is_empty());
    assert!(builtin_named("normal-cardiac")
        .unwrap()
        .applies_to("cardiac-mr", "cardiac"));
}

#[test]
fn placeholders_follow_the_grammar() {
    let found: Vec<&str> = placeholders("A [size] mm [x-1] [Size] [] [1a] [a b] [[lobe]] [sic]")
        .iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(found, vec!["size", "x-1", "lobe", "sic"]);
    let long = format!("[{}]", "a".repeat(MAX_FIELD_NAME));
    assert_eq!(placeholders(&long).len(), 1);
    let too_long = format!("[{}]", "a".repeat(MAX_FIELD_NAME + 1));
    assert!(placeholders(&too_long).is_empty());
    // Multi-byte text around a field.
    let p = placeholders("é [size] ü");
    assert_eq!((p[0].start, p[0].end), (3, 9));
}

#[test]
fn unfilled_names_only_the_macros_fields() {
    let text = "A [size] mm nodule [sic] in the [lobe]; [size] again.";
    assert_eq!(unfilled(text, &["size", "lobe"]), vec!["size", "lobe"]);
    assert_eq!(unfilled(text, &["lobe"]), vec!["lobe"]);
    // A literal [sic] typed by hand is no macro's field.
    assert!(unfilled("as written [sic].", &["size", "lobe"]).is_empty());
    assert!(unfilled(text, &[]).is_empty());
}

#[test]
fn fill_replaces_every_occurrence_and_refuses_typos() {
    let m = Macro {
        text: "[size] mm, [lobe], again [size].".into(),
        ..nodule().clone()
    };
    let mut v = BTreeMap::new();
    v.insert("size".to_string(), "12".to_string());
    assert_eq!(m.fill(&v).unwrap(), "12 mm, [lobe], again 12.");
    v.insert("lobe".to_string(), "right upper lobe".to_string());
    assert_eq!(m.fill(&v).unwrap(), "12 mm, right upper lobe, again 12.");
    v.insert("sise".to_string(), "1".to_string());
    let e = m.fill(&v).unwrap_err();
    assert_eq!(e.code(), "macro_fill_unknown");
    let mut bad = BTreeMap::new();
    bad.insert("size".to_string(), "[lobe]".to_string());
    assert_eq!(m.fill(&bad).unwrap_err().code(), "macro_fill_value");
}

#[test]
fn validation_refuses_each_bad_part_with_its_code() {
    let ok = nodule().clone();
    assert!(ok.validate().is_ok());
    let cases: Vec<(Macro, &str)> = vec![
        (
            Macro {
                name: "Nodule".into(),
                ..ok.clone()
            },
            "macro_name",
        ),
        (
            Macro {
                name: String::new(),
                ..ok.clone()
            },
            "macro_name",
        ),
        (
            Macro {
                title: " x".into(),
                ..ok.clone()
            },
            "macro_invalid",
        ),
        (
            Macro {
                applies: vec![],
                ..ok.clone()
            },
            "macro_invalid",
        ),
        (
            Macro {
                applies: vec![ok.applies[0].clone(), ok.applies[0].clone()],
                ..ok.clone()
            },
            "macro_invalid",
        ),
        (
            Macro {
                text: "".into(),
                ..ok.clone()
            },
            "macro_invalid",
        ),
        (
            Macro {
                text: "a\tb".into(),
                ..ok.clone()
            },
            "macro_invalid",
        ),
        (
            Macro {
                text: "x".repeat(MAX_MACRO_TEXT + 1),
                ..ok.clone()
            },
            "macro_invalid",
        ),
        (
            Macro {
                text: "A [Size] mm".into(),
                ..ok.clone()
            },
            "macro_placeholder",
        ),
        (
            Macro {
                text: "A size] mm".into(),
                ..ok.clone()
            },
            "macro_placeholder",
        ),
        (
            Macro {
                text: "A [size mm".into(),
                ..ok.clone()
            },
            "macro_placeholder",
        ),
        (
            Macro {
                text: (0..=MAX_MACRO_FIELDS)
                    .map(|i| format!("[f{i}]"))
                    .collect::<Vec<_>>()
                    .join(" "),
                ..ok.clone()
            },
            "macro_too_many_fields",
        ),
    ];
    for (m, code) in cases {
        let e = m.validate().expect_err(&m.text);
        assert_eq!(e.code(), code, "{e}");
    }
    // Multi-line text is a paragraph, allowed.
    assert!(Macro {
        text: "Line one.\nLine [two].".into(),
        ..ok
    }
    .validate()
    .is_ok());
}

#[test]
fn macro_files_are_read_with_lines_in_errors() {
    let file = "format = 1\n[[macro]]\nname = \"a\"\ntitle = \"A\"\napplies = [{ template = \"ct-chest\", section = \"findings\" }]\ntext = \"x\"\n\n[[macro]]\nname = \"a\"\ntitle = \"B\"\napplies = [{ template = \"ct-chest\", section = \"findings\" }]\ntext = \"y\"\n";
    let e = parse_native(file).unwrap_err();
    assert_eq!(e.code(), "macro_duplicate");
    assert!(e.to_string().starts_with("line 8"), "{e}");
    let e = parse_native("format = 1\n[[macro]]\nname = \"a\"\nbogus = 1\n").unwrap_err();
    assert_eq!(e.code(), "macro_syntax");
    assert!(parse_native("format = 2\n")
        .unwrap_err()
        .to_string()
        .contains("format 2"));
    assert!(parse_native("format = 1\n").is_err(), "no macro at all");
    let e = parse_native("format = 1\n[[macro]]\nname = \"a\"\ntitle = \"A\"\napplies = [{ template = \"ct-chest\", section = \"findings\" }]\ntext = \"[x\"\n").unwrap_err();
    assert_eq!(e.code(), "macro_placeholder");
    assert!(e.to_string().starts_with("line 2"), "{e}");
}

#[test]
fn publication_refuses_a_builtin_name_and_reads_a_department_macro() {
    let own = Macro {
        name: "adrenal".into(),
        title: "Adrenal incidentaloma".into(),
        applies: vec![MacroTarget {
            template: "ct-chest".into(),
            section: "findings".into(),
        }],
        text: "A [size] mm [side] adrenal nodule.".into(),
    };
    let bytes = crate::Payload::to_bytes(&MacroPublish {
        definition: own.clone(),
    });
    assert_eq!(publication(&bytes).unwrap(), own);
    let builtin = crate::Payload::to_bytes(&MacroPublish {
        definition: nodule().clone(),
    });
    assert!(matches!(
        publication(&builtin),
        Err(PublishError::BuiltinName { .. })
    ));
    assert!(matches!(
        publication(b"{\"macro\":{}}"),
        Err(PublishError::Payload(_))
    ));
}

/// Golden vector: the content hash a write names the built-in nodule macro by. A change to
/// the macro's JSON encoding (or the data file) changes it, and old reports would no longer
/// find their macro: change it only with the data file, knowingly.
#[test]
fn golden_content_hash_of_the_nodule_macro() {
    let json = serde_json::to_string(nodule()).unwrap();
    assert_eq!(
        json,
        r#"{"name":"nodule","title":"Pulmonary nodule","applies":[{"template":"ct-chest","section":"findings"}],"text":"A [size] mm solid nodule in the [lobe]. No other nodule. No lymphadenopathy."}"#
    );
    assert_eq!(nodule().content_hash(), Hash::of(json.as_bytes()));
}

fn name_strategy() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9-]{0,31}"
}

proptest! {
    // A fixed seed: a failure replays exactly, run after run (proptest also prints the case).
    #![proptest_config(ProptestConfig {
        cases: 256,
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x5EED_0020),
        ..ProptestConfig::default()
    })]

    /// Any text built from words and well-formed fields: the fields found are exactly those
    /// put in, filling all leaves none unfilled, and filling none leaves all.
    #[test]
    fn fields_are_found_filled_and_judged_unfilled(
        parts in proptest::collection::vec(
            prop_oneof![
                "[A-Za-z0-9 .,;:é-]{0,12}".prop_map(|w| (false, w)),
                name_strategy().prop_map(|n| (true, n)),
            ],
            1..20,
        )
    ) {
        let mut text = String::from("x");
        let mut names: Vec<String> = Vec::new();
        for (field, s) in &parts {
            if *field {
                text.push_str(&format!(" [{s}] "));
                if !names.contains(s) { names.push(s.clone()); }
            } else {
                text.push_str(s);
            }
        }
        text.push('x');
        let found: Vec<String> = placeholders(&text).iter().map(|p| p.name.to_string()).collect();
        let mut distinct: Vec<String> = Vec::new();
        for f in found { if !distinct.contains(&f) { distinct.push(f); } }
        prop_assert_eq!(&distinct, &names);
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        prop_assert_eq!(unfilled(&text, &refs), refs.clone());
        if names.len() <= MAX_MACRO_FIELDS {
            let m = Macro { text: text.clone(), ..nodule().clone() };
            prop_assert!(m.validate().is_ok());
            let values: BTreeMap<String, String> = names.iter().map(|n| (n.clone(), "v".to_string())).collect();
            let filled = m.fill(&values).unwrap();
            prop_assert!(unfilled(&filled, &refs).is_empty());
            // What a fuzz input read as a macro round-trips through the file format.
            prop_assert_eq!(parse_native(&to_native(std::slice::from_ref(&m))).unwrap(), vec![m]);
        }
    }

    /// Arbitrary text never panics the scanner, and every placeholder found is a `[name]`.
    #[test]
    fn the_scanner_takes_any_text(text in "\\PC{0,200}") {
        super::fuzz::macro_parse(text.as_bytes());
    }
}
