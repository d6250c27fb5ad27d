use crate::support::TestServer;
use futures::StreamExt;
use serde_json::{json, Value};
use std::time::Duration;
use switchboard_core::ids::ConversationId;
use switchboard_core::Event;
use switchboard_store::model::{ActionState, EscalationSource};
use switchboard_store::queries::{actions, contacts, conversations, escalations, messages};

/// Seeds one conversation with an inbound message, a pending action and an open escalation.
async fn seed(server: &TestServer) -> (i64, i64, i64) {
    server
        .engine
        .store()
        .write(|c| {
            let contact = contacts::upsert(
                c,
                &contacts::ContactKey {
                    phone_number_id: "487120593306718".into(),
                    wa_id: Some("5215512345678".into()),
                    user_id: None,
                },
                Some("Lucía Gómez"),
                true,
                1_000,
            )?;
            let conversation = conversations::ensure_for_contact(c, &contact, 1_000)?;
            messages::insert_inbound(
                c,
                &messages::NewInbound {
                    conversation_id: conversation,
                    wamid: "wamid.seed1",
                    kind: "text",
                    text: Some("¿Tienen envío a Monterrey?"),
                    content: &json!({"body": "¿Tienen envío a Monterrey?"}),
                    reply_to_wamid: None,
                    inbox_id: None,
                    wa_timestamp: 1_700_000_000,
                    sandbox: true,
                },
                2_000,
            )?;
            let action = actions::insert(
                c,
                &actions::NewAction {
                    conversation_id: conversation,
                    run_id: None,
                    kind: "reply",
                    params: &json!({"text": "¡Sí! Enviamos a todo México."}),
                    reasoning: Some("The customer asks about shipping."),
                    confidence: Some(0.9),
                    state: ActionState::Pending,
                    idempotency_key: "seed-action-1",
                },
                3_000,
            )?;
            let (escalation, _) = escalations::open(
                c,
                conversation,
                EscalationSource::Model,
                "Asks for a refund",
                Some("Customer wants money back"),
                4_000,
            )?;
            Ok((conversation.0, action.0, escalation.0))
        })
        .await
        .expect("seeding works")
}

#[tokio::test]
async fn every_api_route_requires_the_bearer_token() {
    let server = TestServer::start().await;
    for path in [
        "/api/health",
        "/api/events",
        "/api/conversations",
        "/api/conversations/1",
        "/api/conversations/1/messages",
        "/api/actions",
        "/api/escalations",
        "/api/audit",
        "/api/audit/verify",
        "/api/tasks",
        "/api/settings",
        "/api/openapi.json",
    ] {
        let url = format!("{}{path}", server.base);
        let none = server.client.get(&url).send().await.unwrap();
        assert_eq!(none.status(), 401, "{path} without a token must be 401");
        assert_eq!(
            none.headers()["www-authenticate"],
            "Bearer",
            "401 must say which scheme is expected"
        );
        let body: Value = none.json().await.unwrap();
        assert_eq!(
            body["error"]["code"], "unauthorized",
            "{path}: errors use the {{code, message}} shape"
        );
        let wrong = server
            .client
            .get(&url)
            .bearer_auth("not-the-token")
            .send()
            .await
            .unwrap();
        assert_eq!(wrong.status(), 401, "{path} with a wrong token must be 401");
    }
    for path in [
        "/api/actions/1/approve",
        "/api/actions/1/reject",
        "/api/escalations/1/takeover",
        "/api/escalations/1/handback",
    ] {
        let response = server
            .client
            .post(format!("{}{path}", server.base))
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            401,
            "POST {path} without a token must be 401"
        );
    }
}

