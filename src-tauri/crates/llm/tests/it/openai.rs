use std::time::{Duration, Instant};

use serde_json::json;
use switchboard_llm::{
    tokens, CancellationToken, DeltaSink, FinishReason, LlmError, StreamEvent, StructuredMode,
    StructuredOutput, TimeoutPhase,
};

use crate::fake::{wire, FakeServer, Script, Step};
use crate::{args_of, call, hello_request, openai_config, text_of};

const PIECES: [&str; 4] = ["¿Tienes ", "café", "? ", "🎉"];
const FULL: &str = "¿Tienes café? 🎉";

#[tokio::test]
async fn content_stream_arrives_in_order_with_usage() {
    let server = FakeServer::start(vec![Script::sse_chunks(wire::openai_stream(
        &PIECES,
        Some((21, 9)),
    ))])
    .await;
    let (result, events) = call(openai_config(&server.url()), hello_request()).await;
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
    assert_eq!(completion.usage.input_tokens, 21);
    assert_eq!(completion.usage.output_tokens, 9);
    assert!(!completion.usage.estimated);
    assert_eq!(completion.model, "fake-model");
    assert_eq!(completion.provider, "fake-openai");
    assert!(completion.time_to_first_token.is_some());
    assert!(completion.time_to_first_token.unwrap() <= completion.total_time);
    assert_eq!(completion.cost, None);

    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, "/v1/chat/completions");
    assert_eq!(r.header("authorization"), Some("Bearer sk-test"));
    assert_eq!(r.body["stream"], json!(true));
    assert_eq!(r.body["stream_options"], json!({"include_usage": true}));
    assert_eq!(r.body["model"], json!("fake-model"));
    assert_eq!(
        r.body["messages"][0],
        json!({"role":"system","content":"Eres un barista."})
    );
    assert_eq!(
        r.body["messages"][1],
        json!({"role":"user","content":"¿Tienes café?"})
    );
}

#[tokio::test]
async fn tool_call_stream_builds_arguments() {
    let args = r#"{"actions":[{"type":"reply","text":"Sí, ¡claro!"}]}"#;
    let mut events = vec![
        wire::openai_role(),
        wire::openai_tool_start("call_7", "plan"),
    ];
    for piece in [&args[..5], &args[5..20], &args[20..]] {
        events.push(wire::openai_tool_args(piece));
    }
    events.push(wire::openai_finish("tool_calls"));
    events.push(wire::openai_usage(50, 12));
    events.push(wire::OPENAI_DONE.into());
    let server = FakeServer::start(vec![Script::sse_chunks(events)]).await;

    let mut config = openai_config(&server.url());
    config.capabilities.tools = true;
    let request = hello_request().with_structured(StructuredOutput::new(
        "plan",
        json!({"type":"object","properties":{"actions":{"type":"array"}}}),
    ));
    let (result, seen) = call(config, request).await;
    let completion = result.unwrap();

    assert_eq!(completion.finish_reason, FinishReason::ToolCalls);
    assert_eq!(completion.structured_mode, Some(StructuredMode::ToolCall));
    assert_eq!(completion.tool_calls.len(), 1);
    assert_eq!(completion.tool_calls[0].id, "call_7");
    assert_eq!(completion.tool_calls[0].name, "plan");
    assert_eq!(completion.tool_calls[0].arguments, args);
    assert_eq!(completion.structured_json(), Some(args));
    assert_eq!(
        seen[0],
        StreamEvent::ToolCallStart {
            index: 0,
            id: "call_7".into(),
            name: "plan".into()
        }
    );
    assert_eq!(args_of(&seen), args);

    let body = &server.requests()[0].body;
    assert_eq!(
        body["tool_choice"],
        json!({"type":"function","function":{"name":"plan"}})
    );
    assert_eq!(body["tools"][0]["type"], json!("function"));
}

