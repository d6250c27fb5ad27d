//! OpenAI-compatible Chat Completions streaming (`POST {base_url}/chat/completions`).
//!
//! Covers OpenAI itself and the servers that copy its wire format (Ollama's `/v1`, vLLM,
//! llama.cpp, LM Studio, Groq, OpenRouter…). Fields those servers add (`reasoning_content`,
//! `system_fingerprint`, …) are ignored.

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

#[derive(Debug)]
pub struct OpenAiProvider {
    config: ProviderConfig,
    client: reqwest::Client,
    url: reqwest::Url,
}

impl OpenAiProvider {
    pub fn new(config: ProviderConfig) -> Result<Self, LlmError> {
        let client = wire::build_client(&config)?;
        let url = wire::endpoint(&config.base_url, "chat/completions")?;
        Ok(OpenAiProvider {
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
    let mut messages = Vec::with_capacity(request.messages.len() + 1);
    if let Some(system) =
        structured::system_prompt(request.system.as_deref(), request.structured.as_ref(), mode)
    {
        messages.push(json!({ "role": "system", "content": system }));
    }
    for m in &request.messages {
        let role = match m.role {
            Role::User => "user",
            Role::Assistant => "assistant",
        };
        messages.push(json!({ "role": role, "content": m.content }));
    }
    let mut body = Map::new();
    body.insert("model".into(), json!(config.model));
    body.insert("messages".into(), Value::Array(messages));
    body.insert("stream".into(), json!(true));
    body.insert("stream_options".into(), json!({ "include_usage": true }));
    // `max_tokens` rather than `max_completion_tokens`: every compatible server knows it.
    body.insert("max_tokens".into(), json!(request.max_tokens));
    if let Some(t) = request.temperature {
        body.insert("temperature".into(), json!(t));
    }
    if let (Some(output), Some(mode)) = (&request.structured, mode) {
        structured::apply_openai(&mut body, output, mode);
    }
    (Value::Object(body), mode)
}

impl Provider for OpenAiProvider {
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
                .json(&body);
            if let Some(key) = &self.config.api_key {
                builder = builder.bearer_auth(key.expose());
            }
            let ctx = CallContext {
                config: &self.config,
                request: &request,
                mode,
            };
            wire::execute(builder, ctx, ChunkDecoder::default(), sink, cancel).await
        })
    }
}

#[derive(Deserialize)]
struct Chunk {
    #[serde(default)]
    choices: Vec<Choice>,
    usage: Option<ChunkUsage>,
    model: Option<String>,
    error: Option<Value>,
}

