//! The WhatsApp webhook over real HTTP, driven by every webhook fixture of the shared corpus.

use crate::support::{count, fixtures_dir, manifest, TestServer};
use serde_json::Value;
use switchboard_store::model::InboxState;
use switchboard_store::queries::inbox;

async fn post(server: &TestServer, body: Vec<u8>, signature: Option<&str>) -> reqwest::Response {
    let mut request = server
        .client
        .post(format!("{}/webhooks/whatsapp", server.base))
        .header("content-type", "application/json")
        .body(body);
    if let Some(signature) = signature {
        request = request.header("X-Hub-Signature-256", signature);
    }
    request.send().await.unwrap()
}

/// Python's `json.dumps(item, separators=(",", ":"))`: compact, keys in file order, ASCII.
fn compact_ascii(value: &Value) -> Vec<u8> {
    let mut out = String::new();
    for c in serde_json::to_string(value).unwrap().chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out.into_bytes()
}

#[tokio::test]
async fn every_webhook_fixture_gets_the_expected_answer_and_its_messages_are_stored() {
    let server = TestServer::start_live().await;
    let manifest = manifest();
    let mut checked = 0;
    let mut expected_messages = std::collections::BTreeSet::new();
    for entry in manifest["entries"].as_array().unwrap() {
        let file = entry["file"].as_str().unwrap();
        let bytes = std::fs::read(fixtures_dir().join(file)).unwrap();
        match entry["kind"].as_str().unwrap() {
            "webhook_post" => {
                let response = post(&server, bytes, entry["x_hub_signature_256"].as_str()).await;
                let expected = entry["expect"]["http_status"].as_u64().unwrap_or(200) as u16;
                assert_eq!(
                    response.status().as_u16(),
                    expected,
                    "{file}: the HTTP answer Meta gets"
                );
                for event in entry["expect"]["events"].as_array().into_iter().flatten() {
                    if event["kind"] == "message" {
                        expected_messages.insert(event["id"].as_str().unwrap().to_string());
                    }
                }
                checked += 1;
            }
            "webhook_post_sequence" => {
                let items: Vec<Value> = serde_json::from_slice(&bytes).unwrap();
                for (item, meta) in items
                    .iter()
                    .zip(entry["expect"]["items"].as_array().unwrap())
                {
                    let body = compact_ascii(item);
                    let response = post(&server, body, meta["x_hub_signature_256"].as_str()).await;
                    assert_eq!(
                        response.status(),
                        200,
                        "{file}: each POST of a sequence is accepted"
                    );
                }
                for event in entry["expect"]["events_after_dedup"]
                    .as_array()
                    .into_iter()
                    .flatten()
                {
                    if event["kind"] == "message" {
                        expected_messages.insert(event["id"].as_str().unwrap().to_string());
                    }
                }
                checked += 1;
            }
            _ => {}
        }
    }
    assert_eq!(
        checked, 41,
        "every webhook fixture (39 single, 2 sequences) must be exercised"
    );
    server.engine.process_inbox().await.unwrap();

    let stored: Vec<String> = server
        .engine
        .store()
        .read_blocking(|c| {
            let mut stmt =
                c.prepare("SELECT wamid FROM messages WHERE direction = 'inbound' ORDER BY id")?;
            let rows = stmt
                .query_map([], |r| r.get(0))?
                .collect::<Result<Vec<String>, _>>()?;
            Ok(rows)
        })
        .unwrap();
    let stored_set: std::collections::BTreeSet<String> = stored.iter().cloned().collect();
    assert_eq!(
        stored.len(),
        stored_set.len(),
        "a redelivered wamid is stored once"
    );
    assert_eq!(
        stored_set, expected_messages,
        "exactly the messages the manifest expects are stored"
    );
    assert_eq!(
        count(
            &server,
            "SELECT count(*) FROM webhook_inbox WHERE state = 'pending'"
        ),
        0,
        "every accepted body is processed"
    );
    let failed = server
        .engine
        .store()
        .read_blocking(|c| inbox::failed(c, 100))
        .unwrap();
    assert!(
        failed
            .iter()
            .all(|f| f.state == InboxState::Failed
                && f.error.as_deref().is_some_and(|e| !e.is_empty())),
        "signed but unparseable bodies are kept as failed, with the reason"
    );
    assert_eq!(
        failed.len(),
        7,
        "the seven signed-but-invalid fixtures (400) are kept for operators"
    );
    let unsupported = count(
        &server,
        "SELECT count(*) FROM messages WHERE kind = 'unsupported'",
    );
    assert!(
        unsupported >= 1,
        "unknown types are kept as unsupported, never dropped"
    );
    let bsuid_only = count(
        &server,
        "SELECT count(*) FROM contacts WHERE user_id IS NOT NULL",
    );
    assert!(
        bsuid_only >= 1,
        "business-scoped user ids are kept on contacts"
    );
}

