//! Executing approved actions, and the persisted outbox that sends to WhatsApp.
//!
//! **Exactly once.** An approved action moves to `executing` in the same transaction that
//! queues its message, guarded by its state, and the outbox row carries the action's
//! idempotency key (unique). A double click, a second approval or a restart finds the
//! action no longer `approved` and queues nothing. A send interrupted by a crash (the row
//! is still `sending` at start) becomes `unknown`: it is never resent blindly, and is
//! reconciled by a later status webhook, which echoes the key as `biz_opaque_callback_data`,
//! or by an operator ([`Engine::resolve_send`]: `sent`, or `not_sent`, which sends it again
//! once).
//!
//! **Pacing.** The worker claims due entries in rounds and sends them concurrently (up to
//! `whatsapp.max_sends_in_flight`), each admitted by the number's [`SendLimiter`]: the
//! per-number token bucket (`whatsapp.throughput_per_second`) and the per-recipient pair
//! limit. A recipient held back (pair limit, or a 131056 from Graph) waits alone; the
//! others' messages go on. Throughput and app-limit errors, and a pause (expired token,
//! restricted account), hold back the whole number. Only the oldest open entry of each
//! recipient is ever claimed, so a customer's messages leave one at a time and in order,
//! retries included.

use crate::{Actor, ChannelMode, Engine, EngineError};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use switchboard_core::config::WhatsAppConfig;
use switchboard_core::ids::{ActionId, ConversationId};
use switchboard_core::{Event, Secret, Timestamp};
use switchboard_store::model::{ActorKind, Page, SendState};
use switchboard_store::queries::audit::{self, NewAuditEvent};
use switchboard_store::queries::outbox::{self, OutboxEntry};
use switchboard_store::queries::runs;
use switchboard_store::rusqlite::{params, Connection, OptionalExtension};
use switchboard_store::StoreError;
use switchboard_whatsapp::graph::client::{GraphClient, GraphConfig};
use switchboard_whatsapp::graph::limits::{RateLimits, SendLimiter};
use switchboard_whatsapp::graph::retry::{next_step, GiveUpReason, RetryPolicy, Step};
use switchboard_whatsapp::graph::types::{
    BackoffKind, NoRetryReason, SendMessage, Template, TemplateComponent, TemplateParameter,
    TextBody,
};
use tokio::task::JoinSet;

const WINDOW_MS: i64 = 24 * 60 * 60 * 1000;
/// How long an expired token or a restricted account holds every send back before the
/// worker tries again.
const PAUSE: Duration = Duration::from_secs(60);
/// Due entries looked at per claim round.
const CANDIDATES: i64 = 64;
/// The worker's longest sleep: a safety net besides its wake-ups.
const IDLE_POLL: Duration = Duration::from_secs(1);

/// The send worker's shared state: the number's rate limits and the Graph API client.
pub(crate) struct OutboxState {
    limiter: Arc<SendLimiter>,
    max_in_flight: usize,
    client: Mutex<Option<(String, GraphClient)>>,
}

impl OutboxState {
    pub(crate) fn new(config: &WhatsAppConfig) -> Self {
        let rate = config.throughput_per_second.max(1);
        let limits = RateLimits {
            per_number_per_second: rate,
            per_number_burst: config.throughput_burst.unwrap_or(rate).max(1),
            pair_interval: Duration::from_millis(config.pair_interval_ms),
            pair_burst: config.pair_burst.max(1),
        };
        Self {
            limiter: Arc::new(SendLimiter::new(limits)),
            max_in_flight: config.max_sends_in_flight.max(1),
            client: Mutex::new(None),
        }
    }
}

/// What the outbox sends, stored as JSON so a send can be rebuilt after a restart.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OutboundPlan {
    Text {
        to: String,
        text: String,
        key: String,
    },
    Template {
        to: String,
        name: String,
        language: String,
        parameters: Vec<String>,
        key: String,
    },
}

