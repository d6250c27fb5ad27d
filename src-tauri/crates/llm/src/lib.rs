//! LLM access for Switchboard: streamed chat completions from OpenAI-compatible servers
//! and Anthropic, structured (JSON-schema) output, and live fan-out of the reply being
//! written to operator views.
//!
//! Flow of one run: the engine builds a [`ChatRequest`] with a [`StructuredOutput`], opens a
//! [`RunStream`] in the [`StreamHub`], and calls [`Provider::stream`] with
//! [`stream_hub::json_field_sink`], which feeds the model's JSON through a
//! [`PartialJsonReader`] and publishes only the customer-facing text. Operators follow it
//! with [`RunStream::subscribe`]. The returned [`Completion`] carries the full JSON, usage,
//! timings and cost.
//!
//! With the cargo feature `local`, [`ProviderKind::Local`] runs a GGUF model in-process
//! through llama.cpp (`local::LocalProvider`); structured answers are then sampled
//! under a grammar built from the schema ([`StructuredMode::Grammar`]).

pub mod anthropic;
pub mod error;
#[cfg(feature = "local")]
pub mod local;
pub mod openai;
pub mod partial_json;
pub mod provider;
pub mod stream_hub;
pub mod structured;
pub mod tokens;
pub mod wire;

pub use error::{LlmError, TimeoutPhase};
#[cfg(feature = "local")]
pub use local::{LocalConfig, LocalProvider};
pub use partial_json::{FieldTarget, PartialJsonReader};
pub use provider::{
    connect, Capabilities, ChatRequest, Completion, DeltaSink, FinishReason, Message, Provider,
    ProviderConfig, ProviderKind, Role, Secret, StreamEvent, Timeouts, ToolCall, Usage,
};
pub use stream_hub::{HubEvent, RunEnd, RunStream, StreamHub, Subscription};
pub use structured::{StructuredMode, StructuredOutput};
pub use tokio_util::sync::CancellationToken;
