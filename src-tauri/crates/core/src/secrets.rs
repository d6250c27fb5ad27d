//! Secrets: the WhatsApp token, app secret, verify token, LLM keys and the operator API token.
//!
//! They live in the OS keyring (Secret Service on Linux). Headless runs may supply them
//! through environment variables instead. They are never written to SQLite, config files
//! or logs: `Secret` has a masking `Debug` and no `Serialize`, so it cannot leak by accident.

use std::fmt;
use std::sync::Arc;
use zeroize::Zeroizing;

/// Keyring service name under which every secret is stored.
pub const KEYRING_SERVICE: &str = "switchboard";

#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(Zeroizing::new(value.into()))
    }

    /// The only way to read the value; grep for it to audit every use.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// A fresh random token of 32 bytes, hex-encoded.
    pub fn generate() -> Self {
        let bytes: [u8; 32] = rand::random();
        Self::new(hex::encode(bytes))
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(****)")
    }
}

/// Which secret: each has one keyring entry and one environment variable.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum SecretName {
    /// The bearer token of the operator API (the desktop app's own; `serve`'s comes from env).
    ApiToken,
    WhatsAppAccessToken,
    WhatsAppAppSecret,
    WhatsAppVerifyToken,
    /// An LLM provider's key; the environment variable is named in the provider's config.
    LlmKey {
        provider: String,
        env: String,
    },
    /// The key a custom action's requests are signed with (HMAC-SHA256); the environment
    /// variable is named in the action's config.
    CustomActionSecret {
        action: String,
        env: String,
    },
}

impl SecretName {
    pub fn keyring_user(&self) -> String {
        match self {
            SecretName::ApiToken => "api-token".into(),
            SecretName::WhatsAppAccessToken => "whatsapp.access-token".into(),
            SecretName::WhatsAppAppSecret => "whatsapp.app-secret".into(),
            SecretName::WhatsAppVerifyToken => "whatsapp.verify-token".into(),
            SecretName::LlmKey { provider, .. } => format!("llm.{provider}"),
            SecretName::CustomActionSecret { action, .. } => {
                format!("custom_action.{action}.secret")
            }
        }
    }

    pub fn env_var(&self) -> String {
        match self {
            SecretName::ApiToken => "SWITCHBOARD_API_TOKEN".into(),
            SecretName::WhatsAppAccessToken => "SWITCHBOARD_WHATSAPP_ACCESS_TOKEN".into(),
            SecretName::WhatsAppAppSecret => "SWITCHBOARD_WHATSAPP_APP_SECRET".into(),
            SecretName::WhatsAppVerifyToken => "SWITCHBOARD_WHATSAPP_VERIFY_TOKEN".into(),
            SecretName::LlmKey { env, .. } => env.clone(),
            SecretName::CustomActionSecret { env, .. } => env.clone(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("the OS keyring is not available ({0}); on a headless machine supply secrets through environment variables")]
    KeyringUnavailable(String),
    #[error("could not write {name} to the OS keyring: {detail}")]
    WriteFailed { name: String, detail: String },
}

/// Where secrets are read from and written to.
pub trait SecretStore: Send + Sync + 'static {
    fn get(&self, name: &SecretName) -> Result<Option<Secret>, SecretError>;
    fn set(&self, name: &SecretName, value: &Secret) -> Result<(), SecretError>;
}

/// Environment variables only; read-only. The store for `switchboard serve` and tests.
#[derive(Clone, Debug, Default)]
pub struct EnvSecrets;

impl SecretStore for EnvSecrets {
    fn get(&self, name: &SecretName) -> Result<Option<Secret>, SecretError> {
        Ok(std::env::var(name.env_var())
            .ok()
            .filter(|v| !v.is_empty())
            .map(Secret::new))
    }

