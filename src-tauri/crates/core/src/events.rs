//! The typed event bus.
//!
//! The engine publishes without knowing who listens: publishing never waits for a
//! subscriber. A subscriber that falls behind is told how much it missed (`Lagged`) and is
//! expected to refetch, which is the right answer for a UI list. Token deltas, which must
//! not be lost, travel through the LLM crate's per-run stream hub instead and are never
//! published here: the engine's operator stream (`Engine::live_events`) merges the two and
//! produces `Draft`, `TokenDelta` and `DraftReset` for each subscriber.

use crate::ids::{ActionId, ConversationId, EscalationId, MessageId, RunId};
use serde::Serialize;
use tokio::sync::broadcast;

#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    MessageReceived {
        conversation_id: ConversationId,
        message_id: MessageId,
    },
    MessageStatus {
        conversation_id: ConversationId,
        message_id: MessageId,
        status: String,
    },
    /// A webhook body was stored but could not be processed; operators see it in the inbox.
    InboxFailed {
        inbox_id: i64,
        reason: String,
    },
    RunStarted {
        run_id: RunId,
        conversation_id: ConversationId,
    },
    RunFinished {
        run_id: RunId,
        conversation_id: ConversationId,
        outcome: String,
    },
    /// More of the reply a run's model is writing. `offset` is the byte offset of `text` in
    /// the draft: 0 starts the draft (replace what is shown), anything else appends. A slow
    /// subscriber gets what it missed as one larger delta.
    TokenDelta {
        run_id: RunId,
        conversation_id: ConversationId,
        /// Counts this subscriber's deltas of the run, from 1.
        seq: u64,
        offset: u64,
        text: String,
    },
    /// The whole draft of a run in flight, sent right after `ready` for every run already
    /// streaming when the subscriber connected (and after `lagged`); deltas follow.
    Draft {
        run_id: RunId,
        conversation_id: ConversationId,
        text: String,
    },
    /// The draft shown so far is void (the engine is retrying, possibly with another
    /// model); the next delta starts again at offset 0.
    DraftReset {
        run_id: RunId,
        conversation_id: ConversationId,
    },
    ActionProposed {
        action_id: ActionId,
        conversation_id: ConversationId,
        state: String,
    },
    ActionDecided {
        action_id: ActionId,
        conversation_id: ConversationId,
        state: String,
    },
    ActionExecuted {
        action_id: ActionId,
        conversation_id: ConversationId,
        state: String,
    },
    EscalationOpened {
        escalation_id: EscalationId,
        conversation_id: ConversationId,
    },
    EscalationTaken {
        escalation_id: EscalationId,
        conversation_id: ConversationId,
    },
    EscalationResolved {
        escalation_id: EscalationId,
        conversation_id: ConversationId,
    },
    ConversationUpdated {
        conversation_id: ConversationId,
    },
    /// Something an operator should look at now: a new escalation (`kind: escalation`) or
    /// an approval waiting longer than `notifications.approval_wait_secs`
    /// (`kind: approval_waiting`). The desktop shell shows it as an OS notification.
    Notification {
        kind: String,
        conversation_id: ConversationId,
        action_id: Option<ActionId>,
        escalation_id: Option<EscalationId>,
        title: String,
        body: String,
    },
    /// Not published by the engine: produced for a subscriber that fell behind.
    Lagged {
        missed: u64,
    },
}

impl Event {
    /// The SSE event name and the `type` tag of the JSON.
    pub fn name(&self) -> &'static str {
        match self {
            Event::MessageReceived { .. } => "message_received",
            Event::MessageStatus { .. } => "message_status",
            Event::InboxFailed { .. } => "inbox_failed",
            Event::RunStarted { .. } => "run_started",
            Event::RunFinished { .. } => "run_finished",
            Event::TokenDelta { .. } => "token_delta",
            Event::Draft { .. } => "draft",
            Event::DraftReset { .. } => "draft_reset",
            Event::ActionProposed { .. } => "action_proposed",
            Event::ActionDecided { .. } => "action_decided",
            Event::ActionExecuted { .. } => "action_executed",
            Event::EscalationOpened { .. } => "escalation_opened",
            Event::EscalationTaken { .. } => "escalation_taken",
            Event::EscalationResolved { .. } => "escalation_resolved",
            Event::ConversationUpdated { .. } => "conversation_updated",
            Event::Notification { .. } => "notification",
            Event::Lagged { .. } => "lagged",
        }
    }
}

/// A cheap, clonable handle on the bus.
#[derive(Clone, Debug)]
pub struct EventBus {
    sender: broadcast::Sender<Event>,
}

impl EventBus {
    /// `capacity` bounds the memory a slow subscriber can hold the bus to.
    pub fn new(capacity: usize) -> Self {
        let (sender, _) = broadcast::channel(capacity.max(16));
        Self { sender }
    }

    /// Never blocks and never fails: having no subscriber is normal.
    pub fn publish(&self, event: Event) {
        let _ = self.sender.send(event);
    }

    pub fn subscribe(&self) -> EventSubscription {
        EventSubscription {
            receiver: self.sender.subscribe(),
        }
    }

    pub fn subscriber_count(&self) -> usize {
        self.sender.receiver_count()
    }
}

impl Default for EventBus {
    fn default() -> Self {
        Self::new(1024)
    }
}

pub struct EventSubscription {
    receiver: broadcast::Receiver<Event>,
}

impl EventSubscription {
    /// The next event, or `Lagged` when this subscriber missed some; `None` once the bus is gone.
    pub async fn next(&mut self) -> Option<Event> {
        match self.receiver.recv().await {
            Ok(event) => Some(event),
            Err(broadcast::error::RecvError::Lagged(missed)) => Some(Event::Lagged { missed }),
            Err(broadcast::error::RecvError::Closed) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_slow_subscriber_is_told_it_lagged_and_never_blocks_the_publisher() {
        let bus = EventBus::new(16);
        let mut slow = bus.subscribe();
        for i in 0..100 {
            bus.publish(Event::ConversationUpdated {
                conversation_id: ConversationId(i),
            });
        }
        let first = slow.next().await;
        assert!(
            matches!(first, Some(Event::Lagged { missed }) if missed > 0),
            "a subscriber that fell behind must learn it missed events, got {first:?}"
        );
        let next = slow.next().await;
        assert!(
            matches!(next, Some(Event::ConversationUpdated { .. })),
            "after the lag notice the subscriber continues with the oldest kept event"
        );
    }

    #[test]
    fn events_serialize_with_their_type_tag() {
        let json = serde_json::to_value(Event::RunStarted {
            run_id: RunId(3),
            conversation_id: ConversationId(9),
        })
        .unwrap();
        assert_eq!(
            json,
            serde_json::json!({"type": "run_started", "run_id": 3, "conversation_id": 9}),
            "the UI dispatches on `type`, so the wire shape is part of the contract"
        );
        assert_eq!(
            Event::Lagged { missed: 1 }.name(),
            "lagged",
            "the SSE event name matches the tag"
        );
    }
}