impl OutboundPlan {
    fn build(&self) -> Result<SendMessage, String> {
        let message = match self {
            OutboundPlan::Text { to, text, key } => {
                SendMessage::text(to, TextBody::new(text).map_err(|e| e.to_string())?)
                    .and_then(|m| m.with_callback_data(key))
            }
            OutboundPlan::Template {
                to,
                name,
                language,
                parameters,
                key,
            } => {
                let mut template = Template::new(name, language).map_err(|e| e.to_string())?;
                if !parameters.is_empty() {
                    template = template.with_component(TemplateComponent::body(
                        parameters
                            .iter()
                            .map(|p| TemplateParameter::Text { text: p.clone() })
                            .collect(),
                    ));
                }
                SendMessage::template(to, template).and_then(|m| m.with_callback_data(key))
            }
        };
        message.map_err(|e| e.to_string())
    }

    fn text(&self) -> String {
        match self {
            OutboundPlan::Text { text, .. } => text.clone(),
            OutboundPlan::Template {
                name, parameters, ..
            } => format!("[template {name}] {}", parameters.join(" · ")),
        }
    }
}

fn audit_event<'a>(
    kind: &'a str,
    actor: &'a str,
    conversation: ConversationId,
    action: Option<ActionId>,
    detail: serde_json::Value,
) -> NewAuditEvent<'a> {
    NewAuditEvent {
        actor_kind: ActorKind::System,
        actor,
        kind,
        conversation_id: Some(conversation),
        run_id: None,
        action_id: action,
        detail,
    }
}

impl Engine {
    /// Executes an approved action: queues its message (or runs it), exactly once.
    pub async fn execute_action(&self, id: ActionId) -> Result<(), EngineError> {
        // The business's own actions go to its system, not to WhatsApp.
        if self.execute_custom_action(id).await? {
            return Ok(());
        }
        let now = self.now_ms();
        let sandbox = self.mode() == ChannelMode::Sandbox;
        let outcome = self
            .store()
            .write(move |c| queue_action(c, id, sandbox, now))
            .await?;
        if let Some((conversation, state)) = outcome {
            self.bus().publish(Event::ActionExecuted {
                action_id: id,
                conversation_id: conversation,
                state,
            });
            self.outbox_wake().notify_one();
        }
        Ok(())
    }

    /// The Graph API the outbox talks to: the real one, or the sandbox's local endpoint
    /// once the server knows its address.
    pub fn set_graph_base_url(&self, base_url: String) {
        if let Ok(mut current) = self.inner.graph_base.write() {
            *current = Some(base_url);
        }
        self.outbox_wake().notify_one();
    }

    /// The Graph API client, built once per base URL: its connection pool is reused by
    /// every send and download.
    pub(crate) fn graph_client(&self) -> Option<GraphClient> {
        let base = self.inner.graph_base.read().ok()?.clone()?;
        let cache = &self.inner.outbox.client;
        if let Some((cached_base, client)) = cache.lock().ok()?.as_ref() {
            if *cached_base == base {
                return Some(client.clone());
            }
        }
        let token = self.channel().access_token.clone()?;
        let phone = match self.mode() {
            ChannelMode::Sandbox => crate::sandbox::SANDBOX_PHONE_NUMBER_ID.to_string(),
            ChannelMode::Live => self.config().whatsapp.phone_number_id.clone(),
        };
        let client = GraphClient::new(GraphConfig::new(
            base.clone(),
            self.config().whatsapp.api_version.clone(),
            phone,
            Secret::new(token.expose()),
        ))
        .map_err(|e| tracing::error!(error = %e, "cannot build the Graph API client"))
        .ok()?;
        if let Ok(mut cached) = cache.lock() {
            *cached = Some((base, client.clone()));
        }
        Some(client)
    }

    pub(crate) fn outbox_wake(&self) -> &std::sync::Arc<tokio::sync::Notify> {
        &self.inner.outbox_wake
    }

