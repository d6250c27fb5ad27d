//! Configuration: a TOML file, overridden key by key by `SWITCHBOARD_…` environment variables.
//!
//! Nested keys use a double underscore: `[server] listen` is `SWITCHBOARD_SERVER__LISTEN`.
//! Secrets are never configuration: variables such as `SWITCHBOARD_API_TOKEN` are read by
//! [`crate::secrets`], and a single-underscore variable is therefore never taken as a key.
//! Every key is documented in `docs/configuration.md`; a test keeps the two in step.

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

pub const ENV_PREFIX: &str = "SWITCHBOARD_";

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where the database, media and models live. Empty means the OS data directory.
    pub data_dir: Option<PathBuf>,
    pub server: ServerConfig,
    pub business: BusinessConfig,
    pub whatsapp: WhatsAppConfig,
    pub llm: LlmConfig,
    pub pipeline: PipelineConfig,
    pub approvals: ApprovalsConfig,
    pub notifications: NotificationsConfig,
    pub log: LogConfig,
}

/// What happens to proposals waiting for an operator.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ApprovalsConfig {
    /// The approved template proposed instead of a free-form reply whose 24-hour window
    /// closed before an operator decided it. Empty: such a reply is escalated instead.
    pub stale_template_name: String,
    pub stale_template_language: String,
    /// The template's body parameters, in order. `{contact_name}`, `{business_name}` and
    /// `{reply}` (the stale reply's text) are filled in; a value that is not known stays
    /// empty for the operator to fill in before approving.
    pub stale_template_parameters: Vec<String>,
}

impl Default for ApprovalsConfig {
    fn default() -> Self {
        Self {
            stale_template_name: String::new(),
            stale_template_language: "en_US".into(),
            stale_template_parameters: vec!["{contact_name}".into()],
        }
    }
}

/// Notifications for operators (desktop notifications in the window).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct NotificationsConfig {
    /// An approval waiting longer than this is notified (once). 0 turns it off.
    pub approval_wait_secs: u64,
}

