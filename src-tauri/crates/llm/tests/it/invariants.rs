//! Invariants of the SSE decoding path and the incremental JSON reader under hostile input.
//!
//! Shared by the property tests (`hostile.rs`) and the coverage-guided fuzz targets
//! (`fuzz/fuzz_targets/{sse,partial_json}.rs` include this file with `#[path]`), so the
//! bounded run in the test suite and the long fuzzing run check the same properties. Each
//! function panics when an invariant breaks; it uses only the crate's public API, `serde`,
//! `serde_json`, `bytes`, `futures-util` and `tokio`.

use bytes::Bytes;
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use switchboard_llm::partial_json::MAX_VALUE_BYTES;
use switchboard_llm::wire::decode_body;
use switchboard_llm::{
    ChatRequest, Completion, DeltaSink, FieldTarget, LlmError, Message, PartialJsonReader,
    ProviderConfig, ProviderKind, StreamEvent,
};

/// Splits `body` into chunks whose sizes cycle through `sizes` (each at least 1).
fn chunked(body: &[u8], sizes: &[usize]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut rest = body;
    let mut i = 0;
    while !rest.is_empty() {
        let n = sizes[i % sizes.len()].clamp(1, rest.len());
        let (head, tail) = rest.split_at(n);
        out.push(head.to_vec());
        rest = tail;
        i += 1;
    }
    out
}

/// Chunk sizes derived from one seed byte: 1 (byte by byte) up to whole-ish chunks, with
/// uneven pairs so boundaries fall everywhere.
fn sizes_from(seed: u8) -> [usize; 2] {
    [usize::from(seed % 17) + 1, usize::from(seed / 17) * 5 + 1]
}

/// What a decode produced, without the timings (which differ between runs).
#[derive(Debug, PartialEq)]
enum Decoded {
    Ok {
        model: String,
        text: String,
        tool_calls: Vec<(String, String, String)>,
        finish: String,
        usage: (u32, u32, bool),
    },
    Err(LlmError),
}

fn decode(config: &ProviderConfig, chunks: Vec<Vec<u8>>) -> (Decoded, Vec<StreamEvent>) {
    thread_local! {
        static RT: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("a current-thread runtime");
    }
    let request = ChatRequest::new(vec![Message::user("¿Tienes café?")]);
    let (result, events) = RT.with(|rt| {
        rt.block_on(async {
            let body = futures_util::stream::iter(
                chunks
                    .into_iter()
                    .map(|c| Ok::<_, std::io::Error>(Bytes::from(c))),
            );
            let (sink, mut rx) = DeltaSink::channel();
            let result = decode_body(config, &request, body, sink).await;
            let mut events = Vec::new();
            while let Ok(event) = rx.try_recv() {
                events.push(event);
            }
            (result, events)
        })
    });
    let decoded = match result {
        Ok(Completion {
            model,
            text,
            tool_calls,
            finish_reason,
            usage,
            ..
        }) => Decoded::Ok {
            model,
            text,
            tool_calls: tool_calls
                .into_iter()
                .map(|c| (c.id, c.name, c.arguments))
                .collect(),
            finish: format!("{finish_reason:?}"),
            usage: (usage.input_tokens, usage.output_tokens, usage.estimated),
        },
        Err(e) => Decoded::Err(e),
    };
    (decoded, events)
}