    /// Starts every send the rate limits allow now and waits for those sends to settle.
    /// Returns how many sends were attempted.
    pub async fn send_due(&self) -> Result<usize, EngineError> {
        let mut sends = JoinSet::new();
        self.dispatch_due(&mut sends).await?;
        let attempted = sends.len();
        while sends.join_next().await.is_some() {}
        Ok(attempted)
    }

    /// Claims what the limits admit now (up to the free send slots) and starts those sends.
    /// Returns how long until more may become sendable, when something is waiting.
    async fn dispatch_due(&self, sends: &mut JoinSet<()>) -> Result<Option<Duration>, EngineError> {
        let Some(client) = self.graph_client() else {
            return Ok(None);
        };
        let state = &self.inner.outbox;
        loop {
            let free = state.max_in_flight.saturating_sub(sends.len());
            if free == 0 {
                // A send that settles wakes the worker.
                return Ok(None);
            }
            if let Some(wait) = state.limiter.number_wait() {
                return Ok(Some(wait));
            }
            let now = self.now_ms();
            let limiter = state.limiter.clone();
            let round = self
                .store()
                .write(move |c| claim_due(c, &limiter, free, now))
                .await?;
            let claimed = round.claims.len();
            for claim in round.claims {
                let (engine, client) = (self.clone(), client.clone());
                sends.spawn(async move { engine.send_claimed(&client, claim).await });
            }
            // Deferred recipients left the due set, so entries behind them may be due now.
            if claimed < free && !round.deferred {
                return Ok(round.wait);
            }
        }
    }

    /// One claimed send: the Graph call, then its outcome settled and the limits told.
    async fn send_claimed(&self, client: &GraphClient, claim: Claim) {
        let plan: Result<OutboundPlan, _> = serde_json::from_str(&claim.request);
        let result = match plan
            .as_ref()
            .map_err(|e| e.to_string())
            .and_then(OutboundPlan::build)
        {
            Ok(message) => client.send(&message).await.map_err(Some),
            Err(e) => {
                tracing::error!(error = %e, "an outbox entry cannot be built");
                Err(None)
            }
        };
        let now = self.now_ms();
        let settled = match result {
            Ok(response) => {
                let wamid = response
                    .messages
                    .first()
                    .map(|m| m.id.clone())
                    .unwrap_or_default();
                self.store()
                    .write(move |c| settle_sent(c, &claim, &wamid, now))
                    .await
            }
            Err(error) => {
                let step = match &error {
                    Some(e) => next_step(
                        e,
                        claim.attempts as u32,
                        &RetryPolicy::default(),
                        &mut rand::rng(),
                    ),
                    None => Step::GiveUp(GiveUpReason::Rejected {
                        why: NoRetryReason::InvalidRequest,
                    }),
                };
                // The limits first, so the next claim round already respects them.
                self.limit_after_failure(claim.recipient.as_deref().unwrap_or(""), &step);
                let detail = error
                    .map(|e| e.to_string())
                    .unwrap_or_else(|| "the request could not be built".into());
                self.store()
                    .write(move |c| settle_failed(c, &claim, &step, &detail, now))
                    .await
            }
        };
        match settled {
            Ok((events, pause)) => {
                for event in events {
                    self.bus().publish(event);
                }
                if pause {
                    tracing::error!(
                        "sending is paused: the WhatsApp access token is invalid or the account is restricted"
                    );
                }
            }
            // The entry stays `sending`: a restart turns it into `unknown`, never a resend.
            Err(e) => tracing::error!(error = %e, "cannot record the outcome of a send"),
        }
        self.outbox_wake().notify_one();
    }

