//! Invariants of the webhook parser and the signature check under hostile input.
//!
//! Shared by the property tests (`hostile.rs`) and the coverage-guided fuzz targets
//! (`fuzz/fuzz_targets/{webhook_payload,signature}.rs` include this file with `#[path]`),
//! so the bounded run in the test suite and the long fuzzing run check the very same
//! properties. Each function panics when an invariant breaks; it uses only the crate's
//! public API and `serde_json`.

use serde_json::Value;
use switchboard_whatsapp::webhook::{
    self, sign, verify, ParseOutcome, PayloadError, SignatureError, VerifiedBody, WebhookEvent,
};

/// The items a processed body must account for: elements of `messages`, `statuses` and
/// `errors` in WhatsApp `messages` changes.
fn item_count(doc: &Value) -> usize {
    let mut n = 0;
    for entry in doc["entry"].as_array().into_iter().flatten() {
        for change in entry["changes"].as_array().into_iter().flatten() {
            if change["field"] != "messages" {
                continue;
            }
            let value = &change["value"];
            if value["messaging_product"]
                .as_str()
                .is_some_and(|p| p != "whatsapp")
            {
                continue;
            }
            for key in ["messages", "statuses", "errors"] {
                n += value[key].as_array().map_or(0, Vec::len);
            }
        }
    }
    n
}

/// The secret the payload invariants sign with; any value works.
const PAYLOAD_SECRET: &[u8] = b"test-app-secret";

/// `data` is a (signed) webhook body.
///
/// - bad UTF-8 is reported as such, and anything `serde_json` refuses is refused;
/// - every item of a processed body is an event or a dropped item, never silently lost;
/// - every message and status has a non-empty wamid (the dedupe key);
/// - the parsed result serialises (it is logged and stored as JSON);
/// - [`webhook::receive`] with a correct signature gives exactly what [`webhook::parse`]
///   gives, and a wrong signature never reaches the parser.
pub fn webhook_payload(data: &[u8]) {
    let outcome = webhook::parse(VerifiedBody::assume_verified(data));
    let utf8 = std::str::from_utf8(data).is_ok();
    let json = serde_json::from_slice::<Value>(data).ok();
    match &outcome {
        Err(PayloadError::InvalidUtf8(_)) => assert!(!utf8, "valid UTF-8 reported as invalid"),
        Err(_) => assert!(utf8, "invalid UTF-8 must be reported as such: {outcome:?}"),
        Ok(_) => assert!(json.is_some(), "accepted a body serde_json refuses"),
    }
    if let Ok(ParseOutcome::Processed(parsed)) = &outcome {
        let doc = json.as_ref().expect("checked above");
        assert_eq!(
            parsed.events.len() + parsed.dropped.len(),
            item_count(doc),
            "an item was lost or invented"
        );
        for event in &parsed.events {
            match event {
                WebhookEvent::Message(m) => assert!(!m.wamid.is_empty(), "message without id"),
                WebhookEvent::Status(s) => assert!(!s.wamid.is_empty(), "status without id"),
                WebhookEvent::Error(_) => {}
            }
        }
        serde_json::to_string(parsed).expect("a parsed webhook serialises");
    }

    let header = sign(PAYLOAD_SECRET, data);
    let received = webhook::receive(PAYLOAD_SECRET, Some(&header), data);
    match (&outcome, &received) {
        _ if data.len() > webhook::MAX_BODY_BYTES => assert!(
            matches!(received, Err(webhook::RejectedPost::TooLarge { .. })),
            "a body over the cap must be refused before anything else"
        ),
        (Ok(a), Ok(b)) => assert!(a == b, "receive and parse disagree"),
        (Err(a), Err(webhook::RejectedPost::Payload(b))) => {
            assert_eq!(a.to_string(), b.to_string())
        }
        (a, b) => panic!(
            "receive and parse disagree: {} vs {}",
            a.as_ref().map(|_| "accepted").unwrap_or("refused"),
            b.as_ref()
                .map(|_| "accepted".to_string())
                .unwrap_or_else(|e| e.to_string())
        ),
    }
    let wrong = webhook::receive(b"another-secret", Some(&header), data);
    assert!(
        matches!(
            wrong,
            Err(webhook::RejectedPost::Signature(SignatureError::Mismatch)
                | webhook::RejectedPost::TooLarge { .. })
        ),
        "a body signed with another secret must be refused before parsing: {wrong:?}"
    );
}

