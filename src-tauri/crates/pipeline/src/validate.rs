//! Validation of a model's answer: the JSON Schema (with the `jsonschema` crate) and then
//! the meaning checks a schema cannot express. Errors are phrased for the model, because
//! tier 1 of recovery sends them back to it as corrective context.

use crate::actions::{Action, ActionCatalog, ModelAnswer, MAX_ACTIONS};
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::collections::HashMap;

/// One problem with an answer, located by JSON pointer.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ValidationError {
    pub path: String,
    pub message: String,
}

impl std::fmt::Display for ValidationError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

fn error(path: impl Into<String>, message: impl Into<String>) -> ValidationError {
    ValidationError {
        path: path.into(),
        message: message.into(),
    }
}

/// What the meaning checks need to know about the conversation and the business.
#[derive(Clone, Debug)]
pub struct ValidationContext {
    pub now: DateTime<Utc>,
    /// When the 24-hour customer-service window closes; `None` if it is closed.
    pub window_closes_at: Option<DateTime<Utc>>,
    /// Approved templates as `(name, language)`.
    pub templates: Vec<(String, String)>,
    /// Operators an action may assign to, by name or email.
    pub assignees: Vec<String>,
}

impl ValidationContext {
    fn window_open(&self) -> bool {
        self.window_closes_at
            .is_some_and(|closes| closes > self.now)
    }
}

/// Compiled once per catalog: a validator per action kind, so errors point at the exact
/// field instead of "matches none of the alternatives".
pub struct AnswerValidator {
    catalog: ActionCatalog,
    schema: Value,
    per_kind: HashMap<String, jsonschema::Validator>,
}

impl AnswerValidator {
    pub fn new(catalog: ActionCatalog) -> Result<AnswerValidator, String> {
        let schema = catalog.answer_schema();
        let mut per_kind = HashMap::new();
        let variants = schema
            .pointer("/properties/actions/items/anyOf")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for variant in variants {
            let kind = variant
                .pointer("/properties/type/const")
                .and_then(Value::as_str)
                .ok_or("every action variant must have a const type")?
                .to_string();
            let validator = jsonschema::validator_for(&variant).map_err(|e| e.to_string())?;
            per_kind.insert(kind, validator);
        }
        Ok(AnswerValidator {
            catalog,
            schema,
            per_kind,
        })
    }

    pub fn schema(&self) -> &Value {
        &self.schema
    }

    pub fn catalog(&self) -> &ActionCatalog {
        &self.catalog
    }

    /// Parses and validates raw model output. Every problem is reported, not only the first.
    pub fn check(
        &self,
        raw: &str,
        context: &ValidationContext,
    ) -> Result<ModelAnswer, Vec<ValidationError>> {
        let value = parse_json(raw).map_err(|e| vec![e])?;
        let mut errors = Vec::new();
        let Some(object) = value.as_object() else {
            return Err(vec![error(
                "",
                "the answer must be a JSON object with actions, reasoning and confidence",
            )]);
        };
        for key in object.keys() {
            if !["actions", "reasoning", "confidence"].contains(&key.as_str()) {
                errors.push(error(
                    format!("/{key}"),
                    "unexpected property; only actions, reasoning and confidence are allowed",
                ));
            }
        }
        let reasoning = match object.get("reasoning") {
            Some(Value::String(s)) if s.chars().count() > crate::actions::MAX_REASONING_CHARS => {
                errors.push(error(
                    "/reasoning",
                    format!(
                        "too long: at most {} characters",
                        crate::actions::MAX_REASONING_CHARS
                    ),
                ));
                String::new()
            }
            Some(Value::String(s)) => s.clone(),
            _ => {
                errors.push(error(
                    "/reasoning",
                    "required: a string explaining the decision",
                ));
                String::new()
            }
        };
        let confidence = match object.get("confidence").and_then(Value::as_f64) {
            Some(c) if (0.0..=1.0).contains(&c) => c,
            Some(_) => {
                errors.push(error("/confidence", "must be between 0 and 1"));
                0.0
            }
            None => {
                errors.push(error("/confidence", "required: a number from 0 to 1"));
                0.0
            }
        };
        let mut actions = Vec::new();
        match object.get("actions") {
            Some(Value::Array(items)) if items.is_empty() => {
                errors.push(error(
                    "/actions",
                    "at least one action is required (use no_action when nothing is needed)",
                ));
            }
            Some(Value::Array(items)) if items.len() > MAX_ACTIONS => {
                errors.push(error("/actions", format!("at most {MAX_ACTIONS} actions")));
            }
            Some(Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    match self.check_action(i, item, context) {
                        Ok(action) => actions.push(action),
                        Err(mut e) => errors.append(&mut e),
                    }
                }
            }
            _ => errors.push(error("/actions", "required: an array of actions")),
        }
        if errors.is_empty() {
            Ok(ModelAnswer {
                actions,
                reasoning,
                confidence,
            })
        } else {
            Err(errors)
        }
    }

    fn check_action(
        &self,
        i: usize,
        item: &Value,
        context: &ValidationContext,
    ) -> Result<Action, Vec<ValidationError>> {
        let base = format!("/actions/{i}");
        let kind = item.get("type").and_then(Value::as_str).unwrap_or_default();
        let Some(validator) = self.per_kind.get(kind) else {
            let mut known: Vec<&str> = self.per_kind.keys().map(String::as_str).collect();
            known.sort_unstable();
            return Err(vec![error(
                format!("{base}/type"),
                format!(
                    "unknown action type {kind:?}; use one of {}",
                    known.join(", ")
                ),
            )]);
        };
        let schema_errors: Vec<ValidationError> = validator
            .iter_errors(item)
            .map(|e| error(format!("{base}{}", e.instance_path()), e.to_string()))
            .collect();
        if !schema_errors.is_empty() {
            return Err(schema_errors);
        }
        let action =
            Action::from_wire(item, &self.catalog).map_err(|e| vec![error(base.clone(), e)])?;
        let meaning = meaning_errors(&action, context);
        if meaning.is_empty() {
            Ok(action)
        } else {
            Err(meaning
                .into_iter()
                .map(|(field, message)| error(format!("{base}{field}"), message))
                .collect())
        }
    }
}

