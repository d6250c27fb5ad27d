//! Overhead of the streaming path: SSE bytes → provider decoder → partial JSON reader →
//! stream hub → operator subscription.
//!
//! Two measurements:
//! - latency, chunk fed → delta readable by a subscriber, one token per chunk, reported as
//!   p50/p99 by a custom loop (criterion reports means, not tails);
//! - CPU time to push 1,000 tokens through the whole path (criterion, plus process CPU
//!   time from /proc for the custom loop).
//!
//! Everything runs on a current-thread runtime, so the numbers are pure processing cost
//! plus one task switch; HTTP is excluded (it is the kernel's and hyper's cost, not ours).

use std::io;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{black_box, Criterion};
use switchboard_llm::stream_hub::json_field_sink;
use switchboard_llm::wire::decode_body;
use switchboard_llm::{
    ChatRequest, FieldTarget, HubEvent, Message, ProviderConfig, ProviderKind, RunStream,
};
use tokio::sync::mpsc;

const TOKENS: usize = 1000;
/// Only the SSE providers are measured here; the local provider has no wire format.
const NO_WIRE: &str = "the local provider has no SSE format to replay";

fn config(kind: ProviderKind) -> ProviderConfig {
    ProviderConfig::new("bench", kind, "m")
}

fn request() -> ChatRequest {
    ChatRequest::new(vec![Message::user("hola")])
}

/// The event carrying one JSON fragment, in each provider's format.
fn event(kind: ProviderKind, fragment: &str) -> String {
    let fragment = serde_json::to_string(fragment).unwrap();
    match kind {
        ProviderKind::OpenAiCompatible => format!(
            "data: {{\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"model\":\"m\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":{fragment}}},\"finish_reason\":null}}]}}\n\n"
        ),
        ProviderKind::Anthropic => format!(
            "event: content_block_delta\ndata: {{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{{\"type\":\"text_delta\",\"text\":{fragment}}}}}\n\n"
        ),
        ProviderKind::Local => unreachable!("{NO_WIRE}"),
    }
}

fn prologue(kind: ProviderKind) -> Vec<String> {
    match kind {
        ProviderKind::OpenAiCompatible => vec![event(kind, r#"{"actions":[{"type":"reply","text":""#)],
        ProviderKind::Anthropic => vec![
            "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"model\":\"m\",\"usage\":{\"input_tokens\":5,\"output_tokens\":1}}}\n\n".into(),
            "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n".into(),
            event(kind, r#"{"actions":[{"type":"reply","text":""#),
        ],
        ProviderKind::Local => unreachable!("{NO_WIRE}"),
    }
}

fn epilogue(kind: ProviderKind) -> Vec<String> {
    let close = event(kind, r#""}]}"#);
    match kind {
        ProviderKind::OpenAiCompatible => vec![
            close,
            "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":1000}}\n\n".into(),
            "data: [DONE]\n\n".into(),
        ],
        ProviderKind::Anthropic => vec![
            close,
            "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":1000}}\n\n".into(),
            "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n".into(),
        ],
        ProviderKind::Local => unreachable!("{NO_WIRE}"),
    }
}

/// Spanish-ish tokens with accents, an escape and an emoji now and then.
fn token(i: usize) -> &'static str {
    const WORDS: [&str; 8] = [
        " hola", " café", " ¿qué", " tal?", "\n", " \"sí\"", " 🎉", " mañana",
    ];
    WORDS[i % WORDS.len()]
}

/// A token as the model writes it inside the JSON string (escaped).
fn token_event(kind: ProviderKind, i: usize) -> Bytes {
    let quoted = serde_json::to_string(token(i)).unwrap();
    Bytes::from(event(kind, &quoted[1..quoted.len() - 1]))
}

fn whole_stream(kind: ProviderKind) -> Vec<Bytes> {
    let mut chunks: Vec<Bytes> = prologue(kind).into_iter().map(Bytes::from).collect();
    chunks.extend((0..TOKENS).map(|i| token_event(kind, i)));
    chunks.extend(epilogue(kind).into_iter().map(Bytes::from));
    chunks
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap()
}