#[tokio::test]
async fn a_missing_or_wrong_signature_is_401_and_nothing_is_stored() {
    let server = TestServer::start_live().await;
    let body = std::fs::read(fixtures_dir().join("inbound/text.json")).unwrap();
    assert_eq!(post(&server, body.clone(), None).await.status(), 401);
    assert_eq!(
        post(&server, body.clone(), Some("sha256=00"))
            .await
            .status(),
        401
    );
    let other_secret = switchboard_whatsapp::webhook::sign(b"another-secret", &body);
    assert_eq!(post(&server, body, Some(&other_secret)).await.status(), 401);
    assert_eq!(
        count(&server, "SELECT count(*) FROM webhook_inbox"),
        0,
        "nothing is stored before the signature checks out"
    );
}

#[tokio::test]
async fn the_subscription_handshake_answers_as_meta_expects() {
    let server = TestServer::start_live().await;
    let cases: Value = serde_json::from_slice(
        &std::fs::read(fixtures_dir().join("verification/handshake_cases.json")).unwrap(),
    )
    .unwrap();
    let cases = cases.get("cases").cloned().unwrap_or(cases);
    let mut checked = 0;
    for case in cases.as_array().unwrap() {
        let query = case["query"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| {
                case["query"]
                    .as_object()
                    .map(|q| {
                        q.iter()
                            .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                            .collect::<Vec<_>>()
                            .join("&")
                    })
                    .unwrap_or_default()
            });
        let response = server
            .client
            .get(format!("{}/webhooks/whatsapp?{query}", server.base))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16() as u64;
        let expect = &case["expect"];
        match (
            expect["status"].as_u64(),
            expect["status_any_of"].as_array(),
        ) {
            (Some(expected), _) => assert_eq!(status, expected, "handshake case {}", case["name"]),
            (None, Some(any)) => assert!(
                any.contains(&Value::from(status)),
                "handshake case {}: {status}",
                case["name"]
            ),
            _ => panic!("handshake case {} has no expected status", case["name"]),
        }
        if let Some(content_type) = expect["content_type"].as_str() {
            assert!(response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with(content_type));
        }
        let body = response.text().await.unwrap();
        if let Some(challenge) = expect["body"].as_str() {
            assert_eq!(body, challenge, "the challenge is echoed exactly");
        }
        if let Some(secret) = expect["body_must_not_contain"].as_str() {
            assert!(
                !body.contains(secret),
                "a refused handshake must not echo the challenge"
            );
        }
        checked += 1;
    }
    assert!(checked >= 3, "the handshake cases must be exercised");
}