impl Default for NotificationsConfig {
    fn default() -> Self {
        Self {
            approval_wait_secs: 300,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address of the operator API and the WhatsApp webhook.
    pub listen: SocketAddr,
    /// A built UI (`ui/dist`) to serve at `/` for browser access; unset serves none.
    pub ui_dir: Option<PathBuf>,
    /// The public URL Meta reaches the webhook at, shown in Settings.
    pub public_url: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct BusinessConfig {
    #[serde(deserialize_with = "string_or_number")]
    pub name: String,
    /// IANA time zone name, used for "now" in the request context and for business hours.
    pub timezone: String,
    /// Opening hours on the local wall clock, e.g. `["mon-fri 09:00-18:00", "sat 10:00-14:00"]`;
    /// empty means always open. Policies' `outside_business_hours` reads them.
    pub hours: Vec<String>,
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum WhatsAppMode {
    /// Live when credentials are present, else sandbox.
    Auto,
    /// The built-in simulator: simulated customers and a local Graph API.
    Sandbox,
    /// The real WhatsApp Cloud API.
    Live,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct WhatsAppConfig {
    pub mode: WhatsAppMode,
    /// Graph API base URL, without version.
    pub api_base_url: String,
    pub api_version: String,
    #[serde(deserialize_with = "string_or_number")]
    pub phone_number_id: String,
    #[serde(deserialize_with = "string_or_number")]
    pub waba_id: String,
    /// Per-number throughput limit (messages per second).
    pub throughput_per_second: u32,
    /// Messages that may go at once after an idle spell; unset means one second's worth.
    pub throughput_burst: Option<u32>,
    /// Minimum spacing of messages to the same customer (Meta's pair rate limit).
    pub pair_interval_ms: u64,
    /// Messages to one customer that may go back to back before the spacing applies.
    pub pair_burst: u32,
    /// Sends waiting for the Graph API's answer at the same time.
    pub max_sends_in_flight: usize,
    /// Largest media file downloaded from WhatsApp, in bytes.
    pub media_max_bytes: u64,
    /// MIME types (or prefixes such as `image/`) of media that may be downloaded.
    pub media_types: Vec<String>,
    /// Largest webhook body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Share of sandbox sends that end `failed`, to rehearse failures (0 to 1).
    pub sandbox_failure_rate: f64,
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ProviderKind {
    /// OpenAI Chat Completions and the many servers that speak it.
    OpenaiCompatible,
    /// The Anthropic Messages API.
    Anthropic,
    /// A GGUF model run in-process by llama.cpp.
    Local,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ProviderEntry {
    pub name: String,
    pub kind: ProviderKind,
    #[serde(default)]
    pub base_url: String,
    pub model: String,
    /// Environment variable that holds the key for headless runs; the desktop app keeps it
    /// in the keyring. Defaults to `SWITCHBOARD_LLM_<NAME>_API_KEY`.
    #[serde(default)]
    pub api_key_env: Option<String>,
    #[serde(default)]
    pub json_schema: bool,
    #[serde(default)]
    pub tools: bool,
    #[serde(default)]
    pub json_mode: bool,
    /// The model's context window in tokens; unset means 8192 for a remote model and
    /// `llm.local_context` for a `local` one.
    #[serde(default)]
    pub context_length: Option<u32>,
    #[serde(default)]
    pub price_in_per_mtok: Option<f64>,
    #[serde(default)]
    pub price_out_per_mtok: Option<f64>,
}

/// Environment values are parsed like TOML values, so an id made of digits arrives as a
/// number; ids and names are text whatever they look like.
fn string_or_number<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Text {
        String(String),
        Unsigned(u64),
        Signed(i64),
    }
    Ok(match Text::deserialize(deserializer)? {
        Text::String(s) => s,
        Text::Unsigned(n) => n.to_string(),
        Text::Signed(n) => n.to_string(),
    })
}

impl ProviderEntry {
    /// The context window to assume (or, for a `local` model, to allocate).
    pub fn context_length(&self, llm: &LlmConfig) -> u32 {
        self.context_length.unwrap_or(match self.kind {
            ProviderKind::Local => llm.local_context,
            _ => 8192,
        })
    }
}

impl ProviderEntry {
    pub fn api_key_env(&self) -> String {
        self.api_key_env.clone().unwrap_or_else(|| {
            let name: String = self
                .name
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() {
                        c.to_ascii_uppercase()
                    } else {
                        '_'
                    }
                })
                .collect();
            format!("SWITCHBOARD_LLM_{name}_API_KEY")
        })
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LlmConfig {
    /// Providers in order of preference: the first is primary, the rest the fallback chain.
    pub providers: Vec<ProviderEntry>,
    /// The embedded model's GGUF file; empty means the default model in the data directory.
    pub local_model_path: Option<PathBuf>,
    /// Threads for local inference.
    pub local_threads: u32,
    /// Context window for local inference, in tokens.
    pub local_context: u32,
    pub connect_timeout_ms: u64,
    pub first_token_timeout_ms: u64,
    pub idle_timeout_ms: u64,
    pub total_timeout_ms: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct PipelineConfig {
    /// A burst of messages within this quiet period is one request.
    pub quiet_period_ms: u64,
    pub max_concurrent_runs: usize,
    /// Tier 1: corrective retries after invalid output.
    pub max_corrective_retries: u32,
    /// Token budget of each context layer.
    pub budget_system: u32,
    pub budget_domain: u32,
    pub budget_session: u32,
    pub budget_request: u32,
    /// The business's own actions, which the model may propose and the executor POSTs.
    pub custom_actions: Vec<CustomActionEntry>,
}

/// A custom action: its parameters' JSON Schema for the model, and where and how the
/// executor delivers it. Its signing secret is a secret (keyring or environment), never here.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CustomActionEntry {
    /// The action's `type`, e.g. `create_lead`; lower case, digits and `_`.
    pub name: String,
    /// What it does, for the model.
    pub description: String,
    /// JSON Schema of the parameters (an object schema).
    pub schema: serde_json::Value,
    /// Where the executor POSTs the signed request.
    pub url: String,
    /// Longest wait for one delivery attempt.
    #[serde(default = "default_custom_timeout_ms")]
    pub timeout_ms: u64,
    /// Deliveries tried on 5xx, 429 and network errors before the action fails.
    #[serde(default = "default_custom_max_attempts")]
    pub max_attempts: u32,
    /// Environment variable with the signing secret for headless runs; defaults to
    /// `SWITCHBOARD_CUSTOM_ACTION_<NAME>_SECRET`.
    #[serde(default)]
    pub secret_env: Option<String>,
}

fn default_custom_timeout_ms() -> u64 {
    10_000
}

fn default_custom_max_attempts() -> u32 {
    4
}

impl CustomActionEntry {
    pub fn secret_env(&self) -> String {
        self.secret_env.clone().unwrap_or_else(|| {
            let name: String = self
                .name
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() {
                        c.to_ascii_uppercase()
                    } else {
                        '_'
                    }
                })
                .collect();
            format!("SWITCHBOARD_CUSTOM_ACTION_{name}_SECRET")
        })
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// A `tracing` filter, e.g. `info` or `switchboard=debug,info`.
    pub level: String,
    /// Emit logs as JSON lines.
    pub json: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 7420)),
            ui_dir: None,
            public_url: None,
        }
    }
}

impl Default for BusinessConfig {
    fn default() -> Self {
        Self {
            name: "My business".into(),
            timezone: "UTC".into(),
            hours: Vec::new(),
        }
    }
}

impl Default for WhatsAppConfig {
    fn default() -> Self {
        Self {
            mode: WhatsAppMode::Auto,
            api_base_url: "https://graph.facebook.com".into(),
            api_version: "v24.0".into(),
            phone_number_id: String::new(),
            waba_id: String::new(),
            throughput_per_second: 80,
            throughput_burst: None,
            pair_interval_ms: 6_000,
            pair_burst: 1,
            max_sends_in_flight: 16,
            // Meta's largest media (documents) is 100 MB.
            media_max_bytes: 100 * 1024 * 1024,
            media_types: [
                "image/",
                "video/",
                "audio/",
                "text/plain",
                "application/pdf",
                "application/msword",
                "application/vnd.ms-",
                "application/vnd.openxmlformats-officedocument.",
            ]
            .map(String::from)
            .to_vec(),
            max_body_bytes: 4 * 1024 * 1024,
            sandbox_failure_rate: 0.03,
        }
    }
}

impl Default for LlmConfig {
    fn default() -> Self {
        Self {
            providers: Vec::new(),
            local_model_path: None,
            local_threads: 2,
            local_context: 4096,
            connect_timeout_ms: 5_000,
            first_token_timeout_ms: 30_000,
            idle_timeout_ms: 15_000,
            total_timeout_ms: 120_000,
        }
    }
}

impl Default for PipelineConfig {
    fn default() -> Self {
        Self {
            quiet_period_ms: 3_000,
            max_concurrent_runs: 8,
            max_corrective_retries: 2,
            budget_system: 1_500,
            budget_domain: 1_500,
            budget_session: 2_000,
            budget_request: 1_000,
            custom_actions: Vec::new(),
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            level: "info".into(),
            json: false,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration file {path} does not exist")]
    Missing { path: PathBuf },
    /// figment's message names the key, what was found, what was expected and the source
    /// (the file path or the environment variable).
    #[error("invalid configuration: {0}")]
    Invalid(String),
    #[error("no data directory: the OS has none for this user; set data_dir in the configuration")]
    NoDataDir,
}

impl Config {
    /// Defaults, then `file` if given, then the environment.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        Self::load_with(file, Env::prefixed(ENV_PREFIX))
    }

    fn load_with(file: Option<&Path>, env: Env) -> Result<Config, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = file {
            if !path.exists() {
                return Err(ConfigError::Missing {
                    path: path.to_path_buf(),
                });
            }
            figment = figment.merge(Toml::file_exact(path));
        }
        // Only double-underscore names (and the one top-level key) are configuration;
        // everything else with the prefix is a secret or unrelated.
        let env = env
            .filter(|key| key.as_str().contains("__") || key.as_str() == "data_dir")
            .split("__");
        figment = figment.merge(env);
        figment.extract().map_err(|e| {
            let messages: Vec<String> = e.into_iter().map(|e| e.to_string()).collect();
            ConfigError::Invalid(messages.join("; "))
        })
    }