#[tokio::test]
async fn json_schema_mode_streams_json_as_text() {
    let doc = r#"{"actions":[{"type":"reply","text":"Hola"}]}"#;
    let server = FakeServer::start(vec![Script::sse_chunks(wire::openai_stream(
        &[&doc[..10], &doc[10..]],
        Some((5, 5)),
    ))])
    .await;
    let mut config = openai_config(&server.url());
    config.capabilities.json_schema = true;
    config.capabilities.tools = true;
    let schema = json!({"type":"object"});
    let request = hello_request().with_structured(StructuredOutput::new("plan", schema.clone()));
    let (result, _) = call(config, request).await;
    let completion = result.unwrap();
    assert_eq!(completion.structured_mode, Some(StructuredMode::JsonSchema));
    assert_eq!(completion.structured_json(), Some(doc));
    let body = &server.requests()[0].body;
    assert_eq!(
        body["response_format"],
        json!({"type":"json_schema","json_schema":{"name":"plan","schema":schema,"strict":true}})
    );
}

fn full_body() -> Vec<u8> {
    wire::openai_stream(&PIECES, Some((21, 9)))
        .concat()
        .into_bytes()
}

#[tokio::test]
async fn body_split_at_every_byte_position() {
    let body = full_body();
    let scripts: Vec<Script> = (1..body.len())
        .map(|i| {
            Script::sse_spaced(
                [body[..i].to_vec(), body[i..].to_vec()],
                Duration::from_millis(1),
            )
        })
        .collect();
    let server = FakeServer::start(scripts).await;
    let provider = switchboard_llm::connect(openai_config(&server.url())).unwrap();
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
async fn body_written_one_byte_at_a_time() {
    let body = full_body();
    let chunks: Vec<Vec<u8>> = body.iter().map(|b| vec![*b]).collect();
    let server =
        FakeServer::start(vec![Script::sse_spaced(chunks, Duration::from_micros(200))]).await;
    let (result, events) = call(openai_config(&server.url()), hello_request()).await;
    assert_eq!(result.unwrap().text, FULL);
    assert_eq!(text_of(&events), FULL);
}

#[tokio::test]
async fn comments_and_empty_keep_alives_are_ignored() {
    let mut chunks = vec![": keep-alive\n\n".to_string(), "\n".into(), ":\n".into()];
    for event in wire::openai_stream(&PIECES, None) {
        chunks.push(event);
        chunks.push(": keep-alive\n\n".into());
        chunks.push("\r\n".into());
    }
    let server = FakeServer::start(vec![Script::sse_chunks(chunks)]).await;
    let (result, events) = call(openai_config(&server.url()), hello_request()).await;
    assert_eq!(result.unwrap().text, FULL);
    assert_eq!(text_of(&events), FULL);
}

#[tokio::test]
async fn crlf_line_endings_work() {
    let body = wire::openai_stream(&PIECES, None)
        .concat()
        .replace('\n', "\r\n");
    let server = FakeServer::start(vec![Script::sse_chunks([body])]).await;
    let (result, _) = call(openai_config(&server.url()), hello_request()).await;
    assert_eq!(result.unwrap().text, FULL);
}

#[tokio::test]
async fn slow_stream_within_idle_timeout_succeeds() {
    let server = FakeServer::start(vec![Script::sse_spaced(
        wire::openai_stream(&PIECES, None),
        Duration::from_millis(100),
    )])
    .await;
    let mut config = openai_config(&server.url());
    config.timeouts.idle = Duration::from_millis(400);
    config.timeouts.first_token = Duration::from_millis(1500);
    let started = Instant::now();
    let (result, _) = call(config, hello_request()).await;
    assert_eq!(result.unwrap().text, FULL);
    assert!(started.elapsed() >= Duration::from_millis(500));
}

#[tokio::test]
async fn keep_alives_extend_idle_but_not_first_token() {
    // Pings every 50 ms keep the connection "active", but no content ever comes.
    let script = Script::sse_chunks([wire::openai_role()])
        .then(Step::KeepAliveUntilClosed(Duration::from_millis(50)));
    let server = FakeServer::start(vec![script]).await;
    let mut config = openai_config(&server.url());
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
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(850), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
    assert!(server.wait_client_closed(1, Duration::from_secs(2)).await);
}

#[tokio::test]
async fn stall_after_first_token_hits_idle_timeout() {
    let script =
        Script::sse_chunks([wire::openai_role(), wire::openai_text("Hola")]).then(Step::Stall);
    let server = FakeServer::start(vec![script]).await;
    let mut config = openai_config(&server.url());
    config.timeouts.idle = Duration::from_millis(200);
    let started = Instant::now();
    let (result, events) = call(config, hello_request()).await;
    let err = result.unwrap_err();
    assert_eq!(
        err,
        LlmError::Timeout {
            phase: TimeoutPhase::Idle
        }
    );
    assert!(err.is_retryable());
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(text_of(&events), "Hola");
    // Timing out drops the request: the server sees the connection close.
    assert!(server.wait_client_closed(1, Duration::from_secs(2)).await);
}

#[tokio::test]
async fn total_timeout_bounds_a_trickling_stream() {
    let mut steps = vec![Step::Write(wire::openai_role().into_bytes())];
    for _ in 0..50 {
        steps.push(Step::Write(wire::openai_text("a").into_bytes()));
        steps.push(Step::Sleep(Duration::from_millis(50)));
    }
    let server = FakeServer::start(vec![Script::sse(steps)]).await;
    let mut config = openai_config(&server.url());
    config.timeouts.total = Duration::from_millis(400);
    let (result, _) = call(config, hello_request()).await;
    assert_eq!(
        result.unwrap_err(),
        LlmError::Timeout {
            phase: TimeoutPhase::Total
        }
    );
}

#[tokio::test]
async fn abrupt_disconnect_is_disconnected() {
    let script =
        Script::sse_chunks([wire::openai_role(), wire::openai_text("Hola")]).then(Step::Abort);
    let server = FakeServer::start(vec![script]).await;
    let (result, events) = call(openai_config(&server.url()), hello_request()).await;
    let err = result.unwrap_err();
    assert_eq!(err, LlmError::Disconnected);
    assert!(err.is_retryable());
    assert_eq!(text_of(&events), "Hola");
}

#[tokio::test]
async fn clean_end_without_done_is_disconnected() {
    let mut events = wire::openai_stream(&PIECES, Some((1, 1)));
    events.pop(); // no [DONE]
    let server = FakeServer::start(vec![Script::sse_chunks(events)]).await;
    let (result, _) = call(openai_config(&server.url()), hello_request()).await;
    assert_eq!(result.unwrap_err(), LlmError::Disconnected);
}

#[tokio::test]
async fn rate_limit_with_retry_after_seconds() {
    let server = FakeServer::start(vec![Script::json(
        429,
        r#"{"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}}"#,
    )
    .header("retry-after", "2")])
    .await;
    let (result, events) = call(openai_config(&server.url()), hello_request()).await;
    let err = result.unwrap_err();
    assert_eq!(
        err,
        LlmError::RateLimited {
            retry_after: Some(Duration::from_secs(2))
        }
    );
    assert!(err.is_retryable());
    assert_eq!(err.retry_after(), Some(Duration::from_secs(2)));
    assert!(events.is_empty());
}

#[tokio::test]
async fn rate_limit_with_retry_after_date() {
    let when = httpdate_in(Duration::from_secs(120));
    let server =
        FakeServer::start(vec![Script::json(429, "{}").header("retry-after", &when)]).await;
    let (result, _) = call(openai_config(&server.url()), hello_request()).await;
    let Err(LlmError::RateLimited {
        retry_after: Some(d),
    }) = result
    else {
        panic!("{result:?}");
    };
    assert!(
        d > Duration::from_secs(100) && d <= Duration::from_secs(120),
        "{d:?}"
    );
}

fn httpdate_in(d: Duration) -> String {
    // Formatted by hand to keep the test independent of the crate's date parser.
    let t = std::time::SystemTime::now() + d;
    let secs = t.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let days = secs / 86_400;
    let (h, m, s) = ((secs / 3600) % 24, (secs / 60) % 60, secs % 60);
    let weekday = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][(days % 7) as usize];
    // Civil-from-days (Howard Hinnant).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let mon = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ][(month - 1) as usize];
    format!("{weekday}, {day:02} {mon} {year} {h:02}:{m:02}:{s:02} GMT")
}

