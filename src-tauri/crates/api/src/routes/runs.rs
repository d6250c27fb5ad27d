//! Pipeline runs: the record of one decision, and replaying its context on another model.

use crate::extract::Json as JsonBody;
use crate::extract::Path;
use crate::{dto, ApiError, ApiState};
use axum::extract::State;
use axum::{Extension, Json};
use switchboard_core::ids::RunId;
use switchboard_engine::Actor;

/// One run: its attempts (raw output, validation errors, tier, provider and model, tokens,
/// cost, latency), the context it sent (four layers with token counts and versions, and the
/// exact messages) and the actions it proposed with the policy's decisions.
#[utoipa::path(get, path = "/api/runs/{id}", tag = "runs",
    params(("id" = i64, Path, description = "Run id")),
    responses((status = 200, body = dto::RunDetail), (status = 404, body = crate::ErrorBody),
              (status = 401, body = crate::ErrorBody)))]
pub(crate) async fn one(
    State(state): State<ApiState>,
    Path(id): Path<i64>,
) -> Result<Json<dto::RunDetail>, ApiError> {
    Ok(Json(state.engine.run_detail(RunId(id)).await?.into()))
}

/// Sends the run's stored context, unchanged, to a provider of the model chain and returns
/// its validated answer. Nothing is executed and the conversation does not change; the
/// replay is audited as `run.replayed`.
#[utoipa::path(post, path = "/api/runs/{id}/replay", tag = "runs",
    params(("id" = i64, Path, description = "Run id")), request_body = dto::ReplayBody,
    responses((status = 200, body = dto::ReplayResult),
              (status = 404, body = crate::ErrorBody, description = "No such run"),
              (status = 409, body = crate::ErrorBody, description = "The run has no stored context yet"),
              (status = 422, body = crate::ErrorBody, description = "No such provider in the chain"),
              (status = 401, body = crate::ErrorBody)))]
pub(crate) async fn replay(
    State(state): State<ApiState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<i64>,
    JsonBody(body): JsonBody<dto::ReplayBody>,
) -> Result<Json<dto::ReplayResult>, ApiError> {
    Ok(Json(
        state
            .engine
            .replay_run(&actor, RunId(id), body.provider.trim())
            .await?
            .into(),
    ))
}