#[derive(Deserialize)]
struct Choice {
    #[serde(default)]
    index: u64,
    delta: Option<Delta>,
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct Delta {
    content: Option<String>,
    #[serde(default)]
    tool_calls: Vec<ToolCallDelta>,
}

#[derive(Deserialize)]
struct ToolCallDelta {
    #[serde(default)]
    index: u64,
    id: Option<String>,
    function: Option<FunctionDelta>,
}

#[derive(Deserialize)]
struct FunctionDelta {
    name: Option<String>,
    arguments: Option<String>,
}

#[derive(Deserialize)]
struct ChunkUsage {
    prompt_tokens: Option<u64>,
    completion_tokens: Option<u64>,
}

/// Turns `data:` payloads of a Chat Completions stream into [`WireEvent`]s.
#[derive(Debug, Default)]
pub(crate) struct ChunkDecoder {
    slots: ToolSlots,
    /// Per slot: whether a name was announced, so servers that repeat `id`/`name` in
    /// every fragment do not produce repeated starts.
    named: Vec<bool>,
}

impl Decoder for ChunkDecoder {
    fn on_event(&mut self, event: &Sse, out: &mut Vec<WireEvent>) -> Result<(), LlmError> {
        let Some(data) = event.data.as_deref() else {
            return Ok(());
        };
        let data = data.trim();
        if data.is_empty() {
            return Ok(());
        }
        if data == "[DONE]" {
            out.push(WireEvent::Done);
            return Ok(());
        }
        let chunk: Chunk = serde_json::from_str(data)
            .map_err(|e| malformed(format!("chunk is not valid JSON ({e})")))?;
        if let Some(err) = chunk.error {
            // Servers report failures that happen after the 200 OK inside the stream.
            let body = error::parse_error_body(json!({ "error": err }).to_string().as_bytes());
            let status = match body.code.as_deref().or(body.kind.as_deref()) {
                Some("rate_limit_exceeded") => 429,
                Some("context_length_exceeded" | "invalid_request_error") => 400,
                _ => 500,
            };
            return Err(error::classify(status, None, &body));
        }
        if let Some(model) = chunk.model {
            out.push(WireEvent::Model(model));
        }
        // Only the first choice is ours: we never ask for `n > 1`.
        for choice in chunk.choices.into_iter().filter(|c| c.index == 0) {
            if let Some(delta) = choice.delta {
                if let Some(content) = delta.content {
                    out.push(WireEvent::Text(content));
                }
                for call in delta.tool_calls {
                    let is_new = self.slots.existing(call.index).is_none();
                    let index = self.slots.slot(call.index)?;
                    if self.named.len() <= index {
                        self.named.resize(index + 1, false);
                    }
                    let (name, arguments) = match call.function {
                        Some(f) => (f.name.filter(|n| !n.is_empty()), f.arguments),
                        None => (None, None),
                    };
                    let names_it = name.is_some() && !self.named[index];
                    if names_it {
                        self.named[index] = true;
                    }
                    if is_new || names_it {
                        out.push(WireEvent::ToolStart {
                            index,
                            id: call.id.unwrap_or_default(),
                            name: name.unwrap_or_default(),
                        });
                    }
                    if let Some(fragment) = arguments {
                        out.push(WireEvent::ToolArgs { index, fragment });
                    }
                }
            }
            if let Some(reason) = choice.finish_reason {
                out.push(WireEvent::Finish(FinishReason::from_openai(&reason)));
            }
        }
        if let Some(usage) = chunk.usage {
            if let Some(n) = usage.prompt_tokens {
                out.push(WireEvent::InputTokens(n));
            }
            if let Some(n) = usage.completion_tokens {
                out.push(WireEvent::OutputTokens(n));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::{Message, ProviderKind};
    use crate::structured::StructuredOutput;

    fn sse(data: &str) -> Sse {
        Sse::default().data(data)
    }

    #[test]
    fn decodes_content_tool_calls_usage_and_done() {
        let mut d = ChunkDecoder::default();
        let mut out = Vec::new();
        d.on_event(&sse(r#"{"model":"gpt-x","choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}"#), &mut out).unwrap();
        d.on_event(
            &sse(r#"{"choices":[{"index":0,"delta":{"content":"Hola"}}]}"#),
            &mut out,
        )
        .unwrap();
        d.on_event(&sse(r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"plan","arguments":""}}]}}]}"#), &mut out).unwrap();
        d.on_event(&sse(r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"a\""}}]}}]}"#), &mut out).unwrap();
        d.on_event(
            &sse(r#"{"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}"#),
            &mut out,
        )
        .unwrap();
        d.on_event(&sse(r#"{"choices":[],"usage":{"prompt_tokens":12,"completion_tokens":7,"total_tokens":19}}"#), &mut out).unwrap();
        d.on_event(&sse("[DONE]"), &mut out).unwrap();
        assert_eq!(
            out,
            vec![
                WireEvent::Model("gpt-x".into()),
                WireEvent::Text(String::new()),
                WireEvent::Text("Hola".into()),
                WireEvent::ToolStart {
                    index: 0,
                    id: "call_1".into(),
                    name: "plan".into()
                },
                WireEvent::ToolArgs {
                    index: 0,
                    fragment: String::new()
                },
                WireEvent::ToolArgs {
                    index: 0,
                    fragment: "{\"a\"".into()
                },
                WireEvent::Finish(FinishReason::ToolCalls),
                WireEvent::InputTokens(12),
                WireEvent::OutputTokens(7),
                WireEvent::Done,
            ]
        );
    }

    #[test]
    fn huge_tool_index_does_not_allocate() {
        let mut d = ChunkDecoder::default();
        let mut out = Vec::new();
        d.on_event(&sse(r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":18446744073709551615,"function":{"arguments":"x"}}]}}]}"#), &mut out).unwrap();
        assert!(out.contains(&WireEvent::ToolArgs {
            index: 0,
            fragment: "x".into()
        }));
    }

    #[test]
    fn in_stream_errors_are_classified() {
        let mut d = ChunkDecoder::default();
        let err = d
            .on_event(&sse(r#"{"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}}"#), &mut Vec::new())
            .unwrap_err();
        assert_eq!(err, LlmError::RateLimited { retry_after: None });
        let err = d.on_event(&sse("{not json"), &mut Vec::new()).unwrap_err();
        assert!(matches!(err, LlmError::MalformedStream { .. }));
    }

    #[test]
    fn body_per_mode() {
        let mut config = ProviderConfig::new("t", ProviderKind::OpenAiCompatible, "m");
        let schema = json!({"type":"object","properties":{"a":{"type":"string"}}});
        let request = ChatRequest::new(vec![Message::user("hi")])
            .with_system("Be brief.")
            .with_structured(StructuredOutput::new("plan", schema.clone()));

        let (body, mode) = request_body(&config, &request);
        assert_eq!(mode, Some(StructuredMode::Prompt));
        assert!(body["messages"][0]["content"]
            .as_str()
            .unwrap()
            .starts_with("Be brief.\n\n"));
        assert!(body["messages"][0]["content"]
            .as_str()
            .unwrap()
            .contains("\"properties\""));
        assert!(body.get("response_format").is_none());
        assert_eq!(body["stream_options"]["include_usage"], json!(true));

        config.capabilities.json_mode = true;
        let (body, _) = request_body(&config, &request);
        assert_eq!(body["response_format"], json!({"type":"json_object"}));
        assert!(body["messages"][0]["content"]
            .as_str()
            .unwrap()
            .contains("JSON Schema"));

        config.capabilities.tools = true;
        let (body, _) = request_body(&config, &request);
        assert_eq!(body["tools"][0]["function"]["parameters"], schema);
        assert_eq!(body["tool_choice"]["function"]["name"], json!("plan"));
        assert_eq!(body["messages"][0]["content"], json!("Be brief."));

        config.capabilities.json_schema = true;
        let (body, _) = request_body(&config, &request);
        assert_eq!(
            body["response_format"],
            json!({"type":"json_schema","json_schema":{"name":"plan","schema":schema,"strict":true}})
        );
        assert!(body.get("tools").is_none());
    }
}
