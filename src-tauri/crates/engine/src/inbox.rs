//! The WhatsApp webhook: verified, stored durably, answered, then processed.
//!
//! Order matters and is fixed here: cap the size, check the signature over the raw bytes,
//! store the body, answer. A body that is signed but cannot be parsed is stored too (as
//! `failed`, with the reason, visible to operators) and answered 400 as Meta's contract
//! asks. Processing runs afterwards from the stored body, so a crash between the answer
//! and the processing loses nothing: the processor picks the body up again on restart.

use crate::{Engine, EngineError};
use serde_json::json;
use switchboard_core::ids::{ActionId, ConversationId, InboxId, MessageId};
use switchboard_core::{Event, Timestamp};
use switchboard_store::model::{ActorKind, InboxSource, InboxState};
use switchboard_store::queries::audit::{self, NewAuditEvent};
use switchboard_store::queries::inbox::{self, InboxEntry};
use switchboard_store::queries::messages::{self, NewInbound, StatusChange};
use switchboard_store::queries::{contacts, conversations};
use switchboard_store::rusqlite::{params, Connection, OptionalExtension};
use switchboard_store::StoreError;
use switchboard_whatsapp::webhook::payload::{DeliveryStatus, ParseOutcome, StatusUpdate};
use switchboard_whatsapp::webhook::{
    self, HandshakeError, HandshakeQuery, VerifiedBody, WebhookEvent,
};

