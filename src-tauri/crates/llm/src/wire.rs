//! The provider-independent half of a streamed call: sending the request, classifying
//! failures, splitting the body into SSE events under the streaming deadlines, and folding
//! provider events into a [`Completion`].
//!
//! SSE framing is done by `sse-stream`, which scans bytes and validates UTF-8 only once a
//! line is complete, so chunk boundaries anywhere (inside a line, a CRLF, or a multi-byte
//! character) are harmless. `eventsource-stream` 0.2.3 was rejected: it panics on a body
//! starting with a UTF-8 BOM (it slices `&s[1..]` into the 3-byte BOM), and after one
//! invalid UTF-8 byte it buffers the rest of the body silently until EOF.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures_util::{FutureExt, Stream, StreamExt};
use sse_stream::{Sse, SseByteStream};
use tokio::time::{timeout_at, Instant};
use tokio_util::sync::CancellationToken;

use crate::error::{self, LlmError, TimeoutPhase};
use crate::provider::{
    ChatRequest, Completion, DeltaSink, FinishReason, ProviderConfig, ProviderKind, StreamEvent,
    ToolCall, Usage,
};
use crate::structured::StructuredMode;
use crate::tokens;

/// Largest SSE event we accept. Real events are a few hundred bytes; this only stops a
/// broken or hostile server from growing one line until memory runs out.
pub const MAX_EVENT_BYTES: usize = 4 * 1024 * 1024;
/// Largest total output (text plus tool arguments) we accumulate for one call.
pub const MAX_OUTPUT_BYTES: usize = 16 * 1024 * 1024;
/// How much of an error response body is read for classification.
const MAX_ERROR_BODY_BYTES: usize = 64 * 1024;
/// More distinct tool calls than this in one response is treated as a malformed stream.
pub(crate) const MAX_TOOL_CALLS: usize = 64;

/// What a provider decoder extracts from one SSE event.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum WireEvent {
    Text(String),
    ToolStart {
        index: usize,
        id: String,
        name: String,
    },
    ToolArgs {
        index: usize,
        fragment: String,
    },
    Finish(FinishReason),
    InputTokens(u64),
    OutputTokens(u64),
    Model(String),
    /// `[DONE]` or `message_stop`: the only clean way for a stream to end.
    Done,
}

pub(crate) trait Decoder: Send {
    fn on_event(&mut self, event: &Sse, out: &mut Vec<WireEvent>) -> Result<(), LlmError>;
}

/// Maps a provider's own tool-call numbering (arbitrary, possibly sparse or huge) to
/// dense slots, so a hostile index cannot make us allocate.
#[derive(Debug, Default)]
pub(crate) struct ToolSlots(Vec<u64>);

impl ToolSlots {
    pub(crate) fn slot(&mut self, wire_index: u64) -> Result<usize, LlmError> {
        if let Some(i) = self.0.iter().position(|w| *w == wire_index) {
            return Ok(i);
        }
        if self.0.len() >= MAX_TOOL_CALLS {
            return Err(LlmError::MalformedStream {
                detail: format!("more than {MAX_TOOL_CALLS} tool calls"),
            });
        }
        self.0.push(wire_index);
        Ok(self.0.len() - 1)
    }

    pub(crate) fn existing(&self, wire_index: u64) -> Option<usize> {
        self.0.iter().position(|w| *w == wire_index)
    }
}

pub(crate) fn malformed(detail: impl Into<String>) -> LlmError {
    LlmError::MalformedStream {
        detail: detail.into(),
    }
}

/// Everything about the call that the body decoder needs besides the bytes.
pub(crate) struct CallContext<'a> {
    pub config: &'a ProviderConfig,
    pub request: &'a ChatRequest,
    pub mode: Option<StructuredMode>,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadlines {
    pub(crate) start: Instant,
    first_token: Instant,
    total: Instant,
    idle: Duration,
}

impl Deadlines {
    pub(crate) fn new(config: &ProviderConfig, start: Instant) -> Self {
        let t = &config.timeouts;
        Deadlines {
            start,
            first_token: after(start, t.first_token),
            total: after(start, t.total),
            idle: t.idle,
        }
    }

    /// The earliest deadline that applies now, and which phase it belongs to. Ties go to
    /// the broader phase, since that is what the caller configured as the hard limit.
    pub(crate) fn next(
        &self,
        got_first_token: bool,
        last_activity: Option<Instant>,
    ) -> (Instant, TimeoutPhase) {
        let mut best = (self.total, TimeoutPhase::Total);
        if !got_first_token && self.first_token < best.0 {
            best = (self.first_token, TimeoutPhase::FirstToken);
        }
        if let Some(last) = last_activity {
            let idle = after(last, self.idle);
            if idle < best.0 {
                best = (idle, TimeoutPhase::Idle);
            }
        }
        best
    }
}

