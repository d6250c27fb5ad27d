//! Delivery status updates for messages we sent (`value.statuses[]`).
//!
//! Statuses arrive at least once and out of order (`read` may precede `delivered`, which may
//! never come), so [`DeliveryStatus::supersedes`] defines the only allowed transitions.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::common::{ApiError, Route, UserRef};
use super::drop::{DropReason, ItemField};
use super::message::{required_timestamp, required_user, Rejected};
use crate::serde_util::{opt_str, opt_unix_seconds};

/// A status update for one of our outbound messages.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatusUpdate {
    /// Which account and number sent the message.
    pub route: Route,
    /// Our message's wamid.
    pub wamid: String,
    /// The new status.
    pub status: DeliveryStatus,
    /// Unix seconds.
    pub timestamp: i64,
    /// Who the message was sent to.
    pub recipient: UserRef,
    /// Conversation (mostly absent from v24 on).
    pub conversation: Option<Conversation>,
    /// Pricing (on only one of delivered/read from v24 on).
    pub pricing: Option<Pricing>,
    /// Echo of `biz_opaque_callback_data` from the send request.
    pub biz_opaque_callback_data: Option<String>,
    /// Why it failed, for `failed`.
    pub errors: Vec<ApiError>,
}

/// Delivery status of an outbound message.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Accepted by WhatsApp's servers.
    Sent,
    /// Reached the device.
    Delivered,
    /// Seen by the user.
    Read,
    /// Voice message played.
    Played,
    /// Could not be delivered; terminal.
    Failed,
    /// A value this crate does not know, verbatim. Never applied over a known status.
    Unknown(String),
}

impl DeliveryStatus {
    /// Parses the wire value.
    pub fn from_wire(s: &str) -> Self {
        match s {
            "sent" => Self::Sent,
            "delivered" => Self::Delivered,
            "read" => Self::Read,
            "played" => Self::Played,
            "failed" => Self::Failed,
            other => Self::Unknown(other.to_owned()),
        }
    }

    /// The wire value.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Sent => "sent",
            Self::Delivered => "delivered",
            Self::Read => "read",
            Self::Played => "played",
            Self::Failed => "failed",
            Self::Unknown(s) => s,
        }
    }

    /// Progress rank: `sent < delivered < read < played`. `None` for `failed` (terminal,
    /// outside the ladder) and unknown values.
    pub fn rank(&self) -> Option<u8> {
        match self {
            Self::Sent => Some(1),
            Self::Delivered => Some(2),
            Self::Read => Some(3),
            Self::Played => Some(4),
            Self::Failed | Self::Unknown(_) => None,
        }
    }

    /// Whether `self` should replace `current` as a message's stored status.
    ///
    /// - Never downgrade along `sent < delivered < read < played`; equal is not an update.
    /// - `failed` is terminal: nothing replaces it, and it replaces any other status.
    /// - Unknown values never replace a known status; any known status replaces an unknown
    ///   one.
    pub fn supersedes(&self, current: &DeliveryStatus) -> bool {
        match (self, current) {
            (_, Self::Failed) => false,
            (Self::Failed, _) => true,
            (Self::Unknown(_), _) => false,
            (_, Self::Unknown(_)) => true,
            (new, old) => match (new.rank(), old.rank()) {
                (Some(new), Some(old)) => new > old,
                _ => false,
            },
        }
    }
}

/// `statuses[].conversation`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Conversation {
    /// Conversation id.
    #[serde(default)]
    pub id: Option<String>,
    /// `origin.type`: `service`, `marketing`, `utility`, ...
    #[serde(default, deserialize_with = "origin_type", rename = "origin")]
    pub origin_type: Option<String>,
    /// When the conversation window ends (only on `sent`).
    #[serde(default, deserialize_with = "opt_unix_seconds")]
    pub expiration_timestamp: Option<i64>,
}

