//! The bounded stand-in for fuzzing in the test suite: the fuzz targets' invariants
//! (`invariants.rs`) over every fixture body and over random mutations of them.
//! `scripts/fuzz` runs the same invariants coverage-guided for longer.

use proptest::prelude::*;

use crate::fixtures::{self, entries, file_of};
use crate::invariants;

/// Every fixture that is a webhook body (inbound, statuses, malformed), with the
/// manifest's signature when it has one.
fn bodies() -> Vec<(Vec<u8>, Option<String>)> {
    entries()
        .iter()
        .filter(|e| e["kind"] == "webhook_post")
        .map(|e| {
            (
                fixtures::read(file_of(e)),
                e["x_hub_signature_256"].as_str().map(str::to_owned),
            )
        })
        .collect()
}

/// Small bodies only, so thousands of cases stay fast (the 4 MiB one is checked once).
fn small_bodies() -> Vec<Vec<u8>> {
    bodies()
        .into_iter()
        .map(|(b, _)| b)
        .filter(|b| b.len() < 64 * 1024)
        .collect()
}

#[test]
fn every_fixture_body_keeps_the_invariants() {
    let all = bodies();
    assert!(all.len() > 20, "the fixture corpus is there");
    for (body, signature) in all {
        invariants::webhook_payload(&body);
        if let Some(signature) = signature {
            // The seed format of the fuzz corpus: the manifest's header must be the one
            // `sign` computes, and then every signature invariant holds for it.
            let input = invariants::signature_input(fixtures::secret(), &signature, &body);
            invariants::signature(&input);
            assert!(switchboard_whatsapp::webhook::verify(
                fixtures::secret(),
                Some(&signature),
                &body
            )
            .is_ok());
        }
    }
}

#[test]
fn signature_inputs_shorter_than_their_lengths_are_cases_too() {
    for data in [
        &b""[..],
        b"\x05ab",
        b"\x02ab\x09sha256=",
        b"\x00\x00",
        b"\xff",
    ] {
        invariants::signature(data);
    }
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Delete(usize, usize),
    Insert(usize, Vec<u8>),
    /// Copies a slice of the body elsewhere: duplicates keys, items and brackets.
    Splice(usize, usize, usize),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let interesting = prop::sample::select(vec![
        &b"\""[..],
        b"\\",
        b"\\u",
        b"\\ud83d",
        b"{",
        b"}",
        b"[",
        b"]",
        b",",
        b":",
        b"null",
        b"\xc3",
        b"\xff",
        b"0",
        b"-1e999",
    ])
    .prop_map(<[u8]>::to_vec);
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Flip(i, b)),
        (any::<usize>(), 1usize..64).prop_map(|(i, n)| Mutation::Delete(i, n)),
        (
            any::<usize>(),
            prop_oneof![prop::collection::vec(any::<u8>(), 1..8), interesting]
        )
            .prop_map(|(i, b)| Mutation::Insert(i, b)),
        (any::<usize>(), any::<usize>(), 1usize..200)
            .prop_map(|(from, to, n)| Mutation::Splice(from, to, n)),
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
        Mutation::Splice(from, to, n) => {
            let start = (from % len).min(body.len());
            let end = (start + n).min(body.len());
            let piece = body[start..end].to_vec();
            let at = (to % len).min(body.len());
            body.splice(at..at, piece);
        }
        Mutation::Truncate(i) => body.truncate(i % len),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn mutated_fixture_bodies_keep_the_payload_invariants(
        pick in any::<prop::sample::Index>(),
        mutations in prop::collection::vec(mutation(), 1..8),
    ) {
        let all = small_bodies();
        let mut body = pick.get(&all).clone();
        for m in &mutations {
            apply(&mut body, m);
        }
        invariants::webhook_payload(&body);
    }

    #[test]
    fn mutated_signed_fixtures_are_accepted_exactly_when_correctly_signed(
        pick in any::<prop::sample::Index>(),
        body_mutations in prop::collection::vec(mutation(), 0..3),
        header_mutations in prop::collection::vec(mutation(), 0..3),
        secret in prop_oneof![
            Just(b"test-app-secret".to_vec()),
            prop::collection::vec(any::<u8>(), 0..100),
        ],
    ) {
        let all = small_bodies();
        let original: &Vec<u8> = pick.get(&all);
        let mut body = original.clone();
        for m in &body_mutations {
            apply(&mut body, m);
        }
        let mut header = switchboard_whatsapp::webhook::sign(&secret, original).into_bytes();
        for m in &header_mutations {
            apply(&mut header, m);
        }
        let header = String::from_utf8_lossy(&header);
        invariants::signature(&invariants::signature_input(&secret, &header, &body));
    }

    #[test]
    fn arbitrary_signature_inputs(data in prop::collection::vec(any::<u8>(), 0..512)) {
        invariants::signature(&data);
    }
}
