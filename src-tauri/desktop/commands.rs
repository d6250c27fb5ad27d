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

/// An API response as the window receives it. IPC carries JSON, so a body travels in the
/// form that keeps it intact: JSON as JSON, text as a string, and anything else (media) as
/// base64 of its exact bytes.
#[derive(Debug, Serialize, PartialEq)]
pub struct ApiResponse {
    pub status: u16,
    /// The response's `Content-Type`, when it has one.
    pub content_type: Option<String>,
    /// A JSON body, or a text body as a string; `null` when empty or binary.
    pub body: serde_json::Value,
    /// A binary body, base64 (standard alphabet, padded); absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base64: Option<String>,
}

impl ApiResponse {
    fn new(status: u16, content_type: Option<String>, bytes: &[u8]) -> Self {
        let (body, base64) = encode_body(content_type.as_deref(), bytes);
        Self {
            status,
            content_type,
            body,
            base64,
        }
    }
}

/// How a body crosses IPC without loss: lossy UTF-8 would corrupt images and documents.
fn encode_body(content_type: Option<&str>, bytes: &[u8]) -> (serde_json::Value, Option<String>) {
    use base64::Engine as _;
    if bytes.is_empty() {
        return (serde_json::Value::Null, None);
    }
    let essence = content_type
        .and_then(|c| c.split(';').next())
        .map(|c| c.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let json = essence == "application/json" || essence.ends_with("+json");
    if json {
        if let Ok(value) = serde_json::from_slice(bytes) {
            return (value, None);
        }
    }
    let textual = json
        || essence.starts_with("text/")
        || matches!(
            essence.as_str(),
            "application/jsonl" | "application/x-ndjson" | "application/xml"
        );
    if textual {
        if let Ok(text) = std::str::from_utf8(bytes) {
            return (serde_json::Value::String(text.to_owned()), None);
        }
    }
    (
        serde_json::Value::Null,
        Some(base64::engine::general_purpose::STANDARD.encode(bytes)),
    )
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
    let content_type = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let bytes = response
        .into_body()
        .collect()
        .await
        .map_err(|e| CommandError::new("internal", e.to_string()))?
        .to_bytes();
    Ok(ApiResponse::new(status, content_type, &bytes))
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

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    #[test]
    fn bodies_cross_in_a_form_that_keeps_them_intact() {
        let json = ApiResponse::new(200, Some("application/json".into()), br#"{"a":1}"#);
        assert_eq!(json.body, serde_json::json!({"a": 1}));
        assert_eq!(json.base64, None);

        let csv = ApiResponse::new(
            200,
            Some("text/csv; charset=utf-8".into()),
            "a,b\ná,ü\n".as_bytes(),
        );
        assert_eq!(csv.body, serde_json::json!("a,b\ná,ü\n"));

        let png = [
            0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0xff, 0x00, 0xfe,
        ];
        let image = ApiResponse::new(200, Some("image/png".into()), &png);
        assert_eq!(image.body, serde_json::Value::Null);
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(image.base64.unwrap())
            .unwrap();
        assert_eq!(decoded, png);

        // Text that is not UTF-8 is not mangled either.
        let latin1 = ApiResponse::new(200, Some("text/plain".into()), &[b'c', 0xe9]);
        assert_eq!(latin1.base64.as_deref(), Some("Y+k="));

        let empty = ApiResponse::new(204, None, b"");
        assert_eq!((empty.body, empty.base64), (serde_json::Value::Null, None));
    }
}
