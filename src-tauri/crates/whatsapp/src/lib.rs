//! WhatsApp Cloud API (Meta Graph API) building blocks for Switchboard.
//!
//! The webhook side is I/O free: it turns raw webhook requests into typed events and leaves
//! HTTP serving and persistence to the callers. The sending side has one I/O module,
//! [`graph::client`] (reqwest), next to pure retry decisions ([`graph::retry`]) and rate
//! limits ([`graph::limits`]); queues and scheduling stay with the callers.
//!
//! The order of operations for a webhook POST is fixed by [`webhook::receive`]: cap the
//! body size, verify the HMAC over the exact bytes, and only then parse.
//!
//! Modules:
//! - [`webhook::signature`]: `X-Hub-Signature-256` verification and signing.
//! - [`webhook::handshake`]: the GET subscription handshake.
//! - [`webhook::payload`]: tolerant parsing of verified bodies into events.
//! - [`graph::types`]: outbound request bodies with enforced limits, responses and error
//!   classification.
//! - [`graph::client`]: sends, read receipts and verified media downloads over HTTP.
//! - [`graph::retry`]: the next step after a failed call (backoff, pause, give up).
//! - [`graph::limits`]: per-number and per-recipient send rate limits.
//! - [`media`]: the media URL lookup response.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod graph;
pub mod media;
mod serde_util;
pub mod webhook;
