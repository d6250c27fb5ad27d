//! The business's own actions (`pipeline.custom_actions`): delivered by an HTTP POST to the
//! business's system, signed, retried, recorded.
//!
//! **The request.** `POST <url>` with a JSON body
//! `{action, action_id, params, conversation: {id}, contact: {id, wa_id, phone, name},
//! idempotency_key}` and the headers `X-Switchboard-Signature-256: sha256=<hex>` (HMAC-SHA256
//! of the raw body, keyed with the action's secret: keyring entry
//! `custom_action.<name>.secret`, or the variable `SWITCHBOARD_CUSTOM_ACTION_<NAME>_SECRET`),
//! `Idempotency-Key` and `X-Switchboard-Attempt`. Without a secret nothing is sent: the
//! action fails, saying which secret to set.
//!
//! **Outcome.** A 2xx answer executes the action; its status and body (JSON, or text) are
//! the action's result. 5xx, 408, 429 (honouring `Retry-After`) and network errors are
//! retried with exponential backoff up to `max_attempts` deliveries; any other status fails
//! the action at once. Each outcome is written on the action and in the audit trail.
//!
//! **Exactly once.** Only an `approved` action is claimed (moved to `executing` under a
//! state guard, in the transaction that audits the dispatch), so a second approval or a
//! double click delivers nothing. Every delivery of one action carries the same idempotency
//! key, and the receiver must treat it as the request's identity: a retry after a timeout,
//! or the redelivery at start of an action a crash left `executing`, may reach a system that
//! already acted on the first one.

use crate::{Engine, EngineError};
use backon::{ExponentialBuilder, Retryable};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;
use switchboard_core::config::CustomActionEntry;
use switchboard_core::ids::{ActionId, ConversationId};
use switchboard_core::secrets::SecretName;
use switchboard_core::{Event, Timestamp};
use switchboard_pipeline::actions::{ActionCatalog, CustomActionDef};
use switchboard_store::model::ActorKind;
use switchboard_store::queries::audit::{self, NewAuditEvent};
use switchboard_store::rusqlite::{params, Connection, OptionalExtension};
use switchboard_store::StoreError;

/// The signature header: `sha256=` and the lower-case hex HMAC-SHA256 of the raw body.
pub const SIGNATURE_HEADER: &str = "X-Switchboard-Signature-256";
/// The delivery's number, from 1; the body is identical on every delivery.
pub const ATTEMPT_HEADER: &str = "X-Switchboard-Attempt";
/// Longest `Retry-After` honoured; a longer one is capped to it.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);
/// How much of a response body is kept on the action.
const MAX_KEPT_BODY: usize = 4096;

/// The model's catalog from configuration; a bad declaration stops the start, named.
pub(crate) fn catalog(entries: &[CustomActionEntry]) -> Result<ActionCatalog, EngineError> {
    for entry in entries {
        let url = reqwest::Url::parse(&entry.url).map_err(|e| {
            EngineError::Invalid(format!(
                "pipeline.custom_actions: {:?}: url {:?} is not a URL: {e}",
                entry.name, entry.url
            ))
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(EngineError::Invalid(format!(
                "pipeline.custom_actions: {:?}: url must be http or https, not {:?}",
                entry.name, entry.url
            )));
        }
        if entry.max_attempts == 0 || entry.timeout_ms == 0 {
            return Err(EngineError::Invalid(format!(
                "pipeline.custom_actions: {:?}: max_attempts and timeout_ms must be at least 1",
                entry.name
            )));
        }
    }
    ActionCatalog::new(
        entries
            .iter()
            .map(|e| CustomActionDef {
                name: e.name.clone(),
                description: e.description.clone(),
                schema: e.schema.clone(),
                url: e.url.clone(),
            })
            .collect(),
    )
    .map_err(|e| EngineError::Invalid(format!("pipeline.custom_actions: {e}")))
}

/// `sha256=<hex>` over `body`, as sent in [`SIGNATURE_HEADER`].
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret)
        .expect("HMAC-SHA256 accepts keys of any length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Why one delivery did not succeed.
#[derive(Debug)]
enum DeliveryError {
    Status {
        status: u16,
        body: String,
        retry_after: Option<Duration>,
    },
    Network(String),
}

impl DeliveryError {
    fn is_retryable(&self) -> bool {
        match self {
            DeliveryError::Status { status, .. } => {
                *status >= 500 || *status == 408 || *status == 429
            }
            DeliveryError::Network(_) => true,
        }
    }
}

impl std::fmt::Display for DeliveryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeliveryError::Status { status, body, .. } if body.is_empty() => {
                write!(f, "the endpoint answered {status}")
            }
            DeliveryError::Status { status, body, .. } => {
                write!(f, "the endpoint answered {status}: {body}")
            }
            DeliveryError::Network(e) => write!(f, "the endpoint could not be reached: {e}"),
        }
    }
}

