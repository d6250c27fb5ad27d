//! The outside services as Settings shows them: the model providers and the WhatsApp
//! connection, each with a test that makes one tiny real call. Keys and tokens are read
//! to make the call and to say whether they are present, never returned.

use crate::{ChannelMode, Engine, EngineError};
use std::time::{Duration, Instant};
use switchboard_core::config::{ProviderEntry, ProviderKind};
use switchboard_core::secrets::SecretName;
use switchboard_core::Secret;
use switchboard_llm::{CancellationToken, ChatRequest, DeltaSink, LlmError, Message};
use switchboard_whatsapp::graph::client::{GraphClient, GraphConfig, SendError};
use switchboard_whatsapp::graph::types::PhoneNumberInfo;

/// A test never waits longer than this, whatever the provider's own timeouts.
const PROBE_TIMEOUT: Duration = Duration::from_secs(30);

/// One provider of the chain, as configured.
#[derive(Clone, Debug, PartialEq)]
pub struct ProviderView {
    /// 0 is the primary; the rest are the fallbacks, in order.
    pub position: usize,
    pub name: String,
    pub kind: ProviderKind,
    /// Where requests go; empty for the in-process local model.
    pub base_url: String,
    pub model: String,
    pub json_schema: bool,
    pub tools: bool,
    pub json_mode: bool,
    pub price_in_per_mtok: Option<f64>,
    pub price_out_per_mtok: Option<f64>,
    /// The name to store its key under with `PUT /api/secrets/{name}`; `None` for the local
    /// model, which has no key.
    pub secret_name: Option<String>,
    /// The environment variable that may hold the key for headless runs.
    pub api_key_env: Option<String>,
    /// Whether a key is stored; `None` when the provider takes none.
    pub key_present: Option<bool>,
    /// `false` for the built-in offline model used when none is configured.
    pub configured: bool,
    /// Its model file was chosen in Settings (a provider with this and not `configured`
    /// was added there).
    pub model_from_settings: bool,
}

/// How one test call went. The error is typed; its message never holds a key or token.
#[derive(Clone, Debug, PartialEq)]
pub struct ProbeOutcome<T> {
    pub latency_ms: u64,
    pub result: Result<T, ProbeError>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeError {
    /// Stable: `authentication`, `rate_limited`, `timeout`, `network`, …
    pub code: String,
    pub message: String,
    /// Graph's numeric error code, for WhatsApp tests.
    pub graph_code: Option<i64>,
}

/// What a successful model test saw.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelReply {
    pub model: String,
    pub text: String,
    pub tokens_in: u32,
    pub tokens_out: u32,
}

/// The WhatsApp connection as Settings shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct WhatsAppView {
    pub mode: ChannelMode,
    pub phone_number_id: String,
    pub waba_id: String,
    pub api_version: String,
    /// The Graph API this engine talks to (the local sandbox one in sandbox mode, once up).
    pub api_base_url: Option<String>,
    /// The callback URL to give Meta.
    pub webhook_url: String,
    /// False when no `server.public_url` is configured: the URL shown is then the local
    /// listener, which Meta cannot reach.
    pub webhook_url_is_public: bool,
    pub verify_token_present: bool,
    pub access_token_present: bool,
    pub app_secret_present: bool,
}

fn llm_error_code(e: &LlmError) -> &'static str {
    match e {
        LlmError::RateLimited { .. } => "rate_limited",
        LlmError::Overloaded { .. } => "overloaded",
        LlmError::Timeout { .. } => "timeout",
        LlmError::Disconnected => "disconnected",
        LlmError::Network { .. } => "network",
        LlmError::Authentication => "authentication",
        LlmError::QuotaExceeded { .. } => "quota_exceeded",
        LlmError::InvalidRequest { .. } => "invalid_request",
        LlmError::ContextTooLong => "context_too_long",
        LlmError::MalformedStream { .. } => "malformed_stream",
        LlmError::Config { .. } => "configuration",
        LlmError::Cancelled => "cancelled",
    }
}

fn probe_error(code: &str, message: impl Into<String>) -> ProbeError {
    ProbeError {
        code: code.into(),
        message: message.into(),
        graph_code: None,
    }
}

