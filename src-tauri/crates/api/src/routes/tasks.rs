use super::audit::parse_time;
use super::parse_state;
use crate::extract::{Json as JsonBody, Path, Query};
use crate::{dto, ApiError, ApiState};
use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::Deserialize;
use switchboard_core::ids::{ConversationId, TaskId};
use switchboard_engine::tasks::{NewOperatorTask, TaskChange, TaskFilter};
use switchboard_engine::Actor;
use switchboard_store::model::{TaskPriority, TaskState};
use utoipa::IntoParams;

#[derive(Deserialize, IntoParams)]
pub(crate) struct TaskQuery {
    /// `open`, `done` or `cancelled`.
    #[param(schema_with = task_states)]
    state: Option<String>,
    /// Tasks of this assignee; an empty value means tasks nobody is assigned to.
    assignee: Option<String>,
    conversation_id: Option<i64>,
    /// `low`, `normal`, `high` or `urgent`.
    #[param(schema_with = task_priorities)]
    priority: Option<String>,
    cursor: Option<String>,
    #[param(minimum = 1, maximum = 500)]
    #[serde(default, deserialize_with = "super::page_limit")]
    limit: Option<u32>,
}

fn priority(value: Option<&str>) -> Result<Option<TaskPriority>, ApiError> {
    parse_state("priority", value, TaskPriority::parse, TaskPriority::ALL)
}

fn task_states() -> utoipa::openapi::Object {
    super::one_of_values(TaskState::ALL)
}

fn task_priorities() -> utoipa::openapi::Object {
    super::one_of_values(TaskPriority::ALL)
}

/// Tasks created by actions or operators, oldest first. Filters combine.
#[utoipa::path(get, path = "/api/tasks", tag = "tasks", params(TaskQuery),
    responses((status = 200, body = dto::TaskPage), (status = 400, body = crate::ErrorBody),
              (status = 401, body = crate::ErrorBody)))]
pub(crate) async fn list(
    State(state): State<ApiState>,
    Query(query): Query<TaskQuery>,
) -> Result<Json<dto::TaskPage>, ApiError> {
    let filter = TaskFilter {
        state: parse_state(
            "state",
            query.state.as_deref(),
            TaskState::parse,
            TaskState::ALL,
        )?,
        unassigned: query
            .assignee
            .as_deref()
            .is_some_and(|a| a.trim().is_empty()),
        assignee: query.assignee.filter(|a| !a.trim().is_empty()),
        conversation_id: query.conversation_id.map(ConversationId),
        priority: priority(query.priority.as_deref())?,
        cursor: query.cursor,
        limit: query.limit,
    };
    Ok(Json(state.engine.tasks(filter).await?.into()))
}

/// Creates a task (audited).
#[utoipa::path(post, path = "/api/tasks", tag = "tasks", request_body = dto::NewTask,
    responses((status = 201, body = dto::Task), (status = 400, body = crate::ErrorBody),
              (status = 404, body = crate::ErrorBody), (status = 422, body = crate::ErrorBody),
              (status = 401, body = crate::ErrorBody)))]
pub(crate) async fn create(
    State(state): State<ApiState>,
    Extension(actor): Extension<Actor>,
    JsonBody(body): JsonBody<dto::NewTask>,
) -> Result<(StatusCode, Json<dto::Task>), ApiError> {
    let task = NewOperatorTask {
        title: body.title,
        description: body.description,
        conversation_id: body.conversation_id.map(ConversationId),
        assignee: body.assignee,
        due_at: parse_time("due_at", body.due_at.as_deref())?,
        priority: priority(body.priority.as_deref())?.unwrap_or(TaskPriority::Normal),
    };
    let task = state.engine.create_task(&actor, task).await?;
    Ok((StatusCode::CREATED, Json(task.into())))
}

/// One task.
#[utoipa::path(get, path = "/api/tasks/{id}", tag = "tasks",
    params(("id" = i64, Path, description = "Task id")),
    responses((status = 200, body = dto::Task), (status = 404, body = crate::ErrorBody),
              (status = 401, body = crate::ErrorBody)))]
pub(crate) async fn one(
    State(state): State<ApiState>,
    Path(id): Path<i64>,
) -> Result<Json<dto::Task>, ApiError> {
    Ok(Json(state.engine.task(TaskId(id)).await?.into()))
}

/// Changes a task: mark it done or open again, reassign it, … (audited with what changed).
#[utoipa::path(patch, path = "/api/tasks/{id}", tag = "tasks",
    params(("id" = i64, Path, description = "Task id")), request_body = dto::TaskPatch,
    responses((status = 200, body = dto::Task), (status = 400, body = crate::ErrorBody),
              (status = 404, body = crate::ErrorBody), (status = 422, body = crate::ErrorBody),
              (status = 401, body = crate::ErrorBody)))]
pub(crate) async fn update(
    State(state): State<ApiState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<i64>,
    JsonBody(body): JsonBody<dto::TaskPatch>,
) -> Result<Json<dto::Task>, ApiError> {
    let due_at = match body.due_at {
        None => None,
        Some(None) => Some(None),
        Some(Some(text)) => Some(parse_time("due_at", Some(&text))?),
    };
    let change = TaskChange {
        state: parse_state(
            "state",
            body.state.as_deref(),
            TaskState::parse,
            TaskState::ALL,
        )?,
        assignee: body.assignee,
        title: body.title,
        description: body.description,
        due_at,
        priority: priority(body.priority.as_deref())?,
    };
    Ok(Json(
        state
            .engine
            .update_task(&actor, TaskId(id), change)
            .await?
            .into(),
    ))
}
