//! Webhook ingest over loopback: how many signed WhatsApp webhooks per second the real
//! server stores durably, and how long each POST waits for its 200.
//!
//! The server is the production one: `switchboard_api::router` over an `Engine` in live mode
//! on a temporary data directory (SQLite in WAL mode with `synchronous=FULL`, one writer
//! thread with group commit), served by `switchboard_api::serve` on `127.0.0.1:0`, with the
//! inbox processor running (`spawn_workers`) as in production. The client is reqwest on its
//! own multi-thread runtime over keep-alive connections, in two ways:
//! - closed loop: N requests in flight, each sent as soon as the previous one answered
//!   (capacity; latency is then mostly queueing, about N / throughput);
//! - open loop: requests start on a fixed schedule (default 5,000/s, the target), which is
//!   how Meta delivers; a request that must wait for a free slot counts from its scheduled
//!   time.
//!
//! Each request is a copy of `inbound/text.json` from the fixture corpus with a unique wamid,
//! signed with the fixture app secret; bodies and signatures are made before the clock
//! starts. Latency is measured from send to the 200 (response body read).
//!
//! Client and server share the machine's cores, so on a 2-core machine these figures are a
//! floor for a server that has the machine to itself.
//!
//! After each run the rows of `webhook_inbox` are counted with a fresh SQLite connection once
//! the server has stopped: every 200 must be a stored row, or the bench fails.
//!
//! Besides the full path it measures, to show where the time goes:
//! - `engine only`: `Engine::receive_webhook` called directly (no HTTP): verify, parse, store;
//! - `HTTP floor`: the same client and axum server, but the handler only verifies and parses
//!   (nothing is stored): the cost of HTTP over loopback on the shared cores;
//! - the device's `fdatasync` latency in the data directory;
//! - CPU time per thread group (server runtime, store writer, client) from `/proc`;
//! - optionally (`BENCH_MICRO`, on by default) a criterion micro-benchmark of
//!   `webhook::receive` (signature verification + parse) per body.
//!
//! Settings (environment variables):
//! - `BENCH_CONCURRENCY`: comma-separated requests in flight, one run each (default `1,64,128`)
//! - `BENCH_RATE`: comma-separated offered rates (requests/s), one open-loop run each
//!   (default `5000`, the target; empty for none); `BENCH_RATE_IN_FLIGHT` caps the
//!   requests outstanding in those runs (default 256)
//! - `BENCH_MESSAGES`: measured requests per run (default 20000)
//! - `BENCH_WARMUP`: requests before the clock starts (default 1000)
//! - `BENCH_SEQ_MESSAGES`, `BENCH_SEQ_WARMUP`: the same for concurrency 1 (default 2000, 200)
//! - `BENCH_SERVER_THREADS`, `BENCH_CLIENT_THREADS`: runtime workers (default 2 each; the
//!   server's default is what `tokio::runtime::Runtime::new` gives on 2 cores, as in `serve`)
//! - `BENCH_DATA_DIR`: where the temporary data directories go (default the system temp
//!   dir); `/dev/shm` takes the disk (and fsync) out of the measurement
//! - `BENCH_PROCESSOR`: `0` to run without the inbox processor (default `1`)
//! - `BENCH_BREAKDOWN`: `0` to skip the engine-only and HTTP-floor runs (default `1`)
//! - `BENCH_MICRO`: `0` to skip the criterion micro-benchmark (default `1`)
//! - `BENCH_DRAIN_TIMEOUT_S`: how long to wait for the processor to catch up (default 120)

use std::collections::{BTreeMap, HashMap};
use std::hint::black_box;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::Criterion;
use switchboard_api::ApiAuth;
use switchboard_core::secrets::{MemorySecrets, SecretName, SecretStore};
use switchboard_core::{Config, Secret, SystemClock};
use switchboard_engine::{Engine, EngineOptions};
use switchboard_store::model::InboxSource;
use switchboard_whatsapp::webhook::{self, SIGNATURE_HEADER};
use tokio::runtime::Runtime;

