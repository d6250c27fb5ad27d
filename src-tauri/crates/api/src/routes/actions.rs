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
use utoipa::{IntoParams, ToSchema};

#[derive(Deserialize, IntoParams)]
pub(crate) struct ListQuery {
    /// e.g. `pending` for the approval queue.
    #[param(schema_with = action_states)]
    state: Option<String>,
    conversation_id: Option<i64>,
    cursor: Option<String>,
    #[param(minimum = 1, maximum = 500)]
    #[serde(default, deserialize_with = "super::page_limit")]
    limit: Option<u32>,
}

fn action_states() -> utoipa::openapi::Object {
    super::one_of_values(ActionState::ALL)
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

/// `{"params": {...}}`: the operator's edit of the proposal's parameters. An empty body
/// approves the proposal as it is.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct ApproveBody {
    /// The whole parameter object as it should run, checked like the model's own answer.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub params: Option<serde_json::Value>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RetryBody {
    /// What the AI should do differently; it is put into the new run's request context.
    #[schema(min_length = 1, max_length = 2000, pattern = r"\S")]
    pub guidance: String,
}

/// Approves a pending action, as proposed or with edited parameters (the diff is kept with
/// the decision and in the audit trail), and executes it exactly once. Approving twice
/// answers 409; so does approving a reply whose 24-hour window has closed, which is
/// replaced by a template proposal instead.
#[utoipa::path(post, path = "/api/actions/{id}/approve", tag = "actions",
    params(("id" = i64, Path, description = "Action id")), request_body(content = ApproveBody, description = "Optional"),
    responses((status = 200, body = dto::Action), (status = 404, body = crate::ErrorBody),
              (status = 409, body = crate::ErrorBody), (status = 422, body = crate::ErrorBody),
              (status = 401, body = crate::ErrorBody)))]
pub(crate) async fn approve(
    State(state): State<ApiState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<i64>,
    body: axum::body::Bytes,
) -> Result<Json<dto::Action>, ApiError> {
    let body: ApproveBody = if body.iter().all(u8::is_ascii_whitespace) {
        ApproveBody::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            ApiError::new(
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_request",
                format!("the body must be empty or {{\"params\": {{...}}}}: {e}"),
            )
        })?
    };
    Ok(Json(
        state
            .engine
            .approve_with(&actor, ActionId(id), body.params)
            .await?
            .into(),
    ))
}

/// Rejects the pending proposal and runs the conversation again with the operator's
/// guidance in the request context.
#[utoipa::path(post, path = "/api/actions/{id}/retry", tag = "actions",
    params(("id" = i64, Path, description = "Action id")), request_body = RetryBody,
    responses((status = 200, body = dto::Action), (status = 404, body = crate::ErrorBody),
              (status = 409, body = crate::ErrorBody), (status = 422, body = crate::ErrorBody),
              (status = 401, body = crate::ErrorBody)))]
pub(crate) async fn retry(
    State(state): State<ApiState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<i64>,
    JsonBody(body): JsonBody<RetryBody>,
) -> Result<Json<dto::Action>, ApiError> {
    Ok(Json(
        state
            .engine
            .retry_with_guidance(&actor, ActionId(id), body.guidance)
            .await?
            .into(),
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
