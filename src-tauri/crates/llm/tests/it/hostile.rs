//! The bounded stand-in for fuzzing in the test suite: the fuzz targets' invariants
//! (`invariants.rs`) over the committed seeds (`fuzz/seeds/`: valid model answers and the
//! SSE streams that carry them) and random mutations of them. `scripts/fuzz` runs the same
//! invariants coverage-guided for longer.

use proptest::prelude::*;

use crate::invariants;

/// The committed fuzz seeds of one target.
pub fn seeds(target: &str) -> Vec<Vec<u8>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../fuzz/seeds")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("a directory entry").path())
        .collect();
    files.sort();
    let seeds: Vec<Vec<u8>> = files
        .iter()
        .map(|f| std::fs::read(f).expect("a seed file"))
        .collect();
    assert!(seeds.len() >= 5, "{} has the seeds", dir.display());
    seeds
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Delete(usize, usize),
    Insert(usize, Vec<u8>),
    /// Copies a slice elsewhere: duplicated keys, events and brackets.
    Splice(usize, usize, usize),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let interesting = prop::sample::select(vec![
        &b"\""[..],
        b"\\",
        b"\\u",
        b"\\ud83d",
        b"\\udc00",
        b"{",
        b"}",
        b"[",
        b"]",
        b",",
        b":",
        b"\n",
        b"\r",
        b"\n\n",
        b"data: ",
        b"data: [DONE]\n\n",
        b"event: message_stop\n",
        b"\xef\xbb\xbf",
        b"\xc3",
        b"\xf0\x9f",
        b"\xff",
        b"null",
        b"\"reply\"",
        b"\"text\":",
    ])
    .prop_map(<[u8]>::to_vec);
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Flip(i, b)),
        (any::<usize>(), 1usize..32).prop_map(|(i, n)| Mutation::Delete(i, n)),
        (
            any::<usize>(),
            prop_oneof![prop::collection::vec(any::<u8>(), 1..8), interesting]
        )
            .prop_map(|(i, b)| Mutation::Insert(i, b)),
        (any::<usize>(), any::<usize>(), 1usize..300)
            .prop_map(|(from, to, n)| Mutation::Splice(from, to, n)),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

/// Applies `m`, never touching byte 0 (the seed byte that picks chunking and protocol).
fn apply(data: &mut Vec<u8>, m: &Mutation) {
    if data.len() < 2 {
        return;
    }
    let len = data.len() - 1;
    let at = |i: &usize| 1 + i % len;
    match m {
        Mutation::Flip(i, b) => data[at(i)] ^= b | 1,
        Mutation::Delete(i, n) => {
            let start = at(i);
            let end = (start + n).min(data.len());
            data.drain(start..end);
        }
        Mutation::Insert(i, bytes) => {
            let at = at(i);
            data.splice(at..at, bytes.iter().copied());
        }
        Mutation::Splice(from, to, n) => {
            let start = at(from);
            let end = (start + n).min(data.len());
            let piece = data[start..end].to_vec();
            let at = at(to);
            data.splice(at..at, piece);
        }
        Mutation::Truncate(i) => data.truncate(at(i)),
    }
}

#[test]
fn every_seed_keeps_the_invariants_under_every_chunking() {
    for seed in seeds("sse") {
        for first in (0..=255u8).step_by(5) {
            let mut data = seed.clone();
            // Keep the protocol (parity), vary the chunking.
            data[0] = (first & !1) | (seed[0] & 1);
            invariants::sse(&data);
        }
    }
    for seed in seeds("partial_json") {
        for first in (0..=255u8).step_by(5) {
            let mut data = seed.clone();
            data[0] = first;
            invariants::partial_json(&data);
        }
    }
}

#[test]
fn the_reader_agrees_with_a_full_parse_on_the_seeds() {
    // The oracle of `invariants::partial_json` must really apply to the seeds, or the
    // property tests below would only ever check chunking.
    for seed in seeds("partial_json") {
        let doc = &seed[1..];
        let parsed: serde_json::Value = match serde_json::from_slice(doc) {
            Ok(v) => v,
            Err(_) => continue,
        };
        let reader = switchboard_llm::PartialJsonReader::extract(
            switchboard_llm::FieldTarget::reply_text(),
            std::str::from_utf8(doc).unwrap(),
        );
        let expected = parsed["actions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["type"] == "reply")
            .map(|a| a["text"].as_str().unwrap().to_string());
        assert_eq!(reader, expected);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(384))]

    #[test]
    fn mutated_streams_keep_the_sse_invariants(
        pick in any::<prop::sample::Index>(),
        first in any::<u8>(),
        mutations in prop::collection::vec(mutation(), 1..6),
    ) {
        let all = seeds("sse");
        let mut data = pick.get(&all).clone();
        data[0] = first;
        for m in &mutations {
            apply(&mut data, m);
        }
        invariants::sse(&data);
    }

    #[test]
    fn mutated_answers_keep_the_partial_json_invariants(
        pick in any::<prop::sample::Index>(),
        first in any::<u8>(),
        mutations in prop::collection::vec(mutation(), 0..6),
    ) {
        let all = seeds("partial_json");
        let mut data = pick.get(&all).clone();
        data[0] = first;
        for m in &mutations {
            apply(&mut data, m);
        }
        invariants::partial_json(&data);
    }

    #[test]
    fn arbitrary_bytes_keep_both_invariants(data in prop::collection::vec(any::<u8>(), 0..512)) {
        invariants::sse(&data);
        invariants::partial_json(&data);
    }
}
