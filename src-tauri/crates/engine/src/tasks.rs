//! Tasks: to-dos for people, created by the model's actions or by operators.

use crate::{Actor, Engine, EngineError};
use serde_json::json;
use switchboard_core::ids::{ConversationId, TaskId};
use switchboard_core::Timestamp;
use switchboard_store::model::{ActorKind, Page, Task, TaskPriority};
use switchboard_store::queries::audit::{self, NewAuditEvent};
use switchboard_store::queries::{conversations, tasks};

pub use tasks::{TaskChange, TaskFilter};

const MAX_TITLE_CHARS: usize = 200;
const MAX_DESCRIPTION_CHARS: usize = 5_000;
const MAX_ASSIGNEE_CHARS: usize = 120;

/// A task an operator creates.
#[derive(Clone, Debug)]
pub struct NewOperatorTask {
    pub title: String,
    pub description: Option<String>,
    pub conversation_id: Option<ConversationId>,
    pub assignee: Option<String>,
    pub due_at: Option<Timestamp>,
    pub priority: TaskPriority,
}

fn check_title(title: &str) -> Result<String, EngineError> {
    let title = title.trim();
    if title.is_empty() {
        return Err(EngineError::Invalid("a task needs a title".into()));
    }
    if title.chars().count() > MAX_TITLE_CHARS {
        return Err(EngineError::Invalid(format!(
            "a task's title has at most {MAX_TITLE_CHARS} characters"
        )));
    }
    Ok(title.to_string())
}

fn check_description(description: Option<String>) -> Result<Option<String>, EngineError> {
    let description = description
        .map(|d| d.trim().to_string())
        .filter(|d| !d.is_empty());
    if description
        .as_ref()
        .is_some_and(|d| d.chars().count() > MAX_DESCRIPTION_CHARS)
    {
        return Err(EngineError::Invalid(format!(
            "a task's description has at most {MAX_DESCRIPTION_CHARS} characters"
        )));
    }
    Ok(description)
}

/// An empty assignee means nobody.
fn check_assignee(assignee: Option<String>) -> Result<Option<String>, EngineError> {
    let assignee = assignee
        .map(|a| a.trim().to_string())
        .filter(|a| !a.is_empty());
    if assignee
        .as_ref()
        .is_some_and(|a| a.chars().count() > MAX_ASSIGNEE_CHARS)
    {
        return Err(EngineError::Invalid(format!(
            "an assignee has at most {MAX_ASSIGNEE_CHARS} characters"
        )));
    }
    Ok(assignee)
}

impl Engine {
    pub async fn tasks(&self, filter: TaskFilter) -> Result<Page<Task>, EngineError> {
        Ok(self.store().read(move |c| tasks::list(c, &filter)).await?)
    }

    pub async fn task(&self, id: TaskId) -> Result<Task, EngineError> {
        Ok(self.store().read(move |c| tasks::get(c, id)).await?)
    }

    /// Creates a task; it and its audit record are one transaction.
    pub async fn create_task(
        &self,
        actor: &Actor,
        task: NewOperatorTask,
    ) -> Result<Task, EngineError> {
        let title = check_title(&task.title)?;
        let description = check_description(task.description)?;
        let assignee = check_assignee(task.assignee)?;
        let label = actor.label();
        let now = self.now_ms();
        let (conversation_id, due_at, priority) =
            (task.conversation_id, task.due_at, task.priority);
        Ok(self
            .store()
            .write(move |c| {
                if let Some(conversation) = conversation_id {
                    conversations::get(c, conversation)?;
                }
                let id = tasks::insert(
                    c,
                    &tasks::NewTask {
                        conversation_id,
                        title: &title,
                        assignee: assignee.as_deref(),
                        due_at,
                        priority,
                        created_by: &label,
                    },
                    now,
                )?;
                tasks::set_description(c, id, description.as_deref())?;
                let task = tasks::get(c, id)?;
                audit::append(
                    c,
                    &NewAuditEvent {
                        actor_kind: ActorKind::Operator,
                        actor: &label,
                        kind: "task.created",
                        conversation_id,
                        run_id: None,
                        action_id: None,
                        detail: json!({ "task_id": id.0, "title": task.title, "assignee": task.assignee,
                                        "priority": task.priority, "due_at": task.due_at }),
                    },
                    now,
                )?;
                Ok(task)
            })
            .await?)
    }

    /// Changes a task (done / reopened, reassigned, …); audited with what changed.
    pub async fn update_task(
        &self,
        actor: &Actor,
        id: TaskId,
        mut change: TaskChange,
    ) -> Result<Task, EngineError> {
        if let Some(title) = &change.title {
            change.title = Some(check_title(title)?);
        }
        if let Some(description) = change.description.take() {
            change.description = Some(check_description(description)?);
        }
        if let Some(assignee) = change.assignee.take() {
            change.assignee = Some(check_assignee(assignee)?);
        }
        let label = actor.label();
        let now = self.now_ms();
        Ok(self
            .store()
            .write(move |c| {
                let before = tasks::get(c, id)?;
                let after = tasks::update(c, id, &change, now)?;
                let mut changed = serde_json::Map::new();
                let mut note = |field: &str, old: serde_json::Value, new: serde_json::Value| {
                    if old != new {
                        changed.insert(field.into(), json!({ "from": old, "to": new }));
                    }
                };
                note("state", json!(before.state), json!(after.state));
                note("assignee", json!(before.assignee), json!(after.assignee));
                note("title", json!(before.title), json!(after.title));
                note(
                    "description",
                    json!(before.description),
                    json!(after.description),
                );
                note("due_at", json!(before.due_at), json!(after.due_at));
                note("priority", json!(before.priority), json!(after.priority));
                if !changed.is_empty() {
                    audit::append(
                        c,
                        &NewAuditEvent {
                            actor_kind: ActorKind::Operator,
                            actor: &label,
                            kind: "task.updated",
                            conversation_id: after.conversation_id,
                            run_id: None,
                            action_id: after.action_id,
                            detail: json!({ "task_id": id.0, "changed": changed }),
                        },
                        now,
                    )?;
                }
                Ok(after)
            })
            .await?)
    }
}