    /// The data directory: configured, else the OS one (e.g. `~/.local/share/switchboard`).
    pub fn data_dir(&self) -> Result<PathBuf, ConfigError> {
        if let Some(dir) = &self.data_dir {
            return Ok(dir.clone());
        }
        directories::ProjectDirs::from("dev", "switchboard", "switchboard")
            .map(|d| d.data_dir().to_path_buf())
            .ok_or(ConfigError::NoDataDir)
    }
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment::Jail's closure type is fixed by figment.
mod tests {
    use super::*;

    fn load_in_jail(toml: Option<&str>) -> Result<Config, String> {
        let mut result = Err(String::new());
        figment::Jail::expect_with(|jail| {
            let path = jail.directory().join("switchboard.toml");
            if let Some(toml) = toml {
                jail.create_file("switchboard.toml", toml)?;
            }
            jail.set_env("SWITCHBOARD_API_TOKEN", "not-a-config-key");
            result = Config::load(toml.map(|_| path.as_path())).map_err(|e| e.to_string());
            Ok(())
        });
        result
    }

    #[test]
    fn no_file_means_defaults() {
        let config = load_in_jail(None).expect("defaults must load");
        assert_eq!(
            config,
            Config::default(),
            "no file and no env must give the defaults"
        );
        assert_eq!(config.server.listen.to_string(), "127.0.0.1:7420");
        assert_eq!(
            config.whatsapp.mode,
            WhatsAppMode::Auto,
            "no credentials → sandbox via auto"
        );
    }