fn graph_probe_error(e: &SendError) -> ProbeError {
    let code = match e {
        SendError::Api { .. } => "graph_error",
        SendError::Network { .. } => "network",
        SendError::Timeout => "timeout",
        SendError::Undecodable { .. } => "undecodable",
        SendError::InvalidRequest(_) => "invalid_request",
    };
    ProbeError {
        code: code.into(),
        message: e.to_string(),
        graph_code: e.graph_error().map(|g| g.code),
    }
}

impl Engine {
    fn secret_present(&self, name: SecretName) -> bool {
        matches!(self.secrets().get(&name), Ok(Some(_)))
    }

    /// The model chain as configured, primary first. Secret lookups may block on the OS
    /// keyring, so this runs on a blocking thread.
    pub async fn providers_view(&self) -> Result<Vec<ProviderView>, EngineError> {
        let engine = self.clone();
        let config = self.effective_config().await?;
        let chosen = self.local_models().await?;
        tokio::task::spawn_blocking(move || engine.providers_view_blocking(&config, &chosen))
            .await
            .map_err(|e| EngineError::Internal(e.to_string()))
    }

    fn providers_view_blocking(
        &self,
        config: &switchboard_core::Config,
        chosen: &crate::providers::LocalModels,
    ) -> Vec<ProviderView> {
        let entries = &config.llm.providers;
        let in_config = |name: &str| self.config().llm.providers.iter().any(|p| p.name == name);
        if entries.is_empty() {
            return vec![ProviderView {
                position: 0,
                name: "local".into(),
                kind: ProviderKind::Local,
                base_url: String::new(),
                model: config
                    .llm
                    .local_model_path
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|| crate::providers::DEFAULT_MODEL_FILE.to_string()),
                json_schema: false,
                tools: false,
                json_mode: false,
                price_in_per_mtok: Some(0.0),
                price_out_per_mtok: Some(0.0),
                secret_name: None,
                api_key_env: None,
                key_present: None,
                configured: false,
                model_from_settings: chosen.0.contains_key(crate::providers::BUILT_IN_LOCAL),
            }];
        }
        entries
            .iter()
            .enumerate()
            .map(|(position, entry)| {
                let local = entry.kind == ProviderKind::Local;
                let base_url = if local {
                    String::new()
                } else if entry.base_url.is_empty() {
                    let kind = match entry.kind {
                        ProviderKind::Anthropic => switchboard_llm::ProviderKind::Anthropic,
                        _ => switchboard_llm::ProviderKind::OpenAiCompatible,
                    };
                    kind.default_base_url().to_string()
                } else {
                    entry.base_url.clone()
                };
                ProviderView {
                    position,
                    name: entry.name.clone(),
                    kind: entry.kind,
                    base_url,
                    model: entry.model.clone(),
                    json_schema: entry.json_schema,
                    tools: entry.tools,
                    json_mode: entry.json_mode,
                    price_in_per_mtok: entry.price_in_per_mtok,
                    price_out_per_mtok: entry.price_out_per_mtok,
                    secret_name: (!local).then(|| format!("llm.{}", entry.name)),
                    api_key_env: (!local).then(|| entry.api_key_env()),
                    key_present: (!local).then(|| self.secret_present(llm_key(entry))),
                    configured: in_config(&entry.name),
                    model_from_settings: local && chosen.0.contains_key(&entry.name),
                }
            })
            .collect()
    }

    /// Sends one tiny request to the named provider, built afresh from the configuration
    /// and the secrets as they are now (so a key just stored is the one tested).
    pub async fn test_provider(&self, name: &str) -> Result<ProbeOutcome<ModelReply>, EngineError> {
        // As the chain has it now, with the local models chosen in Settings.
        let mut config = self.effective_config().await?;
        let entries = &config.llm.providers;
        let entry = entries.iter().find(|p| p.name == name).cloned();
        if entry.is_none() && !(entries.is_empty() && name == crate::providers::BUILT_IN_LOCAL) {
            return Err(EngineError::NotFound(format!(
                "no model provider is named {name:?}"
            )));
        }
        config.llm.providers = entry.into_iter().collect();
        let engine = self.clone();
        let started = Instant::now();
        let built = tokio::task::spawn_blocking(move || {
            if let Some(entry) = config.llm.providers.first() {
                if entry.kind != ProviderKind::Local {
                    // Surface a broken keyring as such, not as a vague build failure.
                    engine
                        .secrets()
                        .get(&llm_key(entry))
                        .map_err(|e| probe_error("secret_store", e.to_string()))?;
                }
            }
            crate::providers::chain(&config, engine.secrets().as_ref(), engine.data_dir())
                .into_iter()
                .next()
                .ok_or_else(|| {
                    probe_error(
                        "configuration",
                        "this provider cannot be built from its configuration (for a local model: \
                         is the model file there, and is this build made with local-model support?); \
                         the engine's log says why",
                    )
                })
        })
        .await
        .map_err(|e| EngineError::Internal(e.to_string()))?;
        let provider = match built {
            Ok(provider) => provider,
            Err(error) => {
                return Ok(ProbeOutcome {
                    latency_ms: elapsed_ms(started),
                    result: Err(error),
                })
            }
        };
        let request = ChatRequest::new(vec![Message::user(
            "This is a connection test. Reply with the single word: ok",
        )])
        .with_max_tokens(8);
        let started = Instant::now();
        let call = provider.stream(request, DeltaSink::noop(), CancellationToken::new());
        let result = match tokio::time::timeout(PROBE_TIMEOUT, call).await {
            Err(_) => Err(probe_error(
                "timeout",
                format!("no complete answer within {} s", PROBE_TIMEOUT.as_secs()),
            )),
            Ok(Err(e)) => Err(probe_error(llm_error_code(&e), e.to_string())),
            Ok(Ok(completion)) => Ok(ModelReply {
                model: completion.model,
                text: completion.text.chars().take(200).collect(),
                tokens_in: completion.usage.input_tokens,
                tokens_out: completion.usage.output_tokens,
            }),
        };
        Ok(ProbeOutcome {
            latency_ms: elapsed_ms(started),
            result,
        })
    }

    fn phone_number_id_in_use(&self) -> String {
        match self.mode() {
            ChannelMode::Sandbox => crate::sandbox::SANDBOX_PHONE_NUMBER_ID.to_string(),
            ChannelMode::Live => self.config().whatsapp.phone_number_id.clone(),
        }
    }

    fn graph_base_in_use(&self) -> Option<String> {
        match self.mode() {
            ChannelMode::Live => Some(self.config().whatsapp.api_base_url.clone()),
            ChannelMode::Sandbox => self.inner.graph_base.read().ok()?.clone(),
        }
    }

    /// Records the address the server is bound to, so the webhook URL shown names the
    /// real port (`server.listen` may say port 0).
    pub fn set_listen_address(&self, address: std::net::SocketAddr) {
        if let Ok(mut current) = self.inner.listen_address.write() {
            *current = Some(address);
        }
    }

    /// The bound address, or the configured one until the server is bound.
    pub fn listen_address(&self) -> std::net::SocketAddr {
        self.inner
            .listen_address
            .read()
            .ok()
            .and_then(|a| *a)
            .unwrap_or(self.config().server.listen)
    }

    pub async fn whatsapp_view(&self) -> Result<WhatsAppView, EngineError> {
        let engine = self.clone();
        tokio::task::spawn_blocking(move || {
            let config = &engine.config().whatsapp;
            let server = &engine.config().server;
            let (webhook_url, webhook_url_is_public) = match &server.public_url {
                Some(url) if !url.trim().is_empty() => (
                    format!("{}/webhooks/whatsapp", url.trim().trim_end_matches('/')),
                    true,
                ),
                _ => (
                    format!("http://{}/webhooks/whatsapp", engine.listen_address()),
                    false,
                ),
            };
            WhatsAppView {
                mode: engine.mode(),
                phone_number_id: engine.phone_number_id_in_use(),
                waba_id: match engine.mode() {
                    ChannelMode::Sandbox => crate::sandbox::SANDBOX_WABA_ID.to_string(),
                    ChannelMode::Live => config.waba_id.clone(),
                },
                api_version: config.api_version.clone(),
                api_base_url: engine.graph_base_in_use(),
                webhook_url,
                webhook_url_is_public,
                verify_token_present: engine.secret_present(SecretName::WhatsAppVerifyToken),
                access_token_present: engine.secret_present(SecretName::WhatsAppAccessToken),
                app_secret_present: engine.secret_present(SecretName::WhatsAppAppSecret),
            }
        })
        .await
        .map_err(|e| EngineError::Internal(e.to_string()))
    }

    /// `GET /{version}/{phone_number_id}` on the Graph API in use, with the access token as
    /// stored now (live) or the sandbox's own (sandbox).
    pub async fn test_whatsapp(&self) -> Result<ProbeOutcome<PhoneNumberInfo>, EngineError> {
        let started = Instant::now();
        let failed = |error: ProbeError| ProbeOutcome {
            latency_ms: elapsed_ms(started),
            result: Err(error),
        };
        let Some(base) = self.graph_base_in_use() else {
            return Ok(failed(probe_error(
                "unavailable",
                "the sandbox's Graph API is not serving yet",
            )));
        };
        let token = match self.mode() {
            ChannelMode::Sandbox => self.channel().access_token.clone(),
            ChannelMode::Live => {
                let secrets = self.secrets().clone();
                tokio::task::spawn_blocking(move || secrets.get(&SecretName::WhatsAppAccessToken))
                    .await
                    .map_err(|e| EngineError::Internal(e.to_string()))?
                    .map_err(|e| EngineError::Unavailable(e.to_string()))?
            }
        };
        let Some(token) = token else {
            return Ok(failed(probe_error(
                "missing_token",
                "no WhatsApp access token is stored: set whatsapp.access-token",
            )));
        };
        let client = match GraphClient::new(GraphConfig::new(
            base,
            self.config().whatsapp.api_version.clone(),
            self.phone_number_id_in_use(),
            Secret::new(token.expose()),
        )) {
            Ok(client) => client,
            Err(e) => return Ok(failed(probe_error("configuration", e.to_string()))),
        };
        let started = Instant::now();
        let result = client
            .phone_number()
            .await
            .map_err(|e| graph_probe_error(&e));
        Ok(ProbeOutcome {
            latency_ms: elapsed_ms(started),
            result,
        })
    }
}

