//! The reply being written reaches operators over `/api/events` (real HTTP SSE), in order,
//! whole for late joiners, and without a slow reader slowing the model call.

use crate::fake_llm::{FakeLlm, Reply};
use crate::support::{customer_says, model_entry, server_with_models, SseClient, TestServer};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use switchboard_core::secrets::MemorySecrets;
use switchboard_core::Config;
use switchboard_core::Event;

const WAIT: Duration = Duration::from_secs(20);

fn answer(reply: &str) -> String {
    json!({"actions": [{"type": "reply", "text": reply}], "reasoning": "Answering the question.", "confidence": 0.9})
        .to_string()
}

async fn server(fake: &FakeLlm) -> TestServer {
    server_with_models(&[("primary", fake)], |_| {}, MemorySecrets::default()).await
}

/// The drafts of one run as an SSE client saw them, up to and including `run_finished`.
struct SeenDraft {
    text: String,
    deltas: usize,
}

/// Reads until the run's `run_finished`, checking the draft protocol on the way: `draft`
/// replaces, `token_delta` at offset 0 replaces and otherwise appends exactly at the end,
/// `seq` counts up from 1, and nothing of the run comes after `run_finished`.
async fn follow_run(sse: &mut SseClient, run_id: i64) -> SeenDraft {
    follow_run_from(sse, run_id, String::new(), 0).await
}

/// As [`follow_run`], for a subscriber that already has `text` after `last_seq` deltas.
async fn follow_run_from(
    sse: &mut SseClient,
    run_id: i64,
    text: String,
    mut last_seq: u64,
) -> SeenDraft {
    let mut seen = SeenDraft { text, deltas: 0 };
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (name, data) = tokio::time::timeout_at(deadline, sse.next())
            .await
            .expect("the run finishes in time")
            .expect("the stream stays open");
        if data["run_id"] != run_id {
            continue;
        }
        match name.as_str() {
            "draft" => seen.text = data["text"].as_str().unwrap().to_string(),
            "draft_reset" => seen.text.clear(),
            "token_delta" => {
                let seq = data["seq"].as_u64().unwrap();
                assert_eq!(seq, last_seq + 1, "deltas are numbered in order: {data}");
                last_seq = seq;
                let offset = data["offset"].as_u64().unwrap() as usize;
                if offset == 0 {
                    seen.text.clear();
                }
                assert_eq!(
                    offset,
                    seen.text.len(),
                    "each delta continues exactly where the last ended: {data}"
                );
                seen.text.push_str(data["text"].as_str().unwrap());
                seen.deltas += 1;
            }
            "run_finished" => return seen,
            _ => {}
        }
    }
}

async fn run_id_of_next_run(sse: &mut SseClient) -> i64 {
    let (started, _) = sse.until("run_started", WAIT).await;
    started["run_id"].as_i64().unwrap()
}

#[tokio::test]
async fn deltas_arrive_in_order_and_concatenate_to_the_final_reply() {
    let reply = "¡Hola, Lucía! Sí, abrimos el sábado de 9 a 14 h. ¿Te aparto el pedido? 🎉";
    let fake = FakeLlm::default();
    fake.push(Reply::Paced {
        text: answer(reply),
        chars: 3,
        gap: Duration::from_millis(2),
    });
    let server = server(&fake).await;
    let mut sse = SseClient::connect(&server).await;
    sse.until("ready", WAIT).await;

    let conversation = customer_says(&server, "5215512345678", "¿Abren el sábado?").await;
    let engine = server.engine.clone();
    let run = tokio::spawn(async move { engine.run_conversation(conversation).await });
    let run_id = run_id_of_next_run(&mut sse).await;
    let seen = follow_run(&mut sse, run_id).await;
    let summary = run.await.unwrap().unwrap().expect("a run");

    assert_eq!(
        seen.text, reply,
        "the deltas concatenate to the reply, not to its JSON"
    );
    assert!(
        seen.deltas > 5,
        "the reply arrives as it is written, not in one piece ({} deltas)",
        seen.deltas
    );
    let action: Value = server
        .get(&format!("/api/actions/{}", summary.actions[0].0 .0))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        action["params"]["text"], reply,
        "the streamed draft is the reply that waits for approval"
    );
}

