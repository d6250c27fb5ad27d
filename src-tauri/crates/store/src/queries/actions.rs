use super::clamp_limit;
use crate::model::{Action, ActionState, Page};
use crate::StoreError;
use rusqlite::{params, Connection, OptionalExtension, Row};
use switchboard_core::ids::{ActionId, ConversationId, RunId};
use switchboard_core::Timestamp;

const COLUMNS: &str = "id, conversation_id, run_id, kind, params, state, reasoning, confidence,
     decided_by, decision_note, created_at, decided_at, error";

fn from_row(row: &Row<'_>) -> rusqlite::Result<Action> {
    let params: String = row.get(4)?;
    Ok(Action {
        id: ActionId(row.get(0)?),
        conversation_id: ConversationId(row.get(1)?),
        run_id: row.get::<_, Option<i64>>(2)?.map(RunId),
        kind: row.get(3)?,
        params: serde_json::from_str(&params).unwrap_or(serde_json::Value::Null),
        state: row.get(5)?,
        reasoning: row.get(6)?,
        confidence: row.get(7)?,
        decided_by: row.get(8)?,
        decision_note: row.get(9)?,
        created_at: row.get(10)?,
        decided_at: row.get(11)?,
        error: row.get(12)?,
    })
}

#[derive(Clone, Debug, Default)]
pub struct ActionFilter {
    pub state: Option<ActionState>,
    pub conversation_id: Option<ConversationId>,
    pub cursor: Option<String>,
    pub limit: Option<u32>,
}

/// Oldest first: the approval queue is worked in arrival order.
pub fn list(conn: &Connection, filter: &ActionFilter) -> Result<Page<Action>, StoreError> {
    let limit = clamp_limit(filter.limit);
    let after: i64 = filter
        .cursor
        .as_deref()
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM actions
         WHERE (?1 IS NULL OR state = ?1) AND (?2 IS NULL OR conversation_id = ?2) AND id > ?3
         ORDER BY id LIMIT ?4"
    ))?;
    let mut items = stmt
        .query_map(
            params![
                filter.state,
                filter.conversation_id.map(|c| c.0),
                after,
                limit + 1
            ],
            from_row,
        )?
        .collect::<Result<Vec<_>, _>>()?;
    let next_cursor = if items.len() as i64 > limit {
        items.truncate(limit as usize);
        items.last().map(|a| a.id.0.to_string())
    } else {
        None
    };
    Ok(Page { items, next_cursor })
}

pub fn get(conn: &Connection, id: ActionId) -> Result<Action, StoreError> {
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM actions WHERE id = ?1"),
        [id.0],
        from_row,
    )
    .optional()?
    .ok_or(StoreError::NotFound {
        what: "action",
        id: id.0,
    })
}

pub struct NewAction<'a> {
    pub conversation_id: ConversationId,
    pub run_id: Option<RunId>,
    pub kind: &'a str,
    pub params: &'a serde_json::Value,
    pub reasoning: Option<&'a str>,
    pub confidence: Option<f64>,
    pub state: ActionState,
    pub idempotency_key: &'a str,
}

pub fn insert(
    conn: &Connection,
    action: &NewAction<'_>,
    now: Timestamp,
) -> Result<ActionId, StoreError> {
    conn.execute(
        "INSERT INTO actions (conversation_id, run_id, kind, params, reasoning, confidence, state,
                              idempotency_key, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            action.conversation_id.0,
            action.run_id.map(|r| r.0),
            action.kind,
            action.params.to_string(),
            action.reasoning,
            action.confidence,
            action.state,
            action.idempotency_key,
            now
        ],
    )?;
    Ok(ActionId(conn.last_insert_rowid()))
}

/// An operator's decision on a pending action.
#[derive(Clone, Debug, PartialEq)]
pub enum Decision {
    Approve,
    Reject { reason: String },
}

/// Moves a pending action to approved or rejected. Deciding twice is a conflict, which is
/// what makes a double click harmless.
pub fn decide(
    conn: &Connection,
    id: ActionId,
    decision: &Decision,
    decided_by: &str,
    now: Timestamp,
) -> Result<Action, StoreError> {
    let current = get(conn, id)?;
    if current.state != ActionState::Pending {
        return Err(StoreError::Conflict(format!(
            "action {id} is {}, not pending",
            current.state
        )));
    }
    let (state, note) = match decision {
        Decision::Approve => (ActionState::Approved, None),
        Decision::Reject { reason } => (ActionState::Rejected, Some(reason.as_str())),
    };
    conn.execute(
        "UPDATE actions SET state = ?2, decided_by = ?3, decided_at = ?4, decision_note = ?5
         WHERE id = ?1 AND state = 'pending'",
        params![id.0, state, decided_by, now, note],
    )?;
    get(conn, id)
}
