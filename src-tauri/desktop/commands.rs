//! The Tauri commands: adapters over the operator API, with no logic of their own.

use super::Shell;
use axum::body::Body;
use http_body_util::BodyExt;
use serde::{Deserialize, Serialize};
use tauri::ipc::Channel;
use tauri::State;
use tower::ServiceExt;

#[derive(Debug, Deserialize)]
pub struct ApiRequest {
    pub method: String,
    /// A path under `/api/`, with its query string.
    pub path: String,
    #[serde(default)]
    pub body: Option<serde_json::Value>,
}

#[derive(Debug, Serialize)]
pub struct ApiResponse {
    pub status: u16,
    pub body: serde_json::Value,
}

/// Errors of the adapter itself (not of the API, whose errors come back as a status and
/// the usual `{error: {code, message}}` body).
#[derive(Debug, Serialize, thiserror::Error)]
#[error("{message}")]
pub struct CommandError {
    code: &'static str,
    message: String,
}

impl CommandError {
    fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

#[tauri::command]
pub async fn api_request(
    shell: State<'_, Shell>,
    request: ApiRequest,
) -> Result<ApiResponse, CommandError> {
    if !request.path.starts_with("/api/") {
        return Err(CommandError::new(
            "invalid_request",
            "only /api/ paths can be requested",
        ));
    }
    let method = axum::http::Method::from_bytes(request.method.to_ascii_uppercase().as_bytes())
        .map_err(|_| {
            CommandError::new(
                "invalid_request",
                format!("unknown method {:?}", request.method),
            )
        })?;
    let body = match &request.body {
        Some(value) => Body::from(value.to_string()),
        None => Body::empty(),
    };
    let http_request = axum::http::Request::builder()
        .method(method)
        .uri(&request.path)
        .header("authorization", format!("Bearer {}", shell.token.expose()))
        .header("content-type", "application/json")
        .body(body)
        .map_err(|e| CommandError::new("invalid_request", e.to_string()))?;
    let response = shell
        .router
        .clone()
        .oneshot(http_request)
        .await
        .map_err(|e| CommandError::new("internal", e.to_string()))?;
    let status = response.status().as_u16();
    let bytes = response
        .into_body()
        .collect()
        .await
        .map_err(|e| CommandError::new("internal", e.to_string()))?
        .to_bytes();
    let body = if bytes.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap_or_else(|_| {
            serde_json::Value::String(String::from_utf8_lossy(&bytes).into_owned())
        })
    };
    Ok(ApiResponse { status, body })
}

/// Streams engine events to the window until the window goes away: the same live stream
/// as `/api/events` (drafts included), without the `ready` marker, since the subscription
/// exists when this command returns.
#[tauri::command]
pub async fn subscribe_events(
    shell: State<'_, Shell>,
    channel: Channel<serde_json::Value>,
) -> Result<(), CommandError> {
    let mut live = shell.engine.live_events();
    tauri::async_runtime::spawn(async move {
        while let Some(event) = live.next().await {
            let value = serde_json::to_value(&event).unwrap_or_default();
            if channel.send(value).is_err() {
                break;
            }
        }
    });
    Ok(())
}
