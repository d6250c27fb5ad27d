//! The incremental JSON reader that streams the reply text: `[seed][document]`, see
//! `invariants::partial_json`.
#![no_main]

#[allow(dead_code)]
#[path = "../../src-tauri/crates/llm/tests/it/invariants.rs"]
mod invariants;

libfuzzer_sys::fuzz_target!(|data: &[u8]| invariants::partial_json(data));
