//! Operators' decisions kept as labelled examples; the domain layer reads the approved ones
//! back by full-text relevance (see `runs::relevant_examples`).

use crate::model::ExampleLabel;
use crate::StoreError;
use rusqlite::{params, Connection};
use switchboard_core::ids::{ActionId, ConversationId};
use switchboard_core::Timestamp;

pub struct NewExample<'a> {
    pub conversation_id: ConversationId,
    pub action_id: ActionId,
    pub label: ExampleLabel,
    /// What the customer wrote that the proposal answered.
    pub request_text: &'a str,
    /// The model's action in wire form (`{"type": …, …}`).
    pub proposed: &'a serde_json::Value,
    /// What was approved, in wire form; `None` for a rejection.
    pub final_action: Option<&'a serde_json::Value>,
    pub note: Option<&'a str>,
}

pub fn insert(
    conn: &Connection,
    example: &NewExample<'_>,
    now: Timestamp,
) -> Result<i64, StoreError> {
    conn.execute(
        "INSERT INTO examples (conversation_id, action_id, label, request_text, proposed, final, note, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            example.conversation_id.0,
            example.action_id.0,
            example.label,
            example.request_text,
            example.proposed.to_string(),
            example.final_action.map(|v| v.to_string()),
            example.note,
            now
        ],
    )?;
    Ok(conn.last_insert_rowid())
}

/// The customer text a run answered: its trigger messages, oldest first. Empty when the
/// action came from no run (an operator's own message).
pub fn request_text_of_run(conn: &Connection, run_id: Option<i64>) -> Result<String, StoreError> {
    let Some(run_id) = run_id else {
        return Ok(String::new());
    };
    let mut stmt = conn.prepare_cached(
        "SELECT m.text FROM pipeline_runs r, json_each(r.trigger_message_ids) t
         JOIN messages m ON m.id = t.value
         WHERE r.id = ?1 AND m.text IS NOT NULL ORDER BY m.id",
    )?;
    let texts = stmt
        .query_map([run_id], |r| r.get::<_, String>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(texts.join("\n"))
}

/// How many examples carry each label, for tests and metrics.
pub fn count(conn: &Connection, label: ExampleLabel) -> Result<i64, StoreError> {
    Ok(conn.query_row(
        "SELECT count(*) FROM examples WHERE label = ?1",
        params![label],
        |r| r.get(0),
    )?)
}
