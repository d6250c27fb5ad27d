//! Settings edited in the console: the context layers, the approved templates and the
//! secrets. Every change is attributed and audited in the transaction that makes it;
//! secrets go to the secret store and only their names reach the audit trail.

use crate::{Actor, Engine, EngineError};
use serde_json::json;
use switchboard_core::secrets::SecretName;
use switchboard_core::{Secret, Timestamp};
use switchboard_store::model::{ActorKind, Role};
use switchboard_store::queries::audit::{self, NewAuditEvent};
use switchboard_store::queries::settings::{self, LayerVersion};

pub use settings::Template;

/// The largest layer text accepted; far above any sensible budget, so it only stops abuse.
const MAX_LAYER_CHARS: usize = 100_000;
const MAX_SECRET_BYTES: usize = 4_096;
const MAX_TEMPLATES: usize = 1_000;

/// The two context layers operators write; the session and request layers are built from
/// the conversation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layer {
    System,
    Domain,
}

impl Layer {
    pub const ALL: [Layer; 2] = [Layer::System, Layer::Domain];

    pub fn as_str(self) -> &'static str {
        match self {
            Layer::System => "system",
            Layer::Domain => "domain",
        }
    }

    pub fn parse(text: &str) -> Option<Layer> {
        Layer::ALL.into_iter().find(|l| l.as_str() == text)
    }
}

/// A layer as it is in force, with its size against its budget.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerState {
    pub layer: Layer,
    /// 0 while the built-in default is in force.
    pub version: i64,
    pub content: String,
    pub author: Option<String>,
    pub created_at: Option<Timestamp>,
    /// Estimated tokens of `content`.
    pub tokens: u32,
    /// The layer's configured token budget.
    pub budget: u32,
}

impl Engine {
    fn layer_budget(&self, layer: Layer) -> u32 {
        match layer {
            Layer::System => self.config().pipeline.budget_system,
            Layer::Domain => self.config().pipeline.budget_domain,
        }
    }

    fn layer_state(&self, layer: Layer, stored: Option<LayerVersion>) -> LayerState {
        let (version, content, author, created_at) = match stored {
            Some(v) => (v.version, v.content, Some(v.author), Some(v.created_at)),
            // What a run uses when nothing was written (see `runs::gather`).
            None => match layer {
                Layer::System => (
                    0,
                    crate::runs::DEFAULT_SYSTEM_INSTRUCTIONS.to_string(),
                    None,
                    None,
                ),
                Layer::Domain => (0, String::new(), None, None),
            },
        };
        LayerState {
            layer,
            version,
            tokens: switchboard_llm::tokens::estimate_tokens(&content),
            content,
            author,
            created_at,
            budget: self.layer_budget(layer),
        }
    }

    /// Both editable layers as runs will use them.
    pub async fn context_layers(&self) -> Result<Vec<LayerState>, EngineError> {
        let stored = self
            .store()
            .read(|c| {
                Layer::ALL
                    .iter()
                    .map(|l| settings::current_layer(c, l.as_str()))
                    .collect::<Result<Vec<_>, _>>()
            })
            .await?;
        Ok(Layer::ALL
            .into_iter()
            .zip(stored)
            .map(|(layer, stored)| self.layer_state(layer, stored))
            .collect())
    }

    /// Every saved version of a layer, newest first.
    pub async fn context_layer_versions(
        &self,
        layer: Layer,
    ) -> Result<Vec<LayerState>, EngineError> {
        let versions = self
            .store()
            .read(move |c| settings::layer_versions(c, layer.as_str()))
            .await?;
        Ok(versions
            .into_iter()
            .map(|v| self.layer_state(layer, Some(v)))
            .collect())
    }

    /// Saves a new version of a layer; the next run uses it. With `base_version`, refuses
    /// (409) when another version was saved since the editor loaded that one.
    pub async fn set_context_layer(
        &self,
        actor: &Actor,
        layer: Layer,
        content: String,
        base_version: Option<i64>,
    ) -> Result<LayerState, EngineError> {
        require_owner(actor, "edit the context layers")?;
        let content = content.trim().to_string();
        if content.is_empty() {
            return Err(EngineError::Invalid(format!(
                "the {} layer cannot be empty",
                layer.as_str()
            )));
        }
        if content.chars().count() > MAX_LAYER_CHARS {
            return Err(EngineError::Invalid(format!(
                "a layer has at most {MAX_LAYER_CHARS} characters"
            )));
        }
        let label = actor.label();
        let now = self.now_ms();
        let saved = self
            .store()
            .write(move |c| {
                let saved = settings::add_layer_version(
                    c,
                    layer.as_str(),
                    &content,
                    &label,
                    base_version,
                    now,
                )?;
                audit::append(
                    c,
                    &NewAuditEvent {
                        actor_kind: ActorKind::Operator,
                        actor: &label,
                        kind: "context_layer.updated",
                        conversation_id: None,
                        run_id: None,
                        action_id: None,
                        detail: json!({
                            "layer": layer.as_str(),
                            "version": saved.version,
                            "content": saved.content,
                        }),
                    },
                    now,
                )?;
                Ok(saved)
            })
            .await?;
        Ok(self.layer_state(layer, Some(saved)))
    }