#[tokio::test]
async fn server_errors_are_overloaded() {
    for status in [500u16, 502, 503, 529] {
        let server = FakeServer::start(vec![Script::json(
            status,
            r#"{"error":{"message":"The server had an error","type":"server_error"}}"#,
        )])
        .await;
        let (result, _) = call(openai_config(&server.url()), hello_request()).await;
        let err = result.unwrap_err();
        assert_eq!(err, LlmError::Overloaded { status }, "status {status}");
        assert!(err.is_retryable());
    }
}

#[tokio::test]
async fn unauthorized_is_authentication() {
    let server = FakeServer::start(vec![Script::json(
        401,
        r#"{"error":{"message":"Incorrect API key provided","type":"invalid_request_error","code":"invalid_api_key"}}"#,
    )])
    .await;
    let (result, _) = call(openai_config(&server.url()), hello_request()).await;
    let err = result.unwrap_err();
    assert_eq!(err, LlmError::Authentication);
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn context_length_is_classified() {
    let server = FakeServer::start(vec![Script::json(
        400,
        r#"{"error":{"message":"This model's maximum context length is 8192 tokens. However, your messages resulted in 9000 tokens.","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}"#,
    )])
    .await;
    let (result, _) = call(openai_config(&server.url()), hello_request()).await;
    assert_eq!(result.unwrap_err(), LlmError::ContextTooLong);
}

#[tokio::test]
async fn other_bad_requests_keep_the_message() {
    let server = FakeServer::start(vec![Script::json(
        400,
        r#"{"error":"model 'nope' not found"}"#,
    )])
    .await;
    let (result, _) = call(openai_config(&server.url()), hello_request()).await;
    assert_eq!(
        result.unwrap_err(),
        LlmError::InvalidRequest {
            message: "model 'nope' not found".into()
        }
    );
}

#[tokio::test]
async fn invalid_json_chunk_is_malformed() {
    let server = FakeServer::start(vec![Script::sse_chunks([
        wire::openai_role(),
        wire::openai_text("Hola"),
        "data: {\"choices\":[{\"delta\":{\"content\":\"x\"\n\n".to_string(),
        wire::OPENAI_DONE.to_string(),
    ])])
    .await;
    let (result, events) = call(openai_config(&server.url()), hello_request()).await;
    let err = result.unwrap_err();
    assert!(matches!(err, LlmError::MalformedStream { .. }), "{err:?}");
    assert!(!err.is_retryable());
    assert_eq!(text_of(&events), "Hola");
}

#[tokio::test]
async fn invalid_utf8_in_stream_is_malformed() {
    let mut bad = wire::openai_text("Hola").into_bytes();
    let at = bad.len() - 10;
    bad[at] = 0xFF;
    let server = FakeServer::start(vec![Script::sse_chunks([
        wire::openai_role().into_bytes(),
        bad,
    ])])
    .await;
    let (result, _) = call(openai_config(&server.url()), hello_request()).await;
    assert!(matches!(
        result.unwrap_err(),
        LlmError::MalformedStream { .. }
    ));
}

#[tokio::test]
async fn error_inside_stream_is_classified() {
    let server = FakeServer::start(vec![Script::sse_chunks([
        wire::openai_role(),
        wire::data(json!({"error":{"message":"overloaded","type":"server_error"}})),
    ])])
    .await;
    let (result, _) = call(openai_config(&server.url()), hello_request()).await;
    assert_eq!(result.unwrap_err(), LlmError::Overloaded { status: 500 });
}

#[tokio::test]
async fn missing_usage_is_estimated() {
    let server =
        FakeServer::start(vec![Script::sse_chunks(wire::openai_stream(&PIECES, None))]).await;
    let request = hello_request();
    let (result, _) = call(openai_config(&server.url()), request.clone()).await;
    let completion = result.unwrap();
    assert!(completion.usage.estimated);
    assert_eq!(
        completion.usage.output_tokens,
        tokens::estimate_tokens(FULL)
    );
    assert_eq!(
        completion.usage.input_tokens,
        tokens::estimate_request_tokens(&request, None)
    );
    assert!(completion.usage.input_tokens > 0);
}

#[tokio::test]
async fn cost_from_configured_prices() {
    let server = FakeServer::start(vec![Script::sse_chunks(wire::openai_stream(
        &PIECES,
        Some((1000, 500)),
    ))])
    .await;
    let mut config = openai_config(&server.url());
    config.capabilities.price_in_per_mtok = Some(2.5);
    config.capabilities.price_out_per_mtok = Some(10.0);
    let (result, _) = call(config, hello_request()).await;
    let cost = result.unwrap().cost.unwrap();
    assert!((cost - 0.0075).abs() < 1e-12, "{cost}");
}

#[tokio::test]
async fn cancellation_mid_stream_closes_the_connection() {
    let script = Script::sse_chunks([wire::openai_role(), wire::openai_text("Hola")])
        .then(Step::KeepAliveUntilClosed(Duration::from_millis(20)));
    let server = FakeServer::start(vec![script]).await;
    let provider = switchboard_llm::connect(openai_config(&server.url())).unwrap();
    let (sink, mut rx) = DeltaSink::channel();
    let cancel = CancellationToken::new();
    let task = {
        let cancel = cancel.clone();
        let provider = provider.clone();
        tokio::spawn(async move { provider.stream(hello_request(), sink, cancel).await })
    };
    assert_eq!(rx.recv().await, Some(StreamEvent::Text("Hola".into())));
    cancel.cancel();
    let result = tokio::time::timeout(Duration::from_secs(2), task)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(result.unwrap_err(), LlmError::Cancelled);
    assert!(
        server.wait_client_closed(1, Duration::from_secs(2)).await,
        "server never saw the connection close"
    );
}

#[tokio::test]
async fn dropping_the_future_also_closes_the_connection() {
    let script =
        Script::sse_chunks([wire::openai_role(), wire::openai_text("Hola")]).then(Step::Stall);
    let server = FakeServer::start(vec![script]).await;
    let provider = switchboard_llm::connect(openai_config(&server.url())).unwrap();
    let (sink, mut rx) = DeltaSink::channel();
    let task = {
        let provider = provider.clone();
        tokio::spawn(async move {
            provider
                .stream(hello_request(), sink, CancellationToken::new())
                .await
        })
    };
    assert!(rx.recv().await.is_some());
    task.abort();
    assert!(server.wait_client_closed(1, Duration::from_secs(2)).await);
}

#[tokio::test]
async fn connection_refused_is_a_network_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let (result, _) = call(openai_config(&url), hello_request()).await;
    let err = result.unwrap_err();
    assert!(matches!(err, LlmError::Network { .. }), "{err:?}");
    assert!(err.is_retryable());
}

