//! Secrets never leak: the real binary, given distinctive secrets through the environment,
//! serves real traffic (the subscription handshake, signed webhooks, a pipeline run against
//! the scripted model, an approval sent through a local Graph API, delivery statuses, the
//! audit trail and its exports) with every log at debug level captured to a file. Then the
//! database (and its WAL), everything in the data directory, the config file, the logs and
//! the exports are searched for each secret, raw and hex- and base64-encoded.

use crate::fake_llm::{FakeLlm, Reply};
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use base64::Engine as _;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_switchboard");

/// Distinctive values, each long enough that a match cannot be a coincidence.
const ACCESS_TOKEN: &str = "EAAGsecretWhatsAppAccessToken7Qx2Lm9Pz4Rt";
const APP_SECRET: &str = "appSecretHmacKey3Vn8Jd5Kw1Yb6Hs0Tq";
const VERIFY_TOKEN: &str = "verifyTokenHandshake9Zc4Xf7Mg2Ue5Lr";
const LLM_KEY: &str = "sk-secretModelKey6Ab3Cd8Ef1Gh4Ij7Kl0";
const API_TOKEN: &str = "apiTokenOperatorBearer2Mn5Op8Qr1St4Uv";

const SECRETS: &[(&str, &str)] = &[
    ("WhatsApp access token", ACCESS_TOKEN),
    ("WhatsApp app secret", APP_SECRET),
    ("WhatsApp verify token", VERIFY_TOKEN),
    ("LLM key", LLM_KEY),
    ("API token", API_TOKEN),
];

const PHONE_NUMBER_ID: &str = "487120593306718";
const CUSTOMER_TEXT: &str = "Hi, is the blue desk lamp still in stock?";
const REPLY_TEXT: &str = "Yes, the blue desk lamp is in stock.";