/// `t + d`, saturating: a configured timeout of `u64::MAX` ms means "never", not a panic.
fn after(t: Instant, d: Duration) -> Instant {
    t.checked_add(d)
        .unwrap_or_else(|| t + Duration::from_secs(100 * 365 * 86_400))
}

/// Shared between the byte stream wrapper (which sees every chunk) and the event loop
/// (which only sees whole events), so keep-alive bytes reset the idle deadline.
#[derive(Debug, Default)]
struct Activity {
    last_nanos: AtomicU64,
    bytes_since_event: AtomicUsize,
}

/// Sends `builder` and decodes the streamed answer, honouring `cancel` at every await.
pub(crate) async fn execute(
    builder: reqwest::RequestBuilder,
    ctx: CallContext<'_>,
    decoder: impl Decoder,
    sink: DeltaSink,
    cancel: CancellationToken,
) -> Result<Completion, LlmError> {
    let start = Instant::now();
    let deadlines = Deadlines::new(ctx.config, start);
    let call = async {
        let response = send(builder, &deadlines).await?;
        let body = response.bytes_stream();
        consume(body, &ctx, decoder, sink, deadlines).await
    };
    // Dropping `call` drops the response body, and hyper closes a connection whose body
    // was not read to the end, which is how the provider learns to stop generating.
    tokio::select! {
        biased;
        _ = cancel.cancelled() => Err(LlmError::Cancelled),
        result = call => result,
    }
}

async fn send(
    builder: reqwest::RequestBuilder,
    deadlines: &Deadlines,
) -> Result<reqwest::Response, LlmError> {
    // Headers count towards the first-token deadline: a server that accepts the connection
    // but never answers is indistinguishable from one that never produces a token.
    let (deadline, phase) = deadlines.next(false, None);
    let response = match timeout_at(deadline, builder.send()).await {
        Err(_) => return Err(LlmError::Timeout { phase }),
        Ok(Err(e)) => return Err(map_send_error(e)),
        Ok(Ok(response)) => response,
    };
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let retry_after = error::retry_after_from_headers(response.headers(), SystemTime::now());
    let read_deadline = deadlines.total.min(after(Instant::now(), deadlines.idle));
    let body = timeout_at(read_deadline, read_limited(response))
        .await
        .unwrap_or_default();
    let parsed = error::parse_error_body(&body);
    let err = error::classify(status.as_u16(), retry_after, &parsed);
    tracing::warn!(status = status.as_u16(), error = %err, message = ?parsed.message, "provider refused request");
    Err(err)
}

async fn read_limited(response: reqwest::Response) -> Vec<u8> {
    let mut body = Vec::new();
    let mut stream = response.bytes_stream();
    while let Some(Ok(chunk)) = stream.next().await {
        let room = MAX_ERROR_BODY_BYTES.saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() >= MAX_ERROR_BODY_BYTES {
            break;
        }
    }
    body
}

