//! The outbox as operators see it: each outbound message's send and where it stands.

use super::clamp_limit;
use crate::model::{Page, SendState};
use crate::StoreError;
use rusqlite::{params, Connection, OptionalExtension, Row};
use switchboard_core::ids::{ActionId, ConversationId, MessageId};
use switchboard_core::Timestamp;

#[derive(Clone, Debug, PartialEq)]
pub struct OutboxEntry {
    pub id: i64,
    pub message_id: MessageId,
    pub conversation_id: ConversationId,
    pub action_id: Option<ActionId>,
    pub recipient: Option<String>,
    pub state: SendState,
    pub attempts: i64,
    pub last_error: Option<String>,
    /// The message's text as the conversation shows it.
    pub text: Option<String>,
    /// When an operator queued an `unknown` send again (at most once).
    pub requeued_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

const COLUMNS: &str =
    "o.id, o.message_id, m.conversation_id, m.action_id, o.recipient, o.state, o.attempts,
                       o.last_error, m.text, o.requeued_at, o.created_at, o.updated_at";

fn from_row(row: &Row<'_>) -> rusqlite::Result<OutboxEntry> {
    Ok(OutboxEntry {
        id: row.get(0)?,
        message_id: MessageId(row.get(1)?),
        conversation_id: ConversationId(row.get(2)?),
        action_id: row.get::<_, Option<i64>>(3)?.map(ActionId),
        recipient: row.get(4)?,
        state: row.get(5)?,
        attempts: row.get(6)?,
        last_error: row.get(7)?,
        text: row.get(8)?,
        requeued_at: row.get(9)?,
        created_at: row.get(10)?,
        updated_at: row.get(11)?,
    })
}

pub fn get(conn: &Connection, id: i64) -> Result<OutboxEntry, StoreError> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM outbox o JOIN messages m ON m.id = o.message_id WHERE o.id = ?1"
    ))?
    .query_row([id], from_row)
    .optional()?
    .ok_or(StoreError::NotFound {
        what: "outbox entry",
        id,
    })
}

/// Entries newest first, optionally in one state, before the cursor (an entry id).
pub fn list(
    conn: &Connection,
    state: Option<SendState>,
    cursor: Option<&str>,
    limit: Option<u32>,
) -> Result<Page<OutboxEntry>, StoreError> {
    let limit = clamp_limit(limit);
    let before = cursor
        .and_then(|c| c.parse::<i64>().ok())
        .unwrap_or(i64::MAX);
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM outbox o JOIN messages m ON m.id = o.message_id
          WHERE (?1 IS NULL OR o.state = ?1) AND o.id < ?2 ORDER BY o.id DESC LIMIT ?3"
    ))?;
    let mut items = stmt
        .query_map(params![state, before, limit + 1], from_row)?
        .collect::<Result<Vec<_>, _>>()?;
    let next_cursor = if items.len() as i64 > limit {
        items.truncate(limit as usize);
        items.last().map(|e| e.id.to_string())
    } else {
        None
    };
    Ok(Page { items, next_cursor })
}
