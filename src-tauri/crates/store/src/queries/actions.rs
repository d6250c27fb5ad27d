use super::clamp_limit;
use crate::model::{Action, ActionState, Page};
use crate::StoreError;
use rusqlite::{params, Connection, OptionalExtension, Row};
use switchboard_core::ids::{ActionId, ConversationId, OperatorId, RunId};
use switchboard_core::Timestamp;

const COLUMNS: &str = "id, conversation_id, run_id, kind, params, state, reasoning, confidence,
     decided_by, decision_note, created_at, decided_at, error, original_params, edit_diff,
     replaces_action_id";

fn json_column(row: &Row<'_>, index: usize) -> rusqlite::Result<Option<serde_json::Value>> {
    Ok(row
        .get::<_, Option<String>>(index)?
        .map(|text| serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text))))
}

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
        original_params: json_column(row, 13)?,
        edit_diff: json_column(row, 14)?,
        replaces_action_id: row.get::<_, Option<i64>>(15)?.map(ActionId),
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
    /// Approved after the operator changed the parameters; the model's are kept.
    ApproveEdited {
        params: serde_json::Value,
        diff: serde_json::Value,
    },
    Reject {
        reason: String,
    },
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
        Decision::Approve | Decision::ApproveEdited { .. } => (ActionState::Approved, None),
        Decision::Reject { reason } => (ActionState::Rejected, Some(reason.as_str())),
    };
    conn.execute(
        "UPDATE actions SET state = ?2, decided_by = ?3, decided_at = ?4, decision_note = ?5
         WHERE id = ?1 AND state = 'pending'",
        params![id.0, state, decided_by, now, note],
    )?;
    if let Decision::ApproveEdited { params, diff } = decision {
        conn.execute(
            "UPDATE actions SET original_params = params, params = ?2, edit_diff = ?3 WHERE id = ?1",
            params![id.0, params.to_string(), diff.to_string()],
        )?;
    }
    get(conn, id)
}

/// Records which operator decided, when the decision came from an operator account.
pub fn set_decided_by_operator(
    conn: &Connection,
    id: ActionId,
    operator: Option<OperatorId>,
) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE actions SET decided_by_operator_id = ?2 WHERE id = ?1",
        params![id.0, operator.map(|o| o.0)],
    )?;
    Ok(())
}

/// Marks a pending action `stale` (it can no longer be executed as proposed). Returns
/// `false` when it was no longer pending, so a concurrent decision wins cleanly.
pub fn mark_stale(
    conn: &Connection,
    id: ActionId,
    why: &str,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let changed = conn.execute(
        "UPDATE actions SET state = 'stale', decided_by = 'system', decided_at = ?2, decision_note = ?3
         WHERE id = ?1 AND state = 'pending'",
        params![id.0, now, why],
    )?;
    Ok(changed == 1)
}

pub fn set_replaces(conn: &Connection, id: ActionId, replaces: ActionId) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE actions SET replaces_action_id = ?2 WHERE id = ?1",
        params![id.0, replaces.0],
    )?;
    Ok(())
}

/// The policy decision stored with the action (`{"verdict", "rule"}`), if any.
pub fn policy_decision(
    conn: &Connection,
    id: ActionId,
) -> Result<Option<serde_json::Value>, StoreError> {
    let text: Option<String> = conn
        .query_row(
            "SELECT policy_decision FROM actions WHERE id = ?1",
            [id.0],
            |r| r.get(0),
        )
        .optional()?
        .flatten();
    Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
}

/// Pending free-form replies whose conversation's 24-hour window closes at or before
/// `closes_by`: they cannot be sent as proposed.
pub fn pending_replies_with_window_closing(
    conn: &Connection,
    closes_by: Timestamp,
    window_ms: i64,
) -> Result<Vec<ActionId>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT a.id FROM actions a JOIN conversations c ON c.id = a.conversation_id
         WHERE a.state = 'pending' AND a.kind = 'reply'
           AND (c.last_customer_message_at IS NULL OR c.last_customer_message_at + ?2 <= ?1)
         ORDER BY a.id",
    )?;
    let rows = stmt
        .query_map(params![closes_by, window_ms], |r| Ok(ActionId(r.get(0)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Pending actions created at or before `created_by` that operators were not yet told about.
pub fn pending_waiting_unnotified(
    conn: &Connection,
    created_by: Timestamp,
) -> Result<Vec<Action>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM actions WHERE state = 'pending' AND wait_notified_at IS NULL AND created_at <= ?1 ORDER BY id"
    ))?;
    let rows = stmt
        .query_map([created_by], from_row)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

pub fn set_wait_notified(
    conn: &Connection,
    id: ActionId,
    now: Timestamp,
) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE actions SET wait_notified_at = ?2 WHERE id = ?1",
        params![id.0, now],
    )?;
    Ok(())
}
