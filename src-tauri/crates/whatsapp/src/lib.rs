//! WhatsApp Cloud API (Meta Graph API) building blocks for Switchboard.
//!
//! This crate is deliberately I/O free: it turns raw webhook requests into typed events and
//! builds typed outbound request bodies, and leaves HTTP serving, persistence and retries to
//! the callers. The order of operations for a webhook POST is fixed by [`webhook::receive`]:
//! cap the body size, verify the HMAC over the exact bytes, and only then parse.
//!
//! Modules:
//! - [`webhook::signature`]: `X-Hub-Signature-256` verification and signing.
//! - [`webhook::handshake`]: the GET subscription handshake.
//! - [`webhook::payload`]: tolerant parsing of verified bodies into events.
//! - [`graph::types`]: outbound request bodies with enforced limits, responses and error
//!   classification.
//! - [`media`]: the media URL lookup response.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod graph;
pub mod media;
mod serde_util;
pub mod webhook;
