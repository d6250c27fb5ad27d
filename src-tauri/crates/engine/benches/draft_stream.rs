//! The engine path of a live draft: a chunk written on the model's socket → an operator's
//! `token_delta`.
//!
//! A fake OpenAI-compatible server on loopback streams a reply one token per SSE chunk,
//! each chunk released by the bench. The engine runs a real pipeline run against it
//! (`Engine::run_conversation`: reqwest, the SSE decoder, the partial JSON reader, the run's
//! stream hub) and an operator subscription (`Engine::live_events`, what `/api/events` and
//! the desktop Channel forward) reads the deltas. Reported:
//! - latency from the chunk being handed to the server's socket to the subscriber holding
//!   its delta, p50/p99 over 1,000-token runs (criterion reports means, not tails);
//! - process CPU per 1,000 tokens streamed as fast as the socket allows, with the same
//!   measured for the HTTP floor (server → reqwest, bytes read and dropped), so the
//!   engine's own share is the difference.
//!
//! The runtime has 2 worker threads, as `switchboard serve` has on 2 cores.

use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use bytes::Bytes;
use criterion::Criterion;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use switchboard_core::config::{ProviderEntry, ProviderKind};
use switchboard_core::secrets::MemorySecrets;
use switchboard_core::{Config, Event, SystemClock};
use switchboard_engine::sandbox::SimulatedMessage;
use switchboard_engine::{Engine, EngineOptions};
use tokio::sync::mpsc;

const TOKENS: usize = 1000;

/// Where the next completion's chunks come from: one receiver per request.
#[derive(Clone, Default)]
struct Fake {
    next: Arc<Mutex<Option<mpsc::UnboundedReceiver<Bytes>>>>,
}

async fn complete(State(fake): State<Fake>) -> Response {
    let Some(rx) = fake.next.lock().unwrap().take() else {
        return Response::builder()
            .status(400)
            .header("content-type", "application/json")
            .body(Body::from(
                r#"{"error":{"message":"nothing scripted","type":"invalid_request_error"}}"#,
            ))
            .unwrap();
    };
    let body = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<_, std::io::Error>(b), rx))
    });
    Response::builder()
        .header("content-type", "text/event-stream")
        .body(Body::from_stream(body))
        .unwrap()
}

fn sse(content: &str) -> Bytes {
    let value = serde_json::json!({"id":"c","object":"chat.completion.chunk","model":"m",
        "choices":[{"index":0,"delta":{"content":content},"finish_reason":null}]});
    Bytes::from(format!("data: {value}\n\n"))
}

fn prologue() -> Bytes {
    sse(r#"{"actions":[{"type":"reply","text":""#)
}

fn epilogue() -> Vec<Bytes> {
    vec![
        sse(r#""}],"reasoning":"r","confidence":0.9}"#),
        Bytes::from_static(b"data: {\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":1000}}\n\n"),
        Bytes::from_static(b"data: [DONE]\n\n"),
    ]
}

/// Word-ish tokens with accents and an emoji.
fn token(i: usize) -> &'static str {
    const WORDS: [&str; 8] = [
        " hola", " café", " qué", " tal", " sí", " 🎉", " mañana", " bien",
    ];
    WORDS[i % WORDS.len()]
}

struct Bench {
    engine: Engine,
    fake: Fake,
    base: String,
    customer: usize,
    _dir: tempfile::TempDir,
}

async fn setup() -> Bench {
    let fake = Fake::default();
    let app = axum::Router::new()
        .route("/v1/chat/completions", axum::routing::post(complete))
        .with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/v1", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let mut config = Config::default();
    config.pipeline.quiet_period_ms = 0;
    // 1,000 tokens make a reply longer than the schema allows: the run then escalates at
    // once instead of asking the fake for a corrected answer. The stream is what is measured.
    config.pipeline.max_corrective_retries = 0;
    config.llm.providers.push(ProviderEntry {
        name: "bench".into(),
        kind: ProviderKind::OpenaiCompatible,
        base_url: base.clone(),
        model: "m".into(),
        api_key_env: Some("SWITCHBOARD_BENCH_UNSET_KEY".into()),
        json_schema: true,
        tools: false,
        json_mode: false,
        context_length: Some(8192),
        price_in_per_mtok: None,
        price_out_per_mtok: None,
    });
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::start(EngineOptions {
        config,
        data_dir: dir.path().to_path_buf(),
        secrets: Arc::new(MemorySecrets::default()),
        clock: Arc::new(SystemClock),
    })
    .unwrap();
    Bench {
        engine,
        fake,
        base,
        customer: 0,
        _dir: dir,
    }
}