/// Why a webhook POST was not accepted, with the status Meta should get.
#[derive(Debug, thiserror::Error)]
pub enum WebhookRejection {
    #[error("the body of {len} bytes is larger than the {limit}-byte limit")]
    TooLarge { len: usize, limit: usize },
    #[error("invalid signature: {0}")]
    Signature(#[from] webhook::SignatureError),
    #[error("the payload cannot be parsed ({reason}); it is kept in the inbox as failed")]
    Payload { reason: String, inbox_id: InboxId },
    #[error("the webhook is not configured: {0}")]
    NotConfigured(String),
    #[error(transparent)]
    Storage(#[from] EngineError),
}

impl WebhookRejection {
    pub fn http_status(&self) -> u16 {
        match self {
            WebhookRejection::TooLarge { .. } => 413,
            WebhookRejection::Signature(e) => e.http_status(),
            WebhookRejection::Payload { .. } => 400,
            WebhookRejection::NotConfigured(_) => 503,
            // Not stored, so not acknowledged: Meta will redeliver.
            WebhookRejection::Storage(_) => 503,
        }
    }
}

/// What processing one stored body produced, for events and the pipeline.
#[derive(Debug, Default)]
pub(crate) struct Applied {
    pub events: Vec<Event>,
    pub new_inbound: Vec<(ConversationId, MessageId)>,
}

impl Engine {
    /// The subscription handshake: the challenge to echo, or why not.
    pub fn verify_subscription(&self, query: &HandshakeQuery) -> Result<String, HandshakeError> {
        let token = self
            .channel()
            .verify_token
            .as_ref()
            .map(|t| t.expose())
            .unwrap_or("");
        webhook::verify_subscription(query, token)
    }

    /// Checks and stores one webhook POST. `Ok` means it is durably stored: answer 200.
    pub async fn receive_webhook(
        &self,
        signature: Option<&str>,
        body: bytes::Bytes,
        source: InboxSource,
    ) -> Result<InboxId, WebhookRejection> {
        let limit = self.config().whatsapp.max_body_bytes;
        if body.len() > limit {
            return Err(WebhookRejection::TooLarge {
                len: body.len(),
                limit,
            });
        }
        let secret = self.channel().app_secret.clone().ok_or_else(|| {
            WebhookRejection::NotConfigured("no WhatsApp app secret is set".into())
        })?;
        let verified = webhook::verify(secret.expose().as_bytes(), signature, &body)?;
        // Parsing here costs microseconds and lets us answer 400 as Meta expects; the
        // processor parses again from the stored bytes.
        let parse_error = webhook::parse(verified).err().map(|e| e.to_string());
        let now = self.now_ms();
        let signature = signature.map(str::to_owned);
        let state = if parse_error.is_some() {
            InboxState::Failed
        } else {
            InboxState::Pending
        };
        let error = parse_error.clone();
        let id = self
            .store()
            .write(move |c| {
                inbox::insert(
                    c,
                    source,
                    &body,
                    signature.as_deref(),
                    state,
                    error.as_deref(),
                    now,
                )
            })
            .await
            .map_err(EngineError::from)?;
        match parse_error {
            Some(reason) => {
                self.bus().publish(Event::InboxFailed {
                    inbox_id: id.0,
                    reason: reason.clone(),
                });
                Err(WebhookRejection::Payload {
                    reason,
                    inbox_id: id,
                })
            }
            None => {
                self.inbox_wake().notify_one();
                Ok(id)
            }
        }
    }

    /// Processes every pending body, oldest first. Returns how many were processed.
    pub async fn process_inbox(&self) -> Result<usize, EngineError> {
        let mut total = 0;
        loop {
            let now = self.now_ms();
            let batch = self
                .store()
                .write(move |c| apply_pending(c, BATCH_BODIES, BATCH_BUDGET, now))
                .await?;
            if batch.bodies == 0 {
                return Ok(total);
            }
            for event in batch.applied.events {
                self.bus().publish(event);
            }
            for (conversation, _) in batch.applied.new_inbound {
                self.conversation_has_new_inbound(conversation);
            }
            total += batch.bodies;
        }
    }

    /// Runs the inbox processor until the engine is dropped.
    pub(crate) fn spawn_inbox_processor(&self) {
        let engine = self.downgrade();
        tokio::spawn(async move {
            loop {
                let Some(engine) = engine.upgrade() else {
                    return;
                };
                if let Err(e) = engine.process_inbox().await {
                    tracing::error!(error = %e, "processing the webhook inbox failed; retrying");
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    continue;
                }
                let wake = engine.inbox_wake().clone();
                drop(engine);
                // Wake on a new body, and poll now and then as a safety net.
                let _ =
                    tokio::time::timeout(std::time::Duration::from_secs(2), wake.notified()).await;
            }
        });
    }
}

/// Most bodies one processing job applies.
const BATCH_BODIES: u32 = 64;
/// A processing job stops taking bodies after this long, so webhook writes queued behind it
/// on the single writer never wait much longer than this. (3 ms kept up as well but doubled
/// the ingest p99 under load; see docs/performance.md.)
const BATCH_BUDGET: std::time::Duration = std::time::Duration::from_millis(1);

#[derive(Debug, Default)]
struct Batch {
    bodies: usize,
    applied: Applied,
}

/// Applies pending bodies, oldest first, in one write job: one commit for many bodies, so
/// the processor keeps up with ingest instead of competing with it for commits. Each body
/// has a savepoint of its own: a body whose processing fails is rolled back alone and kept
/// as `failed` with the reason (visible to operators), and the others go on; only storage
/// that cannot be written stops the batch (and is retried).
fn apply_pending(
    conn: &Connection,
    limit: u32,
    budget: std::time::Duration,
    now: Timestamp,
) -> Result<Batch, StoreError> {
    let started = std::time::Instant::now();
    let mut batch = Batch::default();
    for entry in inbox::pending(conn, limit)? {
        conn.execute_batch("SAVEPOINT inbox_body")?;
        match apply_entry(conn, &entry, now) {
            Ok(applied) => {
                conn.execute_batch("RELEASE inbox_body")?;
                batch.applied.events.extend(applied.events);
                batch.applied.new_inbound.extend(applied.new_inbound);
            }
            Err(e) => {
                conn.execute_batch("ROLLBACK TO inbox_body; RELEASE inbox_body")?;
                if e.is_storage_unavailable() {
                    if batch.bodies == 0 {
                        return Err(e);
                    }
                    break;
                }
                let reason = format!("processing the body failed: {e}");
                tracing::error!(inbox_id = entry.id.0, error = %e, "a webhook body cannot be processed");
                inbox::mark(conn, entry.id, InboxState::Failed, Some(&reason), now)?;
                batch.applied.events.push(Event::InboxFailed {
                    inbox_id: entry.id.0,
                    reason,
                });
            }
        }
        batch.bodies += 1;
        if started.elapsed() >= budget {
            break;
        }
    }
    Ok(batch)
}

/// Applies one stored body in the writer's transaction. Parse failures mark the body
/// failed (the reason is kept); they are not errors of the transaction.
pub(crate) fn apply_entry(
    conn: &Connection,
    entry: &InboxEntry,
    now: Timestamp,
) -> Result<Applied, StoreError> {
    let mut applied = Applied::default();
    // The signature was checked before the body was stored.
    let verified = VerifiedBody::assume_verified(&entry.body);
    let parsed = match webhook::parse(verified) {
        Err(e) => {
            let reason = e.to_string();
            inbox::mark(conn, entry.id, InboxState::Failed, Some(&reason), now)?;
            applied.events.push(Event::InboxFailed {
                inbox_id: entry.id.0,
                reason,
            });
            return Ok(applied);
        }
        Ok(ParseOutcome::Ignored(reason)) => {
            inbox::mark(
                conn,
                entry.id,
                InboxState::Ignored,
                Some(&format!("{reason:?}")),
                now,
            )?;
            return Ok(applied);
        }
        Ok(ParseOutcome::Processed(parsed)) => parsed,
    };
    let sandbox = entry.source == InboxSource::Sandbox;
    for event in &parsed.events {
        match event {
            WebhookEvent::Message(message) => {
                let key = contacts::ContactKey {
                    phone_number_id: message.route.phone_number_id.clone(),
                    wa_id: message.sender.wa_id().map(str::to_owned),
                    user_id: message.sender.user_id().map(str::to_owned),
                };
                let contact =
                    contacts::upsert(conn, &key, message.contact_name.as_deref(), sandbox, now)?;
                let conversation = conversations::ensure_for_contact(conn, &contact, now)?;
                let content = serde_json::to_value(&message.content).unwrap_or_default();
                let inserted = messages::insert_inbound(
                    conn,
                    &NewInbound {
                        conversation_id: conversation,
                        wamid: &message.wamid,
                        kind: message.type_name(),
                        text: message.text(),
                        content: &content,
                        reply_to_wamid: message.context.as_ref().and_then(|c| c.id.as_deref()),
                        inbox_id: Some(entry.id.0),
                        wa_timestamp: message.timestamp,
                        sandbox,
                    },
                    now,
                )?;
                // A redelivered wamid inserts nothing and triggers nothing.
                if let Some(message_id) = inserted {
                    applied.events.push(Event::MessageReceived {
                        conversation_id: conversation,
                        message_id,
                    });
                    applied.new_inbound.push((conversation, message_id));
                }
            }
            WebhookEvent::Status(status) => apply_status(conn, status, now, &mut applied)?,
            WebhookEvent::Error(error) => {
                audit::append(
                    conn,
                    &NewAuditEvent {
                        actor_kind: ActorKind::System,
                        actor: "whatsapp",
                        kind: "whatsapp.error",
                        conversation_id: None,
                        run_id: None,
                        action_id: None,
                        detail: json!({ "inbox_id": entry.id.0, "error": error.error }),
                    },
                    now,
                )?;
            }
        }
    }
    let note = if parsed.dropped.is_empty() {
        None
    } else {
        let reasons: Vec<String> = parsed.dropped.iter().map(|d| format!("{d:?}")).collect();
        Some(format!(
            "{} item(s) dropped: {}",
            parsed.dropped.len(),
            reasons.join("; ")
        ))
    };
    inbox::mark(conn, entry.id, InboxState::Processed, note.as_deref(), now)?;
    Ok(applied)
}

/// Pre-send states of our own outbox rank below every status WhatsApp reports.
fn rank(status: &str) -> Option<u8> {
    match status {
        "failed" => None,
        "sent" => Some(1),
        "delivered" => Some(2),
        "read" => Some(3),
        "played" => Some(4),
        _ => Some(0),
    }
}

/// Statuses only move forward (`sent < delivered < read < played`); `failed` is final.
fn supersedes(new: &str, current: &str) -> bool {
    match (rank(new), rank(current)) {
        (_, None) => false,
        (None, _) => true,
        (Some(n), Some(c)) => n > c,
    }
}

fn apply_status(
    conn: &Connection,
    status: &StatusUpdate,
    now: Timestamp,
    applied: &mut Applied,
) -> Result<(), StoreError> {
    let name = status.status.as_str();
    if matches!(status.status, DeliveryStatus::Unknown(_)) {
        return Ok(());
    }
    let raw = serde_json::to_value(status).unwrap_or_default();
    if !messages::record_status_event(conn, &status.wamid, name, status.timestamp, &raw)? {
        return Ok(()); // A redelivered status.
    }
    let Some(message) = messages::outbound_by_wamid_or_key(
        conn,
        &status.wamid,
        status.biz_opaque_callback_data.as_deref(),
    )?
    else {
        return Ok(()); // Not one of ours (e.g. sent from the WhatsApp Business app).
    };
    if !supersedes(name, &message.status) {
        return Ok(());
    }
    let failed = matches!(status.status, DeliveryStatus::Failed);
    let error = status.errors.first();
    let after_sent = rank(&message.status).is_some_and(|r| r >= 1);
    messages::set_status(
        conn,
        message.id,
        &StatusChange {
            status: name,
            at: status.timestamp.saturating_mul(1000),
            error_code: error.map(|e| e.code),
            error_title: error.and_then(|e| e.title.as_deref()),
            error_details: error.and_then(|e| e.details.as_deref()),
            needs_attention: failed,
        },
    )?;
    if failed {
        audit::append(
            conn,
            &NewAuditEvent {
                actor_kind: ActorKind::System,
                actor: "whatsapp",
                kind: if after_sent {
                    "message.failed_after_sent"
                } else {
                    "message.failed"
                },
                conversation_id: Some(message.conversation_id),
                run_id: None,
                action_id: message.action_id.map(switchboard_core::ids::ActionId),
                detail: json!({ "message_id": message.id, "wamid": status.wamid, "error": error }),
            },
            now,
        )?;
    }
    applied.events.push(Event::MessageStatus {
        conversation_id: message.conversation_id,
        message_id: message.id,
        status: name.to_string(),
    });
    reconcile_unknown_send(conn, &message, status, now, applied)
}

/// A send whose outcome was lost when the process stopped mid-call (`unknown`) is settled by
/// the first status WhatsApp reports for it: it did reach WhatsApp (or failed there), so the
/// outbox entry and the action get their outcome, with an audit record saying how.
fn reconcile_unknown_send(
    conn: &Connection,
    message: &messages::OutboundRef,
    status: &StatusUpdate,
    now: Timestamp,
    applied: &mut Applied,
) -> Result<(), StoreError> {
    let outbox: Option<i64> = conn
        .prepare_cached("SELECT id FROM outbox WHERE message_id = ?1 AND state = 'unknown'")?
        .query_row([message.id.0], |r| r.get(0))
        .optional()?;
    let Some(outbox_id) = outbox else {
        return Ok(());
    };
    let failed = matches!(status.status, DeliveryStatus::Failed);
    let action = message.action_id.map(ActionId);
    let audit_record = |kind: &'static str, detail: serde_json::Value| {
        audit::append(
            conn,
            &NewAuditEvent {
                actor_kind: ActorKind::System,
                actor: "whatsapp",
                kind,
                conversation_id: Some(message.conversation_id),
                run_id: None,
                action_id: action,
                detail,
            },
            now,
        )
    };
    let detail = json!({
        "outbox_id": outbox_id, "message_id": message.id, "wamid": status.wamid,
        "status": status.status.as_str(), "by": "status webhook",
    });
    if failed {
        conn.execute(
            "UPDATE outbox SET state = 'failed', last_error = 'WhatsApp reported the send as failed', updated_at = ?2 WHERE id = ?1",
            params![outbox_id, now],
        )?;
    } else {
        conn.execute(
            "UPDATE outbox SET state = 'sent', last_error = NULL, updated_at = ?2 WHERE id = ?1",
            params![outbox_id, now],
        )?;
        conn.execute(
            "UPDATE messages SET needs_attention = 0 WHERE id = ?1",
            [message.id.0],
        )?;
    }
    audit_record("outbox.reconciled", detail)?;
    if let Some(action) = action {
        let (state, result) = if failed {
            (
                "failed",
                json!({"error": "WhatsApp reported the send as failed"}),
            )
        } else {
            (
                "executed",
                json!({"wamid": status.wamid, "message_id": message.id}),
            )
        };
        let changed = conn.execute(
            "UPDATE actions SET state = ?2, result = CASE WHEN ?2 = 'executed' THEN ?3 ELSE result END,
                    error = CASE WHEN ?2 = 'failed' THEN 'WhatsApp reported the send as failed' ELSE error END,
                    executed_at = ?4
              WHERE id = ?1 AND state = 'executing'",
            params![action.0, state, result.to_string(), now],
        )?;
        if changed == 1 {
            audit_record(
                if failed {
                    "action.failed"
                } else {
                    "action.executed"
                },
                result,
            )?;
            applied.events.push(Event::ActionExecuted {
                action_id: action,
                conversation_id: message.conversation_id,
                state: state.into(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::supersedes;

    #[test]
    fn statuses_only_move_forward_and_failed_is_final() {
        assert!(
            supersedes("sent", "sending"),
            "a webhook status beats our own pre-send states"
        );
        assert!(supersedes("read", "delivered"));
        assert!(
            !supersedes("delivered", "read"),
            "a late delivered never overwrites read"
        );
        assert!(
            supersedes("failed", "delivered"),
            "a failure after sent is applied"
        );
        assert!(!supersedes("read", "failed"), "failed is terminal");
    }
}
