//! Parsing a verified webhook body into events.
//!
//! The envelope (`object` / `entry[]` / `changes[]` / `value`) must have the right shape or
//! the body is refused with `400`; inside it, each message or status is read on its own so
//! that one unusable item is dropped while its neighbours are kept. Unknown fields are
//! ignored everywhere and `null` arrays count as absent.

mod common;
mod content;
mod drop;
mod message;
mod status;

use serde::Serialize;
use serde_json::{Map, Value};
use thiserror::Error;

pub use common::{ApiError, Route, UserRef};
pub use content::{
    CardAddress, CardEmail, CardName, CardOrg, CardPhone, CardUrl, ContactCard, InteractiveReply,
    Location, Media, MediaKind, MessageContent, Order, ProductItem, SystemKind, SystemMessage,
};
pub use drop::{DropReason, DroppedItem, ItemField, ItemKind, ItemLocation};
pub use message::{InboundMessage, MessageContext, Referral, ReferredProduct};
pub use status::{Conversation, DeliveryStatus, Pricing, StatusUpdate};

use super::signature::VerifiedBody;
use message::Contact;

/// The only `object` this endpoint handles.
pub const WHATSAPP_OBJECT: &str = "whatsapp_business_account";
/// The only `messaging_product` this endpoint handles.
pub const WHATSAPP_PRODUCT: &str = "whatsapp";
/// The only `changes[].field` that carries messages, statuses and errors.
pub const MESSAGES_FIELD: &str = "messages";

/// Result of parsing a well-formed body. Both variants are answered with `200`.
#[derive(Debug, Clone, PartialEq)]
pub enum ParseOutcome {
    /// A WhatsApp body: process its events.
    Processed(ParsedWebhook),
    /// Not for us (another Graph `object` or `messaging_product`): acknowledge, do nothing.
    Ignored(IgnoreReason),
}

impl ParseOutcome {
    /// HTTP status to answer with.
    pub fn http_status(&self) -> u16 {
        200
    }

    /// The events, empty when ignored.
    pub fn events(&self) -> &[WebhookEvent] {
        match self {
            Self::Processed(p) => &p.events,
            Self::Ignored(_) => &[],
        }
    }
}

/// Why a body was acknowledged without processing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IgnoreReason {
    /// `object` is not `whatsapp_business_account` (e.g. `page`).
    OtherObject(String),
    /// Every `messages` change was for another `messaging_product`.
    OtherMessagingProduct(String),
}

/// The events of one POST, in body order, plus the items that had to be skipped.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct ParsedWebhook {
    /// Usable events: per change, messages, then statuses, then errors.
    pub events: Vec<WebhookEvent>,
    /// Items skipped individually.
    pub dropped: Vec<DroppedItem>,
}

/// One thing that happened.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WebhookEvent {
    /// A user wrote to us. Boxed because message content is much larger than the other
    /// variants.
    Message(Box<InboundMessage>),
    /// One of our messages changed status.
    Status(StatusUpdate),
    /// A value-level error (`value.errors[]`), not tied to a message.
    Error(ValueError),
}

/// A `value.errors[]` entry with its route.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ValueError {
    /// Which account and number it concerns.
    pub route: Route,
    /// The error.
    pub error: ApiError,
}

/// What to dedupe an event on before any side effect (delivery is at-least-once and a
/// retry may repeat a wamid inside another batch).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DedupKey {
    /// Messages: by wamid.
    Message(String),
    /// Statuses: by (wamid, status).
    Status(String, DeliveryStatus),
}

impl WebhookEvent {
    /// Where the event belongs.
    pub fn route(&self) -> &Route {
        match self {
            Self::Message(m) => &m.route,
            Self::Status(s) => &s.route,
            Self::Error(e) => &e.route,
        }
    }

    /// The dedupe key; `None` for value-level errors, which carry no id.
    pub fn dedup_key(&self) -> Option<DedupKey> {
        match self {
            Self::Message(m) => Some(DedupKey::Message(m.wamid.clone())),
            Self::Status(s) => Some(DedupKey::Status(s.wamid.clone(), s.status.clone())),
            Self::Error(_) => None,
        }
    }
}

