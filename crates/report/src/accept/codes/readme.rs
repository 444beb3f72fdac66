//! The README's table of rejection codes is checked against `REJECTION_CODES`.

/// The README lists every code, so a reader's list is the code's list.
#[test]
fn the_readme_lists_every_rejection_code() {
    let readme = include_str!("../../../../../README.md");
    for (code, _) in super::REJECTION_CODES {
        assert!(
            readme.contains(&format!("| `{code}` |")),
            "README.md does not list rejection code {code}"
        );
    }
}
