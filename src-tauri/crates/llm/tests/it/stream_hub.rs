use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::json;
use switchboard_llm::stream_hub::{json_field_sink, text_sink};
use switchboard_llm::{
    CancellationToken, FieldTarget, HubEvent, RunEnd, RunStream, StreamHub, StructuredOutput,
};

use crate::fake::{wire, FakeServer, Script};
use crate::{anthropic_config, hello_request, openai_config};

/// Reads until `Finished`, checking offsets are contiguous; returns (text, deltas read).
async fn drain(mut sub: switchboard_llm::Subscription) -> (String, usize) {
    let mut text = String::new();
    let mut reads = 0;
    while let Some(event) = sub.next().await {
        match event {
            HubEvent::Delta { offset, text: t } => {
                assert_eq!(offset, text.len(), "gap or overlap");
                text.push_str(&t);
                reads += 1;
            }
            HubEvent::Reset => text.clear(),
            HubEvent::Finished(end) => assert_eq!(end, RunEnd::Completed),
        }
    }
    (text, reads)
}

#[tokio::test]
async fn concurrent_subscribers_see_everything_in_order() {
    let run = RunStream::new();
    let subs: Vec<_> = (0..4)
        .map(|_| tokio::spawn(drain(run.subscribe())))
        .collect();
    let mut expected = String::new();
    for i in 0..2000 {
        let piece = format!("{i},");
        expected.push_str(&piece);
        run.publish(&piece);
        if i % 100 == 0 {
            tokio::task::yield_now().await;
        }
    }
    run.finish(RunEnd::Completed);
    for s in subs {
        let (text, _) = s.await.unwrap();
        assert_eq!(text, expected);
    }
}

#[tokio::test]
async fn slow_subscriber_gets_coalesced_delta_and_never_blocks_the_producer() {
    let run = RunStream::new();
    let mut slow = run.subscribe();
    let started = Instant::now();
    let mut expected = String::new();
    for i in 0..100_000 {
        let piece = if i % 2 == 0 { "ab" } else { "ç" };
        expected.push_str(piece);
        run.publish(piece);
    }
    // 100k publishes with nobody reading: a blocking or queueing design would stall here.
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        slow.next().await,
        Some(HubEvent::Delta {
            offset: 0,
            text: expected.clone()
        })
    );
    run.publish("z");
    run.publish("y");
    assert_eq!(
        slow.next().await,
        Some(HubEvent::Delta {
            offset: expected.len(),
            text: "zy".into()
        })
    );
    assert_eq!(slow.try_next(), None);
}

#[tokio::test]
async fn late_joiner_gets_history_as_one_delta_then_the_rest() {
    let run = RunStream::new();
    run.publish("Hola ");
    run.publish("¿qué ");
    let mut late = run.subscribe();
    assert_eq!(
        late.next().await,
        Some(HubEvent::Delta {
            offset: 0,
            text: "Hola ¿qué ".into()
        })
    );
    let waiter = tokio::spawn(async move {
        let next = late.next().await;
        (late, next)
    });
    tokio::time::sleep(Duration::from_millis(20)).await;
    run.publish("tal?");
    let (mut late, next) = waiter.await.unwrap();
    assert_eq!(
        next,
        Some(HubEvent::Delta {
            offset: "Hola ¿qué ".len(),
            text: "tal?".into()
        })
    );
    run.finish(RunEnd::Completed);
    assert_eq!(
        late.next().await,
        Some(HubEvent::Finished(RunEnd::Completed))
    );
    assert_eq!(late.next().await, None);

    // Joining after the end still shows the whole text, then the end.
    let mut after = run.subscribe();
    assert!(matches!(
        after.next().await,
        Some(HubEvent::Delta { offset: 0, .. })
    ));
    assert_eq!(
        after.next().await,
        Some(HubEvent::Finished(RunEnd::Completed))
    );
}

#[tokio::test]
async fn reset_voids_what_was_shown() {
    let run = RunStream::new();
    let mut sub = run.subscribe();
    let mut fresh = run.subscribe();
    run.publish("draft");
    assert!(matches!(sub.next().await, Some(HubEvent::Delta { .. })));
    run.reset();
    run.publish("final");
    assert_eq!(sub.next().await, Some(HubEvent::Reset));
    assert_eq!(
        sub.next().await,
        Some(HubEvent::Delta {
            offset: 0,
            text: "final".into()
        })
    );
    // A subscriber that never saw the draft needs no reset.
    assert_eq!(
        fresh.next().await,
        Some(HubEvent::Delta {
            offset: 0,
            text: "final".into()
        })
    );
    run.finish(RunEnd::Failed {
        message: "x".into(),
    });
    run.publish("ignored");
    assert_eq!(
        sub.next().await,
        Some(HubEvent::Finished(RunEnd::Failed {
            message: "x".into()
        }))
    );
}

