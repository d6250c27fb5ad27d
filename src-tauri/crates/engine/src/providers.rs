//! The model chain from configuration: primary first, then the fallbacks.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use switchboard_core::config::{Config, ProviderEntry, ProviderKind};
use switchboard_core::secrets::{SecretName, SecretStore};
use switchboard_llm::{Capabilities, Provider, ProviderConfig, Timeouts};

/// Builds every configured provider; one that cannot be built is skipped with a warning
/// (the rest of the chain still works, and tier 3 escalates if none does).
pub fn chain(
    config: &Config,
    secrets: &dyn SecretStore,
    data_dir: &Path,
) -> Vec<Arc<dyn Provider>> {
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
