use crate::extract::Query;
use crate::{ApiError, ApiState};
use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use switchboard_store::queries::inbox;
use utoipa::{IntoParams, ToSchema};

#[derive(Deserialize, IntoParams)]
pub(crate) struct InboxQuery {
    #[param(minimum = 1, maximum = 500)]
    #[serde(default, deserialize_with = "super::page_limit")]
    limit: Option<u32>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct FailedWebhook {
    id: i64,
    received_at: String,
    source: String,
    /// Why it could not be processed.
    error: Option<String>,
    /// The body as received (lossy UTF-8), for diagnosis.
    body: String,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct FailedWebhooks {
    items: Vec<FailedWebhook>,
}

/// Webhook bodies that were signed but could not be processed, newest first.
#[utoipa::path(get, path = "/api/inbox/failed", tag = "webhooks", params(InboxQuery),
    responses((status = 200, body = FailedWebhooks), (status = 401, body = crate::ErrorBody)))]
pub(crate) async fn failed(
    State(state): State<ApiState>,
    Query(query): Query<InboxQuery>,
) -> Result<Json<FailedWebhooks>, ApiError> {
    let limit = query.limit.unwrap_or(50).clamp(1, 500);
    let rows = state
        .engine
        .store()
        .read(move |c| inbox::failed(c, limit))
        .await
        .map_err(switchboard_engine::EngineError::from)?;
    Ok(Json(FailedWebhooks {
        items: rows
            .into_iter()
            .map(|r| FailedWebhook {
                id: r.id.0,
                received_at: switchboard_core::clock::to_rfc3339(r.received_at),
                source: r.source.to_string(),
                error: r.error,
                body: String::from_utf8_lossy(&r.body)
                    .chars()
                    .take(64 * 1024)
                    .collect(),
            })
            .collect(),
    }))
}