fn map_send_error(e: reqwest::Error) -> LlmError {
    if e.is_builder() {
        return LlmError::Config {
            detail: e.to_string(),
        };
    }
    if e.is_connect() {
        if e.is_timeout() {
            return LlmError::Timeout {
                phase: TimeoutPhase::Connect,
            };
        }
        return LlmError::Network {
            detail: error_chain(&e),
        };
    }
    // Connected, but the server hung up before sending a response.
    tracing::debug!(error = %error_chain(&e), "request failed after connecting");
    LlmError::Disconnected
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Decodes an already-open SSE response body for `config`'s provider kind, exactly as a
/// live call would (same deadlines, same sink calls, same [`Completion`]).
///
/// Useful to replay recorded streams, and to measure the decoding path without HTTP.
pub async fn decode_body<S, E>(
    config: &ProviderConfig,
    request: &ChatRequest,
    body: S,
    sink: DeltaSink,
) -> Result<Completion, LlmError>
where
    S: Stream<Item = Result<Bytes, E>> + Send + Unpin,
    E: std::error::Error + Send + Sync + 'static,
{
    let mode = request
        .structured
        .as_ref()
        .map(|_| crate::structured::choose_mode(config.kind, &config.capabilities));
    let ctx = CallContext {
        config,
        request,
        mode,
    };
    let deadlines = Deadlines::new(config, Instant::now());
    match config.kind {
        ProviderKind::OpenAiCompatible => {
            consume(
                body,
                &ctx,
                crate::openai::ChunkDecoder::default(),
                sink,
                deadlines,
            )
            .await
        }
        ProviderKind::Anthropic => {
            consume(
                body,
                &ctx,
                crate::anthropic::EventDecoder::default(),
                sink,
                deadlines,
            )
            .await
        }
        // The local provider produces tokens in-process; there is no wire format to replay.
        ProviderKind::Local => Err(LlmError::Config {
            detail: "the local provider has no SSE body to decode".into(),
        }),
    }
}

async fn consume<S, E>(
    body: S,
    ctx: &CallContext<'_>,
    mut decoder: impl Decoder,
    mut sink: DeltaSink,
    deadlines: Deadlines,
) -> Result<Completion, LlmError>
where
    S: Stream<Item = Result<Bytes, E>> + Send + Unpin,
    E: std::error::Error + Send + Sync + 'static,
{
    let activity = Arc::new(Activity::default());
    let start = deadlines.start;
    let tracked = {
        let activity = Arc::clone(&activity);
        body.map(move |chunk| {
            let bytes = chunk.map_err(|e| BodyError::Transport(error_chain(&e)))?;
            let nanos = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
            activity.last_nanos.store(nanos, Ordering::Relaxed);
            let pending = activity
                .bytes_since_event
                .fetch_add(bytes.len(), Ordering::Relaxed)
                .saturating_add(bytes.len());
            // Checked here, before the SSE parser buffers the bytes, so a line that never
            // ends cannot grow memory past the cap.
            if pending > MAX_EVENT_BYTES {
                return Err(BodyError::Oversized);
            }
            Ok(bytes)
        })
    };
    // Idle is measured from when the headers arrived, not from the request: a local
    // server may spend a long time loading the model before it answers at all.
    activity.last_nanos.store(
        u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX),
        Ordering::Relaxed,
    );
    let mut events = SseByteStream::new(tracked);
    let mut acc = Accumulator::default();
    let mut wire = Vec::new();

    while !acc.done {
        let last = start + Duration::from_nanos(activity.last_nanos.load(Ordering::Relaxed));
        let (deadline, _) = deadlines.next(acc.first_token_at.is_some(), Some(last));
        let item = match timeout_at(deadline, events.next()).await {
            Ok(item) => item,
            Err(_) => {
                // Bytes may have arrived without completing an event (keep-alives, a long
                // line); only give up if the deadline still holds with that activity.
                let last =
                    start + Duration::from_nanos(activity.last_nanos.load(Ordering::Relaxed));
                let (deadline, phase) = deadlines.next(acc.first_token_at.is_some(), Some(last));
                if deadline > Instant::now() {
                    continue;
                }
                return Err(LlmError::Timeout { phase });
            }
        };
        let event = match item {
            None => return Err(LlmError::Disconnected),
            Some(Err(e)) => return Err(map_sse_error(e)),
            Some(Ok(event)) => event,
        };
        // Bytes after this event in the same chunk are counted towards it; harmless, since
        // the cap is orders of magnitude above any real event.
        activity.bytes_since_event.store(0, Ordering::Relaxed);
        decoder.on_event(&event, &mut wire)?;
        for w in wire.drain(..) {
            acc.apply(w, &mut sink)?;
        }
    }
    // Read the chunked-encoding terminator if it is already here, so the connection can
    // go back to the pool; never wait for it.
    let _ = events.next().now_or_never();
    Ok(acc.finish(ctx, start))
}

#[derive(Debug)]
enum BodyError {
    Transport(String),
    Oversized,
}

impl std::fmt::Display for BodyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BodyError::Transport(detail) => f.write_str(detail),
            BodyError::Oversized => write!(f, "event exceeds {MAX_EVENT_BYTES} bytes"),
        }
    }
}

impl std::error::Error for BodyError {}

fn map_sse_error(e: sse_stream::Error) -> LlmError {
    match e {
        // The transport failed mid-body: reset, truncated chunked encoding, etc.
        sse_stream::Error::Body(source) => {
            if let Some(BodyError::Oversized) = source.downcast_ref::<BodyError>() {
                return malformed(format!("SSE event larger than {MAX_EVENT_BYTES} bytes"));
            }
            tracing::debug!(error = %error_chain(source.as_ref()), "stream body failed");
            LlmError::Disconnected
        }
        sse_stream::Error::Utf8Parse(e) => malformed(format!("invalid UTF-8 in SSE field: {e}")),
        other => malformed(other.to_string()),
    }
}

