//! Settings through the API: context layers (and their use by the next run), the knowledge
//! base, templates, providers with their test button and secrets, and WhatsApp with its
//! test button, against loopback fakes speaking the real wire formats.

use crate::fake_llm::{FakeLlm, Reply};
use crate::support::{TestServer, TOKEN};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde_json::{json, Value};
use switchboard_core::config::{ProviderEntry, ProviderKind, WhatsAppMode};
use switchboard_core::secrets::{MemorySecrets, SecretName, SecretStore};
use switchboard_core::{Config, Secret};
use switchboard_engine::sandbox::SimulatedMessage;

const VALID_REPLY: &str = r#"{"actions":[{"type":"reply","text":"Enviamos en 24 h."}],"reasoning":"Shipping question.","confidence":0.9}"#;

fn provider(name: &str, base: &str) -> ProviderEntry {
    ProviderEntry {
        name: name.into(),
        kind: ProviderKind::OpenaiCompatible,
        base_url: base.into(),
        model: format!("{name}-model"),
        api_key_env: Some("SWITCHBOARD_TEST_UNSET_KEY".into()),
        json_schema: false,
        tools: false,
        json_mode: false,
        context_length: Some(8192),
        price_in_per_mtok: None,
        price_out_per_mtok: None,
    }
}

