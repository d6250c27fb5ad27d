use super::{clamp_limit, conversations};
use crate::model::{ConversationState, Escalation, EscalationSource, EscalationState, Page};
use crate::StoreError;
use rusqlite::{params, Connection, OptionalExtension, Row};
use switchboard_core::ids::{ConversationId, EscalationId, OperatorId};
use switchboard_core::Timestamp;

const COLUMNS: &str = "id, conversation_id, source, reason, summary, state, taken_by, created_at";

fn from_row(row: &Row<'_>) -> rusqlite::Result<Escalation> {
    Ok(Escalation {
        id: EscalationId(row.get(0)?),
        conversation_id: ConversationId(row.get(1)?),
        source: row.get(2)?,
        reason: row.get(3)?,
        summary: row.get(4)?,
        state: row.get(5)?,
        taken_by: row.get(6)?,
        created_at: row.get(7)?,
    })
}

pub fn list(
    conn: &Connection,
    state: Option<EscalationState>,
    cursor: Option<&str>,
    limit: Option<u32>,
) -> Result<Page<Escalation>, StoreError> {
    let limit = clamp_limit(limit);
    let after: i64 = cursor.and_then(|c| c.parse().ok()).unwrap_or(0);
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM escalations WHERE (?1 IS NULL OR state = ?1) AND id > ?2 ORDER BY id LIMIT ?3"
    ))?;
    let mut items = stmt
        .query_map(params![state, after, limit + 1], from_row)?
        .collect::<Result<Vec<_>, _>>()?;
    let next_cursor = if items.len() as i64 > limit {
        items.truncate(limit as usize);
        items.last().map(|e| e.id.0.to_string())
    } else {
        None
    };
    Ok(Page { items, next_cursor })
}

pub fn get(conn: &Connection, id: EscalationId) -> Result<Escalation, StoreError> {
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM escalations WHERE id = ?1"),
        [id.0],
        from_row,
    )
    .optional()?
    .ok_or(StoreError::NotFound {
        what: "escalation",
        id: id.0,
    })
}

/// Opens an escalation, or returns the one already active for the conversation: a
/// conversation waits for a human once, however many reasons pile up.
pub fn open(
    conn: &Connection,
    conversation: ConversationId,
    source: EscalationSource,
    reason: &str,
    summary: Option<&str>,
    now: Timestamp,
) -> Result<(EscalationId, bool), StoreError> {
    let existing: Option<i64> = conn
        .query_row(
            "SELECT id FROM escalations WHERE conversation_id = ?1 AND state IN ('open', 'taken')",
            [conversation.0],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(id) = existing {
        return Ok((EscalationId(id), false));
    }
    conn.execute(
        "INSERT INTO escalations (conversation_id, source, reason, summary, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![conversation.0, source, reason, summary, now],
    )?;
    let id = EscalationId(conn.last_insert_rowid());
    conversations::set_state(conn, conversation, ConversationState::Escalated, now)?;
    Ok((id, true))
}

/// A human takes the conversation: the AI is paused for it until hand-back.
pub fn take_over(
    conn: &Connection,
    id: EscalationId,
    operator: Option<OperatorId>,
    operator_name: &str,
    now: Timestamp,
) -> Result<Escalation, StoreError> {
    let escalation = get(conn, id)?;
    if escalation.state != EscalationState::Open {
        return Err(StoreError::Conflict(format!(
            "escalation {id} is {}, not open",
            escalation.state
        )));
    }
    conn.execute(
        "UPDATE escalations SET state = 'taken', taken_by = ?2, taken_by_operator_id = ?3, taken_at = ?4 WHERE id = ?1",
        params![id.0, operator_name, operator.map(|o| o.0), now],
    )?;
    conversations::set_state(
        conn,
        escalation.conversation_id,
        ConversationState::Human,
        now,
    )?;
    conversations::set_holder(conn, escalation.conversation_id, operator, now)?;
    get(conn, id)
}

/// The human hands the conversation back to the AI with a note for the session context.
pub fn hand_back(
    conn: &Connection,
    id: EscalationId,
    note: Option<&str>,
    now: Timestamp,
) -> Result<Escalation, StoreError> {
    let escalation = get(conn, id)?;
    if escalation.state != EscalationState::Taken {
        return Err(StoreError::Conflict(format!(
            "escalation {id} is {}, not taken over",
            escalation.state
        )));
    }
    conn.execute(
        "UPDATE escalations SET state = 'resolved', resolved_at = ?2, handback_note = ?3 WHERE id = ?1",
        params![id.0, now, note],
    )?;
    conversations::set_state(
        conn,
        escalation.conversation_id,
        ConversationState::AiActive,
        now,
    )?;
    conversations::set_holder(conn, escalation.conversation_id, None, now)?;
    get(conn, id)
}

/// The conversation's open or taken escalation, if any (there is at most one).
pub fn active_for_conversation(
    conn: &Connection,
    conversation: ConversationId,
) -> Result<Option<Escalation>, StoreError> {
    Ok(conn
        .query_row(
            &format!(
                "SELECT {COLUMNS} FROM escalations WHERE conversation_id = ?1 AND state IN ('open', 'taken')"
            ),
            [conversation.0],
            from_row,
        )
        .optional()?)
}

/// Who holds a taken escalation and since when: `(operator id, taken_at)`.
pub fn holder(
    conn: &Connection,
    id: EscalationId,
) -> Result<(Option<OperatorId>, Option<Timestamp>), StoreError> {
    Ok(conn.query_row(
        "SELECT taken_by_operator_id, taken_at FROM escalations WHERE id = ?1",
        [id.0],
        |r| Ok((r.get::<_, Option<i64>>(0)?.map(OperatorId), r.get(1)?)),
    )?)
}
