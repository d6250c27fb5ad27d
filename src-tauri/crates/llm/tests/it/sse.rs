//! The SSE layer without HTTP: chunk boundaries anywhere, BOMs, CRLF, invalid UTF-8 and
//! random garbage, through the same decoding path a live call uses.

use bytes::Bytes;
use proptest::prelude::*;
use switchboard_llm::wire::decode_body;
use switchboard_llm::{Completion, DeltaSink, LlmError, ProviderConfig};

use crate::fake::wire;
use crate::{anthropic_config, hello_request, openai_config};

const FULL: &str = "¿Tienes café? 🎉";
const PIECES: [&str; 4] = ["¿Tienes ", "café", "? ", "🎉"];

fn decode(config: &ProviderConfig, chunks: Vec<Vec<u8>>) -> (Result<Completion, LlmError>, String) {
    thread_local! {
        static RT: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
    }
    RT.with(|rt| {
        rt.block_on(async {
            let body = futures_util::stream::iter(
                chunks
                    .into_iter()
                    .map(|c| Ok::<_, std::io::Error>(Bytes::from(c))),
            );
            let (sink, mut rx) = DeltaSink::channel();
            let result = decode_body(config, &hello_request(), body, sink).await;
            let mut text = String::new();
            while let Ok(switchboard_llm::StreamEvent::Text(t)) = rx.try_recv() {
                text.push_str(&t);
            }
            (result, text)
        })
    })
}

fn configs() -> Vec<(ProviderConfig, Vec<u8>)> {
    vec![
        (
            openai_config("http://unused"),
            wire::openai_stream(&PIECES, Some((3, 4)))
                .concat()
                .into_bytes(),
        ),
        (
            anthropic_config("http://unused"),
            wire::anthropic_stream(&PIECES, 3, 4).concat().into_bytes(),
        ),
    ]
}

#[test]
fn every_three_way_split_decodes_identically() {
    for (config, body) in configs() {
        // All (i, j) pairs: every pair of cut points, including both inside one character.
        for i in 0..=body.len() {
            for j in (i..=body.len()).step_by(7) {
                let chunks = vec![body[..i].to_vec(), body[i..j].to_vec(), body[j..].to_vec()];
                let (result, text) = decode(&config, chunks);
                let completion = result.unwrap_or_else(|e| panic!("cuts {i},{j}: {e}"));
                assert_eq!(completion.text, FULL, "cuts {i},{j}");
                assert_eq!(text, FULL, "cuts {i},{j}");
            }
        }
    }
}

#[test]
fn single_bytes_decode() {
    for (config, body) in configs() {
        let chunks = body.iter().map(|b| vec![*b]).collect();
        let (result, text) = decode(&config, chunks);
        assert_eq!(result.unwrap().text, FULL);
        assert_eq!(text, FULL);
    }
}

#[test]
fn leading_bom_is_skipped_even_when_split() {
    // eventsource-stream 0.2.3 panics on this input; see `wire` module docs.
    let (config, body) = configs().remove(0);
    let mut with_bom = b"\xEF\xBB\xBF".to_vec();
    with_bom.extend_from_slice(&body);
    for cut in 0..5 {
        let chunks = vec![with_bom[..cut].to_vec(), with_bom[cut..].to_vec()];
        let (result, _) = decode(&config, chunks);
        assert_eq!(result.unwrap().text, FULL, "cut {cut}");
    }
}

#[test]
fn invalid_utf8_fails_fast_instead_of_buffering() {
    let (config, _) = configs().remove(0);
    let mut bad = wire::openai_text("Hola").into_bytes();
    bad.insert(20, 0xC3); // a lead byte followed by ASCII: never valid
    let mut chunks = vec![wire::openai_role().into_bytes(), bad];
    chunks.extend(
        wire::openai_stream(&["more"], None)
            .into_iter()
            .map(String::into_bytes),
    );
    let (result, _) = decode(&config, chunks);
    assert!(
        matches!(result, Err(LlmError::MalformedStream { .. })),
        "{result:?}"
    );
}

#[test]
fn mixed_line_endings_and_comments() {
    let (config, _) = configs().remove(0);
    let events = wire::openai_stream(&PIECES, None);
    let mut body = String::from(": hello\r\n\r\n");
    for (n, e) in events.iter().enumerate() {
        body.push_str(&match n % 3 {
            0 => e.replace('\n', "\r\n"),
            1 => e.replace('\n', "\r"),
            _ => e.clone(),
        });
        body.push_str(":\n");
    }
    let (result, _) = decode(&config, vec![body.into_bytes()]);
    assert_eq!(result.unwrap().text, FULL);
}

#[test]
fn oversized_event_is_rejected() {
    let (config, _) = configs().remove(0);
    let huge = vec![b'x'; switchboard_llm::wire::MAX_EVENT_BYTES + 10];
    let mut chunks = vec![b"data: ".to_vec()];
    chunks.extend(huge.chunks(64 * 1024).map(<[u8]>::to_vec));
    chunks.push(b"\n\n".to_vec());
    let (result, _) = decode(&config, chunks);
    assert!(
        matches!(result, Err(LlmError::MalformedStream { .. })),
        "{result:?}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_bytes_never_panic(chunks in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..64), 0..16), anthropic in any::<bool>()) {
        let config = if anthropic { anthropic_config("http://unused") } else { openai_config("http://unused") };
        let (result, _) = decode(&config, chunks);
        // Random bytes essentially never contain a terminal event; any error is fine.
        let _ = result;
    }

    #[test]
    fn sse_shaped_garbage_never_panics(lines in prop::collection::vec(prop_oneof![
        Just("data: ".to_string()),
        Just("data: [DONE]\n\n".to_string()),
        Just("event: message_stop\n".to_string()),
        Just("\n".to_string()),
        Just("\r".to_string()),
        Just(": c\n".to_string()),
        Just("\u{feff}".to_string()),
        "[{}\\[\\]\":,a-z0-9éñ🎉 ]{0,12}",
    ], 0..40), anthropic in any::<bool>()) {
        let config = if anthropic { anthropic_config("http://unused") } else { openai_config("http://unused") };
        let body = lines.concat().into_bytes();
        let chunks = body.chunks(5).map(<[u8]>::to_vec).collect();
        let _ = decode(&config, chunks);
    }

    #[test]
    fn any_chunking_of_a_valid_stream_gives_the_same_text(cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..12)) {
        for (config, body) in configs() {
            let mut points: Vec<usize> = cuts.iter().map(|c| c.index(body.len() + 1)).collect();
            points.sort_unstable();
            let mut chunks = Vec::new();
            let mut last = 0;
            for p in points {
                chunks.push(body[last..p].to_vec());
                last = p;
            }
            chunks.push(body[last..].to_vec());
            let (result, text) = decode(&config, chunks);
            prop_assert_eq!(result.unwrap().text, FULL);
            prop_assert_eq!(text, FULL);
        }
    }
}
