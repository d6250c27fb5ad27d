//! The Graph client against a fake Graph API on loopback that speaks the real request and
//! error bodies (the `outbound/` and `media/` fixtures), plus the retry table and the rate
//! limiter.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::response::Response;
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use switchboard_core::Secret;
use switchboard_whatsapp::graph::client::{
    GraphClient, GraphConfig, MediaError, SendError, SizeSource, Timeouts,
};
use switchboard_whatsapp::graph::limits::{RateLimits, SendLimiter};
use switchboard_whatsapp::graph::retry::{
    next_step, next_step_with_jitter, GiveUpReason, PauseReason, RetryPolicy, Step,
};
use switchboard_whatsapp::graph::types::{
    BackoffKind, NoRetryReason, RetryDecision, SendMessage, TextBody, DEFAULT_API_VERSION,
};

use crate::fixtures::{self, entries_of, file_of};
use crate::outbound::{expected_decision, Outbound, REQUEST_BUILDERS};

const TOKEN: &str = "EAAG-test-token-do-not-log";

fn phone_number_id() -> &'static str {
    fixtures::manifest()["phone_number_id"]
        .as_str()
        .expect("phone_number_id")
}

// ---------------------------------------------------------------------------------------
// The fake Graph API
// ---------------------------------------------------------------------------------------

/// One request as the fake received it.
#[derive(Debug, Clone)]
struct Hit {
    method: String,
    path: String,
    authorization: Option<String>,
    content_type: Option<String>,
    body: Vec<u8>,
}

/// The reply to `POST .../messages`.
#[derive(Debug, Clone)]
enum Reply {
    Fixed {
        status: u16,
        body: Vec<u8>,
    },
    /// Never answers.
    Stall,
}

/// How the media body is served.
#[derive(Debug, Clone)]
enum MediaBody {
    Bytes(Vec<u8>),
    /// Chunks forever, without Content-Length: only a mid-stream cut-off ends it.
    Endless,
    /// One chunk, then nothing (the connection stays open).
    StallAfterFirstChunk,
}

/// What the lookup declares and how the body is served.
#[derive(Debug, Clone)]
struct Served {
    mime_type: String,
    /// As the lookup declares it (string or number).
    file_size: Value,
    sha256: String,
    body: MediaBody,
}

#[derive(Debug, Clone)]
enum Media {
    Ok(Served),
    LookupError { status: u16, body: Vec<u8> },
}

struct FakeState {
    addr: SocketAddr,
    hits: Mutex<Vec<Hit>>,
    reply: Mutex<Reply>,
    media: Mutex<HashMap<String, Media>>,
}

struct Fake {
    addr: SocketAddr,
    state: Arc<FakeState>,
}

impl Fake {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        let state = Arc::new(FakeState {
            addr,
            hits: Mutex::new(Vec::new()),
            reply: Mutex::new(Reply::Fixed {
                status: 200,
                body: fixtures::read("outbound/responses/success_text.json"),
            }),
            media: Mutex::new(HashMap::new()),
        });
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(state.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { addr, state }
    }

    fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn client(&self) -> GraphClient {
        self.client_with(Timeouts::default())
    }

    fn client_with(&self, timeouts: Timeouts) -> GraphClient {
        let config = GraphConfig::new(
            self.base_url(),
            DEFAULT_API_VERSION,
            phone_number_id(),
            Secret::new(TOKEN),
        )
        .with_timeouts(timeouts);
        GraphClient::new(config).expect("client")
    }

    fn reply(&self, reply: Reply) {
        *self.state.reply.lock().expect("lock") = reply;
    }

    fn reply_fixture(&self, file: &str, status: u16) {
        self.reply(Reply::Fixed {
            status,
            body: fixtures::read(file),
        });
    }

    fn media(&self, id: &str, media: Media) {
        self.state
            .media
            .lock()
            .expect("lock")
            .insert(id.to_owned(), media);
    }

    fn hits(&self) -> Vec<Hit> {
        self.state.hits.lock().expect("lock").clone()
    }

    fn take_hits(&self) -> Vec<Hit> {
        std::mem::take(&mut *self.state.hits.lock().expect("lock"))
    }
}

