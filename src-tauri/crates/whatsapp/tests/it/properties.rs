//! Property tests: hostile input never panics the parser, and every item of a processed
//! body is accounted for (an event or a dropped item, never silently lost).

use proptest::prelude::*;
use serde_json::{Map, Value};
use switchboard_whatsapp::webhook::{self, ParseOutcome, VerifiedBody};

use crate::fixtures::{self, entries_of, file_of};

/// Fixture bodies small enough to mutate quickly (the 4 MiB one is covered elsewhere).
fn bodies() -> Vec<Vec<u8>> {
    entries_of("webhook_post")
        .into_iter()
        .map(|e| fixtures::read(file_of(e)))
        .filter(|b| b.len() < 64 * 1024)
        .collect()
}

fn parse(bytes: &[u8]) -> Result<ParseOutcome, webhook::PayloadError> {
    webhook::parse(VerifiedBody::assume_verified(bytes))
}

/// Counts the items the parser must account for: elements of `messages`, `statuses` and
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

fn assert_accounted(bytes: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(ParseOutcome::Processed(parsed)) = parse(bytes) {
        let doc: Value =
            serde_json::from_slice(bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(parsed.events.len() + parsed.dropped.len(), item_count(&doc));
    }
    Ok(())
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Delete(usize, usize),
    Insert(usize, Vec<u8>),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Flip(i, b)),
        (any::<usize>(), 1usize..64).prop_map(|(i, n)| Mutation::Delete(i, n)),
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..16))
            .prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn apply(body: &mut Vec<u8>, m: &Mutation) {
    let len = body.len().max(1);
    match m {
        Mutation::Flip(i, b) => {
            if let Some(byte) = body.get_mut(i % len) {
                *byte ^= b | 1;
            }
        }
        Mutation::Delete(i, n) => {
            let start = (i % len).min(body.len());
            let end = (start + n).min(body.len());
            body.drain(start..end);
        }
        Mutation::Insert(i, bytes) => {
            let at = (i % len).min(body.len());
            body.splice(at..at, bytes.iter().copied());
        }
        Mutation::Truncate(i) => body.truncate(i % len),
    }
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,12}".prop_map(Value::String),
        prop::sample::select(vec![
            "text",
            "image",
            "interactive",
            "button_reply",
            "failed",
            "read",
            "messages",
            "whatsapp",
            "whatsapp_business_account",
            "",
            "1761903600",
            "system",
        ])
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop::sample::select(vec![
                        "id",
                        "type",
                        "from",
                        "timestamp",
                        "text",
                        "body",
                        "status",
                        "errors",
                        "code",
                        "context",
                        "contacts",
                        "wa_id",
                        "user_id",
                        "emoji",
                        "x",
                    ]),
                    inner
                ),
                0..4
            )
            .prop_map(|kv| Value::Object(
                kv.into_iter()
                    .map(|(k, v)| (k.to_owned(), v))
                    .collect::<Map<_, _>>()
            )),
        ]
    })
}

/// Replaces the node reached by following `path` (each step picks a child modulo the
/// number of children) with `replacement`.
fn replace_at(node: &mut Value, path: &[usize], replacement: Value) {
    let Some((step, rest)) = path.split_first() else {
        *node = replacement;
        return;
    };
    let child = match node {
        Value::Array(items) if !items.is_empty() => {
            let len = items.len();
            items.get_mut(step % len)
        }
        Value::Object(map) if !map.is_empty() => {
            let len = map.len();
            map.values_mut().nth(step % len)
        }
        _ => None,
    };
    match child {
        Some(child) => replace_at(child, rest, replacement),
        None => *node = replacement,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let _ = parse(&bytes);
        let _ = webhook::receive(b"k", Some("sha256=00"), &bytes);
    }

    #[test]
    fn byte_mutations_of_fixtures_never_panic(
        pick in any::<prop::sample::Index>(),
        mutations in prop::collection::vec(mutation(), 1..6),
    ) {
        let all = bodies();
        let mut body = pick.get(&all).clone();
        for m in &mutations {
            apply(&mut body, m);
        }
        let _ = parse(&body);
        assert_accounted(&body)?;
    }

    #[test]
    fn structural_mutations_of_fixtures_never_panic(
        pick in any::<prop::sample::Index>(),
        edits in prop::collection::vec((prop::collection::vec(any::<usize>(), 0..9), arb_json()), 1..4),
    ) {
        let all = bodies();
        let chosen: &Vec<u8> = pick.get(&all);
        let Ok(mut doc) = serde_json::from_slice::<Value>(chosen) else {
            return Ok(()); // the malformed fixtures are not JSON; bytes are mutated above
        };
        for (path, replacement) in edits {
            replace_at(&mut doc, &path, replacement);
        }
        let body = serde_json::to_vec(&doc).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let header = webhook::sign(fixtures::secret(), &body);
        let out = webhook::receive(fixtures::secret(), Some(&header), &body);
        prop_assert!(matches!(out.as_ref().map_err(|e| e.http_status()), Ok(_) | Err(400)));
        assert_accounted(&body)?;
    }

    #[test]
    fn sign_verify_roundtrip(secret in prop::collection::vec(any::<u8>(), 0..80), body in prop::collection::vec(any::<u8>(), 0..512), flip in any::<prop::sample::Index>()) {
        let header = webhook::sign(&secret, &body);
        prop_assert!(webhook::verify(&secret, Some(&header), &body).is_ok());
        if !body.is_empty() {
            let mut tampered = body.clone();
            let i = flip.index(tampered.len());
            if let Some(b) = tampered.get_mut(i) { *b ^= 0x01; }
            prop_assert!(webhook::verify(&secret, Some(&header), &tampered).is_err());
        }
    }
}
