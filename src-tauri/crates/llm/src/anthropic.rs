//! Anthropic Messages API streaming (`POST {base_url}/v1/messages`).
//!
//! Event types this crate does not know (and content blocks such as `thinking`) are
//! skipped, as Anthropic's versioning policy asks clients to do.

use futures_util::future::BoxFuture;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use sse_stream::Sse;
use tokio_util::sync::CancellationToken;

use crate::error::{self, LlmError};
use crate::provider::{
    ChatRequest, Completion, DeltaSink, FinishReason, Provider, ProviderConfig, Role,
};
use crate::structured::{self, StructuredMode};
use crate::wire::{self, malformed, CallContext, Decoder, ToolSlots, WireEvent};

pub const API_VERSION: &str = "2023-06-01";

#[derive(Debug)]
pub struct AnthropicProvider {
    config: ProviderConfig,
    client: reqwest::Client,
    url: reqwest::Url,
}

impl AnthropicProvider {
    pub fn new(config: ProviderConfig) -> Result<Self, LlmError> {
        let client = wire::build_client(&config)?;
        let url = wire::endpoint(&config.base_url, "v1/messages")?;
        Ok(AnthropicProvider {
            config,
            client,
            url,
        })
    }
}

/// The JSON body for `request`, and the structured mode it uses (if structured).
pub fn request_body(
    config: &ProviderConfig,
    request: &ChatRequest,
) -> (Value, Option<StructuredMode>) {
    let mode = request
        .structured
        .as_ref()
        .map(|_| structured::choose_mode(config.kind, &config.capabilities));
    let messages: Vec<Value> = request
        .messages
        .iter()
        .map(|m| {
            let role = match m.role {
                Role::User => "user",
                Role::Assistant => "assistant",
            };
            json!({ "role": role, "content": m.content })
        })
        .collect();
    let mut body = Map::new();
    body.insert("model".into(), json!(config.model));
    body.insert("max_tokens".into(), json!(request.max_tokens));
    body.insert("stream".into(), json!(true));
    if let Some(system) =
        structured::system_prompt(request.system.as_deref(), request.structured.as_ref(), mode)
    {
        body.insert("system".into(), json!(system));
    }
    body.insert("messages".into(), Value::Array(messages));
    if let Some(t) = request.temperature {
        body.insert("temperature".into(), json!(t));
    }
    if let (Some(output), Some(mode)) = (&request.structured, mode) {
        structured::apply_anthropic(&mut body, output, mode);
    }
    (Value::Object(body), mode)
}

impl Provider for AnthropicProvider {
    fn config(&self) -> &ProviderConfig {
        &self.config
    }

    fn stream(
        &self,
        request: ChatRequest,
        sink: DeltaSink,
        cancel: CancellationToken,
    ) -> BoxFuture<'_, Result<Completion, LlmError>> {
        Box::pin(async move {
            let (body, mode) = request_body(&self.config, &request);
            let mut builder = self
                .client
                .post(self.url.clone())
                .header(reqwest::header::ACCEPT, "text/event-stream")
                .header("anthropic-version", API_VERSION)
                .json(&body);
            if let Some(key) = &self.config.api_key {
                builder = builder.header("x-api-key", key.expose());
            }
            let ctx = CallContext {
                config: &self.config,
                request: &request,
                mode,
            };
            wire::execute(builder, ctx, EventDecoder::default(), sink, cancel).await
        })
    }
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Event {
    MessageStart {
        message: MessageStart,
    },
    ContentBlockStart {
        index: u64,
        content_block: Block,
    },
    ContentBlockDelta {
        index: u64,
        delta: BlockDelta,
    },
    ContentBlockStop {},
    MessageDelta {
        #[serde(default)]
        delta: MessageDeltaBody,
        usage: Option<AnthropicUsage>,
    },
    MessageStop {},
    Ping {},
    Error {
        error: Value,
    },
    #[serde(other)]
    Unknown,
}

#[derive(Deserialize)]
struct MessageStart {
    model: Option<String>,
    usage: Option<AnthropicUsage>,
}

#[derive(Deserialize, Default)]
struct AnthropicUsage {
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
    cache_creation_input_tokens: Option<u64>,
    cache_read_input_tokens: Option<u64>,
}