    pub async fn templates(&self) -> Result<Vec<Template>, EngineError> {
        Ok(self.store().read(settings::templates).await?)
    }

    /// Replaces the configured templates with `templates`, checked first: a bad entry
    /// changes nothing.
    pub async fn set_templates(
        &self,
        actor: &Actor,
        templates: Vec<Template>,
    ) -> Result<Vec<Template>, EngineError> {
        require_owner(actor, "change the templates")?;
        if templates.len() > MAX_TEMPLATES {
            return Err(EngineError::Invalid(format!(
                "at most {MAX_TEMPLATES} templates"
            )));
        }
        let mut seen = std::collections::HashSet::new();
        for t in &templates {
            check_template(t)?;
            if !seen.insert((t.name.clone(), t.language.clone())) {
                return Err(EngineError::Invalid(format!(
                    "template {:?} in language {:?} is listed twice",
                    t.name, t.language
                )));
            }
        }
        let label = actor.label();
        let now = self.now_ms();
        self.store()
            .write(move |c| {
                settings::replace_templates(c, &templates)?;
                audit::append(
                    c,
                    &NewAuditEvent {
                        actor_kind: ActorKind::Operator,
                        actor: &label,
                        kind: "templates.replaced",
                        conversation_id: None,
                        run_id: None,
                        action_id: None,
                        detail: json!({
                            "templates": templates.iter()
                                .map(|t| json!({ "name": t.name, "language": t.language, "category": t.category }))
                                .collect::<Vec<_>>(),
                        }),
                    },
                    now,
                )?;
                Ok(())
            })
            .await?;
        self.templates().await
    }

    /// Stores a secret in the secret store (the OS keyring in the app). The value is never
    /// echoed, logged or audited; the audit record names the secret only. Returns whether
    /// it is in use at once (model keys: the chain is rebuilt) or after a restart (the
    /// WhatsApp credentials, which the webhook reads once at start).
    pub async fn set_secret(
        &self,
        actor: &Actor,
        name: &str,
        value: Secret,
    ) -> Result<SecretApplied, EngineError> {
        require_owner(actor, "set secrets")?;
        let secret = self.secret_name(name)?;
        let bytes = value.expose().len();
        if value.expose().trim().is_empty() {
            return Err(EngineError::Invalid(format!(
                "the value of {name} is empty"
            )));
        }
        if bytes > MAX_SECRET_BYTES {
            return Err(EngineError::Invalid(format!(
                "a secret has at most {MAX_SECRET_BYTES} bytes"
            )));
        }
        if value.expose().chars().any(char::is_control) {
            return Err(EngineError::Invalid(format!(
                "the value of {name} contains control characters (a pasted line break?)"
            )));
        }
        let store = self.secrets().clone();
        let target = secret.clone();
        tokio::task::spawn_blocking(move || store.set(&target, &value))
            .await
            .map_err(|e| EngineError::Internal(e.to_string()))?
            .map_err(|e| EngineError::Conflict(e.to_string()))?;
        let label = actor.label();
        let now = self.now_ms();
        let keyring_user = secret.keyring_user();
        self.store()
            .write(move |c| {
                audit::append(
                    c,
                    &NewAuditEvent {
                        actor_kind: ActorKind::Operator,
                        actor: &label,
                        kind: "secret.set",
                        conversation_id: None,
                        run_id: None,
                        action_id: None,
                        detail: json!({ "name": keyring_user }),
                    },
                    now,
                )?;
                Ok(())
            })
            .await?;
        Ok(match secret {
            SecretName::LlmKey { .. } => {
                self.rebuild_provider_chain().await?;
                SecretApplied::Now
            }
            _ => SecretApplied::AfterRestart,
        })
    }

