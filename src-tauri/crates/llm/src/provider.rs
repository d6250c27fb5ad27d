//! The provider abstraction the engine talks to, and its configuration.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use serde::{Deserialize, Deserializer};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::error::LlmError;
use crate::structured::{StructuredMode, StructuredOutput};

/// API keys are the engine's `Secret`: masked in `Debug`, never serialised, zeroed on drop.
pub use switchboard_core::Secret;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
pub enum ProviderKind {
    /// `POST {base_url}/chat/completions`: OpenAI, Ollama, vLLM, llama.cpp, LM Studio, Groq…
    #[serde(rename = "openai_compatible", alias = "openai")]
    OpenAiCompatible,
    /// `POST {base_url}/v1/messages`.
    #[serde(rename = "anthropic")]
    Anthropic,
    /// A GGUF model run in-process by llama.cpp (cargo feature `local`). `model` is the path
    /// of the GGUF file, or a file name inside the models directory; see `crate::local`.
    #[serde(rename = "local")]
    Local,
}

impl ProviderKind {
    pub fn default_base_url(self) -> &'static str {
        match self {
            ProviderKind::OpenAiCompatible => "https://api.openai.com/v1",
            ProviderKind::Anthropic => "https://api.anthropic.com",
            // Nothing is reached over the network.
            ProviderKind::Local => "",
        }
    }
}

/// What the model behind a provider supports. Drives [`crate::structured::choose_mode`],
/// budgeting and cost.
#[derive(Debug, Clone, PartialEq)]
pub struct Capabilities {
    /// OpenAI `response_format: json_schema` (strict structured outputs).
    pub json_schema: bool,
    /// Function/tool calling with a forced tool choice.
    pub tools: bool,
    /// OpenAI `response_format: json_object`.
    pub json_mode: bool,
    /// Total context window in tokens (prompt + completion).
    pub context_length: u32,
    /// USD per million input tokens.
    pub price_in_per_mtok: Option<f64>,
    /// USD per million output tokens.
    pub price_out_per_mtok: Option<f64>,
}

impl Capabilities {
    /// What can be assumed when the config says nothing: Anthropic models all support
    /// forced tool use and 200k context; an unknown OpenAI-compatible server is only
    /// trusted with plain chat, so the schema goes into the prompt.
    pub fn defaults_for(kind: ProviderKind) -> Self {
        match kind {
            ProviderKind::Anthropic => Capabilities {
                json_schema: false,
                tools: true,
                json_mode: false,
                context_length: 200_000,
                price_in_per_mtok: None,
                price_out_per_mtok: None,
            },
            ProviderKind::OpenAiCompatible => Capabilities {
                json_schema: false,
                tools: false,
                json_mode: false,
                context_length: 8_192,
                price_in_per_mtok: None,
                price_out_per_mtok: None,
            },
            // Structured output is enforced by a grammar instead (see
            // `StructuredMode::Grammar`). `context_length` is the context the provider
            // allocates (KV cache memory grows with it), not the model's training window.
            // Running on this machine costs nothing per token.
            ProviderKind::Local => Capabilities {
                json_schema: false,
                tools: false,
                json_mode: false,
                context_length: 4_096,
                price_in_per_mtok: Some(0.0),
                price_out_per_mtok: Some(0.0),
            },
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCapabilities {
    json_schema: Option<bool>,
    tools: Option<bool>,
    json_mode: Option<bool>,
    context_length: Option<u32>,
    price_in_per_mtok: Option<f64>,
    price_out_per_mtok: Option<f64>,
}

/// Deadlines for one streamed call. In config files they are integer milliseconds:
/// `timeouts = { connect_ms = 5000, first_token_ms = 60000, idle_ms = 30000, total_ms = 180000 }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Timeouts {
    #[serde(rename = "connect_ms", deserialize_with = "millis")]
    pub connect: Duration,
    /// Generous by default: a local server may load the model before answering at all.
    #[serde(rename = "first_token_ms", deserialize_with = "millis")]
    pub first_token: Duration,
    /// Any bytes, including keep-alive comments and pings, reset this one.
    #[serde(rename = "idle_ms", deserialize_with = "millis")]
    pub idle: Duration,
    #[serde(rename = "total_ms", deserialize_with = "millis")]
    pub total: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(10),
            first_token: Duration::from_secs(60),
            idle: Duration::from_secs(30),
            total: Duration::from_secs(300),
        }
    }
}

fn millis<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    u64::deserialize(deserializer).map(Duration::from_millis)
}

#[derive(Debug, Clone, PartialEq)]
pub struct ProviderConfig {
    /// The operator-facing name, unique among providers.
    pub name: String,
    pub kind: ProviderKind,
    /// Without a trailing `/chat/completions` or `/v1/messages`.
    pub base_url: String,
    pub model: String,
    pub api_key: Option<Secret>,
    pub capabilities: Capabilities,
    pub timeouts: Timeouts,
}