fn respond(status: u16, content_type: &str, body: Body) -> Response {
    Response::builder()
        .status(StatusCode::from_u16(status).expect("status"))
        .header(header::CONTENT_TYPE, content_type)
        .body(body)
        .expect("response")
}

fn graph_error(status: u16, code: i64, subcode: Option<i64>, message: &str) -> Response {
    let mut error = json!({
        "message": message,
        "type": "OAuthException",
        "code": code,
        "fbtrace_id": "FakeTrace123",
    });
    if let Some(sub) = subcode {
        error["error_subcode"] = json!(sub);
    }
    respond(
        status,
        "application/json",
        Body::from(json!({ "error": error }).to_string()),
    )
}

async fn handle(State(state): State<Arc<FakeState>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20)
        .await
        .map(|b| b.to_vec())
        .unwrap_or_default();
    let header = |name: header::HeaderName| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let hit = Hit {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        authorization: header(header::AUTHORIZATION),
        content_type: header(header::CONTENT_TYPE),
        body,
    };
    state.hits.lock().expect("lock").push(hit.clone());

    // Like Graph: no valid token, no service.
    if hit.authorization.as_deref() != Some(&format!("Bearer {TOKEN}")) {
        return graph_error(401, 190, None, "Invalid OAuth access token.");
    }
    let segments: Vec<&str> = hit.path.trim_start_matches('/').split('/').collect();
    match (hit.method.as_str(), segments.as_slice()) {
        ("POST", [_version, _phone, "messages"]) => {
            let reply = state.reply.lock().expect("lock").clone();
            match reply {
                Reply::Fixed { status, body } => respond(status, "application/json", body.into()),
                Reply::Stall => std::future::pending().await,
            }
        }
        ("GET", ["cdn", id]) => {
            let media = state.media.lock().expect("lock").get(*id).cloned();
            match media {
                Some(Media::Ok(served)) => serve_media(served.body),
                _ => respond(404, "text/plain", Body::from("gone")),
            }
        }
        ("GET", [_version, id]) => {
            let media = state.media.lock().expect("lock").get(*id).cloned();
            match media {
                Some(Media::Ok(Served {
                    mime_type,
                    file_size,
                    sha256,
                    ..
                })) => {
                    // The real lookup body, pointed at this fake's download route.
                    let mut lookup = fixtures::read_json("media/get_media_url_response.json");
                    lookup["url"] = json!(format!("http://{}/cdn/{id}", state.addr));
                    lookup["id"] = json!(id);
                    lookup["mime_type"] = json!(mime_type);
                    lookup["file_size"] = file_size;
                    lookup["sha256"] = json!(sha256);
                    respond(200, "application/json", Body::from(lookup.to_string()))
                }
                Some(Media::LookupError { status, body }) => {
                    respond(status, "application/json", body.into())
                }
                None => graph_error(
                    400,
                    100,
                    Some(33),
                    "Unsupported get request. Object with ID does not exist",
                ),
            }
        }
        _ => respond(404, "text/plain", Body::from("no route")),
    }
}

