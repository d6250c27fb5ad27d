//! Inbound user messages (`value.messages[]`).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::common::{ApiError, Route, UserRef};
use super::content::MessageContent;
use super::drop::{DropReason, ItemField};
use crate::serde_util::{opt_str, unix_seconds};

/// A message a user sent to one of our numbers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InboundMessage {
    /// Which account and number received it.
    pub route: Route,
    /// Who sent it (phone and/or business-scoped id).
    pub sender: UserRef,
    /// The sender's profile name from `value.contacts`, joined by id (never by index).
    pub contact_name: Option<String>,
    /// The message id (wamid); dedupe on it.
    pub wamid: String,
    /// Unix seconds, as sent by WhatsApp.
    pub timestamp: i64,
    /// Quote / forward / product context.
    pub context: Option<MessageContext>,
    /// Click-to-WhatsApp ad referral.
    pub referral: Option<Referral>,
    /// Message-level errors (e.g. 131051 for unsupported types, failed media downloads).
    pub errors: Vec<ApiError>,
    /// The type-specific content.
    pub content: MessageContent,
}

impl InboundMessage {
    /// The wire `type`.
    pub fn type_name(&self) -> &str {
        self.content.type_name()
    }

    /// The human text, if any (see [`MessageContent::text`]).
    pub fn text(&self) -> Option<&str> {
        self.content.text()
    }
}

/// `messages[].context`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct MessageContext {
    /// The number that sent the quoted message (ours, for replies to us).
    #[serde(default)]
    pub from: Option<String>,
    /// The quoted message's wamid.
    #[serde(default)]
    pub id: Option<String>,
    /// Forwarded message.
    #[serde(default, deserialize_with = "bool_or_false")]
    pub forwarded: bool,
    /// Forwarded more than five times.
    #[serde(default, deserialize_with = "bool_or_false")]
    pub frequently_forwarded: bool,
    /// The product the user asked about.
    #[serde(default)]
    pub referred_product: Option<ReferredProduct>,
}

/// `context.referred_product`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ReferredProduct {
    /// Catalog id.
    #[serde(default)]
    pub catalog_id: Option<String>,
    /// Our product id.
    #[serde(default)]
    pub product_retailer_id: Option<String>,
}

/// `messages[].referral`: the ad or post that started the conversation.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Referral {
    /// URL of the ad or post.
    #[serde(default)]
    pub source_url: Option<String>,
    /// Ad or post id.
    #[serde(default)]
    pub source_id: Option<String>,
    /// `ad` or `post`.
    #[serde(default)]
    pub source_type: Option<String>,
    /// Headline.
    #[serde(default)]
    pub headline: Option<String>,
    /// Body.
    #[serde(default)]
    pub body: Option<String>,
    /// `image` or `video`.
    #[serde(default)]
    pub media_type: Option<String>,
    /// Image URL.
    #[serde(default)]
    pub image_url: Option<String>,
    /// Video URL.
    #[serde(default)]
    pub video_url: Option<String>,
    /// Thumbnail URL.
    #[serde(default)]
    pub thumbnail_url: Option<String>,
    /// Click id for conversion tracking.
    #[serde(default)]
    pub ctwa_clid: Option<String>,
}

fn bool_or_false<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(Option::<bool>::deserialize(d)?.unwrap_or(false))
}

/// A sender profile from `value.contacts[]`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Contact {
    #[serde(default)]
    wa_id: Option<String>,
    #[serde(default)]
    user_id: Option<String>,
    #[serde(default)]
    profile: Option<Profile>,
}

#[derive(Debug, Clone, Deserialize)]
struct Profile {
    #[serde(default)]
    name: Option<String>,
}

impl Contact {
    /// Reads `value.contacts[]`, skipping unreadable entries: a broken profile only costs
    /// a display name, never a message.
    pub(crate) fn list_from(items: &[Value]) -> Vec<Self> {
        items
            .iter()
            .filter_map(|v| Self::deserialize(v).ok())
            .collect()
    }

