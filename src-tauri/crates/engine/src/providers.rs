//! The model chain: the configuration's providers, primary first, then the fallbacks, with
//! the local model files an owner chose in Settings (kept in the settings table, see
//! [`LocalModels`]) applied on top.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
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

/// The settings-table key holding the local model chosen for each provider in Settings.
pub const LOCAL_MODELS_SETTING: &str = "llm.local_models";
/// The name of the built-in offline provider used when the configuration names none.
pub const BUILT_IN_LOCAL: &str = "local";
/// A GGUF header is the magic, a version and two counts: anything shorter is no model.
const GGUF_HEADER_BYTES: u64 = 24;
const MAX_PROVIDER_NAME: usize = 64;

/// The model file chosen in Settings for each `local` provider, by provider name: a bare
/// file name (in `<data_dir>/models`) or an absolute path. A name the configuration does
/// not have is a provider added in Settings, a fallback after the configured ones.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct LocalModels(pub BTreeMap<String, String>);

impl LocalModels {
    /// Reads the stored choices; a value that no longer parses is ignored with a warning
    /// rather than keeping the engine from starting.
    pub fn from_settings(settings: &serde_json::Map<String, serde_json::Value>) -> LocalModels {
        let Some(value) = settings.get(LOCAL_MODELS_SETTING) else {
            return LocalModels::default();
        };
        serde_json::from_value(value.clone()).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "ignoring the stored local model choices");
            LocalModels::default()
        })
    }
}

/// The configuration as the chain is built from it: `config` with the Settings choices
/// applied. A choice for a configured `local` entry replaces its model; a choice for the
/// built-in offline provider replaces its file; any other name becomes a `local` entry
/// appended to the chain (after the built-in one when the configuration names none).
pub fn effective_config(config: &Config, chosen: &LocalModels, data_dir: &Path) -> Config {
    let mut effective = config.clone();
    if chosen.0.is_empty() {
        return effective;
    }
    let local_entry = |name: &str, model: String| ProviderEntry {
        name: name.to_string(),
        kind: ProviderKind::Local,
        base_url: String::new(),
        model,
        api_key_env: None,
        json_schema: false,
        tools: false,
        json_mode: false,
        context_length: None,
        price_in_per_mtok: Some(0.0),
        price_out_per_mtok: Some(0.0),
    };
    let providers = &mut effective.llm.providers;
    if providers.is_empty() {
        if let Some(model) = chosen.0.get(BUILT_IN_LOCAL) {
            effective.llm.local_model_path = Some(local_model_file(model, data_dir));
        }
        let added: Vec<_> = chosen
            .0
            .iter()
            .filter(|(name, _)| name.as_str() != BUILT_IN_LOCAL)
            .collect();
        if !added.is_empty() {
            // The built-in provider stays first, as an entry now that the list is not empty.
            let default_file = effective
                .llm
                .local_model_path
                .clone()
                .unwrap_or_else(|| data_dir.join("models").join(DEFAULT_MODEL_FILE));
            let mut entries = vec![local_entry(
                BUILT_IN_LOCAL,
                default_file.display().to_string(),
            )];
            entries.extend(
                added
                    .into_iter()
                    .map(|(name, model)| local_entry(name, model.clone())),
            );
            effective.llm.providers = entries;
        }
        return effective;
    }
    for (name, model) in &chosen.0 {
        match providers.iter_mut().find(|p| &p.name == name) {
            Some(entry) if entry.kind == ProviderKind::Local => entry.model = model.clone(),
            Some(_) => {
                tracing::warn!(provider = %name, "ignoring a local model chosen for a provider that is not local")
            }
            None => providers.push(local_entry(name, model.clone())),
        }
    }
    effective
}

/// Why a file cannot be a provider's model. The messages are shown to the owner as they
/// are, so each says what to do.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ModelFileError {
    #[error(
        "no model file is given: choose a file from the models folder or type an absolute path"
    )]
    Empty,
    #[error("{0:?} is a relative path: type an absolute path, or choose a file from the models folder {1}")]
    Relative(String, String),
    #[error("the model file {0} does not exist")]
    Missing(String),
    #[error("{0} is not a file")]
    NotAFile(String),
    #[error("the model file {0} cannot be read: {1}")]
    Unreadable(String, String),
    #[error("{0} is too small to be a model ({1} bytes)")]
    TooSmall(String, u64),
    #[error("{0} is not a GGUF model file (it does not start with the bytes GGUF); llama.cpp loads GGUF files only")]
    NotGguf(String),
}

