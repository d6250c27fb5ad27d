//! A fake WhatsApp Graph API on loopback, speaking the real request and response bodies
//! (the fixture corpus's): message sends, scripted per recipient, and media (URL lookup, then
//! the bytes behind the URL, both with the bearer token).

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Instant;

pub const TOKEN: &str = "test-access-token";

/// How the fake answers one send.
#[derive(Clone, Debug)]
pub enum Answer {
    /// 200 with the fixture's body and a fresh wamid.
    Accept,
    /// Never answers: the request stays in flight.
    Hold,
    /// An error status with a fixture body from `outbound/responses/`.
    Error { status: u16, fixture: &'static str },
}

#[derive(Clone, Debug)]
pub struct Send {
    pub at: Instant,
    pub to: String,
    pub body: Value,
}

#[derive(Clone, Debug)]
pub struct MediaItem {
    pub mime_type: String,
    pub bytes: Vec<u8>,
}

#[derive(Default)]
struct FakeState {
    addr: Mutex<String>,
    sends: Mutex<Vec<Send>>,
    scripts: Mutex<HashMap<String, VecDeque<Answer>>>,
    default_answer: Mutex<Option<Answer>>,
    media: Mutex<HashMap<String, MediaItem>>,
    lookup_errors: Mutex<HashMap<String, (u16, Value)>>,
    /// (method, path) of every media request.
    media_hits: Mutex<Vec<String>>,
    wamids: Mutex<u64>,
}

#[derive(Clone)]
pub struct FakeGraph {
    state: Arc<FakeState>,
    pub base: String,
}

impl FakeGraph {
    pub async fn start() -> FakeGraph {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(FakeState::default());
        *state.addr.lock().unwrap() = addr.to_string();
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(state.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        FakeGraph {
            state,
            base: format!("http://{addr}"),
        }
    }

    /// The answer to every send not scripted per recipient (`Accept` unless set).
    pub fn answer_all(&self, answer: Answer) {
        *self.state.default_answer.lock().unwrap() = Some(answer);
    }

    /// The next answers to sends to `to`, in order; then the default.
    pub fn script(&self, to: &str, answers: impl IntoIterator<Item = Answer>) {
        self.state
            .scripts
            .lock()
            .unwrap()
            .entry(to.to_string())
            .or_default()
            .extend(answers);
    }

    pub fn sends(&self) -> Vec<Send> {
        self.state.sends.lock().unwrap().clone()
    }

    pub fn sends_to(&self, to: &str) -> Vec<Send> {
        self.sends().into_iter().filter(|s| s.to == to).collect()
    }

    pub fn add_media(&self, id: &str, mime_type: &str, bytes: Vec<u8>) {
        self.state.media.lock().unwrap().insert(
            id.to_string(),
            MediaItem {
                mime_type: mime_type.to_string(),
                bytes,
            },
        );
    }

    /// The URL lookup of `id` answers this error.
    pub fn media_lookup_error(&self, id: &str, status: u16, body: Value) {
        self.state
            .lookup_errors
            .lock()
            .unwrap()
            .insert(id.to_string(), (status, body));
    }

    pub fn media_hits(&self) -> Vec<String> {
        self.state.media_hits.lock().unwrap().clone()
    }
}

fn respond(status: u16, content_type: &str, body: impl Into<Body>) -> Response {
    Response::builder()
        .status(StatusCode::from_u16(status).unwrap())
        .header(header::CONTENT_TYPE, content_type)
        .body(body.into())
        .unwrap()
}

fn fixture(name: &str) -> Value {
    let path = crate::support::fixtures_dir()
        .join("outbound/responses")
        .join(name);
    serde_json::from_slice(
        &std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap()
}

fn graph_error(status: u16, code: i64, subcode: Option<i64>, message: &str) -> Response {
    let mut error = json!({"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "FakeTrace"});
    if let Some(subcode) = subcode {
        error["error_subcode"] = json!(subcode);
    }
    respond(
        status,
        "application/json",
        json!({ "error": error }).to_string(),
    )
}

async fn handle(State(state): State<Arc<FakeState>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20)
        .await
        .unwrap_or_default();
    let authorized = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        == Some(&format!("Bearer {TOKEN}"));
    let path = parts.uri.path().to_string();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    if parts.method != "POST" {
        state
            .media_hits
            .lock()
            .unwrap()
            .push(format!("{} {path}", parts.method));
    }
    if !authorized {
        return graph_error(401, 190, None, "Invalid OAuth access token.");
    }
    match (parts.method.as_str(), segments.as_slice()) {
        ("POST", [_version, _phone, "messages"]) => {
            let body: Value = serde_json::from_slice(&body).unwrap_or_default();
            let to = body["to"].as_str().unwrap_or_default().to_string();
            state.sends.lock().unwrap().push(Send {
                at: Instant::now(),
                to: to.clone(),
                body,
            });
            let scripted = state
                .scripts
                .lock()
                .unwrap()
                .get_mut(&to)
                .and_then(VecDeque::pop_front);
            let answer = scripted
                .or_else(|| state.default_answer.lock().unwrap().clone())
                .unwrap_or(Answer::Accept);
            match answer {
                Answer::Accept => {
                    let n = {
                        let mut wamids = state.wamids.lock().unwrap();
                        *wamids += 1;
                        *wamids
                    };
                    let mut ok = fixture("success_text.json");
                    ok["contacts"][0]["input"] = json!(to);
                    ok["contacts"][0]["wa_id"] = json!(to);
                    ok["messages"][0]["id"] = json!(format!("wamid.fake.{n}"));
                    respond(200, "application/json", ok.to_string())
                }
                Answer::Hold => std::future::pending().await,
                Answer::Error {
                    status,
                    fixture: name,
                } => respond(status, "application/json", fixture(name).to_string()),
            }
        }
        ("GET", ["cdn", id]) => match state.media.lock().unwrap().get(*id).cloned() {
            Some(item) => respond(200, "application/octet-stream", item.bytes),
            None => respond(404, "text/plain", "gone"),
        },
        ("GET", [_version, id]) => {
            if let Some((status, body)) = state.lookup_errors.lock().unwrap().get(*id).cloned() {
                return respond(status, "application/json", body.to_string());
            }
            match state.media.lock().unwrap().get(*id).cloned() {
                Some(item) => {
                    // The real lookup body, pointed at this fake's download route.
                    let path =
                        crate::support::fixtures_dir().join("media/get_media_url_response.json");
                    let mut lookup: Value =
                        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
                    lookup["url"] =
                        json!(format!("http://{}/cdn/{id}", state.addr.lock().unwrap()));
                    lookup["id"] = json!(id);
                    lookup["mime_type"] = json!(item.mime_type);
                    lookup["file_size"] = json!(item.bytes.len().to_string());
                    lookup["sha256"] = json!(hex::encode(Sha256::digest(&item.bytes)));
                    respond(200, "application/json", lookup.to_string())
                }
                None => graph_error(
                    400,
                    100,
                    Some(33),
                    "Unsupported get request. Object with ID does not exist",
                ),
            }
        }
        _ => respond(404, "text/plain", "no route"),
    }
}