impl Engine {
    /// The sandbox's Graph API answering `GET /{version}/{phone_number_id}` as Meta does,
    /// with the same token check as its send endpoint.
    pub fn sandbox_graph_phone_number(
        &self,
        bearer: Option<&str>,
        phone_number_id: &str,
    ) -> Result<serde_json::Value, EngineError> {
        if self.mode() != ChannelMode::Sandbox {
            return Err(EngineError::NotFound(
                "the sandbox Graph API exists only in sandbox mode".into(),
            ));
        }
        let expected = self.channel().access_token.as_ref().map(|t| t.expose());
        if bearer.is_none() || bearer != expected {
            return Err(EngineError::Forbidden(
                "(#190) Invalid OAuth access token".into(),
            ));
        }
        if phone_number_id != crate::sandbox::SANDBOX_PHONE_NUMBER_ID {
            return Err(EngineError::NotFound(format!(
                "(#100) Unsupported get request. Object with ID '{phone_number_id}' does not exist"
            )));
        }
        Ok(serde_json::json!({
            "verified_name": self.config().business.name,
            "code_verification_status": "VERIFIED",
            "display_phone_number": format!("+{}", crate::sandbox::SANDBOX_DISPLAY_NUMBER),
            "quality_rating": "GREEN",
            "platform_type": "CLOUD_API",
            "throughput": { "level": "STANDARD" },
            "id": crate::sandbox::SANDBOX_PHONE_NUMBER_ID,
        }))
    }
}

fn llm_key(entry: &ProviderEntry) -> SecretName {
    SecretName::LlmKey {
        provider: entry.name.clone(),
        env: entry.api_key_env(),
    }
}

fn elapsed_ms(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}
