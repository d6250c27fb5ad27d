//! What can go wrong talking to a provider, classified so the engine can decide whether to
//! retry, fall back to another provider, or give up and tell the operator.

use std::fmt;
use std::time::{Duration, SystemTime};

use reqwest::header::HeaderMap;
use serde::Deserialize;

/// Which of the streaming deadlines expired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimeoutPhase {
    /// TCP/TLS connection setup.
    Connect,
    /// From sending the request until the model produced its first content delta.
    FirstToken,
    /// No bytes at all (not even keep-alives) for too long once the response started.
    Idle,
    /// The whole call.
    Total,
}

impl fmt::Display for TimeoutPhase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TimeoutPhase::Connect => "connect",
            TimeoutPhase::FirstToken => "first token",
            TimeoutPhase::Idle => "idle",
            TimeoutPhase::Total => "total",
        })
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LlmError {
    #[error("rate limited by the provider (retry after {retry_after:?})")]
    RateLimited { retry_after: Option<Duration> },
    /// 5xx, 408, Anthropic 529 and `overloaded_error` events.
    #[error("provider overloaded or failing (status {status})")]
    Overloaded { status: u16 },
    #[error("{phase} timeout")]
    Timeout { phase: TimeoutPhase },
    /// The stream ended (cleanly or not) before `[DONE]` / `message_stop`.
    #[error("stream ended before the provider signalled completion")]
    Disconnected,
    /// Could not reach the provider at all (refused, DNS, TLS).
    #[error("network error: {detail}")]
    Network { detail: String },
    #[error("authentication with the provider failed")]
    Authentication,
    /// The account has no credit left; retrying cannot help, unlike a rate limit.
    #[error("provider quota exhausted: {message}")]
    QuotaExceeded { message: String },
    #[error("invalid request: {message}")]
    InvalidRequest { message: String },
    #[error("prompt exceeds the model's context length")]
    ContextTooLong,
    #[error("malformed stream: {detail}")]
    MalformedStream { detail: String },
    /// Our own configuration is unusable (e.g. a base URL that does not parse).
    #[error("configuration error: {detail}")]
    Config { detail: String },
    #[error("cancelled")]
    Cancelled,
}

impl LlmError {
    /// Whether the same request may succeed if sent again later (possibly after
    /// [`LlmError::retry_after`]).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            LlmError::RateLimited { .. }
                | LlmError::Overloaded { .. }
                | LlmError::Timeout { .. }
                | LlmError::Disconnected
                | LlmError::Network { .. }
        )
    }

    /// The provider's own hint on when to retry, if it gave one.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            LlmError::RateLimited { retry_after } => *retry_after,
            _ => None,
        }
    }
}

/// The fields both providers' error bodies carry, whatever their nesting.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ProviderErrorBody {
    pub kind: Option<String>,
    pub code: Option<String>,
    pub message: Option<String>,
}

#[derive(Deserialize)]
struct Envelope {
    error: Option<ErrorField>,
    // Some OpenAI-compatible servers put the message at the top level.
    message: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum ErrorField {
    Object {
        #[serde(rename = "type")]
        kind: Option<String>,
        code: Option<serde_json::Value>,
        message: Option<String>,
    },
    // Ollama and llama.cpp answer `{"error": "model not found"}`.
    Text(String),
}

/// Reads OpenAI `{"error":{"message","type","code"}}`, Anthropic
/// `{"type":"error","error":{"type","message"}}` and `{"error":"text"}` bodies.
pub fn parse_error_body(body: &[u8]) -> ProviderErrorBody {
    let Ok(envelope) = serde_json::from_slice::<Envelope>(body) else {
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        return ProviderErrorBody {
            message: (!text.is_empty()).then(|| truncate(text, 500)),
            ..Default::default()
        };
    };
    match envelope.error {
        Some(ErrorField::Object {
            kind,
            code,
            message,
        }) => ProviderErrorBody {
            kind,
            // OpenAI's `code` is a string, but some compatible servers send a number.
            code: code.and_then(|c| match c {
                serde_json::Value::String(s) => Some(s),
                serde_json::Value::Number(n) => Some(n.to_string()),
                _ => None,
            }),
            message,
        },
        Some(ErrorField::Text(message)) => ProviderErrorBody {
            message: Some(message),
            ..Default::default()
        },
        None => ProviderErrorBody {
            message: envelope.message,
            ..Default::default()
        },
    }
}

fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}

/// The HTTP status Anthropic documents for each error `type`, so an `error` event in the
/// middle of a stream is classified exactly like the same error returned up front.
pub(crate) fn anthropic_status_for(kind: &str) -> u16 {
    match kind {
        "invalid_request_error" => 400,
        "authentication_error" => 401,
        "billing_error" => 402,
        "permission_error" => 403,
        "not_found_error" => 404,
        "request_too_large" => 413,
        "rate_limit_error" => 429,
        "api_error" => 500,
        "overloaded_error" => 529,
        _ => 500,
    }
}