async fn send(server: &TestServer, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let url = format!("{}{path}", server.base);
    let request = match method {
        "GET" => server.client.get(url),
        "POST" => server.client.post(url),
        "PUT" => server.client.put(url),
        "PATCH" => server.client.patch(url),
        "DELETE" => server.client.delete(url),
        other => panic!("{other}"),
    }
    .bearer_auth(TOKEN);
    let request = match body {
        Some(body) => request.json(&body),
        None => request,
    };
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn audit_kinds(server: &TestServer) -> Vec<String> {
    let (_, page) = send(server, "GET", "/api/audit?limit=500", None).await;
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["kind"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn context_layers_are_versioned_audited_and_used_by_the_next_run() {
    let fake = FakeLlm::default();
    fake.push(Reply::Stream(VALID_REPLY.into()));
    let base = fake.clone().start().await;
    let mut config = Config::default();
    config.pipeline.quiet_period_ms = 0;
    config.llm.providers.push(provider("primary", &base));
    let server = TestServer::start_with(config, MemorySecrets::default()).await;

    let (status, layers) = send(&server, "GET", "/api/context-layers", None).await;
    assert_eq!(status, 200);
    assert_eq!(
        layers["system"]["version"], 0,
        "the built-in default is in force"
    );
    assert!(layers["system"]["content"]
        .as_str()
        .unwrap()
        .contains("Help customers"));
    assert_eq!(layers["domain"]["version"], 0);
    assert_eq!(layers["domain"]["budget"], 1_500);

    let (status, saved) = send(
        &server,
        "PUT",
        "/api/context-layers/domain",
        Some(json!({"content": "Shipping takes 48 h. Returns within 30 days.", "base_version": 0})),
    )
    .await;
    assert_eq!(status, 200, "{saved}");
    assert_eq!(saved["version"], 1);
    assert_eq!(saved["author"], "operator:owner");
    let (status, saved) = send(&server, "PUT", "/api/context-layers/domain",
        Some(json!({"content": "  Shipping takes 24 h (express: BRAVO-7). Returns within 30 days.  "}))).await;
    assert_eq!(status, 200, "{saved}");
    assert_eq!(
        saved["version"], 2,
        "without base_version the save simply appends"
    );
    assert_eq!(
        saved["content"],
        "Shipping takes 24 h (express: BRAVO-7). Returns within 30 days."
    );
    assert!(saved["tokens"].as_u64().unwrap() > 5);

    let (status, conflict) = send(
        &server,
        "PUT",
        "/api/context-layers/domain",
        Some(json!({"content": "stale editor", "base_version": 1})),
    )
    .await;
    assert_eq!(
        status, 409,
        "an editor that loaded version 1 cannot overwrite version 2: {conflict}"
    );
    assert_eq!(conflict["error"]["code"], "conflict");
    let (status, empty) = send(
        &server,
        "PUT",
        "/api/context-layers/system",
        Some(json!({"content": "  "})),
    )
    .await;
    assert_eq!(status, 422, "{empty}");
    let (status, unknown) = send(
        &server,
        "PUT",
        "/api/context-layers/session",
        Some(json!({"content": "x"})),
    )
    .await;
    assert_eq!(status, 404, "{unknown}");
    assert!(unknown["error"]["message"]
        .as_str()
        .unwrap()
        .contains("system and domain"));
    let (status, _) = send(
        &server,
        "PUT",
        "/api/context-layers/domain",
        Some(json!({"text": "x"})),
    )
    .await;
    assert_eq!(status, 422, "a body without content is refused clearly");

    let (status, history) = send(&server, "GET", "/api/context-layers/domain/versions", None).await;
    assert_eq!(status, 200);
    let versions: Vec<(i64, String)> = history["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["version"].as_i64().unwrap(),
                v["content"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(versions.len(), 2);
    assert_eq!(versions[0].0, 2, "newest first");
    assert_eq!(
        versions[1].1,
        "Shipping takes 48 h. Returns within 30 days."
    );
    assert_eq!(
        audit_kinds(&server)
            .await
            .iter()
            .filter(|k| *k == "context_layer.updated")
            .count(),
        2,
        "each saved version is audited, refusals are not versions"
    );

    let (status, _) = send(&server, "POST", "/api/knowledge",
        Some(json!({"title": "Express shipping", "body": "Express shipping costs 9 EUR and arrives next day.", "tags": ["shipping"]}))).await;
    assert_eq!(status, 201);

    // The next run's request to the model carries the newest domain layer and the
    // relevant knowledge.
    server
        .engine
        .sandbox_customer_writes(SimulatedMessage {
            from: "5215512345678".into(),
            name: None,
            text: "How long does express shipping take?".into(),
        })
        .await
        .unwrap();
    server.engine.process_inbox().await.unwrap();
    let conversation = server
        .engine
        .conversations(Default::default())
        .await
        .unwrap()
        .items[0]
        .id;
    server
        .engine
        .run_conversation(conversation)
        .await
        .unwrap()
        .expect("a run");
    let requests = fake.requests.lock().unwrap().clone();
    let sent = requests.last().expect("the model was called").to_string();
    assert!(
        sent.contains("BRAVO-7"),
        "the newest domain version reaches the model"
    );
    assert!(!sent.contains("48 h"), "older versions do not");
    assert!(sent.contains("costs 9 EUR"), "the knowledge base is quoted");
}

#[tokio::test]
async fn the_knowledge_base_is_edited_searched_and_audited() {
    let server = TestServer::start().await;
    let mut ids = Vec::new();
    for (title, body, tags) in [
        (
            "Devoluciones",
            "Aceptamos devoluciones durante 30 días con el ticket.",
            json!(["políticas", "devoluciones"]),
        ),
        (
            "Envíos",
            "El envío es gratis a partir de 50 EUR.",
            json!(["envíos"]),
        ),
        (
            "Horario",
            "Abrimos de lunes a sábado, de 9 a 18 h.",
            json!([]),
        ),
    ] {
        let (status, doc) = send(
            &server,
            "POST",
            "/api/knowledge",
            Some(json!({"title": title, "body": body, "tags": tags})),
        )
        .await;
        assert_eq!(status, 201, "{doc}");
        ids.push(doc["id"].as_i64().unwrap());
    }
    let (status, bad) = send(
        &server,
        "POST",
        "/api/knowledge",
        Some(json!({"title": " ", "body": "x"})),
    )
    .await;
    assert_eq!(status, 422, "{bad}");
    let (status, _) = send(
        &server,
        "POST",
        "/api/knowledge",
        Some(json!({"title": "t", "body": "b", "tags": ["x".repeat(41)]})),
    )
    .await;
    assert_eq!(status, 422);

    let titles = |page: &Value| -> Vec<String> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["title"].as_str().unwrap().to_string())
            .collect()
    };
    let (_, all) = send(&server, "GET", "/api/knowledge", None).await;
    assert_eq!(
        titles(&all),
        ["Horario", "Envíos", "Devoluciones"],
        "newest first"
    );
    for (query, expected) in [
        ("devol", vec!["Devoluciones"]),  // a prefix, as typed
        ("envio gratis", vec!["Envíos"]), // without the accent, every word
        ("gratis horario", vec![]),       // every word must match
        ("\"AND (NEAR* OR", vec![]),      // FTS syntax is taken as words
        ("¿?", vec![]),                   // no words at all
    ] {
        let (status, found) = send(
            &server,
            "GET",
            &format!("/api/knowledge?q={}", urlencode(query)),
            None,
        )
        .await;
        assert_eq!(status, 200, "{query}: {found}");
        assert_eq!(titles(&found), expected, "search {query:?}");
    }
    let (_, tagged) = send(
        &server,
        "GET",
        &format!("/api/knowledge?tag={}", urlencode("políticas")),
        None,
    )
    .await;
    assert_eq!(titles(&tagged), ["Devoluciones"]);
    let (_, page) = send(&server, "GET", "/api/knowledge?limit=2", None).await;
    let cursor = page["next_cursor"].as_str().unwrap().to_string();
    let (_, rest) = send(
        &server,
        "GET",
        &format!("/api/knowledge?limit=2&cursor={cursor}"),
        None,
    )
    .await;
    assert_eq!(titles(&rest), ["Devoluciones"]);

    let id = ids[1];
    let (status, updated) = send(&server, "PUT", &format!("/api/knowledge/{id}"),
        Some(json!({"title": "Envíos", "body": "El envío cuesta 4 EUR; gratis desde 80 EUR.", "tags": ["envíos", "envíos", " precios "]}))).await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(
        updated["tags"],
        json!(["envíos", "precios"]),
        "tags trimmed and deduplicated"
    );
    let (_, found) = send(&server, "GET", "/api/knowledge?q=80", None).await;
    assert_eq!(titles(&found), ["Envíos"], "search follows the edit");
    let (_, found) = send(&server, "GET", "/api/knowledge?q=50", None).await;
    assert!(titles(&found).is_empty(), "the old body is no longer found");

    let (status, _) = send(&server, "DELETE", &format!("/api/knowledge/{id}"), None).await;
    assert_eq!(status, 204);
    let (status, gone) = send(&server, "GET", &format!("/api/knowledge/{id}"), None).await;
    assert_eq!(status, 404, "{gone}");
    let (status, _) = send(&server, "DELETE", &format!("/api/knowledge/{id}"), None).await;
    assert_eq!(status, 404, "deleting twice is a clear 404");
    let (_, found) = send(&server, "GET", "/api/knowledge?q=envio", None).await;
    assert!(titles(&found).is_empty());
    let (status, _) = send(
        &server,
        "PUT",
        "/api/knowledge/999",
        Some(json!({"title": "t", "body": "b"})),
    )
    .await;
    assert_eq!(status, 404);

    let kinds = audit_kinds(&server).await;
    for kind in [
        "knowledge.created",
        "knowledge.updated",
        "knowledge.deleted",
    ] {
        assert!(
            kinds.iter().any(|k| k == kind),
            "{kind} is audited: {kinds:?}"
        );
    }
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn templates_are_replaced_as_a_checked_whole() {
    let server = TestServer::start().await;
    let (status, list) = send(&server, "GET", "/api/templates", None).await;
    assert_eq!((status, list["items"].clone()), (200, json!([])));
    let good = json!({"templates": [
        {"name": "order_update", "language": "es_MX", "category": "utility",
         "components": [{"type": "HEADER", "format": "TEXT", "text": "Pedido {{1}}"},
                        {"type": "BODY", "text": "Hola {{1}}, tu pedido {{2}} llega {{3}}."}]},
        {"name": "hello_world", "language": "en_US", "category": "MARKETING"}
    ]});
    let (status, saved) = send(&server, "PUT", "/api/templates", Some(good)).await;
    assert_eq!(status, 200, "{saved}");
    let items = saved["items"].as_array().unwrap();
    assert_eq!(items[0]["name"], "hello_world");
    assert_eq!(items[0]["parameters"], 0);
    assert_eq!(items[0]["status"], "approved");
    assert_eq!(items[1]["category"], "UTILITY");
    assert_eq!(
        items[1]["parameters"], 4,
        "header {{1}} and body {{1}}, {{2}}, {{3}}"
    );

    for (bad, says) in [
        (
            json!({"templates": [{"name": "Hello World", "language": "en_US", "category": "UTILITY"}]}),
            "lowercase",
        ),
        (
            json!({"templates": [{"name": "a", "language": "en_US", "category": "PROMO"}]}),
            "category",
        ),
        (
            json!({"templates": [{"name": "a", "language": "en US!", "category": "UTILITY"}]}),
            "language",
        ),
        (
            json!({"templates": [{"name": "a", "language": "en_US", "category": "UTILITY"},
                              {"name": "a", "language": "en_US", "category": "UTILITY"}]}),
            "twice",
        ),
    ] {
        let (status, body) = send(&server, "PUT", "/api/templates", Some(bad)).await;
        assert_eq!(status, 422, "{body}");
        assert!(
            body["error"]["message"].as_str().unwrap().contains(says),
            "{body}"
        );
    }
    let (_, list) = send(&server, "GET", "/api/templates", None).await;
    assert_eq!(
        list["items"].as_array().unwrap().len(),
        2,
        "a refused list changes nothing"
    );
    assert!(audit_kinds(&server)
        .await
        .contains(&"templates.replaced".to_string()));
}

/// An OpenAI-compatible server that answers only to `Bearer sk-good-key`.
async fn keyed_llm() -> String {
    async fn complete(headers: HeaderMap) -> axum::response::Response {
        if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some("Bearer sk-good-key")
        {
            return (StatusCode::UNAUTHORIZED, [("content-type", "application/json")],
                r#"{"error":{"message":"Incorrect API key provided","type":"invalid_request_error","code":"invalid_api_key"}}"#)
                .into_response();
        }
        let chunk = json!({"id":"c","object":"chat.completion.chunk","created":1,"model":"keyed-model-2",
            "choices":[{"index":0,"delta":{"content":"ok"},"finish_reason":null}]});
        let done = json!({"id":"c","object":"chat.completion.chunk","created":1,"model":"keyed-model-2",
            "choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":1,"total_tokens":13}});
        (
            [("content-type", "text/event-stream")],
            format!("data: {chunk}\n\ndata: {done}\n\ndata: [DONE]\n\n"),
        )
            .into_response()
    }
    let app = axum::Router::new().route("/v1/chat/completions", axum::routing::post(complete));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/v1", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

#[tokio::test]
async fn providers_show_key_presence_and_test_with_the_key_stored_now() {
    let keyed = keyed_llm().await;
    let failing = FakeLlm::default();
    failing.push(Reply::Status(503));
    let failing_base = failing.start().await;
    let mut config = Config::default();
    config.llm.providers.push(provider("primary", &keyed));
    config.llm.providers.push(provider("backup", &failing_base));
    config.llm.providers.push(ProviderEntry {
        base_url: String::new(),
        kind: ProviderKind::Anthropic,
        ..provider("claude", "")
    });
    let server = TestServer::start_with(config, MemorySecrets::default()).await;

    let (status, list) = send(&server, "GET", "/api/providers", None).await;
    assert_eq!(status, 200);
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    assert_eq!(items[0]["name"], "primary");
    assert_eq!(items[0]["position"], 0);
    assert_eq!(items[0]["kind"], "openai_compatible");
    assert_eq!(items[0]["key_present"], false);
    assert_eq!(items[0]["secret_name"], "llm.primary");
    assert_eq!(
        items[2]["base_url"], "https://api.anthropic.com",
        "the effective URL is shown"
    );

    let (status, test) = send(&server, "POST", "/api/providers/primary/test", None).await;
    assert_eq!(status, 200);
    assert_eq!(test["ok"], false, "{test}");
    assert_eq!(
        test["error"]["code"], "authentication",
        "a typed error, not a 500: {test}"
    );

    let (status, stored) = send(
        &server,
        "PUT",
        "/api/secrets/llm.primary",
        Some(json!({"value": "sk-good-key"})),
    )
    .await;
    assert_eq!(status, 200, "{stored}");
    assert_eq!(
        stored,
        json!({"name": "llm.primary", "applies": "now"}),
        "the value is never echoed"
    );
    let (_, list) = send(&server, "GET", "/api/providers", None).await;
    assert_eq!(list["items"][0]["key_present"], true);
    assert!(!list.to_string().contains("sk-good-key"));

    let (_, test) = send(&server, "POST", "/api/providers/primary/test", None).await;
    assert_eq!(
        test["ok"], true,
        "the key just stored is the one tested: {test}"
    );
    assert_eq!(test["model"], "keyed-model-2");
    assert_eq!(test["reply"], "ok");
    assert!(test["latency_ms"].is_u64());
    assert_eq!(test["error"], Value::Null);

    let (_, test) = send(&server, "POST", "/api/providers/backup/test", None).await;
    assert_eq!(
        (test["ok"].clone(), test["error"]["code"].clone()),
        (json!(false), json!("overloaded")),
        "{test}"
    );
    let (status, _) = send(&server, "POST", "/api/providers/nobody/test", None).await;
    assert_eq!(status, 404);

    for (name, value, expected) in [
        ("llm.nobody", "x", 404),
        ("api-token", "x", 404),
        ("whatsapp.access-token", "   ", 422),
        ("whatsapp.access-token", "line\nbreak", 422),
    ] {
        let (status, body) = send(
            &server,
            "PUT",
            &format!("/api/secrets/{name}"),
            Some(json!({"value": value})),
        )
        .await;
        assert_eq!(status, expected, "{name}: {body}");
    }
    let (_, audit) = send(&server, "GET", "/api/audit?kind=secret.set", None).await;
    assert_eq!(
        audit["items"].as_array().unwrap().len(),
        1,
        "one stored secret, one record"
    );
    assert_eq!(audit["items"][0]["detail"], json!({"name": "llm.primary"}));
    assert!(!audit.to_string().contains("sk-good-key"));
}

#[tokio::test]
async fn the_next_run_uses_a_model_key_stored_at_runtime() {
    let keyed = keyed_llm().await;
    let mut config = Config::default();
    config.pipeline.quiet_period_ms = 0;
    config.pipeline.max_corrective_retries = 0;
    config.llm.providers.push(provider("primary", &keyed));
    let server = TestServer::start_with(config, MemorySecrets::default()).await;
    let (status, _) = send(
        &server,
        "PUT",
        "/api/secrets/llm.primary",
        Some(json!({"value": "sk-good-key"})),
    )
    .await;
    assert_eq!(status, 200);
    server
        .engine
        .sandbox_customer_writes(SimulatedMessage {
            from: "5215512345678".into(),
            name: None,
            text: "hola".into(),
        })
        .await
        .unwrap();
    server.engine.process_inbox().await.unwrap();
    let conversation = server
        .engine
        .conversations(Default::default())
        .await
        .unwrap()
        .items[0]
        .id;
    server
        .engine
        .run_conversation(conversation)
        .await
        .unwrap()
        .expect("a run");
    let errors: Vec<Option<String>> = server
        .engine
        .store()
        .read_blocking(|c| {
            let mut stmt = c.prepare("SELECT error FROM run_attempts ORDER BY id")?;
            let rows = stmt
                .query_map([], |r| r.get(0))?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
        .unwrap();
    assert!(!errors.is_empty());
    assert!(
        errors
            .iter()
            .flatten()
            .all(|e| !e.to_lowercase().contains("authentication")),
        "the rebuilt chain authenticates with the stored key: {errors:?}"
    );
}

/// A Graph API on loopback that knows one number and one token.
async fn fake_graph() -> String {
    async fn number(
        axum::extract::Path((version, id)): axum::extract::Path<(String, String)>,
        headers: HeaderMap,
    ) -> axum::response::Response {
        let auth = headers.get("authorization").and_then(|v| v.to_str().ok());
        if auth != Some("Bearer live-token") {
            return (StatusCode::UNAUTHORIZED, axum::Json(json!({"error": {
                "message": "Error validating access token: Session has expired.",
                "type": "OAuthException", "code": 190, "error_subcode": 463, "fbtrace_id": "AbC"}}))).into_response();
        }
        if version != "v24.0" || id != "487120593306718" {
            return (StatusCode::BAD_REQUEST, axum::Json(json!({"error": {
                "message": "Unsupported get request.", "type": "GraphMethodException", "code": 100, "fbtrace_id": "AbC"}}))).into_response();
        }
        axum::Json(
            json!({"verified_name": "Tienda Lucía", "code_verification_status": "VERIFIED",
            "display_phone_number": "+52 55 1234 5678", "quality_rating": "GREEN",
            "platform_type": "CLOUD_API", "throughput": {"level": "STANDARD"}, "id": id}),
        )
        .into_response()
    }
    let app = axum::Router::new().route("/{version}/{id}", axum::routing::get(number));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

#[tokio::test]
async fn whatsapp_live_settings_and_test_against_a_graph_api_on_loopback() {
    let graph = fake_graph().await;
    let mut config = Config::default();
    config.whatsapp.mode = WhatsAppMode::Live;
    config.whatsapp.api_base_url = graph;
    config.whatsapp.phone_number_id = "487120593306718".into();
    config.whatsapp.waba_id = "102290129340398".into();
    config.server.public_url = Some("https://switchboard.example.com/".into());
    let secrets = MemorySecrets::default();
    secrets
        .set(&SecretName::WhatsAppAccessToken, &Secret::new("live-token"))
        .unwrap();
    secrets
        .set(&SecretName::WhatsAppAppSecret, &Secret::new("app-secret"))
        .unwrap();
    let server = TestServer::start_with(config, secrets).await;

    let (status, view) = send(&server, "GET", "/api/whatsapp", None).await;
    assert_eq!(status, 200);
    assert_eq!(view["mode"], "live");
    assert_eq!(view["phone_number_id"], "487120593306718");
    assert_eq!(view["api_version"], "v24.0");
    assert_eq!(
        view["webhook_url"],
        "https://switchboard.example.com/webhooks/whatsapp"
    );
    assert_eq!(view["webhook_url_is_public"], true);
    assert_eq!(view["access_token_present"], true);
    assert_eq!(view["verify_token_present"], false);
    assert!(!view.to_string().contains("live-token"));

    let (status, test) = send(&server, "POST", "/api/whatsapp/test", None).await;
    assert_eq!(status, 200);
    assert_eq!(test["ok"], true, "{test}");
    assert_eq!(test["phone_number"]["verified_name"], "Tienda Lucía");
    assert_eq!(test["phone_number"]["quality_rating"], "GREEN");

    let (status, stored) = send(
        &server,
        "PUT",
        "/api/secrets/whatsapp.access-token",
        Some(json!({"value": "expired-token"})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(stored["applies"], "after_restart");
    let (_, test) = send(&server, "POST", "/api/whatsapp/test", None).await;
    assert_eq!(
        test["ok"], false,
        "the test uses the token stored now: {test}"
    );
    assert_eq!(test["error"]["code"], "graph_error");
    assert_eq!(test["error"]["graph_code"], 190);
    assert!(
        !test.to_string().contains("expired-token"),
        "the token never appears in an error"
    );
}

#[tokio::test]
async fn whatsapp_sandbox_test_calls_the_local_graph_api() {
    let server = TestServer::start().await;
    let (_, view) = send(&server, "GET", "/api/whatsapp", None).await;
    assert_eq!(view["mode"], "sandbox");
    assert_eq!(
        view["phone_number_id"],
        switchboard_engine::sandbox::SANDBOX_PHONE_NUMBER_ID
    );
    assert_eq!(
        view["webhook_url_is_public"], false,
        "no public URL is configured"
    );
    assert!(view["webhook_url"]
        .as_str()
        .unwrap()
        .ends_with("/webhooks/whatsapp"));

    let (_, test) = send(&server, "POST", "/api/whatsapp/test", None).await;
    assert_eq!(test["ok"], false);
    assert_eq!(
        test["error"]["code"], "unavailable",
        "before the server knows its address: {test}"
    );
    server
        .engine
        .set_graph_base_url(format!("{}/sandbox/graph", server.base));
    let (_, test) = send(&server, "POST", "/api/whatsapp/test", None).await;
    assert_eq!(test["ok"], true, "{test}");
    assert_eq!(
        test["phone_number"]["id"],
        switchboard_engine::sandbox::SANDBOX_PHONE_NUMBER_ID
    );
    assert_eq!(test["phone_number"]["platform_type"], "CLOUD_API");

    let response = server
        .client
        .get(format!(
            "{}/sandbox/graph/v24.0/{}",
            server.base,
            switchboard_engine::sandbox::SANDBOX_PHONE_NUMBER_ID
        ))
        .bearer_auth("not-the-sandbox-token")
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        401,
        "the local Graph API checks the token like Meta"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], 190);
}

#[tokio::test]
async fn a_secret_store_that_takes_no_writes_says_which_variable_to_set() {
    // `switchboard serve` reads secrets from the environment only.
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::default();
    config
        .llm
        .providers
        .push(provider("primary", "http://127.0.0.1:9/v1"));
    let engine = switchboard_engine::Engine::start(switchboard_engine::EngineOptions {
        config,
        data_dir: dir.path().to_path_buf(),
        secrets: std::sync::Arc::new(switchboard_core::secrets::EnvSecrets),
        clock: std::sync::Arc::new(switchboard_core::SystemClock),
    })
    .unwrap();
    let app = switchboard_api::router(
        engine,
        switchboard_api::ApiAuth::new(Secret::new(TOKEN)),
        None,
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(switchboard_api::serve(
        listener,
        app,
        std::future::pending(),
    ));
    let response = reqwest::Client::new()
        .put(format!("{base}/api/secrets/llm.primary"))
        .bearer_auth(TOKEN)
        .json(&json!({"value": "sk-anything"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 409);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("SWITCHBOARD_TEST_UNSET_KEY"),
        "the error names the variable to set instead: {body}"
    );
    let (status, audit) = {
        let response = reqwest::Client::new()
            .get(format!("{base}/api/audit?kind=secret.set"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        (response.status(), response.json::<Value>().await.unwrap())
    };
    assert_eq!(status, 200);
    assert_eq!(audit["items"], json!([]), "nothing stored, nothing audited");
}