/// Feeds one chunk at a time and waits for the subscriber to see its delta.
fn latencies(kind: ProviderKind, rt: &tokio::runtime::Runtime) -> Vec<Duration> {
    rt.block_on(async {
        let (tx, rx) = mpsc::unbounded_channel::<Bytes>();
        let body = Box::pin(futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|b| (Ok::<_, io::Error>(b), rx))
        }));
        let run = RunStream::new();
        let mut sub = run.subscribe();
        let sink = json_field_sink(run.clone(), FieldTarget::reply_text());
        let cfg = config(kind);
        let decoder = tokio::spawn(async move { decode_body(&cfg, &request(), body, sink).await });
        for chunk in prologue(kind) {
            tx.send(Bytes::from(chunk)).unwrap();
        }
        let mut out = Vec::with_capacity(TOKENS);
        for i in 0..TOKENS {
            let chunk = token_event(kind, i);
            let t0 = Instant::now();
            tx.send(chunk).unwrap();
            match sub.next().await {
                Some(HubEvent::Delta { text, .. }) => debug_assert_eq!(text, token(i)),
                other => panic!("unexpected {other:?}"),
            }
            out.push(t0.elapsed());
        }
        for chunk in epilogue(kind) {
            tx.send(Bytes::from(chunk)).unwrap();
        }
        decoder.await.unwrap().unwrap();
        out
    })
}

/// Runs the whole 1,000-token stream through decoder, reader and hub.
fn push_1000(kind: ProviderKind, rt: &tokio::runtime::Runtime, chunks: &[Bytes]) -> usize {
    rt.block_on(async {
        let run = RunStream::new();
        let mut sub = run.subscribe();
        let sink = json_field_sink(run.clone(), FieldTarget::reply_text());
        let body = futures_util::stream::iter(chunks.iter().cloned().map(Ok::<_, io::Error>));
        let completion = decode_body(&config(kind), &request(), body, sink)
            .await
            .unwrap();
        black_box(&completion);
        match sub.try_next() {
            Some(HubEvent::Delta { text, .. }) => text.len(),
            _ => 0,
        }
    })
}

/// User+system CPU time of this process, from /proc (Linux); `None` elsewhere.
fn process_cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // USER_HZ is 100 on every Linux configuration that matters.
    Some(Duration::from_millis(ticks * 10))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn report(quick: bool) {
    let rt = runtime();
    for kind in [ProviderKind::OpenAiCompatible, ProviderKind::Anthropic] {
        let rounds = if quick { 1 } else { 20 };
        let mut all = Vec::new();
        for _ in 0..rounds {
            all.extend(latencies(kind, &rt));
        }
        all.sort_unstable();
        println!(
            "{kind:?}: chunk fed -> subscriber delta, {} samples: p50 {:?}, p99 {:?}, max {:?}",
            all.len(),
            percentile(&all, 0.50),
            percentile(&all, 0.99),
            all[all.len() - 1]
        );

        let chunks = whole_stream(kind);
        let iterations = if quick { 2 } else { 300 };
        let cpu0 = process_cpu_time();
        let wall0 = Instant::now();
        for _ in 0..iterations {
            black_box(push_1000(kind, &rt, &chunks));
        }
        let wall = wall0.elapsed() / iterations;
        match (cpu0, process_cpu_time()) {
            (Some(a), Some(b)) => println!(
                "{kind:?}: per 1,000 tokens: CPU {:?}, wall {:?} ({iterations} runs)",
                (b - a) / iterations,
                wall
            ),
            _ => println!("{kind:?}: per 1,000 tokens: wall {wall:?} ({iterations} runs)"),
        }
    }
}

fn benches(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("decode_1000_tokens");
    for kind in [ProviderKind::OpenAiCompatible, ProviderKind::Anthropic] {
        let chunks = whole_stream(kind);
        group.bench_function(format!("{kind:?}"), |b| {
            b.iter(|| push_1000(kind, &rt, &chunks))
        });
    }
    group.finish();
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` does not and only smoke-tests.
    let quick = !std::env::args().any(|a| a == "--bench");
    report(quick);
    let mut c = Criterion::default().configure_from_args();
    benches(&mut c);
    c.final_summary();
}