const APP_SECRET: &str = "test-app-secret";
const PHONE_NUMBER_ID: &str = "487120593306718";
const FIXTURE_WAMID: &str = "wamid.HBgMNDQ3NzAwOTAwNDYxFQIAEhgUMUU5RTRFQ0IzMDMzOEU1Njk1NDQA";
const PATH: &str = "/webhooks/whatsapp";

// ---------------------------------------------------------------------------------------------
// Settings

struct Settings {
    concurrency: Vec<usize>,
    rates: Vec<usize>,
    rate_in_flight: usize,
    messages: usize,
    warmup: usize,
    seq_messages: usize,
    seq_warmup: usize,
    server_threads: usize,
    client_threads: usize,
    data_dir: Option<PathBuf>,
    processor: bool,
    breakdown: bool,
    micro: bool,
    drain_timeout: Duration,
}

fn env_usize(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a number")),
        Err(_) => default,
    }
}

/// A comma-separated list of positive numbers; empty (or `0`) for none.
fn env_list(name: &str, default: &str) -> Vec<usize> {
    std::env::var(name)
        .unwrap_or_else(|_| default.into())
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<usize>()
                .unwrap_or_else(|_| panic!("{name}: {s:?} is not a number"))
        })
        .filter(|&n| n > 0)
        .collect()
}

fn env_flag(name: &str, default: bool) -> bool {
    match std::env::var(name) {
        Ok(v) => !matches!(v.trim(), "0" | "false" | "no" | "off" | ""),
        Err(_) => default,
    }
}

impl Settings {
    fn from_env() -> Settings {
        Settings {
            concurrency: env_list("BENCH_CONCURRENCY", "1,64,128"),
            rates: env_list("BENCH_RATE", "5000"),
            rate_in_flight: env_usize("BENCH_RATE_IN_FLIGHT", 256).max(1),
            messages: env_usize("BENCH_MESSAGES", 20_000).max(1),
            warmup: env_usize("BENCH_WARMUP", 1_000),
            seq_messages: env_usize("BENCH_SEQ_MESSAGES", 2_000).max(1),
            seq_warmup: env_usize("BENCH_SEQ_WARMUP", 200),
            server_threads: env_usize("BENCH_SERVER_THREADS", 2).max(1),
            client_threads: env_usize("BENCH_CLIENT_THREADS", 2).max(1),
            data_dir: std::env::var_os("BENCH_DATA_DIR").map(PathBuf::from),
            processor: env_flag("BENCH_PROCESSOR", true),
            breakdown: env_flag("BENCH_BREAKDOWN", true),
            micro: env_flag("BENCH_MICRO", true),
            drain_timeout: Duration::from_secs(env_usize("BENCH_DRAIN_TIMEOUT_S", 120) as u64),
        }
    }

    /// (warm-up, measured) request counts for a run under `load`.
    fn counts(&self, load: Load) -> (usize, usize) {
        if matches!(load, Load::Closed(1)) {
            (self.seq_warmup, self.seq_messages)
        } else {
            (self.warmup, self.messages)
        }
    }

    fn data_parent(&self) -> PathBuf {
        self.data_dir.clone().unwrap_or_else(std::env::temp_dir)
    }
}

/// How the client offers requests.
#[derive(Clone, Copy)]
enum Load {
    /// Closed loop: this many requests in flight, each sent as soon as the last one answered.
    /// Measures capacity; latency is then mostly queueing (Little's law).
    Closed(usize),
    /// Open loop: requests start on a fixed schedule of `per_sec`, with at most
    /// `max_in_flight` outstanding. A request that starts late because every slot was busy
    /// counts its latency from its scheduled time (no coordinated omission).
    Rate {
        per_sec: usize,
        max_in_flight: usize,
    },
}

impl Load {
    fn slots(self) -> usize {
        match self {
            Load::Closed(n) => n,
            Load::Rate { max_in_flight, .. } => max_in_flight,
        }
    }

