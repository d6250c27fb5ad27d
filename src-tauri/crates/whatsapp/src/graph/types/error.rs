//! Graph API error bodies and what to do about them (README section 5).
//!
//! Decisions branch on `code` (and `is_transient` for codes not in the table), never on the
//! message text, which Meta rewords freely.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::webhook::payload::ApiError;

/// `{"error": {...}}` as returned with a non-2xx status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GraphErrorBody {
    /// The error.
    pub error: GraphError,
}

/// The `error` object of a Graph API response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Error)]
#[error("Graph API error {code}{}: {message}", subcode_suffix(*.error_subcode))]
pub struct GraphError {
    /// Message text; for logs only.
    #[serde(default)]
    pub message: String,
    /// `type`, e.g. `OAuthException`.
    #[serde(default, rename = "type")]
    pub error_type: Option<String>,
    /// The code to branch on.
    pub code: i64,
    /// Finer code, e.g. 463 (token expired) or 33 (unknown media id).
    #[serde(default)]
    pub error_subcode: Option<i64>,
    /// `error_data`, with `details`.
    #[serde(default)]
    pub error_data: Option<GraphErrorData>,
    /// Meta's trace id, for support requests.
    #[serde(default)]
    pub fbtrace_id: Option<String>,
    /// Sent on some rate-limit errors.
    #[serde(default)]
    pub is_transient: Option<bool>,
    /// User-facing title, when sent.
    #[serde(default)]
    pub error_user_title: Option<String>,
    /// User-facing message, when sent.
    #[serde(default)]
    pub error_user_msg: Option<String>,
}

fn subcode_suffix(subcode: Option<i64>) -> String {
    subcode.map(|s| format!("/{s}")).unwrap_or_default()
}

/// `error.error_data`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GraphErrorData {
    /// Usually `whatsapp`.
    #[serde(default)]
    pub messaging_product: Option<String>,
    /// Machine-oriented detail; safe to show an operator.
    #[serde(default)]
    pub details: Option<String>,
}

impl GraphError {
    /// `error_data.details`, if present.
    pub fn details(&self) -> Option<&str> {
        self.error_data.as_ref().and_then(|d| d.details.as_deref())
    }

    /// What to do about this error.
    pub fn classify(&self) -> RetryDecision {
        classify_code(self.code, self.is_transient.unwrap_or(false))
    }
}

impl ApiError {
    /// What to do about an error reported in a webhook (e.g. a `failed` status with
    /// 131047). Same table as synchronous errors.
    pub fn classify(&self) -> RetryDecision {
        classify_code(self.code, false)
    }
}

/// The retry policy for an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum RetryDecision {
    /// Do not resend this request unchanged.
    NoRetry {
        /// Why.
        reason: NoRetryReason,
    },
    /// 131047: outside the 24 h customer service window. Do not retry; send an approved
    /// template instead.
    WindowClosed,
    /// Retry after a delay of the given kind.
    RetryBackoff {
        /// Which limit or failure, which decides the delay and its scope.
        kind: BackoffKind,
    },
    /// 190 / 0: the access token is invalid. Refresh it, then retry once.
    ReauthOnce,
}

impl RetryDecision {
    /// Whether an automatic retry of the same request is allowed (possibly after re-auth).
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::RetryBackoff { .. } | Self::ReauthOnce)
    }

    /// Whether an operator should be told (policy blocks, permissions).
    pub fn needs_operator_alert(&self) -> bool {
        matches!(
            self,
            Self::NoRetry {
                reason: NoRetryReason::PolicyBlocked | NoRetryReason::PermissionMissing
            }
        )
    }
}

/// Why an error must not be retried as is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NoRetryReason {
    /// 131026: the recipient cannot receive the message.
    Undeliverable,
    /// 100, 131008, 131009, 131051: the request is malformed; fix it.
    InvalidRequest,
    /// 132000, 132012, 132015, 132016: template parameters or state.
    TemplateProblem,
    /// 132001: the template name/language does not exist.
    TemplateMissing,
    /// 131048: spam rate limit; no automatic retry.
    SpamRateLimited,
    /// 10, 200–299: a permission is missing.
    PermissionMissing,
    /// 368: blocked for policy violations; stop and alert.
    PolicyBlocked,
    /// A code not in the table. Not retried, to avoid hammering on an unknown condition.
    Unclassified,
}

/// The kinds of retryable failure; each has its own delay scale and scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BackoffKind {
    /// 130429: per-number throughput. Back off seconds with jitter, lower the send rate.
    Throughput,
    /// 131056: pair rate limit. Delay only this recipient (~6 s+).
    PairRate,
    /// 4, 80007: app or WABA rate limit. Back off minutes.
    AppRate,
    /// 131000, 2, 131016 (or `is_transient`): retry a few times with backoff.
    Transient,
}

impl BackoffKind {
    /// A sensible first delay; callers add exponential growth and jitter.
    pub fn base_delay(self) -> Duration {
        match self {
            Self::Throughput => Duration::from_secs(1),
            Self::PairRate => Duration::from_secs(6),
            Self::AppRate => Duration::from_secs(60),
            Self::Transient => Duration::from_secs(2),
        }
    }

    /// Whether the delay applies to one recipient only (others may still be sent to).
    pub fn is_per_recipient(self) -> bool {
        matches!(self, Self::PairRate)
    }
}

/// The README section 5 table. `is_transient` only matters for codes the table does not
/// name.
pub fn classify_code(code: i64, is_transient: bool) -> RetryDecision {
    use BackoffKind::*;
    use NoRetryReason::*;
    let no = |reason| RetryDecision::NoRetry { reason };
    let backoff = |kind| RetryDecision::RetryBackoff { kind };
    match code {
        131047 => RetryDecision::WindowClosed,
        131026 => no(Undeliverable),
        100 | 131008 | 131009 | 131051 => no(InvalidRequest),
        132000 | 132012 | 132015 | 132016 => no(TemplateProblem),
        132001 => no(TemplateMissing),
        130429 => backoff(Throughput),
        131056 => backoff(PairRate),
        4 | 80007 => backoff(AppRate),
        131048 => no(SpamRateLimited),
        190 | 0 => RetryDecision::ReauthOnce,
        10 | 200..=299 => no(PermissionMissing),
        368 => no(PolicyBlocked),
        131000 | 2 | 131016 => backoff(Transient),
        _ if is_transient => backoff(Transient),
        _ => no(Unclassified),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        assert_eq!(classify_code(131047, false), RetryDecision::WindowClosed);
        assert_eq!(classify_code(190, false), RetryDecision::ReauthOnce);
        assert_eq!(classify_code(0, false), RetryDecision::ReauthOnce);
        assert_eq!(
            classify_code(250, false),
            RetryDecision::NoRetry {
                reason: NoRetryReason::PermissionMissing
            }
        );
        assert_eq!(
            classify_code(2, false),
            RetryDecision::RetryBackoff {
                kind: BackoffKind::Transient
            }
        );
        assert_eq!(
            classify_code(999_999, false),
            RetryDecision::NoRetry {
                reason: NoRetryReason::Unclassified
            }
        );
        assert_eq!(
            classify_code(999_999, true),
            RetryDecision::RetryBackoff {
                kind: BackoffKind::Transient
            }
        );
        assert!(classify_code(368, false).needs_operator_alert());
    }
}
