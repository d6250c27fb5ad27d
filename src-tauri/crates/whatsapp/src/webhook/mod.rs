//! Receiving the WhatsApp webhook: handshake (GET) and notifications (POST).
//!
//! [`receive`] is the whole POST pipeline in the order the README prescribes: cap the size,
//! verify the HMAC over the raw bytes, then parse. The HTTP layer only has to buffer at most
//! [`MAX_BODY_BYTES`] + 1 bytes, call it, and answer with [`RejectedPost::http_status`] or
//! `200`.

pub mod handshake;
pub mod payload;
pub mod signature;

use thiserror::Error;

pub use handshake::{verify_subscription, HandshakeError, HandshakeQuery};
pub use payload::{parse, ParseOutcome, ParsedWebhook, PayloadError, WebhookEvent};
pub use signature::{sign, verify, SignatureError, VerifiedBody, SIGNATURE_HEADER};

/// Largest webhook body accepted. Meta documents at most 3 MB; 4 MiB leaves headroom while
/// still refusing absurd bodies before they are hashed or parsed.
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// Why a webhook POST was refused, in pipeline order.
#[derive(Debug, Error)]
pub enum RejectedPost {
    /// The body exceeds [`MAX_BODY_BYTES`] (`413`).
    #[error("body of {len} bytes exceeds the {limit}-byte cap")]
    TooLarge {
        /// Size of the refused body, or of the prefix read before giving up.
        len: usize,
        /// The cap in force.
        limit: usize,
    },
    /// Missing or wrong signature (`401`).
    #[error(transparent)]
    Signature(#[from] SignatureError),
    /// Signed but unusable body (`400`). Meta will redeliver it; logging it is enough.
    #[error(transparent)]
    Payload(#[from] PayloadError),
}

impl RejectedPost {
    /// HTTP status to answer with.
    pub fn http_status(&self) -> u16 {
        match self {
            Self::TooLarge { .. } => 413,
            Self::Signature(e) => e.http_status(),
            Self::Payload(e) => e.http_status(),
        }
    }
}

/// Refuses bodies above [`MAX_BODY_BYTES`]. Call it while streaming the body in, too, so an
/// oversized request is cut off before it is fully buffered.
pub fn check_body_size(len: usize) -> Result<(), RejectedPost> {
    if len > MAX_BODY_BYTES {
        Err(RejectedPost::TooLarge {
            len,
            limit: MAX_BODY_BYTES,
        })
    } else {
        Ok(())
    }
}

/// The full POST pipeline: size cap, then signature, then parse.
///
/// `signature_header` is the value of `X-Hub-Signature-256`, if present. On `Ok`, answer
/// `200` (both for processed and ignored bodies).
pub fn receive(
    app_secret: &[u8],
    signature_header: Option<&str>,
    body: &[u8],
) -> Result<ParseOutcome, RejectedPost> {
    check_body_size(body.len())?;
    let verified = verify(app_secret, signature_header, body)?;
    Ok(parse(verified)?)
}