fn serve_media(body: MediaBody) -> Response {
    const CHUNK: usize = 8 * 1024;
    match body {
        MediaBody::Bytes(bytes) => respond(200, "application/octet-stream", bytes.into()),
        MediaBody::Endless => {
            let chunks = futures_util::stream::repeat_with(|| {
                Ok::<_, Infallible>(Bytes::from(vec![0x5a; CHUNK]))
            });
            respond(200, "application/octet-stream", Body::from_stream(chunks))
        }
        MediaBody::StallAfterFirstChunk => {
            let first =
                futures_util::stream::once(async { Ok::<_, Infallible>(Bytes::from(vec![1; 16])) });
            let chunks = futures_util::StreamExt::chain(first, futures_util::stream::pending());
            respond(200, "application/octet-stream", Body::from_stream(chunks))
        }
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn text_to(to: &str) -> SendMessage {
    SendMessage::text(to, TextBody::new("hello").expect("text")).expect("message")
}

/// Files left in a download directory (there must be no temp files after a refusal).
fn files_in(dir: &Path) -> Vec<String> {
    match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    }
}

// ---------------------------------------------------------------------------------------
// Sending
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn every_request_fixture_arrives_as_is_with_bearer_at_the_messages_path() {
    let fake = Fake::start().await;
    let client = fake.client();
    let path = format!("/{DEFAULT_API_VERSION}/{}/messages", phone_number_id());
    for (file, build) in REQUEST_BUILDERS {
        let built = build().unwrap_or_else(|e| panic!("{file}: {e}"));
        fake.take_hits();
        match built {
            Outbound::Send(message) => {
                let template = matches!(
                    message.content(),
                    switchboard_whatsapp::graph::types::OutboundContent::Template { .. }
                );
                let reply = if template {
                    "outbound/responses/success_template.json"
                } else {
                    "outbound/responses/success_text.json"
                };
                fake.reply_fixture(reply, 200);
                let sent = client
                    .send(&message)
                    .await
                    .unwrap_or_else(|e| panic!("{file}: {e}"));
                let expected: Value = fixtures::read_json(reply);
                assert_eq!(
                    sent.message_id(),
                    expected["messages"][0]["id"].as_str(),
                    "{file}"
                );
            }
            Outbound::MarkRead(_) => {
                // Through the public (wamid, typing) entry point, not the prepared body.
                let fixture = fixtures::read_json(file);
                let wamid = fixture["message_id"].as_str().expect("message_id");
                let typing = fixture.get("typing_indicator").is_some();
                fake.reply_fixture("outbound/responses/success_mark_read.json", 200);
                let ok = client
                    .mark_read(wamid, typing)
                    .await
                    .unwrap_or_else(|e| panic!("{file}: {e}"));
                assert!(ok.success, "{file}");
            }
        }
        let hits = fake.take_hits();
        assert_eq!(hits.len(), 1, "{file}");
        let hit = &hits[0];
        assert_eq!(hit.method, "POST", "{file}");
        assert_eq!(hit.path, path, "{file}");
        assert_eq!(
            hit.authorization.as_deref(),
            Some(format!("Bearer {TOKEN}").as_str()),
            "{file}"
        );
        assert_eq!(
            hit.content_type.as_deref(),
            Some("application/json"),
            "{file}"
        );
        let received: Value = serde_json::from_slice(&hit.body).expect("JSON body");
        assert_eq!(received, fixtures::read_json(file), "{file}");
    }
}

#[tokio::test]
async fn template_send_reports_message_status() {
    let fake = Fake::start().await;
    fake.reply_fixture("outbound/responses/success_template.json", 200);
    let (_, build) = REQUEST_BUILDERS
        .iter()
        .find(|(f, _)| f.ends_with("template_with_components.json"))
        .expect("template fixture");
    let Ok(Outbound::Send(message)) = build() else {
        panic!("template builds to a send");
    };
    let sent = fake.client().send(&message).await.expect("accepted");
    assert_eq!(sent.messages[0].message_status.as_deref(), Some("accepted"));
    assert_eq!(sent.wa_id(), Some("447700900812"));
}

/// The step each error fixture must lead to at the first attempt with zero jitter.
fn expected_step(code: i64) -> Step {
    let rejected = |why| Step::GiveUp(GiveUpReason::Rejected { why });
    let retry = |secs, kind| Step::RetryAfter {
        delay: Duration::from_secs(secs),
        kind,
    };
    match code {
        131047 => Step::GiveUp(GiveUpReason::WindowClosed),
        131026 => rejected(NoRetryReason::Undeliverable),
        100 | 131051 => rejected(NoRetryReason::InvalidRequest),
        132000 | 132015 => rejected(NoRetryReason::TemplateProblem),
        132001 => rejected(NoRetryReason::TemplateMissing),
        130429 => retry(1, BackoffKind::Throughput),
        131056 => Step::DelayRecipient {
            delay: Duration::from_secs(6),
        },
        4 | 80007 => retry(60, BackoffKind::AppRate),
        190 => Step::Pause(PauseReason::TokenExpired),
        368 => Step::Pause(PauseReason::AccountRestricted),
        other => panic!("no expected step for {other}"),
    }
}

#[tokio::test]
async fn every_response_fixture_maps_to_its_result_and_next_step() {
    let fake = Fake::start().await;
    let client = fake.client();
    let policy = RetryPolicy::default();
    let mut rng = StdRng::seed_from_u64(7);
    let mut errors = 0;
    for entry in entries_of("outbound_response") {
        let file = file_of(entry);
        let expect = &entry["expect"];
        let status = u16::try_from(expect["http_status"].as_u64().expect("status")).expect("u16");
        fake.reply_fixture(file, status);
        if expect["success"] == true {
            if let Some(id) = expect["message_id"].as_str() {
                let sent = client.send(&text_to("447700900461")).await.expect(file);
                assert_eq!(sent.message_id(), Some(id), "{file}");
                assert_eq!(sent.wa_id(), expect["wa_id"].as_str(), "{file}");
            } else {
                let ok = client.mark_read("wamid.X", false).await.expect(file);
                assert!(ok.success, "{file}");
            }
            continue;
        }
        errors += 1;
        let err = client.send(&text_to("447700900461")).await.expect_err(file);
        let code = expect["error_code"].as_i64().expect("error_code");
        match &err {
            SendError::Api {
                status: s,
                error,
                decision,
            } => {
                assert_eq!(*s, status, "{file}");
                assert_eq!(error.code, code, "{file}");
                assert_eq!(
                    error.error_subcode,
                    expect["error_subcode"].as_i64(),
                    "{file}"
                );
                assert_eq!(*decision, expected_decision(code), "{file}");
                assert_eq!(err.decision(), Some(*decision), "{file}");
            }
            other => panic!("{file}: expected an API error, got {other:?}"),
        }
        let rendered = format!("{err} {err:?}");
        assert!(!rendered.contains(TOKEN), "{file}: token in error");

        // The pure decision, pinned with zero jitter...
        let step = next_step_with_jitter(&err, 1, &policy, 0.0);
        assert_eq!(step, expected_step(code), "{file}");
        // ...with jitter only ever adding up to half the delay...
        match (step, next_step(&err, 1, &policy, &mut rng)) {
            (Step::RetryAfter { delay: lo, .. }, Step::RetryAfter { delay, .. })
            | (Step::DelayRecipient { delay: lo }, Step::DelayRecipient { delay }) => {
                assert!(delay >= lo && delay <= lo.mul_f64(1.5), "{file}: {delay:?}");
            }
            (a, b) => assert_eq!(a, b, "{file}: no delay, no jitter"),
        }
        // ...and retries running out at the configured maximum.
        if let RetryDecision::RetryBackoff { kind } = expected_decision(code) {
            let max = policy.backoff(kind).max_attempts;
            assert!(
                matches!(
                    next_step_with_jitter(&err, max - 1, &policy, 0.0),
                    Step::RetryAfter { .. } | Step::DelayRecipient { .. }
                ),
                "{file}"
            );
            assert_eq!(
                next_step_with_jitter(&err, max, &policy, 0.0),
                Step::GiveUp(GiveUpReason::RetriesExhausted {
                    kind,
                    attempts: max
                }),
                "{file}"
            );
            let strict = policy.with_max_attempts(1);
            assert!(
                matches!(
                    next_step_with_jitter(&err, 1, &strict, 0.0),
                    Step::GiveUp(GiveUpReason::RetriesExhausted { .. })
                ),
                "{file}"
            );
        }
    }
    assert!(errors > 0, "no error fixtures");
}

#[tokio::test]
async fn server_failures_without_the_table_codes() {
    let fake = Fake::start().await;
    let client = fake.client();
    let policy = RetryPolicy::default();
    let transient = Step::RetryAfter {
        delay: Duration::from_secs(2),
        kind: BackoffKind::Transient,
    };
    let cases: Vec<(u16, Vec<u8>, Step)> = vec![
        // A proxy's HTML error page.
        (502, b"<html>Bad gateway</html>".to_vec(), transient),
        // Table code 131000 on a 500.
        (
            500,
            json!({"error": {"message": "Something went wrong", "code": 131000}})
                .to_string()
                .into_bytes(),
            transient,
        ),
        // An unknown code on a 503 is still transient.
        (
            503,
            json!({"error": {"message": "Service unavailable", "code": 1}})
                .to_string()
                .into_bytes(),
            transient,
        ),
        // An unknown code on a 400 is not retried.
        (
            400,
            json!({"error": {"message": "?", "code": 987654}})
                .to_string()
                .into_bytes(),
            Step::GiveUp(GiveUpReason::Rejected {
                why: NoRetryReason::Unclassified,
            }),
        ),
        // A 429 without a Graph body is a throughput limit.
        (
            429,
            b"slow down".to_vec(),
            Step::RetryAfter {
                delay: Duration::from_secs(1),
                kind: BackoffKind::Throughput,
            },
        ),
        // 200 without a wamid: maybe sent, so not retried blind.
        (
            200,
            b"{}".to_vec(),
            Step::GiveUp(GiveUpReason::UnexpectedResponse { status: 200 }),
        ),
        (
            200,
            b"not json".to_vec(),
            Step::GiveUp(GiveUpReason::UnexpectedResponse { status: 200 }),
        ),
        // Permission missing pauses sending.
        (
            403,
            json!({"error": {"message": "(#200) Permissions error", "code": 200}})
                .to_string()
                .into_bytes(),
            Step::Pause(PauseReason::PermissionMissing),
        ),
    ];
    for (status, body, step) in cases {
        fake.reply(Reply::Fixed {
            status,
            body: body.clone(),
        });
        let err = client.send(&text_to("1")).await.expect_err("must fail");
        assert_eq!(
            next_step_with_jitter(&err, 1, &policy, 0.0),
            step,
            "{status} {err:?}"
        );
    }
    // An echoed token would be masked in the excerpt.
    fake.reply(Reply::Fixed {
        status: 502,
        body: format!("upstream said {TOKEN}").into_bytes(),
    });
    let err = client.send(&text_to("1")).await.expect_err("502");
    let SendError::Undecodable { body_excerpt, .. } = &err else {
        panic!("expected undecodable, got {err:?}");
    };
    assert!(!body_excerpt.contains(TOKEN) && body_excerpt.contains("****"));
}

#[tokio::test]
async fn wrong_token_is_a_190_pause() {
    let fake = Fake::start().await;
    let client = GraphClient::new(GraphConfig::new(
        fake.base_url(),
        DEFAULT_API_VERSION,
        phone_number_id(),
        Secret::new("stale-token"),
    ))
    .expect("client");
    let err = client.send(&text_to("1")).await.expect_err("401");
    assert_eq!(
        next_step_with_jitter(&err, 1, &RetryPolicy::default(), 0.0),
        Step::Pause(PauseReason::TokenExpired)
    );
    assert!(!format!("{err:?}").contains("stale-token"));
    // After the operator supplies a new token, the same client (and its clones) work.
    let clone = client.clone();
    client.replace_token(Secret::new(TOKEN)).expect("token");
    clone.send(&text_to("1")).await.expect("sent after re-auth");
}

#[tokio::test]
async fn connection_refused_is_a_retryable_network_error() {
    // Bind and drop to get a loopback port nobody listens on.
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr")
    };
    let client = GraphClient::new(GraphConfig::new(
        format!("http://{addr}"),
        DEFAULT_API_VERSION,
        phone_number_id(),
        Secret::new(TOKEN),
    ))
    .expect("client");
    let err = client.send(&text_to("1")).await.expect_err("refused");
    assert!(matches!(err, SendError::Network { .. }), "{err:?}");
    assert!(
        !err.to_string().contains(&addr.to_string()),
        "no URL: {err}"
    );
    assert!(matches!(
        next_step_with_jitter(&err, 1, &RetryPolicy::default(), 0.0),
        Step::RetryAfter {
            kind: BackoffKind::Transient,
            ..
        }
    ));
}

