//! What a pipeline run reads and writes.

use crate::StoreError;
use rusqlite::{params, Connection, OptionalExtension};
use switchboard_core::ids::{ConversationId, MessageId, RunId};
use switchboard_core::Timestamp;

#[derive(Clone, Debug, PartialEq)]
pub struct ThreadMessage {
    pub id: MessageId,
    pub inbound: bool,
    pub text: String,
    pub created_at: Timestamp,
}

fn thread_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ThreadMessage> {
    let kind: String = r.get(3)?;
    let text: Option<String> = r.get(2)?;
    Ok(ThreadMessage {
        id: MessageId(r.get(0)?),
        inbound: r.get::<_, String>(1)? == "inbound",
        text: text.unwrap_or_else(|| format!("[{kind}]")),
        created_at: r.get(4)?,
    })
}

/// Inbound messages the AI has not covered yet, oldest first.
pub fn uncovered_inbound(
    conn: &Connection,
    conversation: ConversationId,
) -> Result<Vec<ThreadMessage>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT m.id, m.direction, m.text, m.kind, m.created_at FROM messages m
         JOIN conversations c ON c.id = m.conversation_id
         WHERE m.conversation_id = ?1 AND m.direction = 'inbound' AND m.id > c.ai_covered_message_id
         ORDER BY m.id",
    )?;
    let rows = stmt
        .query_map([conversation.0], thread_row)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// The messages before `before`, newest `limit`, returned oldest first.
pub fn history(
    conn: &Connection,
    conversation: ConversationId,
    before: MessageId,
    limit: u32,
) -> Result<Vec<ThreadMessage>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, direction, text, kind, created_at FROM messages
         WHERE conversation_id = ?1 AND id < ?2 ORDER BY id DESC LIMIT ?3",
    )?;
    let mut rows = stmt
        .query_map(params![conversation.0, before.0, limit], thread_row)?
        .collect::<Result<Vec<_>, _>>()?;
    rows.reverse();
    Ok(rows)
}

/// Conversations with inbound messages no run or human has covered, not held by a human.
pub fn conversations_needing_a_run(conn: &Connection) -> Result<Vec<ConversationId>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT c.id FROM conversations c
         WHERE c.held_by_operator_id IS NULL AND c.state <> 'human'
           AND EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = c.id AND m.direction = 'inbound'
                       AND m.id > c.ai_covered_message_id)
         ORDER BY c.id",
    )?;
    let rows = stmt
        .query_map([], |r| Ok(ConversationId(r.get(0)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

pub fn set_covered(
    conn: &Connection,
    conversation: ConversationId,
    up_to: MessageId,
) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE conversations SET ai_covered_message_id = MAX(ai_covered_message_id, ?2) WHERE id = ?1",
        params![conversation.0, up_to.0],
    )?;
    Ok(())
}

/// Covers everything received so far: used when a human hands a conversation back.
pub fn cover_all(conn: &Connection, conversation: ConversationId) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE conversations SET ai_covered_message_id =
            MAX(ai_covered_message_id, COALESCE((SELECT max(id) FROM messages WHERE conversation_id = ?1 AND direction = 'inbound'), 0))
         WHERE id = ?1",
        [conversation.0],
    )?;
    Ok(())
}

pub fn latest_layer(conn: &Connection, layer: &str) -> Result<Option<(i64, String)>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT version, content FROM context_layers WHERE layer = ?1 ORDER BY version DESC LIMIT 1",
            [layer],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?)
}

/// Words of the request as an FTS5 query: each a quoted phrase, any may match.
pub fn fts_any_of(text: &str) -> Option<String> {
    let words: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 3)
        .take(24)
        .map(|w| format!("\"{}\"", w.to_lowercase()))
        .collect();
    (!words.is_empty()).then(|| words.join(" OR "))
}

