//! Proposals that can no longer run as proposed.
//!
//! A free-form reply can only be sent inside the 24-hour window after the customer's last
//! message. A reply still waiting for an operator when that window closes would fail at
//! send time; instead it becomes `stale` and a `send_template` proposal with the configured
//! template (`[approvals] stale_template_*`) replaces it, pending like any other. Without a
//! usable template the conversation is escalated. Checked periodically and at approval.

use crate::approvals::{window_closed, WINDOW_MS};
use crate::{Engine, EngineError};
use serde_json::json;
use switchboard_core::config::ApprovalsConfig;
use switchboard_core::ids::{ActionId, ConversationId};
use switchboard_core::{Event, Timestamp};
use switchboard_store::model::{ActionState, ActorKind, EscalationSource};
use switchboard_store::queries::actions::{self as action_q, NewAction};
use switchboard_store::queries::audit::{self, NewAuditEvent};
use switchboard_store::queries::{conversations, escalations, runs};
use switchboard_store::rusqlite::Connection;
use switchboard_store::StoreError;

/// What became of one stale reply.
#[derive(Clone, Debug, PartialEq)]
pub enum StaleOutcome {
    /// A template proposal replaces it.
    Replaced { stale: ActionId, by: ActionId },
    /// No usable template: a human must take it.
    Escalated { stale: ActionId },
}

fn system_event<'a>(
    kind: &'a str,
    conversation: ConversationId,
    action: Option<ActionId>,
    detail: serde_json::Value,
) -> NewAuditEvent<'a> {
    NewAuditEvent {
        actor_kind: ActorKind::System,
        actor: "staleness",
        kind,
        conversation_id: Some(conversation),
        run_id: None,
        action_id: action,
        detail,
    }
}

/// The configured parameters with what is known filled in.
fn fill_parameters(
    config: &ApprovalsConfig,
    contact_name: Option<&str>,
    business_name: &str,
    reply: &str,
) -> Vec<String> {
    config
        .stale_template_parameters
        .iter()
        .map(|p| {
            let filled = p
                .replace("{contact_name}", contact_name.unwrap_or_default())
                .replace("{business_name}", business_name)
                .replace("{reply}", reply);
            // Template parameters are short; the schema allows 200 characters.
            filled.chars().take(200).collect()
        })
        .collect()
}