/// A signed body that cannot be processed. Answer `400`; Meta will keep redelivering it,
/// so log it rather than alerting on every attempt.
#[derive(Debug, Error)]
pub enum PayloadError {
    /// Not UTF-8 (JSON must be).
    #[error("body is not valid UTF-8: {0}")]
    InvalidUtf8(#[from] std::str::Utf8Error),
    /// Not JSON (includes empty bodies, truncation and unpaired surrogate escapes).
    #[error("body is not valid JSON: {0}")]
    InvalidJson(#[from] serde_json::Error),
    /// JSON, but the envelope has the wrong shape.
    #[error("unexpected webhook shape at {path}: {problem}")]
    Shape {
        /// Where, e.g. `entry[0].changes[1].value.metadata`.
        path: String,
        /// What was wrong.
        problem: ShapeProblem,
    },
}

impl PayloadError {
    /// HTTP status to answer with.
    pub fn http_status(&self) -> u16 {
        400
    }
}

/// What was wrong with the envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum ShapeProblem {
    /// A required field is absent or `null`.
    #[error("required field is missing")]
    Missing,
    /// A field is present with the wrong JSON type.
    #[error("expected {expected}")]
    WrongType {
        /// The JSON type that was expected.
        expected: &'static str,
    },
}

fn shape(path: impl Into<String>, problem: ShapeProblem) -> PayloadError {
    PayloadError::Shape {
        path: path.into(),
        problem,
    }
}

fn wrong(path: impl Into<String>, expected: &'static str) -> PayloadError {
    shape(path, ShapeProblem::WrongType { expected })
}

/// Requires `obj[key]` to be a non-null value.
fn required<'a>(
    obj: &'a Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<&'a Value, PayloadError> {
    match obj.get(key) {
        None | Some(Value::Null) => Err(shape(format!("{path}.{key}"), ShapeProblem::Missing)),
        Some(v) => Ok(v),
    }
}

fn required_object<'a>(
    obj: &'a Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<&'a Map<String, Value>, PayloadError> {
    required(obj, key, path)?
        .as_object()
        .ok_or_else(|| wrong(format!("{path}.{key}"), "an object"))
}

fn required_string<'a>(
    obj: &'a Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<&'a str, PayloadError> {
    required(obj, key, path)?
        .as_str()
        .ok_or_else(|| wrong(format!("{path}.{key}"), "a string"))
}

/// An optional array: absent and `null` are empty, anything else but an array is a shape
/// error.
fn optional_array<'a>(
    obj: &'a Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<&'a [Value], PayloadError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(items)) => Ok(items),
        Some(_) => Err(wrong(format!("{path}.{key}"), "an array")),
    }
}

