//! `/webhooks/whatsapp`: outside the bearer token, authenticated by Meta's signature.

use crate::{ApiError, ApiState};
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use switchboard_store::model::InboxSource;
use switchboard_whatsapp::webhook::{HandshakeQuery, SIGNATURE_HEADER};

/// The subscription handshake: echoes `hub.challenge` when `hub.verify_token` matches.
#[utoipa::path(get, path = "/webhooks/whatsapp", tag = "webhooks",
    params(("hub.mode" = String, Query), ("hub.verify_token" = String, Query), ("hub.challenge" = String, Query)),
    security(()),
    responses((status = 200, description = "The challenge, as text/plain", body = String),
              (status = 400, description = "No challenge"), (status = 403, description = "Wrong token or mode")))]
pub(crate) async fn handshake(
    State(state): State<ApiState>,
    RawQuery(query): RawQuery,
) -> Response {
    let query = HandshakeQuery::from_query_string(query.as_deref().unwrap_or(""));
    match state.engine.verify_subscription(&query) {
        Ok(challenge) => {
            (StatusCode::OK, [("content-type", "text/plain")], challenge).into_response()
        }
        Err(e) => {
            let status = StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::FORBIDDEN);
            ApiError::new(status, "handshake_refused", e.to_string()).into_response()
        }
    }
}

/// A webhook POST. 200 means the raw body is durably stored; processing happens after.
#[utoipa::path(post, path = "/webhooks/whatsapp", tag = "webhooks",
    params(("X-Hub-Signature-256" = String, Header, description = "sha256=<hex HMAC of the raw body with the app secret>")),
    request_body(content = String, content_type = "application/json", description = "Meta's webhook payload, verified byte for byte"),
    security(()),
    responses((status = 200, description = "Stored"), (status = 400, body = crate::ErrorBody),
              (status = 401, body = crate::ErrorBody), (status = 413, body = crate::ErrorBody),
              (status = 503, body = crate::ErrorBody)))]
pub(crate) async fn receive(
    State(state): State<ApiState>,
    headers: HeaderMap,
    body: bytes::Bytes,
) -> Response {
    let signature = headers.get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok());
    match state
        .engine
        .receive_webhook(signature, body, InboxSource::WhatsApp)
        .await
    {
        Ok(_) => StatusCode::OK.into_response(),
        Err(e) => {
            let status = StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
            let code = match status.as_u16() {
                401 => "invalid_signature",
                413 => "payload_too_large",
                503 => "unavailable",
                _ => "invalid_payload",
            };
            if status.is_server_error() {
                tracing::error!(error = %e, "a webhook could not be stored; Meta will redeliver it");
            }
            ApiError::new(status, code, e.to_string()).into_response()
        }
    }
}