/// What is sent, built once per delivery run.
struct Prepared {
    entry: CustomActionEntry,
    conversation: ConversationId,
    body: Vec<u8>,
    key: String,
}

fn excerpt(text: &str) -> String {
    let mut cut = text.len().min(MAX_KEPT_BODY);
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    text[..cut].to_string()
}

fn event<'a>(
    kind: &'a str,
    conversation: ConversationId,
    action: ActionId,
    detail: Value,
) -> NewAuditEvent<'a> {
    NewAuditEvent {
        actor_kind: ActorKind::System,
        actor: "executor",
        kind,
        conversation_id: Some(conversation),
        run_id: None,
        action_id: Some(action),
        detail,
    }
}

/// Reads what the request carries; `None` if the action is not `executing` any more.
fn prepare(
    c: &Connection,
    id: ActionId,
    entry: &CustomActionEntry,
) -> Result<Option<Prepared>, StoreError> {
    let row = c
        .query_row(
            "SELECT a.conversation_id, a.params, a.idempotency_key, ct.id, ct.wa_id, ct.name
             FROM actions a JOIN conversations cv ON cv.id = a.conversation_id JOIN contacts ct ON ct.id = cv.contact_id
             WHERE a.id = ?1 AND a.state = 'executing'",
            [id.0],
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, Option<String>>(4)?,
                    r.get::<_, Option<String>>(5)?,
                ))
            },
        )
        .optional()?;
    let Some((conversation, params_text, key, contact, wa_id, name)) = row else {
        return Ok(None);
    };
    let params: Value = serde_json::from_str(&params_text)?;
    let body = json!({
        "action": entry.name,
        "action_id": id.0,
        "params": params,
        "conversation": {"id": conversation},
        "contact": {
            "id": contact,
            "phone": wa_id.as_ref().map(|w| format!("+{w}")),
            "wa_id": wa_id,
            "name": name,
        },
        "idempotency_key": key,
    });
    Ok(Some(Prepared {
        entry: entry.clone(),
        conversation: ConversationId(conversation),
        body: serde_json::to_vec(&body)?,
        key,
    }))
}

