//! Pipeline runs: from uncovered customer messages to actions, approvals or an escalation.
//!
//! **Ordering rule.** One run at a time per conversation; conversations run concurrently up
//! to `pipeline.max_concurrent_runs`. A run waits for the customer's quiet period (a burst
//! of messages is one request) and covers every inbound message newer than the
//! conversation's `ai_covered_message_id`. A message that arrives while a run is in flight
//! is not part of it: when the run finishes, its proposals that would wait for approval are
//! marked `superseded` (they answer an outdated request), and the conversation runs again
//! with every message since. Auto actions of the finished run (an escalation, a task) stand.
//!
//! **Outcome rule.** The run's result is written in one transaction together with the
//! coverage, so each covered message ends as an executed action, a pending approval or an
//! escalation; a crash before that commit leaves the messages uncovered for the next run.

use crate::{Engine, EngineError};
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use switchboard_core::ids::{ActionId, ConversationId, EscalationId, MessageId, RunId};
use switchboard_core::{Event, Timestamp};
use switchboard_llm::stream_hub::json_field_sink;
use switchboard_llm::{CancellationToken, DeltaSink, FieldTarget, Provider, RunEnd, RunStream};
use switchboard_pipeline::actions::{Action, ActionCatalog, ModelAnswer};
use switchboard_pipeline::business_time::BusinessClock;
use switchboard_pipeline::context::{
    self, Budget, ContextInputs, ContextSnapshot, Example, HistoryMessage, Passage, Speaker,
};
use switchboard_pipeline::policy::{Facts, Policy, Verdict};
use switchboard_pipeline::recovery::{self, Attempt, AttemptObserver, RecoveryPolicy, RunOutcome};
use switchboard_pipeline::validate::{AnswerValidator, ValidationContext};
use switchboard_store::model::{
    ActionState, ActorKind, ConversationState, EscalationSource, TaskPriority,
};
use switchboard_store::queries::actions::{self as action_q, NewAction};
use switchboard_store::queries::audit::{self, NewAuditEvent};
use switchboard_store::queries::{conversations, escalations, runs, tasks};
use switchboard_store::rusqlite::{params, Connection};
use switchboard_store::StoreError;

/// The instructions a new install starts with; operators edit them in Settings.
pub const DEFAULT_SYSTEM_INSTRUCTIONS: &str = "Help customers quickly and kindly, in their language. \
Never promise refunds, discounts or deliveries you cannot see in the business rules; escalate instead. \
Keep replies short: one to three sentences.";

/// The pipeline's working state inside the engine.
pub struct PipelineState {
    providers: std::sync::RwLock<Vec<Arc<dyn Provider>>>,
    pub(crate) validator: AnswerValidator,
    pub(crate) catalog: ActionCatalog,
    /// The business's time zone and opening hours.
    pub(crate) clock: BusinessClock,
    policy: std::sync::RwLock<Policy>,
    /// Conversations with a run in flight → whether another run was asked for meanwhile.
    running: Mutex<HashMap<ConversationId, bool>>,
    slots: Arc<tokio::sync::Semaphore>,
    shutdown: CancellationToken,
    /// The drafts of the runs in flight, for operators' live views.
    pub(crate) drafts: crate::live::DraftRegistry,
}

impl PipelineState {
    /// Fails, naming the key, when the business clock or the custom actions in `config`
    /// are not usable.
    pub fn new(
        providers: Vec<Arc<dyn Provider>>,
        config: &switchboard_core::Config,
    ) -> Result<PipelineState, EngineError> {
        let max_concurrent = config.pipeline.max_concurrent_runs;
        let clock = BusinessClock::new(&config.business.timezone, &config.business.hours)
            .map_err(|e| EngineError::Invalid(e.to_string()))?;
        let catalog = crate::custom_actions::catalog(&config.pipeline.custom_actions)?;
        let validator = AnswerValidator::new(catalog.clone()).map_err(EngineError::Internal)?;
        Ok(PipelineState {
            providers: std::sync::RwLock::new(providers),
            validator,
            catalog,
            clock,
            policy: std::sync::RwLock::new(Policy::default()),
            running: Mutex::new(HashMap::new()),
            slots: Arc::new(tokio::sync::Semaphore::new(max_concurrent.max(1))),
            shutdown: CancellationToken::new(),
            drafts: Default::default(),
        })
    }
}

