//! Newtype ids, so a `ConversationId` can never be passed where an `ActionId` is expected.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! id_type {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {$(
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(transparent)]
        #[schema(value_type = i64)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl From<i64> for $name {
            fn from(v: i64) -> Self {
                Self(v)
            }
        }
    )*};
}

id_type!(
    /// A customer of the business, identified by phone number or business-scoped user id.
    ContactId,
    /// The one WhatsApp thread between a contact and a business number.
    ConversationId,
    /// A message in a conversation, in either direction.
    MessageId,
    /// One raw webhook body as it was received.
    InboxId,
    /// One run of the pipeline over a request.
    RunId,
    /// An action the model proposed.
    ActionId,
    /// A request for a human.
    EscalationId,
    /// A to-do for an operator.
    TaskId,
    /// One record of the audit trail.
    AuditId,
    /// A human user of the console.
    OperatorId,
    /// A knowledge-base document.
    DocumentId,
);
