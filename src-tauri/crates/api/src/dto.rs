//! Wire types of the operator API, separate from the engine's rows and converted explicitly.
//! Times are RFC 3339 strings in UTC.

use serde::{Deserialize, Serialize};
use switchboard_core::clock::to_rfc3339;
use switchboard_store::model;
use utoipa::ToSchema;

/// The customer-service window WhatsApp keeps open after a customer writes.
pub const SERVICE_WINDOW_MS: i64 = 24 * 60 * 60 * 1000;

#[derive(Serialize, Deserialize, ToSchema, Debug, PartialEq)]
pub struct Health {
    /// `ok` or `degraded`.
    pub status: String,
    pub version: String,
    /// `sandbox` or `live`.
    pub mode: String,
    pub llm: String,
    pub offline_demo: bool,
    /// `ok` or `error`.
    pub database: String,
}

impl From<switchboard_engine::health::Health> for Health {
    fn from(h: switchboard_engine::health::Health) -> Self {
        Self {
            status: h.status.into(),
            version: h.version.into(),
            mode: match h.mode {
                switchboard_engine::ChannelMode::Sandbox => "sandbox".into(),
                switchboard_engine::ChannelMode::Live => "live".into(),
            },
            llm: h.llm,
            offline_demo: h.offline_demo,
            database: h.database.into(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct Contact {
    pub id: i64,
    pub wa_id: Option<String>,
    pub user_id: Option<String>,
    pub name: Option<String>,
    /// The number to show: `+` and the WhatsApp id, when known.
    pub phone: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct Conversation {
    pub id: i64,
    pub contact: Contact,
    /// `ai_active`, `awaiting_approval`, `escalated`, `human` or `closed`.
    pub state: String,
    pub unread_count: i64,
    pub last_message_preview: Option<String>,
    pub last_message_at: Option<String>,
    pub last_customer_message_at: Option<String>,
    /// When free-form replies stop being allowed; null if the customer never wrote.
    pub window_closes_at: Option<String>,
    pub sandbox: bool,
}

impl From<model::Conversation> for Conversation {
    fn from(c: model::Conversation) -> Self {
        Self {
            id: c.id.0,
            contact: Contact {
                id: c.contact.id.0,
                phone: c.contact.wa_id.as_ref().map(|w| format!("+{w}")),
                wa_id: c.contact.wa_id,
                user_id: c.contact.user_id,
                name: c.contact.name,
            },
            state: c.state.to_string(),
            unread_count: c.unread_count,
            last_message_preview: c.last_message_preview,
            last_message_at: c.last_message_at.map(to_rfc3339),
            last_customer_message_at: c.last_customer_message_at.map(to_rfc3339),
            window_closes_at: c
                .last_customer_message_at
                .map(|t| to_rfc3339(t.saturating_add(SERVICE_WINDOW_MS))),
            sandbox: c.sandbox,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct Message {
    pub id: i64,
    pub conversation_id: i64,
    /// `inbound` or `outbound`.
    pub direction: String,
    pub kind: String,
    /// Customer content: always render as text, never as HTML.
    pub text: Option<String>,
    pub content: serde_json::Value,
    pub status: String,
    pub error: Option<String>,
    pub created_at: String,
    pub sent_by: Option<String>,
}

impl From<model::Message> for Message {
    fn from(m: model::Message) -> Self {
        Self {
            id: m.id.0,
            conversation_id: m.conversation_id.0,
            direction: m.direction.to_string(),
            kind: m.kind,
            text: m.text,
            content: m.content,
            status: m.status,
            error: m.error_title,
            created_at: to_rfc3339(m.created_at),
            sent_by: m.sent_by,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct Action {
    pub id: i64,
    pub conversation_id: i64,
    pub run_id: Option<i64>,
    pub kind: String,
    pub params: serde_json::Value,
    /// `pending`, `approved`, `rejected`, `executing`, `executed`, `failed`, `superseded`, `stale` or `forbidden`.
    pub state: String,
    pub reasoning: Option<String>,
    pub confidence: Option<f64>,
    pub decided_by: Option<String>,
    pub decision_note: Option<String>,
    pub created_at: String,
    pub decided_at: Option<String>,
    /// Why execution failed, when it did.
    pub error: Option<String>,
}

impl From<model::Action> for Action {
    fn from(a: model::Action) -> Self {
        Self {
            id: a.id.0,
            conversation_id: a.conversation_id.0,
            run_id: a.run_id.map(|r| r.0),
            kind: a.kind,
            params: a.params,
            state: a.state.to_string(),
            reasoning: a.reasoning,
            confidence: a.confidence,
            decided_by: a.decided_by,
            decision_note: a.decision_note,
            created_at: to_rfc3339(a.created_at),
            decided_at: a.decided_at.map(to_rfc3339),
            error: a.error,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct Escalation {
    pub id: i64,
    pub conversation_id: i64,
    /// `model`, `tier3`, `policy` or `operator`.
    pub source: String,
    pub reason: String,
    pub summary: Option<String>,
    /// `open`, `taken` or `resolved`.
    pub state: String,
    pub taken_by: Option<String>,
    pub created_at: String,
}

impl From<model::Escalation> for Escalation {
    fn from(e: model::Escalation) -> Self {
        Self {
            id: e.id.0,
            conversation_id: e.conversation_id.0,
            source: e.source.to_string(),
            reason: e.reason,
            summary: e.summary,
            state: e.state.to_string(),
            taken_by: e.taken_by,
            created_at: to_rfc3339(e.created_at),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct AuditRecord {
    pub id: i64,
    pub at: String,
    /// `system`, `model` or `operator`.
    pub actor_kind: String,
    pub actor: String,
    pub kind: String,
    pub conversation_id: Option<i64>,
    pub run_id: Option<i64>,
    pub action_id: Option<i64>,
    pub detail: serde_json::Value,
    pub prev_hash: String,
    pub hash: String,
}

impl From<model::AuditRecord> for AuditRecord {
    fn from(a: model::AuditRecord) -> Self {
        Self {
            id: a.id.0,
            at: to_rfc3339(a.at),
            actor_kind: a.actor_kind.to_string(),
            actor: a.actor,
            kind: a.kind,
            conversation_id: a.conversation_id.map(|c| c.0),
            run_id: a.run_id.map(|r| r.0),
            action_id: a.action_id.map(|a| a.0),
            detail: a.detail,
            prev_hash: a.prev_hash,
            hash: a.hash,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct Task {
    pub id: i64,
    pub conversation_id: Option<i64>,
    pub title: String,
    pub assignee: Option<String>,
    pub due_at: Option<String>,
    /// `low`, `normal`, `high` or `urgent`.
    pub priority: String,
    /// `open`, `done` or `cancelled`.
    pub state: String,
    pub created_at: String,
}

impl From<model::Task> for Task {
    fn from(t: model::Task) -> Self {
        Self {
            id: t.id.0,
            conversation_id: t.conversation_id.map(|c| c.0),
            title: t.title,
            assignee: t.assignee,
            due_at: t.due_at.map(to_rfc3339),
            priority: t.priority.to_string(),
            state: t.state.to_string(),
            created_at: to_rfc3339(t.created_at),
        }
    }
}

#[derive(Serialize, ToSchema, Debug, PartialEq)]
pub struct AuditVerification {
    pub intact: bool,
    pub records: Option<u64>,
    /// The first record that does not check out.
    pub broken_at: Option<i64>,
    pub reason: Option<String>,
}

#[derive(Deserialize, ToSchema)]
pub struct RejectBody {
    /// Why the action is rejected; kept as a labelled example.
    pub reason: String,
}

#[derive(Deserialize, ToSchema, Default)]
pub struct HandbackBody {
    /// A note for the AI's session context.
    #[serde(default)]
    pub note: Option<String>,
}

macro_rules! page_type {
    ($($page:ident of $item:ident),* $(,)?) => {$(
        #[derive(Serialize, ToSchema)]
        pub struct $page {
            pub items: Vec<$item>,
            /// Pass as `cursor` to get the next page; null on the last page.
            pub next_cursor: Option<String>,
        }

        impl<T: Into<$item>> From<model::Page<T>> for $page {
            fn from(page: model::Page<T>) -> Self {
                Self { items: page.items.into_iter().map(Into::into).collect(), next_cursor: page.next_cursor }
            }
        }
    )*};
}

page_type!(
    ConversationPage of Conversation,
    MessagePage of Message,
    ActionPage of Action,
    EscalationPage of Escalation,
    AuditPage of AuditRecord,
    TaskPage of Task,
);
