//! The WhatsApp connection as Settings shows it, and its test button.

use crate::{dto, ApiError, ApiState};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;

/// The connection: mode, number, API version, the webhook URL to give Meta, and which
/// credentials are stored (never their values).
#[utoipa::path(get, path = "/api/whatsapp", tag = "whatsapp",
    responses((status = 200, body = dto::WhatsAppStatus), (status = 401, body = crate::ErrorBody)))]
pub(crate) async fn status(
    State(state): State<ApiState>,
) -> Result<Json<dto::WhatsAppStatus>, ApiError> {
    Ok(Json(state.engine.whatsapp_view().await?.into()))
}

/// Calls Graph's `GET /{version}/{phone_number_id}` with the stored access token (in the
/// sandbox, the local Graph API). Answers 200 either way: `ok` with what Graph says about
/// the number, or the typed error (e.g. `graph_error` with `graph_code` 190).
#[utoipa::path(post, path = "/api/whatsapp/test", tag = "whatsapp",
    responses((status = 200, body = dto::WhatsAppTest), (status = 401, body = crate::ErrorBody),
              (status = 403, body = crate::ErrorBody)))]
pub(crate) async fn test(
    State(state): State<ApiState>,
) -> Result<Json<dto::WhatsAppTest>, ApiError> {
    let outcome = state.engine.test_whatsapp().await?;
    let (number, error) = match outcome.result {
        Ok(n) => (
            Some(dto::PhoneNumber {
                id: n.id,
                display_phone_number: n.display_phone_number,
                verified_name: n.verified_name,
                quality_rating: n.quality_rating,
                code_verification_status: n.code_verification_status,
                platform_type: n.platform_type,
            }),
            None,
        ),
        Err(e) => (None, Some(e.into())),
    };
    Ok(Json(dto::WhatsAppTest {
        ok: number.is_some(),
        latency_ms: outcome.latency_ms,
        phone_number: number,
        error,
    }))
}

/// Sandbox only: the local Graph API's phone-number node, answered as Meta does.
pub(crate) async fn sandbox_phone_number(
    State(state): State<ApiState>,
    Path((_version, phone_number_id)): Path<(String, String)>,
    headers: axum::http::HeaderMap,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let bearer = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match state
        .engine
        .sandbox_graph_phone_number(bearer, &phone_number_id)
    {
        Ok(body) => Json(body).into_response(),
        Err(e) => {
            let (status, code) = match &e {
                switchboard_engine::EngineError::Forbidden(_) => (StatusCode::UNAUTHORIZED, 190),
                _ => (StatusCode::BAD_REQUEST, 100),
            };
            let body = serde_json::json!({"error": {"message": e.to_string(), "type": "OAuthException",
                "code": code, "fbtrace_id": "sandbox"}});
            (status, Json(body)).into_response()
        }
    }
}
