//! Integration tests: real HTTP on loopback against scripted servers speaking the
//! OpenAI and Anthropic streaming formats.

mod anthropic;
mod config;
mod fake;
mod hostile;
mod invariants;
#[cfg(feature = "local")]
mod local;
mod openai;
mod partial_json;
mod sse;
mod stream_hub;
mod tokens;

use std::time::Duration;

use switchboard_llm::{ProviderConfig, ProviderKind, Secret, Timeouts};

/// Deadlines short enough for tests, long enough not to flake on a loaded 2-core box.
pub fn test_timeouts() -> Timeouts {
    Timeouts {
        connect: Duration::from_secs(2),
        first_token: Duration::from_secs(5),
        idle: Duration::from_secs(5),
        total: Duration::from_secs(20),
    }
}

pub fn openai_config(base_url: &str) -> ProviderConfig {
    let mut c = ProviderConfig::new("fake-openai", ProviderKind::OpenAiCompatible, "fake-model");
    c.base_url = format!("{base_url}/v1");
    c.api_key = Some(Secret::new("sk-test"));
    c.timeouts = test_timeouts();
    c
}

pub fn anthropic_config(base_url: &str) -> ProviderConfig {
    let mut c = ProviderConfig::new("fake-anthropic", ProviderKind::Anthropic, "claude-fake");
    c.base_url = base_url.to_string();
    c.api_key = Some(Secret::new("ak-test"));
    c.timeouts = test_timeouts();
    c
}

use switchboard_llm::{
    CancellationToken, ChatRequest, Completion, DeltaSink, LlmError, Message, StreamEvent,
};

pub fn hello_request() -> ChatRequest {
    ChatRequest::new(vec![Message::user("¿Tienes café?")]).with_system("Eres un barista.")
}

/// Runs one call against `config`, returning the result and every delta the sink saw.
pub async fn call(
    config: ProviderConfig,
    request: ChatRequest,
) -> (Result<Completion, LlmError>, Vec<StreamEvent>) {
    let provider = switchboard_llm::connect(config).expect("provider");
    let (sink, mut rx) = DeltaSink::channel();
    let result = provider
        .stream(request, sink, CancellationToken::new())
        .await;
    let mut events = Vec::new();
    while let Ok(e) = rx.try_recv() {
        events.push(e);
    }
    (result, events)
}

pub fn text_of(events: &[StreamEvent]) -> String {
    events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::Text(t) => Some(t.as_str()),
            _ => None,
        })
        .collect()
}

pub fn args_of(events: &[StreamEvent]) -> String {
    events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::ToolArguments { fragment, .. } => Some(fragment.as_str()),
            _ => None,
        })
        .collect()
}
