//! What to do after a failed Graph call (README section 5), as a pure function.
//!
//! [`next_step_with_jitter`] is deterministic: it takes the jitter as a number in `[0, 1]`,
//! so tests pin exact delays. [`next_step`] draws that number from a caller-supplied RNG
//! (a seeded one in tests, `rand::rng()` in production). Neither sleeps or does I/O: the
//! caller owns the queue and the clock.
//!
//! | error | step |
//! |---|---|
//! | 130429 throughput, 429 without body | `RetryAfter` seconds, exponential + jitter |
//! | 131056 pair rate | `DelayRecipient` (~6 s+): only this recipient waits |
//! | 4, 80007 app/WABA rate | `RetryAfter` minutes |
//! | 131000, 2, 131016, 5xx, network, timeout | `RetryAfter`, a few times |
//! | 190, 0 token | `Pause(TokenExpired)` |
//! | 368 policy block, 10/200–299 permission | `Pause(..)`: every send would fail alike |
//! | 131047 window | `GiveUp(WindowClosed)`: send a template instead |
//! | 100, 131008, 131009, 131051, 132xxx, 131026, 131048, unknown | `GiveUp(Rejected)` |

use std::time::Duration;

use rand::Rng;
use serde::Serialize;

use super::client::SendError;
use super::types::{BackoffKind, NoRetryReason, RetryDecision};

/// Delay growth and attempt limit for one kind of retryable failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Delay before the first retry; doubles with each further attempt.
    pub base: Duration,
    /// Cap of the delay before jitter.
    pub max: Duration,
    /// Total attempts allowed, the first included: 1 means never retry.
    pub max_attempts: u32,
}

/// Retry configuration. `Default` follows README section 5.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// 130429: seconds.
    pub throughput: Backoff,
    /// 131056: at least the ~6 s pair interval.
    pub pair_rate: Backoff,
    /// 4, 80007: minutes.
    pub app_rate: Backoff,
    /// 131000, 2, 131016, 5xx, network, timeout: a few times.
    pub transient: Backoff,
    /// Jitter as a fraction of the delay, added on top (`0.5`: delay × [1, 1.5)). Added
    /// rather than spread around the delay, so a pair-rate delay never drops below 6 s,
    /// while the spread still keeps many failed sends from retrying in lockstep.
    pub jitter: f64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        let backoff = |kind: BackoffKind, max_secs, max_attempts| Backoff {
            base: kind.base_delay(),
            max: Duration::from_secs(max_secs),
            max_attempts,
        };
        Self {
            throughput: backoff(BackoffKind::Throughput, 30, 8),
            pair_rate: backoff(BackoffKind::PairRate, 60, 5),
            app_rate: backoff(BackoffKind::AppRate, 15 * 60, 5),
            transient: backoff(BackoffKind::Transient, 60, 4),
            jitter: 0.5,
        }
    }
}

impl RetryPolicy {
    /// The same policy with one attempt limit for every kind.
    pub fn with_max_attempts(mut self, max_attempts: u32) -> Self {
        for b in [
            &mut self.throughput,
            &mut self.pair_rate,
            &mut self.app_rate,
            &mut self.transient,
        ] {
            b.max_attempts = max_attempts;
        }
        self
    }

    /// The backoff of a kind.
    pub fn backoff(&self, kind: BackoffKind) -> &Backoff {
        match kind {
            BackoffKind::Throughput => &self.throughput,
            BackoffKind::PairRate => &self.pair_rate,
            BackoffKind::AppRate => &self.app_rate,
            BackoffKind::Transient => &self.transient,
        }
    }
}

/// What the caller does next with the failed request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Retry this request after the delay. For throughput and app limits, the caller should
    /// also slow the whole number down (see [`crate::graph::limits::SendLimiter::defer_all`]).
    RetryAfter {
        /// How long to wait.
        delay: Duration,
        /// Why.
        kind: BackoffKind,
    },
    /// 131056: retry after the delay, delaying only this recipient; sends to others go on.
    DelayRecipient {
        /// How long this recipient waits.
        delay: Duration,
    },
    /// Stop all sending on this number and tell the operators; keep this request queued
    /// and resume after they act (a new token, a lifted restriction, a granted permission).
    Pause(PauseReason),
    /// Do not send this request again.
    GiveUp(GiveUpReason),
}

/// Why all sending stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PauseReason {
    /// 190 / 0: the access token is invalid or expired. Retry once with a new token.
    TokenExpired,
    /// 368: the account is restricted for policy violations.
    AccountRestricted,
    /// 10, 200–299: the token lacks a permission.
    PermissionMissing,
}

/// Why a request is abandoned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum GiveUpReason {
    /// 131047: outside the 24 h window; send an approved template instead.
    WindowClosed,
    /// Graph refused the request for a reason a retry cannot fix.
    Rejected {
        /// Which.
        why: NoRetryReason,
    },
    /// The retryable failure kept happening.
    RetriesExhausted {
        /// Of which kind the last failure was.
        kind: BackoffKind,
        /// Attempts made.
        attempts: u32,
    },
    /// A response that is neither success nor a Graph error, on a status that says nothing
    /// retryable. Graph may have accepted the message, so a blind retry could duplicate it.
    UnexpectedResponse {
        /// HTTP status.
        status: u16,
    },
}