#[derive(Debug, Default)]
struct Accumulator {
    text: String,
    tool_calls: Vec<ToolCall>,
    output_bytes: usize,
    finish: Option<FinishReason>,
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
    model: Option<String>,
    first_token_at: Option<Instant>,
    done: bool,
}

impl Accumulator {
    fn count_output(&mut self, len: usize) -> Result<(), LlmError> {
        self.output_bytes = self.output_bytes.saturating_add(len);
        if self.output_bytes > MAX_OUTPUT_BYTES {
            return Err(malformed(format!(
                "output larger than {MAX_OUTPUT_BYTES} bytes"
            )));
        }
        if len > 0 && self.first_token_at.is_none() {
            self.first_token_at = Some(Instant::now());
        }
        Ok(())
    }

    fn tool(&mut self, index: usize) -> &mut ToolCall {
        // Slots are dense and bounded by MAX_TOOL_CALLS (see ToolSlots).
        if self.tool_calls.len() <= index {
            self.tool_calls.resize_with(index + 1, ToolCall::default);
        }
        &mut self.tool_calls[index]
    }

    fn apply(&mut self, event: WireEvent, sink: &mut DeltaSink) -> Result<(), LlmError> {
        match event {
            WireEvent::Text(text) => {
                if text.is_empty() {
                    return Ok(());
                }
                self.count_output(text.len())?;
                self.text.push_str(&text);
                sink.emit(&StreamEvent::Text(text));
            }
            WireEvent::ToolStart { index, id, name } => {
                self.count_output(name.len())?;
                let call = self.tool(index);
                if call.id.is_empty() {
                    call.id.clone_from(&id);
                }
                if call.name.is_empty() {
                    call.name.clone_from(&name);
                }
                sink.emit(&StreamEvent::ToolCallStart { index, id, name });
            }
            WireEvent::ToolArgs { index, fragment } => {
                if fragment.is_empty() {
                    return Ok(());
                }
                self.count_output(fragment.len())?;
                self.tool(index).arguments.push_str(&fragment);
                sink.emit(&StreamEvent::ToolArguments { index, fragment });
            }
            WireEvent::Finish(reason) => self.finish = Some(reason),
            WireEvent::InputTokens(n) => self.input_tokens = Some(n),
            WireEvent::OutputTokens(n) => self.output_tokens = Some(n),
            WireEvent::Model(model) => {
                if self.model.is_none() && !model.is_empty() {
                    self.model = Some(model);
                }
            }
            WireEvent::Done => self.done = true,
        }
        Ok(())
    }

    fn finish(self, ctx: &CallContext<'_>, start: Instant) -> Completion {
        let clamp = |n: u64| u32::try_from(n).unwrap_or(u32::MAX);
        let estimated = self.input_tokens.is_none() || self.output_tokens.is_none();
        let input_tokens = self
            .input_tokens
            .map(clamp)
            .unwrap_or_else(|| tokens::estimate_request_tokens(ctx.request, ctx.mode));
        let output_tokens = self.output_tokens.map(clamp).unwrap_or_else(|| {
            let mut n = tokens::estimate_tokens(&self.text);
            for call in &self.tool_calls {
                n = n
                    .saturating_add(tokens::estimate_tokens(&call.name))
                    .saturating_add(tokens::estimate_tokens(&call.arguments));
            }
            n
        });
        let usage = Usage {
            input_tokens,
            output_tokens,
            estimated,
        };
        Completion {
            provider: ctx.config.name.clone(),
            model: self.model.unwrap_or_else(|| ctx.config.model.clone()),
            cost: tokens::cost(&usage, &ctx.config.capabilities),
            text: self.text,
            tool_calls: self.tool_calls,
            finish_reason: self.finish.unwrap_or(FinishReason::Unknown),
            usage,
            time_to_first_token: self.first_token_at.map(|t| t - start),
            total_time: start.elapsed(),
            structured_mode: ctx.mode,
        }
    }
}

pub(crate) fn build_client(config: &ProviderConfig) -> Result<reqwest::Client, LlmError> {
    reqwest::Client::builder()
        .connect_timeout(config.timeouts.connect)
        // Deltas are tiny; Nagle would only add latency to the request we send.
        .tcp_nodelay(true)
        .build()
        .map_err(|e| LlmError::Config {
            detail: error_chain(&e),
        })
}

pub(crate) fn endpoint(base_url: &str, path: &str) -> Result<reqwest::Url, LlmError> {
    let joined = format!("{}/{}", base_url.trim_end_matches('/'), path);
    reqwest::Url::parse(&joined).map_err(|e| LlmError::Config {
        detail: format!("invalid base URL {base_url:?}: {e}"),
    })
}