    /// What a failure says about the limits: a pair-rate error holds back that recipient
    /// only; throughput and app limits, and a pause, hold back the whole number.
    fn limit_after_failure(&self, recipient: &str, step: &Step) {
        let limiter = &self.inner.outbox.limiter;
        match step {
            Step::DelayRecipient { delay } => limiter.defer_recipient(recipient, *delay),
            Step::RetryAfter {
                delay,
                kind: BackoffKind::Throughput | BackoffKind::AppRate,
            } => limiter.defer_all(*delay),
            Step::Pause(_) => limiter.defer_all(PAUSE),
            Step::RetryAfter { .. } | Step::GiveUp(_) => {}
        }
    }

    pub(crate) fn spawn_outbox(&self) {
        let weak = self.downgrade();
        tokio::spawn(async move {
            let mut first = true;
            let mut sends: JoinSet<()> = JoinSet::new();
            loop {
                let Some(engine) = weak.upgrade() else { return };
                if first {
                    first = false;
                    let now = engine.now_ms();
                    match engine
                        .store()
                        .write(move |c| recover_after_restart(c, now))
                        .await
                    {
                        Ok(approved) => {
                            for id in approved {
                                if let Err(e) = engine.execute_action(id).await {
                                    tracing::error!(%id, error = %e, "cannot execute an approved action");
                                }
                            }
                        }
                        Err(e) => {
                            tracing::error!(error = %e, "cannot recover the outbox after a restart")
                        }
                    }
                }
                while sends.try_join_next().is_some() {}
                let wait = match engine.dispatch_due(&mut sends).await {
                    Ok(wait) => wait,
                    Err(e) => {
                        tracing::error!(error = %e, "the outbox failed; retrying");
                        None
                    }
                };
                let wake = engine.outbox_wake().clone();
                drop(engine);
                let sleep = wait.map_or(IDLE_POLL, |w| w.min(IDLE_POLL));
                tokio::select! {
                    _ = wake.notified() => {}
                    Some(_) = sends.join_next(), if !sends.is_empty() => {}
                    _ = tokio::time::sleep(sleep) => {}
                }
            }
        });
    }
}

