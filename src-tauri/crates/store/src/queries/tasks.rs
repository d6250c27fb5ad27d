use super::clamp_limit;
use crate::model::{Page, Task, TaskPriority, TaskState};
use crate::StoreError;
use rusqlite::{params, Connection, Row};
use switchboard_core::ids::{ConversationId, TaskId};
use switchboard_core::Timestamp;

const COLUMNS: &str = "id, conversation_id, title, assignee, due_at, priority, state, created_at";

fn from_row(row: &Row<'_>) -> rusqlite::Result<Task> {
    Ok(Task {
        id: TaskId(row.get(0)?),
        conversation_id: row.get::<_, Option<i64>>(1)?.map(ConversationId),
        title: row.get(2)?,
        assignee: row.get(3)?,
        due_at: row.get(4)?,
        priority: row.get(5)?,
        state: row.get(6)?,
        created_at: row.get(7)?,
    })
}

pub fn list(
    conn: &Connection,
    state: Option<TaskState>,
    cursor: Option<&str>,
    limit: Option<u32>,
) -> Result<Page<Task>, StoreError> {
    let limit = clamp_limit(limit);
    let after: i64 = cursor.and_then(|c| c.parse().ok()).unwrap_or(0);
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM tasks WHERE (?1 IS NULL OR state = ?1) AND id > ?2 ORDER BY id LIMIT ?3"
    ))?;
    let mut items = stmt
        .query_map(params![state, after, limit + 1], from_row)?
        .collect::<Result<Vec<_>, _>>()?;
    let next_cursor = if items.len() as i64 > limit {
        items.truncate(limit as usize);
        items.last().map(|t| t.id.0.to_string())
    } else {
        None
    };
    Ok(Page { items, next_cursor })
}

pub struct NewTask<'a> {
    pub conversation_id: Option<ConversationId>,
    pub title: &'a str,
    pub assignee: Option<&'a str>,
    pub due_at: Option<Timestamp>,
    pub priority: TaskPriority,
    pub created_by: &'a str,
}

pub fn insert(conn: &Connection, task: &NewTask<'_>, now: Timestamp) -> Result<TaskId, StoreError> {
    conn.execute(
        "INSERT INTO tasks (conversation_id, title, assignee, due_at, priority, created_by, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            task.conversation_id.map(|c| c.0),
            task.title,
            task.assignee,
            task.due_at,
            task.priority,
            task.created_by,
            now
        ],
    )?;
    Ok(TaskId(conn.last_insert_rowid()))
}
