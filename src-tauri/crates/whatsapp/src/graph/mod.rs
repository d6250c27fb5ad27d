//! The Graph API side: what we send to `POST /{version}/{phone-number-id}/messages`, what
//! comes back, and the I/O that connects the two.
//!
//! - [`types`]: request bodies, responses and error classification (pure).
//! - [`client`]: the HTTP client (sends, read receipts, media download).
//! - [`retry`]: what to do after a failed call (pure, unit-testable).
//! - [`limits`]: per-number and per-recipient send rate limits.

pub mod client;
mod download;
pub mod limits;
pub mod retry;
pub mod types;
