use super::clamp_limit;
use crate::model::{Page, Task, TaskPriority, TaskState};
use crate::StoreError;
use rusqlite::{params, Connection, OptionalExtension, Row};
use switchboard_core::ids::{ActionId, ConversationId, TaskId};
use switchboard_core::Timestamp;

const COLUMNS: &str = "id, conversation_id, title, assignee, due_at, priority, state, created_at, \
     description, action_id, created_by, completed_at";

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
        description: row.get(8)?,
        action_id: row.get::<_, Option<i64>>(9)?.map(ActionId),
        created_by: row.get(10)?,
        completed_at: row.get(11)?,
    })
}

#[derive(Clone, Debug, Default)]
pub struct TaskFilter {
    pub state: Option<TaskState>,
    pub assignee: Option<String>,
    /// Only tasks nobody is assigned to (wins over `assignee`).
    pub unassigned: bool,
    pub conversation_id: Option<ConversationId>,
    pub priority: Option<TaskPriority>,
    pub cursor: Option<String>,
    pub limit: Option<u32>,
}

/// Oldest first; the cursor is the id of the last task returned.
pub fn list(conn: &Connection, filter: &TaskFilter) -> Result<Page<Task>, StoreError> {
    let limit = clamp_limit(filter.limit);
    let after: i64 = filter
        .cursor
        .as_deref()
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM tasks
         WHERE (?1 IS NULL OR state = ?1) AND (?2 IS NULL OR assignee = ?2) AND (?3 = 0 OR assignee IS NULL)
           AND (?4 IS NULL OR conversation_id = ?4) AND (?5 IS NULL OR priority = ?5) AND id > ?6
         ORDER BY id LIMIT ?7"
    ))?;
    let mut items = stmt
        .query_map(
            params![
                filter.state,
                filter.assignee,
                filter.unassigned,
                filter.conversation_id.map(|c| c.0),
                filter.priority,
                after,
                limit + 1
            ],
            from_row,
        )?
        .collect::<Result<Vec<_>, _>>()?;
    let next_cursor = if items.len() as i64 > limit {
        items.truncate(limit as usize);
        items.last().map(|t| t.id.0.to_string())
    } else {
        None
    };
    Ok(Page { items, next_cursor })
}

pub fn get(conn: &Connection, id: TaskId) -> Result<Task, StoreError> {
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM tasks WHERE id = ?1"),
        [id.0],
        from_row,
    )
    .optional()?
    .ok_or(StoreError::NotFound {
        what: "task",
        id: id.0,
    })
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

/// Sets the description of a task just inserted (operators' tasks carry one).
pub fn set_description(
    conn: &Connection,
    id: TaskId,
    description: Option<&str>,
) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE tasks SET description = ?2 WHERE id = ?1",
        params![id.0, description],
    )?;
    Ok(())
}

/// A change to a task; `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct TaskChange {
    pub state: Option<TaskState>,
    /// `Some(None)` unassigns.
    pub assignee: Option<Option<String>>,
    pub title: Option<String>,
    pub description: Option<Option<String>>,
    pub due_at: Option<Option<Timestamp>>,
    pub priority: Option<TaskPriority>,
}

/// Applies `change`; `completed_at` follows the state (set when done, cleared when reopened).
pub fn update(
    conn: &Connection,
    id: TaskId,
    change: &TaskChange,
    now: Timestamp,
) -> Result<Task, StoreError> {
    let before = get(conn, id)?;
    let state = change.state.unwrap_or(before.state);
    let completed_at = match (before.state, state) {
        (old, TaskState::Done) if old != TaskState::Done => Some(now),
        (_, TaskState::Done) => before.completed_at,
        _ => None,
    };
    conn.execute(
        "UPDATE tasks SET state = ?2, assignee = ?3, title = ?4, description = ?5, due_at = ?6,
                          priority = ?7, completed_at = ?8 WHERE id = ?1",
        params![
            id.0,
            state,
            change.assignee.clone().unwrap_or(before.assignee),
            change.title.clone().unwrap_or(before.title),
            change.description.clone().unwrap_or(before.description),
            change.due_at.unwrap_or(before.due_at),
            change.priority.unwrap_or(before.priority),
            completed_at
        ],
    )?;
    get(conn, id)
}
