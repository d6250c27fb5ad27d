//! `verification/signature_cases.json` plus targeted signature failures.

use serde_json::Value;
use switchboard_whatsapp::webhook::signature::{sign, verify, SignatureError, SIGNATURE_HEADER};

use crate::fixtures::{self, entries_of, file_of};

pub fn check(entry: &Value) {
    let file = file_of(entry);
    let doc = fixtures::read_json(file);
    assert_eq!(
        doc["app_secret"].as_str().map(str::as_bytes),
        Some(fixtures::secret())
    );
    assert_eq!(doc["header"], SIGNATURE_HEADER);
    let cases = doc["cases"].as_array().expect("cases");
    for case in cases {
        let name = case["name"].as_str().expect("name");
        let mut body = fixtures::read(case["body_file"].as_str().expect("body_file"));
        if let Some(extra) = case.get("append_to_body").and_then(Value::as_str) {
            body.extend_from_slice(extra.as_bytes());
        }
        // Only X-Hub-Signature-256 is looked at; the legacy sha1 header is ignored.
        let header = case["headers"]
            .get(SIGNATURE_HEADER)
            .and_then(Value::as_str);
        let result = verify(fixtures::secret(), header, &body);
        let expect = &case["expect"];
        assert_eq!(
            Some(result.is_ok()),
            expect["accept"].as_bool(),
            "{file}: case {name}: {result:?}"
        );
        match result {
            Ok(_) => assert_eq!(expect["status"], 200, "{name}"),
            Err(e) => {
                let allowed = expect["status_any_of"].as_array().expect("status_any_of");
                assert!(
                    allowed.contains(&Value::from(e.http_status())),
                    "{name}: status {} not in {allowed:?}",
                    e.http_status()
                );
            }
        }
    }
}

#[test]
fn signature_cases() {
    for entry in entries_of("signature_cases") {
        check(entry);
    }
}

const TEXT: &str = "inbound/text.json";

fn manifest_signature(file: &str) -> String {
    fixtures::entries()
        .iter()
        .find(|e| file_of(e) == file)
        .and_then(|e| e["x_hub_signature_256"].as_str())
        .expect("signature in manifest")
        .to_owned()
}

#[test]
fn every_manifest_signature_is_reproduced_by_sign() {
    for entry in fixtures::entries() {
        let file = file_of(entry);
        let body = fixtures::read(file);
        assert_eq!(
            Some(sign(fixtures::secret(), &body).as_str()),
            entry["x_hub_signature_256"].as_str(),
            "{file}"
        );
        assert_eq!(
            Some(body.len() as u64),
            entry["bytes"].as_u64(),
            "{file}: bytes"
        );
    }
}

#[test]
fn wrong_secret_fails() {
    let body = fixtures::read(TEXT);
    let header = manifest_signature(TEXT);
    assert_eq!(
        verify(b"another-secret", Some(&header), &body),
        Err(SignatureError::Mismatch)
    );
}

#[test]
fn missing_header_fails() {
    let body = fixtures::read(TEXT);
    assert_eq!(
        verify(fixtures::secret(), None, &body),
        Err(SignatureError::MissingHeader)
    );
}

#[test]
fn wrong_prefix_fails() {
    let body = fixtures::read(TEXT);
    let digest = manifest_signature(TEXT).replace("sha256=", "");
    for header in [
        digest.clone(),
        format!("sha1={digest}"),
        format!("SHA256={digest}"),
        format!("sha256 ={digest}"),
        format!(" sha256={digest}"),
    ] {
        assert_eq!(
            verify(fixtures::secret(), Some(&header), &body),
            Err(SignatureError::WrongScheme),
            "{header}"
        );
    }
}

#[test]
fn truncated_or_padded_hex_fails() {
    let body = fixtures::read(TEXT);
    let header = manifest_signature(TEXT);
    let truncated = &header[..header.len() - 2];
    let padded = format!("{header}00");
    let odd = &header[..header.len() - 1];
    let non_hex = format!("{}zz", &header[..header.len() - 2]);
    for bad in [truncated, padded.as_str(), odd, non_hex.as_str(), "sha256="] {
        assert_eq!(
            verify(fixtures::secret(), Some(bad), &body),
            Err(SignatureError::MalformedDigest),
            "{bad}"
        );
    }
}

#[test]
fn reserialised_json_does_not_verify() {
    const WIRE: &str = "inbound/text_wire_compact.json";
    let raw = fixtures::read(WIRE);
    let header = manifest_signature(WIRE);
    assert!(verify(fixtures::secret(), Some(&header), &raw).is_ok());
    let reserialised = serde_json::to_vec(&fixtures::read_json(WIRE)).expect("serialise");
    assert_ne!(reserialised, raw, "serde_json unescapes \\u and \\/");
    assert_eq!(
        verify(fixtures::secret(), Some(&header), &reserialised),
        Err(SignatureError::Mismatch)
    );
}
