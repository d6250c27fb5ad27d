//! Success responses of the send endpoint, and decoding a response of either kind.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::error::{GraphError, GraphErrorBody};
use crate::serde_util::null_as_empty;

/// `200` reply to a message send. Acceptance, not delivery: wait for status webhooks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendMessageResponse {
    /// `whatsapp`.
    #[serde(default)]
    pub messaging_product: Option<String>,
    /// The recipient as given and as normalised.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub contacts: Vec<SentContact>,
    /// The created message(s).
    #[serde(default, deserialize_with = "null_as_empty")]
    pub messages: Vec<SentMessage>,
}

impl SendMessageResponse {
    /// The wamid of the sent message (the first, as one send creates one message).
    pub fn message_id(&self) -> Option<&str> {
        self.messages.first().map(|m| m.id.as_str())
    }

    /// The normalised WhatsApp id of the recipient.
    pub fn wa_id(&self) -> Option<&str> {
        self.contacts.first().and_then(|c| c.wa_id.as_deref())
    }
}

/// `contacts[]` of a send response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentContact {
    /// `to` as we sent it.
    #[serde(default)]
    pub input: Option<String>,
    /// Normalised WhatsApp id.
    #[serde(default)]
    pub wa_id: Option<String>,
}

/// `messages[]` of a send response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentMessage {
    /// The wamid; status webhooks refer to it.
    pub id: String,
    /// For templates: `accepted`, `held_for_quality_assessment`, ...
    #[serde(default)]
    pub message_status: Option<String>,
}

/// `{"success": true}`, the reply to mark-as-read and typing indicators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuccessResponse {
    /// Whether the request took effect.
    pub success: bool,
}

/// `GET /{version}/{phone-number-id}`: the business number as Meta knows it. Every field is
/// optional because Meta adds and drops fields between versions; an answer with neither an
/// id nor a display number is not this object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct PhoneNumberInfo {
    /// The phone number id.
    #[serde(default)]
    pub id: Option<String>,
    /// As shown to customers, e.g. `+1 555-0100`.
    #[serde(default)]
    pub display_phone_number: Option<String>,
    /// The business name Meta approved for the number.
    #[serde(default)]
    pub verified_name: Option<String>,
    /// `GREEN`, `YELLOW`, `RED` or `UNKNOWN`.
    #[serde(default)]
    pub quality_rating: Option<String>,
    /// `VERIFIED`, `NOT_VERIFIED`, `EXPIRED`, …
    #[serde(default)]
    pub code_verification_status: Option<String>,
    /// `CLOUD_API` for a number served by the Cloud API.
    #[serde(default)]
    pub platform_type: Option<String>,
}

/// A Graph call that did not produce the expected success body.
#[derive(Debug, Error)]
pub enum GraphCallError {
    /// Graph answered with an error body; see [`GraphError::classify`].
    #[error("HTTP {status}: {error}")]
    Api {
        /// HTTP status.
        status: u16,
        /// The error (boxed: it is large and this is the cold path).
        error: Box<GraphError>,
    },
    /// The body matched neither the success type nor the error format.
    #[error("HTTP {status}: undecodable Graph response: {source}")]
    Undecodable {
        /// HTTP status.
        status: u16,
        /// The decoding error of the expected shape.
        source: serde_json::Error,
    },
}

/// Decodes a Graph response: a 2xx body as `T`, any body carrying `{"error": ...}` as
/// [`GraphCallError::Api`].
pub fn parse_graph_response<T: DeserializeOwned>(
    status: u16,
    body: &[u8],
) -> Result<T, GraphCallError> {
    // An error body wins regardless of status: Graph has been seen to send errors with 200.
    if let Ok(GraphErrorBody { error }) = serde_json::from_slice::<GraphErrorBody>(body) {
        return Err(GraphCallError::Api {
            status,
            error: Box::new(error),
        });
    }
    serde_json::from_slice::<T>(body)
        .map_err(|source| GraphCallError::Undecodable { status, source })
}