#[tokio::test]
async fn health_reports_sandbox_offline_demo_with_no_configuration() {
    let server = TestServer::start().await;
    let response = server.get("/api/health").send().await.unwrap();
    assert_eq!(response.status(), 200);
    let health: Value = response.json().await.unwrap();
    assert_eq!(health["status"], "ok");
    assert_eq!(
        health["mode"], "sandbox",
        "no WhatsApp credentials means sandbox"
    );
    assert_eq!(
        health["offline_demo"], true,
        "no providers and no credentials is the offline demo"
    );
    assert_eq!(health["database"], "ok");
}

#[tokio::test]
async fn conversations_messages_and_lists_come_from_the_store() {
    let server = TestServer::start().await;
    let (conversation, _, _) = seed(&server).await;
    let list: Value = server
        .get("/api/conversations")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let item = &list["items"][0];
    assert_eq!(item["id"], conversation);
    assert_eq!(item["contact"]["name"], "Lucía Gómez");
    assert_eq!(
        item["state"], "escalated",
        "an open escalation marks the conversation escalated"
    );
    assert_eq!(item["unread_count"], 1);
    assert_eq!(
        item["window_closes_at"], "2023-11-15T22:13:20.000Z",
        "window = customer's last message + 24 h"
    );

    let found: Value = server
        .get("/api/conversations?q=monterrey")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        found["items"].as_array().unwrap().len(),
        1,
        "full-text search finds words in messages, accent- and case-insensitively"
    );
    let none: Value = server
        .get("/api/conversations?q=zapatos")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        none["items"].as_array().unwrap().is_empty(),
        "search must not match unrelated conversations"
    );
    let hostile: Value = server
        .get("/api/conversations?q=%22%20OR%20*")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        hostile["items"].is_array(),
        "FTS syntax in a query is searched as text, not an error"
    );

    let msgs: Value = server
        .get(&format!("/api/conversations/{conversation}/messages"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(msgs["items"][0]["text"], "¿Tienen envío a Monterrey?");
    assert_eq!(msgs["items"][0]["direction"], "inbound");

    let missing = server.get("/api/conversations/999").send().await.unwrap();
    assert_eq!(missing.status(), 404);
    let body: Value = missing.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found");

    let bad = server.get("/api/conversations/abc").send().await.unwrap();
    assert_eq!(
        bad.status(),
        400,
        "a malformed id is a clear 400, not a panic"
    );
    let tasks: Value = server
        .get("/api/tasks?state=open")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(tasks["items"].is_array());
    let settings: Value = server
        .get("/api/settings")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(settings["mode"], "sandbox");
    assert!(
        settings["config"]["server"]["listen"].is_string(),
        "settings show the effective configuration"
    );
}

#[tokio::test]
async fn approve_and_reject_decide_once_and_are_audited() {
    let server = TestServer::start().await;
    let (_, action, _) = seed(&server).await;
    let pending: Value = server
        .get("/api/actions?state=pending")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(pending["items"][0]["id"], action);

    let approved = server
        .post(&format!("/api/actions/{action}/approve"))
        .send()
        .await
        .unwrap();
    // The seeded customer wrote in 2023: the window is closed, so the free-form reply is
    // not sent: it goes stale (replaced by a template proposal, or escalated when no
    // template is configured, as here) and the approval says why.
    assert_eq!(approved.status(), 409);
    let approved: Value = approved.json().await.unwrap();
    assert!(
        approved["error"]["message"]
            .as_str()
            .unwrap()
            .contains("24-hour window closed"),
        "{approved}"
    );
    let stale: Value = server
        .get(&format!("/api/actions/{action}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stale["state"], "stale");

    let again = server
        .post(&format!("/api/actions/{action}/approve"))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 409, "a double click must not decide twice");
    let reject = server
        .post(&format!("/api/actions/{action}/reject"))
        .json(&json!({"reason": "too late"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        reject.status(),
        409,
        "a decided action cannot be rejected afterwards"
    );

    let bad_body = server
        .post(&format!("/api/actions/{action}/reject"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(bad_body.status(), 400);
    let body: Value = bad_body.json().await.unwrap();
    assert_eq!(
        body["error"]["code"], "invalid_request",
        "a malformed body gets the usual error shape"
    );

    let audit: Value = server
        .get(&format!("/api/audit?action_id={action}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kinds: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["action.stale"],
        "the reply going stale is audited (the conversation's escalation was already open)"
    );
    let verify: Value = server
        .get("/api/audit/verify")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(verify["intact"], true);
}

#[tokio::test]
async fn take_over_and_hand_back_move_the_conversation_between_ai_and_human() {
    let server = TestServer::start().await;
    let (conversation, _, escalation) = seed(&server).await;
    let open: Value = server
        .get("/api/escalations?state=open")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(open["items"][0]["reason"], "Asks for a refund");

    let handback_first = server
        .post(&format!("/api/escalations/{escalation}/handback"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        handback_first.status(),
        409,
        "only a taken-over escalation can be handed back"
    );

    let taken: Value = server
        .post(&format!("/api/escalations/{escalation}/takeover"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(taken["state"], "taken");
    let conv = server
        .engine
        .conversation(ConversationId(conversation))
        .await
        .unwrap();
    assert_eq!(
        conv.state.as_str(),
        "human",
        "a taken-over conversation is with a human"
    );

    let back: Value = server
        .post(&format!("/api/escalations/{escalation}/handback"))
        .json(&json!({"note": "Refund issued; customer happy"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(back["state"], "resolved");
    let conv = server
        .engine
        .conversation(ConversationId(conversation))
        .await
        .unwrap();
    assert_eq!(conv.state.as_str(), "ai_active", "hand-back resumes the AI");
    assert_eq!(conv.held_by_operator_id, None);

    let audit: Value = server
        .get(&format!("/api/audit?conversation_id={conversation}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kinds: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["escalation.handed_back", "escalation.taken"],
        "newest first, both recorded"
    );
}

#[tokio::test]
async fn events_stream_as_server_sent_events() {
    let server = TestServer::start().await;
    let response = server.get("/api/events").send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let mut body = response.bytes_stream();
    let mut text = String::new();
    // Wait for `ready`: from then on nothing published is missed.
    while !text.contains("event: ready") {
        let chunk = tokio::time::timeout(Duration::from_secs(5), body.next())
            .await
            .expect("ready in time")
            .unwrap()
            .unwrap();
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    server.engine.bus().publish(Event::ConversationUpdated {
        conversation_id: ConversationId(42),
    });
    while !text.contains("event: conversation_updated") {
        let chunk = tokio::time::timeout(Duration::from_secs(5), body.next())
            .await
            .expect("event in time")
            .unwrap()
            .unwrap();
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(
        text.contains(r#"data: {"type":"conversation_updated","conversation_id":42}"#),
        "the event's JSON is the data line: {text}"
    );
}

#[tokio::test]
async fn the_openapi_document_is_served_and_matches_the_checked_in_copy() {
    let server = TestServer::start().await;
    let served: Value = server
        .get("/api/openapi.json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let generated = switchboard_api::openapi::document_json();
    let checked_in =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/openapi.json"))
            .unwrap_or_default();
    assert_eq!(
        served,
        serde_json::from_str::<Value>(&generated).unwrap(),
        "the served document is the generated one"
    );
    assert!(
        checked_in == generated,
        "docs/openapi.json is out of date: run `cargo run --no-default-features -- openapi > docs/openapi.json`"
    );
    for path in [
        "/api/conversations",
        "/api/actions/{id}/approve",
        "/api/escalations/{id}/takeover",
        "/api/events",
        "/api/audit",
        "/api/tasks",
        "/api/settings",
    ] {
        assert!(
            served["paths"].get(path).is_some(),
            "the document must describe {path}"
        );
    }
    assert!(
        served["components"]["securitySchemes"]["bearer"].is_object(),
        "the bearer scheme is documented"
    );
}
