use crate::extract::Json as JsonBody;
use crate::{ApiError, ApiState};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use switchboard_engine::sandbox::SimulatedMessage;
use utoipa::ToSchema;

#[derive(Deserialize, ToSchema)]
pub(crate) struct SimulatedMessageBody {
    /// The simulated customer's phone number, digits only.
    from: String,
    name: Option<String>,
    text: String,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct Accepted {
    inbox_id: i64,
}

/// Sandbox only: a simulated customer writes. The message enters through the signed
/// webhook path, exactly like a real one.
#[utoipa::path(post, path = "/api/sandbox/messages", tag = "sandbox", request_body = SimulatedMessageBody,
    responses((status = 202, body = Accepted), (status = 409, body = crate::ErrorBody),
              (status = 422, body = crate::ErrorBody), (status = 401, body = crate::ErrorBody)))]
pub(crate) async fn customer_writes(
    State(state): State<ApiState>,
    JsonBody(body): JsonBody<SimulatedMessageBody>,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    let id = state
        .engine
        .sandbox_customer_writes(SimulatedMessage {
            from: body.from,
            name: body.name,
            text: body.text,
        })
        .await?;
    Ok((StatusCode::ACCEPTED, Json(Accepted { inbox_id: id.0 })))
}

/// Sandbox only: the local Graph API that the outbox sends to. Answers as Meta does.
pub(crate) async fn graph_send(
    State(state): State<ApiState>,
    headers: axum::http::HeaderMap,
    JsonBody(body): JsonBody<serde_json::Value>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let bearer = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match state.engine.sandbox_graph_send(bearer, &body) {
        Ok(response) => Json(response).into_response(),
        // Graph's own error shape, so the client classifies it like a real answer.
        Err(e) => {
            let (status, code) = match &e {
                switchboard_engine::EngineError::Forbidden(_) => (StatusCode::UNAUTHORIZED, 190),
                switchboard_engine::EngineError::NotFound(_) => (StatusCode::NOT_FOUND, 100),
                _ => (StatusCode::BAD_REQUEST, 100),
            };
            let body = serde_json::json!({"error": {"message": e.to_string(), "type": "OAuthException", "code": code, "fbtrace_id": "sandbox"}});
            (status, Json(body)).into_response()
        }
    }
}