fn mentions_context_length(body: &ProviderErrorBody) -> bool {
    let code_hit = [&body.code, &body.kind].iter().any(|v| {
        v.as_deref().is_some_and(|v| {
            matches!(
                v,
                "context_length_exceeded" | "string_above_max_length" | "request_too_large"
            )
        })
    });
    if code_hit {
        return true;
    }
    let Some(message) = &body.message else {
        return false;
    };
    let m = message.to_ascii_lowercase();
    [
        "prompt is too long",
        "context length",
        "context_length",
        "context window",
        "maximum context",
        "too many tokens",
        "exceeds the model",
        "input is too long",
    ]
    .iter()
    .any(|needle| m.contains(needle))
}

/// Classifies a failed response or an in-stream error event.
pub fn classify(status: u16, retry_after: Option<Duration>, body: &ProviderErrorBody) -> LlmError {
    let kind = body.kind.as_deref().unwrap_or("");
    let code = body.code.as_deref().unwrap_or("");
    let message = || {
        body.message
            .clone()
            .unwrap_or_else(|| format!("HTTP status {status}"))
    };
    if kind == "insufficient_quota" || code == "insufficient_quota" || status == 402 {
        return LlmError::QuotaExceeded { message: message() };
    }
    if kind == "overloaded_error" {
        return LlmError::Overloaded { status: 529 };
    }
    match status {
        401 | 403 => LlmError::Authentication,
        429 => LlmError::RateLimited { retry_after },
        408 | 500..=599 => LlmError::Overloaded { status },
        413 => LlmError::ContextTooLong,
        _ if mentions_context_length(body) => LlmError::ContextTooLong,
        _ => LlmError::InvalidRequest { message: message() },
    }
}

/// `retry-after-ms` (OpenAI) wins over `retry-after`, which may be seconds or an HTTP date.
pub fn retry_after_from_headers(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    if let Some(ms) = headers
        .get("retry-after-ms")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|v| v.is_finite() && *v >= 0.0)
    {
        return Some(Duration::from_secs_f64((ms / 1000.0).min(86_400.0)));
    }
    let value = headers.get("retry-after")?.to_str().ok()?;
    parse_retry_after(value, now)
}

/// Parses a `Retry-After` value: delta-seconds or an HTTP date (a date in the past means
/// "now"). Returns `None` for anything else rather than guessing.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    // Not in RFC 9110, but some proxies send fractional seconds.
    if let Ok(secs) = value.parse::<f64>() {
        if secs.is_finite() && secs >= 0.0 {
            return Some(Duration::from_secs_f64(secs.min(86_400.0)));
        }
        return None;
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(parse_retry_after("2", now), Some(Duration::from_secs(2)));
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(30));
        assert_eq!(
            parse_retry_after(&later, now),
            Some(Duration::from_secs(30))
        );
        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(30));
        assert_eq!(parse_retry_after(&earlier, now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-3", now), None);
    }

    #[test]
    fn parses_both_error_shapes() {
        let openai = br#"{"error":{"message":"This model's maximum context length is 8192 tokens","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}"#;
        let body = parse_error_body(openai);
        assert_eq!(body.code.as_deref(), Some("context_length_exceeded"));
        assert_eq!(classify(400, None, &body), LlmError::ContextTooLong);

        let anthropic = br#"{"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: 210000 tokens > 200000 maximum"}}"#;
        let body = parse_error_body(anthropic);
        assert_eq!(body.kind.as_deref(), Some("invalid_request_error"));
        assert_eq!(classify(400, None, &body), LlmError::ContextTooLong);

        let overloaded =
            br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#;
        assert_eq!(
            classify(529, None, &parse_error_body(overloaded)),
            LlmError::Overloaded { status: 529 }
        );

        let ollama = br#"{"error":"model 'llama9' not found"}"#;
        assert_eq!(
            classify(404, None, &parse_error_body(ollama)),
            LlmError::InvalidRequest {
                message: "model 'llama9' not found".into()
            }
        );
        let quota = br#"{"error":{"message":"You exceeded your current quota","type":"insufficient_quota","code":"insufficient_quota"}}"#;
        assert!(matches!(
            classify(429, None, &parse_error_body(quota)),
            LlmError::QuotaExceeded { .. }
        ));
        assert!(matches!(
            classify(400, None, &parse_error_body(b"<html>bad</html>")),
            LlmError::InvalidRequest { .. }
        ));
    }

    #[test]
    fn retryability() {
        assert!(LlmError::RateLimited { retry_after: None }.is_retryable());
        assert!(LlmError::Overloaded { status: 503 }.is_retryable());
        assert!(LlmError::Disconnected.is_retryable());
        assert!(LlmError::Timeout {
            phase: TimeoutPhase::Idle
        }
        .is_retryable());
        assert!(!LlmError::Authentication.is_retryable());
        assert!(!LlmError::ContextTooLong.is_retryable());
        assert!(!LlmError::Cancelled.is_retryable());
        assert!(!LlmError::MalformedStream { detail: "x".into() }.is_retryable());
    }
}
