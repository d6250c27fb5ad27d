//! The sandbox: WhatsApp without a Meta account.
//!
//! Simulated customers write through the very path real webhooks take: a payload in
//! Meta's wire format, signed with this run's sandbox app secret, verified and stored by
//! [`Engine::receive_webhook`]. Sandbox contacts live on their own phone-number id and
//! are flagged, so they never mix with a real number's.

use crate::inbox::WebhookRejection;
use crate::{ChannelMode, Engine, EngineError};
use serde_json::json;
use sha2::{Digest, Sha256};
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

/// A file a simulated customer sends: an image, a video, a voice note or a document.
#[derive(Clone, Debug)]
pub struct SimulatedMedia {
    /// e.g. `image/jpeg`; decides the message type (`image`, `video`, `audio`, `document`).
    pub mime_type: String,
    pub data: Vec<u8>,
    /// The document's name, as a customer's phone would send it.
    pub filename: Option<String>,
}

impl SimulatedMedia {
    /// From base64 (as the API carries it).
    pub fn from_base64(
        mime_type: String,
        data_base64: &str,
        filename: Option<String>,
    ) -> Result<SimulatedMedia, EngineError> {
        use base64::Engine as _;
        let data = base64::engine::general_purpose::STANDARD
            .decode(data_base64.trim())
            .map_err(|e| EngineError::Invalid(format!("`media.data_base64` is not base64: {e}")))?;
        Ok(SimulatedMedia {
            mime_type,
            data,
            filename,
        })
    }

    fn kind(&self) -> &'static str {
        match self.mime_type.split('/').next().unwrap_or("") {
            "image" => "image",
            "video" => "video",
            "audio" => "audio",
            _ => "document",
        }
    }
}

/// What the sandbox keeps of a simulated customer's file, beside its bytes.
#[derive(serde::Serialize, serde::Deserialize)]
struct StoredMedia {
    mime_type: String,
    sha256: String,
    file_size: u64,
}

impl Engine {
    /// Delivers a simulated customer's message through the signed webhook path.
    pub async fn sandbox_customer_writes(
        &self,
        message: SimulatedMessage,
    ) -> Result<InboxId, EngineError> {
        self.require_sandbox()?;
        if message.text.trim().is_empty() {
            return Err(EngineError::Invalid("`text` must not be empty".into()));
        }
        let object = json!({ "type": "text", "text": { "body": message.text } });
        self.simulated_customer_message(&message.from, message.name, object)
            .await
    }

