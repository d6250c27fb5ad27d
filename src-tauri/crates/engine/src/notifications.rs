//! What operators should look at now, published as `Event::Notification`: new escalations,
//! and approvals waiting longer than `[notifications] approval_wait_secs` (told once per
//! action, also across restarts). The desktop shell turns them into OS notifications; the
//! browser console can show them from the event stream.
//!
//! The same background loop runs the staleness check (see `staleness`).

use crate::{Engine, EngineError};
use std::time::Duration;
use switchboard_core::ids::{ConversationId, EscalationId};
use switchboard_core::Event;
use switchboard_store::model::EscalationState;
use switchboard_store::queries::{actions, conversations, escalations};

/// How often the loop looks for waiting approvals and stale replies.
const CHECK_EVERY: Duration = Duration::from_secs(5);

fn who(name: Option<String>, phone: Option<String>) -> String {
    name.filter(|n| !n.trim().is_empty())
        .or(phone.map(|p| format!("+{p}")))
        .unwrap_or_else(|| "a customer".into())
}

fn cut(text: &str, max: usize) -> String {
    let mut out: String = text.chars().take(max).collect();
    if text.chars().count() > max {
        out.push('…');
    }
    out
}

impl Engine {
    /// Publishes a notification for each approval waiting longer than the configured time
    /// that was not notified yet. Returns how many were published.
    pub async fn check_waiting_approvals(&self) -> Result<usize, EngineError> {
        let wait_secs = self.config().notifications.approval_wait_secs;
        if wait_secs == 0 {
            return Ok(0);
        }
        let now = self.now_ms();
        let created_by = now - (wait_secs as i64).saturating_mul(1000);
        let waiting = self
            .store()
            .write(move |c| {
                let mut found = Vec::new();
                for action in actions::pending_waiting_unnotified(c, created_by)? {
                    actions::set_wait_notified(c, action.id, now)?;
                    let conversation = conversations::get(c, action.conversation_id)?;
                    found.push((action, conversation));
                }
                Ok(found)
            })
            .await?;
        let count = waiting.len();
        for (action, conversation) in waiting {
            let minutes = (now - action.created_at) / 60_000;
            let preview = match action.params.get("text").and_then(|t| t.as_str()) {
                Some(text) => format!(": {}", cut(text, 120)),
                None => String::new(),
            };
            self.bus().publish(Event::Notification {
                kind: "approval_waiting".into(),
                conversation_id: action.conversation_id,
                action_id: Some(action.id),
                escalation_id: None,
                title: format!(
                    "Waiting {minutes} min for approval — {}",
                    who(conversation.contact.name, conversation.contact.wa_id)
                ),
                body: format!("{}{preview}", action.kind),
            });
        }
        Ok(count)
    }

    /// Publishes the notification of a new escalation, unless it is no longer waiting for
    /// someone (an operator's own take-over opens and takes one at once).
    pub async fn notify_escalation(
        &self,
        escalation: EscalationId,
        conversation_id: ConversationId,
    ) -> Result<bool, EngineError> {
        let (row, conversation) = self
            .store()
            .read(move |c| {
                Ok((
                    escalations::get(c, escalation)?,
                    conversations::get(c, conversation_id)?,
                ))
            })
            .await?;
        if row.state != EscalationState::Open {
            return Ok(false);
        }
        self.bus().publish(Event::Notification {
            kind: "escalation".into(),
            conversation_id,
            action_id: None,
            escalation_id: Some(escalation),
            title: format!(
                "Needs a human — {}",
                who(conversation.contact.name, conversation.contact.wa_id)
            ),
            body: cut(&row.reason, 200),
        });
        Ok(true)
    }

    /// Turns new escalations into notifications and runs the periodic checks, until the
    /// engine is dropped.
    pub(crate) fn spawn_attention(&self) {
        let weak = self.downgrade();
        let mut events = self.bus().subscribe();
        tokio::spawn(async move {
            while let Some(event) = events.next().await {
                let Some(engine) = weak.upgrade() else { return };
                if let Event::EscalationOpened {
                    escalation_id,
                    conversation_id,
                } = event
                {
                    if let Err(e) = engine
                        .notify_escalation(escalation_id, conversation_id)
                        .await
                    {
                        tracing::warn!(error = %e, "cannot notify a new escalation");
                    }
                }
            }
        });
        let weak = self.downgrade();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(CHECK_EVERY).await;
                let Some(engine) = weak.upgrade() else { return };
                if let Err(e) = engine.check_stale_approvals().await {
                    tracing::error!(error = %e, "cannot check for replies whose window closed");
                }
                if let Err(e) = engine.check_waiting_approvals().await {
                    tracing::error!(error = %e, "cannot check for approvals waiting too long");
                }
            }
        });
    }
}
