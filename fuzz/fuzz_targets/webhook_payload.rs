//! The webhook payload parser on arbitrary (signed) bodies.
#![no_main]

#[allow(dead_code)]
#[path = "../../src-tauri/crates/whatsapp/tests/it/invariants.rs"]
mod invariants;

libfuzzer_sys::fuzz_target!(|data: &[u8]| invariants::webhook_payload(data));
