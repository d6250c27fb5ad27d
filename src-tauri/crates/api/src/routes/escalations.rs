use super::parse_state;
use crate::extract::{Json as JsonBody, Path, Query};
use crate::{dto, ApiError, ApiState};
use axum::extract::State;
use axum::{Extension, Json};
use serde::Deserialize;
use switchboard_core::ids::EscalationId;
use switchboard_engine::Actor;
use switchboard_store::model::EscalationState;
use utoipa::IntoParams;

#[derive(Deserialize, IntoParams)]
pub(crate) struct ListQuery {
    /// `open`, `taken` or `resolved`.
    #[param(schema_with = escalation_states)]
    state: Option<String>,
    cursor: Option<String>,
    #[param(minimum = 1, maximum = 500)]
    #[serde(default, deserialize_with = "super::page_limit")]
    limit: Option<u32>,
}

fn escalation_states() -> utoipa::openapi::Object {
    super::one_of_values(EscalationState::ALL)
}

/// The escalation queue, oldest first.
#[utoipa::path(get, path = "/api/escalations", tag = "escalations", params(ListQuery),
    responses((status = 200, body = dto::EscalationPage), (status = 400, body = crate::ErrorBody),
              (status = 401, body = crate::ErrorBody)))]
pub(crate) async fn list(
    State(state): State<ApiState>,
    Query(query): Query<ListQuery>,
) -> Result<Json<dto::EscalationPage>, ApiError> {
    let filter = parse_state(
        "state",
        query.state.as_deref(),
        EscalationState::parse,
        EscalationState::ALL,
    )?;
    Ok(Json(
        state
            .engine
            .escalations(filter, query.cursor, query.limit)
            .await?
            .into(),
    ))
}

/// Takes the conversation over: the AI pauses for it until hand-back.
#[utoipa::path(post, path = "/api/escalations/{id}/takeover", tag = "escalations",
    params(("id" = i64, Path, description = "Escalation id")),
    responses((status = 200, body = dto::Escalation), (status = 404, body = crate::ErrorBody),
              (status = 409, body = crate::ErrorBody), (status = 401, body = crate::ErrorBody)))]
pub(crate) async fn take_over(
    State(state): State<ApiState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<i64>,
) -> Result<Json<dto::Escalation>, ApiError> {
    Ok(Json(
        state
            .engine
            .take_over(&actor, EscalationId(id))
            .await?
            .into(),
    ))
}

/// Hands the conversation back to the AI with a note for its session context.
#[utoipa::path(post, path = "/api/escalations/{id}/handback", tag = "escalations",
    params(("id" = i64, Path, description = "Escalation id")), request_body = dto::HandbackBody,
    responses((status = 200, body = dto::Escalation), (status = 404, body = crate::ErrorBody),
              (status = 409, body = crate::ErrorBody), (status = 401, body = crate::ErrorBody)))]
pub(crate) async fn hand_back(
    State(state): State<ApiState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<i64>,
    JsonBody(body): JsonBody<dto::HandbackBody>,
) -> Result<Json<dto::Escalation>, ApiError> {
    Ok(Json(
        state
            .engine
            .hand_back(&actor, EscalationId(id), body.note)
            .await?
            .into(),
    ))
}