    fn label(self) -> String {
        match self {
            Load::Closed(n) => n.to_string(),
            Load::Rate {
                per_sec,
                max_in_flight,
            } => format!("{per_sec}/s offered (≤{max_in_flight})"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Requests

/// One signed webhook POST, made before the clock starts.
struct Request {
    body: Bytes,
    signature: String,
}

fn fixture_body() -> String {
    let dir = std::env::var_os("SWITCHBOARD_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            // `shared/` sits beside the repository; this crate is three levels down.
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../../shared/fixtures/whatsapp")
        });
    let path = dir.join("inbound/text.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read the fixture {} ({e}); set SWITCHBOARD_FIXTURES to the corpus",
            path.display()
        )
    });
    assert!(
        text.contains(FIXTURE_WAMID),
        "{} no longer holds the wamid this bench replaces",
        path.display()
    );
    text
}

/// `count` bodies, each a new message (a wamid of its own), each signed.
fn make_requests(template: &str, tag: &str, count: usize) -> Vec<Request> {
    (0..count)
        .map(|i| {
            let body = template.replace(FIXTURE_WAMID, &format!("wamid.BENCH{tag}{i:010}"));
            let signature = webhook::sign(APP_SECRET.as_bytes(), body.as_bytes());
            Request {
                body: Bytes::from(body),
                signature,
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// CPU time per thread group, from /proc/self/task/*/stat

const GROUPS: [&str; 4] = ["server", "writer", "client", "other"];

fn group_of(comm: &str) -> usize {
    match comm {
        "bench-srv" => 0,
        "store-writer" => 1,
        "bench-cli" => 2,
        _ => 3,
    }
}

/// Clock ticks (utime + stime) and group per thread id; empty where /proc is missing.
fn thread_ticks() -> HashMap<u64, (usize, u64)> {
    let mut out = HashMap::new();
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return out;
    };
    for task in tasks.flatten() {
        let Ok(tid) = task.file_name().to_string_lossy().parse::<u64>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let comm = &stat[open + 1..close];
        // Fields after the name start at field 3 (state); utime is 14 and stime 15.
        let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        let ticks = |i: usize| {
            fields
                .get(i)
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        out.insert(tid, (group_of(comm), ticks(11) + ticks(12)));
    }
    out
}

/// CPU seconds per group between two snapshots (USER_HZ is 100 on Linux).
fn cpu_between(
    before: &HashMap<u64, (usize, u64)>,
    after: &HashMap<u64, (usize, u64)>,
) -> [f64; 4] {
    let mut secs = [0.0; 4];
    for (tid, (group, ticks)) in after {
        let earlier = before.get(tid).map(|(_, t)| *t).unwrap_or(0);
        secs[*group] += ticks.saturating_sub(earlier) as f64 / 100.0;
    }
    secs
}

// ---------------------------------------------------------------------------------------------
// Results

#[derive(Default)]
struct Outcome {
    ok: usize,
    /// Anything but a 200, by status or client error.
    errors: BTreeMap<String, usize>,
    /// Send → 200, for the 200s only.
    latencies: Vec<Duration>,
    elapsed: Duration,
}

impl Outcome {
    fn merge(&mut self, other: Outcome) {
        self.ok += other.ok;
        for (k, v) in other.errors {
            *self.errors.entry(k).or_default() += v;
        }
        self.latencies.extend(other.latencies);
    }

    fn failed(&self) -> usize {
        self.errors.values().sum()
    }
}

struct Row {
    scenario: String,
    load: Load,
    outcome: Outcome,
    cpu: [f64; 4],
    /// Bodies still pending when the measured requests ended, and the seconds the processor
    /// then took to finish them.
    drain: Option<(i64, Option<f64>)>,
    stored: Option<i64>,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1e3)
}

impl Row {
    fn rate(&self) -> f64 {
        self.outcome.ok as f64 / self.outcome.elapsed.as_secs_f64().max(1e-9)
    }

    fn print_line(&self) {
        let l = &self.outcome.latencies;
        println!(
            "  {:<34} {:<12} {:>7} ok {:>4} failed in {:>6.2} s: {:>8.0} msg/s  p50 {} ms  p90 {} ms  p99 {} ms  max {} ms",
            self.scenario,
            format!("in flight {}", self.load.label()),
            self.outcome.ok,
            self.outcome.failed(),
            self.outcome.elapsed.as_secs_f64(),
            self.rate(),
            ms(percentile(l, 0.50)),
            ms(percentile(l, 0.90)),
            ms(percentile(l, 0.99)),
            ms(percentile(l, 1.0)),
        );
        if !self.outcome.errors.is_empty() {
            println!("      not 200: {:?}", self.outcome.errors);
        }
        let wall = self.outcome.elapsed.as_secs_f64().max(1e-9);
        let cpu: Vec<String> = GROUPS
            .iter()
            .zip(self.cpu)
            .map(|(name, secs)| format!("{name} {:.0}%", secs / wall * 100.0))
            .collect();
        println!(
            "      CPU while measuring (100% = one core): {}",
            cpu.join(", ")
        );
        if let Some((pending, drained)) = self.drain {
            match drained {
                Some(secs) => println!(
                    "      processor: {pending} bodies still pending at the end, done {secs:.1} s later ({:.0}/s)",
                    pending as f64 / secs.max(1e-9)
                ),
                None => println!(
                    "      processor: {pending} bodies still pending at the end, not done within the drain timeout"
                ),
            }
        }
        if let Some(rows) = self.stored {
            println!("      webhook_inbox rows after shutdown: {rows}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Server side

fn server_runtime(settings: &Settings) -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(settings.server_threads)
        .thread_name("bench-srv")
        .enable_all()
        .build()
        .expect("server runtime")
}

fn client_runtime(settings: &Settings) -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(settings.client_threads)
        .thread_name("bench-cli")
        .enable_all()
        .build()
        .expect("client runtime")
}

/// An engine in live mode with the fixture corpus's secrets, as `TestServer::start_live`.
fn start_engine(settings: &Settings, rt: &Runtime) -> (Engine, tempfile::TempDir) {
    let parent = settings.data_parent();
    let dir = tempfile::Builder::new()
        .prefix("switchboard-bench-")
        .tempdir_in(&parent)
        .unwrap_or_else(|e| panic!("temp dir in {}: {e}", parent.display()));
    let mut config = Config::default();
    config.whatsapp.phone_number_id = PHONE_NUMBER_ID.into();
    let secrets = MemorySecrets::default();
    for (name, value) in [
        (SecretName::WhatsAppAppSecret, APP_SECRET),
        (SecretName::WhatsAppVerifyToken, "test-verify-token"),
        (SecretName::WhatsAppAccessToken, "test-access-token"),
    ] {
        secrets.set(&name, &Secret::new(value)).expect("secret");
    }
    let engine = Engine::start(EngineOptions {
        config,
        data_dir: dir.path().to_path_buf(),
        secrets: Arc::new(secrets),
        clock: Arc::new(SystemClock),
    })
    .expect("engine starts on an empty data directory");
    if settings.processor {
        let _guard = rt.enter();
        engine.spawn_workers();
    }
    (engine, dir)
}

/// Serves `app` on 127.0.0.1:0 in `rt`; returns the base URL and the shutdown trigger.
fn serve(rt: &Runtime, app: axum::Router) -> (String, tokio::sync::oneshot::Sender<()>) {
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind 127.0.0.1:0");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    rt.spawn(switchboard_api::serve(listener, app, async move {
        let _ = rx.await;
    }));
    (base, tx)
}

/// Rows of `webhook_inbox`, counted on a connection of our own.
fn count_rows(db: &Path, filter: &str) -> i64 {
    let conn = rusqlite::Connection::open(db).expect("open the database");
    conn.busy_timeout(Duration::from_secs(5))
        .expect("busy timeout");
    conn.query_row(
        &format!("SELECT count(*) FROM webhook_inbox {filter}"),
        [],
        |r| r.get(0),
    )
    .expect("count webhook_inbox")
}

/// Waits for the processor to leave no body pending: (pending at start, seconds taken).
fn wait_for_processor(db: &Path, timeout: Duration) -> (i64, Option<f64>) {
    let start = Instant::now();
    let pending = count_rows(db, "WHERE state = 'pending'");
    let mut now_pending = pending;
    while now_pending > 0 {
        if start.elapsed() > timeout {
            return (pending, None);
        }
        std::thread::sleep(Duration::from_millis(50));
        now_pending = count_rows(db, "WHERE state = 'pending'");
    }
    (pending, Some(start.elapsed().as_secs_f64()))
}

// ---------------------------------------------------------------------------------------------
// Client side

/// Sends `requests` over HTTP under `load`.
async fn drive_http(
    client: reqwest::Client,
    url: String,
    requests: Arc<Vec<Request>>,
    load: Load,
) -> Outcome {
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let tasks: Vec<_> = (0..load.slots())
        .map(|_| {
            let (client, url, requests, next) =
                (client.clone(), url.clone(), requests.clone(), next.clone());
            tokio::spawn(async move {
                let mut out = Outcome::default();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(request) = requests.get(i) else {
                        return out;
                    };
                    let sent = match load {
                        Load::Closed(_) => Instant::now(),
                        Load::Rate { per_sec, .. } => {
                            let due = start + Duration::from_secs_f64(i as f64 / per_sec as f64);
                            if Instant::now() >= due {
                                // Every slot was busy: the wait is part of the latency.
                                due
                            } else {
                                // Timer slack (up to a millisecond) is not the server's.
                                tokio::time::sleep_until(due.into()).await;
                                Instant::now()
                            }
                        }
                    };
                    let result = client
                        .post(&url)
                        .header(SIGNATURE_HEADER, &request.signature)
                        .header("content-type", "application/json")
                        .body(request.body.clone())
                        .send()
                        .await;
                    match result {
                        Ok(response) => {
                            let status = response.status();
                            // Read the body so the connection goes back to the pool.
                            let _ = response.bytes().await;
                            if status == reqwest::StatusCode::OK {
                                out.latencies.push(sent.elapsed());
                                out.ok += 1;
                            } else {
                                *out.errors.entry(status.to_string()).or_default() += 1;
                            }
                        }
                        Err(e) => {
                            let kind = if e.is_timeout() {
                                "timeout"
                            } else {
                                "client error"
                            };
                            *out.errors.entry(kind.to_string()).or_default() += 1;
                        }
                    }
                }
            })
        })
        .collect();
    let mut outcome = Outcome::default();
    for task in tasks {
        outcome.merge(task.await.expect("client task"));
    }
    outcome.elapsed = start.elapsed();
    outcome.latencies.sort();
    outcome
}

/// Calls `Engine::receive_webhook` directly with `concurrency` calls in flight (no HTTP).
async fn drive_engine(engine: Engine, requests: Arc<Vec<Request>>, concurrency: usize) -> Outcome {
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let (engine, requests, next) = (engine.clone(), requests.clone(), next.clone());
            tokio::spawn(async move {
                let mut out = Outcome::default();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(request) = requests.get(i) else {
                        return out;
                    };
                    let sent = Instant::now();
                    match engine
                        .receive_webhook(
                            Some(&request.signature),
                            request.body.clone(),
                            InboxSource::WhatsApp,
                        )
                        .await
                    {
                        Ok(_) => {
                            out.latencies.push(sent.elapsed());
                            out.ok += 1;
                        }
                        Err(e) => {
                            *out.errors.entry(e.http_status().to_string()).or_default() += 1;
                        }
                    }
                }
            })
        })
        .collect();
    let mut outcome = Outcome::default();
    for task in tasks {
        outcome.merge(task.await.expect("engine task"));
    }
    outcome.elapsed = start.elapsed();
    outcome.latencies.sort();
    outcome
}

