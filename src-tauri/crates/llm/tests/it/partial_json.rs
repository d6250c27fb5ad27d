use proptest::prelude::*;
use serde_json::json;
use switchboard_llm::partial_json::{MAX_DEPTH, MAX_VALUE_BYTES};
use switchboard_llm::{FieldTarget, PartialJsonReader};

const REPLY: &str = "Hola 👋 ¿Tienes café?\n\"Sí\" — con leche\\sin azúcar.";

/// Written by hand: `json!` would sort the keys, and the order (`type` before `text`, as
/// models emit when the schema lists it first) is what makes live streaming possible.
fn plan_doc() -> String {
    let q = |s: &str| serde_json::to_string(s).unwrap();
    format!(
        r#"{{"reasoning": {}, "actions": [
  {{"type": "note", "text": "internal: do not send"}},
  {{"type": "reply", "meta": {{"text": "nested, not this"}}, "text": {}, "tags": ["a", {{"text": "x"}}]}},
  {{"type": "reply", "text": "second reply, ignored"}}
]}}"#,
        q("The customer asks about \"text\" and {braces}."),
        q(REPLY)
    )
}

fn bytewise(target: FieldTarget, doc: &[u8]) -> (Vec<String>, PartialJsonReader) {
    let mut reader = PartialJsonReader::new(target);
    let mut deltas = Vec::new();
    for b in doc {
        let d = reader.feed([*b]);
        if !d.is_empty() {
            deltas.push(d);
        }
    }
    (deltas, reader)
}

#[test]
fn byte_by_byte_produces_exactly_the_reply() {
    let doc = plan_doc();
    let (deltas, reader) = bytewise(FieldTarget::reply_text(), doc.as_bytes());
    assert_eq!(deltas.concat(), REPLY);
    assert!(reader.is_complete());
    assert_eq!(reader.value(), REPLY);
    // Live: the reply came out in many small pieces, never as keys or braces.
    assert!(deltas.len() > 20);
    for d in &deltas {
        assert!(REPLY.contains(d.as_str()), "{d:?}");
    }
}

#[test]
fn every_two_way_split_produces_the_reply() {
    let doc = plan_doc();
    let bytes = doc.as_bytes();
    for i in 0..=bytes.len() {
        let mut reader = PartialJsonReader::new(FieldTarget::reply_text());
        let mut out = reader.feed(&bytes[..i]);
        out.push_str(&reader.feed(&bytes[i..]));
        assert_eq!(out, REPLY, "split at {i}");
    }
}

#[test]
fn surrogate_pairs_and_escapes_split_across_chunks() {
    let doc = r#"{"actions":[{"type":"reply","text":"caf\u00e9 \ud83c\udf89 \"ok\"\n"}]}"#;
    let (deltas, _) = bytewise(FieldTarget::reply_text(), doc.as_bytes());
    assert_eq!(deltas.concat(), "café 🎉 \"ok\"\n");
    // Half a surrogate pair is never published on its own.
    assert!(deltas.iter().all(|d| !d.contains('\u{FFFD}')));
}

#[test]
fn discriminator_after_the_text_is_resolved_at_the_end() {
    let doc =
        r#"{"actions":[{"text":"skip me","type":"escalate"},{"text":"Hola","type":"reply"}]}"#;
    let (deltas, reader) = bytewise(FieldTarget::reply_text(), doc.as_bytes());
    assert_eq!(deltas, vec!["Hola".to_string()]);
    assert!(reader.is_complete());
}

#[test]
fn leading_prose_and_code_fence_are_skipped() {
    let doc = format!("Here you go:\n```json\n{}\n```\nAnything else?", plan_doc());
    assert_eq!(
        PartialJsonReader::extract(FieldTarget::reply_text(), &doc).as_deref(),
        Some(REPLY)
    );
}

#[test]
fn other_targets() {
    let doc = plan_doc();
    let reasoning = PartialJsonReader::extract(FieldTarget::parse("reasoning").unwrap(), &doc);
    assert_eq!(
        reasoning.as_deref(),
        Some("The customer asks about \"text\" and {braces}.")
    );
    // Without a discriminator the first object in `actions` wins.
    let first = PartialJsonReader::extract(FieldTarget::parse("actions[].text").unwrap(), &doc);
    assert_eq!(first.as_deref(), Some("internal: do not send"));
    let nested =
        PartialJsonReader::extract(FieldTarget::parse("actions[].meta.text").unwrap(), &doc);
    assert_eq!(nested.as_deref(), Some("nested, not this"));
    let root_array = PartialJsonReader::extract(
        FieldTarget::parse("[].text").unwrap().when("type", "reply"),
        r#"[{"type":"reply","text":"x"}]"#,
    );
    assert_eq!(root_array.as_deref(), Some("x"));
}