/// What one run produced, for tests and callers.
#[derive(Clone, Debug, PartialEq)]
pub struct RunSummary {
    pub run_id: RunId,
    pub tier: u8,
    pub escalation: Option<EscalationId>,
    pub actions: Vec<(ActionId, String, ActionState)>,
    pub superseded: bool,
}

/// Streams the customer-facing reply text of each attempt into the run's draft, which
/// operators follow through [`Engine::live_events`].
struct LiveDraft {
    stream: RunStream,
}

impl AttemptObserver for LiveDraft {
    fn attempt_started(&mut self, _number: u32, _tier: u8, _provider: &str) -> DeltaSink {
        // Each attempt writes a new answer: what an earlier one wrote is void.
        self.stream.reset();
        json_field_sink(self.stream.clone(), FieldTarget::reply_text())
    }
}

/// Ends a run's draft however the run ends (including an error or a dropped task), so no
/// subscriber waits forever.
struct DraftGuard {
    engine: Engine,
    run: RunId,
    stream: RunStream,
}

impl Drop for DraftGuard {
    fn drop(&mut self) {
        self.stream.finish(RunEnd::Cancelled);
        self.engine.pipeline().drafts.retire(self.run);
    }
}

impl PipelineState {
    pub(crate) fn shutdown_token(&self) -> &CancellationToken {
        &self.shutdown
    }
}

impl Engine {
    /// The model chain in use, primary first.
    pub fn providers(&self) -> Vec<Arc<dyn Provider>> {
        self.pipeline()
            .providers
            .read()
            .map(|p| p.clone())
            .unwrap_or_default()
    }

    /// The context a run of `conversation` would send now: the same gather and assembly a
    /// run performs, without running. `None` when nothing is waiting for an answer.
    pub async fn context_for(
        &self,
        conversation: ConversationId,
    ) -> Result<Option<ContextSnapshot>, EngineError> {
        let now = self.now_ms();
        Ok(self
            .gather(conversation, now)
            .await?
            .map(|gathered| self.assemble(&gathered.inputs)))
    }

    fn assemble(&self, inputs: &ContextInputs) -> ContextSnapshot {
        context::assemble(inputs, self.budget(), &|text: &str| {
            switchboard_llm::tokens::estimate_tokens(text)
        })
    }

    /// Replaces the model chain (primary first). Used at start and when Settings change.
    pub fn set_providers(&self, providers: Vec<Arc<dyn Provider>>) {
        if let Ok(mut current) = self.pipeline().providers.write() {
            *current = providers;
        }
    }

    pub fn set_policy(&self, policy: Policy) {
        if let Ok(mut current) = self.pipeline().policy.write() {
            *current = policy;
        }
    }

    /// Runs the scheduler until the engine is dropped.
    pub(crate) fn spawn_pipeline(&self) {
        let weak = self.downgrade();
        tokio::spawn(async move {
            let mut first = true;
            loop {
                let Some(engine) = weak.upgrade() else { return };
                if first {
                    let now = engine.now_ms();
                    if let Err(e) = engine
                        .store()
                        .write(move |c| runs::fail_interrupted_runs(c, now))
                        .await
                    {
                        tracing::error!(error = %e, "cannot close runs interrupted by a restart");
                    }
                    first = false;
                }
                let mut due = engine.take_pending_conversations();
                match engine.store().read(runs::conversations_needing_a_run).await {
                    Ok(found) => due.extend(found),
                    Err(e) => {
                        tracing::error!(error = %e, "cannot list conversations waiting for the AI")
                    }
                }
                due.sort();
                due.dedup();
                for conversation in due {
                    engine.schedule(conversation);
                }
                let wake = engine.inner.pipeline_wake.clone();
                let stop = engine.pipeline().shutdown.clone();
                drop(engine);
                tokio::select! {
                    _ = wake.notified() => {}
                    _ = tokio::time::sleep(Duration::from_secs(5)) => {}
                    _ = stop.cancelled() => return,
                }
            }
        });
    }