/// Splits `[n][secret: n bytes][m][header: m bytes][body…]`; short inputs are padded with
/// empty parts so that every input is a case.
fn split_signature_input(data: &[u8]) -> (&[u8], &[u8], &[u8]) {
    fn take(data: &[u8]) -> (&[u8], &[u8]) {
        let Some((&n, rest)) = data.split_first() else {
            return (&[], &[]);
        };
        rest.split_at(usize::from(n).min(rest.len()))
    }
    let (secret, rest) = take(data);
    let (header, body) = take(rest);
    (secret, header, body)
}

/// Builds a [`signature`] input (the seed format of the fuzz corpus).
pub fn signature_input(secret: &[u8], header: &str, body: &[u8]) -> Vec<u8> {
    let secret = &secret[..secret.len().min(255)];
    let header = &header.as_bytes()[..header.len().min(255)];
    let mut out = vec![secret.len() as u8];
    out.extend_from_slice(secret);
    out.push(header.len() as u8);
    out.extend_from_slice(header);
    out.extend_from_slice(body);
    out
}

/// `data` is `[n][secret][m][header][body]` (see [`signature_input`]).
///
/// The check accepts exactly the correctly signed body: an arbitrary header is accepted
/// if and only if it equals `sign(secret, body)`, the accepted bytes are the body
/// unchanged, and a flipped bit in the body or the secret, an uppercase digest, a missing
/// header or a wrong scheme are refused with the right reason.
pub fn signature(data: &[u8]) {
    let (secret, header_bytes, body) = split_signature_input(data);
    let correct = sign(secret, body);
    assert!(correct.starts_with("sha256=") && correct.len() == 7 + 64);

    let header = String::from_utf8_lossy(header_bytes);
    let result = verify(secret, Some(&header), body);
    assert_eq!(
        result.is_ok(),
        *header == correct,
        "header {header:?} must be accepted exactly when it is the correct signature: {result:?}"
    );
    match &result {
        Ok(verified) => assert_eq!(verified.as_bytes(), body),
        Err(SignatureError::MissingHeader) => panic!("a header was given"),
        Err(SignatureError::WrongScheme) => assert!(!header.starts_with("sha256=")),
        Err(SignatureError::MalformedDigest) => {
            let digest = &header["sha256=".len()..];
            assert!(
                digest.len() != 64
                    || !digest
                        .bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
                "a well-formed digest was called malformed: {header:?}"
            );
        }
        Err(SignatureError::Mismatch) => {}
    }

    let accepted = verify(secret, Some(&correct), body).expect("the correct signature verifies");
    assert_eq!(accepted.as_bytes(), body);
    assert_eq!(
        verify(secret, None, body).unwrap_err(),
        SignatureError::MissingHeader
    );
    let upper = format!("sha256={}", correct["sha256=".len()..].to_ascii_uppercase());
    if upper != correct {
        assert_eq!(
            verify(secret, Some(&upper), body).unwrap_err(),
            SignatureError::MalformedDigest
        );
    }
    assert_eq!(
        verify(secret, Some(&correct.replacen("sha256=", "sha1=", 1)), body).unwrap_err(),
        SignatureError::WrongScheme
    );

    // One flipped bit anywhere in the body or the secret changes the HMAC. (Keys that
    // differ only by trailing zero bytes are the same HMAC key, so the secret is mutated
    // by flipping a bit, never by appending.)
    let pick = body
        .iter()
        .fold(0usize, |a, b| a.wrapping_mul(31) ^ usize::from(*b));
    if !body.is_empty() {
        let mut tampered = body.to_vec();
        tampered[pick % body.len()] ^= 1 << (pick % 8);
        assert_eq!(
            verify(secret, Some(&correct), &tampered).unwrap_err(),
            SignatureError::Mismatch,
            "a tampered body must not verify"
        );
    }
    if !secret.is_empty() {
        let mut other = secret.to_vec();
        other[pick % secret.len()] ^= 1 << (pick % 8);
        assert_eq!(
            verify(&other, Some(&correct), body).unwrap_err(),
            SignatureError::Mismatch,
            "another secret must not verify"
        );
    }
}
