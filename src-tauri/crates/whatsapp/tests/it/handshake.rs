//! `verification/handshake_cases.json`.

use serde_json::Value;
use switchboard_whatsapp::webhook::handshake::{verify_subscription, HandshakeQuery};

use crate::fixtures::{self, entries_of, file_of};

pub fn check(entry: &Value) {
    let file = file_of(entry);
    let doc = fixtures::read_json(file);
    let token = doc["verify_token"].as_str().expect("verify_token");
    assert_eq!(token, fixtures::verify_token());
    for case in doc["cases"].as_array().expect("cases") {
        let name = case["name"].as_str().expect("name");
        assert_eq!(case["method"], "GET", "{name}");
        let query = HandshakeQuery::from_query_string(case["query"].as_str().expect("query"));
        let result = verify_subscription(&query, token);
        let expect = &case["expect"];
        match result {
            Ok(challenge) => {
                assert_eq!(expect["status"], 200, "{name}: accepted");
                assert_eq!(expect["body"], challenge.as_str(), "{name}: body");
                assert_eq!(expect["content_type"], "text/plain", "{name}");
            }
            Err(e) => {
                let status = Value::from(e.http_status());
                let ok = expect.get("status") == Some(&status)
                    || expect["status_any_of"]
                        .as_array()
                        .is_some_and(|a| a.contains(&status));
                assert!(ok, "{name}: status {status} vs {expect}");
                if let Some(secret) = expect["body_must_not_contain"].as_str() {
                    assert!(!e.to_string().contains(secret), "{name}: leaks challenge");
                }
            }
        }
    }
}

#[test]
fn handshake_cases() {
    for entry in entries_of("verification_cases") {
        check(entry);
    }
}
