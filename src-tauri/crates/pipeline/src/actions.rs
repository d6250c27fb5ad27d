//! The actions a model may propose, as types, and the JSON Schema of one model answer.
//!
//! Built-in actions are Rust types; their schemas are generated from them with `schemars`,
//! so the schema the model is given and the parser that reads its answer cannot drift
//! apart. Custom actions come from configuration with their own JSON Schema and are carried
//! as validated JSON. Every string in the schema has a `maxLength`, because a grammar-
//! constrained local model otherwise rambles inside a string until its token limit.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// Bumped whenever the answer schema changes; stored with each run's context snapshot.
pub const SCHEMA_VERSION: u32 = 1;

/// Most actions one answer may carry.
pub const MAX_ACTIONS: usize = 5;
/// The answer's `reasoning`, in characters: the schema says so and the validator holds to it.
pub const MAX_REASONING_CHARS: usize = 600;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Reply {
    /// The message to the customer, in the customer's language.
    #[schemars(length(min = 1, max = 1000))]
    pub text: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SendTemplate {
    /// The name of an approved template.
    #[schemars(length(min = 1, max = 512))]
    pub name: String,
    /// Its language code, e.g. `es_MX`.
    #[schemars(length(min = 2, max = 15))]
    pub language: String,
    /// Body parameters, in order.
    #[schemars(length(max = 10), inner(length(max = 200)))]
    pub parameters: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    Low,
    Normal,
    High,
    Urgent,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CreateTask {
    #[schemars(length(min = 1, max = 200))]
    pub title: String,
    /// An operator's name or email; null leaves it unassigned.
    #[schemars(length(max = 100))]
    pub assignee: Option<String>,
    /// When it is due, RFC 3339 with offset, e.g. `2026-12-01T17:00:00-06:00`.
    #[schemars(length(max = 40))]
    pub due_at: Option<String>,
    pub priority: Priority,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ScheduleFollowup {
    /// When to follow up, RFC 3339 with offset.
    #[schemars(length(max = 40))]
    pub at: String,
    /// What to follow up about.
    #[schemars(length(min = 1, max = 300))]
    pub note: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct UpdateContact {
    /// The customer's name, if they gave it.
    #[schemars(length(max = 100))]
    pub name: Option<String>,
    /// Profile fields to set, e.g. `[{"key": "city", "value": "Monterrey"}]`. A list of
    /// pairs rather than a map, because strict structured output cannot describe open maps.
    #[schemars(length(max = 10))]
    pub fields: Vec<ProfileField>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ProfileField {
    #[schemars(length(min = 1, max = 40), regex(pattern = r"^[a-z][a-z0-9_]*$"))]
    pub key: String,
    #[schemars(length(max = 200))]
    pub value: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SetSessionVariable {
    /// A lower-case name such as `order_number` or `lead_stage`.
    #[schemars(length(min = 1, max = 40), regex(pattern = r"^[a-z][a-z0-9_]*$"))]
    pub key: String,
    #[schemars(length(max = 200))]
    pub value: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct EscalateToHuman {
    /// Why a human is needed.
    #[schemars(length(min = 1, max = 300))]
    pub reason: String,
    /// The conversation so far, for the operator who takes over.
    #[schemars(length(min = 1, max = 600))]
    pub summary: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CloseConversation {
    #[schemars(length(max = 300))]
    pub reason: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct NoAction {
    /// Why nothing needs doing (e.g. the customer only said thanks).
    #[schemars(length(max = 300))]
    pub reason: Option<String>,
}

/// One action, built-in or custom. The wire form is an object with a `type` and the
/// action's parameters beside it: `{"type": "reply", "text": "…"}`.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    Reply(Reply),
    SendTemplate(SendTemplate),
    CreateTask(CreateTask),
    ScheduleFollowup(ScheduleFollowup),
    UpdateContact(UpdateContact),
    SetSessionVariable(SetSessionVariable),
    EscalateToHuman(EscalateToHuman),
    CloseConversation(CloseConversation),
    NoAction(NoAction),
    Custom {
        name: String,
        params: Map<String, Value>,
    },
}

impl Action {
    pub fn kind(&self) -> &str {
        match self {
            Action::Reply(_) => "reply",
            Action::SendTemplate(_) => "send_template",
            Action::CreateTask(_) => "create_task",
            Action::ScheduleFollowup(_) => "schedule_followup",
            Action::UpdateContact(_) => "update_contact",
            Action::SetSessionVariable(_) => "set_session_variable",
            Action::EscalateToHuman(_) => "escalate_to_human",
            Action::CloseConversation(_) => "close_conversation",
            Action::NoAction(_) => "no_action",
            Action::Custom { name, .. } => name,
        }
    }

    /// The parameters as stored and shown to operators (without the `type` tag).
    pub fn params(&self) -> Value {
        let value = match self {
            Action::Reply(p) => serde_json::to_value(p),
            Action::SendTemplate(p) => serde_json::to_value(p),
            Action::CreateTask(p) => serde_json::to_value(p),
            Action::ScheduleFollowup(p) => serde_json::to_value(p),
            Action::UpdateContact(p) => serde_json::to_value(p),
            Action::SetSessionVariable(p) => serde_json::to_value(p),
            Action::EscalateToHuman(p) => serde_json::to_value(p),
            Action::CloseConversation(p) => serde_json::to_value(p),
            Action::NoAction(p) => serde_json::to_value(p),
            Action::Custom { params, .. } => Ok(Value::Object(params.clone())),
        };
        value.unwrap_or(Value::Null)
    }

    /// Reads one action from its wire form. The caller validates against the schema first;
    /// this only fails on shapes the schema let through (e.g. an unknown custom type).
    pub fn from_wire(value: &Value, catalog: &ActionCatalog) -> Result<Action, String> {
        let object = value.as_object().ok_or("an action must be an object")?;
        let kind = object
            .get("type")
            .and_then(Value::as_str)
            .ok_or("an action needs a string `type`")?;
        let mut params = object.clone();
        params.remove("type");
        let params_value = Value::Object(params.clone());
        fn parse<T: serde::de::DeserializeOwned>(v: Value) -> Result<T, String> {
            serde_json::from_value(v).map_err(|e| e.to_string())
        }
        Ok(match kind {
            "reply" => Action::Reply(parse(params_value)?),
            "send_template" => Action::SendTemplate(parse(params_value)?),
            "create_task" => Action::CreateTask(parse(params_value)?),
            "schedule_followup" => Action::ScheduleFollowup(parse(params_value)?),
            "update_contact" => Action::UpdateContact(parse(params_value)?),
            "set_session_variable" => Action::SetSessionVariable(parse(params_value)?),
            "escalate_to_human" => Action::EscalateToHuman(parse(params_value)?),
            "close_conversation" => Action::CloseConversation(parse(params_value)?),
            "no_action" => Action::NoAction(parse(params_value)?),
            other if catalog.custom(other).is_some() => Action::Custom {
                name: other.to_string(),
                params,
            },
            other => return Err(format!("unknown action type {other:?}")),
        })
    }

    /// The wire form: parameters plus the `type` tag.
    pub fn to_wire(&self) -> Value {
        let mut object = match self.params() {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        object.insert("type".into(), Value::String(self.kind().to_string()));
        Value::Object(object)
    }
}

/// A business's own action, declared in configuration: its parameters' schema and where
/// to POST it when it runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomActionDef {
    /// The action's `type`, e.g. `create_lead`. Must not collide with a built-in action.
    pub name: String,
    /// What it does, for the model.
    pub description: String,
    /// JSON Schema of the parameters (an object schema).
    pub schema: Value,
    /// Where the executor POSTs the signed parameters.
    pub url: String,
}

/// One answer of the model: the actions, why, and how sure it is.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelAnswer {
    pub actions: Vec<Action>,
    pub reasoning: String,
    pub confidence: f64,
}

/// Every action the model may propose in this installation.
#[derive(Clone, Debug, Default)]
pub struct ActionCatalog {
    custom: Vec<CustomActionDef>,
}

pub const BUILTIN_KINDS: &[&str] = &[
    "reply",
    "send_template",
    "create_task",
    "schedule_followup",
    "update_contact",
    "set_session_variable",
    "escalate_to_human",
    "close_conversation",
    "no_action",
];

impl ActionCatalog {
    pub fn new(custom: Vec<CustomActionDef>) -> Result<ActionCatalog, String> {
        for (index, def) in custom.iter().enumerate() {
            let well_formed = def.name.len() <= 64
                && def.name.starts_with(|c: char| c.is_ascii_lowercase())
                && def
                    .name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            if !well_formed {
                return Err(format!(
                    "custom action {:?}: a name is lower case letters, digits and _, starting with a letter (at most 64)",
                    def.name
                ));
            }
            if custom[..index].iter().any(|d| d.name == def.name) {
                return Err(format!("custom action {:?} is declared twice", def.name));
            }
            if BUILTIN_KINDS.contains(&def.name.as_str()) {
                return Err(format!(
                    "custom action {:?} has the name of a built-in action",
                    def.name
                ));
            }
            if def.schema.get("type").and_then(Value::as_str) != Some("object") {
                return Err(format!(
                    "custom action {:?}: its schema must be an object schema",
                    def.name
                ));
            }
            jsonschema::validator_for(&def.schema)
                .map_err(|e| format!("custom action {:?}: invalid JSON Schema: {e}", def.name))?;
        }
        Ok(ActionCatalog { custom })
    }

    pub fn custom(&self, name: &str) -> Option<&CustomActionDef> {
        self.custom.iter().find(|c| c.name == name)
    }

    pub fn custom_actions(&self) -> &[CustomActionDef] {
        &self.custom
    }

    /// The JSON Schema of one model answer, in the strict form structured-output APIs
    /// require: every object closed (`additionalProperties: false`) and every property
    /// required, optional ones being nullable.
    pub fn answer_schema(&self) -> Value {
        let mut variants = vec![
            variant::<Reply>(
                "reply",
                "Send a free-form message (only while the 24-hour window is open).",
            ),
            variant::<SendTemplate>(
                "send_template",
                "Send an approved template (needed when the window is closed).",
            ),
            variant::<CreateTask>("create_task", "Create a to-do for the team."),
            variant::<ScheduleFollowup>("schedule_followup", "Remind the team to follow up later."),
            variant::<UpdateContact>(
                "update_contact",
                "Record facts the customer gave about themselves.",
            ),
            variant::<SetSessionVariable>(
                "set_session_variable",
                "Remember a fact for this conversation.",
            ),
            variant::<EscalateToHuman>("escalate_to_human", "Hand the conversation to a person."),
            variant::<CloseConversation>("close_conversation", "The matter is settled."),
            variant::<NoAction>("no_action", "Nothing needs doing."),
        ];
        for def in &self.custom {
            let mut schema = def.schema.clone();
            add_type_tag(&mut schema, &def.name, &def.description);
            variants.push(schema);
        }
        let mut schema = json!({
            "type": "object",
            "properties": {
                "actions": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": MAX_ACTIONS,
                    "items": { "anyOf": variants }
                },
                "reasoning": {
                    "type": "string",
                    "maxLength": MAX_REASONING_CHARS,
                    "description": "Why these actions, for the operator who reviews them."
                },
                "confidence": {
                    "type": "number",
                    "minimum": 0,
                    "maximum": 1,
                    "description": "How sure you are that these actions are right, from 0 to 1."
                }
            },
            "required": ["actions", "reasoning", "confidence"],
            "additionalProperties": false
        });
        strictify(&mut schema);
        schema
    }
}

/// One built-in action's schema: its parameters' generated schema plus the `type` tag.
fn variant<T: JsonSchema>(kind: &str, description: &str) -> Value {
    let generator = schemars::generate::SchemaSettings::draft2020_12()
        .with(|s| s.inline_subschemas = true)
        .into_generator();
    let mut schema = generator.into_root_schema_for::<T>().to_value();
    if let Some(object) = schema.as_object_mut() {
        object.remove("$schema");
        object.remove("title");
    }
    add_type_tag(&mut schema, kind, description);
    schema
}

fn add_type_tag(schema: &mut Value, kind: &str, description: &str) {
    let Some(object) = schema.as_object_mut() else {
        return;
    };
    object.insert("description".into(), Value::String(description.into()));
    let properties = object
        .entry("properties")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Some(properties) = properties.as_object_mut() {
        let mut with_tag = Map::new();
        with_tag.insert("type".into(), json!({ "type": "string", "const": kind }));
        with_tag.extend(std::mem::take(properties));
        *properties = with_tag;
    }
}

/// Closes every object and makes every property required (nullable ones stay nullable),
/// which is what OpenAI's strict mode and grammar-constrained decoding both want.
fn strictify(schema: &mut Value) {
    match schema {
        Value::Object(object) => {
            let keys: Option<Vec<Value>> = object
                .get("properties")
                .and_then(Value::as_object)
                .map(|p| p.keys().map(|k| Value::String(k.clone())).collect());
            if let Some(keys) = keys {
                object.insert("required".into(), Value::Array(keys));
                object.insert("additionalProperties".into(), Value::Bool(false));
            }
            object.remove("default");
            for value in object.values_mut() {
                strictify(value);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(strictify),
        _ => {}
    }
}