impl Bench {
    /// A new customer message, and a run of it whose model stream the caller feeds.
    async fn start_run(&mut self) -> (mpsc::UnboundedSender<Bytes>, tokio::task::JoinHandle<()>) {
        self.customer += 1;
        self.engine
            .sandbox_customer_writes(SimulatedMessage {
                from: format!("521551{:07}", self.customer),
                name: None,
                text: "hola".into(),
            })
            .await
            .unwrap();
        self.engine.process_inbox().await.unwrap();
        let conversation = self.engine.take_pending_conversations()[0];
        let (tx, rx) = mpsc::unbounded_channel();
        *self.fake.next.lock().unwrap() = Some(rx);
        let engine = self.engine.clone();
        let run = tokio::spawn(async move {
            engine.run_conversation(conversation).await.unwrap();
        });
        (tx, run)
    }
}

/// Waits for the next delta of the draft and returns its text.
async fn next_delta(live: &mut switchboard_engine::LiveEvents) -> String {
    loop {
        match live.next().await.expect("live stream") {
            Event::TokenDelta { text, .. } | Event::Draft { text, .. } if !text.is_empty() => {
                return text
            }
            _ => {}
        }
    }
}

/// One token per chunk, each released after the previous delta arrived.
async fn latencies(bench: &mut Bench) -> Vec<Duration> {
    let mut live = bench.engine.live_events();
    let (tx, run) = bench.start_run().await;
    tx.send(prologue()).unwrap();
    let mut out = Vec::with_capacity(TOKENS);
    for i in 0..TOKENS {
        let chunk = sse(token(i));
        let t0 = Instant::now();
        tx.send(chunk).unwrap();
        let text = next_delta(&mut live).await;
        out.push(t0.elapsed());
        debug_assert_eq!(text, token(i));
    }
    for chunk in epilogue() {
        tx.send(chunk).unwrap();
    }
    drop(tx);
    run.await.unwrap();
    out
}

/// A whole 1,000-token run as fast as it goes; the subscriber reads every delta.
async fn run_1000(bench: &mut Bench) -> usize {
    let mut live = bench.engine.live_events();
    let (tx, run) = bench.start_run().await;
    tx.send(prologue()).unwrap();
    for i in 0..TOKENS {
        tx.send(sse(token(i))).unwrap();
    }
    for chunk in epilogue() {
        tx.send(chunk).unwrap();
    }
    drop(tx);
    let mut bytes = 0;
    loop {
        match live.next().await.expect("live stream") {
            Event::TokenDelta { text, .. } => bytes += text.len(),
            Event::RunFinished { .. } => break,
            _ => {}
        }
    }
    run.await.unwrap();
    bytes
}

/// The same 1,000 chunks from the same server to a plain reqwest client that drops them.
async fn floor_1000(bench: &Bench, client: &reqwest::Client) -> usize {
    let (tx, rx) = mpsc::unbounded_channel();
    *bench.fake.next.lock().unwrap() = Some(rx);
    tx.send(prologue()).unwrap();
    for i in 0..TOKENS {
        tx.send(sse(token(i))).unwrap();
    }
    for chunk in epilogue() {
        tx.send(chunk).unwrap();
    }
    drop(tx);
    let mut response = client
        .post(format!("{}/chat/completions", bench.base))
        .body("{}")
        .send()
        .await
        .unwrap();
    let mut bytes = 0;
    while let Some(chunk) = response.chunk().await.unwrap() {
        bytes += chunk.len();
    }
    bytes
}

/// User+system CPU time of this process, from /proc (Linux); `None` elsewhere.
fn process_cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn report(quick: bool, rt: &tokio::runtime::Runtime, bench: &mut Bench) {
    let rounds = if quick { 1 } else { 10 };
    let mut all = Vec::new();
    for _ in 0..rounds {
        all.extend(rt.block_on(latencies(bench)));
    }
    all.sort_unstable();
    println!(
        "engine path: chunk on the socket -> live_events delta, {} samples: p50 {:?}, p99 {:?}, max {:?}",
        all.len(),
        percentile(&all, 0.50),
        percentile(&all, 0.99),
        all[all.len() - 1]
    );

    let iterations: u32 = if quick { 2 } else { 40 };
    let client = reqwest::Client::new();
    for (name, engine_path) in [("engine path", true), ("HTTP floor", false)] {
        let cpu0 = process_cpu_time();
        let wall0 = Instant::now();
        for _ in 0..iterations {
            let n = if engine_path {
                rt.block_on(run_1000(bench))
            } else {
                rt.block_on(floor_1000(bench, &client))
            };
            criterion::black_box(n);
        }
        let wall = wall0.elapsed() / iterations;
        match (cpu0, process_cpu_time()) {
            (Some(a), Some(b)) => println!(
                "{name}: per 1,000 tokens: CPU {:?}, wall {wall:?} ({iterations} runs)",
                (b - a) / iterations
            ),
            _ => println!("{name}: per 1,000 tokens: wall {wall:?} ({iterations} runs)"),
        }
    }
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` does not and only smoke-tests.
    let quick = !std::env::args().any(|a| a == "--bench");
    let rt = runtime();
    let mut bench = rt.block_on(setup());
    report(quick, &rt, &mut bench);
    let mut c = Criterion::default().configure_from_args();
    c.bench_function("engine_run_1000_tokens", |b| {
        b.iter(|| rt.block_on(run_1000(&mut bench)))
    });
    c.final_summary();
}