fn origin_type<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    struct Origin {
        #[serde(rename = "type")]
        origin_type: Option<String>,
    }
    Ok(Option::<Origin>::deserialize(d)?.and_then(|o| o.origin_type))
}

/// `statuses[].pricing`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Pricing {
    /// Deprecated by Meta but still sent.
    #[serde(default)]
    pub billable: Option<bool>,
    /// `PMP` (per-message pricing) or legacy `CBP`.
    #[serde(default)]
    pub pricing_model: Option<String>,
    /// `type`: `regular`, `free_customer_service`, `free_entry_point`.
    #[serde(default, rename = "type")]
    pub pricing_type: Option<String>,
    /// `marketing`, `utility`, `authentication`, `service`, ...
    #[serde(default)]
    pub category: Option<String>,
}

/// Turns one `statuses[]` element into a [`StatusUpdate`], or says why it must be dropped.
pub(crate) fn parse_status(route: &Route, value: &Value) -> Result<StatusUpdate, Rejected> {
    let Some(obj) = value.as_object() else {
        return Err(Rejected {
            id: None,
            reason: DropReason::NotAnObject,
        });
    };
    let id = match opt_str(obj, "id") {
        Ok(Some(s)) if !s.is_empty() => Ok(s),
        Ok(_) => Err(DropReason::Missing(ItemField::Id)),
        Err(()) => Err(DropReason::WrongType(ItemField::Id)),
    };
    let usable_id = id.as_ref().ok().map(|s| (*s).to_owned());
    let reject = |reason| Rejected {
        id: usable_id.clone(),
        reason,
    };
    let wamid = id.map_err(&reject)?;
    let status = match opt_str(obj, "status") {
        Ok(Some(s)) if !s.is_empty() => DeliveryStatus::from_wire(s),
        Ok(_) => return Err(reject(DropReason::Missing(ItemField::Status))),
        Err(()) => return Err(reject(DropReason::WrongType(ItemField::Status))),
    };
    let timestamp = required_timestamp(obj).map_err(&reject)?;
    let recipient = required_user(
        obj,
        "recipient_id",
        "recipient_user_id",
        ItemField::Recipient,
    )
    .map_err(&reject)?;

    Ok(StatusUpdate {
        route: route.clone(),
        wamid: wamid.to_owned(),
        status,
        timestamp,
        recipient,
        conversation: obj
            .get("conversation")
            .and_then(|v| Option::<Conversation>::deserialize(v).ok().flatten()),
        pricing: obj
            .get("pricing")
            .and_then(|v| Option::<Pricing>::deserialize(v).ok().flatten()),
        biz_opaque_callback_data: opt_str(obj, "biz_opaque_callback_data")
            .ok()
            .flatten()
            .map(str::to_owned),
        errors: ApiError::list_from(obj.get("errors")),
    })
}

#[cfg(test)]
mod tests {
    use super::DeliveryStatus::{self, *};

    #[test]
    fn never_downgrades_and_failed_is_terminal() {
        let all = [
            Sent,
            Delivered,
            Read,
            Played,
            Failed,
            Unknown("deleted".into()),
        ];
        assert!(Read.supersedes(&Delivered));
        assert!(Played.supersedes(&Read));
        assert!(!Delivered.supersedes(&Read));
        assert!(!Sent.supersedes(&Sent));
        for s in &all {
            assert!(!s.supersedes(&Failed), "{s:?} must not replace failed");
            assert!(!Unknown("x".into()).supersedes(s));
        }
        for s in all.iter().filter(|s| **s != Failed) {
            assert!(Failed.supersedes(s));
        }
        assert!(Sent.supersedes(&Unknown("x".into())));
    }

    #[test]
    fn wire_names_roundtrip() {
        for s in ["sent", "delivered", "read", "played", "failed", "deleted"] {
            assert_eq!(DeliveryStatus::from_wire(s).as_str(), s);
        }
    }
}
