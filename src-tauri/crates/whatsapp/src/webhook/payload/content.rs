//! The type-specific part of an inbound message (`text`, `image`, `interactive`, ...).
//!
//! Content never causes a message to be dropped: a type we do not know, or a known type
//! whose object has an unexpected shape, becomes [`MessageContent::Unsupported`] with the
//! raw JSON, so an operator still sees that the user wrote something.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::serde_util::{null_as_empty, opt_f64_from_str_or_number, u64_from_str_or_number};

/// What a message contains.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MessageContent {
    /// `type: "text"`.
    Text {
        /// `text.body`.
        body: String,
    },
    /// `image`, `video`, `document`, `audio` or `sticker`.
    Media(Media),
    /// `type: "location"`.
    Location(Location),
    /// `type: "contacts"`: shared contact cards (not the sender's profile).
    Contacts {
        /// The cards, in order.
        cards: Vec<ContactCard>,
    },
    /// `type: "interactive"`: a reply to an interactive message we sent.
    Interactive(InteractiveReply),
    /// `type: "button"`: a template quick-reply button.
    Button {
        /// The payload we set on the button, if any.
        payload: Option<String>,
        /// The button label the user tapped.
        text: String,
    },
    /// `type: "reaction"`.
    Reaction {
        /// The wamid reacted to.
        message_id: String,
        /// The emoji; `None` means the reaction was removed (empty or missing on the wire).
        emoji: Option<String>,
    },
    /// `type: "order"`: a cart sent from a catalog.
    Order(Order),
    /// `type: "system"`: e.g. the user changed number. Has no `value.contacts`.
    System(SystemMessage),
    /// An unknown type (`unsupported`, a new type, ...) or a known type with a shape we
    /// could not read. Kept, never dropped.
    Unsupported {
        /// The wire `type`.
        type_name: String,
        /// The whole message object as received.
        raw: Value,
    },
}

/// The kind of a media message; the wire `type` and the name of its object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaKind {
    /// `image`.
    Image,
    /// `video`.
    Video,
    /// `document`.
    Document,
    /// `audio` (including voice notes).
    Audio,
    /// `sticker`.
    Sticker,
}

impl MediaKind {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Image => "image",
            Self::Video => "video",
            Self::Document => "document",
            Self::Audio => "audio",
            Self::Sticker => "sticker",
        }
    }

    fn from_type_name(name: &str) -> Option<Self> {
        Some(match name {
            "image" => Self::Image,
            "video" => Self::Video,
            "document" => Self::Document,
            "audio" => Self::Audio,
            "sticker" => Self::Sticker,
            _ => return None,
        })
    }
}

/// A media attachment. Download it with `GET /{version}/{id}` then `GET url`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Media {
    /// Which media type.
    pub kind: MediaKind,
    /// Media id (valid for about 7 days).
    pub id: String,
    /// MIME type, e.g. `image/jpeg`.
    pub mime_type: Option<String>,
    /// Base64 SHA-256 of the file, as sent.
    pub sha256: Option<String>,
    /// Caption (image, video, document).
    pub caption: Option<String>,
    /// File name (document).
    pub filename: Option<String>,
    /// Voice note recorded in the client (audio).
    pub voice: Option<bool>,
    /// Animated sticker.
    pub animated: Option<bool>,
    /// Download URL, which some payloads include.
    pub url: Option<String>,
}

/// A shared location.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Location {
    /// Latitude in degrees.
    pub latitude: f64,
    /// Longitude in degrees.
    pub longitude: f64,
    /// Place name, for a shared place.
    #[serde(default)]
    pub name: Option<String>,
    /// Address, for a shared place.
    #[serde(default)]
    pub address: Option<String>,
    /// URL, for a shared place.
    #[serde(default)]
    pub url: Option<String>,
}

/// A shared contact card (`messages[].contacts[]`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ContactCard {
    /// Name parts.
    #[serde(default)]
    pub name: Option<CardName>,
    /// Phone numbers; `wa_id` is present only when the number is on WhatsApp.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub phones: Vec<CardPhone>,
    /// Email addresses.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub emails: Vec<CardEmail>,
    /// Postal addresses.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub addresses: Vec<CardAddress>,
    /// URLs.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub urls: Vec<CardUrl>,
    /// Organisation.
    #[serde(default)]
    pub org: Option<CardOrg>,
    /// Birthday, `YYYY-MM-DD`.
    #[serde(default)]
    pub birthday: Option<String>,
}

/// Name parts of a contact card.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CardName {
    /// Full display name.
    #[serde(default)]
    pub formatted_name: Option<String>,
    /// Given name.
    #[serde(default)]
    pub first_name: Option<String>,
    /// Family name.
    #[serde(default)]
    pub last_name: Option<String>,
    /// Middle name.
    #[serde(default)]
    pub middle_name: Option<String>,
    /// Prefix.
    #[serde(default)]
    pub prefix: Option<String>,
    /// Suffix.
    #[serde(default)]
    pub suffix: Option<String>,
}