impl ProviderConfig {
    /// A config with the kind's default URL, capabilities and timeouts.
    pub fn new(name: impl Into<String>, kind: ProviderKind, model: impl Into<String>) -> Self {
        ProviderConfig {
            name: name.into(),
            kind,
            base_url: kind.default_base_url().to_string(),
            model: model.into(),
            api_key: None,
            capabilities: Capabilities::defaults_for(kind),
            timeouts: Timeouts::default(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProviderConfig {
    name: String,
    kind: ProviderKind,
    base_url: Option<String>,
    model: String,
    // No `api_key`: secrets never come from configuration (keyring or environment only),
    // so a key written into a config file is rejected as an unknown field.
    #[serde(default)]
    capabilities: RawCapabilities,
    #[serde(default)]
    timeouts: Timeouts,
}

impl<'de> Deserialize<'de> for ProviderConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = RawProviderConfig::deserialize(deserializer)?;
        let d = Capabilities::defaults_for(raw.kind);
        let c = raw.capabilities;
        Ok(ProviderConfig {
            name: raw.name,
            kind: raw.kind,
            base_url: raw
                .base_url
                .unwrap_or_else(|| raw.kind.default_base_url().to_string()),
            model: raw.model,
            api_key: None,
            capabilities: Capabilities {
                json_schema: c.json_schema.unwrap_or(d.json_schema),
                tools: c.tools.unwrap_or(d.tools),
                json_mode: c.json_mode.unwrap_or(d.json_mode),
                context_length: c.context_length.unwrap_or(d.context_length),
                // Only the local kind has default prices (zero); remote ones stay unknown.
                price_in_per_mtok: c.price_in_per_mtok.or(d.price_in_per_mtok),
                price_out_per_mtok: c.price_out_per_mtok.or(d.price_out_per_mtok),
            },
            timeouts: raw.timeouts,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    User,
    Assistant,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub role: Role,
    pub content: String,
}

impl Message {
    pub fn user(content: impl Into<String>) -> Self {
        Message {
            role: Role::User,
            content: content.into(),
        }
    }

    pub fn assistant(content: impl Into<String>) -> Self {
        Message {
            role: Role::Assistant,
            content: content.into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChatRequest {
    pub system: Option<String>,
    pub messages: Vec<Message>,
    /// Upper bound on generated tokens; Anthropic requires one.
    pub max_tokens: u32,
    pub temperature: Option<f32>,
    /// Ask for JSON matching a schema; the provider picks how from its capabilities.
    pub structured: Option<StructuredOutput>,
}

impl ChatRequest {
    pub fn new(messages: Vec<Message>) -> Self {
        ChatRequest {
            system: None,
            messages,
            max_tokens: 1024,
            temperature: None,
            structured: None,
        }
    }

    pub fn with_system(mut self, system: impl Into<String>) -> Self {
        self.system = Some(system.into());
        self
    }

    pub fn with_structured(mut self, structured: StructuredOutput) -> Self {
        self.structured = Some(structured);
        self
    }

    pub fn with_max_tokens(mut self, max_tokens: u32) -> Self {
        self.max_tokens = max_tokens;
        self
    }
}

/// One piece of model output, delivered to the [`DeltaSink`] as soon as it is parsed.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    /// Assistant text (for JSON-schema/JSON/prompt modes this is the JSON document).
    Text(String),
    /// A tool call began; `index` counts tool calls from 0 in output order. It can come
    /// again for an index already started (OpenAI-compatible servers that name a call in a
    /// later chunk, a server repeating a block); the first non-empty `id` and `name` are
    /// the call's, as in [`Completion::tool_calls`].
    ToolCallStart {
        index: usize,
        id: String,
        name: String,
    },
    /// A fragment of a tool call's JSON arguments (the JSON document in tool-call mode).
    ToolArguments { index: usize, fragment: String },
}

/// Receives deltas in order while a call streams. Called on the task driving the HTTP
/// request, so it must not block: hand the delta to a channel or a
/// [`crate::stream_hub::RunStream`] and return.
pub struct DeltaSink(Box<dyn FnMut(&StreamEvent) + Send>);

impl DeltaSink {
    pub fn new(f: impl FnMut(&StreamEvent) + Send + 'static) -> Self {
        DeltaSink(Box::new(f))
    }

    pub fn noop() -> Self {
        DeltaSink::new(|_| {})
    }

    /// Deltas as an unbounded channel; unbounded because the sink must never block the
    /// stream, and a run's output is bounded by `max_tokens` anyway.
    pub fn channel() -> (Self, mpsc::UnboundedReceiver<StreamEvent>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let sink = DeltaSink::new(move |event| {
            // A dropped receiver means nobody is watching; the call still completes.
            let _ = tx.send(event.clone());
        });
        (sink, rx)
    }

    pub fn emit(&mut self, event: &StreamEvent) {
        (self.0)(event)
    }
}

impl fmt::Debug for DeltaSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DeltaSink")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FinishReason {
    /// Natural end or a stop sequence.
    Stop,
    /// Hit `max_tokens`: structured output is probably truncated.
    Length,
    ToolCalls,
    ContentFilter,
    /// A reason this crate does not know, verbatim.
    Other(String),
    /// The provider never said.
    Unknown,
}

impl FinishReason {
    pub(crate) fn from_openai(reason: &str) -> Self {
        match reason {
            "stop" => FinishReason::Stop,
            "length" => FinishReason::Length,
            "tool_calls" | "function_call" => FinishReason::ToolCalls,
            "content_filter" => FinishReason::ContentFilter,
            other => FinishReason::Other(other.to_string()),
        }
    }

    pub(crate) fn from_anthropic(reason: &str) -> Self {
        match reason {
            "end_turn" | "stop_sequence" => FinishReason::Stop,
            "max_tokens" | "model_context_window_exceeded" => FinishReason::Length,
            "tool_use" => FinishReason::ToolCalls,
            "refusal" => FinishReason::ContentFilter,
            other => FinishReason::Other(other.to_string()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    pub input_tokens: u32,
    pub output_tokens: u32,
    /// True when the provider did not report (all of) it and [`crate::tokens`] filled in.
    pub estimated: bool,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    /// The raw JSON text the model produced; not guaranteed to parse.
    pub arguments: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    /// The provider's name from its config.
    pub provider: String,
    /// The model that answered, as reported by the provider (else the configured one).
    pub model: String,
    pub text: String,
    pub tool_calls: Vec<ToolCall>,
    pub finish_reason: FinishReason,
    pub usage: Usage,
    /// From sending the request to the first content delta.
    pub time_to_first_token: Option<Duration>,
    pub total_time: Duration,
    /// USD, when both prices are configured.
    pub cost: Option<f64>,
    /// How structured output was requested, if it was.
    pub structured_mode: Option<StructuredMode>,
}

impl Completion {
    /// The JSON document the model produced for a structured request: the first tool
    /// call's arguments in tool-call mode, else the text (with any code fence or prose
    /// around the outermost object stripped).
    pub fn structured_json(&self) -> Option<&str> {
        match self.structured_mode? {
            StructuredMode::ToolCall => self.tool_calls.first().map(|c| c.arguments.as_str()),
            _ => crate::structured::extract_json(&self.text),
        }
    }
}

/// A configured LLM endpoint. Object-safe so the engine can hold `Arc<dyn Provider>` and
/// switch providers at run time.
pub trait Provider: Send + Sync + fmt::Debug {
    fn config(&self) -> &ProviderConfig;

    /// Streams one completion. Deltas reach `sink` in order as they arrive; the returned
    /// [`Completion`] holds the full text, tool calls, usage and timings.
    ///
    /// Cancelling `cancel` (or dropping the future) drops the HTTP request, closing the
    /// connection so the provider stops generating; the result is then
    /// [`LlmError::Cancelled`].
    fn stream(
        &self,
        request: ChatRequest,
        sink: DeltaSink,
        cancel: CancellationToken,
    ) -> BoxFuture<'_, Result<Completion, LlmError>>;

    /// How a structured request will be asked of this provider.
    fn structured_mode(&self) -> StructuredMode {
        let config = self.config();
        crate::structured::choose_mode(config.kind, &config.capabilities)
    }
}

/// Builds the provider for a config.
///
/// For [`ProviderKind::Local`] this loads the model (shared with any other provider using
/// the same file) and starts its worker threads, so it blocks for the load: from async code
/// call it in `spawn_blocking` when the model is large.
pub fn connect(config: ProviderConfig) -> Result<Arc<dyn Provider>, LlmError> {
    Ok(match config.kind {
        ProviderKind::OpenAiCompatible => Arc::new(crate::openai::OpenAiProvider::new(config)?),
        ProviderKind::Anthropic => Arc::new(crate::anthropic::AnthropicProvider::new(config)?),
        ProviderKind::Local => connect_local(config)?,
    })
}

#[cfg(feature = "local")]
fn connect_local(config: ProviderConfig) -> Result<Arc<dyn Provider>, LlmError> {
    Ok(Arc::new(crate::local::LocalProvider::new(config)?))
}

#[cfg(not(feature = "local"))]
fn connect_local(config: ProviderConfig) -> Result<Arc<dyn Provider>, LlmError> {
    Err(LlmError::Config {
        detail: format!(
            "provider {:?}: this build has no local model support (built without the `local` feature of switchboard-llm)",
            config.name
        ),
    })
}
