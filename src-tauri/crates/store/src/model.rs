//! Rows as the engine sees them: typed states, ids and times, no wire concerns.

use switchboard_core::ids::*;
use switchboard_core::Timestamp;

macro_rules! string_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $text:literal),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),* }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),* }
            }

            pub fn parse(text: &str) -> Option<Self> {
                match text { $($text => Some($name::$variant),)* _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl rusqlite::types::FromSql for $name {
            fn column_result(value: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
                let text = value.as_str()?;
                $name::parse(text).ok_or_else(|| rusqlite::types::FromSqlError::Other(
                    format!("unknown {} {text:?}", stringify!($name)).into(),
                ))
            }
        }

        impl rusqlite::types::ToSql for $name {
            fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
                Ok(self.as_str().into())
            }
        }
    };
}

string_enum!(
    /// What the console shows for a conversation.
    ConversationState {
        AiActive = "ai_active",
        AwaitingApproval = "awaiting_approval",
        Escalated = "escalated",
        Human = "human",
        Closed = "closed",
    }
);

string_enum!(Direction { Inbound = "inbound", Outbound = "outbound" });

string_enum!(
    /// The life of a proposed action.
    ActionState {
        Pending = "pending",
        Approved = "approved",
        Rejected = "rejected",
        Executing = "executing",
        Executed = "executed",
        Failed = "failed",
        Superseded = "superseded",
        Stale = "stale",
        Forbidden = "forbidden",
    }
);

string_enum!(EscalationState { Open = "open", Taken = "taken", Resolved = "resolved" });

string_enum!(EscalationSource { Model = "model", Tier3 = "tier3", Policy = "policy", Operator = "operator" });

string_enum!(TaskState { Open = "open", Done = "done", Cancelled = "cancelled" });

string_enum!(TaskPriority { Low = "low", Normal = "normal", High = "high", Urgent = "urgent" });

string_enum!(ActorKind { System = "system", Model = "model", Operator = "operator" });

string_enum!(Role { Agent = "agent", Supervisor = "supervisor", Owner = "owner" });

string_enum!(InboxState { Pending = "pending", Processed = "processed", Ignored = "ignored", Failed = "failed" });

string_enum!(InboxSource { WhatsApp = "whatsapp", Sandbox = "sandbox" });

string_enum!(
    /// Where an outbound message is in the outbox. `unknown`: the process stopped while the
    /// send was in flight; a status webhook or an operator settles it.
    SendState { Queued = "queued", Sending = "sending", Sent = "sent", Failed = "failed", Unknown = "unknown", Cancelled = "cancelled" }
);

#[derive(Clone, Debug, PartialEq)]
pub struct Contact {
    pub id: ContactId,
    pub phone_number_id: String,
    pub wa_id: Option<String>,
    pub user_id: Option<String>,
    pub name: Option<String>,
    pub sandbox: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Conversation {
    pub id: ConversationId,
    pub contact: Contact,
    pub state: ConversationState,
    pub unread_count: i64,
    pub last_message_at: Option<Timestamp>,
    pub last_message_preview: Option<String>,
    pub last_customer_message_at: Option<Timestamp>,
    pub held_by_operator_id: Option<OperatorId>,
    pub sandbox: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    pub id: MessageId,
    pub conversation_id: ConversationId,
    pub direction: Direction,
    pub wamid: Option<String>,
    pub kind: String,
    pub text: Option<String>,
    pub content: serde_json::Value,
    pub status: String,
    pub error_title: Option<String>,
    pub sent_by: Option<String>,
    pub created_at: Timestamp,
    /// The message this one quotes (WhatsApp's `context.id`), resolved when it is stored.
    pub reply_to: Option<QuotedMessage>,
    /// Reactions to this message, one per side (customer, business), latest wins.
    pub reactions: Vec<Reaction>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct QuotedMessage {
    pub wamid: String,
    /// Our id and a short preview, when the quoted message is in this conversation.
    pub found: Option<(MessageId, String)>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Reaction {
    pub emoji: String,
    pub from: Direction,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Action {
    pub id: ActionId,
    pub conversation_id: ConversationId,
    pub run_id: Option<RunId>,
    pub kind: String,
    pub params: serde_json::Value,
    pub state: ActionState,
    pub reasoning: Option<String>,
    pub confidence: Option<f64>,
    pub decided_by: Option<String>,
    pub decision_note: Option<String>,
    pub created_at: Timestamp,
    pub decided_at: Option<Timestamp>,
    /// Why execution failed, when it did.
    pub error: Option<String>,
    /// The model's parameters when an operator edited them (`params` then holds the edit).
    pub original_params: Option<serde_json::Value>,
    /// The edit as `{"json_patch": [...], "text_diff": "..."}`.
    pub edit_diff: Option<serde_json::Value>,
    /// The stale proposal this one replaces.
    pub replaces_action_id: Option<ActionId>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Escalation {
    pub id: EscalationId,
    pub conversation_id: ConversationId,
    pub source: EscalationSource,
    pub reason: String,
    pub summary: Option<String>,
    pub state: EscalationState,
    pub taken_by: Option<String>,
    pub created_at: Timestamp,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Task {
    pub id: TaskId,
    pub conversation_id: Option<ConversationId>,
    pub title: String,
    pub assignee: Option<String>,
    pub due_at: Option<Timestamp>,
    pub priority: TaskPriority,
    pub state: TaskState,
    pub created_at: Timestamp,
    pub description: Option<String>,
    /// The action that created it, when the model did.
    pub action_id: Option<ActionId>,
    pub created_by: String,
    pub completed_at: Option<Timestamp>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct AuditRecord {
    pub id: AuditId,
    pub at: Timestamp,
    pub actor_kind: ActorKind,
    pub actor: String,
    pub kind: String,
    pub conversation_id: Option<ConversationId>,
    pub run_id: Option<RunId>,
    pub action_id: Option<ActionId>,
    pub detail: serde_json::Value,
    pub prev_hash: String,
    pub hash: String,
}

/// A page of a list, with the cursor of the next page.
#[derive(Clone, Debug, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl Role {
    /// Roles are nested: agent < supervisor < owner. A role may do what every lower role may.
    pub fn rank(self) -> u8 {
        match self {
            Role::Agent => 1,
            Role::Supervisor => 2,
            Role::Owner => 3,
        }
    }

    /// Whether this role reaches what `required` may.
    pub fn at_least(self, required: Role) -> bool {
        self.rank() >= required.rank()
    }
}

string_enum!(
    /// How an operator decided a proposal, as kept for the domain layer's examples.
    ExampleLabel { Approved = "approved", Edited = "edited", Rejected = "rejected" }
);

/// An operator account. Its token is never stored, only the token's SHA-256.
#[derive(Clone, Debug, PartialEq)]
pub struct Operator {
    pub id: OperatorId,
    pub name: String,
    pub email: Option<String>,
    pub role: Role,
    pub active: bool,
    pub created_at: Timestamp,
}

/// One stored version of the action policies.
#[derive(Clone, Debug, PartialEq)]
pub struct PolicyVersion {
    pub version: i64,
    pub rules: serde_json::Value,
    pub author: String,
    pub created_at: Timestamp,
}