/// A phone number on a contact card.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CardPhone {
    /// The number as written.
    #[serde(default)]
    pub phone: Option<String>,
    /// WhatsApp id, when the number is on WhatsApp.
    #[serde(default)]
    pub wa_id: Option<String>,
    /// `CELL`, `HOME`, ...
    #[serde(default, rename = "type")]
    pub phone_type: Option<String>,
}

/// An email address on a contact card.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CardEmail {
    /// The address.
    #[serde(default)]
    pub email: Option<String>,
    /// `WORK`, `HOME`, ...
    #[serde(default, rename = "type")]
    pub email_type: Option<String>,
}

/// A postal address on a contact card.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CardAddress {
    /// Street.
    #[serde(default)]
    pub street: Option<String>,
    /// City.
    #[serde(default)]
    pub city: Option<String>,
    /// State.
    #[serde(default)]
    pub state: Option<String>,
    /// Postal code.
    #[serde(default)]
    pub zip: Option<String>,
    /// Country name.
    #[serde(default)]
    pub country: Option<String>,
    /// ISO country code.
    #[serde(default)]
    pub country_code: Option<String>,
    /// `WORK`, `HOME`, ...
    #[serde(default, rename = "type")]
    pub address_type: Option<String>,
}

/// A URL on a contact card.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CardUrl {
    /// The URL.
    #[serde(default)]
    pub url: Option<String>,
    /// `WORK`, `HOME`, ...
    #[serde(default, rename = "type")]
    pub url_type: Option<String>,
}

/// Organisation on a contact card.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CardOrg {
    /// Company.
    #[serde(default)]
    pub company: Option<String>,
    /// Department.
    #[serde(default)]
    pub department: Option<String>,
    /// Job title.
    #[serde(default)]
    pub title: Option<String>,
}

/// The user's answer to an interactive message.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "interactive_type", rename_all = "snake_case")]
pub enum InteractiveReply {
    /// A reply button was tapped.
    ButtonReply {
        /// The button id we chose.
        id: String,
        /// The button title.
        title: String,
    },
    /// A list row was picked.
    ListReply {
        /// The row id we chose.
        id: String,
        /// The row title.
        title: String,
        /// The row description, if it had one.
        description: Option<String>,
    },
    /// A WhatsApp Flow was completed.
    NfmReply {
        /// Flow name, e.g. `flow`.
        name: Option<String>,
        /// Human-readable summary.
        body: Option<String>,
        /// The flow's response, a JSON document encoded as a string.
        response_json: Option<String>,
    },
    /// Another or unreadable interactive subtype.
    Other {
        /// `interactive.type`, if it was a string.
        subtype: Option<String>,
        /// The `interactive` object as received.
        raw: Value,
    },
}

impl InteractiveReply {
    /// The wire subtype (`button_reply`, `list_reply`, `nfm_reply`, or whatever was sent).
    pub fn subtype(&self) -> Option<&str> {
        match self {
            Self::ButtonReply { .. } => Some("button_reply"),
            Self::ListReply { .. } => Some("list_reply"),
            Self::NfmReply { .. } => Some("nfm_reply"),
            Self::Other { subtype, .. } => subtype.as_deref(),
        }
    }
}

/// A catalog order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Order {
    /// Catalog id.
    #[serde(default)]
    pub catalog_id: Option<String>,
    /// Free text the user added.
    #[serde(default)]
    pub text: Option<String>,
    /// The cart lines.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub product_items: Vec<ProductItem>,
}

/// One cart line of an [`Order`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProductItem {
    /// Our product id.
    pub product_retailer_id: String,
    /// Quantity (number or string on the wire).
    #[serde(deserialize_with = "u64_from_str_or_number")]
    pub quantity: u64,
    /// Unit price, as sent (a float; use for display, not accounting).
    #[serde(default, deserialize_with = "opt_f64_from_str_or_number")]
    pub item_price: Option<f64>,
    /// ISO 4217 currency.
    #[serde(default)]
    pub currency: Option<String>,
}

/// A system notification about the user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SystemMessage {
    /// What happened.
    pub kind: SystemKind,
    /// Human-readable description.
    pub body: Option<String>,
    /// For a number change, the user's new WhatsApp id (`system.wa_id`); the message's
    /// `from` is the old one.
    pub new_wa_id: Option<String>,
    /// For identity changes, the new identity hash.
    pub identity: Option<String>,
    /// The affected customer, when sent.
    pub customer: Option<String>,
}

