//! The `X-Hub-Signature-256` check: `[n][secret][m][header][body]`.
#![no_main]

#[allow(dead_code)]
#[path = "../../src-tauri/crates/whatsapp/tests/it/invariants.rs"]
mod invariants;

libfuzzer_sys::fuzz_target!(|data: &[u8]| invariants::signature(data));