#[test]
fn missing_or_non_string_targets() {
    for doc in [
        r#"{"actions":[{"type":"reply","text":null}]}"#,
        r#"{"actions":[{"type":"reply","text":{"a":"b"}}]}"#,
        r#"{"actions":[{"type":3,"text":"no"}]}"#,
        r#"{"actions":{"type":"reply","text":"not in an array"}}"#,
        r#"{"actions":[]}"#,
        r#"["text"]"#,
        "",
    ] {
        let mut reader = PartialJsonReader::new(FieldTarget::reply_text());
        assert_eq!(reader.feed(doc), "", "{doc}");
        assert!(!reader.is_complete(), "{doc}");
    }
}

#[test]
fn truncated_document_keeps_the_partial_value() {
    let doc = plan_doc();
    let cut = doc.find("con leche").unwrap();
    let mut reader = PartialJsonReader::new(FieldTarget::reply_text());
    let out = reader.feed(&doc[..cut]);
    assert!(REPLY.starts_with(&out));
    assert!(out.starts_with("Hola"));
    assert!(!reader.is_complete());
    assert!(PartialJsonReader::extract(FieldTarget::reply_text(), &doc[..cut]).is_none());
}

#[test]
fn syntax_errors_stop_without_panicking() {
    let mut reader = PartialJsonReader::new(FieldTarget::reply_text());
    let out = reader.feed(r#"{"actions":[{"type":"reply","text":"Ho"}} ]"#);
    assert_eq!(out, "Ho");
    let mut reader = PartialJsonReader::new(FieldTarget::reply_text());
    reader.feed(r#"{"actions" "x"}"#);
    assert!(reader.error().is_some());
}

#[test]
fn nesting_is_capped() {
    let doc = "[".repeat(MAX_DEPTH * 10);
    let mut reader = PartialJsonReader::new(FieldTarget::reply_text());
    reader.feed(&doc);
    assert_eq!(reader.error(), Some("nesting too deep"));
}

#[test]
fn value_is_capped() {
    let long = "ñ".repeat(MAX_VALUE_BYTES);
    let doc = json!({"actions":[{"type":"reply","text": long}]}).to_string();
    let mut reader = PartialJsonReader::new(FieldTarget::reply_text());
    let mut total = 0;
    for chunk in doc.as_bytes().chunks(1000) {
        total += reader.feed(chunk).len();
    }
    assert!(reader.is_truncated());
    assert!(total <= MAX_VALUE_BYTES);
    assert_eq!(total, reader.value().len());
}

#[test]
fn invalid_utf8_becomes_replacement() {
    let mut doc = br#"{"text":"a"#.to_vec();
    doc.extend_from_slice(&[0xFF, b'b', 0xE2, 0x82]);
    doc.extend_from_slice(br#""}"#);
    let mut reader = PartialJsonReader::new(FieldTarget::parse("text").unwrap());
    let out = reader.feed(&doc);
    assert_eq!(out, "a\u{FFFD}b\u{FFFD}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_bytes_never_panic(chunks in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..32), 0..32)) {
        let mut reader = PartialJsonReader::new(FieldTarget::reply_text());
        let mut total = 0;
        for c in &chunks {
            total += reader.feed(c).len();
        }
        prop_assert_eq!(total, reader.value().len());
    }

    #[test]
    fn json_shaped_garbage_never_panics(s in r#"[\[\]{}":,\\u0-9a-fA-Ftextypreplyacions ]{0,200}"#, cut in any::<prop::sample::Index>()) {
        let mut reader = PartialJsonReader::new(FieldTarget::reply_text());
        let at = cut.index(s.len() + 1);
        let mut out = reader.feed(&s.as_bytes()[..at]);
        out.push_str(&reader.feed(&s.as_bytes()[at..]));
        prop_assert_eq!(out.as_str(), reader.value());
    }

    #[test]
    fn any_string_round_trips_under_any_chunking(text in any::<String>(), cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..8), ascii_escapes in any::<bool>()) {
        let mut encoded = json!({"actions":[{"type":"reply","text": text}]}).to_string();
        if ascii_escapes {
            // Re-encode non-ASCII as \uXXXX (surrogate pairs for astral characters).
            encoded = encoded.chars().map(|c| if c.is_ascii() { c.to_string() } else {
                let mut units = [0u16; 2];
                c.encode_utf16(&mut units).iter().map(|u| format!("\\u{u:04x}")).collect()
            }).collect();
        }
        let bytes = encoded.as_bytes();
        let mut points: Vec<usize> = cuts.iter().map(|c| c.index(bytes.len() + 1)).collect();
        points.sort_unstable();
        let mut reader = PartialJsonReader::new(FieldTarget::reply_text());
        let mut out = String::new();
        let mut last = 0;
        for p in points {
            out.push_str(&reader.feed(&bytes[last..p]));
            last = p;
        }
        out.push_str(&reader.feed(&bytes[last..]));
        prop_assert!(reader.is_complete());
        prop_assert_eq!(out, text);
    }
}