/// Every form a secret could be written in: raw, hex (both cases), and base64 (standard
/// and URL-safe) at each of the three alignments it can have inside a longer encoded
/// string, e.g. `user:secret` in a Basic header. For an alignment, only the characters
/// that depend on the secret's bytes alone are kept, so they match wherever it sits.
fn forms(secret: &str) -> Vec<(String, Vec<u8>)> {
    let bytes = secret.as_bytes();
    let mut out = vec![
        ("raw".to_string(), bytes.to_vec()),
        ("hex".to_string(), hex::encode(bytes).into_bytes()),
        ("HEX".to_string(), hex::encode_upper(bytes).into_bytes()),
    ];
    for (name, engine) in [
        ("base64", &base64::engine::general_purpose::STANDARD),
        ("base64url", &base64::engine::general_purpose::URL_SAFE),
    ] {
        for shift in 0..3usize {
            let mut shifted = vec![0u8; shift];
            shifted.extend_from_slice(bytes);
            let encoded = engine.encode(&shifted);
            let start = (8 * shift).div_ceil(6);
            let end = 8 * shifted.len() / 6;
            out.push((
                format!("{name}@{shift}"),
                encoded.as_bytes()[start..end].to_vec(),
            ));
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Every regular file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out
}

/// `(file, secret, form)` for every appearance of a secret in `files`.
fn leaks(files: &[PathBuf]) -> Vec<String> {
    let mut found = Vec::new();
    for file in files {
        let Ok(content) = std::fs::read(file) else {
            continue;
        };
        for (name, secret) in SECRETS {
            for (form, needle) in forms(secret) {
                if contains(&content, &needle) {
                    found.push(format!("{name} ({form}) in {}", file.display()));
                }
            }
        }
    }
    found
}

/// Records each request's `Authorization` header: proof that a secret was really used
/// where it belongs (and only there).
#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Vec<String>>>);

impl Seen {
    fn record(&self, headers: &HeaderMap) {
        let value = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        self.0.lock().unwrap().push(value);
    }

    fn all(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

/// A Graph API on loopback: sends get a wamid, anything else (read receipts) a success.
async fn fake_graph(seen: Seen) -> String {
    async fn handle(State(seen): State<Seen>, request: Request) -> Response {
        seen.record(request.headers());
        let body = axum::body::to_bytes(request.into_body(), 1 << 20)
            .await
            .unwrap_or_default();
        let value: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        let response = if value.get("status").is_some() {
            serde_json::json!({"success": true})
        } else {
            serde_json::json!({
                "messaging_product": "whatsapp",
                "contacts": [{"input": value["to"], "wa_id": value["to"]}],
                "messages": [{"id": "wamid.secrets-test-outbound"}]
            })
        };
        (
            StatusCode::OK,
            [("content-type", "application/json")],
            response.to_string(),
        )
            .into_response()
    }
    serve(Router::new().fallback(handle).with_state(seen)).await
}

/// Forwards every request to `upstream` (the scripted model) after recording its
/// `Authorization` header, streaming the answer back unchanged.
async fn recording_proxy(upstream: String, seen: Seen) -> String {
    #[derive(Clone)]
    struct Proxy {
        upstream: String,
        seen: Seen,
        client: reqwest::Client,
    }
    async fn handle(State(proxy): State<Proxy>, headers: HeaderMap, request: Request) -> Response {
        proxy.seen.record(&headers);
        let path = request.uri().path().to_string();
        let body: Bytes = axum::body::to_bytes(request.into_body(), 1 << 24)
            .await
            .unwrap_or_default();
        let answer = proxy
            .client
            .post(format!("{}{path}", proxy.upstream))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("the scripted model answers");
        let status = StatusCode::from_u16(answer.status().as_u16()).unwrap();
        let content_type = answer
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("text/event-stream")
            .to_string();
        Response::builder()
            .status(status)
            .header("content-type", content_type)
            .body(Body::from_stream(answer.bytes_stream()))
            .unwrap()
    }
    let upstream = upstream.trim_end_matches("/v1").to_string();
    serve(Router::new().fallback(handle).with_state(Proxy {
        upstream,
        seen,
        client: reqwest::Client::new(),
    }))
    .await
}

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn signed_post(
    client: &reqwest::Client,
    base: &str,
    body: String,
) -> impl std::future::Future<Output = reqwest::Result<reqwest::Response>> {
    let signature = switchboard_whatsapp::webhook::sign(APP_SECRET.as_bytes(), body.as_bytes());
    client
        .post(format!("{base}/webhooks/whatsapp"))
        .header("X-Hub-Signature-256", signature)
        .header("content-type", "application/json")
        .body(body)
        .send()
}

async fn wait_for<T>(what: &str, mut probe: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[test]
fn the_forms_of_a_secret_are_found_wherever_it_is_embedded() {
    // The search itself must be able to fail: every form is found in a text that embeds
    // the secret that way, at any alignment.
    let secret = "s3cr3t-Value_With+Mixed/Chars";
    let b64 = &base64::engine::general_purpose::STANDARD;
    for prefix in ["", "u", "us", "use"] {
        let embedded = b64.encode(format!("{prefix}:{secret}:tail"));
        assert!(
            forms(secret)
                .iter()
                .any(|(f, n)| f.starts_with("base64@") && contains(embedded.as_bytes(), n)),
            "base64 with prefix {prefix:?}"
        );
    }
    let hex_text = format!("x{}y", hex::encode(secret));
    assert!(forms(secret)
        .iter()
        .any(|(f, n)| f == "hex" && contains(hex_text.as_bytes(), n)));
    assert!(!forms(secret)
        .iter()
        .any(|(_, n)| contains(b"nothing to see here, not even s3cr3t", n)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_the_database_the_files_the_logs_or_the_exports() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let exports = dir.path().join("exports");
    std::fs::create_dir_all(&exports).unwrap();
    let log_path = dir.path().join("switchboard.log");
    let stdout_path = dir.path().join("stdout.log");

    let model = FakeLlm::default();
    let answer = serde_json::json!({
        "actions": [{"type": "reply", "text": REPLY_TEXT}],
        "reasoning": "Stock question.",
        "confidence": 0.9
    });
    model.push(Reply::Stream(answer.to_string()));
    let model_seen = Seen::default();
    let model_base = recording_proxy(model.clone().start().await, model_seen.clone()).await;
    let graph_seen = Seen::default();
    let graph_base = fake_graph(graph_seen.clone()).await;

    let config_path = dir.path().join("switchboard.toml");
    std::fs::write(
        &config_path,
        format!(
            r#"data_dir = {data_dir:?}

[whatsapp]
mode = "live"
phone_number_id = "{PHONE_NUMBER_ID}"
waba_id = "318204957716342"
api_base_url = "{graph_base}"

[pipeline]
quiet_period_ms = 0

[llm]
first_token_timeout_ms = 5000
idle_timeout_ms = 5000

[[llm.providers]]
name = "fake"
kind = "openai_compatible"
base_url = "{model_base}/v1"
model = "fake-model"
api_key_env = "SWITCHBOARD_LLM_FAKE_API_KEY"

[log]
level = "debug"
"#
        ),
    )
    .unwrap();

    let mut command = Command::new(BIN);
    command
        .args(["serve", "--config", config_path.to_str().unwrap()])
        .args(["--listen", "127.0.0.1:0"])
        .env("RUST_LOG", "debug")
        .env("SWITCHBOARD_API_TOKEN", API_TOKEN)
        .env("SWITCHBOARD_WHATSAPP_ACCESS_TOKEN", ACCESS_TOKEN)
        .env("SWITCHBOARD_WHATSAPP_APP_SECRET", APP_SECRET)
        .env("SWITCHBOARD_WHATSAPP_VERIFY_TOKEN", VERIFY_TOKEN)
        .env("SWITCHBOARD_LLM_FAKE_API_KEY", LLM_KEY)
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log_path).unwrap());
    let mut child = command.spawn().expect("the binary starts");
    let stdout = child.stdout.take().unwrap();
    let running = Running(child);
    let (address, stdout_thread) = {
        let stdout_path = stdout_path.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        // Keeps copying stdout to a file for the process's whole life.
        let thread = std::thread::spawn(move || {
            let mut file = std::fs::File::create(&stdout_path).unwrap();
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                use std::io::Write;
                let _ = writeln!(file, "{line}");
                let _ = tx.send(line);
            }
        });
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("serve announces its address");
        let address = line
            .trim()
            .strip_prefix("switchboard: listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_string();
        (address, thread)
    };
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let api = |path: &str| {
        client
            .get(format!("{address}/api{path}"))
            .bearer_auth(API_TOKEN)
    };

    // The subscription handshake: right token (the challenge comes back) and a wrong one.
    let handshake = client
        .get(format!(
            "{address}/webhooks/whatsapp?hub.mode=subscribe&hub.challenge=4242&hub.verify_token={VERIFY_TOKEN}"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(
        handshake.status(),
        200,
        "the verify token from the environment is used"
    );
    assert_eq!(handshake.text().await.unwrap(), "4242");
    let refused = client
        .get(format!(
            "{address}/webhooks/whatsapp?hub.mode=subscribe&hub.challenge=1&hub.verify_token=wrong"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);

    // A customer writes (signed with the app secret); a forged signature is refused.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let inbound = std::fs::read_to_string(crate::support::fixtures_dir().join("inbound/text.json"))
        .unwrap()
        .replace("1761903600", &now.to_string())
        .replace(
            "wamid.HBgMNDQ3NzAwOTAwNDYxFQIAEhgUMUU5RTRFQ0IzMDMzOEU1Njk1NDQA",
            "wamid.secrets-test-inbound",
        );
    assert!(inbound.contains(CUSTOMER_TEXT));
    let forged = client
        .post(format!("{address}/webhooks/whatsapp"))
        .header(
            "X-Hub-Signature-256",
            switchboard_whatsapp::webhook::sign(b"not-the-secret", inbound.as_bytes()),
        )
        .body(inbound.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(
        forged.status(),
        401,
        "the app secret from the environment is used"
    );
    let accepted = signed_post(&client, &address, inbound).await.unwrap();
    assert_eq!(accepted.status(), 200);

    // The run drafts a reply with the scripted model; an operator approves it; the outbox
    // sends it through the Graph API.
    let action_id = wait_for("a pending reply", async || {
        let page: serde_json::Value = api("/actions?state=pending")
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        page["items"].as_array()?.first()?["id"].as_i64()
    })
    .await;
    let approved = client
        .post(format!("{address}/api/actions/{action_id}/approve"))
        .bearer_auth(API_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(
        approved.status(),
        200,
        "{}",
        approved.text().await.unwrap_or_default()
    );
    wait_for("the reply to reach the Graph API", async || {
        graph_seen
            .all()
            .iter()
            .any(|a| a == &format!("Bearer {ACCESS_TOKEN}"))
            .then_some(())
    })
    .await;
    assert!(
        model_seen
            .all()
            .iter()
            .any(|a| a == &format!("Bearer {LLM_KEY}")),
        "the model was called with the key from the environment: {:?}",
        model_seen.all()
    );

    // Delivery and read statuses come back, signed.
    let status_template =
        std::fs::read_to_string(crate::support::fixtures_dir().join("statuses/delivered.json"))
            .unwrap()
            .replace(
                "wamid.HBgMNDQ3NzAwOTAwNDYxFQIAERgSNUY4Q0YzQ0FERjU0N0MwNEM1AA==",
                "wamid.secrets-test-outbound",
            );
    for status in ["delivered", "read"] {
        let body = status_template.replace("\"delivered\"", &format!("\"{status}\""));
        assert_eq!(
            signed_post(&client, &address, body).await.unwrap().status(),
            200
        );
    }

    // Reads and exports an operator makes; a request with a wrong token is refused.
    let mut saved = Vec::new();
    for (name, path) in [
        ("audit.json", "/audit"),
        ("audit-verify.json", "/audit/verify"),
        ("settings.json", "/settings"),
        ("health.json", "/health"),
        ("actions.json", "/actions"),
        ("conversations.json", "/conversations"),
        ("audit.jsonl", "/audit/export?format=jsonl"),
        ("audit.csv", "/audit/export?format=csv"),
    ] {
        let response = api(path).send().await.unwrap();
        let status = response.status();
        let body = response.bytes().await.unwrap();
        assert_eq!(status, 200, "{path}: {}", String::from_utf8_lossy(&body));
        let file = exports.join(name);
        std::fs::write(&file, &body).unwrap();
        saved.push(file);
    }
    let jsonl = std::fs::read_to_string(exports.join("audit.jsonl")).unwrap();
    assert!(
        jsonl.lines().count() >= 3,
        "the export holds the run, the approval and the send: {jsonl}"
    );
    let audit = std::fs::read_to_string(exports.join("audit.json")).unwrap();
    assert!(
        audit.contains("approve") || audit.contains("approved"),
        "the audit trail recorded the approval: {audit}"
    );
    let wrong = client
        .get(format!("{address}/api/audit"))
        .bearer_auth("wrong-token")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);

    // Let the outbox settle the statuses, then search while the WAL is still there.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut found = leaks(&files_under(&data_dir));
    let data_files = files_under(&data_dir);
    assert!(
        data_files.iter().any(|f| f.ends_with("switchboard.db")),
        "the database is in the data directory: {data_files:?}"
    );

    // A graceful stop (SIGTERM) flushes the logs; then search everything again.
    let pid = running.0.id().to_string();
    let _ = Command::new("kill").args(["-TERM", &pid]).status();
    let mut running = running;
    let deadline = Instant::now() + Duration::from_secs(20);
    while running.0.try_wait().unwrap().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(running);
    let _ = stdout_thread.join();

    let mut everything = files_under(&data_dir);
    everything.extend([config_path.clone(), log_path.clone(), stdout_path.clone()]);
    everything.extend(saved);
    found.extend(leaks(&everything));
    found.sort();
    found.dedup();

    // Controls: the search reads what was really written. The customer's text is in the
    // database files, and the logs are at debug level and mention the traffic.
    let db_bytes: Vec<u8> = files_under(&data_dir)
        .iter()
        .filter(|f| f.to_string_lossy().contains("switchboard.db"))
        .flat_map(|f| std::fs::read(f).unwrap_or_default())
        .collect();
    assert!(
        contains(&db_bytes, CUSTOMER_TEXT.as_bytes()),
        "the search must see the stored messages"
    );
    let logs = std::fs::read_to_string(&log_path).unwrap();
    assert!(logs.contains("DEBUG"), "logs were captured at debug level");
    assert!(
        logs.contains("/webhooks/whatsapp"),
        "the logs cover the webhook traffic"
    );

    assert!(found.is_empty(), "secrets leaked:\n{}", found.join("\n"));
}