/// `data` is `[seed][SSE body…]`: an odd seed decodes as Anthropic, an even one as
/// OpenAI-compatible; the seed also picks how the body is chunked.
///
/// - the outcome does not depend on where the network split the body (one chunk versus
///   many, down to single bytes);
/// - on success, the streamed text deltas add up to exactly the final text, and each tool
///   call's streamed argument fragments to exactly its arguments.
pub fn sse(data: &[u8]) {
    let Some((&seed, body)) = data.split_first() else {
        return;
    };
    let kind = if seed % 2 == 1 {
        ProviderKind::Anthropic
    } else {
        ProviderKind::OpenAiCompatible
    };
    let config = ProviderConfig::new("fuzz", kind, "fuzz-model");
    let (whole, whole_events) = decode(&config, vec![body.to_vec()]);
    let (split, split_events) = decode(&config, chunked(body, &sizes_from(seed / 2)));
    assert_eq!(whole, split, "the outcome depends on chunk boundaries");
    for events in [&whole_events, &split_events] {
        let Decoded::Ok {
            text, tool_calls, ..
        } = &whole
        else {
            continue;
        };
        let streamed: String = events
            .iter()
            .filter_map(|e| match e {
                StreamEvent::Text(t) => Some(t.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(&streamed, text, "text deltas must add up to the text");
        let mut calls: Vec<(String, String, String)> = Vec::new();
        for event in events.iter() {
            match event {
                // A start for a call already seen (OpenAI names a call late, a broken
                // server repeats a block) fills in what is still missing, as the fold does.
                StreamEvent::ToolCallStart { index, id, name } => match calls.get_mut(*index) {
                    Some(call) => {
                        if call.0.is_empty() {
                            call.0.clone_from(id);
                        }
                        if call.1.is_empty() {
                            call.1.clone_from(name);
                        }
                    }
                    None => {
                        assert_eq!(*index, calls.len(), "tool calls are numbered densely");
                        calls.push((id.clone(), name.clone(), String::new()));
                    }
                },
                StreamEvent::ToolArguments { index, fragment } => calls
                    .get_mut(*index)
                    .expect("arguments follow their tool call's start")
                    .2
                    .push_str(fragment),
                StreamEvent::Text(_) => {}
            }
        }
        assert_eq!(
            &calls, tool_calls,
            "tool-call deltas must add up to the calls"
        );
    }
}

/// Parses JSON like `serde_json`, but refuses duplicate keys, whose meaning differs between
/// parsers (serde_json keeps the last, a streaming reader commits to the first).
struct Strict(Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Value;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("JSON without duplicate keys")
            }
            fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
                Ok(Value::Bool(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
                Ok(Value::from(v))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
                Ok(Value::from(v))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
                Ok(Value::from(v))
            }
            fn visit_str<E>(self, v: &str) -> Result<Value, E> {
                Ok(Value::String(v.to_owned()))
            }
            fn visit_unit<E>(self) -> Result<Value, E> {
                Ok(Value::Null)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
                let mut items = Vec::new();
                while let Some(Strict(v)) = seq.next_element()? {
                    items.push(v);
                }
                Ok(Value::Array(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
                let mut out = Map::new();
                while let Some((k, Strict(v))) = map.next_entry::<String, Strict>()? {
                    if out.insert(k, v).is_some() {
                        return Err(serde::de::Error::custom("duplicate key"));
                    }
                }
                Ok(Value::Object(out))
            }
        }
        d.deserialize_any(V).map(Strict)
    }
}

/// The reply text a correct reader must find in a parsed document: `text` of the first
/// `actions[]` object whose `type` is `"reply"` and whose `text` is a string.
fn expected_reply(doc: &Value) -> Option<&str> {
    doc.get("actions")?
        .as_array()?
        .iter()
        .filter(|a| a.get("type").and_then(Value::as_str) == Some("reply"))
        .find_map(|a| a.get("text").and_then(Value::as_str))
}

struct ReaderRun {
    value: String,
    found: bool,
    complete: bool,
    truncated: bool,
    error: Option<&'static str>,
}

/// Feeds `chunks`, checking after each one that the deltas returned so far add up to the
/// value (the reader only ever appends) and that the value is a prefix of `final_value`.
fn read(chunks: &[&[u8]], final_value: Option<&str>) -> ReaderRun {
    let mut reader = PartialJsonReader::new(FieldTarget::reply_text());
    let mut emitted = String::new();
    for chunk in chunks {
        emitted.push_str(&reader.feed(chunk));
        assert_eq!(emitted, reader.value(), "deltas must add up to the value");
        if let Some(final_value) = final_value {
            assert!(
                final_value.starts_with(reader.value()),
                "text shown while streaming ({:?}) must be a prefix of the final text ({final_value:?})",
                reader.value()
            );
        }
    }
    assert!(reader.value().len() <= MAX_VALUE_BYTES);
    ReaderRun {
        found: reader.is_found(),
        complete: reader.is_complete(),
        truncated: reader.is_truncated(),
        error: reader.error(),
        value: reader.into_value(),
    }
}

/// `data` is `[seed][document…]`; the seed picks how the document is chunked.
///
/// - the reader's result does not depend on chunk boundaries, and the reply text shown
///   while streaming is always a prefix of the final text;
/// - on a document `serde_json` accepts (without duplicate keys), the reader finds exactly
///   the reply text a full parse finds (also in its compact and pretty re-serialisations);
/// - target paths of any shape parse or fail without panicking.
pub fn partial_json(data: &[u8]) {
    let Some((&seed, doc)) = data.split_first() else {
        return;
    };
    let whole = read(&[doc], None);
    let chunks = chunked(doc, &sizes_from(seed));
    let chunk_refs: Vec<&[u8]> = chunks.iter().map(Vec::as_slice).collect();
    let split = read(&chunk_refs, Some(&whole.value));
    assert_eq!(
        split.value, whole.value,
        "the value depends on chunk boundaries"
    );
    assert_eq!(
        (split.found, split.complete, split.truncated, split.error),
        (whole.found, whole.complete, whole.truncated, whole.error),
        "the reader's state depends on chunk boundaries"
    );
    if whole.complete {
        assert!(whole.found);
    }

    if let Ok(Strict(parsed)) = serde_json::from_slice::<Strict>(doc) {
        let expected = expected_reply(&parsed);
        let too_deep = whole.error == Some("nesting too deep");
        if !too_deep && expected.is_none_or(|t| t.len() <= MAX_VALUE_BYTES) {
            assert_eq!(
                whole.complete.then_some(whole.value.as_str()),
                expected,
                "the streaming reader and a full parse disagree on the reply text"
            );
            for form in [
                serde_json::to_string(&parsed).expect("serialises"),
                serde_json::to_string_pretty(&parsed).expect("serialises"),
            ] {
                let again = read(&[form.as_bytes()], None);
                assert_eq!(again.complete.then_some(again.value.as_str()), expected);
            }
        }
    }

    let path = String::from_utf8_lossy(&doc[..doc.len().min(48)]);
    let _ = FieldTarget::parse(&path);
}
