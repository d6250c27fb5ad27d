//! Operators' decisions on proposed actions.

use crate::{Actor, Engine, EngineError};
use serde_json::json;
use switchboard_core::ids::ActionId;
use switchboard_core::Event;
use switchboard_store::model::{Action, ActorKind, Page};
use switchboard_store::queries::actions::{self, Decision};
use switchboard_store::queries::audit::{self, NewAuditEvent};

pub use actions::ActionFilter;

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

    /// Approves a pending action and executes it (its message is queued for sending).
    pub async fn approve(&self, actor: &Actor, id: ActionId) -> Result<Action, EngineError> {
        let action = self.decide(actor, id, Decision::Approve).await?;
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

    /// The decision and its audit record are one transaction: there is never a decision
    /// without its record.
    async fn decide(
        &self,
        actor: &Actor,
        id: ActionId,
        decision: Decision,
    ) -> Result<Action, EngineError> {
        let now = self.now_ms();
        let label = actor.label();
        let action = self
            .store()
            .write(move |c| {
                let action = actions::decide(c, id, &decision, &label, now)?;
                let (kind, note) = match &decision {
                    Decision::Approve => ("action.approved", None),
                    Decision::Reject { reason } => ("action.rejected", Some(reason.clone())),
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
                        detail: json!({ "action_kind": action.kind, "params": action.params, "reason": note }),
                    },
                    now,
                )?;
                Ok(action)
            })
            .await?;
        self.bus().publish(Event::ActionDecided {
            action_id: action.id,
            conversation_id: action.conversation_id,
            state: action.state.to_string(),
        });
        Ok(action)
    }
}
