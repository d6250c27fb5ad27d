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
    data_dir: &Path,
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
        context_length: entry.context_length(&config.llm),
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
    if entry.kind == ProviderKind::Local {
        return local_entry(provider, config, data_dir);
    }
    switchboard_llm::connect(provider).map_err(|e| e.to_string())
}

/// The file a `local` entry's `model` names, seen from this engine's data directory: a
/// path with a directory part is used as is, a bare file name is looked up in
/// `<data_dir>/models`, and an empty name means the default model there. (The llm crate's
/// own lookup uses the desktop app's data directory, which is wrong for `serve
/// --data-dir`.)
pub fn local_model_file(model: &str, data_dir: &Path) -> std::path::PathBuf {
    let model = model.trim();
    let name = if model.is_empty() {
        DEFAULT_MODEL_FILE
    } else {
        model
    };
    let path = Path::new(name);
    if path.is_absolute() || path.components().count() > 1 {
        path.to_path_buf()
    } else {
        data_dir.join("models").join(path)
    }
}

/// A configured `local` entry, with the engine-wide thread count; its context size is the
/// entry's `context_length`, which defaults to `llm.local_context`.
#[cfg(feature = "local-model")]
fn local_entry(
    provider: ProviderConfig,
    config: &Config,
    data_dir: &Path,
) -> Result<Arc<dyn Provider>, String> {
    local_provider(provider, config, data_dir).map(|p| Arc::new(p) as Arc<dyn Provider>)
}

#[cfg(feature = "local-model")]
fn local_provider(
    provider: ProviderConfig,
    config: &Config,
    data_dir: &Path,
) -> Result<switchboard_llm::LocalProvider, String> {
    let mut local = switchboard_llm::LocalConfig::new(local_model_file(&provider.model, data_dir));
    local.threads = config.llm.local_threads.max(1);
    local.context_tokens = provider.capabilities.context_length.max(512);
    switchboard_llm::LocalProvider::with_local_config(provider, local).map_err(|e| e.to_string())
}

#[cfg(not(feature = "local-model"))]
fn local_entry(
    provider: ProviderConfig,
    _config: &Config,
    _data_dir: &Path,
) -> Result<Arc<dyn Provider>, String> {
    Err(format!(
        "provider {:?} is of kind `local`, but this build has no embedded model support",
        provider.name
    ))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_model_names_resolve_against_the_engines_data_dir() {
        let data = Path::new("/srv/switchboard");
        assert_eq!(
            local_model_file("", data),
            data.join("models").join(DEFAULT_MODEL_FILE)
        );
        assert_eq!(
            local_model_file(" qwen.gguf ", data),
            data.join("models/qwen.gguf")
        );
        assert_eq!(
            local_model_file("/opt/m/llama.gguf", data),
            Path::new("/opt/m/llama.gguf")
        );
        assert_eq!(
            local_model_file("m/llama.gguf", data),
            Path::new("m/llama.gguf")
        );
    }

    #[test]
    fn an_entry_without_context_length_gets_its_kinds_default() {
        let llm = switchboard_core::config::LlmConfig {
            local_context: 2048,
            ..Default::default()
        };
        let entry = |kind: &str, context: Option<u32>| -> ProviderEntry {
            serde_json::from_value(serde_json::json!({
                "name": "x", "kind": kind, "model": "m", "context_length": context,
            }))
            .unwrap()
        };
        assert_eq!(entry("local", None).context_length(&llm), 2048);
        assert_eq!(entry("openai_compatible", None).context_length(&llm), 8192);
        assert_eq!(entry("local", Some(1024)).context_length(&llm), 1024);
    }

    #[cfg(not(feature = "local-model"))]
    #[test]
    fn a_local_entry_without_the_feature_is_a_clear_error() {
        let provider = ProviderConfig::new("mine", switchboard_llm::ProviderKind::Local, "");
        let err = local_entry(provider, &Config::default(), Path::new("/nowhere")).unwrap_err();
        assert!(err.contains("no embedded model support"), "{err}");
    }

    /// A configured `local` entry takes its threads and context from `[llm]` (the entry's
    /// own `context_length` winning), and finds a bare file name in `<data_dir>/models`.
    #[cfg(feature = "local-model")]
    #[test]
    fn a_configured_local_entry_honours_threads_and_context() {
        let Some(model) = switchboard_llm::local::default_model_path().filter(|p| p.exists())
        else {
            eprintln!("\n!!! SKIPPED: the offline model is absent; run scripts/fetch-model !!!\n");
            return;
        };
        let data = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(data.path().join("models")).unwrap();
        std::os::unix::fs::symlink(&model, data.path().join("models/mine.gguf")).unwrap();
        let mut config = Config::default();
        config.llm.local_threads = 1;
        config.llm.local_context = 1024;

        let mut entry =
            ProviderConfig::new("mine", switchboard_llm::ProviderKind::Local, "mine.gguf");
        // What `build` derives from an entry without `context_length`.
        entry.capabilities.context_length = config.llm.local_context;
        let provider = local_provider(entry.clone(), &config, data.path()).unwrap();
        assert_eq!(provider.local_config().threads, 1);
        assert_eq!(provider.local_config().context_tokens, 1024);
        assert_eq!(
            provider.local_config().model_path,
            data.path().join("models/mine.gguf")
        );

        let mut sized = entry;
        sized.capabilities.context_length = 2048;
        let provider = local_provider(sized, &config, data.path()).unwrap();
        assert_eq!(provider.local_config().context_tokens, 2048);
    }
}