/// Sends once; the 2xx answer's status and body.
async fn deliver_once(
    client: &reqwest::Client,
    prepared: &Prepared,
    signed: &str,
    attempt: u32,
) -> Result<(u16, Value), DeliveryError> {
    let response = client
        .post(&prepared.entry.url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(SIGNATURE_HEADER, signed)
        .header("Idempotency-Key", &prepared.key)
        .header(ATTEMPT_HEADER, attempt.to_string())
        .body(prepared.body.clone())
        .send()
        .await
        .map_err(|e| DeliveryError::Network(e.to_string()))?;
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(|s| Duration::from_secs(s).min(MAX_RETRY_AFTER));
    let text = response
        .text()
        .await
        .map_err(|e| DeliveryError::Network(format!("reading the answer: {e}")))?;
    if !(200..300).contains(&status) {
        return Err(DeliveryError::Status {
            status,
            body: excerpt(text.trim()),
            retry_after,
        });
    }
    let body =
        serde_json::from_str::<Value>(&text).unwrap_or_else(|_| json!({ "text": excerpt(&text) }));
    Ok((status, body))
}

impl Engine {
    fn custom_entry(&self, kind: &str) -> Option<CustomActionEntry> {
        self.config()
            .pipeline
            .custom_actions
            .iter()
            .find(|e| e.name == kind)
            .cloned()
    }

    /// Executes an approved custom action: claims it and delivers it in the background.
    /// `false` if the action is not a custom one (the caller executes it otherwise).
    pub(crate) async fn execute_custom_action(&self, id: ActionId) -> Result<bool, EngineError> {
        let action = self.action(id).await?;
        let Some(entry) = self.custom_entry(&action.kind) else {
            return Ok(false);
        };
        let now = self.now_ms();
        let url = entry.url.clone();
        let conversation = action.conversation_id;
        let kind = action.kind;
        let claimed = self
            .store()
            .write(move |c| {
                let claimed = c.execute(
                    "UPDATE actions SET state = 'executing' WHERE id = ?1 AND state = 'approved'",
                    [id.0],
                )?;
                if claimed == 0 {
                    return Ok(false);
                }
                audit::append(
                    c,
                    &event(
                        "action.dispatched",
                        conversation,
                        id,
                        json!({"action": kind, "url": url}),
                    ),
                    now,
                )?;
                Ok(true)
            })
            .await?;
        if claimed {
            self.bus().publish(Event::ActionExecuted {
                action_id: id,
                conversation_id: conversation,
                state: "executing".into(),
            });
            let engine = self.clone();
            tokio::spawn(async move { engine.deliver_custom_action(id, entry).await });
        }
        Ok(true)
    }

    /// Delivers an `executing` custom action and records the outcome.
    async fn deliver_custom_action(&self, id: ActionId, entry: CustomActionEntry) {
        if let Err(e) = self.try_deliver_custom_action(id, entry).await {
            tracing::error!(action = %id, error = %e, "cannot record a custom action's delivery; it is redelivered at the next start");
        }
    }

    async fn try_deliver_custom_action(
        &self,
        id: ActionId,
        entry: CustomActionEntry,
    ) -> Result<(), EngineError> {
        let for_read = entry.clone();
        let Some(prepared) = self
            .store()
            .read(move |c| prepare(c, id, &for_read))
            .await?
        else {
            return Ok(());
        };
        let attempts = Arc::new(AtomicU32::new(0));
        let outcome = match self.signing_secret(&entry).await {
            Err(reason) => Err(reason),
            Ok(secret) => {
                let signed = signature(secret.expose().as_bytes(), &prepared.body);
                self.deliver_with_retries(&prepared, &signed, &attempts)
                    .await
            }
        };
        let tries = attempts.load(Ordering::Relaxed);
        let now = self.now_ms();
        let conversation = prepared.conversation;
        let state = self
            .store()
            .write(move |c| settle(c, id, conversation, outcome, tries, now))
            .await?;
        if let Some(state) = state {
            self.bus().publish(Event::ActionExecuted {
                action_id: id,
                conversation_id: conversation,
                state: state.into(),
            });
        }
        Ok(())
    }

    async fn signing_secret(
        &self,
        entry: &CustomActionEntry,
    ) -> Result<switchboard_core::Secret, String> {
        let name = SecretName::CustomActionSecret {
            action: entry.name.clone(),
            env: entry.secret_env(),
        };
        let store = self.secrets().clone();
        let lookup = name.clone();
        // The keyring answers over D-Bus: not on the async threads.
        let found = tokio::task::spawn_blocking(move || store.get(&lookup))
            .await
            .map_err(|e| e.to_string())?;
        match found {
            Ok(Some(secret)) if !secret.is_empty() => Ok(secret),
            Ok(_) => Err(format!(
                "no signing secret for {}: set {} in Settings (keyring entry {}) or the environment variable {}; nothing was sent",
                entry.name,
                name.keyring_user(),
                name.keyring_user(),
                name.env_var()
            )),
            Err(e) => Err(format!(
                "the signing secret of {} cannot be read ({e}); nothing was sent",
                entry.name
            )),
        }
    }

    async fn deliver_with_retries(
        &self,
        prepared: &Prepared,
        signed: &str,
        attempts: &Arc<AtomicU32>,
    ) -> Result<(u16, Value), String> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_millis(prepared.entry.timeout_ms))
            .connect_timeout(Duration::from_millis(prepared.entry.timeout_ms.min(5_000)))
            .user_agent(concat!("switchboard/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot build an HTTP client: {e}"))?;
        let backoff = ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(200))
            .with_max_delay(Duration::from_secs(10))
            .with_factor(2.0)
            .with_jitter()
            .with_max_times(prepared.entry.max_attempts.saturating_sub(1) as usize);
        let result = (|| async {
            let attempt = attempts.fetch_add(1, Ordering::Relaxed) + 1;
            deliver_once(&client, prepared, signed, attempt).await
        })
        .retry(backoff)
        .when(DeliveryError::is_retryable)
        .adjust(|e, planned| match e {
            DeliveryError::Status {
                retry_after: Some(wait),
                ..
            } => planned.map(|_| *wait),
            _ => planned,
        })
        .notify(|e, wait| {
            tracing::warn!(action = %prepared.entry.name, error = %e, ?wait, "custom action delivery failed; retrying");
        })
        .await;
        result.map_err(|e| {
            let tries = attempts.load(Ordering::Relaxed);
            if e.is_retryable() {
                format!("no success after {tries} deliveries; the last: {e}")
            } else {
                format!("refused: {e}")
            }
        })
    }

    /// At start: custom actions a crash left `executing` are delivered again, with the same
    /// idempotency key.
    pub(crate) fn spawn_custom_action_recovery(&self) {
        let names: Vec<String> = self
            .config()
            .pipeline
            .custom_actions
            .iter()
            .map(|e| e.name.clone())
            .collect();
        if names.is_empty() {
            return;
        }
        let engine = self.clone();
        tokio::spawn(async move {
            let found = engine
                .store()
                .read(move |c| {
                    let mut stmt = c.prepare(
                        "SELECT id, kind FROM actions WHERE state = 'executing' ORDER BY id",
                    )?;
                    let rows = stmt
                        .query_map([], |r| Ok((ActionId(r.get(0)?), r.get::<_, String>(1)?)))?
                        .collect::<Result<Vec<_>, _>>()?;
                    Ok(rows
                        .into_iter()
                        .filter(|(_, kind)| names.contains(kind))
                        .collect::<Vec<_>>())
                })
                .await;
            match found {
                Ok(found) => {
                    for (id, kind) in found {
                        if let Some(entry) = engine.custom_entry(&kind) {
                            tracing::info!(action = %id, %kind, "redelivering a custom action interrupted by a restart");
                            engine.deliver_custom_action(id, entry).await;
                        }
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "cannot list custom actions interrupted by a restart")
                }
            }
        });
    }
}