/// Where a model given in Settings is: a bare file name is in `<data_dir>/models`, an
/// absolute path is used as is; a relative path with directories is refused, since what
/// it means would depend on where the engine was started.
pub fn chosen_model_path(model: &str, data_dir: &Path) -> Result<PathBuf, ModelFileError> {
    let model = model.trim();
    if model.is_empty() {
        return Err(ModelFileError::Empty);
    }
    let path = Path::new(model);
    if path.is_absolute() {
        return Ok(path.to_path_buf());
    }
    let models = data_dir.join("models");
    let mut parts = path.components();
    match (parts.next(), parts.next()) {
        (Some(std::path::Component::Normal(name)), None) => Ok(models.join(name)),
        _ => Err(ModelFileError::Relative(
            model.to_string(),
            models.display().to_string(),
        )),
    }
}

/// Checks that `path` can be a model before anything is stored: it exists, is a readable
/// file, is large enough and starts with the GGUF magic. Returns its size in bytes.
/// Whether llama.cpp supports the architecture is known only by loading it (the test).
pub fn check_model_file(path: &Path) -> Result<u64, ModelFileError> {
    use std::io::Read;
    let shown = path.display().to_string();
    let metadata = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ModelFileError::Missing(shown))
        }
        Err(e) => return Err(ModelFileError::Unreadable(shown, e.to_string())),
    };
    if !metadata.is_file() {
        return Err(ModelFileError::NotAFile(shown));
    }
    let mut file = std::fs::File::open(path)
        .map_err(|e| ModelFileError::Unreadable(shown.clone(), e.to_string()))?;
    if metadata.len() < GGUF_HEADER_BYTES {
        return Err(ModelFileError::TooSmall(shown, metadata.len()));
    }
    let mut magic = [0u8; 4];
    file.read_exact(&mut magic)
        .map_err(|e| ModelFileError::Unreadable(shown.clone(), e.to_string()))?;
    if &magic != b"GGUF" {
        return Err(ModelFileError::NotGguf(shown));
    }
    Ok(metadata.len())
}

/// A `.gguf` file in the models folder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelFile {
    pub name: String,
    pub path: PathBuf,
    pub size_bytes: u64,
    /// The default offline model's file.
    pub default: bool,
    /// Whether it starts with the GGUF magic (a partial download does not).
    pub valid: bool,
}

/// The `.gguf` files in `dir`, by name; none when the folder does not exist.
pub fn model_files(dir: &Path) -> std::io::Result<Vec<ModelFile>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.to_ascii_lowercase().ends_with(".gguf") {
            continue;
        }
        let path = entry.path();
        // Follows symbolic links, as loading does.
        let Ok(metadata) = std::fs::metadata(&path) else {
            continue;
        };
        if !metadata.is_file() {
            continue;
        }
        files.push(ModelFile {
            default: name == DEFAULT_MODEL_FILE,
            valid: check_model_file(&path).is_ok(),
            size_bytes: metadata.len(),
            name,
            path,
        });
    }
    files.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(files)
}

/// A provider name an owner may give: what the configuration file and secret names accept.
pub fn check_provider_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > MAX_PROVIDER_NAME {
        return Err(format!(
            "a provider name has 1 to {MAX_PROVIDER_NAME} characters"
        ));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(format!(
            "provider name {name:?}: use letters, digits, '-', '_' and '.' only"
        ));
    }
    Ok(())
}

/// The model files in memory now (canonical paths): a model is loaded once, shared by
/// every provider naming it, and let go when the chain no longer uses it.
#[cfg(feature = "local-model")]
pub fn loaded_local_models() -> Vec<PathBuf> {
    switchboard_llm::local::loaded_model_paths()
}

/// The models folder and what it holds, as Settings lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelFolder {
    pub dir: PathBuf,
    pub files: Vec<ModelFile>,
}

impl crate::Engine {
    /// The local model choices stored from Settings.
    pub async fn local_models(&self) -> Result<LocalModels, crate::EngineError> {
        let settings = self
            .store()
            .read(switchboard_store::queries::settings::all)
            .await?;
        Ok(LocalModels::from_settings(&settings))
    }

