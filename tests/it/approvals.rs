//! Policies, approvals and what operators teach the AI, over real HTTP with a scripted
//! model on loopback: policy edits in force for the next run, edit-then-approve with its
//! diff, retry with guidance, stale replies turned into template proposals, exactly-once
//! execution across double clicks and restarts, and waiting-approval notifications.

use crate::fake_llm::{FakeLlm, Reply};
use crate::support::{count, customer_says, model_entry, TestServer};
use reqwest::Method;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use switchboard_core::ids::ConversationId;
use switchboard_core::secrets::MemorySecrets;
use switchboard_core::{Clock, Config, Event, ManualClock, SystemClock};
use switchboard_store::model::ActionState;

const HOURS_REPLY: &str = r#"{"actions":[{"type":"reply","text":"¡Hola! Abrimos de 9 a 18 h."}],"reasoning":"Opening hours question.","confidence":0.9}"#;

fn reply_answer(text: &str) -> String {
    json!({"actions":[{"type":"reply","text":text}],"reasoning":"Answering.","confidence":0.9})
        .to_string()
}

async fn start(
    fake: &FakeLlm,
    clock: Arc<dyn Clock>,
    tweak: impl FnOnce(&mut Config),
) -> TestServer {
    let base = fake.clone().start().await;
    let mut config = Config::default();
    config.pipeline.quiet_period_ms = 0;
    config.llm.first_token_timeout_ms = 5_000;
    config.llm.idle_timeout_ms = 5_000;
    config.llm.providers.push(model_entry("primary", &base));
    tweak(&mut config);
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

async fn run(server: &TestServer, conversation: ConversationId) -> Vec<(i64, String, ActionState)> {
    server
        .engine
        .run_conversation(conversation)
        .await
        .unwrap()
        .expect("a run")
        .actions
        .into_iter()
        .map(|(id, kind, state)| (id.0, kind, state))
        .collect()
}

async fn operator(server: &TestServer, role: &str) -> String {
    let body = json_of(
        server
            .post("/api/operators")
            .json(&json!({"name": format!("{role} one"), "role": role}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    body["token"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn an_owners_policy_edit_is_validated_versioned_audited_and_obeyed_by_the_next_run() {
    let fake = FakeLlm::default();
    for text in ["Abrimos a las 9.", "Cerramos a las 18.", "Sí, hay envío."] {
        fake.push(Reply::Stream(reply_answer(text)));
    }
    let server = start(&fake, Arc::new(SystemClock), |_| {}).await;
    let agent = operator(&server, "agent").await;

    let defaults = json_of(server.get("/api/policies").send().await.unwrap()).await;
    assert_eq!(defaults["version"], 0, "a new install runs on the defaults");
    assert_eq!(defaults["defaults"]["reply"], "approval");
    assert_eq!(defaults["defaults"]["escalate_to_human"], "auto");

    let auto = json!({"rules": [{"action": "reply", "verdict": "auto"}]});
    let refused = server
        .request_as(&agent, Method::PUT, "/api/policies")
        .json(&auto)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403, "only owners edit policies");
    for (bad, why) in [
        (
            json!({"rules": [{"action": "refund_everything", "verdict": "auto"}]}),
            "unknown action",
        ),
        (
            json!({"rules": [{"action": "reply", "verdict": "maybe"}]}),
            "verdict",
        ),
        (
            json!({"rules": [{"action": "reply", "when": {"confidence_below": 7}, "verdict": "auto"}]}),
            "confidence_below",
        ),
        (
            json!({"rules": [{"action": "reply", "when": {"colour": "red"}, "verdict": "auto"}]}),
            "colour",
        ),
    ] {
        let response = server
            .client
            .put(format!("{}/api/policies", server.base))
            .bearer_auth(crate::support::TOKEN)
            .json(&bad)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 422, "{bad} is refused");
        let body = json_of(response).await;
        assert!(
            body["error"]["message"].as_str().unwrap().contains(why),
            "{why}: {body}"
        );
    }
    assert_eq!(
        count(&server, "SELECT count(*) FROM policies"),
        0,
        "refused edits store nothing"
    );

    let saved = server
        .client
        .put(format!("{}/api/policies", server.base))
        .bearer_auth(crate::support::TOKEN)
        .json(&auto)
        .send()
        .await
        .unwrap();
    assert_eq!(saved.status(), 200);
    let saved = json_of(saved).await;
    assert_eq!(saved["version"], 1);
    assert_eq!(saved["rules"][0]["verdict"], "auto");

    let conversation = customer_says(&server, "5215512345678", "¿A qué hora abren?").await;
    let actions = run(&server, conversation).await;
    assert_eq!(actions[0].1, "reply");
    assert_ne!(
        actions[0].2,
        ActionState::Pending,
        "the reply runs without an operator"
    );
    assert_eq!(
        count(&server, "SELECT count(*) FROM outbox"),
        1,
        "the auto reply is queued for sending"
    );

    // Forbid replies: the next one never executes.
    let forbid = json!({"rules": [{"action": "reply", "verdict": "forbid"}]});
    let saved = server
        .client
        .put(format!("{}/api/policies", server.base))
        .bearer_auth(crate::support::TOKEN)
        .json(&forbid)
        .send()
        .await
        .unwrap();
    assert_eq!(json_of(saved).await["version"], 2);
    customer_says(&server, "5215512345678", "¿Y a qué hora cierran?").await;
    let actions = run(&server, conversation).await;
    assert_eq!(actions[0].2, ActionState::Forbidden);
    let forbidden_id = actions[0].0;
    let approve = server
        .post(&format!("/api/actions/{forbidden_id}/approve"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        approve.status(),
        409,
        "a forbidden action cannot be approved into running"
    );
    assert_eq!(
        count(&server, "SELECT count(*) FROM outbox"),
        1,
        "nothing more was queued"
    );

    let versions = json_of(server.get("/api/policies/versions").send().await.unwrap()).await;
    assert_eq!(versions["items"][0]["version"], 2, "newest first");
    assert_eq!(versions["items"][1]["rules"][0]["verdict"], "auto");
    let audit = json_of(
        server
            .get("/api/audit?kind=policy.changed")
            .send()
            .await
            .unwrap(),
    )
    .await;
    let latest = &audit["items"][0]["detail"];
    assert_eq!(latest["old_version"], 1);
    assert_eq!(latest["new_version"], 2);
    assert_eq!(
        latest["old"]["rules"][0]["verdict"], "auto",
        "old → new: {latest}"
    );
    assert_eq!(latest["new"]["rules"][0]["verdict"], "forbid");

    // A restart keeps the newest version in force.
    let dir = server.stop();
    let server = TestServer::start_on(
        dir,
        {
            let mut c = Config::default();
            c.pipeline.quiet_period_ms = 0;
            c.llm
                .providers
                .push(model_entry("primary", &fake.clone().start().await));
            c
        },
        MemorySecrets::default(),
        Arc::new(SystemClock),
    )
    .await;
    assert_eq!(
        json_of(server.get("/api/policies").send().await.unwrap()).await["version"],
        2
    );
    customer_says(&server, "5215512345678", "¿Hacen envíos?").await;
    let actions = run(&server, conversation).await;
    assert_eq!(
        actions[0].2,
        ActionState::Forbidden,
        "the stored policy is in force after a restart"
    );
}

#[tokio::test]
async fn an_edited_approval_keeps_its_diff_and_teaches_the_next_similar_run() {
    let fake = FakeLlm::default();
    fake.push(Reply::Stream(HOURS_REPLY.into()));
    fake.push(Reply::Stream(reply_answer("Abrimos de 10 a 19 h.")));
    fake.push(Reply::Stream(reply_answer("Claro.")));
    let server = start(&fake, Arc::new(SystemClock), |_| {}).await;
    let agent = operator(&server, "agent").await;

    let conversation = customer_says(
        &server,
        "5215512345678",
        "Hola, ¿a qué hora abren el sábado?",
    )
    .await;
    let id = run(&server, conversation).await[0].0;

    // Edits are checked like the model's own answer.
    for (bad, why) in [
        (json!({"params": {"text": ""}}), "params/text"),
        (
            json!({"params": {"text": "hola", "colour": "red"}}),
            "colour",
        ),
        (json!({"params": "hola"}), "JSON object"),
        (json!({"edit": {}}), "params"),
    ] {
        let response = server
            .request_as(&agent, Method::POST, &format!("/api/actions/{id}/approve"))
            .json(&bad)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 422, "{bad}");
        let body = json_of(response).await;
        assert!(
            body["error"]["message"].as_str().unwrap().contains(why),
            "{why}: {body}"
        );
    }
    assert_eq!(
        json_of(
            server
                .get(&format!("/api/actions/{id}"))
                .send()
                .await
                .unwrap()
        )
        .await["state"],
        "pending",
        "a refused edit loses nothing"
    );

    let edited_text = "¡Hola! Los sábados abrimos de 10 a 14 h.";
    let approved = server
        .request_as(&agent, Method::POST, &format!("/api/actions/{id}/approve"))
        .json(&json!({"params": {"text": edited_text}}))
        .send()
        .await
        .unwrap();
    assert_eq!(approved.status(), 200);
    let approved = json_of(approved).await;
    assert_eq!(approved["params"]["text"], edited_text);
    assert_eq!(
        approved["original_params"]["text"],
        "¡Hola! Abrimos de 9 a 18 h."
    );
    let diff = &approved["edit_diff"];
    assert_eq!(diff["json_patch"][0]["op"], "replace", "{diff}");
    assert_eq!(diff["json_patch"][0]["path"], "/text");
    let text_diff = diff["text_diff"].as_str().unwrap();
    assert!(
        text_diff.contains("[-") && text_diff.contains("{+"),
        "{text_diff}"
    );
    assert!(text_diff.contains("sábados"), "{text_diff}");
    assert!(
        approved["decided_by"]
            .as_str()
            .unwrap()
            .starts_with("operator:"),
        "attributed to the agent"
    );
    let queued: String = server
        .engine
        .store()
        .read_blocking(move |c| Ok(c.query_row("SELECT request FROM outbox", [], |r| r.get(0))?))
        .unwrap();
    assert!(
        queued.contains("los sábados") || queued.contains("Los sábados"),
        "the edit is what is sent: {queued}"
    );

    let audit = json_of(
        server
            .get(&format!("/api/audit?action_id={id}&kind=action.approved"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let detail = &audit["items"][0]["detail"];
    assert_eq!(detail["edited"], true);
    assert_eq!(detail["diff"]["json_patch"][0]["op"], "replace", "{detail}");
    assert_eq!(
        detail["original_params"]["text"],
        "¡Hola! Abrimos de 9 a 18 h."
    );
    assert_eq!(
        count(
            &server,
            "SELECT count(*) FROM examples WHERE label = 'edited'"
        ),
        1
    );

    // A similar question from another customer: the approved edit is in the model's context.
    let other = customer_says(&server, "5215599999999", "¿Abren el sábado por la tarde?").await;
    run(&server, other).await;
    let requests = fake.requests.lock().unwrap().clone();
    let system = requests.last().unwrap()["messages"][0]["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        system.contains("Decisions operators approved in similar cases")
            && system.contains("Los sábados abrimos de 10 a 14 h"),
        "the edited approval is an example for the next similar request: {system}"
    );

    // A rejection is kept as an example too, labelled as such, with its reason.
    let next = json_of(
        server
            .get("/api/actions?state=pending")
            .send()
            .await
            .unwrap(),
    )
    .await;
    let next_id = next["items"][0]["id"].as_i64().unwrap();
    let rejected = server
        .post(&format!("/api/actions/{next_id}/reject"))
        .json(&json!({"reason": "Hours are wrong"}))
        .send()
        .await
        .unwrap();
    assert_eq!(rejected.status(), 200);
    assert_eq!(
        count(
            &server,
            "SELECT count(*) FROM examples WHERE label = 'rejected' AND note = 'Hours are wrong'"
        ),
        1
    );
}

#[tokio::test]
async fn retry_rejects_and_runs_again_with_the_operators_guidance() {
    let fake = FakeLlm::default();
    fake.push(Reply::Stream(HOURS_REPLY.into()));
    fake.push(Reply::Stream(reply_answer(
        "Abrimos de 9 a 18 h, y los sábados de 10 a 14 h.",
    )));
    let server = start(&fake, Arc::new(SystemClock), |_| {}).await;
    let conversation = customer_says(&server, "5215512345678", "¿Qué horario tienen?").await;
    let id = run(&server, conversation).await[0].0;

    let empty = server
        .post(&format!("/api/actions/{id}/retry"))
        .json(&json!({"guidance": "   "}))
        .send()
        .await
        .unwrap();
    assert_eq!(empty.status(), 422);

    let guidance = "Mention the Saturday hours as well (10 to 14).";
    let retried = server
        .post(&format!("/api/actions/{id}/retry"))
        .json(&json!({ "guidance": guidance }))
        .send()
        .await
        .unwrap();
    assert_eq!(retried.status(), 200);
    let retried = json_of(retried).await;
    assert_eq!(retried["state"], "rejected");
    assert!(retried["decision_note"]
        .as_str()
        .unwrap()
        .contains(guidance));
    let again = server
        .post(&format!("/api/actions/{id}/retry"))
        .json(&json!({"guidance": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        again.status(),
        409,
        "a decided proposal cannot be retried twice"
    );

    let actions = run(&server, conversation).await;
    assert_eq!(actions[0].2, ActionState::Pending, "a new proposal waits");
    let requests = fake.requests.lock().unwrap().clone();
    assert_eq!(requests.len(), 2);
    let user = requests[1]["messages"][1]["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        user.contains("Operator's guidance for this answer") && user.contains(guidance),
        "{user}"
    );
    assert!(
        user.contains("¿Qué horario tienen?"),
        "the same request is answered again: {user}"
    );
    let recorded: Option<String> = server
        .engine
        .store()
        .read_blocking(|c| {
            Ok(c.query_row(
                "SELECT guidance FROM pipeline_runs ORDER BY id DESC LIMIT 1",
                [],
                |r| r.get(0),
            )?)
        })
        .unwrap();
    assert_eq!(
        recorded.as_deref(),
        Some(guidance),
        "the run records its guidance"
    );
    assert_eq!(
        count(
            &server,
            "SELECT count(*) FROM conversations WHERE retry_guidance IS NOT NULL"
        ),
        0,
        "guidance is used once"
    );
    assert_eq!(
        count(
            &server,
            "SELECT count(*) FROM examples WHERE label = 'rejected'"
        ),
        1
    );
}

#[tokio::test]
async fn a_reply_whose_window_closes_before_approval_becomes_a_template_proposal() {
    let clock = ManualClock::at(1_780_000_000_000);
    let fake = FakeLlm::default();
    fake.push(Reply::Stream(HOURS_REPLY.into()));
    fake.push(Reply::Stream(reply_answer("Sí, enviamos.")));
    let server = start(&fake, Arc::new(clock.clone()), |c| {
        c.approvals.stale_template_name = "seguimiento".into();
        c.approvals.stale_template_language = "es_MX".into();
        c.approvals.stale_template_parameters =
            vec!["{contact_name}".into(), "{business_name}".into()];
        c.business.name = "Tienda Sol".into();
    })
    .await;
    server
        .engine
        .store()
        .write(|c| {
            c.execute("INSERT INTO templates (name, language, category) VALUES ('seguimiento', 'es_MX', 'UTILITY')", [])?;
            Ok(())
        })
        .await
        .unwrap();
    let conversation = customer_says(&server, "5215512345678", "¿A qué hora abren?").await;
    let stale_id = run(&server, conversation).await[0].0;

    clock.advance_ms(23 * 3_600_000);
    assert!(
        server
            .engine
            .check_stale_approvals()
            .await
            .unwrap()
            .is_empty(),
        "the window is still open"
    );
    clock.advance_ms(3_600_000 + 60_000);
    let outcomes = server.engine.check_stale_approvals().await.unwrap();
    assert_eq!(outcomes.len(), 1, "{outcomes:?}");

    let old = json_of(
        server
            .get(&format!("/api/actions/{stale_id}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(old["state"], "stale");
    let pending = json_of(
        server
            .get("/api/actions?state=pending")
            .send()
            .await
            .unwrap(),
    )
    .await;
    let replacement = &pending["items"][0];
    assert_eq!(replacement["kind"], "send_template");
    assert_eq!(replacement["replaces_action_id"], stale_id);
    assert_eq!(replacement["params"]["name"], "seguimiento");
    assert_eq!(
        replacement["params"]["parameters"],
        json!(["Lucía", "Tienda Sol"])
    );
    let stale_audit = json_of(
        server
            .get(&format!(
                "/api/audit?action_id={stale_id}&kind=action.stale"
            ))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(stale_audit["items"].as_array().unwrap().len(), 1, "audited");
    let late = server
        .post(&format!("/api/actions/{stale_id}/approve"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        late.status(),
        409,
        "the stale reply can no longer be approved"
    );

    // The template can be sent: approving it queues it.
    let replacement_id = replacement["id"].as_i64().unwrap();
    let approved = server
        .post(&format!("/api/actions/{replacement_id}/approve"))
        .send()
        .await
        .unwrap();
    assert_eq!(approved.status(), 200);
    assert_eq!(json_of(approved).await["state"], "executing");

    // At approval time: a reply whose window closed meanwhile is replaced, not sent.
    customer_says(&server, "5215512345678", "¿Hacen envíos a Monterrey?").await;
    let second = run(&server, conversation).await[0].0;
    clock.advance_ms(24 * 3_600_000 + 1);
    let refused = server
        .post(&format!("/api/actions/{second}/approve"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 409);
    let message = json_of(refused).await["error"]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(message.contains("proposes a template"), "{message}");
    assert_eq!(
        count(
            &server,
            "SELECT count(*) FROM actions WHERE kind = 'send_template' AND state = 'pending'"
        ),
        1
    );
    assert_eq!(
        count(&server, "SELECT count(*) FROM outbox"),
        1,
        "only the approved template was queued"
    );
}

#[tokio::test]
async fn without_a_template_a_stale_reply_is_escalated() {
    let clock = ManualClock::at(1_780_000_000_000);
    let fake = FakeLlm::default();
    fake.push(Reply::Stream(HOURS_REPLY.into()));
    let server = start(&fake, Arc::new(clock.clone()), |_| {}).await;
    let conversation = customer_says(&server, "5215512345678", "¿A qué hora abren?").await;
    run(&server, conversation).await;
    clock.advance_ms(25 * 3_600_000);
    let outcomes = server.engine.check_stale_approvals().await.unwrap();
    assert!(
        matches!(
            outcomes[..],
            [switchboard_engine::staleness::StaleOutcome::Escalated { .. }]
        ),
        "{outcomes:?}"
    );
    let escalations = json_of(
        server
            .get("/api/escalations?state=open")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(escalations["items"][0]["source"], "policy");
    assert!(escalations["items"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("no template"));
}

#[tokio::test]
async fn double_click_and_restart_execute_an_approved_action_once() {
    let fake = FakeLlm::default();
    fake.push(Reply::Stream(HOURS_REPLY.into()));
    fake.push(Reply::Stream(reply_answer("Sí, enviamos a todo México.")));
    let mut config = Config::default();
    config.pipeline.quiet_period_ms = 0;
    config.whatsapp.sandbox_failure_rate = 0.0;
    config
        .llm
        .providers
        .push(model_entry("primary", &fake.clone().start().await));
    let server = TestServer::start_on(
        tempfile::tempdir().unwrap(),
        config.clone(),
        MemorySecrets::default(),
        Arc::new(SystemClock),
    )
    .await;
    let conversation = customer_says(&server, "5215512345678", "¿A qué hora abren?").await;
    let first = run(&server, conversation).await[0].0;

    let (a, b) = tokio::join!(
        server.post(&format!("/api/actions/{first}/approve")).send(),
        server.post(&format!("/api/actions/{first}/approve")).send()
    );
    let mut statuses = [a.unwrap().status().as_u16(), b.unwrap().status().as_u16()];
    statuses.sort();
    assert_eq!(statuses, [200, 409], "one approval wins");

    // A second proposal approved, then the process stops before it was queued.
    customer_says(&server, "5215512345678", "¿Hacen envíos?").await;
    let second = run(&server, conversation).await[0].0;
    server
        .engine
        .store()
        .write(move |c| {
            c.execute("UPDATE actions SET state = 'approved', decided_by = 'operator:owner' WHERE id = ?1", [second])?;
            Ok(())
        })
        .await
        .unwrap();
    assert_eq!(
        count(&server, "SELECT count(*) FROM outbox"),
        1,
        "only the first is queued before the stop"
    );

    let dir = server.stop();
    let server =
        TestServer::start_on(dir, config, MemorySecrets::default(), Arc::new(SystemClock)).await;
    server
        .engine
        .set_graph_base_url(format!("{}/sandbox/graph", server.base));
    server.engine.spawn_workers();
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while count(&server, "SELECT count(*) FROM outbox WHERE state = 'sent'") < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "both sends finish after the restart"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for id in [first, second] {
        let again = server
            .post(&format!("/api/actions/{id}/approve"))
            .send()
            .await
            .unwrap();
        assert_eq!(
            again.status(),
            409,
            "approving again after the restart changes nothing"
        );
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        count(&server, "SELECT count(*) FROM outbox"),
        2,
        "one outbox entry per action"
    );
    assert_eq!(
        count(
            &server,
            "SELECT count(*) FROM messages WHERE direction = 'outbound'"
        ),
        2,
        "each approved action sent exactly once"
    );
    assert_eq!(
        count(
            &server,
            "SELECT count(*) FROM actions WHERE state = 'executed'"
        ),
        2
    );
}

#[tokio::test]
async fn approvals_waiting_too_long_are_notified_once() {
    let clock = ManualClock::at(1_780_000_000_000);
    let fake = FakeLlm::default();
    fake.push(Reply::Stream(HOURS_REPLY.into()));
    let server = start(&fake, Arc::new(clock.clone()), |c| {
        c.notifications.approval_wait_secs = 120
    })
    .await;
    let mut events = server.engine.bus().subscribe();
    let conversation = customer_says(&server, "5215512345678", "¿A qué hora abren?").await;
    let id = run(&server, conversation).await[0].0;

    clock.advance_ms(119_000);
    assert_eq!(
        server.engine.check_waiting_approvals().await.unwrap(),
        0,
        "not yet"
    );
    clock.advance_ms(2_000);
    assert_eq!(server.engine.check_waiting_approvals().await.unwrap(), 1);
    assert_eq!(
        server.engine.check_waiting_approvals().await.unwrap(),
        0,
        "told once"
    );
    clock.advance_ms(3_600_000);
    assert_eq!(
        server.engine.check_waiting_approvals().await.unwrap(),
        0,
        "still once"
    );

    let notification = loop {
        let event = tokio::time::timeout(Duration::from_secs(2), events.next())
            .await
            .expect("a notification was published")
            .unwrap();
        if let Event::Notification { .. } = event {
            break event;
        }
    };
    match notification {
        Event::Notification {
            kind,
            conversation_id,
            action_id,
            title,
            ..
        } => {
            assert_eq!(kind, "approval_waiting");
            assert_eq!(conversation_id, conversation);
            assert_eq!(action_id.map(|a| a.0), Some(id));
            assert!(title.contains("Lucía"), "{title}");
        }
        _ => unreachable!(),
    }
}