#[tokio::test]
async fn stalled_server_times_out() {
    let fake = Fake::start().await;
    fake.reply(Reply::Stall);
    let client = fake.client_with(Timeouts {
        connect: Duration::from_secs(2),
        request: Duration::from_millis(300),
        download: Duration::from_millis(600),
    });
    let started = std::time::Instant::now();
    let err = client.send(&text_to("1")).await.expect_err("stalls");
    assert!(matches!(err, SendError::Timeout), "{err:?}");
    let err = client.mark_read("wamid.X", true).await.expect_err("stalls");
    assert!(matches!(err, SendError::Timeout), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(10));

    // A media body that stops flowing.
    fake.media(
        "5551",
        Media::Ok(Served {
            mime_type: "image/jpeg".into(),
            file_size: json!(1000),
            sha256: sha256_hex(b""),
            body: MediaBody::StallAfterFirstChunk,
        }),
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let err = client
        .download_media("5551", 10_000, &["image/"], dir.path())
        .await
        .expect_err("stalls");
    assert!(
        matches!(err, MediaError::Download(SendError::Timeout)),
        "{err:?}"
    );
    assert!(err.is_retryable());
    assert_eq!(files_in(dir.path()), Vec::<String>::new());
}

// ---------------------------------------------------------------------------------------
// Media download
// ---------------------------------------------------------------------------------------

fn jpeg_bytes(len: usize) -> Vec<u8> {
    let mut bytes = vec![0xff, 0xd8, 0xff, 0xe0];
    bytes.extend((0..len.saturating_sub(4)).map(|i| (i % 251) as u8));
    bytes
}

#[tokio::test]
async fn media_download_end_to_end() {
    let fake = Fake::start().await;
    let client = fake.client();
    let media_id = fixtures::read_json("media/get_media_url_response.json")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let bytes = jpeg_bytes(50_000);
    fake.media(
        &media_id,
        Media::Ok(Served {
            mime_type: "image/jpeg".into(),
            // A string, as in the fixture.
            file_size: json!(bytes.len().to_string()),
            sha256: sha256_hex(&bytes),
            body: MediaBody::Bytes(bytes.clone()),
        }),
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let dest = dir.path().join("media");
    let got = client
        .download_media(&media_id, 100_000, &["image/", "audio/"], &dest)
        .await
        .expect("download");
    assert_eq!(got.size, bytes.len() as u64);
    assert_eq!(got.sha256, sha256_hex(&bytes));
    assert_eq!(got.mime_type, "image/jpeg");
    assert_eq!(got.path, dest.join(format!("{}.jpeg", got.sha256)));
    assert_eq!(std::fs::read(&got.path).expect("file"), bytes);
    assert_eq!(files_in(&dest).len(), 1, "no temp file left");

    let hits = fake.hits();
    let paths: Vec<&str> = hits.iter().map(|h| h.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            format!("/{DEFAULT_API_VERSION}/{media_id}"),
            format!("/cdn/{media_id}")
        ]
    );
    for hit in &hits {
        assert_eq!(hit.method, "GET");
        assert_eq!(
            hit.authorization.as_deref(),
            Some(format!("Bearer {TOKEN}").as_str()),
            "both steps carry the bearer"
        );
    }

    // Downloading again lands on the same content-addressed file.
    let again = client
        .download_media(&media_id, 100_000, &["image/"], &dest)
        .await
        .expect("again");
    assert_eq!(again.path, got.path);
    assert_eq!(files_in(&dest).len(), 1);
}

#[tokio::test]
async fn media_refusals_leave_nothing_behind() {
    let fake = Fake::start().await;
    let client = fake.client();
    let dir = tempfile::tempdir().expect("tempdir");
    let bytes = jpeg_bytes(4_000);
    let ok = |body: MediaBody| Served {
        mime_type: "image/jpeg".into(),
        file_size: json!(bytes.len()),
        sha256: sha256_hex(&bytes),
        body,
    };

    // Endless body, declared at the limit: only the mid-stream check can stop it.
    fake.media(
        "100",
        Media::Ok(Served {
            mime_type: "image/jpeg".into(),
            file_size: json!(64 * 1024),
            sha256: sha256_hex(b""),
            body: MediaBody::Endless,
        }),
    );
    let err = client
        .download_media("100", 64 * 1024, &["image/"], dir.path())
        .await
        .expect_err("oversize");
    assert!(
        matches!(
            err,
            MediaError::TooLarge {
                limit: 65_536,
                by: SizeSource::Received,
                seen
            } if seen > 65_536
        ),
        "{err:?}"
    );

    // Declared larger than the limit: refused before the body is requested.
    fake.take_hits();
    fake.media(
        "101",
        Media::Ok(Served {
            mime_type: "image/jpeg".into(),
            file_size: json!(10_000_000),
            sha256: sha256_hex(&bytes),
            body: MediaBody::Bytes(bytes.clone()),
        }),
    );
    let err = client
        .download_media("101", 1_000_000, &["image/"], dir.path())
        .await
        .expect_err("declared too large");
    assert!(
        matches!(
            err,
            MediaError::TooLarge {
                by: SizeSource::Declared,
                seen: 10_000_000,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(fake
        .take_hits()
        .iter()
        .all(|h| !h.path.starts_with("/cdn/")));

    // Declared within the limit, but the body's Content-Length is above it: refused
    // before reading.
    fake.media(
        "102",
        Media::Ok(Served {
            mime_type: "image/jpeg".into(),
            file_size: json!(1_000),
            sha256: sha256_hex(&bytes),
            body: MediaBody::Bytes(bytes.clone()),
        }),
    );
    let err = client
        .download_media("102", 2_000, &["image/"], dir.path())
        .await
        .expect_err("content-length too large");
    assert!(
        matches!(
            err,
            MediaError::TooLarge {
                by: SizeSource::ContentLength,
                ..
            }
        ),
        "{err:?}"
    );

    // Wrong MIME type: refused before the body is requested.
    fake.take_hits();
    fake.media(
        "103",
        Media::Ok(Served {
            mime_type: "application/x-msdownload".into(),
            ..ok(MediaBody::Bytes(bytes.clone()))
        }),
    );
    let err = client
        .download_media("103", 1_000_000, &["image/", "audio/"], dir.path())
        .await
        .expect_err("mime");
    assert!(
        matches!(&err, MediaError::MimeNotAllowed { mime_type: Some(m) } if m == "application/x-msdownload"),
        "{err:?}"
    );
    assert!(fake
        .take_hits()
        .iter()
        .all(|h| !h.path.starts_with("/cdn/")));

    // SHA-256 mismatch.
    fake.media(
        "104",
        Media::Ok(Served {
            sha256: sha256_hex(b"something else"),
            ..ok(MediaBody::Bytes(bytes.clone()))
        }),
    );
    let err = client
        .download_media("104", 1_000_000, &["image/"], dir.path())
        .await
        .expect_err("sha");
    assert!(
        matches!(&err, MediaError::ChecksumMismatch { actual, .. } if *actual == sha256_hex(&bytes)),
        "{err:?}"
    );
    assert!(err.is_retryable());

    // Fewer bytes than declared.
    fake.media(
        "105",
        Media::Ok(Served {
            file_size: json!(bytes.len() + 10),
            ..ok(MediaBody::Bytes(bytes.clone()))
        }),
    );
    let err = client
        .download_media("105", 1_000_000, &["image/"], dir.path())
        .await
        .expect_err("short");
    assert!(
        matches!(err, MediaError::SizeMismatch { received, .. } if received == bytes.len() as u64),
        "{err:?}"
    );

    // More bytes than declared, caught while streaming.
    fake.media(
        "106",
        Media::Ok(Served {
            file_size: json!(100),
            ..ok(MediaBody::Bytes(bytes.clone()))
        }),
    );
    let err = client
        .download_media("106", 1_000_000, &["image/"], dir.path())
        .await
        .expect_err("long");
    assert!(
        matches!(err, MediaError::SizeMismatch { declared: 100, .. }),
        "{err:?}"
    );

    assert_eq!(
        files_in(dir.path()),
        Vec::<String>::new(),
        "temp files left"
    );
}

#[tokio::test]
async fn expired_media_id_and_hostile_ids() {
    let fake = Fake::start().await;
    let client = fake.client();
    let dir = tempfile::tempdir().expect("tempdir");
    // Unknown to the fake: error 100 / subcode 33, as Graph answers for expired ids.
    let err = client
        .download_media("985370674324509", 1_000, &["image/"], dir.path())
        .await
        .expect_err("expired");
    assert!(
        matches!(&err, MediaError::Expired { error } if error.code == 100 && error.error_subcode == Some(33)),
        "{err:?}"
    );
    assert!(!err.is_retryable());

    // Another lookup error stays a lookup error with its decision.
    fake.media(
        "200",
        Media::LookupError {
            status: 400,
            body: fixtures::read("outbound/responses/error_4_app_rate_limit.json"),
        },
    );
    let err = client
        .download_media("200", 1_000, &["image/"], dir.path())
        .await
        .expect_err("rate limited");
    assert!(
        matches!(
            &err,
            MediaError::Lookup(SendError::Api {
                decision: RetryDecision::RetryBackoff {
                    kind: BackoffKind::AppRate
                },
                ..
            })
        ),
        "{err:?}"
    );
    assert!(err.is_retryable());

    // Ids go into the path; anything but a plain id is refused without a request.
    fake.take_hits();
    for id in ["", "..", "../me", "1?fields=x", "1/2", "1#x"] {
        let err = client
            .download_media(id, 1_000, &["image/"], dir.path())
            .await
            .expect_err(id);
        assert!(matches!(err, MediaError::InvalidMediaId), "{id}: {err:?}");
    }
    assert!(fake.hits().is_empty());
}

// ---------------------------------------------------------------------------------------
// Rate limits
// ---------------------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn per_number_limit_spaces_sends() {
    // 20/s with a one-second burst: 20 at once, then one every 50 ms, so the 60th goes at
    // 2.0 s. Paused time makes this exact instead of timing-dependent.
    let limiter = SendLimiter::new(RateLimits::per_second(20));
    let start = tokio::time::Instant::now();
    for i in 0..60 {
        limiter.acquire(&format!("4477009{i:05}")).await;
    }
    let elapsed = start.elapsed();
    assert!(
        elapsed >= Duration::from_millis(1_990) && elapsed <= Duration::from_millis(2_100),
        "{elapsed:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn pair_limit_delays_only_the_same_recipient() {
    let limiter = Arc::new(SendLimiter::default());
    let start = tokio::time::Instant::now();
    limiter.acquire("alice").await;
    assert!(limiter.check("alice").is_err());

    let same = {
        let limiter = limiter.clone();
        tokio::spawn(async move {
            limiter.acquire("alice").await;
            start.elapsed()
        })
    };
    let other = {
        let limiter = limiter.clone();
        tokio::spawn(async move {
            limiter.acquire("bob").await;
            start.elapsed()
        })
    };
    let other = other.await.expect("bob");
    let same = same.await.expect("alice");
    assert!(other < Duration::from_millis(50), "bob waited {other:?}");
    assert!(same >= Duration::from_secs(6), "alice waited only {same:?}");
    assert!(same < Duration::from_millis(6_100), "alice waited {same:?}");

    // check() is the non-blocking form and says how long to wait.
    let wait = limiter.check("alice").expect_err("just sent");
    assert!(wait > Duration::from_millis(5_900) && wait <= Duration::from_secs(6));
    assert_eq!(limiter.check("carol"), Ok(()));
}

#[tokio::test(start_paused = true)]
async fn pair_burst_is_configurable() {
    let limiter = SendLimiter::new(RateLimits {
        pair_burst: 3,
        ..RateLimits::default()
    });
    for _ in 0..3 {
        assert_eq!(limiter.check("dave"), Ok(()));
    }
    assert!(limiter.check("dave").is_err());
}

#[tokio::test]
async fn throughput_limit_through_the_client() {
    // Real time against the fake: a lower bound only, so a slow machine cannot fail it.
    let fake = Fake::start().await;
    let client = fake.client();
    let limiter = SendLimiter::new(RateLimits::per_second(20));
    let started = std::time::Instant::now();
    for i in 0..60 {
        let to = format!("1202555{i:04}");
        limiter.acquire(&to).await;
        client.send(&text_to(&to)).await.expect("sent");
    }
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(1_900), "{elapsed:?}");
    assert_eq!(fake.hits().len(), 60);
}

#[tokio::test(start_paused = true)]
async fn steps_feed_the_limiter() {
    // A 131056 delays only that recipient; a 130429 slows the whole number.
    let limiter = SendLimiter::default();
    let policy = RetryPolicy::default();
    let body = |file| SendError::Api {
        status: 400,
        error: Box::new(
            serde_json::from_value(fixtures::read_json(file)["error"].clone()).expect("error"),
        ),
        decision: RetryDecision::RetryBackoff {
            kind: BackoffKind::PairRate,
        },
    };
    let pair = body("outbound/responses/error_131056_pair_rate_limit.json");
    let Step::DelayRecipient { delay } = next_step_with_jitter(&pair, 1, &policy, 0.0) else {
        panic!("pair limit delays the recipient");
    };
    limiter.defer_recipient("erin", delay);
    assert_eq!(limiter.check("erin"), Err(Duration::from_secs(6)));
    assert_eq!(limiter.check("frank"), Ok(()));
}
