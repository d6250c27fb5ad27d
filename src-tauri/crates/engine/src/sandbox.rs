//! The sandbox: WhatsApp without a Meta account.
//!
//! Simulated customers write through the very path real webhooks take: a payload in
//! Meta's wire format, signed with this run's sandbox app secret, verified and stored by
//! [`Engine::receive_webhook`]. Sandbox contacts live on their own phone-number id and
//! are flagged, so they never mix with a real number's.

use crate::inbox::WebhookRejection;
use crate::{ChannelMode, Engine, EngineError};
use serde_json::json;
use std::sync::atomic::{AtomicU64, Ordering};
use switchboard_core::ids::InboxId;
use switchboard_store::model::InboxSource;

/// The sandbox's business number, distinct from any real phone-number id.
pub const SANDBOX_PHONE_NUMBER_ID: &str = "100000000000001";
pub const SANDBOX_WABA_ID: &str = "100000000000000";
pub const SANDBOX_DISPLAY_NUMBER: &str = "15550100001";

static SEQUENCE: AtomicU64 = AtomicU64::new(0);

/// A message a simulated customer writes.
#[derive(Clone, Debug, serde::Deserialize)]
pub struct SimulatedMessage {
    /// The customer's number, digits only (e.g. `5215512345678`).
    pub from: String,
    pub name: Option<String>,
    pub text: String,
}

impl Engine {
    /// Delivers a simulated customer's message through the signed webhook path.
    pub async fn sandbox_customer_writes(
        &self,
        message: SimulatedMessage,
    ) -> Result<InboxId, EngineError> {
        if self.mode() != ChannelMode::Sandbox {
            return Err(EngineError::Conflict(
                "simulated customers exist only in sandbox mode".into(),
            ));
        }
        let from: String = message.from.chars().filter(char::is_ascii_digit).collect();
        if from.len() < 6 || from.len() > 15 {
            return Err(EngineError::Invalid(
                "`from` must be a phone number of 6 to 15 digits".into(),
            ));
        }
        if message.text.trim().is_empty() {
            return Err(EngineError::Invalid("`text` must not be empty".into()));
        }
        let now_s = self.now_ms() / 1000;
        let wamid = format!(
            "wamid.sandbox.{}.{}",
            self.now_ms(),
            SEQUENCE.fetch_add(1, Ordering::Relaxed)
        );
        let body = json!({
            "object": "whatsapp_business_account",
            "entry": [{
                "id": SANDBOX_WABA_ID,
                "changes": [{
                    "field": "messages",
                    "value": {
                        "messaging_product": "whatsapp",
                        "metadata": { "display_phone_number": SANDBOX_DISPLAY_NUMBER, "phone_number_id": SANDBOX_PHONE_NUMBER_ID },
                        "contacts": [{ "profile": { "name": message.name.clone().unwrap_or_else(|| format!("+{from}")) }, "wa_id": from }],
                        "messages": [{
                            "from": from,
                            "id": wamid,
                            "timestamp": now_s.to_string(),
                            "type": "text",
                            "text": { "body": message.text }
                        }]
                    }
                }]
            }]
        });
        self.deliver_signed(body.to_string().into_bytes()).await
    }

    /// Signs a body with the sandbox secret and receives it like a webhook.
    pub(crate) async fn deliver_signed(&self, body: Vec<u8>) -> Result<InboxId, EngineError> {
        let secret = self
            .channel()
            .app_secret
            .clone()
            .ok_or_else(|| EngineError::Internal("the sandbox has no app secret".into()))?;
        let signature = switchboard_whatsapp::webhook::sign(secret.expose().as_bytes(), &body);
        match self
            .receive_webhook(Some(&signature), body.into(), InboxSource::Sandbox)
            .await
        {
            Ok(id) => Ok(id),
            Err(WebhookRejection::Storage(e)) => Err(e),
            Err(e) => Err(EngineError::Internal(format!(
                "the sandbox built an invalid webhook: {e}"
            ))),
        }
    }
}