/// Parses a verified body.
///
/// - `Err(PayloadError)`: answer `400` (bad UTF-8, bad JSON, wrong envelope shape).
/// - `Ok(ParseOutcome::Ignored)`: answer `200`, do nothing.
/// - `Ok(ParseOutcome::Processed)`: answer `200`, then handle the events (after dedupe).
pub fn parse(body: VerifiedBody<'_>) -> Result<ParseOutcome, PayloadError> {
    // UTF-8 is checked separately so that logs say "bad bytes" rather than a JSON offset.
    let text = std::str::from_utf8(body.as_bytes())?;
    // serde_json rejects unpaired surrogate escapes and caps nesting depth, so hostile
    // input fails here instead of producing invalid strings or exhausting the stack.
    let root: Value = serde_json::from_str(text)?;
    let root = root.as_object().ok_or_else(|| wrong("$", "an object"))?;

    let object = required_string(root, "object", "$")?;
    if object != WHATSAPP_OBJECT {
        return Ok(ParseOutcome::Ignored(IgnoreReason::OtherObject(
            object.to_owned(),
        )));
    }
    let entries = match root.get("entry") {
        None | Some(Value::Null) => return Err(shape("$.entry", ShapeProblem::Missing)),
        Some(Value::Array(entries)) => entries,
        Some(_) => return Err(wrong("$.entry", "an array")),
    };

    let mut parsed = ParsedWebhook::default();
    let mut whatsapp_changes = 0usize;
    let mut other_product = None;
    for (entry_index, entry) in entries.iter().enumerate() {
        let path = format!("$.entry[{entry_index}]");
        let entry = entry.as_object().ok_or_else(|| wrong(&path, "an object"))?;
        let waba_id = required_string(entry, "id", &path)?;
        let changes = optional_array(entry, "changes", &path)?;
        for (change_index, change) in changes.iter().enumerate() {
            let path = format!("{path}.changes[{change_index}]");
            let change = change
                .as_object()
                .ok_or_else(|| wrong(&path, "an object"))?;
            // Other fields (account_update, message_template_status_update, ...) carry no
            // messages; they are acknowledged and skipped without inspecting their value.
            if required_string(change, "field", &path)? != MESSAGES_FIELD {
                continue;
            }
            let value = required_object(change, "value", &path)?;
            let path = format!("{path}.value");
            match value.get("messaging_product") {
                None | Some(Value::Null) => {}
                Some(Value::String(p)) if p == WHATSAPP_PRODUCT => {}
                Some(Value::String(p)) => {
                    other_product.get_or_insert_with(|| p.clone());
                    continue;
                }
                Some(_) => return Err(wrong(format!("{path}.messaging_product"), "a string")),
            }
            whatsapp_changes += 1;
            let location = |index| ItemLocation {
                entry: entry_index,
                change: change_index,
                index,
            };
            parse_value(waba_id, value, &path, location, &mut parsed)?;
        }
    }

    match other_product {
        Some(product) if whatsapp_changes == 0 => Ok(ParseOutcome::Ignored(
            IgnoreReason::OtherMessagingProduct(product),
        )),
        _ => Ok(ParseOutcome::Processed(parsed)),
    }
}

