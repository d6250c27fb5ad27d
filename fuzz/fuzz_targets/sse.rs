//! The SSE decoding path (framing, both providers' event decoders, the completion fold):
//! `[seed][body]`, see `invariants::sse`.
#![no_main]

#[allow(dead_code)]
#[path = "../../src-tauri/crates/llm/tests/it/invariants.rs"]
mod invariants;

libfuzzer_sys::fuzz_target!(|data: &[u8]| invariants::sse(data));