impl GiveUpReason {
    /// Whether an operator should look at it (as opposed to routine outcomes like a closed
    /// window or an undeliverable recipient).
    pub fn needs_operator_attention(&self) -> bool {
        match self {
            Self::WindowClosed => false,
            Self::Rejected { why } => !matches!(why, NoRetryReason::Undeliverable),
            Self::RetriesExhausted { .. } | Self::UnexpectedResponse { .. } => true,
        }
    }
}

/// [`next_step_with_jitter`] with the jitter drawn from `rng`.
pub fn next_step<R: Rng + ?Sized>(
    error: &SendError,
    attempt: u32,
    policy: &RetryPolicy,
    rng: &mut R,
) -> Step {
    next_step_with_jitter(error, attempt, policy, rng.random::<f64>())
}

/// What to do after attempt number `attempt` (1 for the first) failed with `error`.
/// `jitter` is a sample in `[0, 1]` (clamped; NaN counts as 0).
pub fn next_step_with_jitter(
    error: &SendError,
    attempt: u32,
    policy: &RetryPolicy,
    jitter: f64,
) -> Step {
    let decision = match error.decision() {
        Some(decision) => decision,
        None => {
            let status = match error {
                SendError::Undecodable { status, .. } => *status,
                _ => 0,
            };
            return Step::GiveUp(GiveUpReason::UnexpectedResponse { status });
        }
    };
    match decision {
        RetryDecision::WindowClosed => Step::GiveUp(GiveUpReason::WindowClosed),
        RetryDecision::ReauthOnce => Step::Pause(PauseReason::TokenExpired),
        RetryDecision::NoRetry {
            reason: NoRetryReason::PolicyBlocked,
        } => Step::Pause(PauseReason::AccountRestricted),
        RetryDecision::NoRetry {
            reason: NoRetryReason::PermissionMissing,
        } => Step::Pause(PauseReason::PermissionMissing),
        RetryDecision::NoRetry { reason } => Step::GiveUp(GiveUpReason::Rejected { why: reason }),
        RetryDecision::RetryBackoff { kind } => {
            let backoff = policy.backoff(kind);
            let attempt = attempt.max(1);
            if attempt >= backoff.max_attempts {
                return Step::GiveUp(GiveUpReason::RetriesExhausted {
                    kind,
                    attempts: attempt,
                });
            }
            let delay = backoff_delay(backoff, attempt, policy.jitter, jitter);
            if kind.is_per_recipient() {
                Step::DelayRecipient { delay }
            } else {
                Step::RetryAfter { delay, kind }
            }
        }
    }
}

/// `min(base × 2^(attempt−1), max) × (1 + ratio × jitter)`, saturating; never panics on
/// odd configuration (huge durations, NaN or negative ratios).
pub fn backoff_delay(backoff: &Backoff, attempt: u32, ratio: f64, jitter: f64) -> Duration {
    let doublings = attempt.saturating_sub(1).min(31);
    let grown = backoff.base.saturating_mul(1u32 << doublings);
    let capped = grown.min(backoff.max);
    let unit = |x: f64| {
        if x.is_finite() {
            x.clamp(0.0, 1.0)
        } else {
            0.0
        }
    };
    let extra = Duration::try_from_secs_f64(capped.as_secs_f64() * unit(ratio) * unit(jitter))
        .unwrap_or(Duration::ZERO);
    capped.saturating_add(extra)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delay_grows_caps_and_jitters_upwards() {
        let b = Backoff {
            base: Duration::from_secs(1),
            max: Duration::from_secs(10),
            max_attempts: 10,
        };
        assert_eq!(backoff_delay(&b, 1, 0.5, 0.0), Duration::from_secs(1));
        assert_eq!(backoff_delay(&b, 2, 0.5, 0.0), Duration::from_secs(2));
        assert_eq!(backoff_delay(&b, 3, 0.5, 1.0), Duration::from_secs(6));
        assert_eq!(backoff_delay(&b, 9, 0.5, 0.0), Duration::from_secs(10));
        assert_eq!(
            backoff_delay(&b, u32::MAX, 0.5, 0.0),
            Duration::from_secs(10)
        );
        assert_eq!(
            backoff_delay(&b, 1, f64::NAN, f64::INFINITY),
            Duration::from_secs(1)
        );
        assert_eq!(backoff_delay(&b, 1, -3.0, 0.5), Duration::from_secs(1));
        let huge = Backoff {
            base: Duration::MAX,
            max: Duration::MAX,
            max_attempts: 10,
        };
        assert_eq!(backoff_delay(&huge, 5, 1.0, 1.0), Duration::MAX);
    }

    #[test]
    fn transport_failures_are_transient_until_exhausted() {
        let policy = RetryPolicy::default();
        for err in [
            SendError::Timeout,
            SendError::Network {
                detail: "reset".into(),
            },
            SendError::Undecodable {
                status: 502,
                body_excerpt: "<html>".into(),
            },
        ] {
            assert_eq!(
                next_step_with_jitter(&err, 1, &policy, 0.0),
                Step::RetryAfter {
                    delay: Duration::from_secs(2),
                    kind: BackoffKind::Transient
                }
            );
            assert_eq!(
                next_step_with_jitter(&err, 4, &policy, 0.0),
                Step::GiveUp(GiveUpReason::RetriesExhausted {
                    kind: BackoffKind::Transient,
                    attempts: 4
                })
            );
        }
        let odd = SendError::Undecodable {
            status: 200,
            body_excerpt: "{}".into(),
        };
        assert_eq!(
            next_step_with_jitter(&odd, 1, &policy, 0.0),
            Step::GiveUp(GiveUpReason::UnexpectedResponse { status: 200 })
        );
    }
}