/// Moves an approved action to `executing` and queues what it sends.
pub(crate) fn queue_action(
    c: &Connection,
    id: ActionId,
    sandbox: bool,
    now: Timestamp,
) -> Result<Option<(ConversationId, String)>, StoreError> {
    let row: Option<(i64, String, String, String)> = c
        .query_row(
            "SELECT conversation_id, kind, params, idempotency_key FROM actions WHERE id = ?1 AND state = 'approved'",
            [id.0],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()?;
    let Some((conversation, kind, params_text, key)) = row else {
        return Ok(None);
    };
    let conversation = ConversationId(conversation);
    let params: serde_json::Value = serde_json::from_str(&params_text)?;
    let (to, last_customer): (Option<String>, Option<i64>) = c.query_row(
        "SELECT ct.wa_id, cv.last_customer_message_at FROM conversations cv JOIN contacts ct ON ct.id = cv.contact_id WHERE cv.id = ?1",
        [conversation.0],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let fail = |reason: String| -> Result<Option<(ConversationId, String)>, StoreError> {
        c.execute(
            "UPDATE actions SET state = 'failed', error = ?2, executed_at = ?3 WHERE id = ?1",
            params![id.0, reason, now],
        )?;
        audit::append(
            c,
            &audit_event(
                "action.failed",
                "executor",
                conversation,
                Some(id),
                json!({"error": reason}),
            ),
            now,
        )?;
        Ok(Some((conversation, "failed".into())))
    };
    let Some(to) = to else {
        return fail("the contact has no phone number to send to".into());
    };
    let plan = match kind.as_str() {
        "reply" => {
            let open = last_customer.is_some_and(|t| t + WINDOW_MS > now);
            if !open {
                let templates: Vec<String> = runs::templates(c)?
                    .into_iter()
                    .map(|(n, l)| format!("{n} ({l})"))
                    .collect();
                return fail(format!(
                    "the 24-hour window is closed, so a free-form message cannot be sent; a template is needed. Configured templates: {}",
                    if templates.is_empty() { "none".into() } else { templates.join(", ") }
                ));
            }
            OutboundPlan::Text {
                to,
                text: params["text"].as_str().unwrap_or_default().to_string(),
                key: key.clone(),
            }
        }
        "send_template" => OutboundPlan::Template {
            to,
            name: params["name"].as_str().unwrap_or_default().to_string(),
            language: params["language"].as_str().unwrap_or_default().to_string(),
            parameters: params["parameters"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|p| p.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
            key: key.clone(),
        },
        other => {
            return fail(format!(
                "{other} actions are not executed by this version of Switchboard yet"
            ))
        }
    };
    c.execute(
        "UPDATE actions SET state = 'executing' WHERE id = ?1 AND state = 'approved'",
        [id.0],
    )?;
    c.execute(
        "INSERT INTO messages (conversation_id, direction, kind, text, content, action_id, sent_by, status, sandbox, created_at)
         VALUES (?1, 'outbound', ?2, ?3, ?4, ?5, 'ai', 'queued', ?6, ?7)",
        params![conversation.0, if kind == "reply" { "text" } else { "template" }, plan.text(), params_text, id.0, sandbox, now],
    )?;
    let message_id = c.last_insert_rowid();
    c.execute(
        "INSERT INTO outbox (message_id, idempotency_key, request, state, next_attempt_at, created_at, updated_at)
         VALUES (?1, ?2, ?3, 'queued', ?4, ?4, ?4)",
        params![message_id, key, serde_json::to_string(&plan)?, now],
    )?;
    c.execute(
        "UPDATE conversations SET last_message_at = ?2, last_message_preview = ?3, updated_at = ?2 WHERE id = ?1",
        params![conversation.0, now, switchboard_store::queries::messages::preview(Some(&plan.text()), "text")],
    )?;
    audit::append(
        c,
        &audit_event(
            "action.queued",
            "executor",
            conversation,
            Some(id),
            json!({"message_id": message_id, "plan": plan}),
        ),
        now,
    )?;
    Ok(Some((conversation, "executing".into())))
}

struct Claim {
    outbox_id: i64,
    message_id: i64,
    action_id: Option<i64>,
    conversation: ConversationId,
    request: String,
    attempts: i64,
    recipient: Option<String>,
}

#[derive(Default)]
struct ClaimRound {
    claims: Vec<Claim>,
    /// Some due entries were pushed back because their recipient is held back.
    deferred: bool,
    /// How long until the number admits more, or the next entry falls due.
    wait: Option<Duration>,
}

/// Takes the due entries the limits admit now, oldest first, and marks them `sending`
/// (committed before any call). Only the oldest open entry of each recipient is a
/// candidate, so one customer's messages go one at a time and in order. An entry whose
/// recipient is held back (pair limit, a 131056) is moved to when it may go, so it does not
/// hold up the entries of other recipients behind it.
fn claim_due(
    c: &Connection,
    limiter: &SendLimiter,
    free: usize,
    now: Timestamp,
) -> Result<ClaimRound, StoreError> {
    let candidates = c
        .prepare_cached(
            "SELECT o.id, o.message_id, m.action_id, m.conversation_id, o.request, o.attempts, o.recipient
               FROM outbox o JOIN messages m ON m.id = o.message_id
              WHERE o.state = 'queued' AND COALESCE(o.next_attempt_at, 0) <= ?1
                AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.recipient = o.recipient
                                   AND p.state IN ('queued', 'sending') AND p.id < o.id)
              ORDER BY o.next_attempt_at, o.id LIMIT ?2",
        )?
        .query_map(params![now, CANDIDATES], |r| {
            Ok(Claim {
                outbox_id: r.get(0)?,
                message_id: r.get(1)?,
                action_id: r.get(2)?,
                conversation: ConversationId(r.get(3)?),
                request: r.get(4)?,
                attempts: r.get(5)?,
                recipient: r.get(6)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut round = ClaimRound::default();
    for mut claim in candidates {
        if round.claims.len() >= free {
            break;
        }
        match limiter.check(claim.recipient.as_deref().unwrap_or("")) {
            Ok(()) => {
                c.execute(
                    "UPDATE outbox SET state = 'sending', attempts = attempts + 1, updated_at = ?2 WHERE id = ?1 AND state = 'queued'",
                    params![claim.outbox_id, now],
                )?;
                c.execute(
                    "UPDATE messages SET status = 'sending' WHERE id = ?1",
                    [claim.message_id],
                )?;
                claim.attempts += 1;
                round.claims.push(claim);
            }
            Err(wait) => {
                if let Some(number) = limiter.number_wait() {
                    round.wait = Some(number);
                    return Ok(round);
                }
                c.execute(
                    "UPDATE outbox SET next_attempt_at = ?2, updated_at = ?3 WHERE id = ?1",
                    params![claim.outbox_id, now + wait.as_millis() as i64, now],
                )?;
                round.deferred = true;
            }
        }
    }
    let next: Option<i64> = c.query_row(
        "SELECT MIN(next_attempt_at) FROM outbox WHERE state = 'queued' AND next_attempt_at > ?1",
        [now],
        |r| r.get(0),
    )?;
    round.wait = next.map(|at| Duration::from_millis((at - now).max(1) as u64));
    Ok(round)
}

fn settle_sent(
    c: &Connection,
    claim: &Claim,
    wamid: &str,
    now: Timestamp,
) -> Result<(Vec<Event>, bool), StoreError> {
    c.execute(
        "UPDATE outbox SET state = 'sent', updated_at = ?2, last_error = NULL WHERE id = ?1",
        params![claim.outbox_id, now],
    )?;
    // `accepted`: Graph took it; `sent`/`delivered`/`read` come by webhook (a status webhook
    // may even have come first, so never move backwards).
    c.execute(
        "UPDATE messages SET wamid = COALESCE(wamid, ?2), status = CASE WHEN status IN ('sending', 'queued', 'unknown') THEN 'accepted' ELSE status END,
                status_at = ?3 WHERE id = ?1",
        params![claim.message_id, wamid, now],
    )?;
    let mut events = vec![Event::MessageStatus {
        conversation_id: claim.conversation,
        message_id: switchboard_core::ids::MessageId(claim.message_id),
        status: "accepted".into(),
    }];
    if let Some(action) = claim.action_id {
        c.execute(
            "UPDATE actions SET state = 'executed', result = ?2, executed_at = ?3 WHERE id = ?1 AND state = 'executing'",
            params![action, json!({"wamid": wamid, "message_id": claim.message_id}).to_string(), now],
        )?;
        audit::append(
            c,
            &audit_event(
                "action.executed",
                "executor",
                claim.conversation,
                Some(ActionId(action)),
                json!({"wamid": wamid, "message_id": claim.message_id}),
            ),
            now,
        )?;
        events.push(Event::ActionExecuted {
            action_id: ActionId(action),
            conversation_id: claim.conversation,
            state: "executed".into(),
        });
    }
    Ok((events, false))
}

fn settle_failed(
    c: &Connection,
    claim: &Claim,
    step: &Step,
    detail: &str,
    now: Timestamp,
) -> Result<(Vec<Event>, bool), StoreError> {
    let retry = |delay: Duration| -> Result<(), StoreError> {
        c.execute(
            "UPDATE outbox SET state = 'queued', next_attempt_at = ?2, last_error = ?3, updated_at = ?4 WHERE id = ?1",
            params![claim.outbox_id, now + delay.as_millis() as i64, detail, now],
        )?;
        c.execute(
            "UPDATE messages SET status = 'queued' WHERE id = ?1",
            [claim.message_id],
        )?;
        Ok(())
    };
    match step {
        Step::RetryAfter { delay, .. } | Step::DelayRecipient { delay } => {
            retry(*delay)?;
            Ok((Vec::new(), false))
        }
        Step::Pause(reason) => {
            retry(Duration::from_secs(60))?;
            audit::append(
                c,
                &audit_event(
                    "outbox.paused",
                    "executor",
                    claim.conversation,
                    claim.action_id.map(ActionId),
                    json!({"reason": format!("{reason:?}"), "error": detail}),
                ),
                now,
            )?;
            Ok((
                vec![Event::InboxFailed {
                    inbox_id: 0,
                    reason: format!("sending is paused: {reason:?}"),
                }],
                true,
            ))
        }
        Step::GiveUp(reason) => {
            let why = format!("{reason:?}: {detail}");
            c.execute("UPDATE outbox SET state = 'failed', last_error = ?2, updated_at = ?3 WHERE id = ?1", params![claim.outbox_id, why, now])?;
            c.execute("UPDATE messages SET status = 'failed', error_title = ?2, needs_attention = 1 WHERE id = ?1", params![claim.message_id, why])?;
            let mut events = vec![Event::MessageStatus {
                conversation_id: claim.conversation,
                message_id: switchboard_core::ids::MessageId(claim.message_id),
                status: "failed".into(),
            }];
            if let Some(action) = claim.action_id {
                c.execute("UPDATE actions SET state = 'failed', error = ?2, executed_at = ?3 WHERE id = ?1", params![action, why, now])?;
                audit::append(
                    c,
                    &audit_event(
                        "action.failed",
                        "executor",
                        claim.conversation,
                        Some(ActionId(action)),
                        json!({"error": why}),
                    ),
                    now,
                )?;
                events.push(Event::ActionExecuted {
                    action_id: ActionId(action),
                    conversation_id: claim.conversation,
                    state: "failed".into(),
                });
            }
            Ok((events, false))
        }
    }
}

/// At start: sends cut off by a crash become `unknown` (never resent blindly), and
/// approved actions that were never queued are returned to be executed.
fn recover_after_restart(c: &Connection, now: Timestamp) -> Result<Vec<ActionId>, StoreError> {
    let mut stmt = c.prepare("SELECT o.id, o.message_id, m.conversation_id, m.action_id FROM outbox o JOIN messages m ON m.id = o.message_id WHERE o.state = 'sending'")?;
    let interrupted = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, Option<i64>>(3)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    for (outbox, message, conversation, action) in interrupted {
        c.execute("UPDATE outbox SET state = 'unknown', updated_at = ?2, last_error = 'interrupted by a restart during the send' WHERE id = ?1", params![outbox, now])?;
        c.execute("UPDATE messages SET status = 'unknown', needs_attention = 1 WHERE id = ?1 AND status IN ('sending', 'queued')", [message])?;
        audit::append(
            c,
            &audit_event(
                "outbox.unknown",
                "executor",
                ConversationId(conversation),
                action.map(ActionId),
                json!({"message_id": message, "reason": "the process stopped during the send; waiting for a status webhook or an operator"}),
            ),
            now,
        )?;
    }
    let mut stmt = c.prepare("SELECT id FROM actions WHERE state = 'approved' ORDER BY id")?;
    let approved = stmt
        .query_map([], |r| Ok(ActionId(r.get(0)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(approved)
}

/// What an operator says happened to a send whose outcome was lost (`unknown`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SendResolution {
    /// It reached the customer (the operator checked): settle it as sent, never send it.
    Sent,
    /// It never reached WhatsApp: send it again, once.
    NotSent,
}

impl Engine {
    /// Outbox entries, newest first, e.g. the `unknown` ones an operator must settle.
    pub async fn outbox_entries(
        &self,
        state: Option<SendState>,
        cursor: Option<String>,
        limit: Option<u32>,
    ) -> Result<Page<OutboxEntry>, EngineError> {
        Ok(self
            .store()
            .read(move |c| outbox::list(c, state, cursor.as_deref(), limit))
            .await?)
    }

    /// An operator settles a send whose outcome was lost. Only an `unknown` entry can be
    /// settled; `not_sent` queues it again at most once, so a lost outcome can never become
    /// a loop of duplicates. Audited with the operator's name.
    pub async fn resolve_send(
        &self,
        actor: &Actor,
        id: i64,
        resolution: SendResolution,
    ) -> Result<OutboxEntry, EngineError> {
        let now = self.now_ms();
        let label = actor.label();
        let (entry, events) = self
            .store()
            .write(move |c| resolve_unknown(c, id, resolution, &label, now))
            .await?;
        for event in events {
            self.bus().publish(event);
        }
        if resolution == SendResolution::NotSent {
            self.outbox_wake().notify_one();
        }
        Ok(entry)
    }
}

fn resolve_unknown(
    c: &Connection,
    id: i64,
    resolution: SendResolution,
    operator: &str,
    now: Timestamp,
) -> Result<(OutboxEntry, Vec<Event>), StoreError> {
    let entry = outbox::get(c, id)?;
    if entry.state != SendState::Unknown {
        return Err(StoreError::Conflict(format!(
            "outbox entry {id} is {}, not unknown: only a send whose outcome was lost can be resolved",
            entry.state
        )));
    }
    let record = |kind: &'static str, detail: serde_json::Value| {
        audit::append(
            c,
            &NewAuditEvent {
                actor_kind: ActorKind::Operator,
                actor: operator,
                kind,
                conversation_id: Some(entry.conversation_id),
                run_id: None,
                action_id: entry.action_id,
                detail,
            },
            now,
        )
    };
    let mut events = Vec::new();
    match resolution {
        SendResolution::Sent => {
            c.execute(
                "UPDATE outbox SET state = 'sent', last_error = NULL, updated_at = ?2 WHERE id = ?1",
                params![id, now],
            )?;
            c.execute(
                "UPDATE messages SET status = CASE WHEN status IN ('unknown', 'sending', 'queued') THEN 'sent' ELSE status END,
                        status_at = ?2, needs_attention = 0 WHERE id = ?1",
                params![entry.message_id.0, now],
            )?;
            events.push(Event::MessageStatus {
                conversation_id: entry.conversation_id,
                message_id: entry.message_id,
                status: "sent".into(),
            });
            if let Some(action) = entry.action_id {
                let result = json!({"message_id": entry.message_id, "resolved_by": operator});
                let changed = c.execute(
                    "UPDATE actions SET state = 'executed', result = ?2, executed_at = ?3 WHERE id = ?1 AND state = 'executing'",
                    params![action.0, result.to_string(), now],
                )?;
                if changed == 1 {
                    record("action.executed", result)?;
                    events.push(Event::ActionExecuted {
                        action_id: action,
                        conversation_id: entry.conversation_id,
                        state: "executed".into(),
                    });
                }
            }
        }
        SendResolution::NotSent => {
            if entry.requeued_at.is_some() {
                return Err(StoreError::Conflict(format!(
                    "outbox entry {id} was already sent again once after its outcome was lost; it is not sent a third time. Ask the customer, and write a new message if it is still needed"
                )));
            }
            c.execute(
                "UPDATE outbox SET state = 'queued', next_attempt_at = ?2, requeued_at = ?2, updated_at = ?2,
                        last_error = 'an operator said the interrupted send never reached WhatsApp; queued again once'
                  WHERE id = ?1",
                params![id, now],
            )?;
            c.execute(
                "UPDATE messages SET status = 'queued', needs_attention = 0 WHERE id = ?1",
                [entry.message_id.0],
            )?;
            events.push(Event::MessageStatus {
                conversation_id: entry.conversation_id,
                message_id: entry.message_id,
                status: "queued".into(),
            });
        }
    }
    record(
        "outbox.resolved",
        json!({"outbox_id": id, "message_id": entry.message_id, "outcome": resolution}),
    )?;
    Ok((outbox::get(c, id)?, events))
}