/// The `k` most relevant knowledge documents by BM25.
pub fn relevant_knowledge(
    conn: &Connection,
    text: &str,
    k: u32,
) -> Result<Vec<(String, String)>, StoreError> {
    let Some(query) = fts_any_of(text) else {
        return Ok(Vec::new());
    };
    let mut stmt = conn.prepare_cached(
        "SELECT d.title, d.body FROM knowledge_fts f JOIN knowledge_documents d ON d.id = f.rowid
         WHERE knowledge_fts MATCH ?1 AND d.active = 1 ORDER BY bm25(knowledge_fts) LIMIT ?2",
    )?;
    let rows = stmt
        .query_map(params![query, k], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// The `k` most relevant approved (possibly edited) examples.
pub fn relevant_examples(
    conn: &Connection,
    text: &str,
    k: u32,
) -> Result<Vec<(String, String)>, StoreError> {
    let Some(query) = fts_any_of(text) else {
        return Ok(Vec::new());
    };
    let mut stmt = conn.prepare_cached(
        "SELECT e.request_text, COALESCE(e.final, e.proposed) FROM examples_fts f JOIN examples e ON e.id = f.rowid
         WHERE examples_fts MATCH ?1 AND e.label IN ('approved', 'edited') ORDER BY bm25(examples_fts) LIMIT ?2",
    )?;
    let rows = stmt
        .query_map(params![query, k], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

pub fn session_variables(
    conn: &Connection,
    conversation: ConversationId,
) -> Result<Vec<(String, String)>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT key, value FROM session_variables WHERE conversation_id = ?1 ORDER BY key",
    )?;
    let rows = stmt
        .query_map([conversation.0], |r| {
            let value: String = r.get(1)?;
            let shown = serde_json::from_str::<serde_json::Value>(&value)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or(value);
            Ok((r.get(0)?, shown))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

pub fn set_session_variable(
    conn: &Connection,
    conversation: ConversationId,
    key: &str,
    value: &str,
    set_by: &str,
    now: Timestamp,
) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO session_variables (conversation_id, key, value, set_by, updated_at) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (conversation_id, key) DO UPDATE SET value = excluded.value, set_by = excluded.set_by, updated_at = excluded.updated_at",
        params![conversation.0, key, serde_json::Value::String(value.into()).to_string(), set_by, now],
    )?;
    Ok(())
}

pub fn open_task_titles(
    conn: &Connection,
    conversation: ConversationId,
) -> Result<Vec<String>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT title FROM tasks WHERE conversation_id = ?1 AND state = 'open' ORDER BY id",
    )?;
    let rows = stmt
        .query_map([conversation.0], |r| r.get(0))?
        .collect::<Result<Vec<String>, _>>()?;
    Ok(rows)
}

pub fn past_escalations(
    conn: &Connection,
    conversation: ConversationId,
) -> Result<Vec<String>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT reason, handback_note, taken_by FROM escalations WHERE conversation_id = ?1 AND state = 'resolved' ORDER BY id",
    )?;
    let rows = stmt
        .query_map([conversation.0], |r| {
            let reason: String = r.get(0)?;
            let note: Option<String> = r.get(1)?;
            let by: Option<String> = r.get(2)?;
            Ok(match note {
                Some(note) => format!(
                    "{reason} — handled by {}; note: {note}",
                    by.unwrap_or_else(|| "an operator".into())
                ),
                None => reason,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

pub fn templates(conn: &Connection) -> Result<Vec<(String, String)>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT name, language FROM templates WHERE status = 'approved' ORDER BY name",
    )?;
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

pub fn operator_names(conn: &Connection) -> Result<Vec<String>, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT name, email FROM operators WHERE active = 1")?;
    let mut names = Vec::new();
    for row in stmt.query_map([], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?))
    })? {
        let (name, email) = row?;
        names.push(name);
        names.extend(email);
    }
    Ok(names)
}

pub fn start_run(
    conn: &Connection,
    conversation: ConversationId,
    triggers: &[MessageId],
    now: Timestamp,
) -> Result<RunId, StoreError> {
    let ids: Vec<i64> = triggers.iter().map(|m| m.0).collect();
    conn.execute(
        "INSERT INTO pipeline_runs (conversation_id, trigger_message_ids, state, started_at) VALUES (?1, ?2, 'running', ?3)",
        params![conversation.0, serde_json::to_string(&ids)?, now],
    )?;
    Ok(RunId(conn.last_insert_rowid()))
}

/// Runs left `running` by a crash: they failed; their messages are picked up again
/// because coverage did not advance.
pub fn fail_interrupted_runs(conn: &Connection, now: Timestamp) -> Result<usize, StoreError> {
    Ok(conn.execute(
        "UPDATE pipeline_runs SET state = 'failed', finished_at = ?1, error = 'interrupted by a restart' WHERE state IN ('queued', 'running')",
        [now],
    )?)
}

/// A context snapshot as stored: JSON texts, content-addressed by `hash`.
pub struct NewSnapshot<'a> {
    pub hash: &'a str,
    pub messages: &'a str,
    pub layer_tokens: &'a str,
    pub layer_versions: &'a str,
    pub model: Option<&'a str>,
    pub schema_version: u32,
}

/// Stores a snapshot once per content hash.
pub fn store_snapshot(
    conn: &Connection,
    snapshot: &NewSnapshot<'_>,
    now: Timestamp,
) -> Result<i64, StoreError> {
    conn.execute(
        "INSERT INTO context_snapshots (hash, messages, layer_tokens, layer_versions, model, schema_version, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (hash) DO NOTHING",
        params![
            snapshot.hash,
            snapshot.messages,
            snapshot.layer_tokens,
            snapshot.layer_versions,
            snapshot.model,
            snapshot.schema_version,
            now
        ],
    )?;
    Ok(conn.query_row(
        "SELECT id FROM context_snapshots WHERE hash = ?1",
        [snapshot.hash],
        |r| r.get(0),
    )?)
}

/// Pending proposals of a conversation become `superseded`: the customer wrote again.
pub fn supersede_pending(
    conn: &Connection,
    conversation: ConversationId,
    by_run: Option<RunId>,
) -> Result<Vec<i64>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id FROM actions WHERE conversation_id = ?1 AND state = 'pending'",
    )?;
    let ids = stmt
        .query_map([conversation.0], |r| r.get(0))?
        .collect::<Result<Vec<i64>, _>>()?;
    conn.execute(
        "UPDATE actions SET state = 'superseded', superseded_by_run_id = ?2 WHERE conversation_id = ?1 AND state = 'pending'",
        params![conversation.0, by_run.map(|r| r.0)],
    )?;
    Ok(ids)
}
