//! Departments ready to use: founders, members added to a roster, two attendings, a founder
//! with a phantom study, and an AI-model member's arguments.

use std::path::Path;

use super::{str_of, Home};

/// Ada founds a department and makes Bob, an attending on his own home, an admin too; Bob's
/// home has the roster.
pub fn two_attendings() -> (Home, Home) {
    let ada = Home::new();
    ada.ok(&["init", "--name", "Dr Ada", "--role", "attending", "--admin"]);
    let bob = Home::new();
    let key = bob.ok(&["init", "--name", "Dr Bob", "--role", "attending"])["key"]
        .as_str()
        .unwrap()
        .to_string();
    ada.ok(&[
        "roster",
        "add",
        "--key",
        &key,
        "--name",
        "Dr Bob",
        "--role",
        "attending",
        "--admin",
    ]);
    bob.join(&ada);
    let given = bob.import(&ada.bundle(None));
    assert_eq!(given.code, 0, "{}", given.stderr);
    (ada, bob)
}

/// `init` / `roster add` arguments for an AI-model member.
pub const AI_MEMBER: [&str; 8] = [
    "--name",
    "soft-tissue-stats",
    "--role",
    "ai-model",
    "--vendor",
    "Countersign Labs",
    "--model-version",
    "1.0.0",
];

/// A home that founds a department network of its own (its admin).
pub fn founder(name: &str) -> Home {
    let h = Home::new();
    h.ok(&["init", "--name", name, "--role", "attending", "--admin"]);
    h
}

/// A new home with an identity of its own, added to `admin`'s roster but not joined yet (it
/// joins with [`Home::join`]); and its key.
pub fn added(admin: &Home, name: &str, role: &str) -> (Home, String) {
    let h = Home::new();
    let key = h.ok(&["init", "--name", name, "--role", role])["key"]
        .as_str()
        .unwrap()
        .to_string();
    admin.ok(&[
        "roster", "add", "--key", &key, "--name", name, "--role", role,
    ]);
    (h, key)
}

/// A founder ("Dr Ada", an attending admin) who imported a synthetic phantom series of
/// `slices` slices of `size`² pixels, written to `series`; and its study's UID.
pub fn founder_with_phantom(series: &Path, slices: u32, size: u32) -> (Home, String) {
    let ada = Home::new();
    ada.ok(&["init", "--name", "Dr Ada", "--role", "attending", "--admin"]);
    ada.ok(&[
        "image",
        "phantom",
        "-o",
        series.to_str().unwrap(),
        "--slices",
        &slices.to_string(),
        "--size",
        &size.to_string(),
    ]);
    ada.ok(&["import", series.to_str().unwrap()]);
    let study = str_of(&ada.ok(&["studies"])[0]["study"]);
    (ada, study)
}
