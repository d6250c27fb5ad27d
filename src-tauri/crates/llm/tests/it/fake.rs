//! A scripted HTTP/1.1 server on loopback that speaks the providers' real wire formats.
//!
//! Hand-written on a `TcpListener` rather than axum so a test controls every write: each
//! `Write` step is one chunk of the chunked body (so splits land exactly where the test
//! says, including inside UTF-8 characters), and the server can hang up at any byte.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

#[derive(Debug, Clone)]
pub enum Step {
    /// One chunk of the body.
    Write(Vec<u8>),
    Sleep(Duration),
    /// Send `: keep-alive` comments every interval until the client goes away.
    KeepAliveUntilClosed(Duration),
    /// Stop writing but keep the connection open until the client goes away.
    Stall,
    /// Drop the connection without finishing the chunked body.
    Abort,
}

#[derive(Debug, Clone)]
pub struct Script {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub steps: Vec<Step>,
    /// Chunked transfer encoding (the SSE norm); otherwise the body ends at close.
    pub chunked: bool,
}

impl Script {
    pub fn sse(steps: Vec<Step>) -> Self {
        Script {
            status: 200,
            headers: vec![("content-type".into(), "text/event-stream".into())],
            steps,
            chunked: true,
        }
    }

    /// An SSE body written in the given pieces, back to back.
    pub fn sse_chunks<I, B>(chunks: I) -> Self
    where
        I: IntoIterator<Item = B>,
        B: Into<Vec<u8>>,
    {
        Script::sse(chunks.into_iter().map(|c| Step::Write(c.into())).collect())
    }

    /// An SSE body whose writes are separated by `gap`, so the client reads them apart.
    pub fn sse_spaced<I, B>(chunks: I, gap: Duration) -> Self
    where
        I: IntoIterator<Item = B>,
        B: Into<Vec<u8>>,
    {
        let mut steps = Vec::new();
        for c in chunks {
            if !steps.is_empty() {
                steps.push(Step::Sleep(gap));
            }
            steps.push(Step::Write(c.into()));
        }
        Script::sse(steps)
    }

