//! The audit trail through the API: filters that combine, exports that read back and verify
//! offline, and tampering named by `/api/audit/verify`.

use crate::support::{TestServer, TOKEN};
use serde::Deserialize;
use serde_json::{json, Value};
use switchboard_core::ids::{ActionId, ConversationId};
use switchboard_store::model::ActorKind;
use switchboard_store::queries::audit::{self, ChainStatus, NewAuditEvent, StoredAuditRecord};

const T0: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z

async fn get_json(server: &TestServer, path: &str) -> (u16, Value) {
    let response = server.get(path).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn ids(page: &Value) -> Vec<i64> {
    page["items"]
        .as_array()
        .unwrap_or_else(|| panic!("a page: {page}"))
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect()
}

/// actor kind, actor, event kind, conversation, action.
type Seed<'a> = (ActorKind, &'a str, &'a str, Option<i64>, Option<i64>);

/// Two conversations with one action each, and six records by different actors, of
/// different kinds, one second apart from T0.
async fn seed(server: &TestServer) {
    server
        .engine
        .store()
        .write(|c| {
            c.execute_batch(
                "INSERT INTO contacts (id, phone_number_id, wa_id, created_at, updated_at) VALUES
                   (1, 'p', '5215500000001', 0, 0), (2, 'p', '5215500000002', 0, 0);
                 INSERT INTO conversations (id, contact_id, phone_number_id, created_at, updated_at) VALUES
                   (1, 1, 'p', 0, 0), (2, 2, 'p', 0, 0);
                 INSERT INTO actions (id, conversation_id, kind, params, state, idempotency_key, created_at) VALUES
                   (1, 1, 'reply', '{\"text\":\"hola\"}', 'approved', 'k1', 0),
                   (2, 2, 'send_template', '{\"name\":\"t\"}', 'rejected', 'k2', 0);",
            )?;
            let records: [Seed; 6] = [
                (ActorKind::System, "system", "inbox.processed", Some(1), None),
                (ActorKind::Model, "model:primary", "run.finished", Some(1), None),
                (ActorKind::Operator, "operator:3:alice", "action.approved", Some(1), Some(1)),
                (ActorKind::Operator, "operator:4:bob", "action.rejected", Some(2), Some(2)),
                (ActorKind::Operator, "operator:3:alice", "action.rejected", Some(2), Some(2)),
                (ActorKind::Operator, "operator:owner", "task.created", None, None),
            ];
            for (i, (actor_kind, actor, kind, conversation, action)) in records.into_iter().enumerate() {
                audit::append(
                    c,
                    &NewAuditEvent {
                        actor_kind,
                        actor,
                        kind,
                        conversation_id: conversation.map(ConversationId),
                        run_id: None,
                        action_id: action.map(ActionId),
                        detail: json!({ "n": i + 1 }),
                    },
                    T0 + i as i64 * 1_000,
                )?;
            }
            Ok(())
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn audit_filters_combine_and_page_by_keyset() {
    let server = TestServer::start().await;
    seed(&server).await;
    let t = |ms: i64| switchboard_core::clock::to_rfc3339(T0 + ms);
    let cases: Vec<(String, Vec<i64>)> = vec![
        ("".into(), vec![6, 5, 4, 3, 2, 1]),
        ("conversation_id=2".into(), vec![5, 4]),
        ("operator_id=3".into(), vec![5, 3]),
        ("operator_id=3&conversation_id=2".into(), vec![5]),
        ("actor=operator:4:bob".into(), vec![4]),
        ("actor_kind=model".into(), vec![2]),
        (
            "actor_kind=operator&kind=action.rejected".into(),
            vec![5, 4],
        ),
        ("kind=action.approved,action.rejected".into(), vec![5, 4, 3]),
        ("action_kind=reply".into(), vec![3]),
        ("action_kind=send_template&operator_id=4".into(), vec![4]),
        ("action_id=2&kind=action.approved".into(), vec![]),
        (format!("from={}&to={}", t(1_000), t(4_000)), vec![4, 3, 2]),
        (
            format!("since={}&until={}", t(1_000), t(4_000)),
            vec![4, 3, 2],
        ),
        (format!("from={}&operator_id=3", t(2_500)), vec![5]),
    ];
    for (query, expected) in cases {
        let query_string = query.replace('+', "%2B");
        let (status, page) = get_json(&server, &format!("/api/audit?{query_string}")).await;
        assert_eq!(status, 200, "{query}: {page}");
        assert_eq!(ids(&page), expected, "filters {query:?} must all apply");
    }

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!(
                "/api/audit?kind=action.rejected,action.approved,task.created&limit=2&cursor={c}"
            ),
            None => "/api/audit?kind=action.rejected,action.approved,task.created&limit=2".into(),
        };
        let (_, page) = get_json(&server, &path).await;
        seen.extend(ids(&page));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
    }
    assert_eq!(
        seen,
        vec![6, 5, 4, 3],
        "keyset pages walk the filtered trail once, newest first"
    );

    for bad in [
        "from=yesterday",
        "actor_kind=robot",
        "to=2026-13-01T00:00:00Z",
    ] {
        let (status, body) = get_json(&server, &format!("/api/audit?{bad}")).await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert_eq!(body["error"]["code"], "invalid_request");
    }
}

/// An export line read back; `detail` stays the exact JSON text the hash covers.
#[derive(Deserialize)]
struct JsonlLine {
    id: i64,
    at: String,
    at_ms: i64,
    actor_kind: String,
    actor: String,
    kind: String,
    conversation_id: Option<i64>,
    run_id: Option<i64>,
    action_id: Option<i64>,
    detail: Box<serde_json::value::RawValue>,
    prev_hash: String,
    hash: String,
}

fn from_jsonl(text: &str) -> Vec<StoredAuditRecord> {
    text.lines()
        .map(|line| {
            let l: JsonlLine = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
            assert_eq!(
                switchboard_core::clock::parse_rfc3339(&l.at),
                Some(l.at_ms),
                "at and at_ms agree"
            );
            StoredAuditRecord {
                id: l.id,
                at: l.at_ms,
                actor_kind: l.actor_kind,
                actor: l.actor,
                kind: l.kind,
                conversation_id: l.conversation_id,
                run_id: l.run_id,
                action_id: l.action_id,
                detail: l.detail.get().to_string(),
                prev_hash: l.prev_hash,
                hash: l.hash,
            }
        })
        .collect()
}

fn from_csv(text: &str) -> Vec<StoredAuditRecord> {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(
        header,
        [
            "id",
            "at",
            "at_ms",
            "actor_kind",
            "actor",
            "kind",
            "conversation_id",
            "run_id",
            "action_id",
            "detail",
            "prev_hash",
            "hash"
        ],
        "the CSV starts with its header"
    );
    let optional = |s: &str| (!s.is_empty()).then(|| s.parse::<i64>().unwrap());
    reader
        .records()
        .map(|row| {
            let row = row.unwrap();
            StoredAuditRecord {
                id: row[0].parse().unwrap(),
                at: row[2].parse().unwrap(),
                actor_kind: row[3].to_string(),
                actor: row[4].to_string(),
                kind: row[5].to_string(),
                conversation_id: optional(&row[6]),
                run_id: optional(&row[7]),
                action_id: optional(&row[8]),
                detail: row[9].to_string(),
                prev_hash: row[10].to_string(),
                hash: row[11].to_string(),
            }
        })
        .collect()
}

async fn export(server: &TestServer, query: &str) -> (String, String) {
    let response = server
        .get(&format!("/api/audit/export?{query}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{query}");
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        response.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment; filename=\"switchboard-audit-"),
        "an export downloads as a file"
    );
    (content_type, response.text().await.unwrap())
}

const SECRET_VALUE: &str = "sk-live-NEVER-IN-AN-EXPORT-42";

/// Records made through the API, with text that needs quoting in CSV, and a secret stored.
async fn records_with_awkward_text(server: &TestServer) {
    for (method, path, body) in [
        (
            "POST",
            "/api/knowledge",
            json!({"title": "Envíos, \"gratis\"", "body": "Línea 1,\nlínea 2; \"citas\" y comas, ✓\r\nfin", "tags": ["envíos"]}),
        ),
        (
            "POST",
            "/api/tasks",
            json!({"title": "Llamar a Lucía", "description": "=SUM(A1:A2)"}),
        ),
        (
            "PUT",
            "/api/secrets/whatsapp.access-token",
            json!({"value": SECRET_VALUE}),
        ),
        (
            "PUT",
            "/api/context-layers/domain",
            json!({"content": "Horario: 9–18 h.\nNo hacemos envíos los domingos."}),
        ),
    ] {
        let request = match method {
            "POST" => server.post(path),
            _ => server
                .client
                .put(format!("{}{path}", server.base))
                .bearer_auth(TOKEN),
        };
        let response = request.json(&body).send().await.unwrap();
        assert!(
            response.status().is_success(),
            "{method} {path}: {}",
            response.text().await.unwrap()
        );
    }
}

#[tokio::test]
async fn exports_round_trip_and_verify_offline_without_secrets() {
    let server = TestServer::start().await;
    seed(&server).await;
    records_with_awkward_text(&server).await;
    let (_, verification) = get_json(&server, "/api/audit/verify").await;
    assert_eq!(verification["intact"], true, "{verification}");
    let total = verification["records"].as_u64().unwrap() as usize;
    assert_eq!(total, 10);

    let (content_type, jsonl) = export(&server, "format=jsonl").await;
    assert!(
        content_type.starts_with("application/jsonl"),
        "{content_type}"
    );
    let (content_type, csv_text) = export(&server, "format=csv").await;
    assert!(content_type.starts_with("text/csv"), "{content_type}");
    for text in [&jsonl, &csv_text] {
        assert!(
            !text.contains(SECRET_VALUE),
            "a secret's value never reaches the audit trail"
        );
    }

    let jsonl_records = from_jsonl(&jsonl);
    let csv_records = from_csv(&csv_text);
    assert_eq!(jsonl_records.len(), total, "every record, one per line");
    assert_eq!(
        csv_records, jsonl_records,
        "CSV and JSONL carry the same records, byte for byte"
    );
    assert_eq!(
        audit::verify_records(&csv_records),
        ChainStatus::Intact {
            records: total as u64
        },
        "an export is verifiable offline: hashes recomputed from the exported fields"
    );
    let knowledge = csv_records
        .iter()
        .find(|r| r.kind == "knowledge.created")
        .unwrap();
    let detail: Value = serde_json::from_str(&knowledge.detail).unwrap();
    assert_eq!(
        detail["body"], "Línea 1,\nlínea 2; \"citas\" y comas, ✓\r\nfin",
        "quotes, commas and line breaks survive CSV quoting"
    );
    let secret = jsonl_records
        .iter()
        .find(|r| r.kind == "secret.set")
        .unwrap();
    assert_eq!(
        secret.detail, r#"{"name":"whatsapp.access-token"}"#,
        "only the secret's name is audited"
    );

    let (_, filtered) = export(&server, "format=jsonl&operator_id=3&kind=action.rejected").await;
    let filtered = from_jsonl(&filtered);
    assert_eq!(
        filtered.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![5],
        "exports take the same filters"
    );
    let (_, empty) = export(&server, "format=csv&conversation_id=999").await;
    assert_eq!(
        from_csv(&empty).len(),
        0,
        "an empty export is still a CSV with its header"
    );

    let (status, body) = get_json(&server, "/api/audit/export?format=xml").await;
    assert_eq!(status, 400, "{body}");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("jsonl or csv"));
}