/// The `system.type` values.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SystemKind {
    /// `user_changed_number`.
    UserChangedNumber,
    /// `customer_changed_number` (older API versions).
    CustomerChangedNumber,
    /// `customer_identity_changed`.
    CustomerIdentityChanged,
    /// `user_identity_changed`.
    UserIdentityChanged,
    /// Any other value, verbatim (empty when absent).
    Other(String),
}

impl SystemKind {
    fn from_wire(s: &str) -> Self {
        match s {
            "user_changed_number" => Self::UserChangedNumber,
            "customer_changed_number" => Self::CustomerChangedNumber,
            "customer_identity_changed" => Self::CustomerIdentityChanged,
            "user_identity_changed" => Self::UserIdentityChanged,
            other => Self::Other(other.to_owned()),
        }
    }

    /// The wire value.
    pub fn as_str(&self) -> &str {
        match self {
            Self::UserChangedNumber => "user_changed_number",
            Self::CustomerChangedNumber => "customer_changed_number",
            Self::CustomerIdentityChanged => "customer_identity_changed",
            Self::UserIdentityChanged => "user_identity_changed",
            Self::Other(s) => s,
        }
    }

    /// Whether the user's phone number changed (so `new_wa_id` should be followed).
    pub fn is_number_change(&self) -> bool {
        matches!(self, Self::UserChangedNumber | Self::CustomerChangedNumber)
    }
}

impl MessageContent {
    /// The wire `type` of the message.
    pub fn type_name(&self) -> &str {
        match self {
            Self::Text { .. } => "text",
            Self::Media(m) => m.kind.as_str(),
            Self::Location(_) => "location",
            Self::Contacts { .. } => "contacts",
            Self::Interactive(_) => "interactive",
            Self::Button { .. } => "button",
            Self::Reaction { .. } => "reaction",
            Self::Order(_) => "order",
            Self::System(_) => "system",
            Self::Unsupported { type_name, .. } => type_name,
        }
    }

    /// The human text of the message, if it has one: `text.body`, a media caption, a
    /// button or list title, a template button's text, an order's text, or a system body.
    pub fn text(&self) -> Option<&str> {
        match self {
            Self::Text { body } => Some(body),
            Self::Media(m) => m.caption.as_deref(),
            Self::Interactive(
                InteractiveReply::ButtonReply { title, .. }
                | InteractiveReply::ListReply { title, .. },
            ) => Some(title),
            Self::Button { text, .. } => Some(text),
            Self::Order(o) => o.text.as_deref(),
            Self::System(s) => s.body.as_deref(),
            Self::Interactive(_)
            | Self::Location(_)
            | Self::Contacts { .. }
            | Self::Reaction { .. }
            | Self::Unsupported { .. } => None,
        }
    }

    /// Reads the content of a message whose `type` is `type_name`. Never fails: anything
    /// unreadable becomes [`MessageContent::Unsupported`] carrying the whole message.
    pub(crate) fn from_message(type_name: &str, message: &Map<String, Value>) -> Self {
        let object = message.get(type_name);
        Self::known(type_name, object).unwrap_or_else(|| Self::Unsupported {
            type_name: type_name.to_owned(),
            raw: Value::Object(message.clone()),
        })
    }

    fn known(type_name: &str, object: Option<&Value>) -> Option<Self> {
        let object = object?;
        if let Some(kind) = MediaKind::from_type_name(type_name) {
            return media(kind, object).map(Self::Media);
        }
        match type_name {
            "text" => {
                #[derive(Deserialize)]
                struct Text {
                    body: String,
                }
                Text::deserialize(object)
                    .ok()
                    .map(|t| Self::Text { body: t.body })
            }
            "location" => Location::deserialize(object).ok().map(Self::Location),
            "contacts" => Option::<Vec<ContactCard>>::deserialize(object)
                .ok()
                .map(|cards| Self::Contacts {
                    cards: cards.unwrap_or_default(),
                }),
            "interactive" => Some(Self::Interactive(interactive(object))),
            "button" => {
                #[derive(Deserialize)]
                struct Button {
                    payload: Option<String>,
                    text: String,
                }
                Button::deserialize(object).ok().map(|b| Self::Button {
                    payload: b.payload,
                    text: b.text,
                })
            }
            "reaction" => {
                #[derive(Deserialize)]
                struct Reaction {
                    message_id: String,
                    emoji: Option<String>,
                }
                Reaction::deserialize(object).ok().map(|r| Self::Reaction {
                    message_id: r.message_id,
                    // An empty emoji is how WhatsApp says "reaction removed".
                    emoji: r.emoji.filter(|e| !e.is_empty()),
                })
            }
            "order" => Order::deserialize(object).ok().map(Self::Order),
            "system" => system(object).map(Self::System),
            _ => None,
        }
    }
}

