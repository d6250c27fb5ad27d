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
    /// WhatsApp's id of the message (none for a send not yet accepted).
    pub wamid: Option<String>,
    /// The message this one quotes (WhatsApp's `context.id`).
    pub reply_to: Option<ReplyTo>,
    /// Reactions to this message. A reaction to a message of this conversation appears
    /// here, not as a message of its own; one to a message we do not have stays a message.
    pub reactions: Vec<Reaction>,
}

#[derive(Serialize, ToSchema)]
pub struct ReplyTo {
    /// The quoted message's wamid.
    pub wamid: String,
    /// Our id of the quoted message, when it is in this conversation.
    pub message_id: Option<i64>,
    /// The start of its text (or `[kind]`), when we have it. Customer content: render as text.
    pub preview: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct Reaction {
    pub emoji: String,
    /// `customer` or `business`.
    pub from: String,
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
            wamid: m.wamid,
            reply_to: m.reply_to.map(|q| {
                let (message_id, preview) = q.found.map(|(id, p)| (id.0, p)).unzip();
                ReplyTo {
                    wamid: q.wamid,
                    message_id,
                    preview,
                }
            }),
            reactions: m
                .reactions
                .into_iter()
                .map(|r| Reaction {
                    emoji: r.emoji,
                    from: match r.from {
                        model::Direction::Inbound => "customer",
                        model::Direction::Outbound => "business",
                    }
                    .into(),
                })
                .collect(),
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
    /// The model's parameters, when an operator edited them before approving.
    pub original_params: Option<serde_json::Value>,
    /// The edit: `{"json_patch": [RFC 6902 operations], "text_diff": "[-old-]{+new+}" | null}`.
    pub edit_diff: Option<serde_json::Value>,
    /// The stale proposal this one replaces (a template for a reply whose window closed).
    pub replaces_action_id: Option<i64>,
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
            original_params: a.original_params,
            edit_diff: a.edit_diff,
            replaces_action_id: a.replaces_action_id.map(|r| r.0),
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
    pub description: Option<String>,
    /// The action that created it, when the model did.
    pub action_id: Option<i64>,
    /// `pipeline` (an action of the model), or the label of the operator who created it.
    pub created_by: String,
    pub completed_at: Option<String>,
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
            description: t.description,
            action_id: t.action_id.map(|a| a.0),
            created_by: t.created_by,
            completed_at: t.completed_at.map(to_rfc3339),
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
    #[schema(min_length = 1, pattern = r"\S")]
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

// ---- Settings, knowledge, templates, providers, WhatsApp, tasks and metrics ----

/// An id or a count that may arrive as `12.0`: JSON has one number type, and a schema's
/// `integer` admits whole numbers written with a fraction, so they are read as integers.
pub(crate) fn whole_number<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<i64>, D::Error> {
    let Some(number) = Option::<serde_json::Number>::deserialize(deserializer)? else {
        return Ok(None);
    };
    if let Some(n) = number.as_i64() {
        return Ok(Some(n));
    }
    match number.as_f64() {
        // 2^63 as f64: the first whole number an i64 cannot hold.
        Some(f) if f.fract() == 0.0 && f >= i64::MIN as f64 && f < 9_223_372_036_854_775_808.0 => {
            Ok(Some(f as i64))
        }
        _ => Err(serde::de::Error::custom(format!(
            "expected a whole number of at most 19 digits, not {number}"
        ))),
    }
}

/// Deserializes a field that may be absent (leave as is), `null` (clear) or a value (set).
fn present<'de, T: Deserialize<'de>, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(deserializer).map(Some)
}

/// One editable context layer as runs use it.
#[derive(Serialize, ToSchema)]
pub struct LayerSetting {
    /// `system` or `domain`.
    pub layer: String,
    /// 0 while the built-in default is in force.
    pub version: i64,
    pub content: String,
    /// Who saved this version; null for the built-in default.
    pub author: Option<String>,
    pub created_at: Option<String>,
    /// Estimated tokens of `content`…
    pub tokens: u32,
    /// …against the layer's budget (`pipeline.budget_system` / `budget_domain`): runs
    /// truncate a layer over its budget.
    pub budget: u32,
}

impl From<switchboard_engine::settings::LayerState> for LayerSetting {
    fn from(l: switchboard_engine::settings::LayerState) -> Self {
        Self {
            layer: l.layer.as_str().into(),
            version: l.version,
            content: l.content,
            author: l.author,
            created_at: l.created_at.map(to_rfc3339),
            tokens: l.tokens,
            budget: l.budget,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct LayerSettings {
    pub system: LayerSetting,
    pub domain: LayerSetting,
}

#[derive(Serialize, ToSchema)]
pub struct LayerSettingVersions {
    pub layer: String,
    /// Newest first, each with its content.
    pub versions: Vec<LayerSetting>,
}

#[derive(Deserialize, ToSchema)]
pub struct LayerSettingBody {
    /// Not blank; at most 100,000 characters.
    #[schema(min_length = 1, max_length = 100_000, pattern = r"\S")]
    pub content: String,
    /// The version the editor started from; when another version was saved since, the
    /// save is refused with 409 instead of overwriting it.
    #[serde(default, deserialize_with = "whole_number")]
    pub base_version: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct KnowledgeDocument {
    pub id: i64,
    pub title: String,
    pub body: String,
    pub tags: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<switchboard_engine::knowledge::Document> for KnowledgeDocument {
    fn from(d: switchboard_engine::knowledge::Document) -> Self {
        Self {
            id: d.id.0,
            title: d.title,
            body: d.body,
            tags: d.tags,
            created_at: to_rfc3339(d.created_at),
            updated_at: to_rfc3339(d.updated_at),
        }
    }
}

#[derive(Deserialize, ToSchema)]
pub struct KnowledgeBody {
    #[schema(min_length = 1, pattern = r"\S")]
    pub title: String,
    #[schema(min_length = 1, pattern = r"\S")]
    pub body: String,
    #[serde(default)]
    pub tags: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub struct Template {
    /// Lowercase letters, digits and underscores, as in Meta's template manager.
    pub name: String,
    /// e.g. `en_US`, `es_MX`, `pt_BR`.
    pub language: String,
    /// `MARKETING`, `UTILITY` or `AUTHENTICATION`.
    pub category: String,
    /// Meta's component objects (`[{"type": "BODY", "text": "Hi {{1}}"}]`).
    pub components: serde_json::Value,
    /// `approved`, `paused`, `disabled`, `pending` or `rejected`; runs offer approved ones.
    pub status: String,
    /// How many parameters a send must fill: the distinct placeholders in the components.
    pub parameters: usize,
}

impl From<switchboard_engine::settings::Template> for Template {
    fn from(t: switchboard_engine::settings::Template) -> Self {
        Self {
            parameters: switchboard_engine::settings::template_parameters(&t.components),
            name: t.name,
            language: t.language,
            category: t.category,
            components: t.components,
            status: t.status,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct TemplateList {
    pub items: Vec<Template>,
}

#[derive(Deserialize, ToSchema)]
pub struct TemplateBody {
    /// Lowercase letters, digits and underscores.
    #[schema(pattern = "^[a-z0-9_]{1,512}$")]
    pub name: String,
    /// e.g. `en_US`.
    #[schema(pattern = "^[A-Za-z_-]{1,15}$")]
    pub language: String,
    #[schema(schema_with = template_categories)]
    pub category: String,
    /// Meta's component objects.
    #[serde(default = "empty_list")]
    #[schema(value_type = Vec<Object>)]
    pub components: serde_json::Value,
    #[serde(default = "approved")]
    #[schema(schema_with = template_statuses)]
    pub status: String,
}

fn string_enum_schema(values: &[&str]) -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(values.iter().copied()))
        .build()
}

fn template_categories() -> utoipa::openapi::Object {
    string_enum_schema(&["MARKETING", "UTILITY", "AUTHENTICATION"])
}

fn template_statuses() -> utoipa::openapi::Object {
    string_enum_schema(&["approved", "paused", "disabled", "pending", "rejected"])
}

fn empty_list() -> serde_json::Value {
    serde_json::Value::Array(Vec::new())
}

fn approved() -> String {
    "approved".into()
}

#[derive(Deserialize, ToSchema)]
pub struct TemplatesBody {
    /// The whole list: it replaces the configured one. A name and language pair appears
    /// once.
    #[schema(max_items = 1000)]
    pub templates: Vec<TemplateBody>,
}

#[derive(Serialize, ToSchema)]
pub struct Provider {
    /// 0 is the primary; the rest are the fallbacks, in order.
    pub position: usize,
    pub name: String,
    /// `openai_compatible`, `anthropic` or `local`.
    pub kind: String,
    pub base_url: String,
    pub model: String,
    pub json_schema: bool,
    pub tools: bool,
    pub json_mode: bool,
    pub price_in_per_mtok: Option<f64>,
    pub price_out_per_mtok: Option<f64>,
    /// Store the key with `PUT /api/secrets/{secret_name}`; null when no key is used.
    pub secret_name: Option<String>,
    /// The environment variable that may hold the key instead (headless runs).
    pub api_key_env: Option<String>,
    /// Whether a key is stored (never the key itself); null when none is used.
    pub key_present: Option<bool>,
    /// False for the built-in offline model used when no provider is configured, and for a
    /// local provider added in Settings.
    pub configured: bool,
    /// Its model file was chosen in Settings (`PUT /api/providers/{name}`).
    pub model_from_settings: bool,
}

impl From<switchboard_engine::connections::ProviderView> for Provider {
    fn from(p: switchboard_engine::connections::ProviderView) -> Self {
        use switchboard_core::config::ProviderKind;
        Self {
            position: p.position,
            name: p.name,
            kind: match p.kind {
                ProviderKind::OpenaiCompatible => "openai_compatible",
                ProviderKind::Anthropic => "anthropic",
                ProviderKind::Local => "local",
            }
            .into(),
            base_url: p.base_url,
            model: p.model,
            json_schema: p.json_schema,
            tools: p.tools,
            json_mode: p.json_mode,
            price_in_per_mtok: p.price_in_per_mtok,
            price_out_per_mtok: p.price_out_per_mtok,
            secret_name: p.secret_name,
            api_key_env: p.api_key_env,
            key_present: p.key_present,
            configured: p.configured,
            model_from_settings: p.model_from_settings,
        }
    }
}

fn local_kind() -> utoipa::openapi::Object {
    string_enum_schema(&["local"])
}

/// A local provider's model: a file name of the models folder, or an absolute path.
#[derive(Deserialize, ToSchema)]
pub struct LocalProviderBody {
    /// `local`: remote providers are set in the configuration file.
    #[schema(schema_with = local_kind)]
    pub kind: String,
    /// E.g. `SmolLM2-135M-Instruct.Q4_1.gguf` or `/opt/models/qwen2.5-1.5b-instruct-q4_k_m.gguf`.
    pub model: String,
}

#[derive(Serialize, ToSchema)]
pub struct ModelFile {
    /// The file name; use it as a local provider's `model`.
    pub name: String,
    pub path: String,
    pub size_bytes: u64,
    /// The default offline model.
    pub default: bool,
    /// Starts with the GGUF magic (false for a partial download or another kind of file).
    pub valid: bool,
}

#[derive(Serialize, ToSchema)]
pub struct ModelFolder {
    /// `<data_dir>/models`.
    pub dir: String,
    /// The `.gguf` files there, by name.
    pub items: Vec<ModelFile>,
}

impl From<switchboard_engine::providers::ModelFolder> for ModelFolder {
    fn from(f: switchboard_engine::providers::ModelFolder) -> Self {
        Self {
            dir: f.dir.display().to_string(),
            items: f
                .files
                .into_iter()
                .map(|m| ModelFile {
                    name: m.name,
                    path: m.path.display().to_string(),
                    size_bytes: m.size_bytes,
                    default: m.default,
                    valid: m.valid,
                })
                .collect(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ProviderList {
    /// Primary first. Remote providers are set in the configuration file; local ones may
    /// be added or given another model in Settings (`PUT /api/providers/{name}`).
    pub items: Vec<Provider>,
}

#[derive(Serialize, ToSchema, Debug)]
pub struct ProbeError {
    /// Stable: `authentication`, `rate_limited`, `quota_exceeded`, `timeout`, `network`,
    /// `overloaded`, `configuration`, `graph_error`, `missing_token`, …
    pub code: String,
    pub message: String,
    /// Graph's numeric error code (WhatsApp tests), e.g. 190 for an invalid token.
    pub graph_code: Option<i64>,
}

impl From<switchboard_engine::connections::ProbeError> for ProbeError {
    fn from(e: switchboard_engine::connections::ProbeError) -> Self {
        Self {
            code: e.code,
            message: e.message,
            graph_code: e.graph_code,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ProviderTest {
    pub ok: bool,
    pub provider: String,
    /// From sending the request to the complete answer (or the failure).
    pub latency_ms: u64,
    pub model: Option<String>,
    /// The start of what the model answered.
    pub reply: Option<String>,
    pub tokens_in: Option<u32>,
    pub tokens_out: Option<u32>,
    pub error: Option<ProbeError>,
}

/// A secret's value. Deliberately without `Debug`: it is turned into a masked `Secret` at
/// once and never echoed.
#[derive(Deserialize, ToSchema)]
pub struct SecretBody {
    pub value: String,
}

#[derive(Serialize, ToSchema)]
pub struct SecretStored {
    pub name: String,
    /// `now` (model keys: the chain is rebuilt) or `after_restart` (WhatsApp credentials).
    pub applies: String,
}

#[derive(Serialize, ToSchema)]
pub struct WhatsAppStatus {
    /// `sandbox` or `live`.
    pub mode: String,
    pub phone_number_id: String,
    pub waba_id: String,
    pub api_version: String,
    /// The Graph API in use; in the sandbox, the engine's own local one.
    pub api_base_url: Option<String>,
    /// The callback URL to give Meta.
    pub webhook_url: String,
    /// False when `server.public_url` is not configured: the URL is then the local
    /// listener, which Meta cannot reach.
    pub webhook_url_is_public: bool,
    pub verify_token_present: bool,
    pub access_token_present: bool,
    pub app_secret_present: bool,
}

impl From<switchboard_engine::connections::WhatsAppView> for WhatsAppStatus {
    fn from(w: switchboard_engine::connections::WhatsAppView) -> Self {
        Self {
            mode: match w.mode {
                switchboard_engine::ChannelMode::Sandbox => "sandbox".into(),
                switchboard_engine::ChannelMode::Live => "live".into(),
            },
            phone_number_id: w.phone_number_id,
            waba_id: w.waba_id,
            api_version: w.api_version,
            api_base_url: w.api_base_url,
            webhook_url: w.webhook_url,
            webhook_url_is_public: w.webhook_url_is_public,
            verify_token_present: w.verify_token_present,
            access_token_present: w.access_token_present,
            app_secret_present: w.app_secret_present,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct PhoneNumber {
    pub id: Option<String>,
    pub display_phone_number: Option<String>,
    pub verified_name: Option<String>,
    /// `GREEN`, `YELLOW`, `RED` or `UNKNOWN`.
    pub quality_rating: Option<String>,
    pub code_verification_status: Option<String>,
    pub platform_type: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct WhatsAppTest {
    pub ok: bool,
    pub latency_ms: u64,
    /// What Graph says about the number, when the call worked.
    pub phone_number: Option<PhoneNumber>,
    pub error: Option<ProbeError>,
}

#[derive(Deserialize, ToSchema)]
pub struct NewTask {
    #[schema(min_length = 1, pattern = r"\S")]
    pub title: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default, deserialize_with = "whole_number")]
    pub conversation_id: Option<i64>,
    #[serde(default)]
    pub assignee: Option<String>,
    /// RFC 3339; null or empty for none.
    #[serde(default)]
    #[schema(schema_with = due_time)]
    pub due_at: Option<String>,
    /// `low`, `normal` (default), `high` or `urgent`.
    #[serde(default)]
    #[schema(schema_with = task_priorities)]
    pub priority: Option<String>,
}

/// RFC 3339, empty or null: the last two mean none.
fn due_time() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{OneOfBuilder, Type};
    OneOfBuilder::new()
        .item(utoipa::openapi::ObjectBuilder::new().schema_type(Type::Null))
        .item(crate::routes::time_or_empty())
        .build()
        .into()
}

fn task_priorities() -> utoipa::openapi::Object {
    use switchboard_store::model::TaskPriority;
    let mut schema = string_enum_schema(&[]);
    schema.enum_values = Some(
        TaskPriority::ALL
            .iter()
            .map(|p| p.as_str().into())
            .chain([serde_json::Value::Null])
            .collect(),
    );
    schema.schema_type = utoipa::openapi::schema::SchemaType::from_iter([
        utoipa::openapi::schema::Type::String,
        utoipa::openapi::schema::Type::Null,
    ]);
    schema
}

fn task_states() -> utoipa::openapi::Object {
    use switchboard_store::model::TaskState;
    let mut schema = string_enum_schema(&[]);
    schema.enum_values = Some(
        TaskState::ALL
            .iter()
            .map(|p| p.as_str().into())
            .chain([serde_json::Value::Null])
            .collect(),
    );
    schema.schema_type = utoipa::openapi::schema::SchemaType::from_iter([
        utoipa::openapi::schema::Type::String,
        utoipa::openapi::schema::Type::Null,
    ]);
    schema
}

/// Only the fields present change; `null` clears `assignee`, `description` and `due_at`.
#[derive(Deserialize, ToSchema, Default)]
pub struct TaskPatch {
    /// `open`, `done` or `cancelled`.
    #[serde(default)]
    #[schema(schema_with = task_states)]
    pub state: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub assignee: Option<Option<String>>,
    #[serde(default)]
    #[schema(min_length = 1, pattern = r"\S")]
    pub title: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    /// RFC 3339; null or empty clears it.
    #[serde(default, deserialize_with = "present")]
    #[schema(schema_with = due_time)]
    pub due_at: Option<Option<String>>,
    #[serde(default)]
    #[schema(schema_with = task_priorities)]
    pub priority: Option<String>,
}

/// One calendar day of the dashboard. Shares are null on a day with nothing to divide.
#[derive(Serialize, ToSchema)]
pub struct DayMetrics {
    /// `YYYY-MM-DD` in the business's time zone.
    pub date: String,
    /// Customer messages received.
    pub inbound_messages: i64,
    /// Conversations in which the customer wrote.
    pub conversations: i64,
    /// Of those, answered by the AI with no escalation and no message written by a person
    /// that day…
    pub resolved_without_human: i64,
    /// …as a share of `conversations`.
    pub resolved_without_human_share: Option<f64>,
    /// Of `conversations`, those with an escalation opened that day…
    pub escalated_conversations: i64,
    /// …as a share of `conversations`.
    pub escalation_rate: Option<f64>,
    /// Every escalation opened that day.
    pub escalations_opened: i64,
    /// Proposals an operator decided that day (policy's automatic runs excluded).
    pub decisions: i64,
    pub approved_unedited: i64,
    pub approved_edited: i64,
    pub rejected: i64,
    /// `approved_unedited / decisions`.
    pub approvals_without_edits_share: Option<f64>,
    /// Customer turns answered (a turn starts with a customer message after a reply).
    pub replies_measured: i64,
    /// Customer turns still waiting for a reply.
    pub unanswered: i64,
    /// Median time from a customer's turn to the first reply, in milliseconds.
    pub median_first_reply_ms: Option<i64>,
    pub model_calls: i64,
    pub tokens_in: i64,
    pub tokens_out: i64,
    /// USD, from the configured prices; null when no call that day had a price.
    pub cost_usd: Option<f64>,
}

fn share(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

impl From<switchboard_engine::metrics::DayMetrics> for DayMetrics {
    fn from(d: switchboard_engine::metrics::DayMetrics) -> Self {
        Self {
            resolved_without_human_share: share(d.resolved_without_human, d.conversations),
            escalation_rate: share(d.escalated, d.conversations),
            approvals_without_edits_share: share(d.approved_unedited, d.decisions),
            date: d.day,
            inbound_messages: d.inbound_messages,
            conversations: d.conversations,
            resolved_without_human: d.resolved_without_human,
            escalated_conversations: d.escalated,
            escalations_opened: d.escalations_opened,
            decisions: d.decisions,
            approved_unedited: d.approved_unedited,
            approved_edited: d.approved_edited,
            rejected: d.rejected,
            replies_measured: d.replies_measured,
            unanswered: d.unanswered,
            median_first_reply_ms: d.median_first_reply_ms,
            model_calls: d.model_calls,
            tokens_in: d.tokens_in,
            tokens_out: d.tokens_out,
            cost_usd: d.cost,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct Metrics {
    /// The IANA time zone whose calendar days these are (`business.timezone`).
    pub time_zone: String,
    /// Oldest first; the last day is today so far.
    pub days: Vec<DayMetrics>,
}

impl From<switchboard_engine::metrics::Metrics> for Metrics {
    fn from(m: switchboard_engine::metrics::Metrics) -> Self {
        Self {
            time_zone: m.time_zone,
            days: m.days.into_iter().map(Into::into).collect(),
        }
    }
}

page_type!(KnowledgePage of KnowledgeDocument);

/// A pipeline run as recorded: the audit record view of one decision.
#[derive(Serialize, ToSchema)]
pub struct RunDetail {
    pub id: i64,
    pub conversation_id: i64,
    /// `running`, `completed`, `escalated`, `failed` or `cancelled`.
    pub state: String,
    /// The recovery tier it ended at: 0 first try, 1 corrective retry, 2 fallback model, 3 escalation.
    pub tier: u8,
    /// The provider and model of the last attempt.
    pub provider: Option<String>,
    pub model: Option<String>,
    /// An operator's guidance for this run, when they asked for a retry.
    pub guidance: Option<String>,
    /// The customer messages the run answered.
    pub trigger_message_ids: Vec<i64>,
    pub covered_message_id: Option<i64>,
    pub reasoning: Option<String>,
    pub confidence: Option<f64>,
    pub error: Option<String>,
    pub started_at: String,
    pub finished_at: Option<String>,
    /// Every call to a model, in order.
    pub attempts: Vec<RunAttempt>,
    /// The exact context the models were sent; null while the run is in flight.
    pub context: Option<RunContext>,
    /// What the run proposed and what became of it.
    pub actions: Vec<RunAction>,
}

#[derive(Serialize, ToSchema)]
pub struct RunAttempt {
    pub attempt: u32,
    pub tier: u8,
    pub provider: String,
    pub model: String,
    /// The model's output as received.
    pub raw_output: Option<String>,
    /// Why the output could not be used (`{path, message}` each); empty when valid.
    pub validation_errors: Vec<serde_json::Value>,
    /// Why there was no output (timeout, rate limit, …).
    pub error: Option<String>,
    pub tokens_in: Option<i64>,
    pub tokens_out: Option<i64>,
    /// Token counts are the tokenizer's estimate (the provider reported none).
    pub tokens_estimated: bool,
    pub cost: Option<f64>,
    pub ttft_ms: Option<i64>,
    pub latency_ms: Option<i64>,
    pub started_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct RunContext {
    /// Content hash of the snapshot, as recorded in the audit trail.
    pub hash: String,
    pub schema_version: u32,
    pub model: Option<String>,
    /// `system`, `domain`, `session`, `request`, in that order.
    pub layers: Vec<ContextLayer>,
    /// The messages exactly as sent.
    pub messages: Vec<SentMessage>,
}

#[derive(Serialize, ToSchema)]
pub struct ContextLayer {
    pub name: String,
    pub tokens: Option<u64>,
    /// The stored version of an editable layer (system, domain); null for the others.
    pub version: Option<i64>,
    /// The layer's text as sent; null for runs recorded before layers were kept.
    pub text: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct SentMessage {
    /// `system`, `user` or `assistant`.
    pub role: String,
    pub content: String,
}

#[derive(Serialize, ToSchema)]
pub struct RunAction {
    pub id: i64,
    pub kind: String,
    pub params: serde_json::Value,
    pub state: String,
    /// `auto`, `approval` or `forbid`: what the policy decided.
    pub policy_verdict: Option<String>,
    /// The rule that decided, e.g. `default for reply`.
    pub policy_rule: Option<String>,
    pub decided_by: Option<String>,
    pub decided_at: Option<String>,
    pub decision_note: Option<String>,
    pub result: Option<serde_json::Value>,
    pub error: Option<String>,
    pub executed_at: Option<String>,
    pub created_at: String,
}

impl From<switchboard_store::queries::runs::RunDetail> for RunDetail {
    fn from(d: switchboard_store::queries::runs::RunDetail) -> Self {
        let run = d.run;
        let context = d.snapshot.map(|s| {
            let layer = |name: &str| ContextLayer {
                name: name.to_string(),
                tokens: s.layer_tokens.get(name).and_then(serde_json::Value::as_u64),
                version: s
                    .layer_versions
                    .get(name)
                    .and_then(serde_json::Value::as_i64),
                text: s
                    .layers
                    .as_ref()
                    .and_then(|l| l.get(name))
                    .and_then(serde_json::Value::as_str)
                    .map(str::to_owned),
            };
            RunContext {
                hash: s.hash.clone(),
                schema_version: s.schema_version,
                model: s.model.clone(),
                layers: ["system", "domain", "session", "request"]
                    .into_iter()
                    .map(layer)
                    .collect(),
                messages: s
                    .messages
                    .as_array()
                    .map(|all| {
                        all.iter()
                            .map(|m| SentMessage {
                                role: m["role"].as_str().unwrap_or_default().to_string(),
                                content: m["content"].as_str().unwrap_or_default().to_string(),
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            }
        });
        Self {
            id: run.id.0,
            conversation_id: run.conversation_id.0,
            state: run.state,
            tier: run.tier,
            provider: run.provider,
            model: run.model,
            guidance: run.guidance,
            trigger_message_ids: run.trigger_message_ids,
            covered_message_id: run.covered_message_id.map(|m| m.0),
            reasoning: run.reasoning,
            confidence: run.confidence,
            error: run.error,
            started_at: to_rfc3339(run.started_at),
            finished_at: run.finished_at.map(to_rfc3339),
            attempts: d
                .attempts
                .into_iter()
                .map(|a| RunAttempt {
                    attempt: a.attempt,
                    tier: a.tier,
                    provider: a.provider,
                    model: a.model,
                    raw_output: a.raw_output,
                    validation_errors: a.validation_errors,
                    error: a.error,
                    tokens_in: a.tokens_in,
                    tokens_out: a.tokens_out,
                    tokens_estimated: a.tokens_estimated,
                    cost: a.cost,
                    ttft_ms: a.ttft_ms,
                    latency_ms: a.latency_ms,
                    started_at: to_rfc3339(a.started_at),
                })
                .collect(),
            context,
            actions: d
                .actions
                .into_iter()
                .map(|a| RunAction {
                    id: a.id.0,
                    kind: a.kind,
                    params: a.params,
                    state: a.state.to_string(),
                    policy_verdict: a
                        .policy_decision
                        .as_ref()
                        .and_then(|p| p["verdict"].as_str())
                        .map(str::to_owned),
                    policy_rule: a
                        .policy_decision
                        .as_ref()
                        .and_then(|p| p["rule"].as_str())
                        .map(str::to_owned),
                    decided_by: a.decided_by,
                    decided_at: a.decided_at.map(to_rfc3339),
                    decision_note: a.decision_note,
                    result: a.result,
                    error: a.error,
                    executed_at: a.executed_at.map(to_rfc3339),
                    created_at: to_rfc3339(a.created_at),
                })
                .collect(),
        }
    }
}

#[derive(Deserialize, ToSchema)]
pub struct ReplayBody {
    /// The name of a provider in the model chain.
    pub provider: String,
}

/// A replay's answer: validated, never executed.
#[derive(Serialize, ToSchema)]
pub struct ReplayResult {
    pub run_id: i64,
    pub provider: String,
    pub model: String,
    /// The hash of the stored context that was sent, unchanged.
    pub context_hash: String,
    pub schema_version_then: u32,
    pub schema_version_now: u32,
    pub raw_output: Option<String>,
    /// `{actions, reasoning, confidence}` when the answer is valid; null otherwise.
    pub answer: Option<serde_json::Value>,
    pub validation_errors: Vec<String>,
    /// Why the provider gave no answer.
    pub error: Option<String>,
    pub tokens_in: Option<u32>,
    pub tokens_out: Option<u32>,
    pub cost: Option<f64>,
    pub latency_ms: u64,
}

impl From<switchboard_engine::replay::Replay> for ReplayResult {
    fn from(r: switchboard_engine::replay::Replay) -> Self {
        Self {
            run_id: r.run_id.0,
            provider: r.provider,
            model: r.model,
            context_hash: r.context_hash,
            schema_version_then: r.schema_version_then,
            schema_version_now: r.schema_version_now,
            raw_output: r.raw_output,
            answer: r.answer,
            validation_errors: r.validation_errors,
            error: r.error,
            tokens_in: r.tokens_in,
            tokens_out: r.tokens_out,
            cost: r.cost,
            latency_ms: r.latency_ms,
        }
    }
}