#[tokio::test]
async fn a_subscriber_joining_mid_stream_gets_the_whole_text() {
    let reply = "Su pedido 4417 sale hoy por paquetería y llega el jueves.";
    let full = answer(reply);
    // The model has written the JSON up to the middle of the reply, then pauses.
    let cut = full.find("paquetería").unwrap();
    let gate = Arc::new(tokio::sync::Notify::new());
    let fake = FakeLlm::default();
    fake.push(Reply::Gated {
        before: full[..cut].to_string(),
        after: full[cut..].to_string(),
        gate: gate.clone(),
    });
    let server = server(&fake).await;
    let mut early = SseClient::connect(&server).await;
    early.until("ready", WAIT).await;

    let conversation = customer_says(&server, "5215512345678", "¿Cuándo llega mi pedido?").await;
    let engine = server.engine.clone();
    let run = tokio::spawn(async move { engine.run_conversation(conversation).await });
    let run_id = run_id_of_next_run(&mut early).await;
    // Wait until the first half has been written.
    let mut written = String::new();
    let mut seq = 0;
    while written != "Su pedido 4417 sale hoy por " {
        let (delta, _) = early.until("token_delta", WAIT).await;
        written.push_str(delta["text"].as_str().unwrap());
        seq = delta["seq"].as_u64().unwrap();
        assert!(
            written.len() < reply.len(),
            "more than was sent: {written:?}"
        );
    }

    let mut late = SseClient::connect(&server).await;
    let (_, before_ready) = late.until("ready", WAIT).await;
    assert!(before_ready.is_empty(), "ready comes first");
    let (draft, _) = late.until("draft", WAIT).await;
    assert_eq!(draft["run_id"], run_id);
    assert_eq!(
        draft["conversation_id"], conversation.0,
        "the draft names its conversation"
    );
    assert_eq!(
        draft["text"], "Su pedido 4417 sale hoy por ",
        "a late subscriber first gets everything written so far"
    );

    gate.notify_one();
    let late_seen =
        follow_run_from(&mut late, run_id, draft["text"].as_str().unwrap().into(), 0).await;
    assert_eq!(
        late_seen.text, reply,
        "then the rest, so it has the whole reply"
    );
    let early_rest = follow_run_from(&mut early, run_id, written, seq).await;
    assert_eq!(
        early_rest.text, reply,
        "the subscriber that was there all along sees the same"
    );
    run.await.unwrap().unwrap().expect("a run");
}

#[tokio::test]
async fn a_subscriber_that_reads_late_gets_the_draft_coalesced_before_the_run_ends() {
    let reply = "Claro, le comparto el enlace de pago en un momento.";
    let fake = FakeLlm::default();
    fake.push(Reply::Paced {
        text: answer(reply),
        chars: 2,
        gap: Duration::from_millis(1),
    });
    let server = server(&fake).await;
    // Subscribed before the run, read only after it: nothing reads while the model writes.
    let mut live = server.engine.live_events();
    let conversation = customer_says(&server, "5215512345678", "¿Me pasa el enlace?").await;
    server
        .engine
        .run_conversation(conversation)
        .await
        .unwrap()
        .expect("the run completed while nobody read");

    let mut deltas = Vec::new();
    loop {
        let event = tokio::time::timeout(WAIT, live.next())
            .await
            .expect("events are waiting")
            .expect("stream open");
        match event {
            Event::TokenDelta {
                seq, offset, text, ..
            } => deltas.push((seq, offset, text)),
            Event::RunFinished { .. } => break,
            _ => {}
        }
    }
    assert_eq!(
        deltas,
        vec![(1, 0, reply.to_string())],
        "everything written while the subscriber was away comes as one delta, before run_finished"
    );
}

#[tokio::test]
async fn a_stalled_sse_reader_does_not_slow_the_runs_and_still_gets_every_reply() {
    // The server's sockets get a small send buffer (accepted sockets inherit it from the
    // listener, and setting it turns autotuning off), so a few runs of one-character chunks
    // are far more SSE traffic than the connection holds: the stalled reader's connection
    // really is full while the runs go on.
    const RUNS: usize = 6;
    let reply: String = "Gracias por escribir. ".repeat(45).trim_end().to_string();
    let fake = FakeLlm::default();
    for _ in 0..RUNS {
        fake.push(Reply::Paced {
            text: answer(&reply),
            chars: 1,
            gap: Duration::ZERO,
        });
    }
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_send_buffer_size(4096).unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(64).unwrap();
    let mut config = Config::default();
    config.pipeline.quiet_period_ms = 0;
    config
        .llm
        .providers
        .push(model_entry("primary", &fake.clone().start().await));
    let server = TestServer::start_with_listener(listener, config, MemorySecrets::default()).await;
    let mut stalled = SseClient::connect(&server).await;
    stalled.until("ready", WAIT).await;

    let started = std::time::Instant::now();
    for i in 0..RUNS {
        let conversation = customer_says(&server, &format!("52155100000{i:02}"), "Hola").await;
        tokio::time::timeout(WAIT, server.engine.run_conversation(conversation))
            .await
            .expect("a run is never held up by a reader that stopped reading")
            .unwrap()
            .expect("a run");
    }
    let runs_took = started.elapsed();

    let mut deltas = 0;
    for _ in 0..RUNS {
        let run_id = run_id_of_next_run(&mut stalled).await;
        let seen = follow_run(&mut stalled, run_id).await;
        assert_eq!(seen.text, reply, "run {run_id}'s reply arrives whole");
        deltas += seen.deltas;
    }
    let chunks = RUNS * reply.chars().count();
    eprintln!(
        "{RUNS} runs in {runs_took:?} with a stalled reader; it then read {deltas} deltas for {chunks} chunks"
    );
    assert!(
        deltas < chunks,
        "while the reader was stalled the deltas were coalesced ({deltas} deltas for {chunks} chunks)"
    );
}