/// Writes the outcome on the action (if it is still `executing`) and in the audit trail.
fn settle(
    c: &Connection,
    id: ActionId,
    conversation: ConversationId,
    outcome: Result<(u16, Value), String>,
    attempts: u32,
    now: Timestamp,
) -> Result<Option<&'static str>, StoreError> {
    match outcome {
        Ok((status, body)) => {
            let result = json!({"status": status, "response": body, "attempts": attempts});
            let changed = c.execute(
                "UPDATE actions SET state = 'executed', result = ?2, error = NULL, executed_at = ?3 WHERE id = ?1 AND state = 'executing'",
                params![id.0, result.to_string(), now],
            )?;
            if changed == 0 {
                return Ok(None);
            }
            audit::append(c, &event("action.executed", conversation, id, result), now)?;
            Ok(Some("executed"))
        }
        Err(reason) => {
            let changed = c.execute(
                "UPDATE actions SET state = 'failed', error = ?2, executed_at = ?3 WHERE id = ?1 AND state = 'executing'",
                params![id.0, reason, now],
            )?;
            if changed == 0 {
                return Ok(None);
            }
            audit::append(
                c,
                &event(
                    "action.failed",
                    conversation,
                    id,
                    json!({"error": reason, "attempts": attempts}),
                ),
                now,
            )?;
            Ok(Some("failed"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_hmac_sha256_of_the_raw_body_in_hex() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn only_server_errors_timeouts_and_throttling_are_retried() {
        let status = |status| DeliveryError::Status {
            status,
            body: String::new(),
            retry_after: None,
        };
        for retried in [500, 502, 503, 408, 429] {
            assert!(status(retried).is_retryable(), "{retried}");
        }
        for final_ in [400, 401, 403, 404, 409, 422] {
            assert!(!status(final_).is_retryable(), "{final_}");
        }
        assert!(DeliveryError::Network("reset".into()).is_retryable());
    }
}
