//! The bounded stand-in for fuzzing in the test suite: the action validator's fuzz
//! invariants (`invariants.rs`) over the committed seeds (`fuzz/seeds/action_validator`:
//! valid model answers) and random mutations of them, at the byte level and at the JSON
//! level. `scripts/fuzz` runs the same invariants coverage-guided for longer.

use proptest::prelude::*;
use serde_json::Value;

use crate::invariants;

fn seeds() -> Vec<Vec<u8>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../fuzz/seeds/action_validator");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("a directory entry").path())
        .collect();
    files.sort();
    let seeds: Vec<Vec<u8>> = files
        .iter()
        .map(|f| std::fs::read(f).expect("a seed"))
        .collect();
    assert!(seeds.len() >= 5, "{} has the seeds", dir.display());
    seeds
}

#[test]
fn every_seed_keeps_the_invariants_and_valid_answers_are_accepted() {
    let all = seeds();
    let accepted = all
        .iter()
        .filter(|seed| invariants::action_validator(seed))
        .count();
    // Only accepted answers reach the round-trip and schema invariants, so the seeds must
    // mostly be valid answers for this business.
    assert_eq!(accepted, all.len(), "every seed is a valid answer");
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
        (any::<usize>(), 1usize..16).prop_map(|(i, n)| Mutation::Delete(i, n)),
        (
            any::<usize>(),
            prop_oneof![
                prop::collection::vec(any::<u8>(), 1..6),
                prop::sample::select(vec![
                    &b"{"[..],
                    b"}",
                    b"\"",
                    b",",
                    b"null",
                    b"1e999",
                    b"-0",
                    b"\\u0000",
                    b"```"
                ])
                .prop_map(<[u8]>::to_vec),
            ]
        )
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

/// Values that sit on the validator's edges: bounds, types, times, tricky strings.
fn edge_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        prop::sample::select(vec![0.0, 1.0, 0.5, -0.0, 1.0000001, -1e-300, 5.0, 1e300])
            .prop_map(|f| serde_json::json!(f)),
        any::<i64>().prop_map(Value::from),
        prop::sample::select(vec![
            "",
            " ",
            "\u{200b}",
            "reply",
            "no_action",
            "create_lead",
            "Ana",
            "ANA",
            "order_update",
            "es_MX",
            "2026-11-24T15:00:00Z",
            "2026-11-24T15:00:01Z",
            "2026-11-24T09:00:01-06:00",
            "2026-13-01T00:00:00Z",
            "9999-12-31T23:59:59+14:00",
            "topic",
            "Topic",
            "a_1",
            "high",
            "urgent",
        ])
        .prop_map(|s| Value::String(s.to_string())),
        "[a-zA-Z0-9_ ]{0,8}".prop_map(Value::String),
        (1usize..1200).prop_map(|n| Value::String("x".repeat(n))),
        Just(serde_json::json!([])),
        Just(serde_json::json!({})),
    ]
}

/// Replaces or removes the node reached by `path` (each step picks a child modulo the
/// number of children), or adds a key next to it.
fn edit(node: &mut Value, path: &[usize], replacement: Option<Value>, key: Option<&str>) {
    let Some((step, rest)) = path.split_first() else {
        match (replacement, node) {
            (Some(v), n) => *n = v,
            (None, Value::Object(map)) => {
                if let Some(k) = key {
                    map.insert(k.to_string(), Value::Null);
                } else if let Some(first) = map.keys().next().cloned() {
                    map.remove(&first);
                }
            }
            (None, Value::Array(items)) => {
                if let Some(first) = items.first().cloned() {
                    items.push(first);
                }
            }
            (None, _) => {}
        }
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
    if let Some(child) = child {
        edit(child, rest, replacement, key);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(384))]

    #[test]
    fn byte_mutations_of_valid_answers_keep_the_invariants(
        pick in any::<prop::sample::Index>(),
        mutations in prop::collection::vec(mutation(), 1..5),
    ) {
        let all = seeds();
        let mut data = pick.get(&all).clone();
        for m in &mutations {
            apply(&mut data, m);
        }
        invariants::action_validator(&data);
    }

    #[test]
    fn json_edits_of_valid_answers_keep_the_invariants(
        pick in any::<prop::sample::Index>(),
        edits in prop::collection::vec((
            prop::collection::vec(any::<usize>(), 0..5),
            prop::option::of(edge_value()),
            prop::option::of(prop::sample::select(vec!["type", "text", "extra", "reason", "due_at"])),
        ), 1..4),
    ) {
        let all = seeds();
        let Ok(mut doc) = serde_json::from_slice::<Value>(pick.get::<Vec<u8>>(&all)) else {
            return Ok(());
        };
        for (path, replacement, key) in edits {
            edit(&mut doc, &path, replacement, key);
        }
        invariants::action_validator(doc.to_string().as_bytes());
    }
}