#[tokio::test]
async fn hub_registry() {
    let hub = StreamHub::new();
    let run = hub.open("run-1");
    run.publish("a");
    let sub = hub.subscribe("run-1").unwrap();
    assert!(hub.subscribe("run-2").is_none());
    // Re-opening a run id ends the old stream for its watchers.
    let run2 = hub.open("run-1");
    let events: Vec<_> = sub.into_stream().collect().await;
    assert_eq!(
        events,
        vec![
            HubEvent::Delta {
                offset: 0,
                text: "a".into()
            },
            HubEvent::Finished(RunEnd::Cancelled)
        ]
    );
    assert_eq!(hub.len(), 1);
    run2.finish(RunEnd::Completed);
    assert!(hub.remove("run-1").is_some());
    assert!(hub.is_empty());
}

#[tokio::test]
async fn provider_to_operator_views_end_to_end() {
    let reply = "¡Hola! Sí, tenemos café de olla 🎉";
    // By hand, keeping `type` before `text` (`json!` would sort the keys).
    let doc = format!(
        r#"{{"actions":[{{"type":"reply","text":{}}}],"reasoning":"asked for coffee"}}"#,
        serde_json::to_string(reply).unwrap()
    );
    // The model writes the JSON in small pieces, as a real one would.
    let pieces: Vec<String> = doc
        .chars()
        .collect::<Vec<_>>()
        .chunks(3)
        .map(|c| c.iter().collect())
        .collect();

    let schema = json!({"type":"object"});
    let cases = [
        // OpenAI, tool-call mode: JSON arrives in tool arguments.
        {
            let mut events = vec![wire::openai_role(), wire::openai_tool_start("c", "plan")];
            events.extend(pieces.iter().map(|p| wire::openai_tool_args(p)));
            events.push(wire::openai_finish("tool_calls"));
            events.push(wire::OPENAI_DONE.into());
            (events, true, false)
        },
        // OpenAI, JSON mode: JSON arrives as text.
        {
            let refs: Vec<&str> = pieces.iter().map(String::as_str).collect();
            (wire::openai_stream(&refs, None), false, false)
        },
        // Anthropic, forced tool use.
        {
            let mut events = vec![
                wire::anthropic_start(9),
                wire::anthropic_tool_block(0, "t", "plan"),
            ];
            events.extend(pieces.iter().map(|p| wire::anthropic_json(0, p)));
            events.push(wire::anthropic_delta("tool_use", 30));
            events.push(wire::anthropic_stop());
            (events, true, true)
        },
    ];
    for (events, tools, anthropic) in cases {
        let server =
            FakeServer::start(vec![Script::sse_spaced(events, Duration::from_millis(2))]).await;
        let mut config = if anthropic {
            anthropic_config(&server.url())
        } else {
            openai_config(&server.url())
        };
        config.capabilities.tools = tools;
        config.capabilities.json_mode = !tools;
        let provider = switchboard_llm::connect(config).unwrap();

        let hub = StreamHub::new();
        let run = hub.open("r");
        let early = tokio::spawn(drain(run.subscribe()));
        let sink = json_field_sink(run.clone(), FieldTarget::reply_text());
        let request =
            hello_request().with_structured(StructuredOutput::new("plan", schema.clone()));
        let call = tokio::spawn(async move {
            provider
                .stream(request, sink, CancellationToken::new())
                .await
        });
        tokio::time::sleep(Duration::from_millis(60)).await;
        let late = tokio::spawn(drain(hub.subscribe("r").unwrap()));
        let completion = call.await.unwrap().unwrap();
        run.finish(RunEnd::Completed);

        assert_eq!(completion.structured_json(), Some(doc.as_str()));
        let (early_text, early_reads) = early.await.unwrap();
        let (late_text, _) = late.await.unwrap();
        assert_eq!(early_text, reply, "tools={tools} anthropic={anthropic}");
        assert_eq!(late_text, reply);
        assert!(early_reads > 1, "the reply should arrive progressively");
    }
}

#[tokio::test]
async fn text_sink_publishes_plain_text() {
    let server = FakeServer::start(vec![Script::sse_chunks(wire::openai_stream(
        &["Ho", "la"],
        None,
    ))])
    .await;
    let provider = switchboard_llm::connect(openai_config(&server.url())).unwrap();
    let run = RunStream::new();
    provider
        .stream(
            hello_request(),
            text_sink(run.clone()),
            CancellationToken::new(),
        )
        .await
        .unwrap();
    assert_eq!(run.text(), "Hola");
}