    /// The configuration with the Settings choices applied (see [`effective_config`]).
    pub async fn effective_config(&self) -> Result<Config, crate::EngineError> {
        let chosen = self.local_models().await?;
        Ok(effective_config(self.config(), &chosen, self.data_dir()))
    }

    /// The `.gguf` files in `<data_dir>/models`.
    pub async fn model_folder(&self) -> Result<ModelFolder, crate::EngineError> {
        let dir = self.data_dir().join("models");
        let listed = dir.clone();
        let files = tokio::task::spawn_blocking(move || model_files(&listed))
            .await
            .map_err(|e| crate::EngineError::Internal(e.to_string()))?
            .map_err(|e| {
                crate::EngineError::Unavailable(format!(
                    "cannot list the models folder {}: {e}",
                    dir.display()
                ))
            })?;
        Ok(ModelFolder {
            dir: self.data_dir().join("models"),
            files,
        })
    }

    /// Makes `name` a `local` provider running `model` (a file in the models folder or an
    /// absolute path): checks the file, stores the choice and its audit record together,
    /// then rebuilds the chain, which loads the new model and lets the old one go (a
    /// model stays in memory only while a provider uses it). Returns the file's size.
    pub async fn set_local_model(
        &self,
        actor: &crate::Actor,
        name: &str,
        model: &str,
    ) -> Result<u64, crate::EngineError> {
        use crate::EngineError;
        let name = name.trim();
        check_provider_name(name).map_err(EngineError::Invalid)?;
        let configured = &self.config().llm.providers;
        if let Some(entry) = configured.iter().find(|p| p.name == name) {
            if entry.kind != ProviderKind::Local {
                return Err(EngineError::Invalid(format!(
                    "provider {name:?} is a remote provider from the configuration file; only local providers take a model file here"
                )));
            }
        }
        let path = chosen_model_path(model, self.data_dir())
            .map_err(|e| EngineError::Invalid(e.to_string()))?;
        let checked = path.clone();
        let size = tokio::task::spawn_blocking(move || check_model_file(&checked))
            .await
            .map_err(|e| EngineError::Internal(e.to_string()))?
            .map_err(|e| EngineError::Invalid(e.to_string()))?;
        // A file of the models folder is stored by name, so the data directory can move.
        let stored = model.trim().to_string();
        let label = actor.label();
        let now = self.now_ms();
        let name = name.to_string();
        // Read, change and write the choices in the one write transaction, so two edits at
        // once both land.
        self.store()
            .write(move |c| {
                use switchboard_store::queries::{audit, settings};
                let mut chosen = LocalModels::from_settings(&settings::all(c)?);
                let previous = chosen.0.insert(name.clone(), stored.clone());
                let value = serde_json::to_value(&chosen)?;
                settings::set(c, LOCAL_MODELS_SETTING, &value, &label, now)?;
                audit::append(
                    c,
                    &audit::NewAuditEvent {
                        actor_kind: switchboard_store::model::ActorKind::Operator,
                        actor: &label,
                        kind: "provider.changed",
                        conversation_id: None,
                        run_id: None,
                        action_id: None,
                        detail: serde_json::json!({
                            "provider": name,
                            "kind": "local",
                            "model": stored,
                            "previous_model": previous,
                            "size_bytes": size,
                        }),
                    },
                    now,
                )?;
                Ok(())
            })
            .await?;
        self.rebuild_provider_chain().await?;
        Ok(size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chosen(pairs: &[(&str, &str)]) -> LocalModels {
        LocalModels(
            pairs
                .iter()
                .map(|(n, m)| (n.to_string(), m.to_string()))
                .collect(),
        )
    }

    #[test]
    fn settings_choices_apply_to_the_built_in_model_configured_entries_and_new_ones() {
        let data = Path::new("/srv/sb");
        let config = Config::default();
        let effective = effective_config(&config, &chosen(&[("local", "qwen.gguf")]), data);
        assert!(effective.llm.providers.is_empty());
        assert_eq!(
            effective.llm.local_model_path.as_deref(),
            Some(Path::new("/srv/sb/models/qwen.gguf"))
        );

        // Another name keeps the built-in provider first, as an entry.
        let effective = effective_config(&config, &chosen(&[("spare", "/m/llama.gguf")]), data);
        let names: Vec<_> = effective
            .llm
            .providers
            .iter()
            .map(|p| (p.name.as_str(), p.kind, p.model.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                (
                    "local",
                    ProviderKind::Local,
                    "/srv/sb/models/SmolLM2-135M-Instruct.Q4_1.gguf"
                ),
                ("spare", ProviderKind::Local, "/m/llama.gguf"),
            ]
        );

        let mut config = Config::default();
        let entry = |name: &str, kind: &str, model: &str| -> ProviderEntry {
            serde_json::from_value(serde_json::json!({"name": name, "kind": kind, "model": model}))
                .unwrap()
        };
        config.llm.providers = vec![
            entry("remote", "openai_compatible", "gpt"),
            entry("offline", "local", "a.gguf"),
        ];
        let effective = effective_config(
            &config,
            &chosen(&[
                ("offline", "b.gguf"),
                ("remote", "x.gguf"),
                ("new", "/n.gguf"),
            ]),
            data,
        );
        let models: Vec<_> = effective
            .llm
            .providers
            .iter()
            .map(|p| (p.name.as_str(), p.model.as_str()))
            .collect();
        // A remote entry is never turned into a local one.
        assert_eq!(
            models,
            [("remote", "gpt"), ("offline", "b.gguf"), ("new", "/n.gguf")]
        );
        assert_eq!(
            effective_config(&config, &LocalModels::default(), data),
            config
        );
    }

    #[test]
    fn a_model_given_in_settings_is_a_folder_name_or_an_absolute_path() {
        let data = Path::new("/srv/sb");
        assert_eq!(
            chosen_model_path(" q.gguf ", data).unwrap(),
            Path::new("/srv/sb/models/q.gguf")
        );
        assert_eq!(
            chosen_model_path("/opt/q.gguf", data).unwrap(),
            Path::new("/opt/q.gguf")
        );
        assert_eq!(chosen_model_path("", data), Err(ModelFileError::Empty));
        for relative in ["../q.gguf", "sub/q.gguf", "./q.gguf"] {
            assert!(
                matches!(
                    chosen_model_path(relative, data),
                    Err(ModelFileError::Relative(..))
                ),
                "{relative}"
            );
        }
    }

    #[test]
    fn model_files_are_checked_for_presence_size_and_magic() {
        let dir = tempfile::tempdir().unwrap();
        let at = |name: &str| dir.path().join(name);
        std::fs::write(at("good.gguf"), [b"GGUF".as_slice(), &[0u8; 28]].concat()).unwrap();
        std::fs::write(at("short.gguf"), b"GGUF\x03").unwrap();
        std::fs::write(at("text.gguf"), "definitely not a model, only some text").unwrap();
        std::fs::create_dir(at("folder.gguf")).unwrap();
        std::fs::write(at("notes.txt"), "ignored").unwrap();

        assert_eq!(check_model_file(&at("good.gguf")), Ok(32));
        assert!(matches!(
            check_model_file(&at("short.gguf")),
            Err(ModelFileError::TooSmall(_, 5))
        ));
        assert!(matches!(
            check_model_file(&at("text.gguf")),
            Err(ModelFileError::NotGguf(_))
        ));
        assert!(matches!(
            check_model_file(&at("folder.gguf")),
            Err(ModelFileError::NotAFile(_))
        ));
        assert!(matches!(
            check_model_file(&at("gone.gguf")),
            Err(ModelFileError::Missing(_))
        ));

        let listed: Vec<_> = model_files(dir.path())
            .unwrap()
            .into_iter()
            .map(|f| (f.name, f.valid, f.default))
            .collect();
        assert_eq!(
            listed,
            [
                ("good.gguf".to_string(), true, false),
                ("short.gguf".to_string(), false, false),
                ("text.gguf".to_string(), false, false),
            ]
        );
        assert!(model_files(&at("nowhere")).unwrap().is_empty());
    }

    #[test]
    fn provider_names_are_what_config_and_secret_names_accept() {
        assert!(check_provider_name("qwen-2.5_b").is_ok());
        for bad in ["", "my model", "ü", "a/b", &"x".repeat(65)] {
            assert!(check_provider_name(bad).is_err(), "{bad:?}");
        }
    }

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