fn http_client(concurrency: usize) -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("HTTP client")
}

// ---------------------------------------------------------------------------------------------
// Runs

/// The production path: HTTP → router → engine → store, with the processor running.
fn run_full(settings: &Settings, template: &str, load: Load) -> Row {
    let (warmup, measured) = settings.counts(load);
    let server = server_runtime(settings);
    let (engine, dir) = start_engine(settings, &server);
    let db = dir.path().join("switchboard.db");
    let app = switchboard_api::router(
        engine.clone(),
        ApiAuth::new(Secret::new("bench-token-0123456789")),
        None,
    );
    let (base, shutdown) = serve(&server, app);
    let url = format!("{base}{PATH}");

    let tag = "F";
    let warm = Arc::new(make_requests(template, &format!("{tag}W"), warmup));
    let requests = Arc::new(make_requests(template, &format!("{tag}M"), measured));

    let client_rt = client_runtime(settings);
    let client = http_client(load.slots());
    // The warm-up is closed-loop: it opens the connections and warms the caches.
    let warm_outcome = client_rt.block_on(drive_http(
        client.clone(),
        url.clone(),
        warm,
        Load::Closed(load.slots()),
    ));
    let before = thread_ticks();
    let outcome = client_rt.block_on(drive_http(client, url, requests, load));
    let cpu = cpu_between(&before, &thread_ticks());

    let drain = settings
        .processor
        .then(|| wait_for_processor(&db, settings.drain_timeout));

    // Stop everything that holds the database, then count what is durably there.
    let _ = shutdown.send(());
    drop(client_rt);
    drop(engine);
    server.shutdown_timeout(Duration::from_secs(10));
    let stored = count_rows(&db, "");
    let acknowledged = (warm_outcome.ok + outcome.ok) as i64;
    assert_eq!(
        stored, acknowledged,
        "every 200 must be a stored row: {acknowledged} acknowledged, {stored} rows in webhook_inbox"
    );
    drop(dir);
    Row {
        scenario: "HTTP → engine → SQLite".into(),
        load,
        outcome,
        cpu,
        drain,
        stored: Some(stored),
    }
}

