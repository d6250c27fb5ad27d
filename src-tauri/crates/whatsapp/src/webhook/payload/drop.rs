//! Items skipped individually while the rest of a body is processed.
//!
//! A single broken message must not cost its neighbours (Meta would redeliver the whole
//! batch for days if we answered 400), so unusable items are reported here instead.

use serde::Serialize;
use serde_json::Value;

/// A message, status or error that was skipped.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DroppedItem {
    /// Which array it came from.
    pub item: ItemKind,
    /// Where it was in the body.
    pub location: ItemLocation,
    /// Its wamid, when that much was readable (for logs and dedupe diagnostics).
    pub id: Option<String>,
    /// Why it was skipped.
    pub reason: DropReason,
    /// The element as received.
    pub raw: Value,
}

/// The array a dropped item came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemKind {
    /// `value.messages[]`.
    Message,
    /// `value.statuses[]`.
    Status,
    /// `value.errors[]`.
    Error,
}

/// Position of an item: `entry[entry].changes[change].value.<array>[index]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct ItemLocation {
    /// Index in `entry[]`.
    pub entry: usize,
    /// Index in `changes[]`.
    pub change: usize,
    /// Index in the item's own array.
    pub index: usize,
}

/// Why an item was skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "problem", content = "field", rename_all = "snake_case")]
pub enum DropReason {
    /// The element is not a JSON object.
    NotAnObject,
    /// A required field is absent, `null` or empty.
    Missing(ItemField),
    /// A required field has the wrong JSON type or an unreadable value.
    WrongType(ItemField),
}

impl std::fmt::Display for DropReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotAnObject => f.write_str("not an object"),
            Self::Missing(field) => write!(f, "missing {}", field.label()),
            Self::WrongType(field) => write!(f, "wrong field types ({})", field.label()),
        }
    }
}

/// The fields an item cannot be used without.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemField {
    /// `id` (the wamid): needed to dedupe.
    Id,
    /// `type`: needed to dispatch.
    Type,
    /// `timestamp`: needed to order.
    Timestamp,
    /// `from` / `from_user_id`: needed to know the conversation.
    Sender,
    /// `status` of a status update.
    Status,
    /// `recipient_id` / `recipient_user_id` of a status update.
    Recipient,
    /// `code` of an error.
    Code,
}

impl ItemField {
    /// The wire key (for the identity fields, the phone-based one).
    pub(crate) fn wire_name(self) -> &'static str {
        match self {
            Self::Id => "id",
            Self::Type => "type",
            Self::Timestamp => "timestamp",
            Self::Sender => "from",
            Self::Status => "status",
            Self::Recipient => "recipient_id",
            Self::Code => "code",
        }
    }

    /// Human name used in [`DropReason`]'s `Display`.
    pub fn label(self) -> &'static str {
        match self {
            Self::Id => "id",
            Self::Type => "type",
            Self::Timestamp => "timestamp",
            Self::Sender => "sender",
            Self::Status => "status",
            Self::Recipient => "recipient",
            Self::Code => "code",
        }
    }
}
