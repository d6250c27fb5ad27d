//! Operators' decisions on proposed actions: approve (as proposed or edited), reject, or
//! reject and ask the AI to try again with guidance.
//!
//! Each decision, its audit record and the labelled example the domain layer learns from
//! are one transaction: there is never a decision without its record or its example.

use crate::{Actor, Engine, EngineError};
use serde_json::{json, Value};
use similar::{ChangeTag, TextDiff};
use switchboard_core::ids::{ActionId, ConversationId};
use switchboard_core::{Event, Timestamp};
use switchboard_pipeline::validate::ValidationContext;
use switchboard_store::model::{Action, ActionState, ActorKind, ExampleLabel, Page};
use switchboard_store::queries::actions::{self, Decision};
use switchboard_store::queries::audit::{self, NewAuditEvent};
use switchboard_store::queries::examples::{self, NewExample};
use switchboard_store::queries::{conversations, guidance, runs};
use switchboard_store::rusqlite::Connection;
use switchboard_store::StoreError;

pub use actions::ActionFilter;

/// The customer-service window WhatsApp keeps open after the customer's last message.
pub(crate) const WINDOW_MS: i64 = 24 * 60 * 60 * 1000;

/// Longest guidance note an operator can give for a retry.
const MAX_GUIDANCE_CHARS: usize = 2_000;

/// Whether the conversation's 24-hour window is closed at `now`.
pub(crate) fn window_closed(
    c: &Connection,
    conversation: ConversationId,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let last = conversations::get(c, conversation)?.last_customer_message_at;
    Ok(last.is_none_or(|t| t + WINDOW_MS <= now))
}

/// An action in the form the model writes it: its parameters and its `type`.
fn wire(kind: &str, params: &Value) -> Value {
    let mut object = params.as_object().cloned().unwrap_or_default();
    object.insert("type".into(), Value::String(kind.to_string()));
    Value::Object(object)
}

/// The operator's change to a reply's text, word by word: `[-removed-]{+added+}`.
pub fn word_diff(old: &str, new: &str) -> String {
    let diff = TextDiff::from_words(old, new);
    let mut out = String::new();
    let mut open: Option<ChangeTag> = None;
    let close = |out: &mut String, tag: Option<ChangeTag>| match tag {
        Some(ChangeTag::Delete) => out.push_str("-]"),
        Some(ChangeTag::Insert) => out.push_str("+}"),
        _ => {}
    };
    for change in diff.iter_all_changes() {
        let tag = change.tag();
        if open != Some(tag) {
            close(&mut out, open);
            match tag {
                ChangeTag::Delete => out.push_str("[-"),
                ChangeTag::Insert => out.push_str("{+"),
                ChangeTag::Equal => {}
            }
            open = Some(tag);
        }
        out.push_str(change.value());
    }
    close(&mut out, open);
    out
}

/// The edit as stored with the decision: an RFC 6902 JSON Patch from the model's
/// parameters to the approved ones, and for text a word diff a person can read.
pub fn edit_diff(kind: &str, original: &Value, edited: &Value) -> Value {
    let patch = json_patch::diff(original, edited);
    let text = match (kind, original.get("text"), edited.get("text")) {
        ("reply", Some(Value::String(old)), Some(Value::String(new))) => Some(word_diff(old, new)),
        _ => None,
    };
    json!({ "json_patch": patch, "text_diff": text })
}

struct Decided {
    action: Action,
    example_label: Option<ExampleLabel>,
    /// The conversation went back to the AI: nothing in it waits for a decision any more.
    settled: bool,
}

impl Engine {
    pub async fn actions(&self, filter: ActionFilter) -> Result<Page<Action>, EngineError> {
        Ok(self
            .store()
            .read(move |c| actions::list(c, &filter))
            .await?)
    }

    pub async fn action(&self, id: ActionId) -> Result<Action, EngineError> {
        Ok(self.store().read(move |c| actions::get(c, id)).await?)
    }

    /// Approves a pending action as proposed and executes it.
    pub async fn approve(&self, actor: &Actor, id: ActionId) -> Result<Action, EngineError> {
        self.approve_with(actor, id, None).await
    }