#[tokio::test]
async fn no_api_key_sends_no_authorization() {
    let server =
        FakeServer::start(vec![Script::sse_chunks(wire::openai_stream(&["ok"], None))]).await;
    let mut config = openai_config(&server.url());
    config.api_key = None;
    let (result, _) = call(config, hello_request()).await;
    assert_eq!(result.unwrap().text, "ok");
    assert_eq!(server.requests()[0].header("authorization"), None);
}

#[tokio::test]
async fn connect_timeout_when_the_server_never_accepts() {
    // A listener with a one-slot accept queue that never accepts: once the queue is full,
    // Linux drops further SYNs, so the next connect hangs until our connect timeout.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(1).unwrap();
    let addr = listener.local_addr().unwrap();
    let mut fillers = Vec::new();
    for _ in 0..4 {
        if let Ok(Ok(s)) = tokio::time::timeout(
            Duration::from_millis(200),
            tokio::net::TcpStream::connect(addr),
        )
        .await
        {
            fillers.push(s);
        }
    }
    let mut config = openai_config(&format!("http://{addr}"));
    config.timeouts.connect = Duration::from_millis(300);
    let started = Instant::now();
    let (result, _) = call(config, hello_request()).await;
    let err = result.unwrap_err();
    assert_eq!(
        err,
        LlmError::Timeout {
            phase: TimeoutPhase::Connect
        },
        "{err:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(3));
    drop(listener);
}

#[tokio::test]
async fn absurd_timeouts_mean_never_not_a_panic() {
    let server =
        FakeServer::start(vec![Script::sse_chunks(wire::openai_stream(&PIECES, None))]).await;
    let mut config = openai_config(&server.url());
    let never = Duration::from_millis(u64::MAX);
    config.timeouts.first_token = never;
    config.timeouts.idle = never;
    config.timeouts.total = never;
    let (result, _) = call(config, hello_request()).await;
    assert_eq!(result.unwrap().text, FULL);
}
