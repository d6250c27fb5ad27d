use std::time::Duration;
use switchboard_llm::Secret;

use serde_json::json;
use switchboard_llm::{ProviderConfig, ProviderKind, Timeouts};

#[test]
fn minimal_config_gets_kind_defaults() {
    let c: ProviderConfig = serde_json::from_value(json!({
        "name": "claude", "kind": "anthropic", "model": "claude-sonnet-4-5"
    }))
    .unwrap();
    assert_eq!(c.kind, ProviderKind::Anthropic);
    assert_eq!(c.base_url, "https://api.anthropic.com");
    assert!(c.capabilities.tools);
    assert_eq!(c.capabilities.context_length, 200_000);
    assert_eq!(c.timeouts, Timeouts::default());
    assert!(c.api_key.is_none());

    let c: ProviderConfig = serde_json::from_value(json!({
        "name": "local", "kind": "openai", "model": "qwen2.5:7b",
        "base_url": "http://127.0.0.1:11434/v1"
    }))
    .unwrap();
    assert_eq!(c.kind, ProviderKind::OpenAiCompatible);
    assert!(!c.capabilities.tools && !c.capabilities.json_schema && !c.capabilities.json_mode);
}

#[test]
fn full_config_and_masked_key() {
    let c: ProviderConfig = serde_json::from_value(json!({
        "name": "openai", "kind": "openai_compatible", "model": "gpt-4o-mini",
        "capabilities": {"json_schema": true, "tools": true, "context_length": 128000,
                         "price_in_per_mtok": 0.15, "price_out_per_mtok": 0.6},
        "timeouts": {"connect_ms": 3000, "first_token_ms": 20000, "idle_ms": 200, "total_ms": 60000}
    }))
    .unwrap();
    assert!(c.api_key.is_none(), "keys never come from configuration");
    let mut c = c;
    c.api_key = Some(Secret::new("sk-very-secret"));
    assert_eq!(c.base_url, "https://api.openai.com/v1");
    assert!(c.capabilities.json_schema);
    assert!(!c.capabilities.json_mode);
    assert_eq!(c.capabilities.price_out_per_mtok, Some(0.6));
    assert_eq!(c.timeouts.idle, Duration::from_millis(200));
    assert_eq!(c.timeouts.first_token, Duration::from_secs(20));
    assert_eq!(c.api_key.as_ref().unwrap().expose(), "sk-very-secret");
    let with_key = serde_json::from_value::<ProviderConfig>(json!({
        "name": "openai", "kind": "openai_compatible", "model": "m", "api_key": "sk-in-config"
    }));
    assert!(
        with_key.is_err(),
        "a key in a config file must be refused, not read"
    );
    let debug = format!("{c:?}");
    assert!(!debug.contains("very-secret"), "{debug}");
    assert!(debug.contains("Secret(****)"));
}

#[test]
fn typos_are_rejected() {
    let err = serde_json::from_value::<ProviderConfig>(json!({
        "name": "x", "kind": "openai", "model": "m", "timeouts": {"idle": 5}
    }))
    .unwrap_err();
    assert!(err.to_string().contains("idle"), "{err}");
    assert!(serde_json::from_value::<ProviderConfig>(
        json!({"name": "x", "kind": "gemini", "model": "m"})
    )
    .is_err());
}

#[test]
fn bad_base_url_is_a_config_error() {
    let mut c = ProviderConfig::new("x", ProviderKind::OpenAiCompatible, "m");
    c.base_url = "not a url".into();
    let err = switchboard_llm::connect(c).unwrap_err();
    assert!(
        matches!(err, switchboard_llm::LlmError::Config { .. }),
        "{err:?}"
    );
}

#[test]
fn local_kind_parses_without_url_or_price() {
    let c: ProviderConfig = serde_json::from_value(json!({
        "name": "offline", "kind": "local", "model": "SmolLM2-135M-Instruct.Q4_1.gguf"
    }))
    .unwrap();
    assert_eq!(c.kind, ProviderKind::Local);
    assert_eq!(c.base_url, "");
    assert_eq!(c.capabilities.price_in_per_mtok, Some(0.0));
    assert_eq!(c.capabilities.price_out_per_mtok, Some(0.0));
    assert_eq!(
        switchboard_llm::structured::choose_mode(c.kind, &c.capabilities),
        switchboard_llm::StructuredMode::Grammar
    );
}

#[cfg(not(feature = "local"))]
#[test]
fn local_kind_without_the_feature_is_a_clear_config_error() {
    let c = ProviderConfig::new("offline", ProviderKind::Local, "");
    let err = switchboard_llm::connect(c).expect_err("no local support in this build");
    let switchboard_llm::LlmError::Config { detail } = err else {
        panic!("expected a config error, got {err:?}");
    };
    assert!(detail.contains("no local model support"), "{detail}");
}