    /// Starts a run task for the conversation unless one is in flight (then asks it to
    /// run again when done).
    fn schedule(&self, conversation: ConversationId) {
        {
            let Ok(mut running) = self.pipeline().running.lock() else {
                return;
            };
            if let Some(again) = running.get_mut(&conversation) {
                *again = true;
                return;
            }
            running.insert(conversation, false);
        }
        let engine = self.clone();
        tokio::spawn(async move {
            loop {
                let Ok(permit) = engine.pipeline().slots.clone().acquire_owned().await else {
                    return;
                };
                engine.wait_for_quiet(conversation).await;
                if let Err(e) = engine.run_conversation(conversation).await {
                    tracing::error!(%conversation, error = %e, "a pipeline run failed; it will be retried");
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
                drop(permit);
                let again = {
                    let Ok(mut running) = engine.pipeline().running.lock() else {
                        return;
                    };
                    match running.get_mut(&conversation) {
                        Some(again) if *again => {
                            *again = false;
                            true
                        }
                        _ => {
                            running.remove(&conversation);
                            false
                        }
                    }
                };
                if !again {
                    return;
                }
            }
        });
    }

    /// Waits until the customer has been quiet for the quiet period.
    async fn wait_for_quiet(&self, conversation: ConversationId) {
        let quiet = self.config().pipeline.quiet_period_ms as i64;
        for _ in 0..20 {
            let last = self
                .store()
                .read(move |c| {
                    Ok(c.query_row(
                        "SELECT max(created_at) FROM messages WHERE conversation_id = ?1 AND direction = 'inbound'",
                        [conversation.0],
                        |r| r.get::<_, Option<i64>>(0),
                    )?)
                })
                .await
                .ok()
                .flatten();
            let Some(last) = last else { return };
            let waited = self.now_ms() - last;
            if waited >= quiet {
                return;
            }
            tokio::time::sleep(Duration::from_millis(
                (quiet - waited).clamp(10, 60_000) as u64
            ))
            .await;
        }
    }

    /// One run over the conversation's uncovered messages. `None` if there were none or a
    /// human holds the conversation.
    pub async fn run_conversation(
        &self,
        conversation: ConversationId,
    ) -> Result<Option<RunSummary>, EngineError> {
        let now = self.now_ms();
        let Some(gathered) = self.gather(conversation, now).await? else {
            return Ok(None);
        };
        let triggers: Vec<MessageId> = gathered.request.iter().map(|m| m.id).collect();
        let covered = triggers.iter().copied().max().unwrap_or(MessageId(0));

        // The customer wrote again: earlier proposals answer an outdated request.
        let start_triggers = triggers.clone();
        let (run_id, stale) = self
            .store()
            .write(move |c| {
                let run = runs::start_run(c, conversation, &start_triggers, now)?;
                switchboard_store::queries::guidance::record_on_run(c, run, conversation)?;
                let stale = runs::supersede_pending(c, conversation, Some(run))?;
                for id in &stale {
                    audit::append(
                        c,
                        &system_event(
                            "action.superseded",
                            conversation,
                            Some(run),
                            Some(ActionId(*id)),
                            json!({"reason": "the customer wrote again"}),
                        ),
                        now,
                    )?;
                }
                Ok((run, stale))
            })
            .await?;
        for id in stale {
            self.bus().publish(Event::ActionDecided {
                action_id: ActionId(id),
                conversation_id: conversation,
                state: "superseded".into(),
            });
        }
        // Opened before `run_started` is published, so a subscriber that reacts to that event
        // finds the draft.
        let draft = DraftGuard {
            engine: self.clone(),
            run: run_id,
            stream: self.pipeline().drafts.open(run_id, conversation),
        };
        self.bus().publish(Event::RunStarted {
            run_id,
            conversation_id: conversation,
        });

        let snapshot = self.assemble(&gathered.inputs);
        let chain = self.providers();
        let mut observer = LiveDraft {
            stream: draft.stream.clone(),
        };
        let policy = RecoveryPolicy {
            max_corrective_retries: self.config().pipeline.max_corrective_retries,
            ..RecoveryPolicy::default()
        };
        let (outcome, attempts) = recovery::run(
            &chain,
            &snapshot,
            &self.pipeline().validator,
            &gathered.validation,
            &policy,
            &mut observer,
            &self.pipeline().shutdown,
        )
        .await;
        // Finished before `run_finished` is published: subscribers get the whole draft first.
        draft.stream.finish(match &outcome {
            RunOutcome::Answer { .. } => RunEnd::Completed,
            RunOutcome::Escalate { reason } => RunEnd::Failed {
                message: reason.clone(),
            },
            RunOutcome::Cancelled => RunEnd::Cancelled,
        });

        let policy_rules = self
            .pipeline()
            .policy
            .read()
            .map(|p| p.clone())
            .unwrap_or_default();
        let finish_at = self.now_ms();
        // Judged when the decision is made, on the business's wall clock.
        let facts = Facts {
            tags: gathered.tags.clone(),
            within_business_hours: self.pipeline().clock.is_open(finish_at),
        };
        let request_text: String = gathered
            .request
            .iter()
            .map(|m| m.text.as_str())
            .collect::<Vec<_>>()
            .join("\n");
        let (summary, events) = self
            .store()
            .write(move |c| {
                finish_run(
                    c,
                    FinishInput {
                        conversation,
                        run_id,
                        covered,
                        snapshot: &snapshot,
                        outcome: &outcome,
                        attempts: &attempts,
                        policy: &policy_rules,
                        facts: &facts,
                        request_text: &request_text,
                        now: finish_at,
                    },
                )
            })
            .await?;
        for event in events {
            self.bus().publish(event);
        }
        drop(draft);
        // What the policy let run on its own and that leaves Switchboard (a reply, a
        // template, a custom action) is executed now, through the same exactly-once path
        // as an operator's approval.
        for (id, _, state) in &summary.actions {
            if *state == ActionState::Approved {
                if let Err(e) = self.execute_action(*id).await {
                    tracing::error!(action = %id, error = %e, "cannot execute an automatically approved action; it stays approved and is retried at the next start");
                }
            }
        }
        Ok(Some(summary))
    }

    fn budget(&self) -> Budget {
        let p = &self.config().pipeline;
        Budget {
            system: p.budget_system,
            domain: p.budget_domain,
            session: p.budget_session,
            request: p.budget_request,
        }
    }

    pub(crate) fn pipeline(&self) -> &PipelineState {
        &self.inner.pipeline
    }

    async fn gather(
        &self,
        conversation: ConversationId,
        now: Timestamp,
    ) -> Result<Option<Gathered>, EngineError> {
        let business = self.config().business.name.clone();
        let clock = self.pipeline().clock.clone();
        let catalog = self.pipeline().catalog.clone();
        Ok(self
            .store()
            .read(move |c| gather(c, conversation, now, &business, &clock, &catalog))
            .await?)
    }
}

pub(crate) struct Gathered {
    request: Vec<runs::ThreadMessage>,
    inputs: ContextInputs,
    validation: ValidationContext,
    tags: Vec<String>,
}

const WINDOW_MS: i64 = 24 * 60 * 60 * 1000;

/// One line per action the model may propose: the built-in ones by name, the business's
/// own with what they do.
fn catalog_lines(catalog: &ActionCatalog) -> Vec<String> {
    switchboard_pipeline::actions::BUILTIN_KINDS
        .iter()
        .map(|k| k.to_string())
        .chain(
            catalog
                .custom_actions()
                .iter()
                .map(|d| format!("{}: {}", d.name, d.description.trim())),
        )
        .collect()
}

pub(crate) fn gather(
    c: &Connection,
    conversation: ConversationId,
    now: Timestamp,
    business: &str,
    clock: &BusinessClock,
    catalog: &ActionCatalog,
) -> Result<Option<Gathered>, StoreError> {
    let conv = conversations::get(c, conversation)?;
    if conv.held_by_operator_id.is_some() || conv.state == ConversationState::Human {
        return Ok(None); // A human holds it: the AI is paused.
    }
    let request = runs::uncovered_inbound(c, conversation)?;
    let Some(first) = request.first() else {
        return Ok(None);
    };
    let history = runs::history(c, conversation, first.id, 40)?;
    let request_text: String = request
        .iter()
        .map(|m| m.text.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    let (system_version, instructions) =
        runs::latest_layer(c, "system")?.unwrap_or((0, DEFAULT_SYSTEM_INSTRUCTIONS.to_string()));
    let (domain_version, rules) = runs::latest_layer(c, "domain")?
        .unwrap_or((0, "No business rules are configured yet.".into()));
    let knowledge = runs::relevant_knowledge(c, &request_text, 5)?;
    let examples = runs::relevant_examples(c, &request_text, 3)?;
    let tags: Vec<String> = c
        .query_row(
            "SELECT tags FROM conversations WHERE id = ?1",
            [conversation.0],
            |r| r.get::<_, String>(0),
        )
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    let window_closes = conv
        .last_customer_message_at
        .map(|t| t + WINDOW_MS)
        .filter(|t| *t > now);
    let speaker = |m: &runs::ThreadMessage| HistoryMessage {
        from: if m.inbound {
            Speaker::Customer
        } else {
            Speaker::Business
        },
        at: clock.local_rfc3339(m.created_at),
        text: m.text.clone(),
    };
    let templates = runs::templates(c)?;
    let inputs = ContextInputs {
        system: context::SystemLayer {
            business_name: business.to_string(),
            instructions,
            version: system_version,
            action_catalog: catalog_lines(catalog),
        },
        domain: context::DomainLayer {
            rules,
            version: domain_version,
            knowledge: knowledge
                .into_iter()
                .map(|(title, body)| Passage { title, body })
                .collect(),
            examples: examples
                .into_iter()
                .map(|(request, approved)| Example { request, approved })
                .collect(),
        },
        session: context::SessionLayer {
            summary: c
                .query_row(
                    "SELECT summary FROM conversations WHERE id = ?1",
                    [conversation.0],
                    |r| r.get(0),
                )
                .ok()
                .flatten(),
            history: history.iter().map(speaker).collect(),
            variables: runs::session_variables(c, conversation)?,
            open_tasks: runs::open_task_titles(c, conversation)?,
            past_escalations: runs::past_escalations(c, conversation)?,
        },
        request: context::RequestLayer {
            messages: request.iter().map(speaker).collect(),
            contact_name: conv.contact.name.clone(),
            contact_phone: conv.contact.wa_id.as_ref().map(|w| format!("+{w}")),
            contact_profile: Vec::new(),
            window_closes_at: window_closes.map(|t| clock.local_rfc3339(t)),
            window_minutes_left: window_closes.map(|t| (t - now) / 60_000),
            now: clock.local_rfc3339(now),
            time_zone: clock.zone_name().to_string(),
            today: Some(clock.local_day(now)),
            business_hours: clock.hours_note(now),
            // An operator's "try again, and …" (see `approvals::retry_with_guidance`).
            guidance: switchboard_store::queries::guidance::pending(c, conversation)?,
        },
    };
    let validation = ValidationContext {
        now: chrono::DateTime::from_timestamp_millis(now).unwrap_or_default(),
        window_closes_at: window_closes.and_then(chrono::DateTime::from_timestamp_millis),
        templates,
        assignees: runs::operator_names(c)?,
    };
    Ok(Some(Gathered {
        request,
        inputs,
        validation,
        tags,
    }))
}

fn system_event<'a>(
    kind: &'a str,
    conversation: ConversationId,
    run: Option<RunId>,
    action: Option<ActionId>,
    detail: serde_json::Value,
) -> NewAuditEvent<'a> {
    NewAuditEvent {
        actor_kind: ActorKind::System,
        actor: "pipeline",
        kind,
        conversation_id: Some(conversation),
        run_id: run,
        action_id: action,
        detail,
    }
}

