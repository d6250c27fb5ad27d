//! `media/get_media_url_response.json`.

use serde_json::Value;
use switchboard_whatsapp::media::MediaUrl;

use crate::fixtures::{self, entries_of, file_of};

pub fn check(entry: &Value) {
    let file = file_of(entry);
    let expect = &entry["expect"];
    assert_eq!(expect["http_status"], 200, "{file}");
    let media: MediaUrl = serde_json::from_slice(&fixtures::read(file)).expect("media response");
    assert_eq!(expect["media_id"], media.id.as_str(), "{file}");
    assert_eq!(
        expect["mime_type"].as_str(),
        media.mime_type.as_deref(),
        "{file}"
    );
    assert_eq!(
        expect["file_size"].as_u64(),
        Some(media.file_size),
        "{file}"
    );
    assert!(media.url.starts_with("https://"), "{file}: url");
    assert_eq!(expect["download"]["method"], "GET");
    assert_eq!(expect["download"]["url"], "<url field>");
}

#[test]
fn media_url_response() {
    for entry in entries_of("media_response") {
        check(entry);
    }
}

#[test]
fn media_id_matches_the_inbound_image() {
    let media: MediaUrl =
        serde_json::from_slice(&fixtures::read("media/get_media_url_response.json"))
            .expect("parse");
    let image = fixtures::read_json("inbound/image.json");
    assert_eq!(
        image.pointer("/entry/0/changes/0/value/messages/0/image/id"),
        Some(&Value::from(media.id))
    );
}
