//! A run's record, and replaying its stored context against another model.
//!
//! A replay sends the run's snapshot exactly (the same system prompt and messages, in the
//! same order) to a provider of the chain, with the current answer schema, and validates
//! the answer against the situation of the original run (its time and the 24-hour window
//! then). The answer is returned, never executed; the conversation does not change. The
//! replay is audited (`run.replayed`) with the raw output, so comparisons between models
//! stay on the record.

use crate::{Actor, Engine, EngineError};
use serde::Serialize;
use serde_json::json;
use switchboard_core::ids::RunId;
use switchboard_llm::{ChatRequest, DeltaSink, Message, Provider, StructuredOutput};
use switchboard_pipeline::context::SentMessage;
use switchboard_pipeline::recovery::RecoveryPolicy;
use switchboard_pipeline::validate::ValidationContext;
use switchboard_store::model::ActorKind;
use switchboard_store::queries::audit::{self, NewAuditEvent};
use switchboard_store::queries::runs::{self, RunDetail};
use switchboard_store::rusqlite::params;

const WINDOW_MS: i64 = 24 * 60 * 60 * 1000;

/// What a replay produced.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Replay {
    pub run_id: RunId,
    pub provider: String,
    pub model: String,
    /// The snapshot's content hash: the replay saw exactly this context.
    pub context_hash: String,
    /// The answer schema version the run was made with, and the current one used now.
    pub schema_version_then: u32,
    pub schema_version_now: u32,
    pub raw_output: Option<String>,
    /// The validated answer in wire form (`{actions, reasoning, confidence}`), when valid.
    pub answer: Option<serde_json::Value>,
    pub validation_errors: Vec<String>,
    /// Why the provider gave no answer (timeout, refusal, ...).
    pub error: Option<String>,
    pub tokens_in: Option<u32>,
    pub tokens_out: Option<u32>,
    pub cost: Option<f64>,
    pub latency_ms: u64,
}

impl Engine {
    /// A run with its attempts, context snapshot (four layers, token counts, versions) and
    /// the actions it proposed with the policy's decisions.
    pub async fn run_detail(&self, id: RunId) -> Result<RunDetail, EngineError> {
        Ok(self.store().read(move |c| runs::run_detail(c, id)).await?)
    }