    fn set(&self, name: &SecretName, _value: &Secret) -> Result<(), SecretError> {
        Err(SecretError::WriteFailed {
            name: name.keyring_user(),
            detail: format!(
                "secrets come from environment variables in this mode; set {}",
                name.env_var()
            ),
        })
    }
}

/// The OS keyring. Calls block (D-Bus round trips): call from a blocking thread.
#[derive(Clone, Debug, Default)]
pub struct KeyringSecrets;

impl KeyringSecrets {
    fn entry(name: &SecretName) -> Result<keyring::Entry, SecretError> {
        keyring::Entry::new(KEYRING_SERVICE, &name.keyring_user())
            .map_err(|e| SecretError::KeyringUnavailable(e.to_string()))
    }
}

impl SecretStore for KeyringSecrets {
    fn get(&self, name: &SecretName) -> Result<Option<Secret>, SecretError> {
        match Self::entry(name)?.get_password() {
            Ok(value) => Ok(Some(Secret::new(value))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(SecretError::KeyringUnavailable(e.to_string())),
        }
    }

    fn set(&self, name: &SecretName, value: &Secret) -> Result<(), SecretError> {
        Self::entry(name)?
            .set_password(value.expose())
            .map_err(|e| SecretError::WriteFailed {
                name: name.keyring_user(),
                detail: e.to_string(),
            })
    }
}

/// Environment first (an explicit override wins), then the keyring, which also takes writes.
#[derive(Clone)]
pub struct LayeredSecrets {
    layers: Vec<Arc<dyn SecretStore>>,
}

impl LayeredSecrets {
    pub fn new(layers: Vec<Arc<dyn SecretStore>>) -> Self {
        Self { layers }
    }

    /// The desktop default: environment, then OS keyring.
    pub fn desktop() -> Self {
        Self::new(vec![Arc::new(EnvSecrets), Arc::new(KeyringSecrets)])
    }
}

impl SecretStore for LayeredSecrets {
    fn get(&self, name: &SecretName) -> Result<Option<Secret>, SecretError> {
        let mut last_error = None;
        for layer in &self.layers {
            match layer.get(name) {
                Ok(Some(secret)) => return Ok(Some(secret)),
                Ok(None) => {}
                Err(e) => last_error = Some(e),
            }
        }
        match last_error {
            Some(e) => Err(e),
            None => Ok(None),
        }
    }

    fn set(&self, name: &SecretName, value: &Secret) -> Result<(), SecretError> {
        let mut last_error = None;
        for layer in self.layers.iter().rev() {
            match layer.set(name, value) {
                Ok(()) => return Ok(()),
                Err(e) => last_error = Some(e),
            }
        }
        Err(last_error.unwrap_or(SecretError::WriteFailed {
            name: name.keyring_user(),
            detail: "no secret store is configured".into(),
        }))
    }
}

/// In-memory secrets for tests and the sandbox.
#[derive(Clone, Default)]
pub struct MemorySecrets(Arc<std::sync::Mutex<std::collections::HashMap<String, Secret>>>);

impl SecretStore for MemorySecrets {
    fn get(&self, name: &SecretName) -> Result<Option<Secret>, SecretError> {
        Ok(self
            .0
            .lock()
            .map_err(|_| SecretError::KeyringUnavailable("poisoned".into()))?
            .get(&name.keyring_user())
            .cloned())
    }

    fn set(&self, name: &SecretName, value: &Secret) -> Result<(), SecretError> {
        self.0
            .lock()
            .map_err(|_| SecretError::KeyringUnavailable("poisoned".into()))?
            .insert(name.keyring_user(), value.clone());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let s = Secret::new("hunter2-very-secret");
        assert_eq!(
            format!("{s:?}"),
            "Secret(****)",
            "Debug must mask secrets so logs cannot leak them"
        );
    }

    #[test]
    fn layered_store_prefers_the_first_layer_and_writes_to_the_last() {
        let first = MemorySecrets::default();
        let last = MemorySecrets::default();
        first
            .set(&SecretName::ApiToken, &Secret::new("from-env"))
            .unwrap();
        let layered = LayeredSecrets::new(vec![Arc::new(first.clone()), Arc::new(last.clone())]);
        assert_eq!(
            layered
                .get(&SecretName::ApiToken)
                .unwrap()
                .unwrap()
                .expose(),
            "from-env"
        );
        layered
            .set(&SecretName::WhatsAppAppSecret, &Secret::new("x"))
            .unwrap();
        assert!(
            last.get(&SecretName::WhatsAppAppSecret).unwrap().is_some(),
            "writes go to the persistent (last) layer"
        );
        assert!(first.get(&SecretName::WhatsAppAppSecret).unwrap().is_none());
    }

    #[test]
    fn generated_tokens_are_long_and_distinct() {
        let a = Secret::generate();
        let b = Secret::generate();
        assert_eq!(a.expose().len(), 64);
        assert_ne!(a, b, "two generated tokens must differ");
    }
}