/// Models wrap JSON in code fences or a sentence now and then; take the outermost object.
fn parse_json(raw: &str) -> Result<Value, ValidationError> {
    let trimmed = raw.trim();
    let candidate = match (trimmed.find('{'), trimmed.rfind('}')) {
        (Some(start), Some(end)) if start < end => &trimmed[start..=end],
        _ => trimmed,
    };
    serde_json::from_str(candidate).map_err(|e| {
        error(
            "",
            format!("the answer is not valid JSON ({e}); answer with one JSON object only"),
        )
    })
}

fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// The checks a schema cannot express. Returns `(field pointer, message)` pairs.
fn meaning_errors(action: &Action, context: &ValidationContext) -> Vec<(&'static str, String)> {
    let mut errors = Vec::new();
    match action {
        Action::Reply(reply) => {
            if !context.window_open() {
                let names: Vec<&str> = context.templates.iter().map(|(n, _)| n.as_str()).collect();
                errors.push((
                    "",
                    format!(
                        "the 24-hour window is closed, so a free-form reply cannot be sent; use send_template with one of: {}",
                        if names.is_empty() { "(no templates are configured; escalate_to_human instead)".to_string() } else { names.join(", ") }
                    ),
                ));
            }
            if reply.text.trim().is_empty() {
                errors.push(("/text", "the reply is empty".into()));
            }
        }
        Action::SendTemplate(template) => {
            let known = context
                .templates
                .iter()
                .any(|(name, language)| *name == template.name && *language == template.language);
            if !known {
                let list: Vec<String> = context
                    .templates
                    .iter()
                    .map(|(n, l)| format!("{n} ({l})"))
                    .collect();
                errors.push((
                    "/name",
                    format!(
                        "there is no approved template {:?} in {:?}; approved templates: {}",
                        template.name,
                        template.language,
                        if list.is_empty() {
                            "none".into()
                        } else {
                            list.join(", ")
                        }
                    ),
                ));
            }
        }
        Action::CreateTask(task) => {
            if let Some(due) = &task.due_at {
                match parse_time(due) {
                    None => errors.push((
                        "/due_at",
                        format!("{due:?} is not an RFC 3339 time with offset"),
                    )),
                    Some(t) if t <= context.now => errors.push((
                        "/due_at",
                        format!(
                            "{due} is in the past; it is now {}",
                            context.now.to_rfc3339()
                        ),
                    )),
                    Some(_) => {}
                }
            }
            if let Some(assignee) = &task.assignee {
                if !context
                    .assignees
                    .iter()
                    .any(|a| a.eq_ignore_ascii_case(assignee))
                {
                    errors.push((
                        "/assignee",
                        format!(
                            "{assignee:?} is not an operator; use null or one of: {}",
                            context.assignees.join(", ")
                        ),
                    ));
                }
            }
        }
        Action::ScheduleFollowup(followup) => match parse_time(&followup.at) {
            None => errors.push((
                "/at",
                format!("{:?} is not an RFC 3339 time with offset", followup.at),
            )),
            Some(t) if t <= context.now => errors.push((
                "/at",
                format!(
                    "{} is in the past; it is now {}",
                    followup.at,
                    context.now.to_rfc3339()
                ),
            )),
            Some(_) => {}
        },
        _ => {}
    }
    errors
}