    pub fn json(status: u16, body: &str) -> Self {
        Script {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            steps: vec![Step::Write(body.as_bytes().to_vec())],
            chunked: false,
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn then(mut self, step: Step) -> Self {
        self.steps.push(step);
        self
    }
}

#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Value,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct Shared {
    scripts: VecDeque<Script>,
    last: Option<Script>,
    requests: Vec<Recorded>,
}

pub struct FakeServer {
    addr: SocketAddr,
    shared: Arc<Mutex<Shared>>,
    closed: watch::Receiver<usize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeServer {
    /// Serves `scripts` in order, one per connection; the last one repeats.
    pub async fn start(scripts: Vec<Script>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        let shared = Arc::new(Mutex::new(Shared {
            scripts: scripts.into(),
            ..Default::default()
        }));
        let (closed_tx, closed) = watch::channel(0usize);
        let closed_tx = Arc::new(closed_tx);
        let task = {
            let shared = Arc::clone(&shared);
            tokio::spawn(async move {
                loop {
                    let Ok((socket, _)) = listener.accept().await else {
                        return;
                    };
                    let shared = Arc::clone(&shared);
                    let closed_tx = Arc::clone(&closed_tx);
                    tokio::spawn(async move {
                        serve(socket, shared, &closed_tx).await;
                    });
                }
            })
        };
        FakeServer {
            addr,
            shared,
            closed,
            task,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.lock().unwrap().requests.clone()
    }

    /// Waits until the server has seen `n` client connections close on it while it was
    /// still streaming (a `Stall` or `KeepAliveUntilClosed` step).
    pub async fn wait_client_closed(&self, n: usize, within: Duration) -> bool {
        let mut closed = self.closed.clone();
        let result = tokio::time::timeout(within, closed.wait_for(|c| *c >= n)).await;
        matches!(result, Ok(Ok(_)))
    }
}

async fn serve(mut socket: TcpStream, shared: Arc<Mutex<Shared>>, closed: &watch::Sender<usize>) {
    socket.set_nodelay(true).ok();
    let Some(request) = read_request(&mut socket).await else {
        return;
    };
    let script = {
        let mut s = shared.lock().unwrap();
        s.requests.push(request);
        let next = s.scripts.pop_front();
        if let Some(next) = &next {
            s.last = Some(next.clone());
        }
        next.or_else(|| s.last.clone())
    };
    let Some(script) = script else {
        return;
    };
    let mut head = format!(
        "HTTP/1.1 {} Scripted\r\nconnection: close\r\n",
        script.status
    );
    for (name, value) in &script.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if script.chunked {
        head.push_str("transfer-encoding: chunked\r\n");
    } else if let [Step::Write(body)] = script.steps.as_slice() {
        head.push_str(&format!("content-length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    if socket.write_all(head.as_bytes()).await.is_err() {
        return;
    }
    for step in &script.steps {
        match step {
            Step::Write(bytes) => {
                if bytes.is_empty() {
                    continue;
                }
                let frame = if script.chunked {
                    let mut f = format!("{:x}\r\n", bytes.len()).into_bytes();
                    f.extend_from_slice(bytes);
                    f.extend_from_slice(b"\r\n");
                    f
                } else {
                    bytes.clone()
                };
                if socket.write_all(&frame).await.is_err() || socket.flush().await.is_err() {
                    return;
                }
            }
            Step::Sleep(d) => tokio::time::sleep(*d).await,
            Step::Abort => return,
            Step::Stall => {
                wait_for_close(&mut socket, None).await;
                closed.send_modify(|c| *c += 1);
                return;
            }
            Step::KeepAliveUntilClosed(interval) => {
                wait_for_close(&mut socket, Some(*interval)).await;
                closed.send_modify(|c| *c += 1);
                return;
            }
        }
    }
    if script.chunked {
        let _ = socket.write_all(b"0\r\n\r\n").await;
    }
    let _ = socket.shutdown().await;
}

/// Returns once the peer has closed (read returns 0 or errors, or a write fails).
async fn wait_for_close(socket: &mut TcpStream, keep_alive: Option<Duration>) {
    let mut buf = [0u8; 512];
    // Bounded so a test that forgets to close cannot hang the suite forever.
    let give_up = tokio::time::sleep(Duration::from_secs(30));
    tokio::pin!(give_up);
    loop {
        let tick = async {
            match keep_alive {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            read = socket.read(&mut buf) => match read {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            },
            _ = tick => {
                let frame = b"d\r\n: keep-alive\n\r\n";
                if socket.write_all(frame).await.is_err() {
                    return;
                }
            }
            _ = &mut give_up => return,
        }
    }
}

async fn read_request(socket: &mut TcpStream) -> Option<Recorded> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let request_line = lines.next()?;
    let mut parts = request_line.split(' ');
    let method = parts.next()?.to_string();
    let path = parts.next()?.to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end..].to_vec();
    while body.len() < length {
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some(Recorded {
        method,
        path,
        headers,
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    })
}

/// Wire builders for both protocols.
pub mod wire {
    use serde_json::json;

    pub fn data(value: serde_json::Value) -> String {
        format!("data: {value}\n\n")
    }

    pub fn openai_text(text: &str) -> String {
        data(
            json!({"id":"c1","object":"chat.completion.chunk","model":"fake-model","choices":[{"index":0,"delta":{"content":text},"finish_reason":null}]}),
        )
    }

    pub fn openai_role() -> String {
        data(
            json!({"id":"c1","object":"chat.completion.chunk","model":"fake-model","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}),
        )
    }

    pub fn openai_tool_start(id: &str, name: &str) -> String {
        data(
            json!({"id":"c1","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":id,"type":"function","function":{"name":name,"arguments":""}}]},"finish_reason":null}]}),
        )
    }

    pub fn openai_tool_args(fragment: &str) -> String {
        data(
            json!({"id":"c1","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":fragment}}]},"finish_reason":null}]}),
        )
    }

    pub fn openai_finish(reason: &str) -> String {
        data(json!({"id":"c1","choices":[{"index":0,"delta":{},"finish_reason":reason}]}))
    }

    pub fn openai_usage(prompt: u64, completion: u64) -> String {
        data(
            json!({"id":"c1","choices":[],"usage":{"prompt_tokens":prompt,"completion_tokens":completion,"total_tokens":prompt+completion}}),
        )
    }

    pub const OPENAI_DONE: &str = "data: [DONE]\n\n";

    /// A whole OpenAI content stream for `pieces`, with usage.
    pub fn openai_stream(pieces: &[&str], usage: Option<(u64, u64)>) -> Vec<String> {
        let mut events = vec![openai_role()];
        events.extend(pieces.iter().map(|p| openai_text(p)));
        events.push(openai_finish("stop"));
        if let Some((p, c)) = usage {
            events.push(openai_usage(p, c));
        }
        events.push(OPENAI_DONE.to_string());
        events
    }

    pub fn anthropic(event: &str, value: serde_json::Value) -> String {
        format!("event: {event}\ndata: {value}\n\n")
    }

    pub fn anthropic_start(input_tokens: u64) -> String {
        anthropic(
            "message_start",
            json!({"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","content":[],"model":"claude-fake","stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":input_tokens,"output_tokens":1}}}),
        )
    }

    pub fn anthropic_text_block(index: u64) -> String {
        anthropic(
            "content_block_start",
            json!({"type":"content_block_start","index":index,"content_block":{"type":"text","text":""}}),
        )
    }

    pub fn anthropic_tool_block(index: u64, id: &str, name: &str) -> String {
        anthropic(
            "content_block_start",
            json!({"type":"content_block_start","index":index,"content_block":{"type":"tool_use","id":id,"name":name,"input":{}}}),
        )
    }

    pub fn anthropic_text(index: u64, text: &str) -> String {
        anthropic(
            "content_block_delta",
            json!({"type":"content_block_delta","index":index,"delta":{"type":"text_delta","text":text}}),
        )
    }

    pub fn anthropic_json(index: u64, partial: &str) -> String {
        anthropic(
            "content_block_delta",
            json!({"type":"content_block_delta","index":index,"delta":{"type":"input_json_delta","partial_json":partial}}),
        )
    }

    pub fn anthropic_block_stop(index: u64) -> String {
        anthropic(
            "content_block_stop",
            json!({"type":"content_block_stop","index":index}),
        )
    }

    pub fn anthropic_delta(stop_reason: &str, output_tokens: u64) -> String {
        anthropic(
            "message_delta",
            json!({"type":"message_delta","delta":{"stop_reason":stop_reason,"stop_sequence":null},"usage":{"output_tokens":output_tokens}}),
        )
    }

    pub fn anthropic_stop() -> String {
        anthropic("message_stop", json!({"type":"message_stop"}))
    }

    pub fn anthropic_ping() -> String {
        anthropic("ping", json!({"type":"ping"}))
    }

    /// A whole Anthropic text stream for `pieces`.
    pub fn anthropic_stream(pieces: &[&str], input: u64, output: u64) -> Vec<String> {
        let mut events = vec![
            anthropic_start(input),
            anthropic_text_block(0),
            anthropic_ping(),
        ];
        events.extend(pieces.iter().map(|p| anthropic_text(0, p)));
        events.push(anthropic_block_stop(0));
        events.push(anthropic_delta("end_turn", output));
        events.push(anthropic_stop());
        events
    }
}
