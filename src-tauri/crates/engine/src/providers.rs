//! The model chain from configuration: primary first, then the fallbacks.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use switchboard_core::config::{Config, ProviderEntry, ProviderKind};
use switchboard_core::secrets::{SecretName, SecretStore};
use switchboard_llm::{Capabilities, Provider, ProviderConfig, Timeouts};

/// The default offline model's file, as `scripts/fetch-model` places it in the data directory.
pub const DEFAULT_MODEL_FILE: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";

/// Builds every configured provider; one that cannot be built is skipped with a warning
/// (the rest of the chain still works, and tier 3 escalates if none does). With none
/// configured, the embedded local model is the default.
pub fn chain(
    config: &Config,
    secrets: &dyn SecretStore,
    data_dir: &Path,
) -> Vec<Arc<dyn Provider>> {
    if config.llm.providers.is_empty() {
        return local_default(config, data_dir).into_iter().collect();
    }
    let mut chain = Vec::new();
    for entry in &config.llm.providers {
        match build(entry, config, secrets, data_dir) {
            Ok(provider) => chain.push(provider),
            Err(e) => {
                tracing::warn!(provider = %entry.name, error = %e, "cannot use this model provider")
            }
        }
    }
    chain
}

fn build(
    entry: &ProviderEntry,
    config: &Config,
    secrets: &dyn SecretStore,
    _data_dir: &Path,
) -> Result<Arc<dyn Provider>, String> {
    let kind = match entry.kind {
        ProviderKind::OpenaiCompatible => switchboard_llm::ProviderKind::OpenAiCompatible,
        ProviderKind::Anthropic => switchboard_llm::ProviderKind::Anthropic,
        ProviderKind::Local => switchboard_llm::ProviderKind::Local,
    };
    let mut provider = ProviderConfig::new(entry.name.clone(), kind, entry.model.clone());
    if !entry.base_url.is_empty() {
        provider.base_url = entry.base_url.trim_end_matches('/').to_string();
    }
    provider.api_key = secrets
        .get(&SecretName::LlmKey {
            provider: entry.name.clone(),
            env: entry.api_key_env(),
        })
        .map_err(|e| e.to_string())?;
    provider.capabilities = Capabilities {
        json_schema: entry.json_schema,
        tools: entry.tools,
        json_mode: entry.json_mode,
        context_length: entry.context_length,
        price_in_per_mtok: entry.price_in_per_mtok,
        price_out_per_mtok: entry.price_out_per_mtok,
    };
    let llm = &config.llm;
    provider.timeouts = Timeouts {
        connect: Duration::from_millis(llm.connect_timeout_ms),
        first_token: Duration::from_millis(llm.first_token_timeout_ms),
        idle: Duration::from_millis(llm.idle_timeout_ms),
        total: Duration::from_millis(llm.total_timeout_ms),
    };
    switchboard_llm::connect(provider).map_err(|e| e.to_string())
}

/// The offline default: the GGUF file in the data directory (or the configured path).
#[cfg(feature = "local-model")]
fn local_default(config: &Config, data_dir: &Path) -> Option<Arc<dyn Provider>> {
    let path = config
        .llm
        .local_model_path
        .clone()
        .unwrap_or_else(|| data_dir.join("models").join(DEFAULT_MODEL_FILE));
    if !path.exists() {
        tracing::warn!(path = %path.display(), "the offline model is not there; run scripts/fetch-model, or configure a provider");
        return None;
    }
    let mut provider = ProviderConfig::new(
        "local",
        switchboard_llm::ProviderKind::Local,
        "SmolLM2-135M-Instruct",
    );
    provider.timeouts = Timeouts {
        connect: Duration::from_millis(config.llm.connect_timeout_ms),
        first_token: Duration::from_millis(config.llm.first_token_timeout_ms),
        idle: Duration::from_millis(config.llm.idle_timeout_ms),
        total: Duration::from_millis(config.llm.total_timeout_ms),
    };
    let mut local = switchboard_llm::LocalConfig::new(path);
    local.threads = config.llm.local_threads.max(1);
    local.context_tokens = config.llm.local_context.max(512);
    match switchboard_llm::LocalProvider::with_local_config(provider, local) {
        Ok(provider) => Some(Arc::new(provider)),
        Err(e) => {
            tracing::warn!(error = %e, "cannot load the offline model");
            None
        }
    }
}

#[cfg(not(feature = "local-model"))]
fn local_default(_config: &Config, _data_dir: &Path) -> Option<Arc<dyn Provider>> {
    tracing::warn!("this build has no embedded model and no provider is configured; runs will be escalated to a person");
    None
}