    /// A simulated customer sends a file (with an optional caption). The file is kept in
    /// `<data_dir>/sandbox/media` and served by the sandbox's Graph API, so the engine
    /// downloads it exactly as it downloads a real customer's media.
    pub async fn sandbox_customer_sends_media(
        &self,
        from: &str,
        name: Option<String>,
        caption: Option<String>,
        media: SimulatedMedia,
    ) -> Result<InboxId, EngineError> {
        self.require_sandbox()?;
        let mime_ok = media.mime_type.split_once('/').is_some_and(|(t, s)| {
            !t.is_empty()
                && !s.is_empty()
                && media
                    .mime_type
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"/.+-_".contains(&b))
        });
        if !mime_ok {
            return Err(EngineError::Invalid(
                "`media.mime_type` must be a MIME type such as image/jpeg".into(),
            ));
        }
        if media.data.is_empty() {
            return Err(EngineError::Invalid("the file is empty".into()));
        }
        let limit = self.config().whatsapp.media_max_bytes;
        if media.data.len() as u64 > limit {
            return Err(EngineError::Invalid(format!(
                "the file is larger than whatsapp.media_max_bytes ({limit} bytes)"
            )));
        }
        let media_id = format!(
            "{}{:04}",
            self.now_ms(),
            SEQUENCE.fetch_add(1, Ordering::Relaxed) % 10_000
        );
        let digest = Sha256::digest(&media.data);
        let stored = StoredMedia {
            mime_type: media.mime_type.clone(),
            sha256: hex::encode(digest.as_slice()),
            file_size: media.data.len() as u64,
        };
        let dir = self.sandbox_media_dir();
        let meta = serde_json::to_vec(&stored)
            .map_err(|e| EngineError::Internal(format!("sandbox media: {e}")))?;
        let write = async {
            tokio::fs::create_dir_all(&dir).await?;
            tokio::fs::write(dir.join(&media_id), &media.data).await?;
            tokio::fs::write(dir.join(format!("{media_id}.json")), meta).await
        };
        write.await.map_err(|e| {
            EngineError::Unavailable(format!(
                "cannot keep the sandbox file in {}: {e}",
                dir.display()
            ))
        })?;
        let kind = media.kind();
        let mut object = json!({
            "id": media_id,
            "mime_type": media.mime_type,
            "sha256": base64::Engine::encode(&base64::engine::general_purpose::STANDARD, digest.as_slice()),
        });
        if let Some(caption) = caption.filter(|c| !c.trim().is_empty() && kind != "audio") {
            object["caption"] = json!(caption);
        }
        if kind == "document" {
            if let Some(filename) = media.filename {
                object["filename"] = json!(filename);
            }
        }
        let mut message = serde_json::Map::new();
        message.insert("type".into(), json!(kind));
        message.insert(kind.into(), object);
        let message = serde_json::Value::Object(message);
        self.simulated_customer_message(from, name, message).await
    }

    fn require_sandbox(&self) -> Result<(), EngineError> {
        if self.mode() != ChannelMode::Sandbox {
            return Err(EngineError::Conflict(
                "simulated customers exist only in sandbox mode".into(),
            ));
        }
        Ok(())
    }

    fn sandbox_media_dir(&self) -> std::path::PathBuf {
        self.data_dir().join("sandbox").join("media")
    }

    /// Wraps a message object (`type` and its content) in a webhook from `from`, signs it and
    /// receives it like a real one.
    async fn simulated_customer_message(
        &self,
        from: &str,
        name: Option<String>,
        content: serde_json::Value,
    ) -> Result<InboxId, EngineError> {
        self.require_sandbox()?;
        let from: String = from.chars().filter(char::is_ascii_digit).collect();
        if from.len() < 6 || from.len() > 15 {
            return Err(EngineError::Invalid(
                "`from` must be a phone number of 6 to 15 digits".into(),
            ));
        }
        let now_s = self.now_ms() / 1000;
        let wamid = format!(
            "wamid.sandbox.{}.{}",
            self.now_ms(),
            SEQUENCE.fetch_add(1, Ordering::Relaxed)
        );
        let mut message = json!({ "from": from, "id": wamid, "timestamp": now_s.to_string() });
        if let (Some(message), Some(content)) = (message.as_object_mut(), content.as_object()) {
            message.extend(content.clone());
        }
        let body = json!({
            "object": "whatsapp_business_account",
            "entry": [{
                "id": SANDBOX_WABA_ID,
                "changes": [{
                    "field": "messages",
                    "value": {
                        "messaging_product": "whatsapp",
                        "metadata": { "display_phone_number": SANDBOX_DISPLAY_NUMBER, "phone_number_id": SANDBOX_PHONE_NUMBER_ID },
                        "contacts": [{ "profile": { "name": name.unwrap_or_else(|| format!("+{from}")) }, "wa_id": from }],
                        "messages": [message]
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

impl Engine {
    /// The sandbox's Graph API media lookup (`GET /{version}/{media-id}`): answers as Meta
    /// does, with a URL on the sandbox's own address for the bytes.
    pub async fn sandbox_graph_media_lookup(
        &self,
        bearer: Option<&str>,
        media_id: &str,
    ) -> Result<serde_json::Value, EngineError> {
        self.sandbox_graph_auth(bearer)?;
        let stored = self.sandbox_stored_media(media_id).await?;
        let base = self
            .inner
            .graph_base
            .read()
            .ok()
            .and_then(|b| b.clone())
            .ok_or_else(|| {
                EngineError::Internal("the sandbox Graph API has no address yet".into())
            })?;
        Ok(json!({
            "url": format!("{}/media/{media_id}", base.trim_end_matches('/')),
            "mime_type": stored.mime_type,
            "sha256": stored.sha256,
            "file_size": stored.file_size.to_string(),
            "id": media_id,
            "messaging_product": "whatsapp"
        }))
    }

    /// The sandbox's media download: the bytes of a simulated customer's file and their type.
    pub async fn sandbox_graph_media_bytes(
        &self,
        bearer: Option<&str>,
        media_id: &str,
    ) -> Result<(String, Vec<u8>), EngineError> {
        self.sandbox_graph_auth(bearer)?;
        let stored = self.sandbox_stored_media(media_id).await?;
        let bytes = tokio::fs::read(self.sandbox_media_dir().join(media_id))
            .await
            .map_err(|_| {
                EngineError::NotFound(format!("(#100) media {media_id} does not exist"))
            })?;
        Ok((stored.mime_type, bytes))
    }

    fn sandbox_graph_auth(&self, bearer: Option<&str>) -> Result<(), EngineError> {
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
        Ok(())
    }

    async fn sandbox_stored_media(&self, media_id: &str) -> Result<StoredMedia, EngineError> {
        let missing = || {
            EngineError::NotFound(format!(
                "(#100) Unsupported get request. Object with ID '{media_id}' does not exist"
            ))
        };
        // The id arrives in a URL path: digits only, as the sandbox makes them.
        if media_id.is_empty() || !media_id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(missing());
        }
        let meta = tokio::fs::read(self.sandbox_media_dir().join(format!("{media_id}.json")))
            .await
            .map_err(|_| missing())?;
        serde_json::from_slice(&meta).map_err(|_| missing())
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
