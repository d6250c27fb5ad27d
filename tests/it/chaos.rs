//! Chaos: the real binary is killed with SIGKILL at random moments while signed webhooks
//! from many customers arrive, a faulty model answers (429s, 500s, stalls, disconnects,
//! malformed JSON, a primary that dies for a while) and an operator approves replies (often
//! twice, like a double click). Afterwards, once drained: every webhook that got a 200 is
//! stored exactly once, every customer message has an outcome, no outbound message reached
//! the Graph API twice.
//!
//! Scale and seed come from the environment so `scripts/chaos` can run it longer:
//! `SWITCHBOARD_CHAOS_CUSTOMERS`, `_MESSAGES` (per customer), `_KILLS`, `_SEED`, and
//! `SWITCHBOARD_CHAOS_REPORT` (a file the counts are written to as JSON).

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use rand::{Rng, SeedableRng};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_switchboard");
const APP_SECRET: &str = "chaos-app-secret";
const PHONE_NUMBER_ID: &str = "487120593306718";
const TOKEN: &str = "chaos-operator-token";

struct Scale {
    customers: usize,
    messages: usize,
    kills: usize,
    seed: u64,
}

impl Scale {
    fn from_env() -> Scale {
        let var = |name: &str, default: u64| {
            std::env::var(format!("SWITCHBOARD_CHAOS_{name}"))
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(default)
        };
        Scale {
            customers: var("CUSTOMERS", 24) as usize,
            messages: var("MESSAGES", 4) as usize,
            kills: var("KILLS", 4) as usize,
            seed: var("SEED", 20261124),
        }
    }
}

// ---------------------------------------------------------------------------------------
// The engine process.

struct Engine {
    child: Child,
    address: String,
}

