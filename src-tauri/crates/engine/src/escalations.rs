//! Escalations to a human, take-over and hand-back.
//!
//! While a human holds a conversation no pipeline run starts for it (`runs::gather` and
//! the scheduler's rescan both skip held conversations). Handing back writes a summary of
//! the human part and the operator's note into the conversation's running summary, which
//! the session context layer carries into the next run; the customer messages the human
//! answered are covered, so the AI does not answer them again.

use crate::{Actor, Engine, EngineError};
use serde_json::json;
use switchboard_core::ids::{ConversationId, EscalationId, MessageId};
use switchboard_core::{Event, Timestamp};
use switchboard_store::model::{ActorKind, Escalation, EscalationSource, EscalationState, Page};
use switchboard_store::queries::audit::{self, NewAuditEvent};
use switchboard_store::queries::{conversations, escalations, runs};
use switchboard_store::rusqlite::{params, Connection};
use switchboard_store::StoreError;

/// Longest running summary kept on a conversation; older text is dropped from the front.
const MAX_SUMMARY_CHARS: usize = 2_000;

fn operator_event<'a>(
    label: &'a str,
    kind: &'a str,
    conversation: ConversationId,
    detail: serde_json::Value,
) -> NewAuditEvent<'a> {
    NewAuditEvent {
        actor_kind: ActorKind::Operator,
        actor: label,
        kind,
        conversation_id: Some(conversation),
        run_id: None,
        action_id: None,
        detail,
    }
}

fn quote(text: &str, max: usize) -> String {
    let mut out: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if out.chars().count() > max {
        out = out.chars().take(max).collect();
        out.push('…');
    }
    format!("\"{out}\"")
}