fn replace_in_tx(
    c: &Connection,
    id: ActionId,
    config: &ApprovalsConfig,
    business_name: &str,
    now: Timestamp,
    events: &mut Vec<Event>,
) -> Result<Option<StaleOutcome>, StoreError> {
    let action = action_q::get(c, id)?;
    if action.state != ActionState::Pending
        || action.kind != "reply"
        || !window_closed(c, action.conversation_id, now)?
    {
        return Ok(None);
    }
    let conversation = action.conversation_id;
    let why = "the 24-hour window closed before an operator decided this reply";
    if !action_q::mark_stale(c, id, why, now)? {
        return Ok(None);
    }
    audit::append(
        c,
        &system_event(
            "action.stale",
            conversation,
            Some(id),
            json!({"reason": why, "params": action.params}),
        ),
        now,
    )?;
    events.push(Event::ActionDecided {
        action_id: id,
        conversation_id: conversation,
        state: "stale".into(),
    });
    let name = config.stale_template_name.trim();
    let language = config.stale_template_language.trim();
    let approved = runs::templates(c)?
        .iter()
        .any(|(n, l)| n == name && l == language);
    if name.is_empty() || !approved {
        let reason = if name.is_empty() {
            "The 24-hour window closed before a reply was approved, and no template is configured to reach the customer".to_string()
        } else {
            format!("The 24-hour window closed before a reply was approved, and the configured template {name} ({language}) is not an approved template")
        };
        let summary = format!(
            "The reply that waited: {}",
            action.params["text"].as_str().unwrap_or_default()
        );
        let (escalation, opened) = escalations::open(
            c,
            conversation,
            EscalationSource::Policy,
            &reason,
            Some(&summary),
            now,
        )?;
        // An escalation already waiting for a human covers this too.
        if opened {
            audit::append(
                c,
                &system_event(
                    "escalation.opened",
                    conversation,
                    Some(id),
                    json!({"source": "policy", "reason": reason, "escalation_id": escalation}),
                ),
                now,
            )?;
            events.push(Event::EscalationOpened {
                escalation_id: escalation,
                conversation_id: conversation,
            });
        }
        return Ok(Some(StaleOutcome::Escalated { stale: id }));
    }
    let contact = conversations::get(c, conversation)?.contact;
    let reply = action.params["text"].as_str().unwrap_or_default();
    let params = json!({
        "name": name,
        "language": language,
        "parameters": fill_parameters(config, contact.name.as_deref(), business_name, reply),
    });
    let reasoning = format!(
        "The 24-hour window closed before the reply was approved, so a free-form message can no longer be sent. This template replaces it. The reply was: {reply}"
    );
    let key = format!("stale-{}-template", id.0);
    let new_id = action_q::insert(
        c,
        &NewAction {
            conversation_id: conversation,
            run_id: action.run_id,
            kind: "send_template",
            params: &params,
            reasoning: Some(&reasoning),
            confidence: action.confidence,
            state: ActionState::Pending,
            idempotency_key: &key,
        },
        now,
    )?;
    action_q::set_replaces(c, new_id, id)?;
    c.execute(
        "UPDATE actions SET policy_decision = ?2 WHERE id = ?1",
        switchboard_store::rusqlite::params![
            new_id.0,
            json!({"verdict": "approval", "rule": "replaces a stale reply"}).to_string()
        ],
    )?;
    audit::append(
        c,
        &system_event(
            "action.proposed",
            conversation,
            Some(new_id),
            json!({"action": "send_template", "params": params, "replaces_action_id": id, "state": "pending"}),
        ),
        now,
    )?;
    events.push(Event::ActionProposed {
        action_id: new_id,
        conversation_id: conversation,
        state: "pending".into(),
    });
    Ok(Some(StaleOutcome::Replaced {
        stale: id,
        by: new_id,
    }))
}

impl Engine {
    /// Replaces one pending reply whose window has closed. `Ok(Some(new))` names the
    /// template proposal, `Ok(None)` means it was escalated or needed nothing.
    pub(crate) async fn replace_stale_reply(
        &self,
        id: ActionId,
    ) -> Result<Option<ActionId>, EngineError> {
        let outcome = self.replace_stale(vec![id]).await?;
        Ok(outcome.into_iter().find_map(|o| match o {
            StaleOutcome::Replaced { by, .. } => Some(by),
            StaleOutcome::Escalated { .. } => None,
        }))
    }

    /// The periodic check: every pending reply whose window has closed is replaced.
    pub async fn check_stale_approvals(&self) -> Result<Vec<StaleOutcome>, EngineError> {
        let now = self.now_ms();
        let due = self
            .store()
            .read(move |c| action_q::pending_replies_with_window_closing(c, now, WINDOW_MS))
            .await?;
        if due.is_empty() {
            return Ok(Vec::new());
        }
        self.replace_stale(due).await
    }

    async fn replace_stale(&self, ids: Vec<ActionId>) -> Result<Vec<StaleOutcome>, EngineError> {
        let config = self.config().approvals.clone();
        let business = self.config().business.name.clone();
        let now = self.now_ms();
        let (outcomes, events) = self
            .store()
            .write(move |c| {
                let mut events = Vec::new();
                let mut outcomes = Vec::new();
                for id in ids {
                    if let Some(outcome) =
                        replace_in_tx(c, id, &config, &business, now, &mut events)?
                    {
                        outcomes.push(outcome);
                    }
                }
                Ok((outcomes, events))
            })
            .await?;
        for event in events {
            self.bus().publish(event);
        }
        for outcome in &outcomes {
            tracing::info!(
                ?outcome,
                "a reply went stale when its 24-hour window closed"
            );
        }
        Ok(outcomes)
    }
}
