//! Reading conversations and their messages, and what operators write from the composer.

use crate::{Engine, EngineError};
use switchboard_core::ids::{ConversationId, MessageId};
use switchboard_store::model::{Conversation, Message, Page};
use switchboard_store::queries::{conversations, messages};

pub use conversations::ConversationFilter;

impl Engine {
    pub async fn conversations(
        &self,
        filter: ConversationFilter,
    ) -> Result<Page<Conversation>, EngineError> {
        Ok(self
            .store()
            .read(move |c| conversations::list(c, &filter))
            .await?)
    }

    pub async fn conversation(&self, id: ConversationId) -> Result<Conversation, EngineError> {
        Ok(self
            .store()
            .read(move |c| conversations::get(c, id))
            .await?)
    }

    pub async fn messages(
        &self,
        conversation: ConversationId,
        before: Option<MessageId>,
        limit: Option<u32>,
    ) -> Result<Page<Message>, EngineError> {
        Ok(self
            .store()
            .read(move |c| {
                conversations::get(c, conversation)?;
                messages::list(c, conversation, before, limit)
            })
            .await?)
    }
}

/// What an operator writes from the composer.
#[derive(Clone, Debug, PartialEq)]
pub enum Composed {
    Text(String),
    Template {
        name: String,
        language: String,
        params: Vec<String>,
    },
}

/// The longest text WhatsApp accepts in one message.
const MAX_TEXT_CHARS: usize = 4_096;

impl Engine {
    /// An operator's own message to the customer. It goes through the same outbox as the
    /// AI's (an approved action, executed exactly once), attributed to the operator. A
    /// free-form text needs the 24-hour window open; outside it only a template can be sent,
    /// and the refusal names the approved templates.
    pub async fn send_operator_message(
        &self,
        actor: &crate::Actor,
        conversation: ConversationId,
        message: Composed,
    ) -> Result<Message, EngineError> {
        use serde_json::json;
        use switchboard_core::Event;
        use switchboard_store::model::{ActionState, ActorKind};
        use switchboard_store::queries::audit::{self, NewAuditEvent};
        use switchboard_store::queries::{actions, runs};
        use switchboard_store::rusqlite::params;
        use switchboard_store::StoreError;

        let (kind, params) = match &message {
            Composed::Text(text) => {
                let text = text.trim();
                if text.is_empty() || text.chars().count() > MAX_TEXT_CHARS {
                    return Err(EngineError::Invalid(format!(
                        "a message needs 1 to {MAX_TEXT_CHARS} characters of text"
                    )));
                }
                ("reply", json!({ "text": text }))
            }
            Composed::Template {
                name,
                language,
                params,
            } => {
                if params.len() > 10 || params.iter().any(|p| p.chars().count() > 200) {
                    return Err(EngineError::Invalid(
                        "a template takes at most 10 parameters of at most 200 characters".into(),
                    ));
                }
                (
                    "send_template",
                    json!({ "name": name.trim(), "language": language.trim(), "parameters": params }),
                )
            }
        };
        let now = self.now_ms();
        let sandbox = self.mode() == crate::ChannelMode::Sandbox;
        let label = actor.label();
        let operator = actor.operator_id;
        let key = format!("compose-{}", switchboard_core::Secret::generate().expose());
        let (message_row, action_id, outcome) = self
            .store()
            .write(move |c| {
                conversations::get(c, conversation)?;
                let templates = runs::templates(c)?;
                let listed = || {
                    if templates.is_empty() {
                        "none are configured".to_string()
                    } else {
                        templates
                            .iter()
                            .map(|(n, l)| format!("{n} ({l})"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    }
                };
                if kind == "reply" && crate::approvals::window_closed(c, conversation, now)? {
                    return Err(StoreError::Conflict(format!(
                        "the 24-hour window is closed, so only a template can reach this customer; approved templates: {}",
                        listed()
                    )));
                }
                if kind == "send_template" {
                    let name = params["name"].as_str().unwrap_or_default();
                    let language = params["language"].as_str().unwrap_or_default();
                    if !templates.iter().any(|(n, l)| n == name && l == language) {
                        return Err(StoreError::Conflict(format!(
                            "there is no approved template {name:?} in {language:?}; approved templates: {}",
                            listed()
                        )));
                    }
                }
                let id = actions::insert(
                    c,
                    &actions::NewAction {
                        conversation_id: conversation,
                        run_id: None,
                        kind,
                        params: &params,
                        reasoning: None,
                        confidence: None,
                        state: ActionState::Approved,
                        idempotency_key: &key,
                    },
                    now,
                )?;
                c.execute(
                    "UPDATE actions SET decided_by = ?2, decided_at = ?3, decided_by_operator_id = ?4 WHERE id = ?1",
                    params![id.0, label, now, operator.map(|o| o.0)],
                )?;
                audit::append(
                    c,
                    &NewAuditEvent {
                        actor_kind: ActorKind::Operator,
                        actor: &label,
                        kind: "message.composed",
                        conversation_id: Some(conversation),
                        run_id: None,
                        action_id: Some(id),
                        detail: json!({ "action_kind": kind, "params": params }),
                    },
                    now,
                )?;
                let outcome = crate::outbox::queue_action(c, id, sandbox, now)?;
                if outcome.as_ref().is_some_and(|(_, state)| state == "failed") {
                    let error: Option<String> =
                        c.query_row("SELECT error FROM actions WHERE id = ?1", [id.0], |r| r.get(0))?;
                    return Err(StoreError::Conflict(
                        error.unwrap_or_else(|| "the message cannot be sent".into()),
                    ));
                }
                c.execute(
                    "UPDATE messages SET sent_by = 'operator', sent_by_operator_id = ?2 WHERE action_id = ?1",
                    params![id.0, operator.map(|o| o.0)],
                )?;
                let message_id: i64 = c.query_row(
                    "SELECT id FROM messages WHERE action_id = ?1",
                    [id.0],
                    |r| r.get(0),
                )?;
                let row = messages::list(c, conversation, Some(MessageId(message_id + 1)), Some(1))?
                    .items
                    .pop()
                    .ok_or(StoreError::NotFound {
                        what: "message",
                        id: message_id,
                    })?;
                Ok((row, id, outcome))
            })
            .await
            .map_err(|e| match e {
                // Refusals above are the operator's to fix, not a race.
                StoreError::Conflict(message) => EngineError::Invalid(message),
                other => other.into(),
            })?;
        if let Some((conversation_id, state)) = outcome {
            self.bus().publish(Event::ActionExecuted {
                action_id,
                conversation_id,
                state,
            });
            self.bus()
                .publish(Event::ConversationUpdated { conversation_id });
            self.outbox_wake().notify_one();
        }
        Ok(message_row)
    }
}
