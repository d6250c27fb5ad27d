use std::time::{Duration, Instant};

use serde_json::json;
use switchboard_llm::{
    CancellationToken, DeltaSink, FinishReason, LlmError, StreamEvent, StructuredMode,
    StructuredOutput, TimeoutPhase,
};

use crate::fake::{wire, FakeServer, Script, Step};
use crate::{anthropic_config, args_of, call, hello_request, text_of};

const PIECES: [&str; 4] = ["¿Tienes ", "café", "? ", "🎉"];
const FULL: &str = "¿Tienes café? 🎉";

#[tokio::test]
async fn text_stream_with_usage_and_headers() {
    let server = FakeServer::start(vec![Script::sse_chunks(wire::anthropic_stream(
        &PIECES, 31, 12,
    ))])
    .await;
    let (result, events) = call(anthropic_config(&server.url()), hello_request()).await;
    let completion = result.unwrap();
    assert_eq!(
        events,
        PIECES
            .iter()
            .map(|p| StreamEvent::Text(p.to_string()))
            .collect::<Vec<_>>()
    );
    assert_eq!(completion.text, FULL);
    assert_eq!(completion.finish_reason, FinishReason::Stop);
    assert_eq!(completion.usage.input_tokens, 31);
    assert_eq!(completion.usage.output_tokens, 12);
    assert!(!completion.usage.estimated);
    assert_eq!(completion.model, "claude-fake");

    let r = &server.requests()[0];
    assert_eq!(r.path, "/v1/messages");
    assert_eq!(r.header("x-api-key"), Some("ak-test"));
    assert_eq!(r.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(r.header("authorization"), None);
    assert_eq!(r.body["system"], json!("Eres un barista."));
    assert_eq!(
        r.body["messages"],
        json!([{"role":"user","content":"¿Tienes café?"}])
    );
    assert_eq!(r.body["stream"], json!(true));
    assert_eq!(r.body["max_tokens"], json!(1024));
}

#[tokio::test]
async fn tool_use_stream_builds_arguments() {
    let args = r#"{"actions":[{"type":"reply","text":"¡Hola! ☕"}],"reasoning":"greet"}"#;
    let mut events = vec![
        wire::anthropic_start(80),
        wire::anthropic_tool_block(0, "toolu_01", "plan"),
        wire::anthropic_json(0, ""),
    ];
    for piece in [&args[..7], &args[7..31], &args[31..]] {
        events.push(wire::anthropic_json(0, piece));
        events.push(wire::anthropic_ping());
    }
    events.push(wire::anthropic_block_stop(0));
    events.push(wire::anthropic_delta("tool_use", 40));
    events.push(wire::anthropic_stop());
    let server = FakeServer::start(vec![Script::sse_chunks(events)]).await;

    let request =
        hello_request().with_structured(StructuredOutput::new("plan", json!({"type":"object"})));
    let (result, seen) = call(anthropic_config(&server.url()), request).await;
    let completion = result.unwrap();
    assert_eq!(completion.structured_mode, Some(StructuredMode::ToolCall));
    assert_eq!(completion.finish_reason, FinishReason::ToolCalls);
    assert_eq!(completion.tool_calls[0].id, "toolu_01");
    assert_eq!(completion.tool_calls[0].name, "plan");
    assert_eq!(completion.structured_json(), Some(args));
    assert_eq!(args_of(&seen), args);
    assert_eq!(completion.usage.output_tokens, 40);

    let body = &server.requests()[0].body;
    assert_eq!(body["tool_choice"], json!({"type":"tool","name":"plan"}));
    assert_eq!(body["tools"][0]["input_schema"], json!({"type":"object"}));
}

#[tokio::test]
async fn text_before_tool_use_keeps_tool_numbering() {
    let events = vec![
        wire::anthropic_start(10),
        wire::anthropic_text_block(0),
        wire::anthropic_text(0, "Let me plan."),
        wire::anthropic_block_stop(0),
        wire::anthropic_tool_block(1, "toolu_02", "plan"),
        wire::anthropic_json(1, "{\"a\":1}"),
        wire::anthropic_block_stop(1),
        wire::anthropic_delta("tool_use", 9),
        wire::anthropic_stop(),
    ];
    let server = FakeServer::start(vec![Script::sse_chunks(events)]).await;
    let (result, seen) = call(anthropic_config(&server.url()), hello_request()).await;
    let completion = result.unwrap();
    assert_eq!(completion.text, "Let me plan.");
    assert_eq!(completion.tool_calls.len(), 1);
    assert_eq!(completion.tool_calls[0].arguments, "{\"a\":1}");
    assert!(seen.contains(&StreamEvent::ToolArguments {
        index: 0,
        fragment: "{\"a\":1}".into()
    }));
}

#[tokio::test]
async fn body_split_at_every_byte_position() {
    let body = wire::anthropic_stream(&PIECES, 31, 12)
        .concat()
        .into_bytes();
    let scripts: Vec<Script> = (1..body.len())
        .map(|i| {
            Script::sse_spaced(
                [body[..i].to_vec(), body[i..].to_vec()],
                Duration::from_millis(1),
            )
        })
        .collect();
    let server = FakeServer::start(scripts).await;
    let provider = switchboard_llm::connect(anthropic_config(&server.url())).unwrap();
    for i in 1..body.len() {
        let (sink, mut rx) = DeltaSink::channel();
        let completion = provider
            .stream(hello_request(), sink, CancellationToken::new())
            .await
            .unwrap_or_else(|e| panic!("split at {i}: {e}"));
        assert_eq!(completion.text, FULL, "split at {i}");
        let mut streamed = String::new();
        while let Ok(StreamEvent::Text(t)) = rx.try_recv() {
            streamed.push_str(&t);
        }
        assert_eq!(streamed, FULL, "split at {i}");
    }
}

#[tokio::test]
async fn overloaded_status_and_event() {
    let server = FakeServer::start(vec![Script::json(
        529,
        r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
    )])
    .await;
    let (result, _) = call(anthropic_config(&server.url()), hello_request()).await;
    assert_eq!(result.unwrap_err(), LlmError::Overloaded { status: 529 });

    // Anthropic can also fail after the 200 OK, with an `error` event.
    let server = FakeServer::start(vec![Script::sse_chunks([
        wire::anthropic_start(5),
        wire::anthropic_text_block(0),
        wire::anthropic_text(0, "Ho"),
        wire::anthropic(
            "error",
            json!({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}),
        ),
    ])])
    .await;
    let (result, events) = call(anthropic_config(&server.url()), hello_request()).await;
    let err = result.unwrap_err();
    assert_eq!(err, LlmError::Overloaded { status: 529 });
    assert!(err.is_retryable());
    assert_eq!(text_of(&events), "Ho");
}

#[tokio::test]
async fn authentication_error() {
    let server = FakeServer::start(vec![Script::json(
        401,
        r#"{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}"#,
    )])
    .await;
    let (result, _) = call(anthropic_config(&server.url()), hello_request()).await;
    assert_eq!(result.unwrap_err(), LlmError::Authentication);
}

#[tokio::test]
async fn prompt_too_long() {
    let server = FakeServer::start(vec![Script::json(
        400,
        r#"{"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: 208310 tokens > 200000 maximum"}}"#,
    )])
    .await;
    let (result, _) = call(anthropic_config(&server.url()), hello_request()).await;
    assert_eq!(result.unwrap_err(), LlmError::ContextTooLong);
}

#[tokio::test]
async fn rate_limited_with_retry_after() {
    let server = FakeServer::start(vec![Script::json(
        429,
        r#"{"type":"error","error":{"type":"rate_limit_error","message":"Number of request tokens has exceeded your per-minute rate limit"}}"#,
    )
    .header("retry-after", "2")])
    .await;
    let (result, _) = call(anthropic_config(&server.url()), hello_request()).await;
    assert_eq!(
        result.unwrap_err(),
        LlmError::RateLimited {
            retry_after: Some(Duration::from_secs(2))
        }
    );
}

#[tokio::test]
async fn end_without_message_stop_is_disconnected() {
    let mut events = wire::anthropic_stream(&PIECES, 1, 1);
    events.pop();
    let server = FakeServer::start(vec![Script::sse_chunks(events)]).await;
    let (result, events) = call(anthropic_config(&server.url()), hello_request()).await;
    assert_eq!(result.unwrap_err(), LlmError::Disconnected);
    assert_eq!(text_of(&events), FULL);

    let script = Script::sse_chunks([wire::anthropic_start(1), wire::anthropic_text_block(0)])
        .then(Step::Abort);
    let server = FakeServer::start(vec![script]).await;
    let (result, _) = call(anthropic_config(&server.url()), hello_request()).await;
    assert_eq!(result.unwrap_err(), LlmError::Disconnected);
}

#[tokio::test]
async fn pings_keep_idle_alive_until_first_token_deadline() {
    let mut steps = vec![Step::Write(wire::anthropic_start(3).into_bytes())];
    for _ in 0..40 {
        steps.push(Step::Sleep(Duration::from_millis(40)));
        steps.push(Step::Write(wire::anthropic_ping().into_bytes()));
    }
    let server = FakeServer::start(vec![Script::sse(steps)]).await;
    let mut config = anthropic_config(&server.url());
    config.timeouts.idle = Duration::from_millis(400);
    config.timeouts.first_token = Duration::from_millis(900);
    let started = Instant::now();
    let (result, _) = call(config, hello_request()).await;
    assert_eq!(
        result.unwrap_err(),
        LlmError::Timeout {
            phase: TimeoutPhase::FirstToken
        }
    );
    assert!(started.elapsed() >= Duration::from_millis(850));
}

#[tokio::test]
async fn stall_hits_idle_timeout() {
    let script = Script::sse_chunks([
        wire::anthropic_start(3),
        wire::anthropic_text_block(0),
        wire::anthropic_text(0, "Hola"),
    ])
    .then(Step::Stall);
    let server = FakeServer::start(vec![script]).await;
    let mut config = anthropic_config(&server.url());
    config.timeouts.idle = Duration::from_millis(200);
    let (result, _) = call(config, hello_request()).await;
    assert_eq!(
        result.unwrap_err(),
        LlmError::Timeout {
            phase: TimeoutPhase::Idle
        }
    );
    assert!(server.wait_client_closed(1, Duration::from_secs(2)).await);
}

#[tokio::test]
async fn missing_output_usage_is_estimated() {
    let events = vec![
        wire::anthropic_start(7),
        wire::anthropic_text_block(0),
        wire::anthropic_text(0, FULL),
        wire::anthropic_block_stop(0),
        wire::anthropic(
            "message_delta",
            json!({"type":"message_delta","delta":{"stop_reason":"max_tokens"}}),
        ),
        wire::anthropic_stop(),
    ];
    let server = FakeServer::start(vec![Script::sse_chunks(events)]).await;
    let (result, _) = call(anthropic_config(&server.url()), hello_request()).await;
    let completion = result.unwrap();
    assert_eq!(completion.finish_reason, FinishReason::Length);
    assert_eq!(completion.usage.input_tokens, 7);
    assert!(completion.usage.estimated);
    assert_eq!(
        completion.usage.output_tokens,
        switchboard_llm::tokens::estimate_tokens(FULL)
    );
}

#[tokio::test]
async fn cancellation_closes_the_connection() {
    let script = Script::sse_chunks([
        wire::anthropic_start(3),
        wire::anthropic_text_block(0),
        wire::anthropic_text(0, "Hola"),
    ])
    .then(Step::KeepAliveUntilClosed(Duration::from_millis(20)));
    let server = FakeServer::start(vec![script]).await;
    let provider = switchboard_llm::connect(anthropic_config(&server.url())).unwrap();
    let (sink, mut rx) = DeltaSink::channel();
    let cancel = CancellationToken::new();
    let task = {
        let cancel = cancel.clone();
        tokio::spawn(async move { provider.stream(hello_request(), sink, cancel).await })
    };
    assert_eq!(rx.recv().await, Some(StreamEvent::Text("Hola".into())));
    cancel.cancel();
    let result = task.await.unwrap();
    assert_eq!(result.unwrap_err(), LlmError::Cancelled);
    assert!(server.wait_client_closed(1, Duration::from_secs(2)).await);
}
