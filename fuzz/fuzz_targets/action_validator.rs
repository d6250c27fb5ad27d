//! The action validator on arbitrary model output, see `invariants::action_validator`.
#![no_main]

#[allow(dead_code)]
#[path = "../../src-tauri/crates/pipeline/tests/it/invariants.rs"]
mod invariants;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    invariants::action_validator(data);
});