    /// Approves a pending action, with the operator's edited parameters if given (checked
    /// like the model's own answer: schema, then meaning), and executes it exactly once.
    ///
    /// A free-form reply whose 24-hour window has closed cannot be sent: instead of failing
    /// at send time it is replaced by a template proposal (see `staleness`) and the
    /// approval answers a conflict naming the replacement.
    pub async fn approve_with(
        &self,
        actor: &Actor,
        id: ActionId,
        edited: Option<Value>,
    ) -> Result<Action, EngineError> {
        let current = self.action(id).await?;
        if current.state == ActionState::Pending && current.kind == "reply" {
            let now = self.now_ms();
            let conversation = current.conversation_id;
            let closed = self
                .store()
                .read(move |c| window_closed(c, conversation, now))
                .await?;
            if closed {
                let replacement = self.replace_stale_reply(id).await?;
                return Err(EngineError::Conflict(match replacement {
                    Some(new) => format!(
                        "the 24-hour window closed before this reply was approved, so it cannot be sent; action {new} proposes a template instead"
                    ),
                    None => "the 24-hour window closed before this reply was approved, so it cannot be sent; no template is configured (approvals.stale_template_name), so the conversation was escalated".into(),
                }));
            }
        }
        let decision = match edited {
            None => Decision::Approve,
            Some(params) => {
                let params = self.check_edit(&current, params).await?;
                if params == current.params {
                    Decision::Approve
                } else {
                    let diff = edit_diff(&current.kind, &current.params, &params);
                    Decision::ApproveEdited { params, diff }
                }
            }
        };
        let action = self.decide(actor, id, decision).await?;
        self.execute_action(id).await?;
        self.action(id).await.or(Ok(action))
    }

    pub async fn reject(
        &self,
        actor: &Actor,
        id: ActionId,
        reason: String,
    ) -> Result<Action, EngineError> {
        if reason.trim().is_empty() {
            return Err(EngineError::Invalid("a rejection needs a reason".into()));
        }
        self.decide(actor, id, Decision::Reject { reason }).await
    }

    /// Rejects the pending proposal and runs the conversation again, with the operator's
    /// guidance in the request context of that run.
    pub async fn retry_with_guidance(
        &self,
        actor: &Actor,
        id: ActionId,
        guidance_text: String,
    ) -> Result<Action, EngineError> {
        let note = guidance_text.trim().to_string();
        if note.is_empty() {
            return Err(EngineError::Invalid(
                "a retry needs guidance for the AI (what to do differently)".into(),
            ));
        }
        if note.chars().count() > MAX_GUIDANCE_CHARS {
            return Err(EngineError::Invalid(format!(
                "guidance is limited to {MAX_GUIDANCE_CHARS} characters"
            )));
        }
        let current = self.action(id).await?;
        let Some(run_id) = current.run_id else {
            return Err(EngineError::Invalid(
                "only a model's proposal can be retried; this action came from no run".into(),
            ));
        };
        let conversation = current.conversation_id;
        let held = self.conversation(conversation).await?;
        if held.held_by_operator_id.is_some()
            || held.state == switchboard_store::model::ConversationState::Human
        {
            return Err(EngineError::Conflict(
                "a human holds this conversation; hand it back before asking the AI again".into(),
            ));
        }
        let reason = format!("retry requested with guidance: {note}");
        let action = self
            .decide_then(actor, id, Decision::Reject { reason }, move |c| {
                guidance::request_rerun(c, conversation, run_id, &note)
            })
            .await?;
        self.conversation_has_new_inbound(conversation);
        Ok(action)
    }