/// Reads one `changes[].value` of field `messages`.
fn parse_value(
    waba_id: &str,
    value: &Map<String, Value>,
    path: &str,
    location: impl Fn(usize) -> ItemLocation,
    out: &mut ParsedWebhook,
) -> Result<(), PayloadError> {
    let metadata = required_object(value, "metadata", path)?;
    let metadata_path = format!("{path}.metadata");
    let route = Route {
        waba_id: waba_id.to_owned(),
        phone_number_id: required_string(metadata, "phone_number_id", &metadata_path)?.to_owned(),
        display_phone_number: metadata
            .get("display_phone_number")
            .and_then(Value::as_str)
            .map(str::to_owned),
    };
    // All arrays are checked before any event is emitted, so a shape error never leaves
    // a half-read change behind.
    let contacts = Contact::list_from(optional_array(value, "contacts", path)?);
    let messages = optional_array(value, "messages", path)?;
    let statuses = optional_array(value, "statuses", path)?;
    let errors = optional_array(value, "errors", path)?;

    let mut drop = |item, index, raw: &Value, id, reason| {
        out.dropped.push(DroppedItem {
            item,
            location: location(index),
            id,
            reason,
            raw: raw.clone(),
        });
    };
    let mut events = Vec::with_capacity(messages.len() + statuses.len() + errors.len());
    for (index, raw) in messages.iter().enumerate() {
        match message::parse_message(&route, &contacts, raw) {
            Ok(m) => events.push(WebhookEvent::Message(Box::new(m))),
            Err(r) => drop(ItemKind::Message, index, raw, r.id, r.reason),
        }
    }
    for (index, raw) in statuses.iter().enumerate() {
        match status::parse_status(&route, raw) {
            Ok(s) => events.push(WebhookEvent::Status(s)),
            Err(r) => drop(ItemKind::Status, index, raw, r.id, r.reason),
        }
    }
    for (index, raw) in errors.iter().enumerate() {
        match ApiError::from_value(raw) {
            Some(error) => events.push(WebhookEvent::Error(ValueError {
                route: route.clone(),
                error,
            })),
            None => {
                let reason = if raw.is_object() {
                    DropReason::Missing(ItemField::Code)
                } else {
                    DropReason::NotAnObject
                };
                drop(ItemKind::Error, index, raw, None, reason);
            }
        }
    }
    out.events.append(&mut events);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(v: Value) -> Result<ParseOutcome, PayloadError> {
        let bytes = v.to_string().into_bytes();
        parse(VerifiedBody::assume_verified(&bytes))
    }

    fn envelope(value: Value) -> Value {
        json!({"object": "whatsapp_business_account", "entry": [{"id": "W", "changes": [
            {"field": "messages", "value": value}
        ]}]})
    }

    #[test]
    fn null_arrays_are_absent() {
        let out = run(envelope(json!({
            "messaging_product": "whatsapp",
            "metadata": {"phone_number_id": "P"},
            "contacts": null, "messages": null, "statuses": null, "errors": null
        })));
        assert!(
            matches!(out, Ok(ParseOutcome::Processed(ref p)) if p.events.is_empty() && p.dropped.is_empty())
        );
    }

    #[test]
    fn value_errors_become_error_events() {
        let out = run(envelope(json!({
            "metadata": {"phone_number_id": "P"},
            "errors": [{"code": 131000, "title": "Something went wrong"}, {"title": "no code"}]
        })));
        let Ok(ParseOutcome::Processed(p)) = out else {
            panic!("unexpected {out:?}")
        };
        assert!(
            matches!(p.events.as_slice(), [WebhookEvent::Error(ValueError { error, .. })] if error.code == 131000)
        );
        assert_eq!(p.dropped.len(), 1);
    }

    #[test]
    fn other_messaging_product_is_ignored() {
        let out = run(envelope(json!({
            "messaging_product": "instagram",
            "metadata": {"phone_number_id": "P"},
            "messages": [{"id": "x"}]
        })));
        assert!(matches!(
            out,
            Ok(ParseOutcome::Ignored(IgnoreReason::OtherMessagingProduct(
                _
            )))
        ));
    }

    #[test]
    fn other_fields_are_skipped() {
        let out = run(
            json!({"object": "whatsapp_business_account", "entry": [{"id": "W", "changes": [
                {"field": "account_update", "value": {"event": "VERIFIED_ACCOUNT"}}
            ]}]}),
        );
        assert!(matches!(out, Ok(ParseOutcome::Processed(ref p)) if p.events.is_empty()));
    }

    #[test]
    fn username_user_without_phone_is_keyed_by_user_id() {
        let out = run(envelope(json!({
            "metadata": {"phone_number_id": "P"},
            "contacts": [{"profile": {"name": "Wrong"}, "wa_id": "1"}, {"profile": {"name": "Uma"}, "user_id": "AU.9"}],
            "messages": [{"from_user_id": "AU.9", "id": "w1", "timestamp": 5, "type": "text", "text": {"body": "hi"}}]
        })));
        let Ok(ParseOutcome::Processed(p)) = out else {
            panic!("unexpected {out:?}")
        };
        let Some(WebhookEvent::Message(m)) = p.events.first() else {
            panic!("no message in {p:?}")
        };
        assert_eq!(
            m.sender,
            UserRef::Scoped {
                user_id: "AU.9".into()
            }
        );
        assert_eq!(m.contact_name.as_deref(), Some("Uma"));
        assert_eq!(m.timestamp, 5);
    }

    #[test]
    fn envelope_shape_errors_are_rejected() {
        for body in [
            json!([]),
            json!({"entry": []}),
            json!({"object": 1, "entry": []}),
            json!({"object": "whatsapp_business_account", "entry": [1]}),
            json!({"object": "whatsapp_business_account", "entry": [{"changes": []}]}),
            envelope(json!({"messages": []})),
            envelope(json!({"metadata": {"phone_number_id": "P"}, "messages": {}})),
        ] {
            assert!(
                matches!(run(body.clone()), Err(PayloadError::Shape { .. })),
                "{body}"
            );
        }
    }
}
