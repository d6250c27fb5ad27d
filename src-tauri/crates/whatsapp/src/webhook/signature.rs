//! `X-Hub-Signature-256` verification.
//!
//! Meta signs the exact bytes it sends (compact JSON with `\uXXXX` and `\/` escapes), so the
//! HMAC must be computed over the raw body before anything parses or re-serialises it. The
//! only way to obtain a [`VerifiedBody`] is a successful [`verify`] (or the explicitly named
//! [`VerifiedBody::assume_verified`]), so the parser cannot be handed unauthenticated bytes
//! by accident.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use thiserror::Error;

/// The header Meta puts the signature in. The legacy SHA-1 `X-Hub-Signature` is ignored.
pub const SIGNATURE_HEADER: &str = "X-Hub-Signature-256";

/// The scheme prefix of the header value.
const PREFIX: &str = "sha256=";

/// Length of a hex-encoded SHA-256 digest.
const HEX_DIGEST_LEN: usize = 64;

type HmacSha256 = Hmac<Sha256>;

/// Why a signature was refused. Every variant maps to `401` at the HTTP layer; the variants
/// exist for logs, never for the response body (which must not help an attacker).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SignatureError {
    /// No `X-Hub-Signature-256` header at all.
    #[error("missing X-Hub-Signature-256 header")]
    MissingHeader,
    /// The header does not start with `sha256=`.
    #[error("signature header does not start with `sha256=`")]
    WrongScheme,
    /// The digest is not exactly 64 lowercase hex characters.
    #[error("signature digest is not 64 lowercase hex characters")]
    MalformedDigest,
    /// Well-formed, but the HMAC over the body does not match.
    #[error("signature does not match the body")]
    Mismatch,
}

impl SignatureError {
    /// HTTP status to answer with. The README allows 401 or 403; 401 is used throughout.
    pub fn http_status(&self) -> u16 {
        401
    }
}

/// A request body whose HMAC has been checked. It borrows the original bytes unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifiedBody<'a>(&'a [u8]);

impl<'a> VerifiedBody<'a> {
    /// Wraps bytes **without** checking any signature.
    ///
    /// Only for bodies this process produced itself, such as the sandbox simulator that
    /// fabricates webhooks locally, and for tests. Never call it on bytes that came from the
    /// network: use [`verify`].
    pub fn assume_verified(body: &'a [u8]) -> Self {
        Self(body)
    }

    /// The exact bytes that were verified.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.0
    }
}

/// Verifies `header` (the value of `X-Hub-Signature-256`) against `body`.
///
/// Follows `verification/signature_cases.json` exactly: the value must be `sha256=` followed
/// by the lowercase hex HMAC-SHA256 of the raw body keyed with the app secret. The digest
/// comparison is constant time ([`Mac::verify_slice`]).
pub fn verify<'a>(
    app_secret: &[u8],
    header: Option<&str>,
    body: &'a [u8],
) -> Result<VerifiedBody<'a>, SignatureError> {
    let header = header.ok_or(SignatureError::MissingHeader)?;
    let hex_digest = header
        .strip_prefix(PREFIX)
        .ok_or(SignatureError::WrongScheme)?;
    // The rule is "lowercase hex"; uppercase is refused rather than normalised so that the
    // accepted language is exactly what Meta sends.
    let well_formed = hex_digest.len() == HEX_DIGEST_LEN
        && hex_digest
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if !well_formed {
        return Err(SignatureError::MalformedDigest);
    }
    let expected = hex::decode(hex_digest).map_err(|_| SignatureError::MalformedDigest)?;
    let mut mac = keyed_mac(app_secret);
    mac.update(body);
    mac.verify_slice(&expected)
        .map_err(|_| SignatureError::Mismatch)?;
    Ok(VerifiedBody(body))
}

/// Computes the `X-Hub-Signature-256` header value for `body` (`sha256=<lowercase hex>`).
///
/// Used by the sandbox simulator to produce webhooks that pass [`verify`].
pub fn sign(app_secret: &[u8], body: &[u8]) -> String {
    let mut mac = keyed_mac(app_secret);
    mac.update(body);
    format!("{PREFIX}{}", hex::encode(mac.finalize().into_bytes()))
}

fn keyed_mac(app_secret: &[u8]) -> HmacSha256 {
    // HMAC is defined for keys of any length (long keys are hashed, short ones padded), so
    // `new_from_slice` cannot fail for Hmac<Sha256>; the error type exists only because the
    // trait is shared with fixed-key MACs. The secret is configuration, not request input.
    HmacSha256::new_from_slice(app_secret).expect("HMAC-SHA256 accepts keys of any length")
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"test-app-secret";

    #[test]
    fn sign_then_verify_roundtrips() {
        let body = br#"{"object":"whatsapp_business_account"}"#;
        let header = sign(SECRET, body);
        assert!(header.starts_with("sha256="));
        let verified = verify(SECRET, Some(&header), body).map(|v| v.as_bytes());
        assert_eq!(verified, Ok(&body[..]));
    }

    #[test]
    fn empty_secret_and_empty_body_are_fine() {
        let header = sign(b"", b"");
        assert!(verify(b"", Some(&header), b"").is_ok());
        assert_eq!(
            verify(b"x", Some(&header), b""),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn uppercase_hex_is_refused() {
        let body = b"{}";
        let header = sign(SECRET, body)
            .to_ascii_uppercase()
            .replace("SHA256=", "sha256=");
        assert_eq!(
            verify(SECRET, Some(&header), body),
            Err(SignatureError::MalformedDigest)
        );
    }

    #[test]
    fn non_ascii_header_does_not_panic() {
        let header = format!("sha256={}", "é".repeat(32));
        assert_eq!(
            verify(SECRET, Some(&header), b"{}"),
            Err(SignatureError::MalformedDigest)
        );
    }
}
