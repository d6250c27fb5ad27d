//! Operators and roles over real HTTP: every route in the OpenAPI document refuses a
//! missing or wrong token, and refuses (403, audited) a role below the one it declares.

use crate::support::{TestServer, TOKEN};
use reqwest::Method;
use serde_json::{json, Value};

async fn create_operator(server: &TestServer, name: &str, role: &str) -> (i64, String) {
    let response = server
        .post("/api/operators")
        .json(&json!({"name": name, "email": format!("{}@example.com", name.to_lowercase()), "role": role}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "the owner creates operators");
    let body: Value = response.json().await.unwrap();
    let token = body["token"].as_str().unwrap().to_string();
    assert!(
        token.starts_with("sbo_"),
        "operator tokens are recognisable"
    );
    (body["operator"]["id"].as_i64().unwrap(), token)
}

fn rank(role: &str) -> u8 {
    match role {
        "agent" => 1,
        "supervisor" => 2,
        "owner" => 3,
        other => panic!("unknown role {other:?} in the OpenAPI document"),
    }
}

/// A concrete URL for a templated path: the ids need not exist, authorisation comes first.
fn concrete(path: &str) -> String {
    path.replace("{layer}", "system")
        .replace("{name}", "primary")
        .split('/')
        .map(|part| {
            if part.starts_with('{') {
                "1".to_string()
            } else {
                part.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[tokio::test]
async fn every_route_refuses_missing_and_wrong_tokens_and_roles_below_its_minimum() {
    let server = TestServer::start().await;
    let (_, agent) = create_operator(&server, "Ana", "agent").await;
    let (_, supervisor) = create_operator(&server, "Sam", "supervisor").await;

    // The routes come from the served document, so a new route is covered the day it lands.
    let doc: Value = server
        .get("/api/openapi.json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut operations = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        if !path.starts_with("/api/") {
            continue; // the webhook is authenticated by its signature instead
        }
        for (method, operation) in item.as_object().unwrap() {
            let role = operation["x-minimum-role"].as_str().unwrap_or_else(|| {
                panic!("{method} {path} declares no minimum role in routes::ROUTE_ROLES")
            });
            operations.push((method.to_uppercase(), path.clone(), role.to_string()));
        }
    }
    assert!(
        operations.len() > 30,
        "the document lists the API's routes: {operations:?}"
    );

    let mut refused = 0;
    for (method, path, role) in &operations {
        let url = concrete(path);
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let none = server
            .client
            .request(method.clone(), format!("{}{url}", server.base))
            .send()
            .await
            .unwrap();
        assert_eq!(none.status(), 401, "{method} {url} without a token");
        for wrong in [
            "not-the-token",
            "sbo_0000000000000000",
            &format!("{TOKEN}x"),
        ] {
            let response = server
                .request_as(wrong, method.clone(), &url)
                .send()
                .await
                .unwrap();
            assert_eq!(
                response.status(),
                401,
                "{method} {url} with the wrong token {wrong:?}"
            );
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["error"]["code"], "unauthorized");
        }
        for (token, held) in [(&agent, "agent"), (&supervisor, "supervisor")] {
            let response = server
                .request_as(token, method.clone(), &url)
                .json(&json!({}))
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            if rank(held) < rank(role) {
                assert_eq!(
                    status, 403,
                    "{method} {url} needs {role}; a {held} is refused"
                );
                let body: Value = response.json().await.unwrap();
                assert_eq!(body["error"]["code"], "forbidden", "{method} {url}: {body}");
                refused += 1;
            } else {
                assert!(
                    status != 401 && status != 403,
                    "{method} {url} needs {role}; a {held} passes (got {status})"
                );
            }
        }
    }
    assert!(refused > 10, "some routes are above an agent: {refused}");

    // Every refusal is in the audit trail, with who and which route.
    let audit: Value = server
        .get("/api/audit?kind=access_denied&limit=500")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let records = audit["items"].as_array().unwrap();
    assert_eq!(
        records.len(),
        refused,
        "one access_denied record per refusal"
    );
    let operators_refusal = records
        .iter()
        .find(|r| r["detail"]["route"] == "/api/operators" && r["detail"]["method"] == "GET")
        .expect("the agent's GET /api/operators was recorded");
    assert!(
        operators_refusal["actor"]
            .as_str()
            .unwrap()
            .starts_with("operator:"),
        "the record names who asked: {operators_refusal}"
    );
    assert_eq!(operators_refusal["detail"]["required_role"], "owner");
    let verify: Value = server
        .get("/api/audit/verify")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(verify["intact"], true, "the refusals keep the chain intact");
}

#[tokio::test]
async fn operators_get_a_token_once_and_owners_manage_roles_rotation_and_lockout() {
    let server = TestServer::start().await;
    let me: Value = server
        .get("/api/me")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        me["role"], "owner",
        "the engine's token is the built-in owner"
    );
    assert_eq!(me["operator_id"], Value::Null);

    let (id, token) = create_operator(&server, "Ana", "agent").await;
    let me: Value = server
        .request_as(&token, Method::GET, "/api/me")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["role"], "agent");
    assert_eq!(me["name"], "Ana");
    assert_eq!(me["label"], format!("operator:{id}:Ana"));

    // Only the SHA-256 is kept: the token is nowhere in the database.
    let stored = server
        .engine
        .store()
        .read_blocking(move |c| {
            Ok(c.query_row(
                "SELECT token_hash FROM operators WHERE id = ?1",
                [id],
                |r| r.get::<_, String>(0),
            )?)
        })
        .unwrap();
    assert_ne!(stored, token);
    assert_eq!(stored, switchboard_engine::operators::token_hash(&token));
    let db = std::fs::read(server.engine.store().path()).unwrap();
    let wal =
        std::fs::read(server.engine.store().path().with_extension("db-wal")).unwrap_or_default();
    for bytes in [&db, &wal] {
        assert!(
            !bytes.windows(token.len()).any(|w| w == token.as_bytes()),
            "the token itself never reaches SQLite"
        );
    }
    let list: Value = server
        .get("/api/operators")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"][0]["name"], "Ana");
    assert!(
        list["items"][0].get("token").is_none(),
        "a list never shows tokens"
    );

    // The agent cannot reach the audit trail, then can once made a supervisor.
    let audit = |t: String| {
        let server = &server;
        async move {
            server
                .request_as(&t, Method::GET, "/api/audit")
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(audit(token.clone()).await, 403);
    let promoted = server
        .client
        .patch(format!("{}/api/operators/{id}", server.base))
        .bearer_auth(TOKEN)
        .json(&json!({"role": "supervisor"}))
        .send()
        .await
        .unwrap();
    assert_eq!(promoted.status(), 200);
    assert_eq!(audit(token.clone()).await, 200);

    // An agent cannot make operators, and bad input is a clear 422.
    let (_, agent) = create_operator(&server, "Bea", "agent").await;
    let by_agent = server
        .request_as(&agent, Method::POST, "/api/operators")
        .json(&json!({"name": "Mallory", "role": "owner"}))
        .send()
        .await
        .unwrap();
    assert_eq!(by_agent.status(), 403);
    let bad_role = server
        .post("/api/operators")
        .json(&json!({"name": "Zoe", "role": "admin"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad_role.status(), 422);
    let bad: Value = bad_role.json().await.unwrap();
    assert!(bad["error"]["message"]
        .as_str()
        .unwrap()
        .contains("agent, supervisor or owner"));
    let same_email = server
        .post("/api/operators")
        .json(&json!({"name": "Ana 2", "email": "ana@example.com", "role": "agent"}))
        .send()
        .await
        .unwrap();
    assert_eq!(same_email.status(), 409);

    // Rotation: the old token stops working at once, the new one works.
    let rotated: Value = server
        .post(&format!("/api/operators/{id}/token"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let new_token = rotated["token"].as_str().unwrap().to_string();
    assert_ne!(new_token, token);
    assert_eq!(audit(token.clone()).await, 401);
    assert_eq!(audit(new_token.clone()).await, 200);

    // Deactivated: locked out.
    let locked = server
        .client
        .patch(format!("{}/api/operators/{id}", server.base))
        .bearer_auth(TOKEN)
        .json(&json!({"active": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(locked.status(), 200);
    assert_eq!(audit(new_token).await, 401);

    let kinds: Vec<String> = {
        let records: Value = server
            .get("/api/audit?limit=100")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        records["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["kind"].as_str().unwrap().to_string())
            .collect()
    };
    for kind in [
        "operator.created",
        "operator.updated",
        "operator.token_rotated",
        "access_denied",
    ] {
        assert!(
            kinds.iter().any(|k| k == kind),
            "{kind} is audited: {kinds:?}"
        );
    }
    let update: Value = server
        .get("/api/audit?kind=operator.updated&limit=1")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let detail = &update["items"][0]["detail"];
    assert_eq!(detail["old"]["active"], true);
    assert_eq!(detail["new"]["active"], false, "old → new: {detail}");
}
