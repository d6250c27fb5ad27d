//! Integration tests against the shared WhatsApp fixtures (`MANIFEST.json`).

mod coverage;
mod fixtures;
mod graph_client;
mod handshake;
mod hostile;
mod invariants;
mod media;
mod outbound;
mod properties;
mod sequences;
mod signature;
mod webhook_posts;
