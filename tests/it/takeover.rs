//! Takeover and the composer over real HTTP: while a human holds a conversation the AI is
//! never called; the operator writes through the outbox within the window rules; handing
//! back brings a summary of the human part and the note into the next model request.

use crate::fake_llm::{FakeLlm, Reply};
use crate::support::{count, customer_says, model_entry, TestServer};
use reqwest::Method;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use switchboard_core::secrets::MemorySecrets;
use switchboard_core::{Clock, Config, Event, ManualClock, SystemClock};

fn reply_answer(text: &str) -> String {
    json!({"actions":[{"type":"reply","text":text}],"reasoning":"Answering.","confidence":0.9})
        .to_string()
}

async fn start(fake: &FakeLlm, clock: Arc<dyn Clock>) -> TestServer {
    let base = fake.clone().start().await;
    let mut config = Config::default();
    config.pipeline.quiet_period_ms = 0;
    config.llm.first_token_timeout_ms = 5_000;
    config.llm.idle_timeout_ms = 5_000;
    config.llm.providers.push(model_entry("primary", &base));
    TestServer::start_on(
        tempfile::tempdir().unwrap(),
        config,
        MemorySecrets::default(),
        clock,
    )
    .await
}

async fn json_of(response: reqwest::Response) -> Value {
    response.json().await.unwrap()
}