struct FinishInput<'a> {
    conversation: ConversationId,
    run_id: RunId,
    covered: MessageId,
    snapshot: &'a ContextSnapshot,
    outcome: &'a RunOutcome,
    attempts: &'a [Attempt],
    policy: &'a Policy,
    facts: &'a Facts,
    request_text: &'a str,
    now: Timestamp,
}

/// Writes a run's whole result in the caller's transaction.
fn finish_run(
    c: &Connection,
    input: FinishInput<'_>,
) -> Result<(RunSummary, Vec<Event>), StoreError> {
    let FinishInput {
        conversation,
        run_id,
        covered,
        snapshot,
        outcome,
        attempts,
        policy,
        facts,
        now,
        ..
    } = input;
    let mut events = Vec::new();
    let messages = serde_json::to_string(&snapshot.messages)?;
    let snapshot_hash = snapshot.hash();
    let model = match outcome {
        RunOutcome::Answer { model, .. } => Some(model.as_str()),
        _ => attempts.last().map(|a| a.model.as_str()),
    };
    let snapshot_id = runs::store_snapshot(
        c,
        &runs::NewSnapshot {
            hash: &snapshot_hash,
            messages: &messages,
            layer_tokens: &serde_json::to_string(&snapshot.layer_tokens)?,
            layer_versions: &snapshot.layer_versions.to_string(),
            model,
            schema_version: snapshot.schema_version,
            layers: Some(&serde_json::to_string(&snapshot.layers)?),
        },
        now,
    )?;
    for attempt in attempts {
        c.execute(
            "INSERT INTO run_attempts (run_id, attempt, tier, provider, model, context_snapshot_id, raw_output, validation_errors,
                                       error, tokens_in, tokens_out, tokens_estimated, cost, ttft_ms, latency_ms, started_at, finished_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?16)",
            params![
                run_id.0, attempt.number, attempt.tier, attempt.provider, attempt.model, snapshot_id, attempt.raw_output,
                (!attempt.validation_errors.is_empty()).then(|| serde_json::to_string(&attempt.validation_errors).unwrap_or_default()),
                attempt.error, attempt.tokens_in, attempt.tokens_out, attempt.tokens_estimated, attempt.cost,
                attempt.ttft_ms.map(|v| v as i64), attempt.latency_ms as i64, now
            ],
        )?;
        let kind = match (&attempt.error, attempt.validation_errors.is_empty()) {
            (Some(_), _) => "run.attempt_failed",
            (None, false) => "run.attempt_invalid",
            (None, true) => "run.attempt_valid",
        };
        audit::append(
            c,
            &NewAuditEvent {
                actor_kind: ActorKind::Model,
                actor: &format!("{}:{}", attempt.provider, attempt.model),
                kind,
                conversation_id: Some(conversation),
                run_id: Some(run_id),
                action_id: None,
                detail: json!({
                    "attempt": attempt.number, "tier": attempt.tier, "context_hash": snapshot_hash,
                    "raw_output": attempt.raw_output, "validation_errors": attempt.validation_errors, "error": attempt.error,
                    "tokens_in": attempt.tokens_in, "tokens_out": attempt.tokens_out, "cost": attempt.cost,
                    "ttft_ms": attempt.ttft_ms, "latency_ms": attempt.latency_ms,
                }),
            },
            now,
        )?;
    }

    // A message that arrived during the run makes its waiting proposals outdated.
    let newer_arrived: bool = c.query_row(
        "SELECT EXISTS (SELECT 1 FROM messages WHERE conversation_id = ?1 AND direction = 'inbound' AND id > ?2)",
        params![conversation.0, covered.0],
        |r| r.get(0),
    )?;

    let mut summary = RunSummary {
        run_id,
        tier: 0,
        escalation: None,
        actions: Vec::new(),
        superseded: newer_arrived,
    };
    let (state, tier, reasoning, confidence, error) = match outcome {
        RunOutcome::Cancelled => {
            // Coverage does not move: the messages are picked up by the next run.
            c.execute("UPDATE pipeline_runs SET state = 'cancelled', finished_at = ?2, context_snapshot_id = ?3 WHERE id = ?1", params![run_id.0, now, snapshot_id])?;
            return Ok((summary, events));
        }
        RunOutcome::Answer { answer, tier, .. } => {
            summary.tier = *tier;
            apply_answer(
                c,
                conversation,
                run_id,
                answer,
                policy,
                facts,
                newer_arrived,
                input.request_text,
                &snapshot_hash,
                now,
                &mut summary,
                &mut events,
            )?;
            (
                "completed",
                *tier,
                Some(answer.reasoning.clone()),
                Some(answer.confidence),
                None,
            )
        }
        RunOutcome::Escalate { reason } => {
            summary.tier = 3;
            let attempts_text: Vec<String> = attempts
                .iter()
                .map(|a| {
                    format!(
                        "#{} {} ({}): {}",
                        a.number,
                        a.provider,
                        a.model,
                        a.error.clone().unwrap_or_else(|| a
                            .validation_errors
                            .iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join("; "))
                    )
                })
                .collect();
            let wrote: String = input.request_text.chars().take(600).collect();
            let summary_text = if attempts_text.is_empty() {
                format!("The customer wrote: {wrote}")
            } else {
                format!(
                    "The customer wrote: {wrote}\nAttempts:\n{}",
                    attempts_text.join("\n")
                )
            };
            let (id, opened) = escalations::open(
                c,
                conversation,
                EscalationSource::Tier3,
                reason,
                Some(&summary_text),
                now,
            )?;
            audit::append(
                c,
                &system_event(
                    "escalation.opened",
                    conversation,
                    Some(run_id),
                    None,
                    json!({"source": "tier3", "reason": reason, "context_hash": snapshot_hash}),
                ),
                now,
            )?;
            if opened {
                events.push(Event::EscalationOpened {
                    escalation_id: id,
                    conversation_id: conversation,
                });
            }
            summary.escalation = Some(id);
            ("escalated", 3u8, None, None, Some(reason.clone()))
        }
    };
    c.execute(
        "UPDATE pipeline_runs SET state = ?2, tier = ?3, finished_at = ?4, covered_message_id = ?5, context_snapshot_id = ?6,
                                  reasoning = ?7, confidence = ?8, error = ?9,
                                  provider = (SELECT provider FROM run_attempts WHERE run_id = ?1 ORDER BY attempt DESC LIMIT 1),
                                  model = (SELECT model FROM run_attempts WHERE run_id = ?1 ORDER BY attempt DESC LIMIT 1)
         WHERE id = ?1",
        params![run_id.0, state, tier, now, covered.0, snapshot_id, reasoning, confidence, error],
    )?;
    runs::set_covered(c, conversation, covered)?;
    switchboard_store::queries::guidance::clear_if_used(c, conversation, run_id)?;
    audit::append(
        c,
        &system_event(
            "run.finished",
            conversation,
            Some(run_id),
            None,
            json!({"state": state, "tier": tier, "context_hash": snapshot_hash, "covered_message_id": covered.0}),
        ),
        now,
    )?;
    events.push(Event::RunFinished {
        run_id,
        conversation_id: conversation,
        outcome: state.into(),
    });
    events.push(Event::ConversationUpdated {
        conversation_id: conversation,
    });
    Ok((summary, events))
}

