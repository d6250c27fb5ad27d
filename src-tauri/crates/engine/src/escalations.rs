//! Escalations to a human, take-over and hand-back.

use crate::{Actor, Engine, EngineError};
use serde_json::json;
use switchboard_core::ids::EscalationId;
use switchboard_core::Event;
use switchboard_store::model::{ActorKind, Escalation, EscalationState, Page};
use switchboard_store::queries::audit::{self, NewAuditEvent};
use switchboard_store::queries::escalations;

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

    /// The operator takes the conversation: no pipeline run starts for it until hand-back.
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
                    &NewAuditEvent {
                        actor_kind: ActorKind::Operator,
                        actor: &label,
                        kind: "escalation.taken",
                        conversation_id: Some(escalation.conversation_id),
                        run_id: None,
                        action_id: None,
                        detail: json!({ "escalation_id": escalation.id, "reason": escalation.reason }),
                    },
                    now,
                )?;
                Ok(escalation)
            })
            .await?;
        self.bus().publish(Event::EscalationTaken {
            escalation_id: escalation.id,
            conversation_id: escalation.conversation_id,
        });
        Ok(escalation)
    }

    /// Returns the conversation to the AI, with the operator's note for the session context.
    pub async fn hand_back(
        &self,
        actor: &Actor,
        id: EscalationId,
        note: Option<String>,
    ) -> Result<Escalation, EngineError> {
        let now = self.now_ms();
        let label = actor.label();
        let escalation = self
            .store()
            .write(move |c| {
                let escalation = escalations::hand_back(c, id, note.as_deref(), now)?;
                audit::append(
                    c,
                    &NewAuditEvent {
                        actor_kind: ActorKind::Operator,
                        actor: &label,
                        kind: "escalation.handed_back",
                        conversation_id: Some(escalation.conversation_id),
                        run_id: None,
                        action_id: None,
                        detail: json!({ "escalation_id": escalation.id, "note": note }),
                    },
                    now,
                )?;
                Ok(escalation)
            })
            .await?;
        self.bus().publish(Event::EscalationResolved {
            escalation_id: escalation.id,
            conversation_id: escalation.conversation_id,
        });
        Ok(escalation)
    }
}
