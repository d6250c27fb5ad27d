use crate::{dto, ApiError, ApiState};
use axum::extract::State;
use axum::Json;

/// The engine's health: what the console's indicator shows.
#[utoipa::path(get, path = "/api/health", tag = "system",
    responses((status = 200, body = dto::Health), (status = 401, body = crate::ErrorBody)))]
pub(crate) async fn health(State(state): State<ApiState>) -> Json<dto::Health> {
    Json(state.engine.health().await.into())
}

/// This API's OpenAPI document.
#[utoipa::path(get, path = "/api/openapi.json", tag = "system",
    responses((status = 200, description = "OpenAPI 3.1 document", body = Object)))]
pub(crate) async fn openapi() -> Json<serde_json::Value> {
    Json(serde_json::to_value(crate::openapi::document()).unwrap_or_default())
}

/// The effective settings (never secrets) and what was edited in the console.
#[utoipa::path(get, path = "/api/settings", tag = "settings",
    responses((status = 200, body = Object), (status = 401, body = crate::ErrorBody)))]
pub(crate) async fn settings(
    State(state): State<ApiState>,
) -> Result<Json<serde_json::Value>, ApiError> {
    Ok(Json(state.engine.settings().await?))
}
