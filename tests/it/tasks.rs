//! Operators' tasks through the API: creation, changes, filters and their audit records.

use crate::support::{TestServer, TOKEN};
use serde_json::{json, Value};

async fn send(server: &TestServer, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let url = format!("{}{path}", server.base);
    let request = match method {
        "GET" => server.client.get(url),
        "POST" => server.client.post(url),
        "PATCH" => server.client.patch(url),
        other => panic!("{other}"),
    }
    .bearer_auth(TOKEN);
    let request = match body {
        Some(body) => request.json(&body),
        None => request,
    };
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn titles(page: &Value) -> Vec<&str> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["title"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn operators_create_change_and_filter_tasks_and_every_change_is_audited() {
    let server = TestServer::start().await;
    server
        .engine
        .store()
        .write(|c| {
            Ok(c.execute_batch(
                "INSERT INTO contacts (id, phone_number_id, wa_id, created_at, updated_at) VALUES (1, 'p', '1', 0, 0);
                 INSERT INTO conversations (id, contact_id, phone_number_id, created_at, updated_at) VALUES (1, 1, 'p', 0, 0);",
            )?)
        })
        .await
        .unwrap();

    let (status, call) = send(
        &server,
        "POST",
        "/api/tasks",
        Some(json!({
        "title": "  Call Lucía back ", "description": "About order 1234", "conversation_id": 1,
        "assignee": "maria", "due_at": "2030-01-02T15:00:00-06:00", "priority": "high"})),
    )
    .await;
    assert_eq!(status, 201, "{call}");
    assert_eq!(call["title"], "Call Lucía back");
    assert_eq!(call["state"], "open");
    assert_eq!(call["created_by"], "operator:owner");
    assert_eq!(call["due_at"], "2030-01-02T21:00:00.000Z");
    assert_eq!(call["priority"], "high");
    assert_eq!(call["completed_at"], Value::Null);
    let (status, refund) = send(
        &server,
        "POST",
        "/api/tasks",
        Some(json!({"title": "Check refund"})),
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(refund["priority"], "normal");
    let (call_id, refund_id) = (call["id"].as_i64().unwrap(), refund["id"].as_i64().unwrap());

    for (body, expected) in [
        (json!({"title": " "}), 422),
        (json!({"title": "x", "conversation_id": 999}), 404),
        (json!({"title": "x", "priority": "asap"}), 400),
        (json!({"title": "x", "due_at": "tomorrow"}), 400),
        (json!({"name": "x"}), 422),
    ] {
        let (status, error) = send(&server, "POST", "/api/tasks", Some(body.clone())).await;
        assert_eq!(status, expected, "{body} → {error}");
        assert!(error["error"]["message"].is_string(), "{error}");
    }

    let (status, done) = send(
        &server,
        "PATCH",
        &format!("/api/tasks/{call_id}"),
        Some(json!({"state": "done"})),
    )
    .await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["state"], "done");
    assert!(done["completed_at"].is_string());
    assert_eq!(done["assignee"], "maria", "fields not sent are kept");
    let (_, reopened) = send(
        &server,
        "PATCH",
        &format!("/api/tasks/{call_id}"),
        Some(json!({"state": "open", "assignee": null})),
    )
    .await;
    assert_eq!(reopened["state"], "open");
    assert_eq!(
        reopened["completed_at"],
        Value::Null,
        "reopening clears completion"
    );
    assert_eq!(reopened["assignee"], Value::Null, "null unassigns");
    let (_, assigned) = send(
        &server,
        "PATCH",
        &format!("/api/tasks/{refund_id}"),
        Some(json!({"assignee": "maria", "due_at": null})),
    )
    .await;
    assert_eq!(assigned["assignee"], "maria");
    let (status, _) = send(
        &server,
        "PATCH",
        "/api/tasks/999",
        Some(json!({"state": "done"})),
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = send(
        &server,
        "PATCH",
        &format!("/api/tasks/{refund_id}"),
        Some(json!({"state": "finished"})),
    )
    .await;
    assert_eq!(status, 400);

    let (_, mine) = send(&server, "GET", "/api/tasks?assignee=maria", None).await;
    assert_eq!(titles(&mine), ["Check refund"]);
    let (_, nobody) = send(&server, "GET", "/api/tasks?assignee=", None).await;
    assert_eq!(titles(&nobody), ["Call Lucía back"]);
    let (_, in_conversation) = send(
        &server,
        "GET",
        "/api/tasks?conversation_id=1&state=open&priority=high",
        None,
    )
    .await;
    assert_eq!(titles(&in_conversation), ["Call Lucía back"]);
    let (_, none) = send(
        &server,
        "GET",
        "/api/tasks?conversation_id=1&state=done",
        None,
    )
    .await;
    assert!(titles(&none).is_empty());
    let (status, one) = send(&server, "GET", &format!("/api/tasks/{refund_id}"), None).await;
    assert_eq!((status, one["title"].clone()), (200, json!("Check refund")));

    let (_, audit) = send(
        &server,
        "GET",
        "/api/audit?kind=task.created,task.updated",
        None,
    )
    .await;
    let records = audit["items"].as_array().unwrap();
    assert_eq!(records.len(), 5, "two creations, three changes: {audit}");
    let reopen = &records[1];
    assert_eq!(reopen["kind"], "task.updated");
    assert_eq!(reopen["conversation_id"], 1);
    assert_eq!(
        reopen["detail"]["changed"]["state"],
        json!({"from": "done", "to": "open"})
    );
    assert_eq!(
        reopen["detail"]["changed"]["assignee"],
        json!({"from": "maria", "to": null})
    );
}