impl AnthropicUsage {
    /// Cached prompt tokens are billed separately by Anthropic but still fill the context,
    /// so they count as input here.
    fn total_input(&self) -> Option<u64> {
        let base = self.input_tokens?;
        Some(
            base.saturating_add(self.cache_creation_input_tokens.unwrap_or(0))
                .saturating_add(self.cache_read_input_tokens.unwrap_or(0)),
        )
    }
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Block {
    Text {
        #[serde(default)]
        text: String,
    },
    ToolUse {
        #[serde(default)]
        id: String,
        #[serde(default)]
        name: String,
    },
    #[serde(other)]
    Other,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum BlockDelta {
    TextDelta {
        text: String,
    },
    InputJsonDelta {
        partial_json: String,
    },
    #[serde(other)]
    Other,
}

#[derive(Deserialize, Default)]
struct MessageDeltaBody {
    stop_reason: Option<String>,
}

/// Turns Messages API stream events into [`WireEvent`]s.
#[derive(Debug, Default)]
pub(crate) struct EventDecoder {
    /// Content-block indexes of `tool_use` blocks, in order.
    tools: ToolSlots,
}

impl Decoder for EventDecoder {
    fn on_event(&mut self, event: &Sse, out: &mut Vec<WireEvent>) -> Result<(), LlmError> {
        let Some(data) = event.data.as_deref() else {
            return Ok(());
        };
        if data.trim().is_empty() {
            return Ok(());
        }
        // The `type` inside the data is authoritative; the SSE `event:` line mirrors it.
        let parsed: Event = serde_json::from_str(data).map_err(|e| {
            malformed(format!(
                "{} event is not valid JSON ({e})",
                event.event.as_deref().unwrap_or("message")
            ))
        })?;
        match parsed {
            Event::MessageStart { message } => {
                if let Some(model) = message.model {
                    out.push(WireEvent::Model(model));
                }
                if let Some(n) = message.usage.as_ref().and_then(AnthropicUsage::total_input) {
                    out.push(WireEvent::InputTokens(n));
                }
            }
            Event::ContentBlockStart {
                index,
                content_block,
            } => match content_block {
                Block::Text { text } => out.push(WireEvent::Text(text)),
                Block::ToolUse { id, name } => {
                    let index = self.tools.slot(index)?;
                    out.push(WireEvent::ToolStart { index, id, name });
                }
                Block::Other => {}
            },
            Event::ContentBlockDelta { index, delta } => match delta {
                BlockDelta::TextDelta { text } => out.push(WireEvent::Text(text)),
                BlockDelta::InputJsonDelta { partial_json } => {
                    let Some(index) = self.tools.existing(index) else {
                        return Err(malformed(format!(
                            "input_json_delta for block {index}, which is not a tool_use block"
                        )));
                    };
                    out.push(WireEvent::ToolArgs {
                        index,
                        fragment: partial_json,
                    });
                }
                BlockDelta::Other => {}
            },
            Event::MessageDelta { delta, usage } => {
                if let Some(reason) = delta.stop_reason {
                    out.push(WireEvent::Finish(FinishReason::from_anthropic(&reason)));
                }
                if let Some(usage) = usage {
                    // Newer API versions repeat input usage here; the final figure wins.
                    if let Some(n) = usage.total_input() {
                        out.push(WireEvent::InputTokens(n));
                    }
                    // Cumulative, so the last message_delta is the total.
                    if let Some(n) = usage.output_tokens {
                        out.push(WireEvent::OutputTokens(n));
                    }
                }
            }
            Event::MessageStop {} => out.push(WireEvent::Done),
            Event::Error { error } => {
                let body =
                    error::parse_error_body(json!({ "error": error }).to_string().as_bytes());
                let status = error::anthropic_status_for(body.kind.as_deref().unwrap_or(""));
                return Err(error::classify(status, None, &body));
            }
            Event::ContentBlockStop {} | Event::Ping {} | Event::Unknown => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::{Message, ProviderKind};
    use crate::structured::StructuredOutput;

    fn sse(event: &str, data: &str) -> Sse {
        Sse::default().event(event).data(data)
    }

    #[test]
    fn decodes_a_tool_use_stream() {
        let mut d = EventDecoder::default();
        let mut out = Vec::new();
        for (e, data) in [
            (
                "message_start",
                r#"{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-x","content":[],"stop_reason":null,"usage":{"input_tokens":25,"cache_read_input_tokens":5,"output_tokens":1}}}"#,
            ),
            (
                "content_block_start",
                r#"{"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":""}}"#,
            ),
            (
                "content_block_delta",
                r#"{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"hmm"}}"#,
            ),
            (
                "content_block_start",
                r#"{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_1","name":"plan","input":{}}}"#,
            ),
            ("ping", r#"{"type": "ping"}"#),
            (
                "content_block_delta",
                r#"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"a\":"}}"#,
            ),
            (
                "content_block_stop",
                r#"{"type":"content_block_stop","index":1}"#,
            ),
            (
                "message_delta",
                r#"{"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":15}}"#,
            ),
            ("future_event", r#"{"type":"future_event","x":1}"#),
            ("message_stop", r#"{"type":"message_stop"}"#),
        ] {
            d.on_event(&sse(e, data), &mut out).unwrap();
        }
        assert_eq!(
            out,
            vec![
                WireEvent::Model("claude-x".into()),
                WireEvent::InputTokens(30),
                WireEvent::ToolStart {
                    index: 0,
                    id: "toolu_1".into(),
                    name: "plan".into()
                },
                WireEvent::ToolArgs {
                    index: 0,
                    fragment: "{\"a\":".into()
                },
                WireEvent::Finish(FinishReason::ToolCalls),
                WireEvent::OutputTokens(15),
                WireEvent::Done,
            ]
        );
    }

    #[test]
    fn error_events_are_classified() {
        let mut d = EventDecoder::default();
        let err = d
            .on_event(&sse("error", r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#), &mut Vec::new())
            .unwrap_err();
        assert_eq!(err, LlmError::Overloaded { status: 529 });
        let err = d
            .on_event(
                &sse(
                    "error",
                    r#"{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}"#,
                ),
                &mut Vec::new(),
            )
            .unwrap_err();
        assert_eq!(err, LlmError::RateLimited { retry_after: None });
    }

    #[test]
    fn body_uses_forced_tool_or_prompt() {
        let mut config = ProviderConfig::new("a", ProviderKind::Anthropic, "claude");
        let schema = json!({"type":"object"});
        let request = ChatRequest::new(vec![Message::user("hi")])
            .with_structured(StructuredOutput::new("plan", schema.clone()));
        let (body, mode) = request_body(&config, &request);
        assert_eq!(mode, Some(StructuredMode::ToolCall));
        assert_eq!(
            body["tools"][0],
            json!({"name":"plan","input_schema":schema})
        );
        assert_eq!(body["tool_choice"], json!({"type":"tool","name":"plan"}));
        assert!(body.get("system").is_none());

        config.capabilities.tools = false;
        let (body, mode) = request_body(&config, &request);
        assert_eq!(mode, Some(StructuredMode::Prompt));
        assert!(body.get("tools").is_none());
        assert!(body["system"].as_str().unwrap().contains("JSON Schema"));
    }
}