    /// The secret an API name stands for: `whatsapp.access-token`, `whatsapp.app-secret`,
    /// `whatsapp.verify-token` or `llm.<provider>` for a configured provider. The API token
    /// is not settable here: it is the credential of this very call.
    pub fn secret_name(&self, name: &str) -> Result<SecretName, EngineError> {
        let known = [
            SecretName::WhatsAppAccessToken,
            SecretName::WhatsAppAppSecret,
            SecretName::WhatsAppVerifyToken,
        ];
        if let Some(found) = known.into_iter().find(|s| s.keyring_user() == name) {
            return Ok(found);
        }
        if let Some(provider) = name.strip_prefix("llm.") {
            if let Some(entry) = self
                .config()
                .llm
                .providers
                .iter()
                .find(|p| p.name == provider)
            {
                return Ok(SecretName::LlmKey {
                    provider: entry.name.clone(),
                    env: entry.api_key_env(),
                });
            }
            return Err(EngineError::NotFound(format!(
                "no model provider is named {provider:?}; configure it first"
            )));
        }
        Err(EngineError::NotFound(format!(
            "unknown secret {name:?}: expected whatsapp.access-token, whatsapp.app-secret, \
             whatsapp.verify-token or llm.<provider>"
        )))
    }

    /// Builds the model chain again from the configuration and the current secrets, so a
    /// new key is used by the next run.
    pub async fn rebuild_provider_chain(&self) -> Result<(), EngineError> {
        let engine = self.clone();
        // With the local models chosen in Settings applied.
        let config = self.effective_config().await?;
        let chain = tokio::task::spawn_blocking(move || {
            crate::providers::chain(&config, engine.secrets().as_ref(), engine.data_dir())
        })
        .await
        .map_err(|e| EngineError::Internal(e.to_string()))?;
        self.set_providers(chain);
        Ok(())
    }
}

/// When a stored secret takes effect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecretApplied {
    Now,
    AfterRestart,
}

pub(crate) fn require_owner(actor: &Actor, what: &str) -> Result<(), EngineError> {
    if actor.role == Role::Owner {
        Ok(())
    } else {
        Err(EngineError::Forbidden(format!("only an owner may {what}")))
    }
}

/// Meta's rules for what it accepts, checked here so a typo is caught before a send fails.
fn check_template(t: &Template) -> Result<(), EngineError> {
    let invalid = |what: String| Err(EngineError::Invalid(what));
    if t.name.is_empty()
        || t.name.len() > 512
        || !t
            .name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return invalid(format!(
            "template name {:?}: lowercase letters, digits and underscores only",
            t.name
        ));
    }
    if t.language.is_empty()
        || t.language.len() > 15
        || !t
            .language
            .bytes()
            .all(|b| b.is_ascii_alphabetic() || b == b'_' || b == b'-')
    {
        return invalid(format!(
            "template {:?}: language {:?} is not a language code like en_US",
            t.name, t.language
        ));
    }
    if !["MARKETING", "UTILITY", "AUTHENTICATION"].contains(&t.category.as_str()) {
        return invalid(format!(
            "template {:?}: category must be MARKETING, UTILITY or AUTHENTICATION, not {:?}",
            t.name, t.category
        ));
    }
    if !t.components.is_array() {
        return invalid(format!(
            "template {:?}: components must be a list (Meta's component objects)",
            t.name
        ));
    }
    if !["approved", "paused", "disabled", "pending", "rejected"].contains(&t.status.as_str()) {
        return invalid(format!(
            "template {:?}: status must be approved, paused, disabled, pending or rejected",
            t.name
        ));
    }
    Ok(())
}

/// How many parameters a template takes: the distinct `{{n}}` / `{{name}}` placeholders
/// in the texts of its components.
pub fn template_parameters(components: &serde_json::Value) -> usize {
    let mut names = std::collections::BTreeSet::new();
    for component in components.as_array().into_iter().flatten() {
        let Some(text) = component.get("text").and_then(|t| t.as_str()) else {
            continue;
        };
        let mut rest = text;
        while let Some(start) = rest.find("{{") {
            let after = &rest[start + 2..];
            let Some(end) = after.find("}}") else { break };
            let name = after[..end].trim();
            if !name.is_empty() {
                let kind = component.get("type").and_then(|t| t.as_str()).unwrap_or("");
                names.insert(format!("{kind}:{name}"));
            }
            rest = &after[end + 2..];
        }
    }
    names.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_the_distinct_placeholders_per_component() {
        let components = json!([
            {"type": "HEADER", "format": "TEXT", "text": "Order {{1}}"},
            {"type": "BODY", "text": "Hi {{1}}, your order {{2}} ships {{2}}. {{ }} {{unclosed"},
            {"type": "FOOTER", "text": "No placeholders"},
            {"type": "BUTTONS", "buttons": []}
        ]);
        assert_eq!(template_parameters(&components), 3);
        assert_eq!(template_parameters(&json!("not a list")), 0);
    }

    #[test]
    fn layers_parse_only_their_names() {
        assert_eq!(Layer::parse("domain"), Some(Layer::Domain));
        assert_eq!(Layer::parse("session"), None);
    }
}