/// The engine without HTTP: verify, parse and the durable insert, called in-process.
fn run_engine_only(settings: &Settings, template: &str, concurrency: usize) -> Row {
    let (warmup, measured) = settings.counts(Load::Closed(concurrency));
    let server = server_runtime(settings);
    let (engine, dir) = start_engine(settings, &server);
    let db = dir.path().join("switchboard.db");
    let tag = format!("E{concurrency}x");
    let warm = Arc::new(make_requests(template, &format!("{tag}W"), warmup));
    let requests = Arc::new(make_requests(template, &format!("{tag}M"), measured));
    let warm_outcome = server.block_on(drive_engine(engine.clone(), warm, concurrency));
    let before = thread_ticks();
    let outcome = server.block_on(drive_engine(engine.clone(), requests, concurrency));
    let cpu = cpu_between(&before, &thread_ticks());
    drop(engine);
    server.shutdown_timeout(Duration::from_secs(10));
    let stored = count_rows(&db, "");
    assert_eq!(stored, (warm_outcome.ok + outcome.ok) as i64);
    drop(dir);
    Row {
        scenario: "engine only (no HTTP)".into(),
        load: Load::Closed(concurrency),
        outcome,
        cpu,
        drain: None,
        stored: Some(stored),
    }
}

/// HTTP with a handler that verifies and parses but stores nothing.
fn run_http_floor(settings: &Settings, template: &str, concurrency: usize) -> Row {
    async fn handler(headers: axum::http::HeaderMap, body: Bytes) -> axum::http::StatusCode {
        let signature = headers.get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok());
        match webhook::receive(APP_SECRET.as_bytes(), signature, &body) {
            Ok(_) => axum::http::StatusCode::OK,
            Err(_) => axum::http::StatusCode::BAD_REQUEST,
        }
    }
    let load = Load::Closed(concurrency);
    let (warmup, measured) = settings.counts(load);
    let server = server_runtime(settings);
    let app = axum::Router::new().route(PATH, axum::routing::post(handler));
    let (base, shutdown) = serve(&server, app);
    let url = format!("{base}{PATH}");
    let tag = format!("H{concurrency}x");
    let warm = Arc::new(make_requests(template, &format!("{tag}W"), warmup));
    let requests = Arc::new(make_requests(template, &format!("{tag}M"), measured));
    let client_rt = client_runtime(settings);
    let client = http_client(concurrency);
    client_rt.block_on(drive_http(client.clone(), url.clone(), warm, load));
    let before = thread_ticks();
    let outcome = client_rt.block_on(drive_http(client, url, requests, load));
    let cpu = cpu_between(&before, &thread_ticks());
    let _ = shutdown.send(());
    drop(client_rt);
    server.shutdown_timeout(Duration::from_secs(10));
    Row {
        scenario: "HTTP floor (verify+parse, no store)".into(),
        load,
        outcome,
        cpu,
        drain: None,
        stored: None,
    }
}

