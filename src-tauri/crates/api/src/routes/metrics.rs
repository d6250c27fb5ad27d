use crate::extract::Query;
use crate::{dto, ApiError, ApiState};
use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use utoipa::IntoParams;

#[derive(Deserialize, IntoParams)]
pub(crate) struct MetricsQuery {
    /// How many calendar days, ending today (default 14).
    #[param(minimum = 1, maximum = 366)]
    days: Option<u32>,
}

/// The dashboard's daily figures over the business's calendar days (`business.timezone`):
/// volume, resolved without a human, approvals without edits, escalation rate, median time
/// to first reply, tokens and cost.
#[utoipa::path(get, path = "/api/metrics", tag = "metrics", params(MetricsQuery),
    responses((status = 200, body = dto::Metrics), (status = 400, body = crate::ErrorBody),
              (status = 422, body = crate::ErrorBody), (status = 401, body = crate::ErrorBody),
              (status = 403, body = crate::ErrorBody)))]
pub(crate) async fn daily(
    State(state): State<ApiState>,
    Query(query): Query<MetricsQuery>,
) -> Result<Json<dto::Metrics>, ApiError> {
    Ok(Json(
        state.engine.metrics(query.days.unwrap_or(14)).await?.into(),
    ))
}