#[allow(clippy::too_many_arguments)]
fn apply_answer(
    c: &Connection,
    conversation: ConversationId,
    run_id: RunId,
    answer: &ModelAnswer,
    policy: &Policy,
    facts: &Facts,
    outdated: bool,
    request_text: &str,
    snapshot_hash: &str,
    now: Timestamp,
    summary: &mut RunSummary,
    events: &mut Vec<Event>,
) -> Result<(), StoreError> {
    let mut any_pending = false;
    for (index, action) in answer.actions.iter().enumerate() {
        let decision = policy.decide(action, answer.confidence, facts);
        let state = match decision.verdict {
            Verdict::Forbid => ActionState::Forbidden,
            Verdict::Approval if outdated => ActionState::Superseded,
            Verdict::Approval => ActionState::Pending,
            Verdict::Auto => ActionState::Executing,
        };
        let params_value = action.params();
        let key = format!("run-{}-action-{}", run_id.0, index);
        let id = action_q::insert(
            c,
            &NewAction {
                conversation_id: conversation,
                run_id: Some(run_id),
                kind: action.kind(),
                params: &params_value,
                reasoning: Some(&answer.reasoning),
                confidence: Some(answer.confidence),
                state,
                idempotency_key: &key,
            },
            now,
        )?;
        c.execute(
            "UPDATE actions SET policy_decision = ?2 WHERE id = ?1",
            params![id.0, serde_json::to_string(&decision)?],
        )?;
        audit::append(
            c,
            &NewAuditEvent {
                actor_kind: ActorKind::Model,
                actor: "pipeline",
                kind: "action.proposed",
                conversation_id: Some(conversation),
                run_id: Some(run_id),
                action_id: Some(id),
                detail: json!({
                    "action": action.kind(), "params": params_value, "reasoning": answer.reasoning,
                    "confidence": answer.confidence, "policy": decision, "state": state.as_str(), "context_hash": snapshot_hash,
                }),
            },
            now,
        )?;
        let final_state = if state == ActionState::Executing {
            execute_internal(
                c,
                conversation,
                run_id,
                id,
                action,
                request_text,
                now,
                summary,
                events,
            )?
        } else {
            state
        };
        any_pending |= final_state == ActionState::Pending;
        events.push(Event::ActionProposed {
            action_id: id,
            conversation_id: conversation,
            state: final_state.as_str().into(),
        });
        summary
            .actions
            .push((id, action.kind().to_string(), final_state));
    }
    if summary.escalation.is_none() {
        let next = if any_pending {
            ConversationState::AwaitingApproval
        } else {
            ConversationState::AiActive
        };
        let current = conversations::get(c, conversation)?.state;
        if current != ConversationState::Escalated && current != ConversationState::Closed {
            conversations::set_state(c, conversation, next, now)?;
        }
    }
    Ok(())
}

