//! The GET subscription handshake (`hub.mode`, `hub.challenge`, `hub.verify_token`).
//!
//! Meta calls the webhook URL once when the subscription is configured and expects the
//! challenge echoed verbatim if, and only if, the verify token matches ours.

use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use thiserror::Error;

/// The only `hub.mode` that may be answered.
const MODE_SUBSCRIBE: &str = "subscribe";

/// The handshake query parameters. Field names match the wire (`hub.mode` etc.), so this
/// type can be used directly with a query-string extractor.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct HandshakeQuery {
    /// `hub.mode`; must be `subscribe`.
    #[serde(rename = "hub.mode")]
    pub mode: Option<String>,
    /// `hub.challenge`; an opaque string to echo back.
    #[serde(rename = "hub.challenge")]
    pub challenge: Option<String>,
    /// `hub.verify_token`; must equal the configured token.
    #[serde(rename = "hub.verify_token")]
    pub verify_token: Option<String>,
}

impl HandshakeQuery {
    /// Parses a raw query string (without the leading `?`), percent-decoding values.
    /// Unknown parameters are ignored; for repeated parameters the first wins.
    pub fn from_query_string(query: &str) -> Self {
        let mut out = Self::default();
        for (key, value) in form_urlencoded::parse(query.as_bytes()) {
            let slot = match key.as_ref() {
                "hub.mode" => &mut out.mode,
                "hub.challenge" => &mut out.challenge,
                "hub.verify_token" => &mut out.verify_token,
                _ => continue,
            };
            if slot.is_none() {
                *slot = Some(value.into_owned());
            }
        }
        out
    }
}

/// Why a handshake was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum HandshakeError {
    /// `hub.mode` absent.
    #[error("hub.mode is missing")]
    MissingMode,
    /// `hub.mode` present but not `subscribe`.
    #[error("hub.mode is not `subscribe`")]
    WrongMode,
    /// `hub.verify_token` absent.
    #[error("hub.verify_token is missing")]
    MissingToken,
    /// The token does not match the configured one.
    #[error("hub.verify_token does not match")]
    TokenMismatch,
    /// `hub.challenge` absent or empty: nothing to echo.
    #[error("hub.challenge is missing")]
    MissingChallenge,
}

impl HandshakeError {
    /// HTTP status to answer with: 400 for a request that cannot be a handshake at all,
    /// 403 for a refused one. Never echo the challenge on error.
    pub fn http_status(&self) -> u16 {
        match self {
            Self::MissingChallenge => 400,
            Self::MissingMode | Self::WrongMode | Self::MissingToken | Self::TokenMismatch => 403,
        }
    }
}

/// Checks the handshake and returns the challenge to send back (`200`, `text/plain`).
///
/// The token is checked before the challenge so that a caller without the token learns
/// nothing about which parameters are accepted.
pub fn verify_subscription(
    query: &HandshakeQuery,
    expected_token: &str,
) -> Result<String, HandshakeError> {
    let mode = query.mode.as_deref().ok_or(HandshakeError::MissingMode)?;
    if mode != MODE_SUBSCRIBE {
        return Err(HandshakeError::WrongMode);
    }
    let token = query
        .verify_token
        .as_deref()
        .ok_or(HandshakeError::MissingToken)?;
    if !tokens_equal(token, expected_token) {
        return Err(HandshakeError::TokenMismatch);
    }
    match query.challenge.as_deref() {
        Some(challenge) if !challenge.is_empty() => Ok(challenge.to_owned()),
        _ => Err(HandshakeError::MissingChallenge),
    }
}

/// Constant-time comparison that also hides the expected token's length: both sides are
/// hashed first, so the comparison always covers 32 bytes.
fn tokens_equal(given: &str, expected: &str) -> bool {
    let given = Sha256::digest(given.as_bytes());
    let expected = Sha256::digest(expected.as_bytes());
    given.as_slice().ct_eq(expected.as_slice()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_encoded_values_are_decoded() {
        let q = HandshakeQuery::from_query_string(
            "hub.mode=subscribe&hub.challenge=a%20b&hub.verify_token=t%26k",
        );
        assert_eq!(verify_subscription(&q, "t&k"), Ok("a b".to_owned()));
    }

    #[test]
    fn empty_token_is_not_a_wildcard() {
        let q = HandshakeQuery::from_query_string(
            "hub.mode=subscribe&hub.challenge=1&hub.verify_token=",
        );
        assert_eq!(
            verify_subscription(&q, "secret"),
            Err(HandshakeError::TokenMismatch)
        );
    }

    #[test]
    fn first_repeated_parameter_wins() {
        let q = HandshakeQuery::from_query_string(
            "hub.mode=subscribe&hub.mode=unsubscribe&hub.challenge=9&hub.verify_token=t",
        );
        assert_eq!(verify_subscription(&q, "t"), Ok("9".to_owned()));
    }
}