fn media(kind: MediaKind, object: &Value) -> Option<Media> {
    #[derive(Deserialize)]
    struct Wire {
        id: String,
        mime_type: Option<String>,
        sha256: Option<String>,
        caption: Option<String>,
        filename: Option<String>,
        voice: Option<bool>,
        animated: Option<bool>,
        url: Option<String>,
    }
    let w = Wire::deserialize(object).ok()?;
    Some(Media {
        kind,
        id: w.id,
        mime_type: w.mime_type,
        sha256: w.sha256,
        caption: w.caption,
        filename: w.filename,
        voice: w.voice,
        animated: w.animated,
        url: w.url,
    })
}

fn interactive(object: &Value) -> InteractiveReply {
    #[derive(Deserialize)]
    struct Choice {
        id: String,
        title: String,
        description: Option<String>,
    }
    #[derive(Deserialize)]
    struct Nfm {
        name: Option<String>,
        body: Option<String>,
        response_json: Option<String>,
    }
    let subtype = object.get("type").and_then(Value::as_str);
    let sub_object = subtype.and_then(|t| object.get(t));
    let parsed = match (subtype, sub_object) {
        (Some("button_reply"), Some(v)) => {
            Choice::deserialize(v)
                .ok()
                .map(|c| InteractiveReply::ButtonReply {
                    id: c.id,
                    title: c.title,
                })
        }
        (Some("list_reply"), Some(v)) => {
            Choice::deserialize(v)
                .ok()
                .map(|c| InteractiveReply::ListReply {
                    id: c.id,
                    title: c.title,
                    description: c.description,
                })
        }
        (Some("nfm_reply"), Some(v)) => {
            Nfm::deserialize(v)
                .ok()
                .map(|n| InteractiveReply::NfmReply {
                    name: n.name,
                    body: n.body,
                    response_json: n.response_json,
                })
        }
        _ => None,
    };
    parsed.unwrap_or_else(|| InteractiveReply::Other {
        subtype: subtype.map(str::to_owned),
        raw: object.clone(),
    })
}

fn system(object: &Value) -> Option<SystemMessage> {
    #[derive(Deserialize)]
    struct Wire {
        body: Option<String>,
        #[serde(rename = "type")]
        kind: Option<String>,
        wa_id: Option<String>,
        new_wa_id: Option<String>,
        identity: Option<String>,
        customer: Option<String>,
    }
    let w = Wire::deserialize(object).ok()?;
    Some(SystemMessage {
        kind: SystemKind::from_wire(w.kind.as_deref().unwrap_or_default()),
        body: w.body,
        // Current payloads put the new number in `wa_id`; older ones used `new_wa_id`.
        new_wa_id: w.wa_id.or(w.new_wa_id),
        identity: w.identity,
        customer: w.customer,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn content(message: Value) -> MessageContent {
        let obj = message.as_object().cloned().unwrap_or_default();
        let type_name = obj
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        MessageContent::from_message(&type_name, &obj)
    }

    #[test]
    fn empty_or_missing_emoji_means_removed() {
        for reaction in [
            json!({"message_id": "w"}),
            json!({"message_id": "w", "emoji": ""}),
        ] {
            let c = content(json!({"type": "reaction", "reaction": reaction}));
            assert_eq!(
                c,
                MessageContent::Reaction {
                    message_id: "w".into(),
                    emoji: None
                }
            );
        }
    }

    #[test]
    fn known_type_with_bad_shape_is_kept_as_unsupported() {
        let c = content(json!({"type": "text", "text": {"body": 42}}));
        assert!(
            matches!(c, MessageContent::Unsupported { ref type_name, .. } if type_name == "text")
        );
        assert_eq!(c.type_name(), "text");
        assert_eq!(c.text(), None);
    }

    #[test]
    fn unknown_interactive_subtype_is_other() {
        let c = content(
            json!({"type": "interactive", "interactive": {"type": "call_permission_reply", "call_permission_reply": {}}}),
        );
        match c {
            MessageContent::Interactive(reply) => {
                assert_eq!(reply.subtype(), Some("call_permission_reply"))
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn nfm_reply_is_typed() {
        let c = content(
            json!({"type": "interactive", "interactive": {"type": "nfm_reply", "nfm_reply": {"name": "flow", "body": "Sent", "response_json": "{\"a\":1}"}}}),
        );
        assert!(matches!(
            c,
            MessageContent::Interactive(InteractiveReply::NfmReply { .. })
        ));
        assert_eq!(c.text(), None);
    }

    #[test]
    fn order_quantity_may_be_a_string() {
        let c = content(
            json!({"type": "order", "order": {"product_items": [{"product_retailer_id": "A", "quantity": "3", "item_price": "1.5"}]}}),
        );
        match c {
            MessageContent::Order(o) => {
                assert_eq!(o.product_items.first().map(|i| i.quantity), Some(3));
                assert_eq!(
                    o.product_items.first().and_then(|i| i.item_price),
                    Some(1.5)
                );
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}
