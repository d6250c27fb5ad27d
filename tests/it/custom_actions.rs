//! Custom actions reach the business's own system: a signed POST, retried on failures that
//! may pass, recorded on the action and in the audit trail, and delivered once per action.
//! The business endpoint is a fake on loopback that checks the signature independently.

use crate::fake_llm::{FakeLlm, Reply};
use crate::support::{customer_says, server_with_models, TestServer};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use switchboard_core::config::CustomActionEntry;
use switchboard_core::secrets::{MemorySecrets, SecretName, SecretStore};
use switchboard_core::Secret;
use switchboard_pipeline::policy::{Policy, Rule, Verdict};

const SECRET: &str = "lead-hook-secret-7f3a";

#[derive(Clone, Debug)]
struct Delivery {
    body: Value,
    raw: Vec<u8>,
    signature_valid: bool,
    idempotency_key: Option<String>,
    attempt: Option<String>,
}

/// The business's system: answers from a script (then 200) and records every delivery.
#[derive(Clone, Default)]
struct Business {
    script: Arc<Mutex<VecDeque<(u16, &'static str)>>>,
    deliveries: Arc<Mutex<Vec<Delivery>>>,
}

async fn receive(
    State(business): State<Business>,
    headers: HeaderMap,
    raw: Bytes,
) -> impl IntoResponse {
    let header = headers
        .get("x-switchboard-signature-256")
        .and_then(|v| v.to_str().ok());
    let signature_valid =
        switchboard_whatsapp::webhook::signature::verify(SECRET.as_bytes(), header, &raw).is_ok();
    business.deliveries.lock().unwrap().push(Delivery {
        body: serde_json::from_slice(&raw).unwrap_or(Value::Null),
        raw: raw.to_vec(),
        signature_valid,
        idempotency_key: headers
            .get("idempotency-key")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        attempt: headers
            .get("x-switchboard-attempt")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    });
    if !signature_valid {
        return (
            StatusCode::UNAUTHORIZED,
            r#"{"error":"bad signature"}"#.to_string(),
        );
    }
    let (status, body) = business
        .script
        .lock()
        .unwrap()
        .pop_front()
        .unwrap_or((200, r#"{"lead_id":"L-1"}"#));
    (StatusCode::from_u16(status).unwrap(), body.to_string())
}

impl Business {
    fn answer(&self, status: u16, body: &'static str) {
        self.script.lock().unwrap().push_back((status, body));
    }

    async fn start(&self) -> String {
        let app = axum::Router::new()
            .route("/hooks/lead", axum::routing::post(receive))
            .with_state(self.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hooks/lead", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        url
    }

    fn deliveries(&self) -> Vec<Delivery> {
        self.deliveries.lock().unwrap().clone()
    }
}

fn create_lead(url: &str) -> CustomActionEntry {
    CustomActionEntry {
        name: "create_lead".into(),
        description: "Record a sales lead in the CRM.".into(),
        schema: json!({
            "type": "object",
            "properties": {
                "name": {"type": "string", "maxLength": 100},
                "interest": {"type": "string", "maxLength": 200}
            },
            "required": ["name", "interest"],
            "additionalProperties": false
        }),
        url: url.into(),
        timeout_ms: 2_000,
        max_attempts: 3,
        secret_env: Some("SWITCHBOARD_TEST_UNSET_LEAD_SECRET".into()),
    }
}

const LEAD_ANSWER: &str = r#"{"actions":[{"type":"create_lead","name":"Lucía Pérez","interest":"20 sillas plegables"}],"reasoning":"A new sales lead.","confidence":0.9}"#;

async fn server(business_url: &str, fake: &FakeLlm, with_secret: bool) -> TestServer {
    let secrets = MemorySecrets::default();
    if with_secret {
        secrets
            .set(
                &SecretName::CustomActionSecret {
                    action: "create_lead".into(),
                    env: "SWITCHBOARD_TEST_UNSET_LEAD_SECRET".into(),
                },
                &Secret::new(SECRET),
            )
            .unwrap();
    }
    let url = business_url.to_string();
    server_with_models(
        &[("primary", fake)],
        move |config| config.pipeline.custom_actions.push(create_lead(&url)),
        secrets,
    )
    .await
}

/// Polls the action until it leaves `executing` (delivery runs in the background).
async fn settled(server: &TestServer, id: i64) -> Value {
    for _ in 0..200 {
        let action: Value = server
            .get(&format!("/api/actions/{id}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if action["state"] != "executing" && action["state"] != "approved" {
            return action;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("action {id} never settled");
}

async fn audit_kinds(server: &TestServer, action: i64) -> Vec<(String, Value)> {
    let page: Value = server
        .get("/api/audit?limit=500")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut records: Vec<&Value> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["action_id"] == action)
        .collect();
    // Oldest first, whatever order the list uses.
    records.sort_by_key(|r| r["id"].as_i64());
    records
        .into_iter()
        .map(|r| (r["kind"].as_str().unwrap().to_string(), r["detail"].clone()))
        .collect()
}

#[tokio::test]
async fn an_approved_custom_action_is_posted_signed_retried_on_5xx_and_recorded_once() {
    let business = Business::default();
    business.answer(503, "busy");
    business.answer(200, r#"{"lead_id":"L-77"}"#);
    let url = business.start().await;
    let fake = FakeLlm::default();
    fake.push(Reply::Stream(LEAD_ANSWER.into()));
    let server = server(&url, &fake, true).await;

    let conversation = customer_says(&server, "5215512345678", "Quiero cotizar 20 sillas").await;
    let summary = server
        .engine
        .run_conversation(conversation)
        .await
        .unwrap()
        .expect("a run");
    let (action_id, kind, state) = summary.actions[0].clone();
    assert_eq!(
        kind, "create_lead",
        "the model may propose the configured action"
    );
    assert_eq!(
        state.as_str(),
        "pending",
        "custom actions wait for an operator by default"
    );
    assert!(
        business.deliveries().is_empty(),
        "nothing is sent before approval"
    );

    let approve = |server: &TestServer| {
        server
            .post(&format!("/api/actions/{}/approve", action_id.0))
            .send()
    };
    let (first, second) = tokio::join!(approve(&server), approve(&server));
    let mut statuses = [
        first.unwrap().status().as_u16(),
        second.unwrap().status().as_u16(),
    ];
    statuses.sort();
    assert_eq!(statuses, [200, 409], "a double click approves once");

    let action = settled(&server, action_id.0).await;
    assert_eq!(action["state"], "executed", "{action}");
    let deliveries = business.deliveries();
    assert_eq!(
        deliveries.len(),
        2,
        "one 503, then the retry that succeeded"
    );
    for d in &deliveries {
        assert!(
            d.signature_valid,
            "every delivery is signed over its raw body"
        );
        assert_eq!(
            d.idempotency_key.as_deref(),
            Some(format!("run-{}-action-0", summary.run_id.0).as_str())
        );
    }
    assert_eq!(
        deliveries[0].raw, deliveries[1].raw,
        "a retry sends the same bytes"
    );
    assert_eq!(
        (
            deliveries[0].attempt.as_deref(),
            deliveries[1].attempt.as_deref()
        ),
        (Some("1"), Some("2"))
    );
    let body = &deliveries[0].body;
    assert_eq!(body["action"], "create_lead");
    assert_eq!(
        body["params"],
        json!({"name": "Lucía Pérez", "interest": "20 sillas plegables"})
    );
    assert_eq!(body["conversation"]["id"], conversation.0);
    assert_eq!(body["contact"]["wa_id"], "5215512345678");
    assert_eq!(body["contact"]["phone"], "+5215512345678");
    assert_eq!(
        body["idempotency_key"],
        format!("run-{}-action-0", summary.run_id.0)
    );

    let audit = audit_kinds(&server, action_id.0).await;
    let kinds: Vec<&str> = audit.iter().map(|(k, _)| k.as_str()).collect();
    assert!(
        kinds.ends_with(&["action.approved", "action.dispatched", "action.executed"]),
        "{kinds:?}"
    );
    let executed = &audit.last().unwrap().1;
    assert_eq!(executed["status"], 200);
    assert_eq!(executed["attempts"], 2);
    assert_eq!(
        executed["response"],
        json!({"lead_id": "L-77"}),
        "the business's answer is kept"
    );

    // Approving again, or re-executing, delivers nothing more.
    let again = approve(&server).await.unwrap();
    assert_eq!(again.status(), 409);
    server.engine.execute_action(action_id).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(business.deliveries().len(), 2, "executed exactly once");
}

#[tokio::test]
async fn an_auto_custom_action_that_the_endpoint_refuses_fails_at_once_with_the_reason() {
    let business = Business::default();
    business.answer(422, r#"{"error":"interest is required"}"#);
    let url = business.start().await;
    let fake = FakeLlm::default();
    fake.push(Reply::Stream(LEAD_ANSWER.into()));
    let server = server(&url, &fake, true).await;
    server.engine.set_policy(Policy {
        rules: vec![Rule {
            action: "create_lead".into(),
            when: Default::default(),
            verdict: Verdict::Auto,
        }],
    });

    let conversation = customer_says(&server, "5215512345678", "Quiero cotizar 20 sillas").await;
    let summary = server
        .engine
        .run_conversation(conversation)
        .await
        .unwrap()
        .expect("a run");
    let (action_id, _, _) = summary.actions[0].clone();
    let action = settled(&server, action_id.0).await;
    assert_eq!(action["state"], "failed", "{action}");
    let error = action["error"].as_str().unwrap();
    assert!(
        error.contains("422") && error.contains("interest is required"),
        "{error}"
    );
    assert_eq!(
        business.deliveries().len(),
        1,
        "a 4xx is the business's answer: it is not retried"
    );
    let audit = audit_kinds(&server, action_id.0).await;
    let failed = audit
        .iter()
        .find(|(k, _)| k == "action.failed")
        .expect("audited");
    assert_eq!(failed.1["attempts"], 1);
    assert!(audit.iter().any(|(k, _)| k == "action.dispatched"));
}

#[tokio::test]
async fn without_a_signing_secret_nothing_is_sent_and_the_action_says_which_secret_to_set() {
    let business = Business::default();
    let url = business.start().await;
    let fake = FakeLlm::default();
    fake.push(Reply::Stream(LEAD_ANSWER.into()));
    let server = server(&url, &fake, false).await;
    let conversation = customer_says(&server, "5215512345678", "Quiero cotizar 20 sillas").await;
    let summary = server
        .engine
        .run_conversation(conversation)
        .await
        .unwrap()
        .unwrap();
    let id = summary.actions[0].0 .0;
    let approved = server
        .post(&format!("/api/actions/{id}/approve"))
        .send()
        .await
        .unwrap();
    assert_eq!(approved.status(), 200);
    let action = settled(&server, id).await;
    assert_eq!(action["state"], "failed");
    let error = action["error"].as_str().unwrap();
    assert!(
        error.contains("custom_action.create_lead.secret")
            && error.contains("SWITCHBOARD_TEST_UNSET_LEAD_SECRET"),
        "{error}"
    );
    assert!(
        business.deliveries().is_empty(),
        "an unsigned request is never sent"
    );
}

#[tokio::test]
async fn an_endpoint_that_keeps_failing_is_tried_max_attempts_times_then_the_action_fails() {
    let business = Business::default();
    for _ in 0..3 {
        business.answer(500, "down");
    }
    let url = business.start().await;
    let fake = FakeLlm::default();
    fake.push(Reply::Stream(LEAD_ANSWER.into()));
    let server = server(&url, &fake, true).await;
    let conversation = customer_says(&server, "5215512345678", "Quiero cotizar 20 sillas").await;
    let summary = server
        .engine
        .run_conversation(conversation)
        .await
        .unwrap()
        .unwrap();
    let id = summary.actions[0].0 .0;
    server
        .post(&format!("/api/actions/{id}/approve"))
        .send()
        .await
        .unwrap();
    let action = settled(&server, id).await;
    assert_eq!(action["state"], "failed");
    assert!(
        action["error"].as_str().unwrap().contains("3 deliveries"),
        "{action}"
    );
    assert_eq!(business.deliveries().len(), 3, "max_attempts = 3");
}

#[tokio::test]
async fn a_bad_custom_action_declaration_stops_the_start_naming_it() {
    let mut config = switchboard_core::Config::default();
    let mut entry = create_lead("ftp://crm.example.com/hook");
    config.pipeline.custom_actions.push(entry.clone());
    let dir = tempfile::tempdir().unwrap();
    let start = |config: switchboard_core::Config| {
        switchboard_engine::Engine::start(switchboard_engine::EngineOptions {
            config,
            data_dir: dir.path().to_path_buf(),
            secrets: Arc::new(MemorySecrets::default()),
            clock: Arc::new(switchboard_core::SystemClock),
        })
    };
    let err = start(config.clone()).err().expect("refused").to_string();
    assert!(
        err.contains("pipeline.custom_actions") && err.contains("create_lead"),
        "{err}"
    );
    entry.url = "https://crm.example.com/hook".into();
    entry.name = "reply".into();
    config.pipeline.custom_actions = vec![entry];
    let err = start(config).err().expect("refused").to_string();
    assert!(err.contains("built-in"), "{err}");
}