#[tokio::test]
async fn a_tampered_row_is_named_by_verify_and_by_an_offline_check_of_a_new_export() {
    let server = TestServer::start().await;
    seed(&server).await;
    let (_, before) = export(&server, "format=jsonl").await;

    // Someone with the database file drops the guard trigger and edits record 4.
    let db = rusqlite::Connection::open(server.engine.data_dir().join("switchboard.db")).unwrap();
    db.busy_timeout(std::time::Duration::from_secs(5)).unwrap();
    db.execute_batch(
        "DROP TRIGGER audit_events_no_update;
         UPDATE audit_events SET actor = 'operator:3:alice' WHERE id = 4;",
    )
    .unwrap();
    drop(db);

    let (status, verification) = get_json(&server, "/api/audit/verify").await;
    assert_eq!(status, 200);
    assert_eq!(verification["intact"], false, "{verification}");
    assert_eq!(
        verification["broken_at"], 4,
        "the first broken record is named"
    );
    assert!(
        verification["reason"]
            .as_str()
            .unwrap()
            .contains("modified"),
        "{verification}"
    );

    let (_, after) = export(&server, "format=jsonl").await;
    assert_eq!(
        audit::verify_records(&from_jsonl(&after)),
        ChainStatus::Broken {
            record_id: 4,
            reason: "its content does not match its hash (modified)".into()
        },
        "an export taken after the change fails the offline check at the same record"
    );
    assert_eq!(
        audit::verify_records(&from_jsonl(&before)),
        ChainStatus::Intact { records: 6 },
        "the export taken before still verifies: it is evidence of the original"
    );
}