#[tokio::test]
async fn statuses_apply_monotonically_and_a_failure_after_sent_needs_an_operator() {
    use switchboard_store::queries::{contacts, conversations};
    let server = TestServer::start_live().await;
    // Our outbound messages whose statuses the fixtures report.
    let manifest = manifest();
    let mut wamids = std::collections::BTreeSet::new();
    for entry in manifest["entries"].as_array().unwrap() {
        let file = entry["file"].as_str().unwrap();
        if !file.starts_with("statuses/") {
            continue;
        }
        let events = entry["expect"]["events"]
            .as_array()
            .or(entry["expect"]["events_after_dedup"].as_array());
        for event in events.into_iter().flatten() {
            wamids.insert(event["id"].as_str().unwrap().to_string());
        }
    }
    let ids = wamids.clone();
    server
        .engine
        .store()
        .write(move |c| {
            let contact = contacts::upsert(
                c,
                &contacts::ContactKey { phone_number_id: "487120593306718".into(), wa_id: Some("15550001".into()), user_id: None },
                None,
                false,
                1,
            )?;
            let conversation = conversations::ensure_for_contact(c, &contact, 1)?;
            for wamid in ids {
                c.execute(
                    "INSERT INTO messages (conversation_id, direction, wamid, kind, text, status, created_at) VALUES (?1, 'outbound', ?2, 'text', 'hola', 'accepted', 1)",
                    switchboard_store::rusqlite::params![conversation.0, wamid],
                )?;
            }
            Ok(())
        })
        .await
        .unwrap();

    let sequence = manifest["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["file"] == "statuses/sequence_out_of_order.json")
        .unwrap();
    let items: Vec<Value> = serde_json::from_slice(
        &std::fs::read(fixtures_dir().join("statuses/sequence_out_of_order.json")).unwrap(),
    )
    .unwrap();
    for (item, meta) in items
        .iter()
        .zip(sequence["expect"]["items"].as_array().unwrap())
    {
        assert_eq!(
            post(
                &server,
                compact_ascii(item),
                meta["x_hub_signature_256"].as_str()
            )
            .await
            .status(),
            200
        );
        server.engine.process_inbox().await.unwrap();
    }
    let statuses: Vec<(String, String)> = server
        .engine
        .store()
        .read_blocking(|c| {
            let mut stmt =
                c.prepare("SELECT wamid, status FROM messages WHERE direction = 'outbound'")?;
            let rows = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
        .unwrap();
    let after_sequence: std::collections::BTreeMap<_, _> = statuses.into_iter().collect();
    let described = sequence["description"].as_str().unwrap();
    assert!(
        described.contains("E=read, F=delivered"),
        "the fixture's contract: {described}"
    );
    let mut finals_by_rank: std::collections::BTreeMap<String, String> =
        std::collections::BTreeMap::new();
    let rank = |s: &str| {
        ["sent", "delivered", "read", "played"]
            .iter()
            .position(|x| *x == s)
            .unwrap_or(0)
    };
    for event in sequence["expect"]["events_after_dedup"].as_array().unwrap() {
        let id = event["id"].as_str().unwrap().to_string();
        let status = event["status"].as_str().unwrap().to_string();
        let keep = finals_by_rank
            .get(&id)
            .is_none_or(|current| rank(&status) > rank(current));
        if keep {
            finals_by_rank.insert(id, status);
        }
    }
    for (wamid, status) in &finals_by_rank {
        assert_eq!(
            after_sequence.get(wamid),
            Some(status),
            "{wamid} must end at its highest status, never downgraded"
        );
    }
    assert!(
        finals_by_rank.values().any(|s| s == "read")
            && finals_by_rank.values().any(|s| s == "delivered")
    );

    // A failure after `sent` reopens the message for an operator, with code and title.
    server
        .engine
        .store()
        .write(|c| {
            Ok(c.execute(
                "UPDATE messages SET status = 'sent' WHERE status = 'accepted'",
                [],
            )?)
        })
        .await
        .unwrap();
    for file in ["statuses/failed_131026.json"] {
        let entry = manifest["entries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["file"] == file)
            .unwrap();
        let body = std::fs::read(fixtures_dir().join(file)).unwrap();
        assert_eq!(
            post(&server, body, entry["x_hub_signature_256"].as_str())
                .await
                .status(),
            200
        );
        server.engine.process_inbox().await.unwrap();
    }
    let (status, code, attention): (String, Option<i64>, i64) = server
        .engine
        .store()
        .read_blocking(|c| {
            Ok(c.query_row(
                "SELECT status, error_code, needs_attention FROM messages WHERE error_code = 131026",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )?)
        })
        .unwrap();
    assert_eq!(
        (status.as_str(), code, attention),
        ("failed", Some(131026), 1),
        "failed records the code and needs an operator"
    );
    let audit: Value = server
        .get("/api/audit?kind=message.failed_after_sent")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        audit["items"].as_array().unwrap().len(),
        1,
        "the late failure is in the audit trail"
    );
    assert_eq!(
        count(&server, "SELECT count(*) FROM pipeline_runs"),
        0,
        "status webhooks never trigger the AI"
    );
}