/// `fdatasync` latency of the device under the data directory: 4 KiB appended, then synced.
fn fsync_probe(settings: &Settings) -> Option<(Duration, Duration, Duration)> {
    let dir = tempfile::tempdir_in(settings.data_parent()).ok()?;
    let mut file = std::fs::File::create(dir.path().join("probe")).ok()?;
    let page = [7u8; 4096];
    let mut times = Vec::with_capacity(200);
    for _ in 0..200 {
        file.write_all(&page).ok()?;
        let start = Instant::now();
        file.sync_data().ok()?;
        times.push(start.elapsed());
    }
    times.sort();
    let mean = times.iter().sum::<Duration>() / times.len() as u32;
    Some((percentile(&times, 0.5), mean, percentile(&times, 0.99)))
}

fn micro(template: &str) {
    let request = make_requests(template, "C", 1).remove(0);
    let mut criterion = Criterion::default()
        .without_plots()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    criterion.bench_function("webhook::receive (verify + parse, text.json)", |b| {
        b.iter(|| {
            webhook::receive(
                black_box(APP_SECRET.as_bytes()),
                Some(black_box(request.signature.as_str())),
                black_box(&request.body),
            )
            .expect("a valid body")
        })
    });
    criterion.bench_function("webhook::verify (HMAC-SHA256 only, text.json)", |b| {
        b.iter(|| {
            webhook::verify(
                black_box(APP_SECRET.as_bytes()),
                Some(black_box(request.signature.as_str())),
                black_box(&request.body),
            )
            .expect("a valid signature")
            .as_bytes()
            .len()
        })
    });
    criterion.final_summary();
}

