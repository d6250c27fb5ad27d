//! A scripted OpenAI-compatible server on loopback, speaking the real SSE wire format.

use axum::body::Body;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

#[derive(Clone, Debug)]
pub enum Reply {
    /// A streamed completion whose content is this text, in small chunks.
    Stream(String),
    /// An HTTP error with an OpenAI error body.
    Status(u16),
    /// Starts streaming, then drops the connection without `[DONE]`.
    Disconnect(String),
    /// A streamed completion in chunks of `chars` characters, `gap` apart.
    Paced {
        text: String,
        chars: usize,
        gap: std::time::Duration,
    },
    /// Streams `before`, waits until `gate` is notified, then streams `after`.
    Gated {
        before: String,
        after: String,
        gate: Arc<tokio::sync::Notify>,
    },
}

#[derive(Clone, Default)]
pub struct FakeLlm {
    script: Arc<Mutex<VecDeque<Reply>>>,
    pub requests: Arc<Mutex<Vec<serde_json::Value>>>,
}

impl FakeLlm {
    pub fn push(&self, reply: Reply) {
        self.script.lock().unwrap().push_back(reply);
    }

    pub async fn start(self) -> String {
        let app = Router::new()
            .route("/v1/chat/completions", post(complete))
            .with_state(self);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}/v1", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        base
    }
}

fn chunk(content: &str) -> String {
    let value = serde_json::json!({"id":"c1","object":"chat.completion.chunk","created":1,"model":"fake-model",
        "choices":[{"index":0,"delta":{"content":content},"finish_reason":null}]});
    format!("data: {value}\n\n")
}

/// The last chunk: finish reason and usage.
fn finish_chunk() -> String {
    let done = serde_json::json!({"id":"c1","object":"chat.completion.chunk","created":1,"model":"fake-model",
        "choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":{"prompt_tokens":120,"completion_tokens":40,"total_tokens":160}});
    format!("data: {done}\n\n")
}

async fn complete(State(fake): State<FakeLlm>, body: axum::body::Bytes) -> Response {
    fake.requests
        .lock()
        .unwrap()
        .push(serde_json::from_slice(&body).unwrap_or_default());
    let reply = fake
        .script
        .lock()
        .unwrap()
        .pop_front()
        .unwrap_or(Reply::Status(500));
    match reply {
        Reply::Status(code) => (
            StatusCode::from_u16(code).unwrap(),
            [("content-type", "application/json")],
            r#"{"error":{"message":"scripted failure","type":"server_error","code":null}}"#,
        )
            .into_response(),
        Reply::Stream(text) => {
            let mut events: Vec<String> = text
                .chars()
                .collect::<Vec<_>>()
                .chunks(7)
                .map(|c| chunk(&c.iter().collect::<String>()))
                .collect();
            events.push(finish_chunk());
            events.push("data: [DONE]\n\n".into());
            let stream = futures::stream::iter(events.into_iter().map(Ok::<_, std::io::Error>));
            Response::builder()
                .header("content-type", "text/event-stream")
                .body(Body::from_stream(stream))
                .unwrap()
        }
        Reply::Paced { text, chars, gap } => {
            let mut events: Vec<String> = text
                .chars()
                .collect::<Vec<_>>()
                .chunks(chars.max(1))
                .map(|c| chunk(&c.iter().collect::<String>()))
                .collect();
            events.push(finish_chunk());
            events.push("data: [DONE]\n\n".into());
            let stream =
                futures::StreamExt::then(futures::stream::iter(events), move |e| async move {
                    // A zero sleep would still wait for the timer's next 1 ms tick.
                    if gap.is_zero() {
                        tokio::task::yield_now().await;
                    } else {
                        tokio::time::sleep(gap).await;
                    }
                    Ok::<_, std::io::Error>(e)
                });
            Response::builder()
                .header("content-type", "text/event-stream")
                .body(Body::from_stream(stream))
                .unwrap()
        }
        Reply::Gated {
            before,
            after,
            gate,
        } => {
            let first = futures::stream::iter(vec![Ok::<_, std::io::Error>(chunk(&before))]);
            let rest = futures::stream::once(async move {
                gate.notified().await;
                Ok::<_, std::io::Error>(format!(
                    "{}{}data: [DONE]\n\n",
                    chunk(&after),
                    finish_chunk()
                ))
            });
            Response::builder()
                .header("content-type", "text/event-stream")
                .body(Body::from_stream(futures::StreamExt::chain(first, rest)))
                .unwrap()
        }
        Reply::Disconnect(text) => {
            let events = vec![
                Ok::<_, std::io::Error>(chunk(&text)),
                Err(std::io::Error::other("dropped")),
            ];
            Response::builder()
                .header("content-type", "text/event-stream")
                .body(Body::from_stream(futures::stream::iter(events)))
                .unwrap()
        }
    }
}