    #[test]
    fn env_overrides_file_key_by_key() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "c.toml",
                "[server]\nlisten = \"127.0.0.1:9000\"\n[pipeline]\nquiet_period_ms = 100\n",
            )?;
            jail.set_env("SWITCHBOARD_PIPELINE__QUIET_PERIOD_MS", "250");
            jail.set_env("SWITCHBOARD_WHATSAPP__MODE", "live");
            jail.set_env("SWITCHBOARD_WHATSAPP__PHONE_NUMBER_ID", "487120593306718");
            let config = Config::load(Some(&jail.directory().join("c.toml"))).unwrap();
            assert_eq!(
                config.server.listen.port(),
                9000,
                "file value kept when env is silent"
            );
            assert_eq!(
                config.pipeline.quiet_period_ms, 250,
                "env overrides the file"
            );
            assert_eq!(config.whatsapp.mode, WhatsAppMode::Live);
            assert_eq!(
                config.whatsapp.phone_number_id, "487120593306718",
                "an id of digits given in the environment stays text"
            );
            Ok(())
        });
    }

    #[test]
    fn a_bad_value_names_the_file_the_key_and_what_was_expected() {
        let err = load_in_jail(Some("[server]\nlisten = 42\n")).unwrap_err();
        assert!(
            err.contains("switchboard.toml"),
            "error must name the file: {err}"
        );
        assert!(
            err.contains("server.listen"),
            "error must name the key: {err}"
        );
        assert!(
            err.to_lowercase().contains("expected"),
            "error must say what was expected: {err}"
        );
    }

    #[test]
    fn an_unknown_key_is_an_error_not_silently_ignored() {
        let err = load_in_jail(Some("[server]\nlisen = \"127.0.0.1:1\"\n")).unwrap_err();
        assert!(
            err.contains("lisen"),
            "a typo must be reported by name: {err}"
        );
        assert!(err.contains("switchboard.toml"), "{err}");
    }

    #[test]
    fn a_missing_file_is_reported() {
        let err = Config::load(Some(Path::new("/nonexistent/switchboard.toml"))).unwrap_err();
        assert!(
            err.to_string().contains("/nonexistent/switchboard.toml"),
            "{err}"
        );
    }

    #[test]
    fn provider_key_env_defaults_from_its_name() {
        let p = ProviderEntry {
            name: "open-ai".into(),
            kind: ProviderKind::OpenaiCompatible,
            base_url: String::new(),
            model: "m".into(),
            api_key_env: None,
            json_schema: false,
            tools: false,
            json_mode: false,
            context_length: Some(1),
            price_in_per_mtok: None,
            price_out_per_mtok: None,
        };
        assert_eq!(p.api_key_env(), "SWITCHBOARD_LLM_OPEN_AI_API_KEY");
    }
}