    /// Finds the profile of `sender`: by `wa_id` first, else by business-scoped `user_id`.
    fn name_for<'a>(contacts: &'a [Self], sender: &UserRef) -> Option<&'a str> {
        let by_wa_id = sender
            .wa_id()
            .and_then(|wa_id| contacts.iter().find(|c| c.wa_id.as_deref() == Some(wa_id)));
        let by_user_id = || {
            sender.user_id().and_then(|user_id| {
                contacts
                    .iter()
                    .find(|c| c.user_id.as_deref() == Some(user_id))
            })
        };
        by_wa_id
            .or_else(by_user_id)
            .and_then(|c| c.profile.as_ref())
            .and_then(|p| p.name.as_deref())
    }
}

/// A message that could not be used, with whatever id it had for the logs.
pub(crate) struct Rejected {
    pub(crate) id: Option<String>,
    pub(crate) reason: DropReason,
}

/// Reads a required non-empty string field.
fn required_str(obj: &Map<String, Value>, field: ItemField) -> Result<&str, DropReason> {
    match opt_str(obj, field.wire_name()) {
        Ok(Some(s)) if !s.is_empty() => Ok(s),
        Ok(_) => Err(DropReason::Missing(field)),
        Err(()) => Err(DropReason::WrongType(field)),
    }
}

/// Reads a required timestamp (string of digits or integer).
pub(crate) fn required_timestamp(obj: &Map<String, Value>) -> Result<i64, DropReason> {
    match obj.get(ItemField::Timestamp.wire_name()) {
        None | Some(Value::Null) => Err(DropReason::Missing(ItemField::Timestamp)),
        Some(v) => unix_seconds(v).ok_or(DropReason::WrongType(ItemField::Timestamp)),
    }
}

/// Reads a user identity from a phone-id key and a BSUID key; at least one must be usable.
pub(crate) fn required_user(
    obj: &Map<String, Value>,
    phone_key: &str,
    user_id_key: &str,
    field: ItemField,
) -> Result<UserRef, DropReason> {
    let phone = opt_str(obj, phone_key).map_err(|()| DropReason::WrongType(field))?;
    let user_id = opt_str(obj, user_id_key).map_err(|()| DropReason::WrongType(field))?;
    UserRef::from_parts(phone, user_id).ok_or(DropReason::Missing(field))
}

/// Turns one `messages[]` element into an [`InboundMessage`], or says why it must be
/// dropped. Only id, type, timestamp and sender are required; everything else is optional
/// and read tolerantly.
pub(crate) fn parse_message(
    route: &Route,
    contacts: &[Contact],
    value: &Value,
) -> Result<InboundMessage, Rejected> {
    let Some(obj) = value.as_object() else {
        return Err(Rejected {
            id: None,
            reason: DropReason::NotAnObject,
        });
    };
    // The id is read first so that every later rejection can still name the message.
    let id = required_str(obj, ItemField::Id);
    let usable_id = id.as_ref().ok().map(|s| (*s).to_owned());
    let reject = |reason| Rejected {
        id: usable_id.clone(),
        reason,
    };
    let wamid = id.map_err(&reject)?;
    let type_name = required_str(obj, ItemField::Type).map_err(&reject)?;
    let timestamp = required_timestamp(obj).map_err(&reject)?;
    let sender = required_user(obj, "from", "from_user_id", ItemField::Sender).map_err(&reject)?;

    let contact_name = Contact::name_for(contacts, &sender).map(str::to_owned);
    let context = obj
        .get("context")
        .and_then(|v| Option::<MessageContext>::deserialize(v).ok().flatten());
    let referral = obj
        .get("referral")
        .and_then(|v| Option::<Referral>::deserialize(v).ok().flatten());

    Ok(InboundMessage {
        route: route.clone(),
        sender,
        contact_name,
        wamid: wamid.to_owned(),
        timestamp,
        context,
        referral,
        errors: ApiError::list_from(obj.get("errors")),
        content: MessageContent::from_message(type_name, obj),
    })
}
