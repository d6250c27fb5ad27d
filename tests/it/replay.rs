//! A run's record over the API, and replaying its stored context against another model of
//! the chain: the exact messages go out, the validated answer comes back, nothing runs.

use crate::fake_llm::{FakeLlm, Reply};
use crate::support::{customer_says, server_with_models};
use serde_json::Value;
use switchboard_core::secrets::MemorySecrets;

const FIRST: &str = r#"{"actions":[{"type":"reply","text":"Abrimos de 9 a 18 h."}],"reasoning":"Hours.","confidence":0.8}"#;
const OTHER: &str = r#"{"actions":[{"type":"reply","text":"¡Hola! Abrimos de lunes a viernes de 9 a 18 h."},{"type":"set_session_variable","key":"topic","value":"hours"}],"reasoning":"Hours, friendlier.","confidence":0.95}"#;

async fn json(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn a_run_replayed_on_another_model_sends_exactly_the_stored_messages_and_changes_nothing() {
    let primary = FakeLlm::default();
    primary.push(Reply::Stream("not json at all".into()));
    primary.push(Reply::Stream(FIRST.into()));
    let other = FakeLlm::default();
    other.push(Reply::Stream(OTHER.into()));
    // JSON-schema structured output: the schema travels beside the messages, so the wire
    // messages are the stored ones, untouched.
    let server = server_with_models(
        &[("primary", &primary), ("other", &other)],
        |config| {
            for provider in &mut config.llm.providers {
                provider.json_schema = true;
            }
        },
        MemorySecrets::default(),
    )
    .await;
    let conversation = customer_says(&server, "5215512345678", "¿A qué hora abren?").await;
    let summary = server
        .engine
        .run_conversation(conversation)
        .await
        .unwrap()
        .expect("a run");
    assert_eq!(summary.tier, 1, "one corrective retry");

    // The run's record: attempts, the four layers, the actions with their decisions.
    let (status, run) = json(
        server
            .get(&format!("/api/runs/{}", summary.run_id.0))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{run}");
    assert_eq!(run["state"], "completed");
    assert_eq!(run["tier"], 1);
    assert_eq!(run["provider"], "primary");
    let attempts = run["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2);
    assert_eq!(attempts[0]["raw_output"], "not json at all");
    assert!(
        !attempts[0]["validation_errors"]
            .as_array()
            .unwrap()
            .is_empty(),
        "the first attempt's validation errors are on the record"
    );
    assert_eq!(attempts[1]["tier"], 1);
    assert_eq!(attempts[1]["tokens_in"], 120);
    assert!(attempts[1]["cost"].as_f64().unwrap() > 0.0);
    assert!(attempts[1]["latency_ms"].is_number());
    let layers = run["context"]["layers"].as_array().unwrap();
    let names: Vec<&str> = layers.iter().map(|l| l["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["system", "domain", "session", "request"]);
    for layer in layers {
        assert!(layer["tokens"].as_u64().unwrap() > 0, "{layer}");
        assert!(!layer["text"].as_str().unwrap().is_empty(), "{layer}");
    }
    assert_eq!(layers[0]["version"], 0, "the built-in system layer");
    assert!(layers[3]["text"]
        .as_str()
        .unwrap()
        .contains("¿A qué hora abren?"));
    let actions = run["actions"].as_array().unwrap();
    assert_eq!(actions[0]["kind"], "reply");
    assert_eq!(actions[0]["state"], "pending");
    assert_eq!(actions[0]["policy_verdict"], "approval");
    assert_eq!(actions[0]["policy_rule"], "default for reply");

    // The original first request is what the snapshot recorded.
    let original = primary.requests.lock().unwrap()[0]["messages"].clone();
    let stored: Vec<Value> = run["context"]["messages"].as_array().unwrap().clone();
    assert_eq!(
        original.as_array().unwrap(),
        &stored,
        "the snapshot holds exactly the messages the first attempt sent"
    );

    let audit_before = count(&server, "SELECT count(*) FROM audit_events");
    let actions_before = count(&server, "SELECT count(*) FROM actions");
    let (status, replay) = json(
        server
            .post(&format!("/api/runs/{}/replay", summary.run_id.0))
            .json(&serde_json::json!({"provider": "other"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{replay}");
    let replayed = other.requests.lock().unwrap().clone();
    assert_eq!(replayed.len(), 1, "the replay went to the named provider");
    assert_eq!(
        replayed[0]["messages"], original,
        "the replayed request carries exactly the stored messages"
    );
    assert_eq!(
        primary.requests.lock().unwrap().len(),
        2,
        "the primary was not called again"
    );
    assert_eq!(replay["provider"], "other");
    assert_eq!(replay["context_hash"], run["context"]["hash"]);
    assert_eq!(replay["answer"]["actions"][0]["type"], "reply");
    assert_eq!(
        replay["answer"]["actions"][1],
        serde_json::json!({"type": "set_session_variable", "key": "topic", "value": "hours"})
    );
    assert_eq!(replay["answer"]["confidence"], 0.95);
    assert!(replay["validation_errors"].as_array().unwrap().is_empty());

    assert_eq!(
        count(&server, "SELECT count(*) FROM actions"),
        actions_before,
        "a replay proposes nothing"
    );
    assert_eq!(
        count(&server, "SELECT count(*) FROM session_variables"),
        0,
        "and executes nothing"
    );
    assert_eq!(
        count(&server, "SELECT count(*) FROM audit_events"),
        audit_before + 1
    );
    let kind: String = server
        .engine
        .store()
        .read_blocking(|c| {
            Ok(c.query_row(
                "SELECT kind FROM audit_events ORDER BY id DESC LIMIT 1",
                [],
                |r| r.get(0),
            )?)
        })
        .unwrap();
    assert_eq!(kind, "run.replayed");
}

#[tokio::test]
async fn replay_errors_are_clear() {
    let primary = FakeLlm::default();
    primary.push(Reply::Stream(FIRST.into()));
    let server =
        server_with_models(&[("primary", &primary)], |_| {}, MemorySecrets::default()).await;
    let conversation = customer_says(&server, "5215512345678", "¿Horario?").await;
    let summary = server
        .engine
        .run_conversation(conversation)
        .await
        .unwrap()
        .unwrap();
    let (status, body) = json(
        server
            .post(&format!("/api/runs/{}/replay", summary.run_id.0))
            .json(&serde_json::json!({"provider": "gpt-9"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(body["error"]["code"], "invalid_request");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("gpt-9") && message.contains("primary"),
        "{message}"
    );

    let (status, body) = json(server.get("/api/runs/999").send().await.unwrap()).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["code"], "not_found");
    let (status, _) = json(
        server
            .post("/api/runs/999/replay")
            .json(&serde_json::json!({"provider": "primary"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 404);
    let status = server
        .post(&format!("/api/runs/{}/replay", summary.run_id.0))
        .body("{")
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 400, "a malformed body is a clear 400");
}

fn count(server: &crate::support::TestServer, sql: &'static str) -> i64 {
    server
        .engine
        .store()
        .read_blocking(|c| Ok(c.query_row(sql, [], |r| r.get(0))?))
        .unwrap()
}