    /// Checks edited parameters as the model's own would be checked, for this conversation
    /// now. Returns them normalised (the typed action's parameters).
    async fn check_edit(&self, action: &Action, params: Value) -> Result<Value, EngineError> {
        if !params.is_object() {
            return Err(EngineError::Invalid(
                "params must be a JSON object with the action's parameters".into(),
            ));
        }
        let conversation = action.conversation_id;
        let now = self.now_ms();
        let context = self
            .store()
            .read(move |c| {
                let last = conversations::get(c, conversation)?.last_customer_message_at;
                Ok(ValidationContext {
                    now: chrono::DateTime::from_timestamp_millis(now).unwrap_or_default(),
                    window_closes_at: last
                        .map(|t| t + WINDOW_MS)
                        .and_then(chrono::DateTime::from_timestamp_millis),
                    templates: runs::templates(c)?,
                    assignees: runs::operator_names(c)?,
                })
            })
            .await?;
        let answer = json!({
            "actions": [wire(&action.kind, &params)],
            "reasoning": "edited by an operator",
            "confidence": 1.0,
        });
        match self
            .pipeline()
            .validator
            .check(&answer.to_string(), &context)
        {
            Ok(mut checked) => match checked.actions.pop() {
                Some(typed) if typed.kind() == action.kind => Ok(typed.params()),
                _ => Err(EngineError::Invalid(
                    "the edit changed what kind of action this is".into(),
                )),
            },
            Err(errors) => Err(EngineError::Invalid(format!(
                "the edited parameters are not valid: {}",
                errors
                    .iter()
                    .map(|e| {
                        let field = e.path.strip_prefix("/actions/0").unwrap_or(&e.path);
                        if field.is_empty() {
                            e.message.clone()
                        } else {
                            format!("params{field}: {}", e.message)
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("; ")
            ))),
        }
    }

    async fn decide(
        &self,
        actor: &Actor,
        id: ActionId,
        decision: Decision,
    ) -> Result<Action, EngineError> {
        self.decide_then(actor, id, decision, |_| Ok(())).await
    }

    /// The decision, its audit record, its labelled example and `then` (more of the same
    /// transaction) commit together.
    async fn decide_then<F>(
        &self,
        actor: &Actor,
        id: ActionId,
        decision: Decision,
        then: F,
    ) -> Result<Action, EngineError>
    where
        F: FnOnce(&Connection) -> Result<(), StoreError> + Send + 'static,
    {
        let now = self.now_ms();
        let label = actor.label();
        let operator = actor.operator_id;
        let decided = self
            .store()
            .write(move |c| {
                let before = actions::get(c, id)?;
                let action = actions::decide(c, id, &decision, &label, now)?;
                actions::set_decided_by_operator(c, id, operator)?;
                let (kind, detail, example_label) = match &decision {
                    Decision::Approve => (
                        "action.approved",
                        json!({"action_kind": action.kind, "params": action.params, "edited": false}),
                        ExampleLabel::Approved,
                    ),
                    Decision::ApproveEdited { diff, .. } => (
                        "action.approved",
                        json!({
                            "action_kind": action.kind, "params": action.params, "edited": true,
                            "original_params": before.params, "diff": diff,
                        }),
                        ExampleLabel::Edited,
                    ),
                    Decision::Reject { reason } => (
                        "action.rejected",
                        json!({"action_kind": action.kind, "params": action.params, "reason": reason}),
                        ExampleLabel::Rejected,
                    ),
                };
                audit::append(
                    c,
                    &NewAuditEvent {
                        actor_kind: ActorKind::Operator,
                        actor: &label,
                        kind,
                        conversation_id: Some(action.conversation_id),
                        run_id: action.run_id,
                        action_id: Some(action.id),
                        detail,
                    },
                    now,
                )?;
                // Only a model's proposals teach the model; an operator's own messages and
                // replacements without a request have nothing to learn from.
                let request_text = examples::request_text_of_run(c, action.run_id.map(|r| r.0))?;
                let example_label = (!request_text.trim().is_empty()).then_some(example_label);
                if let Some(label) = example_label {
                    let proposed = wire(&action.kind, &before.params);
                    let approved = wire(&action.kind, &action.params);
                    examples::insert(
                        c,
                        &NewExample {
                            conversation_id: action.conversation_id,
                            action_id: action.id,
                            label,
                            request_text: &request_text,
                            proposed: &proposed,
                            final_action: (label != ExampleLabel::Rejected).then_some(&approved),
                            note: action.decision_note.as_deref(),
                        },
                        now,
                    )?;
                }
                then(c)?;
                let settled =
                    conversations::settle_if_nothing_pending(c, action.conversation_id, now)?;
                Ok(Decided {
                    action,
                    example_label,
                    settled,
                })
            })
            .await?;
        if let Some(label) = decided.example_label {
            tracing::debug!(action = %id, label = %label, "kept the decision as an example");
        }
        let action = decided.action;
        self.bus().publish(Event::ActionDecided {
            action_id: action.id,
            conversation_id: action.conversation_id,
            state: action.state.to_string(),
        });
        if decided.settled {
            self.bus().publish(Event::ConversationUpdated {
                conversation_id: action.conversation_id,
            });
        }
        Ok(action)
    }
}
