use super::parse_state;
use crate::extract::Json as JsonBody;
use crate::extract::{Path, Query};
use crate::{dto, ApiError, ApiState};
use axum::extract::State;
use axum::{Extension, Json};
use serde::Deserialize;
use switchboard_core::ids::{ActionId, ConversationId};
use switchboard_engine::approvals::ActionFilter;
use switchboard_engine::Actor;
use switchboard_store::model::ActionState;
use utoipa::IntoParams;

#[derive(Deserialize, IntoParams)]
pub(crate) struct ListQuery {
    /// e.g. `pending` for the approval queue.
    state: Option<String>,
    conversation_id: Option<i64>,
    cursor: Option<String>,
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
}

/// Proposed actions, oldest first.
#[utoipa::path(get, path = "/api/actions", tag = "actions", params(ListQuery),
    responses((status = 200, body = dto::ActionPage), (status = 400, body = crate::ErrorBody),
              (status = 401, body = crate::ErrorBody)))]
pub(crate) async fn list(
    State(state): State<ApiState>,
    Query(query): Query<ListQuery>,
) -> Result<Json<dto::ActionPage>, ApiError> {
    let filter = ActionFilter {
        state: parse_state(
            "state",
            query.state.as_deref(),
            ActionState::parse,
            ActionState::ALL,
        )?,
        conversation_id: query.conversation_id.map(ConversationId),
        cursor: query.cursor,
        limit: query.limit,
    };
    Ok(Json(state.engine.actions(filter).await?.into()))
}

/// One action.
#[utoipa::path(get, path = "/api/actions/{id}", tag = "actions",
    params(("id" = i64, Path, description = "Action id")),
    responses((status = 200, body = dto::Action), (status = 404, body = crate::ErrorBody),
              (status = 401, body = crate::ErrorBody)))]
pub(crate) async fn one(
    State(state): State<ApiState>,
    Path(id): Path<i64>,
) -> Result<Json<dto::Action>, ApiError> {
    Ok(Json(state.engine.action(ActionId(id)).await?.into()))
}

/// Approves a pending action. Approving twice answers 409.
#[utoipa::path(post, path = "/api/actions/{id}/approve", tag = "actions",
    params(("id" = i64, Path, description = "Action id")),
    responses((status = 200, body = dto::Action), (status = 404, body = crate::ErrorBody),
              (status = 409, body = crate::ErrorBody), (status = 401, body = crate::ErrorBody)))]
pub(crate) async fn approve(
    State(state): State<ApiState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<i64>,
) -> Result<Json<dto::Action>, ApiError> {
    Ok(Json(
        state.engine.approve(&actor, ActionId(id)).await?.into(),
    ))
}

/// Rejects a pending action with a reason.
#[utoipa::path(post, path = "/api/actions/{id}/reject", tag = "actions",
    params(("id" = i64, Path, description = "Action id")), request_body = dto::RejectBody,
    responses((status = 200, body = dto::Action), (status = 404, body = crate::ErrorBody),
              (status = 409, body = crate::ErrorBody), (status = 422, body = crate::ErrorBody),
              (status = 401, body = crate::ErrorBody)))]
pub(crate) async fn reject(
    State(state): State<ApiState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<i64>,
    JsonBody(body): JsonBody<dto::RejectBody>,
) -> Result<Json<dto::Action>, ApiError> {
    Ok(Json(
        state
            .engine
            .reject(&actor, ActionId(id), body.reason)
            .await?
            .into(),
    ))
}
