//! Guards that every manifest entry, every fixture file and every `expect` key is checked.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;

use crate::fixtures::{self, entries, file_of};

/// Entry kinds and the `expect` keys their check reads. An unknown kind or key fails, so
/// a manifest update cannot slip past the suite unchecked.
const HANDLED: &[(&str, &[&str])] = &[
    (
        "webhook_post",
        &[
            "outcome",
            "http_status",
            "events",
            "dropped",
            "note",
            "acceptable_alternative",
        ],
    ),
    (
        "webhook_post_sequence",
        &[
            "outcome",
            "http_status_each",
            "item_bytes_rule",
            "items",
            "events_after_dedup",
            "final_status_by_message_id",
        ],
    ),
    ("verification_cases", &["see"]),
    ("signature_cases", &["see"]),
    ("outbound_request", &["semantically_equal_json"]),
    (
        "outbound_response",
        &[
            "http_status",
            "success",
            "message_id",
            "wa_id",
            "message_status",
            "error_code",
            "error_subcode",
            "retry",
            "action",
        ],
    ),
    (
        "media_response",
        &[
            "http_status",
            "media_id",
            "mime_type",
            "file_size",
            "download",
        ],
    ),
];

/// Runs the check for one entry; the per-kind tests call the same functions.
fn check(entry: &Value) {
    match entry["kind"].as_str() {
        Some("webhook_post") => crate::webhook_posts::check(entry),
        Some("webhook_post_sequence") => crate::sequences::check(entry),
        Some("verification_cases") => crate::handshake::check(entry),
        Some("signature_cases") => crate::signature::check(entry),
        Some("outbound_request") => crate::outbound::check_request(entry),
        Some("outbound_response") => crate::outbound::check_response(entry),
        Some("media_response") => crate::media::check(entry),
        other => panic!("{}: unhandled kind {other:?}", file_of(entry)),
    }
}

#[test]
fn every_manifest_entry_is_checked() {
    for entry in entries() {
        let file = file_of(entry);
        let kind = entry["kind"].as_str().expect("kind");
        let (_, keys) = HANDLED
            .iter()
            .find(|(k, _)| *k == kind)
            .unwrap_or_else(|| panic!("{file}: unhandled kind `{kind}`"));
        for key in entry["expect"].as_object().expect("expect").keys() {
            assert!(
                keys.contains(&key.as_str()),
                "{file}: unchecked expect key `{key}`"
            );
        }
        check(entry);
    }
}

#[test]
fn manifest_and_fixture_tree_agree() {
    fn walk(dir: &Path, root: &Path, out: &mut BTreeSet<String>) {
        for item in std::fs::read_dir(dir).expect("read_dir") {
            let path = item.expect("dir entry").path();
            if path.is_dir() {
                walk(&path, root, out);
            } else if let Ok(rel) = path.strip_prefix(root) {
                out.insert(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    let root = fixtures::root();
    let mut on_disk = BTreeSet::new();
    walk(&root, &root, &mut on_disk);
    on_disk.remove("MANIFEST.json");
    on_disk.remove("README.md");
    let listed: BTreeSet<String> = entries().iter().map(|e| file_of(e).to_owned()).collect();
    assert_eq!(listed.len(), entries().len(), "duplicate manifest entries");
    assert_eq!(on_disk, listed, "fixture files vs manifest");
}

#[test]
fn request_builder_table_matches_the_manifest() {
    let listed: BTreeSet<&str> = crate::fixtures::entries_of("outbound_request")
        .into_iter()
        .map(file_of)
        .collect();
    let built: BTreeSet<&str> = crate::outbound::REQUEST_BUILDERS
        .iter()
        .map(|(f, _)| *f)
        .collect();
    assert_eq!(listed, built);
}
