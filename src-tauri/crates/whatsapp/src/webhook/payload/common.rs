//! Pieces shared by messages, statuses and errors: routing, user identity, API errors.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Where an event belongs: which business account and which of its phone numbers.
/// Route by `phone_number_id`; one POST may carry several.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Route {
    /// WhatsApp Business Account id (`entry[].id`).
    pub waba_id: String,
    /// Business phone number id (`value.metadata.phone_number_id`).
    pub phone_number_id: String,
    /// Business phone number as displayed (`value.metadata.display_phone_number`), if sent.
    pub display_phone_number: Option<String>,
}

/// A WhatsApp user, identified by phone (`wa_id`), by business-scoped user id (BSUID,
/// `user_id`, since 2026), or both. At least one is always present: username users may
/// have no phone number, and older payloads have no BSUID.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(untagged)]
pub enum UserRef {
    /// Only a phone-based WhatsApp id.
    Phone {
        /// Phone-based WhatsApp id (digits, no `+`).
        wa_id: String,
    },
    /// Only a business-scoped user id.
    Scoped {
        /// Business-scoped user id, e.g. `AU.4418802736615093`.
        user_id: String,
    },
    /// Both identifiers.
    Both {
        /// Phone-based WhatsApp id.
        wa_id: String,
        /// Business-scoped user id.
        user_id: String,
    },
}

impl UserRef {
    /// Builds a reference from the two optional identifiers; `None` when both are absent
    /// or empty, which callers treat as "no usable sender".
    pub fn from_parts(wa_id: Option<&str>, user_id: Option<&str>) -> Option<Self> {
        let wa_id = wa_id.filter(|s| !s.is_empty()).map(str::to_owned);
        let user_id = user_id.filter(|s| !s.is_empty()).map(str::to_owned);
        match (wa_id, user_id) {
            (Some(wa_id), Some(user_id)) => Some(Self::Both { wa_id, user_id }),
            (Some(wa_id), None) => Some(Self::Phone { wa_id }),
            (None, Some(user_id)) => Some(Self::Scoped { user_id }),
            (None, None) => None,
        }
    }

    /// The phone-based id, if known.
    pub fn wa_id(&self) -> Option<&str> {
        match self {
            Self::Phone { wa_id } | Self::Both { wa_id, .. } => Some(wa_id),
            Self::Scoped { .. } => None,
        }
    }

    /// The business-scoped user id, if known.
    pub fn user_id(&self) -> Option<&str> {
        match self {
            Self::Scoped { user_id } | Self::Both { user_id, .. } => Some(user_id),
            Self::Phone { .. } => None,
        }
    }

    /// The key to file a person under: `wa_id`, else `user_id` (README: "key people by
    /// `wa_id`, else `user_id`").
    pub fn key(&self) -> &str {
        match self {
            Self::Phone { wa_id } | Self::Both { wa_id, .. } => wa_id,
            Self::Scoped { user_id } => user_id,
        }
    }
}

/// An error object as found in webhooks (`value.errors[]`, `messages[].errors[]`,
/// `statuses[].errors[]`). Branch on `code`, never on the text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiError {
    /// Numeric error code, e.g. 131047.
    pub code: i64,
    /// Short title.
    pub title: Option<String>,
    /// Message text (informational only).
    pub message: Option<String>,
    /// `error_data.details`.
    pub details: Option<String>,
    /// Documentation link.
    pub href: Option<String>,
}

impl ApiError {
    /// Parses one error object; `None` if it has no integer `code` (it could not be acted
    /// upon anyway).
    pub(crate) fn from_value(value: &Value) -> Option<Self> {
        #[derive(Deserialize)]
        struct ErrorData {
            details: Option<String>,
        }
        #[derive(Deserialize)]
        struct Wire {
            code: i64,
            title: Option<String>,
            message: Option<String>,
            error_data: Option<ErrorData>,
            href: Option<String>,
        }
        let wire = Wire::deserialize(value).ok()?;
        Some(Self {
            code: wire.code,
            title: wire.title,
            message: wire.message,
            details: wire.error_data.and_then(|d| d.details),
            href: wire.href,
        })
    }

    /// Parses an optional `errors` array leniently: `null`/absent is empty, elements that
    /// are not usable error objects are skipped, a non-array is treated as empty.
    pub(crate) fn list_from(value: Option<&Value>) -> Vec<Self> {
        match value {
            Some(Value::Array(items)) => items.iter().filter_map(Self::from_value).collect(),
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_ref_requires_one_non_empty_id() {
        assert_eq!(UserRef::from_parts(None, None), None);
        assert_eq!(UserRef::from_parts(Some(""), Some("")), None);
        let scoped = UserRef::from_parts(Some(""), Some("AU.1"));
        assert_eq!(scoped.as_ref().map(UserRef::key), Some("AU.1"));
        let both = UserRef::from_parts(Some("4477"), Some("AU.1"));
        assert_eq!(both.as_ref().map(UserRef::key), Some("4477"));
        assert_eq!(both.as_ref().and_then(UserRef::user_id), Some("AU.1"));
    }
}