    /// Sends run `id`'s stored context to `provider_name` (a name from the model chain) and
    /// returns its validated answer. Nothing is executed.
    pub async fn replay_run(
        &self,
        actor: &Actor,
        id: RunId,
        provider_name: &str,
    ) -> Result<Replay, EngineError> {
        let chain: Vec<std::sync::Arc<dyn Provider>> = self.providers();
        let Some(provider) = chain
            .iter()
            .find(|p| p.config().name == provider_name)
            .cloned()
        else {
            let names: Vec<String> = chain.iter().map(|p| p.config().name.clone()).collect();
            return Err(EngineError::Invalid(format!(
                "no provider named {provider_name:?} in the model chain; it has: {}",
                if names.is_empty() {
                    "none".to_string()
                } else {
                    names.join(", ")
                }
            )));
        };
        let (detail, validation) = self
            .store()
            .read(move |c| {
                let detail = runs::run_detail(c, id)?;
                // The window as it was when the run started.
                let last_inbound: Option<i64> = c.query_row(
                    "SELECT max(created_at) FROM messages WHERE conversation_id = ?1 AND direction = 'inbound' AND created_at <= ?2",
                    params![detail.run.conversation_id.0, detail.run.started_at],
                    |r| r.get(0),
                )?;
                let then = detail.run.started_at;
                let validation = ValidationContext {
                    now: chrono::DateTime::from_timestamp_millis(then).unwrap_or_default(),
                    window_closes_at: last_inbound
                        .map(|t| t + WINDOW_MS)
                        .filter(|t| *t > then)
                        .and_then(chrono::DateTime::from_timestamp_millis),
                    templates: runs::templates(c)?,
                    assignees: runs::operator_names(c)?,
                };
                Ok((detail, validation))
            })
            .await?;
        let Some(snapshot) = detail.snapshot else {
            return Err(EngineError::Conflict(format!(
                "run {} has no stored context yet (state {}): only a finished run can be replayed",
                id.0, detail.run.state
            )));
        };
        let messages: Vec<SentMessage> = serde_json::from_value(snapshot.messages.clone())
            .map_err(|e| EngineError::Internal(format!("stored snapshot unreadable: {e}")))?;
        let request = replay_request(&messages, self.pipeline().validator.schema().clone());

        let started = std::time::Instant::now();
        let result = provider
            .stream(
                request,
                DeltaSink::new(|_| {}),
                self.pipeline().shutdown_token().child_token(),
            )
            .await;
        let mut replay = Replay {
            run_id: id,
            provider: provider.config().name.clone(),
            model: provider.config().model.clone(),
            context_hash: snapshot.hash.clone(),
            schema_version_then: snapshot.schema_version,
            schema_version_now: switchboard_pipeline::actions::SCHEMA_VERSION,
            raw_output: None,
            answer: None,
            validation_errors: Vec::new(),
            error: None,
            tokens_in: None,
            tokens_out: None,
            cost: None,
            latency_ms: started.elapsed().as_millis() as u64,
        };
        match result {
            Err(e) => replay.error = Some(e.to_string()),
            Ok(completion) => {
                replay.model = completion.model.clone();
                replay.tokens_in = Some(completion.usage.input_tokens);
                replay.tokens_out = Some(completion.usage.output_tokens);
                replay.cost = completion.cost;
                replay.latency_ms = completion.total_time.as_millis() as u64;
                let raw = completion
                    .structured_json()
                    .map(str::to_owned)
                    .unwrap_or_else(|| completion.text.clone());
                match self.pipeline().validator.check(&raw, &validation) {
                    Ok(answer) => {
                        replay.answer = Some(json!({
                            "actions": answer.actions.iter().map(|a| a.to_wire()).collect::<Vec<_>>(),
                            "reasoning": answer.reasoning,
                            "confidence": answer.confidence,
                        }))
                    }
                    Err(errors) => {
                        replay.validation_errors = errors.iter().map(ToString::to_string).collect()
                    }
                }
                replay.raw_output = Some(raw);
            }
        }

        let label = actor.label();
        let conversation = detail.run.conversation_id;
        let now = self.now_ms();
        let record = replay.clone();
        self.store()
            .write(move |c| {
                audit::append(
                    c,
                    &NewAuditEvent {
                        actor_kind: ActorKind::Operator,
                        actor: &label,
                        kind: "run.replayed",
                        conversation_id: Some(conversation),
                        run_id: Some(id),
                        action_id: None,
                        detail: serde_json::to_value(&record)?,
                    },
                    now,
                )?;
                Ok(())
            })
            .await?;
        Ok(replay)
    }
}

/// The stored messages as a request: the system message as the system prompt, the others
/// in order; schema and limits as in a run.
fn replay_request(messages: &[SentMessage], schema: serde_json::Value) -> ChatRequest {
    let system = messages
        .iter()
        .find(|m| m.role == "system")
        .map(|m| m.content.clone());
    let rest = messages
        .iter()
        .filter(|m| m.role != "system")
        .map(|m| {
            if m.role == "assistant" {
                Message::assistant(m.content.clone())
            } else {
                Message::user(m.content.clone())
            }
        })
        .collect();
    ChatRequest {
        system,
        messages: rest,
        max_tokens: RecoveryPolicy::default().max_output_tokens,
        temperature: Some(0.2),
        structured: Some(StructuredOutput {
            name: "actions".into(),
            description: Some("The actions to take for this customer request.".into()),
            schema,
        }),
    }
}