/// A few lines on what happened while a human held the conversation, for the AI.
fn human_part_summary(
    c: &Connection,
    conversation: ConversationId,
    holder: &str,
    since: Timestamp,
    note: Option<&str>,
) -> Result<String, StoreError> {
    let mut stmt = c.prepare_cached(
        "SELECT direction, text, kind FROM messages WHERE conversation_id = ?1 AND created_at >= ?2 ORDER BY id",
    )?;
    let rows = stmt
        .query_map(params![conversation.0, since], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let lines: Vec<String> = rows
        .iter()
        .rev()
        .take(8)
        .rev()
        .map(|(direction, text, kind)| {
            let who = if direction == "inbound" {
                "customer"
            } else {
                "operator"
            };
            let text = text.clone().unwrap_or_else(|| format!("[{kind}]"));
            format!("{who}: {}", quote(&text, 160))
        })
        .collect();
    let holder = holder.rsplit(':').next().unwrap_or(holder);
    let mut summary =
        format!("A human operator ({holder}) handled the conversation and handed it back to you.");
    if lines.is_empty() {
        summary.push_str(" Nothing was written meanwhile.");
    } else {
        summary.push_str(&format!(
            " While they held it ({} message(s), last ones): {}.",
            rows.len(),
            lines.join("; ")
        ));
    }
    if let Some(note) = note.map(str::trim).filter(|n| !n.is_empty()) {
        summary.push_str(&format!(" Operator's note for you: {}", quote(note, 600)));
    }
    Ok(summary)
}

fn append_summary(
    c: &Connection,
    conversation: ConversationId,
    text: &str,
) -> Result<(), StoreError> {
    let current: Option<String> = c.query_row(
        "SELECT summary FROM conversations WHERE id = ?1",
        [conversation.0],
        |r| r.get(0),
    )?;
    let mut combined = match current.filter(|s| !s.trim().is_empty()) {
        Some(previous) => format!("{previous}\n{text}"),
        None => text.to_string(),
    };
    let count = combined.chars().count();
    if count > MAX_SUMMARY_CHARS {
        combined = combined.chars().skip(count - MAX_SUMMARY_CHARS).collect();
    }
    c.execute(
        "UPDATE conversations SET summary = ?2 WHERE id = ?1",
        params![conversation.0, combined],
    )?;
    Ok(())
}

/// Covers the customer messages a human answered: those before the operator's last
/// message. Messages after it still wait for an answer, now from the AI.
fn cover_answered(
    c: &Connection,
    conversation: ConversationId,
    since: Timestamp,
) -> Result<(), StoreError> {
    let last_operator: Option<i64> = c.query_row(
        "SELECT max(id) FROM messages WHERE conversation_id = ?1 AND direction = 'outbound' AND sent_by = 'operator' AND created_at >= ?2",
        params![conversation.0, since],
        |r| r.get(0),
    )?;
    if let Some(last) = last_operator {
        let answered: Option<i64> = c.query_row(
            "SELECT max(id) FROM messages WHERE conversation_id = ?1 AND direction = 'inbound' AND id < ?2",
            params![conversation.0, last],
            |r| r.get(0),
        )?;
        if let Some(answered) = answered {
            runs::set_covered(c, conversation, MessageId(answered))?;
        }
    }
    Ok(())
}

impl Engine {
    pub async fn escalations(
        &self,
        state: Option<EscalationState>,
        cursor: Option<String>,
        limit: Option<u32>,
    ) -> Result<Page<Escalation>, EngineError> {
        Ok(self
            .store()
            .read(move |c| escalations::list(c, state, cursor.as_deref(), limit))
            .await?)
    }

    /// The operator takes the conversation of an open escalation: no pipeline run starts
    /// for it until hand-back.
    pub async fn take_over(
        &self,
        actor: &Actor,
        id: EscalationId,
    ) -> Result<Escalation, EngineError> {
        let now = self.now_ms();
        let label = actor.label();
        let operator = actor.operator_id;
        let escalation = self
            .store()
            .write(move |c| {
                let escalation = escalations::take_over(c, id, operator, &label, now)?;
                audit::append(
                    c,
                    &operator_event(
                        &label,
                        "escalation.taken",
                        escalation.conversation_id,
                        json!({ "escalation_id": escalation.id, "reason": escalation.reason }),
                    ),
                    now,
                )?;
                Ok(escalation)
            })
            .await?;
        self.bus().publish(Event::EscalationTaken {
            escalation_id: escalation.id,
            conversation_id: escalation.conversation_id,
        });
        self.bus().publish(Event::ConversationUpdated {
            conversation_id: escalation.conversation_id,
        });
        Ok(escalation)
    }

    /// The operator's click on a conversation: takes it over, opening an escalation when
    /// none is waiting. Taking over what one already holds is harmless; what another
    /// operator holds is a conflict.
    pub async fn take_over_conversation(
        &self,
        actor: &Actor,
        conversation: ConversationId,
    ) -> Result<Escalation, EngineError> {
        let now = self.now_ms();
        let label = actor.label();
        let operator = actor.operator_id;
        let (escalation, opened, taken) = self
            .store()
            .write(move |c| {
                conversations::get(c, conversation)?;
                let (id, opened) = match escalations::active_for_conversation(c, conversation)? {
                    Some(active) if active.state == EscalationState::Taken => {
                        if active.taken_by.as_deref() == Some(label.as_str()) {
                            return Ok((active, false, false));
                        }
                        return Err(StoreError::Conflict(format!(
                            "{} already holds this conversation",
                            active.taken_by.unwrap_or_else(|| "another operator".into())
                        )));
                    }
                    Some(active) => (active.id, false),
                    None => {
                        let reason = format!("taken over by {}", actor_name(&label));
                        let (id, _) = escalations::open(
                            c,
                            conversation,
                            EscalationSource::Operator,
                            &reason,
                            None,
                            now,
                        )?;
                        audit::append(
                            c,
                            &operator_event(
                                &label,
                                "escalation.opened",
                                conversation,
                                json!({"source": "operator", "reason": reason, "escalation_id": id}),
                            ),
                            now,
                        )?;
                        (id, true)
                    }
                };
                let escalation = escalations::take_over(c, id, operator, &label, now)?;
                audit::append(
                    c,
                    &operator_event(
                        &label,
                        "escalation.taken",
                        conversation,
                        json!({ "escalation_id": escalation.id, "reason": escalation.reason }),
                    ),
                    now,
                )?;
                Ok((escalation, opened, true))
            })
            .await?;
        if opened {
            self.bus().publish(Event::EscalationOpened {
                escalation_id: escalation.id,
                conversation_id: conversation,
            });
        }
        if taken {
            self.bus().publish(Event::EscalationTaken {
                escalation_id: escalation.id,
                conversation_id: conversation,
            });
            self.bus().publish(Event::ConversationUpdated {
                conversation_id: conversation,
            });
        }
        Ok(escalation)
    }

    /// An operator asks for a human on this conversation (their own or a colleague's).
    /// With an escalation already active, that one is returned.
    pub async fn escalate_conversation(
        &self,
        actor: &Actor,
        conversation: ConversationId,
        reason: String,
    ) -> Result<Escalation, EngineError> {
        let reason = reason.trim().to_string();
        if reason.is_empty() || reason.chars().count() > 500 {
            return Err(EngineError::Invalid(
                "an escalation needs a reason of 1 to 500 characters".into(),
            ));
        }
        let now = self.now_ms();
        let label = actor.label();
        let (escalation, opened) = self
            .store()
            .write(move |c| {
                conversations::get(c, conversation)?;
                let summary = format!("Escalated by {}", actor_name(&label));
                let (id, opened) = escalations::open(
                    c,
                    conversation,
                    EscalationSource::Operator,
                    &reason,
                    Some(&summary),
                    now,
                )?;
                if opened {
                    audit::append(
                        c,
                        &operator_event(
                            &label,
                            "escalation.opened",
                            conversation,
                            json!({"source": "operator", "reason": reason, "escalation_id": id}),
                        ),
                        now,
                    )?;
                }
                Ok((escalations::get(c, id)?, opened))
            })
            .await?;
        if opened {
            self.bus().publish(Event::EscalationOpened {
                escalation_id: escalation.id,
                conversation_id: conversation,
            });
            self.bus().publish(Event::ConversationUpdated {
                conversation_id: conversation,
            });
        }
        Ok(escalation)
    }

    /// Returns the conversation to the AI, with a summary of the human part and the
    /// operator's note in its session context.
    pub async fn hand_back(
        &self,
        actor: &Actor,
        id: EscalationId,
        note: Option<String>,
    ) -> Result<Escalation, EngineError> {
        let now = self.now_ms();
        let label = actor.label();
        let note = note.map(|n| n.trim().to_string()).filter(|n| !n.is_empty());
        if note.as_ref().is_some_and(|n| n.chars().count() > 2_000) {
            return Err(EngineError::Invalid(
                "a hand-back note is limited to 2000 characters".into(),
            ));
        }
        let escalation = self
            .store()
            .write(move |c| {
                let current = escalations::get(c, id)?;
                if current.state != EscalationState::Taken {
                    return Err(StoreError::Conflict(format!(
                        "escalation {id} is {}, not taken over",
                        current.state
                    )));
                }
                let conversation = current.conversation_id;
                let (_, taken_at) = escalations::holder(c, id)?;
                let since = taken_at.unwrap_or(current.created_at);
                let holder = current.taken_by.clone().unwrap_or_else(|| label.clone());
                let summary = human_part_summary(c, conversation, &holder, since, note.as_deref())?;
                append_summary(c, conversation, &summary)?;
                cover_answered(c, conversation, since)?;
                let escalation = escalations::hand_back(c, id, note.as_deref(), now)?;
                audit::append(
                    c,
                    &operator_event(
                        &label,
                        "escalation.handed_back",
                        conversation,
                        json!({ "escalation_id": escalation.id, "note": note, "summary": summary }),
                    ),
                    now,
                )?;
                Ok(escalation)
            })
            .await?;
        let conversation = escalation.conversation_id;
        self.bus().publish(Event::EscalationResolved {
            escalation_id: escalation.id,
            conversation_id: conversation,
        });
        self.bus().publish(Event::ConversationUpdated {
            conversation_id: conversation,
        });
        // Customer messages the human left unanswered go to the AI now.
        self.conversation_has_new_inbound(conversation);
        Ok(escalation)
    }

    /// Hands back the conversation's taken escalation.
    pub async fn hand_back_conversation(
        &self,
        actor: &Actor,
        conversation: ConversationId,
        note: Option<String>,
    ) -> Result<Escalation, EngineError> {
        let active = self
            .store()
            .read(move |c| {
                conversations::get(c, conversation)?;
                escalations::active_for_conversation(c, conversation)
            })
            .await?;
        match active {
            Some(e) if e.state == EscalationState::Taken => self.hand_back(actor, e.id, note).await,
            _ => Err(EngineError::Conflict(format!(
                "conversation {conversation} is not held by a human; there is nothing to hand back"
            ))),
        }
    }
}

/// The name part of an actor label (`operator:3:Ana` → `Ana`).
fn actor_name(label: &str) -> &str {
    label.rsplit(':').next().unwrap_or(label)
}

/// Who a conversation is assigned to after a reassignment, and whether a human holds it.
#[derive(Clone, Debug, PartialEq)]
pub struct Assignment {
    pub conversation_id: ConversationId,
    pub operator_id: Option<switchboard_core::ids::OperatorId>,
    /// The taken escalation moved to the new operator, when a human held the conversation.
    pub escalation: Option<Escalation>,
}

impl Engine {
    /// A supervisor gives the conversation to another operator (or to nobody). When a human
    /// holds it, the hold moves too: the new operator continues and hands it back.
    pub async fn reassign_conversation(
        &self,
        actor: &Actor,
        conversation: ConversationId,
        operator: Option<switchboard_core::ids::OperatorId>,
    ) -> Result<Assignment, EngineError> {
        let now = self.now_ms();
        let label = actor.label();
        let assignment = self
            .store()
            .write(move |c| {
                let before = conversations::get(c, conversation)?;
                let target = match operator {
                    Some(id) => {
                        let o = switchboard_store::queries::operators::get(c, id)?;
                        if !o.active {
                            return Err(StoreError::Conflict(format!(
                                "operator {id} is deactivated; reactivate them first"
                            )));
                        }
                        Some(o)
                    }
                    None => None,
                };
                c.execute(
                    "UPDATE conversations SET assigned_operator_id = ?2, updated_at = ?3 WHERE id = ?1",
                    params![conversation.0, operator.map(|o| o.0), now],
                )?;
                let mut moved = None;
                if let (Some(active), Some(target)) = (
                    escalations::active_for_conversation(c, conversation)?,
                    target.as_ref(),
                ) {
                    if active.state == EscalationState::Taken {
                        let holder = format!("operator:{}:{}", target.id, target.name);
                        c.execute(
                            "UPDATE escalations SET taken_by = ?2, taken_by_operator_id = ?3 WHERE id = ?1",
                            params![active.id.0, holder, target.id.0],
                        )?;
                        conversations::set_holder(c, conversation, Some(target.id), now)?;
                        moved = Some(escalations::get(c, active.id)?);
                    }
                }
                audit::append(
                    c,
                    &operator_event(
                        &label,
                        "conversation.reassigned",
                        conversation,
                        json!({
                            "from_holder": before.held_by_operator_id,
                            "to_operator_id": operator,
                            "escalation_id": moved.as_ref().map(|e| e.id),
                        }),
                    ),
                    now,
                )?;
                Ok(Assignment {
                    conversation_id: conversation,
                    operator_id: operator,
                    escalation: moved,
                })
            })
            .await?;
        self.bus().publish(Event::ConversationUpdated {
            conversation_id: conversation,
        });
        Ok(assignment)
    }
}
