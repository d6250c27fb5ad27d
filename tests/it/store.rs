use std::time::{Duration, Instant};
use switchboard_store::migrations;
use switchboard_store::{Store, StoreError};

fn user_version(path: &std::path::Path) -> i64 {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap()
}

#[test]
fn an_empty_database_is_migrated_to_the_latest_version_in_wal_mode() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.sqlite");
    let store = Store::open(&path).expect("an empty database must migrate");
    assert_eq!(
        user_version(&path),
        migrations::latest_version(),
        "schema must be at the latest version"
    );
    let (mode, fks): (String, i64) = store
        .write_blocking(|c| {
            let mode = c.pragma_query_value(None, "journal_mode", |r| r.get(0))?;
            let fks = c.pragma_query_value(None, "foreign_keys", |r| r.get(0))?;
            Ok((mode, fks))
        })
        .unwrap();
    assert_eq!(mode, "wal", "WAL lets reads proceed while the writer works");
    assert_eq!(fks, 1, "foreign keys must be enforced");
    let tables: Vec<String> = store
        .read_blocking(|c| {
            let mut stmt =
                c.prepare("SELECT name FROM sqlite_master WHERE type IN ('table') ORDER BY name")?;
            let rows = stmt
                .query_map([], |r| r.get(0))?
                .collect::<Result<Vec<String>, _>>()?;
            Ok(rows)
        })
        .unwrap();
    for table in [
        "contacts",
        "conversations",
        "messages",
        "webhook_inbox",
        "outbox",
        "pipeline_runs",
        "run_attempts",
        "context_snapshots",
        "context_layers",
        "actions",
        "audit_events",
        "escalations",
        "tasks",
        "knowledge_documents",
        "knowledge_fts",
        "operators",
        "policies",
        "examples",
        "settings",
    ] {
        assert!(
            tables.iter().any(|t| t == table),
            "the schema must have table {table}; has {tables:?}"
        );
    }
}

#[test]
fn an_existing_database_reopens_with_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.sqlite");
    {
        let store = Store::open(&path).unwrap();
        store
            .write_blocking(|c| {
                switchboard_store::queries::settings::set(
                    c,
                    "greeting",
                    &serde_json::json!("hola"),
                    "test",
                    1,
                )
            })
            .unwrap();
    }
    let store = Store::open(&path).expect("reopening a current database must work");
    let settings = store
        .read_blocking(switchboard_store::queries::settings::all)
        .unwrap();
    assert_eq!(
        settings["greeting"], "hola",
        "data written before must survive a reopen"
    );
    assert_eq!(user_version(&path), migrations::latest_version());
}

#[test]
fn a_database_from_a_newer_switchboard_is_refused_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.sqlite");
    drop(Store::open(&path).unwrap());
    let newer = migrations::latest_version() + 5;
    rusqlite::Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", newer)
        .unwrap();
    let err = Store::open(&path)
        .err()
        .expect("a newer database must be refused");
    assert!(
        matches!(err, StoreError::TooNew { found, .. } if found == newer),
        "got {err:?}"
    );
    let message = err.to_string();
    assert!(
        message.contains(&path.display().to_string()),
        "the error must name the file: {message}"
    );
    assert!(
        message.contains("newer"),
        "the error must say why: {message}"
    );
    assert_eq!(
        user_version(&path),
        newer,
        "a refused database must not be touched"
    );
}

#[test]
fn a_failing_job_does_not_undo_the_others_in_its_batch() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("db.sqlite")).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let mut handles = Vec::new();
        for i in 0..50 {
            let store = store.clone();
            handles.push(tokio::spawn(async move {
                store
                    .write(move |c| {
                        if i % 10 == 0 {
                            // Violates a CHECK constraint: this job alone must fail.
                            c.execute("INSERT INTO settings (key, value, updated_by, updated_at) VALUES (?1, 'not json', 't', 1)", [format!("k{i}")])?;
                        } else {
                            switchboard_store::queries::settings::set(c, &format!("k{i}"), &serde_json::json!(i), "t", 1)?;
                        }
                        Ok(())
                    })
                    .await
            }));
        }
        let mut failed = 0;
        for handle in handles {
            if handle.await.unwrap().is_err() {
                failed += 1;
            }
        }
        assert_eq!(failed, 5, "exactly the five invalid jobs must fail");
        let count = store.read(|c| Ok(c.query_row("SELECT count(*) FROM settings", [], |r| r.get::<_, i64>(0))?)).await.unwrap();
        assert_eq!(count, 45, "every valid job must be committed even when grouped with failing ones");
    });
}

#[test]
fn reads_do_not_wait_for_a_slow_write() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("db.sqlite")).unwrap();
    store
        .write_blocking(|c| {
            switchboard_store::queries::settings::set(c, "a", &serde_json::json!(1), "t", 1)
        })
        .unwrap();
    let writer = store.clone();
    let slow = std::thread::spawn(move || {
        writer.write_blocking(|c| {
            switchboard_store::queries::settings::set(c, "a", &serde_json::json!(2), "t", 2)?;
            std::thread::sleep(Duration::from_millis(800));
            Ok(())
        })
    });
    std::thread::sleep(Duration::from_millis(100));
    let started = Instant::now();
    let value = store
        .read_blocking(switchboard_store::queries::settings::all)
        .unwrap();
    let waited = started.elapsed();
    assert_eq!(
        value["a"], 1,
        "a read during an uncommitted write sees the last committed value"
    );
    assert!(
        waited < Duration::from_millis(500),
        "a read must not wait for the writer's transaction (waited {waited:?})"
    );
    slow.join().unwrap().unwrap();
}

#[test]
fn the_audit_trail_refuses_updates_and_detects_tampering() {
    use switchboard_store::model::ActorKind;
    use switchboard_store::queries::audit::{self, ChainStatus, NewAuditEvent};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.sqlite");
    let store = Store::open(&path).unwrap();
    for i in 0..5 {
        store
            .write_blocking(move |c| {
                audit::append(
                    c,
                    &NewAuditEvent {
                        actor_kind: ActorKind::System,
                        actor: "system",
                        kind: "test.event",
                        conversation_id: None,
                        run_id: None,
                        action_id: None,
                        detail: serde_json::json!({ "n": i }),
                    },
                    1000 + i,
                )
            })
            .unwrap();
    }
    assert_eq!(
        store.read_blocking(audit::verify).unwrap(),
        ChainStatus::Intact { records: 5 }
    );
    let update = store.write_blocking(|c| {
        Ok(c.execute("UPDATE audit_events SET detail = '{}' WHERE id = 3", [])?)
    });
    assert!(update.is_err(), "the audit table must refuse updates");

    // Tamper the way an outside tool would: drop the guard, edit, and put it back.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        "DROP TRIGGER audit_events_no_update;
         UPDATE audit_events SET detail = '{\"n\":99}' WHERE id = 3;",
    )
    .unwrap();
    drop(conn);
    let status = store.read_blocking(audit::verify).unwrap();
    assert!(
        matches!(status, ChainStatus::Broken { record_id: 3, .. }),
        "verification must name record 3 as the first broken one, got {status:?}"
    );
}