async fn wait_until(server: &TestServer, sql: &'static str, at_least: i64) {
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while count(server, sql) < at_least {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for: {sql}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn agent(server: &TestServer, name: &str) -> String {
    let body = json_of(
        server
            .post("/api/operators")
            .json(&json!({"name": name, "role": "agent"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    body["token"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn while_held_the_ai_is_never_called_and_hand_back_brings_the_human_part_to_the_next_run() {
    let fake = FakeLlm::default();
    fake.push(Reply::Stream(reply_answer("¡Hola! ¿En qué te ayudo?")));
    fake.push(Reply::Stream(reply_answer("El envío tarda 2 días.")));
    let server = start(&fake, Arc::new(SystemClock)).await;
    let ana = agent(&server, "Ana").await;
    server.engine.spawn_workers();

    let conversation = customer_says(&server, "5215512345678", "Hola").await.0;
    wait_until(
        &server,
        "SELECT count(*) FROM actions WHERE state = 'pending'",
        1,
    )
    .await;
    assert_eq!(fake.requests.lock().unwrap().len(), 1);

    let taken = server
        .request_as(
            &ana,
            Method::POST,
            &format!("/api/conversations/{conversation}/takeover"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(taken.status(), 200);
    let taken = json_of(taken).await;
    assert_eq!(taken["state"], "taken");
    assert_eq!(
        taken["source"], "operator",
        "the click opened an escalation and claimed it"
    );
    assert!(taken["taken_by"].as_str().unwrap().ends_with(":Ana"));
    let again = server
        .request_as(
            &ana,
            Method::POST,
            &format!("/api/conversations/{conversation}/takeover"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        again.status(),
        200,
        "taking over what one holds is harmless"
    );
    let beto = agent(&server, "Beto").await;
    let stolen = server
        .request_as(
            &beto,
            Method::POST,
            &format!("/api/conversations/{conversation}/takeover"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        stolen.status(),
        409,
        "another operator cannot take it from Ana"
    );
    let state = json_of(
        server
            .get(&format!("/api/conversations/{conversation}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(state["state"], "human");

    // The customer writes while a human holds it: no model call, however long we wait.
    customer_says(
        &server,
        "5215512345678",
        "Quiero cambiar la dirección de mi pedido 4411",
    )
    .await;
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(
        fake.requests.lock().unwrap().len(),
        1,
        "the AI is paused while held"
    );
    assert_eq!(
        server
            .engine
            .run_conversation(switchboard_core::ids::ConversationId(conversation))
            .await
            .unwrap(),
        None
    );

    // The operator answers from the composer, through the outbox.
    let sent = server
        .request_as(
            &ana,
            Method::POST,
            &format!("/api/conversations/{conversation}/messages"),
        )
        .json(&json!({"text": "Listo, cambié la dirección a Av. Juárez 10."}))
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), 202);
    let sent = json_of(sent).await;
    assert_eq!(sent["direction"], "outbound");
    assert_eq!(sent["sent_by"], "operator");
    assert_eq!(sent["status"], "queued");
    assert_eq!(
        count(&server, "SELECT count(*) FROM outbox"),
        1,
        "the same outbox as the AI's replies"
    );
    for bad in [
        json!({"text": ""}),
        json!({}),
        json!({"text": "a", "template": {"name": "x", "language": "es"}}),
    ] {
        let response = server
            .request_as(
                &ana,
                Method::POST,
                &format!("/api/conversations/{conversation}/messages"),
            )
            .json(&bad)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 422, "{bad}");
    }

    let note = "Dirección cambiada; si pregunta por el envío, son 2 días.";
    let back = server
        .request_as(
            &ana,
            Method::POST,
            &format!("/api/conversations/{conversation}/handback"),
        )
        .json(&json!({ "note": note }))
        .send()
        .await
        .unwrap();
    assert_eq!(back.status(), 200);
    assert_eq!(json_of(back).await["state"], "resolved");
    let twice = server
        .request_as(
            &ana,
            Method::POST,
            &format!("/api/conversations/{conversation}/handback"),
        )
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(twice.status(), 409);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        fake.requests.lock().unwrap().len(),
        1,
        "the message the operator answered is not answered again by the AI"
    );

    customer_says(&server, "5215512345678", "¿Y cuánto tarda el envío?").await;
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while fake.requests.lock().unwrap().len() < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "the AI resumes after hand-back"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let request = fake.requests.lock().unwrap()[1].clone();
    let user = request["messages"][1]["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(user.contains(note), "the note reaches the next run: {user}");
    assert!(
        user.contains("A human operator (Ana) handled the conversation"),
        "{user}"
    );
    assert!(
        user.contains("Av. Juárez 10"),
        "the human part is summarised: {user}"
    );
    assert!(user.contains("¿Y cuánto tarda el envío?"));
    let kinds = json_of(
        server
            .get(&format!(
                "/api/audit?conversation_id={conversation}&limit=200"
            ))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let kinds: Vec<&str> = kinds["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["kind"].as_str().unwrap())
        .collect();
    for kind in [
        "escalation.opened",
        "escalation.taken",
        "message.composed",
        "escalation.handed_back",
    ] {
        assert!(kinds.contains(&kind), "{kind} audited: {kinds:?}");
    }
}

#[tokio::test]
async fn the_composer_refuses_free_form_outside_the_window_and_names_the_templates() {
    let clock = ManualClock::at(1_780_000_000_000);
    let fake = FakeLlm::default();
    let server = start(&fake, Arc::new(clock.clone())).await;
    server
        .engine
        .store()
        .write(|c| {
            c.execute("INSERT INTO templates (name, language, category) VALUES ('seguimiento', 'es_MX', 'UTILITY')", [])?;
            Ok(())
        })
        .await
        .unwrap();
    let conversation = customer_says(&server, "5215512345678", "Hola").await.0;
    let path = format!("/api/conversations/{conversation}/messages");
    let inside = server
        .post(&path)
        .json(&json!({"text": "¡Hola!"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        inside.status(),
        202,
        "inside the window free-form text is fine"
    );

    clock.advance_ms(24 * 3_600_000 + 1);
    let outside = server
        .post(&path)
        .json(&json!({"text": "¿Sigues ahí?"}))
        .send()
        .await
        .unwrap();
    assert_eq!(outside.status(), 422);
    let message = json_of(outside).await["error"]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        message.contains("24-hour window") && message.contains("seguimiento (es_MX)"),
        "{message}"
    );
    let unknown = server
        .post(&path)
        .json(&json!({"template": {"name": "promo", "language": "es_MX", "params": []}}))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 422);
    let template = server
        .post(&path)
        .json(
            &json!({"template": {"name": "seguimiento", "language": "es_MX", "params": ["Lucía"]}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(template.status(), 202);
    assert_eq!(json_of(template).await["kind"], "template");
    assert_eq!(
        count(&server, "SELECT count(*) FROM outbox"),
        2,
        "refusals queue nothing"
    );
}

#[tokio::test]
async fn an_operators_escalation_joins_the_queue_and_is_notified() {
    let fake = FakeLlm::default();
    fake.push(Reply::Stream(reply_answer("Hola")));
    let server = start(&fake, Arc::new(SystemClock)).await;
    let ana = agent(&server, "Ana").await;
    let conversation = customer_says(&server, "5215512345678", "Quiero hablar con alguien")
        .await
        .0;
    let mut events = server.engine.bus().subscribe();
    server.engine.spawn_workers();

    let empty = server
        .request_as(
            &ana,
            Method::POST,
            &format!("/api/conversations/{conversation}/escalate"),
        )
        .json(&json!({"reason": " "}))
        .send()
        .await
        .unwrap();
    assert_eq!(empty.status(), 422);
    let escalated = server
        .request_as(
            &ana,
            Method::POST,
            &format!("/api/conversations/{conversation}/escalate"),
        )
        .json(&json!({"reason": "Angry about a late delivery"}))
        .send()
        .await
        .unwrap();
    assert_eq!(escalated.status(), 200);
    let escalated = json_of(escalated).await;
    assert_eq!(escalated["source"], "operator");
    assert_eq!(escalated["state"], "open");
    let queue = json_of(
        server
            .get("/api/escalations?state=open")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(queue["items"][0]["reason"], "Angry about a late delivery");

    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let notification = loop {
        let event = tokio::time::timeout_at(deadline, events.next())
            .await
            .expect("the new escalation is notified")
            .unwrap();
        if let Event::Notification {
            kind,
            conversation_id,
            escalation_id,
            body,
            ..
        } = event
        {
            break (kind, conversation_id.0, escalation_id.map(|e| e.0), body);
        }
    };
    assert_eq!(notification.0, "escalation");
    assert_eq!(notification.1, conversation);
    assert_eq!(notification.2, escalated["id"].as_i64());
    assert!(notification.3.contains("late delivery"));

    // Taking it over is the operator's own act: no notification for that.
    let taken = server
        .request_as(
            &ana,
            Method::POST,
            &format!("/api/conversations/{conversation}/takeover"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(taken.status(), 200);
    assert_eq!(
        json_of(taken).await["id"],
        escalated["id"],
        "the waiting escalation is claimed"
    );
}

#[tokio::test]
async fn a_supervisor_reassigns_a_held_conversation_and_the_hold_moves_with_it() {
    let fake = FakeLlm::default();
    let server = start(&fake, Arc::new(SystemClock)).await;
    let ana = agent(&server, "Ana").await;
    let beto = agent(&server, "Beto").await;
    let operators = json_of(server.get("/api/operators").send().await.unwrap()).await;
    let beto_id = operators["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == "Beto")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let supervisor = json_of(
        server
            .post("/api/operators")
            .json(&json!({"name": "Sol", "role": "supervisor"}))
            .send()
            .await
            .unwrap(),
    )
    .await["token"]
        .as_str()
        .unwrap()
        .to_string();
    let conversation = customer_says(&server, "5215512345678", "Hola").await.0;
    let taken = server
        .request_as(
            &ana,
            Method::POST,
            &format!("/api/conversations/{conversation}/takeover"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(taken.status(), 200);

    let path = format!("/api/conversations/{conversation}/assign");
    let by_agent = server
        .request_as(&ana, Method::POST, &path)
        .json(&json!({"operator_id": beto_id}))
        .send()
        .await
        .unwrap();
    assert_eq!(by_agent.status(), 403, "reassigning is a supervisor's");
    let nobody = server
        .request_as(&supervisor, Method::POST, &path)
        .json(&json!({"operator_id": 999}))
        .send()
        .await
        .unwrap();
    assert_eq!(nobody.status(), 404);
    let moved = server
        .request_as(&supervisor, Method::POST, &path)
        .json(&json!({"operator_id": beto_id}))
        .send()
        .await
        .unwrap();
    assert_eq!(moved.status(), 200);
    let moved = json_of(moved).await;
    assert_eq!(moved["operator_id"], beto_id);
    assert!(moved["escalation"]["taken_by"]
        .as_str()
        .unwrap()
        .ends_with(":Beto"));
    let held: i64 = server
        .engine
        .store()
        .read_blocking(move |c| {
            Ok(c.query_row(
                "SELECT held_by_operator_id FROM conversations WHERE id = ?1",
                [conversation],
                |r| r.get(0),
            )?)
        })
        .unwrap();
    assert_eq!(held, beto_id, "the hold moved to Beto");
    let ana_again = server
        .request_as(
            &ana,
            Method::POST,
            &format!("/api/conversations/{conversation}/takeover"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(ana_again.status(), 409, "Beto holds it now");
    let back = server
        .request_as(
            &beto,
            Method::POST,
            &format!("/api/conversations/{conversation}/handback"),
        )
        .json(&json!({"note": "Done"}))
        .send()
        .await
        .unwrap();
    assert_eq!(back.status(), 200);
    let audit = json_of(
        server
            .get("/api/audit?kind=conversation.reassigned")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(audit["items"].as_array().unwrap().len(), 1, "audited");
}