/// Delays of the statuses the sandbox reports after accepting a send.
const STATUS_DELAYS_MS: [(u64, &str); 3] = [(150, "sent"), (500, "delivered"), (1_200, "read")];

impl Engine {
    /// The sandbox's Graph API: accepts what Switchboard sends and answers as Meta does,
    /// then reports `sent`, `delivered` and `read` through the signed webhook path, or, for
    /// a share of messages (`whatsapp.sandbox_failure_rate`), a `failed` 131026.
    pub fn sandbox_graph_send(
        &self,
        bearer: Option<&str>,
        request: &serde_json::Value,
    ) -> Result<serde_json::Value, EngineError> {
        if self.mode() != ChannelMode::Sandbox {
            return Err(EngineError::NotFound(
                "the sandbox Graph API exists only in sandbox mode".into(),
            ));
        }
        let expected = self
            .channel()
            .access_token
            .as_ref()
            .map(|t| t.expose().to_string());
        if bearer.is_none() || bearer.map(str::to_owned) != expected {
            return Err(EngineError::Forbidden(
                "(#190) Invalid OAuth access token".into(),
            ));
        }
        let to = request["to"]
            .as_str()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| EngineError::Invalid("(#100) The parameter to is required".into()))?;
        let to = to.trim_start_matches('+').to_string();
        let wamid = format!(
            "wamid.sandbox.out.{}.{}",
            self.now_ms(),
            SEQUENCE.fetch_add(1, Ordering::Relaxed)
        );
        let callback = request["biz_opaque_callback_data"]
            .as_str()
            .map(str::to_owned);
        let fail = rand::random::<f64>() < self.config().whatsapp.sandbox_failure_rate;
        let weak = self.downgrade();
        let (status_wamid, status_to) = (wamid.clone(), to.clone());
        tokio::spawn(async move {
            let mut waited = 0;
            for (at, status) in STATUS_DELAYS_MS {
                tokio::time::sleep(std::time::Duration::from_millis(at - waited)).await;
                waited = at;
                let Some(engine) = weak.upgrade() else { return };
                let status = if fail && status != "sent" {
                    "failed"
                } else {
                    status
                };
                let body = status_webhook(
                    &status_wamid,
                    &status_to,
                    status,
                    engine.now_ms() / 1000,
                    callback.as_deref(),
                );
                if let Err(e) = engine.deliver_signed(body.to_string().into_bytes()).await {
                    tracing::warn!(error = %e, "the sandbox could not report a status");
                }
                if status == "failed" {
                    return;
                }
            }
        });
        Ok(json!({
            "messaging_product": "whatsapp",
            "contacts": [{ "input": to, "wa_id": to }],
            "messages": [{ "id": wamid }]
        }))
    }
}

fn status_webhook(
    wamid: &str,
    to: &str,
    status: &str,
    timestamp: i64,
    callback: Option<&str>,
) -> serde_json::Value {
    let mut item = json!({
        "id": wamid,
        "status": status,
        "timestamp": timestamp.to_string(),
        "recipient_id": to,
    });
    if let Some(callback) = callback {
        item["biz_opaque_callback_data"] = json!(callback);
    }
    if status == "failed" {
        item["errors"] = json!([{
            "code": 131026, "title": "Message undeliverable",
            "message": "Message undeliverable",
            "error_data": { "details": "Sandbox: this simulated customer cannot receive messages right now." }
        }]);
    }
    json!({
        "object": "whatsapp_business_account",
        "entry": [{ "id": SANDBOX_WABA_ID, "changes": [{ "field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": { "display_phone_number": SANDBOX_DISPLAY_NUMBER, "phone_number_id": SANDBOX_PHONE_NUMBER_ID },
            "statuses": [item]
        }}]}]
    })
}