/// Runs an auto action that stays inside Switchboard. Actions that reach the customer or an
/// outside system are executed by the executor, after approval.
#[allow(clippy::too_many_arguments)]
fn execute_internal(
    c: &Connection,
    conversation: ConversationId,
    run_id: RunId,
    id: ActionId,
    action: &Action,
    request_text: &str,
    now: Timestamp,
    summary: &mut RunSummary,
    events: &mut Vec<Event>,
) -> Result<ActionState, StoreError> {
    let result = match action {
        Action::NoAction(_) => json!({"done": "nothing needed"}),
        Action::EscalateToHuman(e) => {
            let summary_text = format!(
                "{}\nThe customer wrote: {}",
                e.summary,
                request_text.chars().take(600).collect::<String>()
            );
            let (escalation, opened) = escalations::open(
                c,
                conversation,
                EscalationSource::Model,
                &e.reason,
                Some(&summary_text),
                now,
            )?;
            if opened {
                events.push(Event::EscalationOpened {
                    escalation_id: escalation,
                    conversation_id: conversation,
                });
                audit::append(
                    c,
                    &system_event(
                        "escalation.opened",
                        conversation,
                        Some(run_id),
                        Some(id),
                        json!({"source": "model", "reason": e.reason}),
                    ),
                    now,
                )?;
            }
            summary.escalation = Some(escalation);
            json!({"escalation_id": escalation})
        }
        Action::CreateTask(t) => {
            let priority = match t.priority {
                switchboard_pipeline::actions::Priority::Low => TaskPriority::Low,
                switchboard_pipeline::actions::Priority::Normal => TaskPriority::Normal,
                switchboard_pipeline::actions::Priority::High => TaskPriority::High,
                switchboard_pipeline::actions::Priority::Urgent => TaskPriority::Urgent,
            };
            let due = t
                .due_at
                .as_deref()
                .and_then(switchboard_core::clock::parse_rfc3339);
            let task = tasks::insert(
                c,
                &tasks::NewTask {
                    conversation_id: Some(conversation),
                    title: &t.title,
                    assignee: t.assignee.as_deref(),
                    due_at: due,
                    priority,
                    created_by: "pipeline",
                },
                now,
            )?;
            c.execute(
                "UPDATE tasks SET action_id = ?2 WHERE id = ?1",
                params![task.0, id.0],
            )?;
            json!({"task_id": task})
        }
        Action::ScheduleFollowup(f) => {
            let due = switchboard_core::clock::parse_rfc3339(&f.at).unwrap_or(now);
            c.execute(
                "INSERT INTO followups (conversation_id, action_id, due_at, note, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![conversation.0, id.0, due, f.note, now],
            )?;
            json!({"followup_at": f.at})
        }
        Action::SetSessionVariable(v) => {
            runs::set_session_variable(c, conversation, &v.key, &v.value, "pipeline", now)?;
            json!({"set": v.key})
        }
        Action::UpdateContact(u) => {
            let contact = conversations::contact_id(c, conversation)?;
            if let Some(name) = &u.name {
                c.execute(
                    "UPDATE contacts SET name = ?2, updated_at = ?3 WHERE id = ?1",
                    params![contact.0, name, now],
                )?;
            }
            for field in &u.fields {
                c.execute(
                    "UPDATE contacts SET profile = json_set(profile, '$.' || ?2, ?3), updated_at = ?4 WHERE id = ?1",
                    params![contact.0, field.key, field.value, now],
                )?;
            }
            json!({"updated": u.fields.len() + usize::from(u.name.is_some())})
        }
        Action::CloseConversation(_) => {
            conversations::set_state(c, conversation, ConversationState::Closed, now)?;
            json!({"closed": true})
        }
        // Reaching the customer or an outside system needs the executor; a policy that lets
        // them run automatically hands them over as approved.
        Action::Reply(_) | Action::SendTemplate(_) | Action::Custom { .. } => {
            c.execute("UPDATE actions SET state = 'approved', decided_by = 'policy', decided_at = ?2 WHERE id = ?1", params![id.0, now])?;
            return Ok(ActionState::Approved);
        }
    };
    c.execute(
        "UPDATE actions SET state = 'executed', result = ?2, executed_at = ?3 WHERE id = ?1",
        params![id.0, result.to_string(), now],
    )?;
    audit::append(
        c,
        &system_event(
            "action.executed",
            conversation,
            Some(run_id),
            Some(id),
            json!({"action": action.kind(), "result": result}),
        ),
        now,
    )?;
    Ok(ActionState::Executed)
}
