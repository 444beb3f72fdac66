//! AI models as roster members: vendor, model, version and regulatory id recorded by the admin,
//! required for the ai-model role and refused for people.

use crate::common::Home;

#[test]
fn an_ai_model_joins_the_roster_with_its_vendor_model_and_version() {
    let admin = Home::new();
    admin.ok(&["init", "--name", "Dr Ada", "--role", "attending", "--admin"]);
    let member = [
        "--name",
        "NoduleFinder",
        "--role",
        "ai-model",
        "--vendor",
        "Acme Imaging",
        "--model-version",
        "2.1.0",
        "--regulatory-id",
        "K123456",
    ];
    let model = Home::new();
    let me = model.ok(&[&["init"][..], &member].concat());
    assert_eq!(me["role"], "ai-model");
    let key = me["key"].as_str().unwrap();

    // The admin may name the model differently from the member.
    let add = [
        &["roster", "add", "--key", key][..],
        &member,
        &["--model", "nodule-finder"],
    ];
    admin.ok(&add.concat());
    let roster = admin.ok(&["roster", "list"]);
    let member = roster
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["key"] == key)
        .unwrap();
    assert_eq!(member["role"], "ai-model");
    let ai = &member["ai_model"];
    assert_eq!(ai["vendor"], "Acme Imaging");
    assert_eq!(ai["model"], "nodule-finder");
    assert_eq!(ai["version"], "2.1.0");
    assert_eq!(ai["regulatory_id"], "K123456");

    // A model needs its vendor and version; a person carries none.
    let other = Home::new().key_of_new_member();
    let missing = admin.run(&[
        "roster", "add", "--key", &other, "--name", "X", "--role", "ai-model",
    ]);
    assert_eq!(missing.code, 2);
    assert!(
        missing
            .stderr
            .contains("needs --vendor and --model-version"),
        "{}",
        missing.stderr
    );
    let person = admin.run(&[
        "roster",
        "add",
        "--key",
        &other,
        "--name",
        "Dr Y",
        "--role",
        "attending",
        "--vendor",
        "Acme",
    ]);
    assert_eq!(person.code, 2);
    assert!(
        person.stderr.contains("are for --role ai-model"),
        "{}",
        person.stderr
    );
    assert_eq!(admin.ok(&["verify"])["ok"], true);
}
