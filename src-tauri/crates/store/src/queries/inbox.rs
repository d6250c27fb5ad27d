//! The raw webhook inbox: bodies are stored before they are answered and processed after.

use crate::model::{InboxSource, InboxState};
use crate::StoreError;
use rusqlite::{params, Connection, Row};
use switchboard_core::ids::InboxId;
use switchboard_core::Timestamp;

#[derive(Clone, Debug, PartialEq)]
pub struct InboxEntry {
    pub id: InboxId,
    pub received_at: Timestamp,
    pub source: InboxSource,
    pub body: Vec<u8>,
    pub state: InboxState,
    pub error: Option<String>,
}

fn from_row(row: &Row<'_>) -> rusqlite::Result<InboxEntry> {
    Ok(InboxEntry {
        id: InboxId(row.get(0)?),
        received_at: row.get(1)?,
        source: row.get(2)?,
        body: row.get(3)?,
        state: row.get(4)?,
        error: row.get(5)?,
    })
}

pub fn insert(
    conn: &Connection,
    source: InboxSource,
    body: &[u8],
    signature: Option<&str>,
    state: InboxState,
    error: Option<&str>,
    now: Timestamp,
) -> Result<InboxId, StoreError> {
    conn.prepare_cached(
        "INSERT INTO webhook_inbox (received_at, source, body, signature, state, error) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![now, source, body, signature, state, error])?;
    Ok(InboxId(conn.last_insert_rowid()))
}

/// The oldest bodies not processed yet, in arrival order.
pub fn pending(conn: &Connection, limit: u32) -> Result<Vec<InboxEntry>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, received_at, source, body, state, error FROM webhook_inbox
         WHERE state = 'pending' ORDER BY id LIMIT ?1",
    )?;
    let rows = stmt
        .query_map([limit], from_row)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

pub fn mark(
    conn: &Connection,
    id: InboxId,
    state: InboxState,
    error: Option<&str>,
    now: Timestamp,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "UPDATE webhook_inbox SET state = ?2, error = ?3, processed_at = ?4 WHERE id = ?1",
    )?
    .execute(params![id.0, state, error, now])?;
    Ok(())
}

/// Bodies that could not be processed, newest first, for operators.
pub fn failed(conn: &Connection, limit: u32) -> Result<Vec<InboxEntry>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, received_at, source, body, state, error FROM webhook_inbox
         WHERE state = 'failed' ORDER BY id DESC LIMIT ?1",
    )?;
    let rows = stmt
        .query_map([limit], from_row)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

pub fn count_by_state(conn: &Connection, state: InboxState) -> Result<i64, StoreError> {
    Ok(conn.query_row(
        "SELECT count(*) FROM webhook_inbox WHERE state = ?1",
        [state],
        |r| r.get(0),
    )?)
}