fn main() {
    let settings = Settings::from_env();
    let template = fixture_body();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "Webhook ingest over loopback (POST {PATH}, {} B body)",
        template.len()
    );
    println!(
        "  {cores} cores shared by client ({} threads) and server ({} runtime threads + store writer); data in {}{}",
        settings.client_threads,
        settings.server_threads,
        settings.data_parent().display(),
        if settings.processor { "; inbox processor on" } else { "; inbox processor OFF" },
    );
    if let Some((p50, mean, p99)) = fsync_probe(&settings) {
        println!(
            "  fdatasync on that device: p50 {} ms, mean {} ms, p99 {} ms",
            ms(p50),
            ms(mean),
            ms(p99)
        );
    }
    let _ = std::io::stdout().flush();

    let mut rows = Vec::new();
    let rates = settings.rates.iter().map(|&per_sec| Load::Rate {
        per_sec,
        max_in_flight: settings.rate_in_flight,
    });
    for load in settings
        .concurrency
        .iter()
        .map(|&c| Load::Closed(c))
        .chain(rates)
    {
        let row = run_full(&settings, &template, load);
        row.print_line();
        rows.push(row);
    }
    if settings.breakdown {
        for &c in &settings.concurrency {
            let row = run_engine_only(&settings, &template, c);
            row.print_line();
            rows.push(row);
            let row = run_http_floor(&settings, &template, c);
            row.print_line();
            rows.push(row);
        }
    }

    println!();
    println!("| scenario | in flight | msgs/s | p50 ms | p90 ms | p99 ms | max ms | not 200 |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for row in &rows {
        let l = &row.outcome.latencies;
        println!(
            "| {} | {} | {:.0} | {} | {} | {} | {} | {} |",
            row.scenario,
            row.load.label(),
            row.rate(),
            ms(percentile(l, 0.50)),
            ms(percentile(l, 0.90)),
            ms(percentile(l, 0.99)),
            ms(percentile(l, 1.0)),
            row.outcome.failed(),
        );
    }
    println!();
    let _ = std::io::stdout().flush();

    if settings.micro {
        micro(&template);
    }
}
