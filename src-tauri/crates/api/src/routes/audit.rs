use super::parse_state;
use crate::extract::Query;
use crate::{dto, ApiError, ApiState};
use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use switchboard_core::ids::{ActionId, ConversationId};
use switchboard_engine::audit::AuditFilter;
use switchboard_store::model::TaskState;
use switchboard_store::queries::audit::ChainStatus;
use utoipa::IntoParams;

#[derive(Deserialize, IntoParams)]
pub(crate) struct AuditQuery {
    conversation_id: Option<i64>,
    action_id: Option<i64>,
    /// The actor label, e.g. `operator:owner`.
    actor: Option<String>,
    /// The event kind, e.g. `action.approved`.
    kind: Option<String>,
    /// Only records at or after this time (RFC 3339).
    since: Option<String>,
    /// Only records before this time (RFC 3339).
    until: Option<String>,
    cursor: Option<String>,
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
}

fn parse_time(name: &str, value: Option<&str>) -> Result<Option<i64>, ApiError> {
    value
        .filter(|v| !v.is_empty())
        .map(|v| {
            switchboard_core::clock::parse_rfc3339(v).ok_or_else(|| {
                ApiError::bad_request(format!("{name} must be an RFC 3339 time, not {v:?}"))
            })
        })
        .transpose()
}

/// The audit trail, newest first.
#[utoipa::path(get, path = "/api/audit", tag = "audit", params(AuditQuery),
    responses((status = 200, body = dto::AuditPage), (status = 400, body = crate::ErrorBody),
              (status = 401, body = crate::ErrorBody)))]
pub(crate) async fn list(
    State(state): State<ApiState>,
    Query(query): Query<AuditQuery>,
) -> Result<Json<dto::AuditPage>, ApiError> {
    let filter = AuditFilter {
        conversation_id: query.conversation_id.map(ConversationId),
        action_id: query.action_id.map(ActionId),
        actor: query.actor,
        kind: query.kind,
        since: parse_time("since", query.since.as_deref())?,
        until: parse_time("until", query.until.as_deref())?,
        cursor: query.cursor,
        limit: query.limit,
    };
    Ok(Json(state.engine.audit(filter).await?.into()))
}

/// Checks the hash chain of the whole trail and names the first broken record.
#[utoipa::path(get, path = "/api/audit/verify", tag = "audit",
    responses((status = 200, body = dto::AuditVerification), (status = 401, body = crate::ErrorBody)))]
pub(crate) async fn verify(
    State(state): State<ApiState>,
) -> Result<Json<dto::AuditVerification>, ApiError> {
    Ok(Json(match state.engine.verify_audit().await? {
        ChainStatus::Intact { records } => dto::AuditVerification {
            intact: true,
            records: Some(records),
            broken_at: None,
            reason: None,
        },
        ChainStatus::Broken { record_id, reason } => dto::AuditVerification {
            intact: false,
            records: None,
            broken_at: Some(record_id),
            reason: Some(reason),
        },
    }))
}

#[derive(Deserialize, IntoParams)]
pub(crate) struct TaskQuery {
    /// `open`, `done` or `cancelled`.
    state: Option<String>,
    cursor: Option<String>,
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
}

/// Tasks created by actions or operators.
#[utoipa::path(get, path = "/api/tasks", tag = "tasks", params(TaskQuery),
    responses((status = 200, body = dto::TaskPage), (status = 400, body = crate::ErrorBody),
              (status = 401, body = crate::ErrorBody)))]
pub(crate) async fn tasks(
    State(state): State<ApiState>,
    Query(query): Query<TaskQuery>,
) -> Result<Json<dto::TaskPage>, ApiError> {
    let filter = parse_state(
        "state",
        query.state.as_deref(),
        TaskState::parse,
        TaskState::ALL,
    )?;
    Ok(Json(
        state
            .engine
            .tasks(filter, query.cursor, query.limit)
            .await?
            .into(),
    ))
}