impl Engine {
    fn start(config: &std::path::Path, data: &std::path::Path, log: &std::path::Path) -> Engine {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap();
        let mut child = Command::new(BIN)
            .arg("serve")
            .arg("--config")
            .arg(config)
            .arg("--data-dir")
            .arg(data)
            .args(["--listen", "127.0.0.1:0"])
            .env("SWITCHBOARD_API_TOKEN", TOKEN)
            .env("SWITCHBOARD_WHATSAPP_APP_SECRET", APP_SECRET)
            .env("SWITCHBOARD_WHATSAPP_ACCESS_TOKEN", "chaos-graph-token")
            .env("SWITCHBOARD_WHATSAPP_VERIFY_TOKEN", "chaos-verify-token")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("the binary starts");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let line = lines
            .next()
            .and_then(Result::ok)
            .expect("serve prints its address");
        let address = line
            .trim()
            .strip_prefix("switchboard: listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_string();
        // Keep stdout drained for the process's life.
        std::thread::spawn(move || for _ in lines.map_while(Result::ok) {});
        Engine { child, address }
    }

    fn kill(mut self) {
        // SIGKILL: no shutdown handler runs, nothing is flushed.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------------------
// A fake Graph API: records every send, answers like Graph, reports statuses back through
// the engine's signed webhook (retrying while the engine is down, as Meta does).

#[derive(Clone, Default)]
struct FakeGraph {
    sends: Arc<Mutex<Vec<(String, String)>>>,
    engine_address: Arc<Mutex<String>>,
    next_id: Arc<AtomicU64>,
}

async fn graph_send(State(graph): State<FakeGraph>, body: Bytes) -> Response {
    let request: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    if request["type"] != "text" {
        // Mark-as-read and typing indicators: acknowledged, not counted as messages.
        return axum::Json(serde_json::json!({"success": true})).into_response();
    }
    let to = request["to"].as_str().unwrap_or_default().to_string();
    let text = request["text"]["body"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| request.to_string());
    let n = graph.next_id.fetch_add(1, Ordering::SeqCst);
    // Some sends are slow, so kills land while requests are in flight.
    if n % 5 == 0 {
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    graph.sends.lock().unwrap().push((to.clone(), text));
    let wamid = format!("wamid.chaos-out-{n}");
    let reporter = graph.clone();
    let (w, t) = (wamid.clone(), to.clone());
    tokio::spawn(async move { reporter.report_statuses(w, t).await });
    axum::Json(serde_json::json!({
        "messaging_product": "whatsapp",
        "contacts": [{"input": to, "wa_id": to}],
        "messages": [{"id": wamid}],
    }))
    .into_response()
}

impl FakeGraph {
    async fn report_statuses(self, wamid: String, to: String) {
        let client = reqwest::Client::new();
        for status in ["sent", "delivered"] {
            tokio::time::sleep(Duration::from_millis(150)).await;
            let body = serde_json::json!({
                "object": "whatsapp_business_account",
                "entry": [{"id": "318204957716342", "changes": [{"field": "messages", "value": {
                    "messaging_product": "whatsapp",
                    "metadata": {"display_phone_number": "12025550143", "phone_number_id": PHONE_NUMBER_ID},
                    "statuses": [{"id": wamid, "status": status, "timestamp": now_secs().to_string(), "recipient_id": to}]
                }}]}]
            })
            .to_string();
            for _ in 0..20 {
                let address = self.engine_address.lock().unwrap().clone();
                let signature =
                    switchboard_whatsapp::webhook::sign(APP_SECRET.as_bytes(), body.as_bytes());
                let ok = client
                    .post(format!("{address}/webhooks/whatsapp"))
                    .header("X-Hub-Signature-256", signature)
                    .body(body.clone())
                    .timeout(Duration::from_secs(3))
                    .send()
                    .await
                    .is_ok_and(|r| r.status() == 200);
                if ok {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// A faulty OpenAI-compatible model. Every fault is spoken on the wire: status codes with
// OpenAI error bodies, SSE streams that stall, stop without `[DONE]`, or carry bad JSON.

#[derive(Clone)]
struct FaultyModel {
    healthy: bool,
    rng: Arc<Mutex<rand::rngs::StdRng>>,
    dead: Arc<AtomicBool>,
    calls: Arc<AtomicU64>,
    faults: Arc<Mutex<BTreeMap<&'static str, u64>>>,
}

impl FaultyModel {
    fn new(healthy: bool, seed: u64) -> FaultyModel {
        FaultyModel {
            healthy,
            rng: Arc::new(Mutex::new(rand::rngs::StdRng::seed_from_u64(seed))),
            dead: Arc::default(),
            calls: Arc::default(),
            faults: Arc::default(),
        }
    }

    async fn start(self) -> String {
        let app = Router::new()
            .route("/v1/chat/completions", post(model_complete))
            .with_state(self);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}/v1", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        base
    }

    fn count(&self, fault: &'static str) {
        *self.faults.lock().unwrap().entry(fault).or_default() += 1;
    }
}

fn sse_chunk(content: &str) -> String {
    let value = serde_json::json!({"id":"c","object":"chat.completion.chunk","created":1,"model":"chaos",
        "choices":[{"index":0,"delta":{"content":content},"finish_reason":null}]});
    format!("data: {value}\n\n")
}

fn sse_stream(parts: Vec<String>, tail: Option<Duration>) -> Response {
    let stream = futures::StreamExt::then(futures::stream::iter(parts), |p| async move {
        tokio::time::sleep(Duration::from_millis(5)).await;
        Ok::<_, std::io::Error>(p)
    });
    let stream: futures::stream::BoxStream<'static, Result<String, std::io::Error>> = match tail {
        // A stall: the connection stays open and silent.
        Some(stall) => Box::pin(futures::StreamExt::chain(
            stream,
            futures::stream::once(async move {
                tokio::time::sleep(stall).await;
                Ok(String::new())
            }),
        )),
        None => Box::pin(stream),
    };
    Response::builder()
        .header("content-type", "text/event-stream")
        .body(Body::from_stream(stream))
        .unwrap()
}

fn error_status(code: u16, retry_after: bool) -> Response {
    let mut response = (
        StatusCode::from_u16(code).unwrap(),
        [("content-type", "application/json")],
        r#"{"error":{"message":"chaos","type":"server_error","code":null}}"#,
    )
        .into_response();
    if retry_after {
        response
            .headers_mut()
            .insert("retry-after", "1".parse().unwrap());
    }
    response
}

async fn model_complete(State(model): State<FaultyModel>, body: Bytes) -> Response {
    let seq = model.calls.fetch_add(1, Ordering::SeqCst);
    let request = String::from_utf8_lossy(&body);
    // The newest customer token in the request (the request layer comes last).
    let token = request
        .rmatch_indices("chaos-c")
        .next()
        .map(|(i, _)| {
            request[i..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                .collect::<String>()
        })
        .unwrap_or_else(|| "none".into());
    let answer = serde_json::json!({
        "actions": [{"type": "reply", "text": format!("Recibido {token} (respuesta {seq})")}],
        "reasoning": "The customer wrote; acknowledge it.",
        "confidence": 0.9
    })
    .to_string();
    let good = |answer: &str| {
        let mut parts: Vec<String> = answer
            .chars()
            .collect::<Vec<_>>()
            .chunks(9)
            .map(|c| sse_chunk(&c.iter().collect::<String>()))
            .collect();
        parts.push("data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"chaos\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":200,\"completion_tokens\":40,\"total_tokens\":240}}\n\n".into());
        parts.push("data: [DONE]\n\n".into());
        sse_stream(parts, None)
    };
    if model.healthy && model.dead.load(Ordering::SeqCst) {
        model.count("dead (503)");
        return error_status(503, false);
    }
    if model.healthy {
        // The fallback is sound but not perfect: a few of its answers are invalid too, so
        // some runs go all the way to tier 3.
        if model.rng.lock().unwrap().random_range(0..100) < 15 {
            model.count("malformed JSON");
            return good(r#"{"actions":[{"type":"reply"}"#);
        }
        model.count("ok");
        return good(&answer);
    }
    if model.dead.load(Ordering::SeqCst) {
        model.count("dead primary (503)");
        return error_status(503, false);
    }
    let roll: u32 = model.rng.lock().unwrap().random_range(0..100);
    match roll {
        0..=44 => {
            model.count("ok");
            good(&answer)
        }
        45..=52 => {
            model.count("429 with Retry-After");
            error_status(429, true)
        }
        53..=60 => {
            model.count("500");
            error_status(500, false)
        }
        61..=68 => {
            model.count("stall");
            sse_stream(
                vec![sse_chunk(&answer[..10])],
                Some(Duration::from_secs(30)),
            )
        }
        69..=76 => {
            model.count("disconnect without [DONE]");
            sse_stream(vec![sse_chunk(&answer[..answer.len() / 2])], None)
        }
        77..=88 => {
            model.count("malformed JSON");
            good(&format!("{}}}]]", &answer[..answer.len() - 5]))
        }
        _ => {
            model.count("unknown action");
            good(
                r#"{"actions":[{"type":"issue_refund","amount":100}],"reasoning":"x","confidence":1}"#,
            )
        }
    }
}

// ---------------------------------------------------------------------------------------

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn inbound_webhook(customer: usize, wamid: &str, text: &str) -> String {
    let wa_id = format!("5215550{customer:05}");
    serde_json::json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "318204957716342", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "12025550143", "phone_number_id": PHONE_NUMBER_ID},
            "contacts": [{"profile": {"name": format!("Cliente {customer}")}, "wa_id": wa_id}],
            "messages": [{"from": wa_id, "id": wamid, "timestamp": now_secs().to_string(),
                          "type": "text", "text": {"body": text}}]
        }}]}]
    })
    .to_string()
}

fn config_file(
    dir: &std::path::Path,
    graph: &str,
    primary: &str,
    fallback: &str,
) -> std::path::PathBuf {
    let path = dir.join("chaos.toml");
    let text = format!(
        r#"
[whatsapp]
mode = "live"
api_base_url = "{graph}"
phone_number_id = "{PHONE_NUMBER_ID}"

[pipeline]
quiet_period_ms = 300
max_concurrent_runs = 8

[llm]
connect_timeout_ms = 1000
first_token_timeout_ms = 1500
idle_timeout_ms = 1000
total_timeout_ms = 6000

[[llm.providers]]
name = "primary"
kind = "openai_compatible"
base_url = "{primary}"
model = "primary-model"
api_key_env = "SWITCHBOARD_CHAOS_UNSET_KEY"

[[llm.providers]]
name = "fallback"
kind = "openai_compatible"
base_url = "{fallback}"
model = "fallback-model"
api_key_env = "SWITCHBOARD_CHAOS_UNSET_KEY"
"#
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// Approves every pending action, each twice at once (a double click).
async fn approve_pending(client: &reqwest::Client, address: &str) -> usize {
    let Ok(response) = client
        .get(format!("{address}/api/actions?state=pending"))
        .bearer_auth(TOKEN)
        .timeout(Duration::from_secs(3))
        .send()
        .await
    else {
        return 0;
    };
    let Ok(page) = response.json::<serde_json::Value>().await else {
        return 0;
    };
    let ids: Vec<i64> = page["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a["id"].as_i64())
        .collect();
    for id in &ids {
        let url = format!("{address}/api/actions/{id}/approve");
        let click = || {
            client
                .post(&url)
                .bearer_auth(TOKEN)
                .json(&serde_json::json!({}))
                .timeout(Duration::from_secs(3))
                .send()
        };
        let _ = futures::join!(click(), click());
    }
    ids.len()
}

struct Counts {
    db: BTreeMap<String, i64>,
}

fn query_counts(db: &std::path::Path) -> Counts {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    let one = |sql: &str| -> i64 { conn.query_row(sql, [], |r| r.get(0)).unwrap() };
    let mut db = BTreeMap::new();
    db.insert(
        "inbox pending".into(),
        one("SELECT count(*) FROM webhook_inbox WHERE state = 'pending'"),
    );
    db.insert(
        "customer messages without an outcome".into(),
        one(
            "SELECT count(*) FROM messages m JOIN conversations c ON c.id = m.conversation_id \
             WHERE m.direction = 'inbound' AND m.id > c.ai_covered_message_id",
        ),
    );
    db.insert(
        "runs unfinished".into(),
        one("SELECT count(*) FROM pipeline_runs WHERE state IN ('queued','running')"),
    );
    db.insert(
        "actions pending".into(),
        one("SELECT count(*) FROM actions WHERE state = 'pending'"),
    );
    // A send cut off by a kill is `unknown` and waits for an operator (or a late status):
    // its action stays `executing` on purpose and its message is flagged for attention.
    db.insert(
        "actions approved or executing, not awaiting reconciliation".into(),
        one(
            "SELECT count(*) FROM actions a WHERE a.state IN ('approved','executing') AND NOT EXISTS \
             (SELECT 1 FROM messages m JOIN outbox o ON o.message_id = m.id \
              WHERE m.action_id = a.id AND o.state = 'unknown' AND m.needs_attention = 1)",
        ),
    );
    db.insert(
        "outbox queued or sending".into(),
        one("SELECT count(*) FROM outbox WHERE state IN ('queued','sending')"),
    );
    Counts { db }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn chaos_kills_lose_nothing_and_send_nothing_twice() {
    let scale = Scale::from_env();
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let log = dir.path().join("engine.log");
    let db = data.join("switchboard.db");

    let graph = FakeGraph::default();
    let graph_app = Router::new()
        .route("/{version}/{phone}/messages", post(graph_send))
        .with_state(graph.clone());
    let graph_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let graph_base = format!("http://{}", graph_listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(graph_listener, graph_app).await });

    let primary = FaultyModel::new(false, scale.seed);
    let fallback = FaultyModel::new(true, scale.seed + 1);
    let primary_base = primary.clone().start().await;
    let fallback_base = fallback.clone().start().await;
    let config = config_file(dir.path(), &graph_base, &primary_base, &fallback_base);

    let mut rng = rand::rngs::StdRng::seed_from_u64(scale.seed);
    let mut pending: std::collections::VecDeque<(String, String)> = Default::default();
    for m in 0..scale.messages {
        for c in 0..scale.customers {
            let wamid = format!("wamid.chaos-c{c}-m{m}");
            let text = format!("Hola, pedido chaos-c{c}-m{m}: ¿cuándo llega?");
            pending.push_back((wamid.clone(), inbound_webhook(c, &wamid, &text)));
        }
    }
    let total = pending.len();
    // Kill after these many acknowledged webhooks (random points, in order).
    let mut kill_points: Vec<usize> = (0..scale.kills)
        .map(|_| rng.random_range(1..total))
        .collect();
    kill_points.sort_unstable();

    let client = reqwest::Client::new();
    let mut engine = Engine::start(&config, &data, &log);
    *graph.engine_address.lock().unwrap() = engine.address.clone();
    let mut acknowledged: HashSet<String> = HashSet::new();
    let mut kills = 0;
    let mut approvals = 0;
    let mut last_approval = Instant::now();
    while let Some((wamid, body)) = pending.pop_front() {
        if kills < kill_points.len() && acknowledged.len() >= kill_points[kills] {
            // Sometimes mid-request: fire a webhook and kill while it is being handled.
            let address = engine.address.clone();
            let in_flight = client
                .post(format!("{address}/webhooks/whatsapp"))
                .header(
                    "X-Hub-Signature-256",
                    switchboard_whatsapp::webhook::sign(APP_SECRET.as_bytes(), body.as_bytes()),
                )
                .body(body.clone())
                .timeout(Duration::from_secs(3))
                .send();
            let delay = Duration::from_millis(rng.random_range(0..40));
            let (response, ()) = tokio::join!(in_flight, async {
                tokio::time::sleep(delay).await;
            });
            engine.kill();
            kills += 1;
            if response.is_ok_and(|r| r.status() == 200) {
                acknowledged.insert(wamid.clone());
            } else {
                pending.push_back((wamid, body));
            }
            engine = Engine::start(&config, &data, &log);
            *graph.engine_address.lock().unwrap() = engine.address.clone();
            continue;
        }
        let signature = switchboard_whatsapp::webhook::sign(APP_SECRET.as_bytes(), body.as_bytes());
        let response = client
            .post(format!("{}/webhooks/whatsapp", engine.address))
            .header("X-Hub-Signature-256", signature)
            .body(body.clone())
            .timeout(Duration::from_secs(3))
            .send()
            .await;
        if response.is_ok_and(|r| r.status() == 200) {
            acknowledged.insert(wamid);
        } else {
            // Meta redelivers what was not acknowledged.
            pending.push_back((wamid, body));
        }
        // The dead primary: for a stretch in the middle of the run every call fails.
        let progress = acknowledged.len() * 10 / total;
        primary
            .dead
            .store(matches!(progress, 4 | 5 | 7), Ordering::SeqCst);
        // And for a shorter stretch the whole chain is down: tier 3 hands those to people.
        fallback.dead.store(progress == 7, Ordering::SeqCst);
        if last_approval.elapsed() > Duration::from_millis(300) {
            approvals += approve_pending(&client, &engine.address).await;
            last_approval = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(rng.random_range(5..30))).await;
    }
    primary.dead.store(false, Ordering::SeqCst);
    fallback.dead.store(false, Ordering::SeqCst);
    assert_eq!(kills, scale.kills, "every planned kill happened");

    // Drain: the operator keeps approving until every message has its outcome and nothing is
    // left to send.
    let drain_deadline = Instant::now() + Duration::from_secs(90);
    let counts = loop {
        approvals += approve_pending(&client, &engine.address).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let counts = query_counts(&db);
        if counts.db.values().all(|n| *n == 0) || Instant::now() > drain_deadline {
            break counts;
        }
    };
    // Late status webhooks settle.
    tokio::time::sleep(Duration::from_millis(800)).await;

    let conn =
        rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    let stored: HashMap<String, i64> = {
        let mut stmt = conn
            .prepare("SELECT wamid, count(*) FROM messages WHERE wamid LIKE 'wamid.chaos-c%' GROUP BY wamid")
            .unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    let group = |sql: &str| -> BTreeMap<String, i64> {
        let mut stmt = conn.prepare(sql).unwrap();
        stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    let tiers = group(
        "SELECT CASE tier WHEN 0 THEN '0 first answer' WHEN 1 THEN '1 corrective retry' \
         WHEN 2 THEN '2 fallback model' ELSE '3 escalated' END, count(*) \
         FROM pipeline_runs WHERE state NOT IN ('queued','running') GROUP BY tier",
    );
    let actions = group("SELECT state, count(*) FROM actions GROUP BY state");
    let outbox = group("SELECT state, count(*) FROM outbox GROUP BY state");
    let escalations = group("SELECT source, count(*) FROM escalations GROUP BY source");
    let sends = graph.sends.lock().unwrap().clone();
    let mut seen: HashMap<&(String, String), usize> = HashMap::new();
    for send in &sends {
        *seen.entry(send).or_default() += 1;
    }
    let duplicates: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    let lost: Vec<_> = acknowledged
        .iter()
        .filter(|w| !stored.contains_key(*w))
        .collect();
    let doubled: Vec<_> = stored.iter().filter(|(_, n)| **n != 1).collect();

    let report = serde_json::json!({
        "seconds": started.elapsed().as_secs(),
        "seed": scale.seed,
        "webhooks": total,
        "acknowledged": acknowledged.len(),
        "stored exactly once": stored.values().filter(|n| **n == 1).count(),
        "kills": kills,
        "approval clicks (x2)": approvals,
        "model faults injected (primary)": *primary.faults.lock().unwrap(),
        "fallback calls": fallback.calls.load(Ordering::SeqCst),
        "model faults injected (fallback)": *fallback.faults.lock().unwrap(),
        "runs by final tier": tiers,
        "actions by state": actions,
        "outbox by state": outbox,
        "escalations by source": escalations,
        "graph sends": sends.len(),
        "graph sends duplicated": duplicates.len(),
        "sends cut off by a kill (unknown, flagged for an operator)": outbox.get("unknown").copied().unwrap_or(0),
        "left after drain": counts.db,
    });
    println!(
        "chaos report:\n{}",
        serde_json::to_string_pretty(&report).unwrap()
    );
    if let Ok(path) = std::env::var("SWITCHBOARD_CHAOS_REPORT") {
        std::fs::write(path, serde_json::to_string_pretty(&report).unwrap()).unwrap();
    }

    assert_eq!(
        acknowledged.len(),
        total,
        "every webhook was eventually acknowledged"
    );
    assert!(lost.is_empty(), "acknowledged but not stored: {lost:?}");
    assert!(doubled.is_empty(), "stored more than once: {doubled:?}");
    assert!(
        duplicates.is_empty(),
        "sent to the Graph API twice: {duplicates:?}"
    );
    assert_eq!(
        counts.db.get("customer messages without an outcome"),
        Some(&0),
        "every customer message ends with an outcome; engine log: {}",
        log.display()
    );
    for (what, n) in &counts.db {
        assert_eq!(
            *n,
            0,
            "after draining, {what} must be 0 (engine log: {})",
            log.display()
        );
    }
    // Every sent message matches an outbox row that is settled as sent or unknown (a send
    // interrupted by a kill is never retried blindly).
    let settled =
        outbox.get("sent").copied().unwrap_or(0) + outbox.get("unknown").copied().unwrap_or(0);
    assert!(
        sends.len() as i64 <= settled + outbox.get("failed").copied().unwrap_or(0),
        "the Graph API saw {} sends but only {settled} outbox rows are sent/unknown",
        sends.len()
    );
}
