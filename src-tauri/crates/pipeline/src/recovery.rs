//! Three tiers of recovery, so every request ends in valid actions or a human.
//!
//! 1. Invalid output: retry with the validation errors added to the conversation, asking for
//!    a corrected answer (up to `max_corrective_retries`).
//! 2. Still failing, or the provider keeps failing (timeouts, 5xx, rate limits after a short
//!    backoff): the next model of the fallback chain, from the original context.
//! 3. Still failing: escalate to a human, with every attempt's raw output and error.
//!
//! Every attempt is returned, so the engine can store and audit each transition.

use crate::context::ContextSnapshot;
use crate::validate::{AnswerValidator, ValidationContext, ValidationError};
use crate::ModelAnswer;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;
use switchboard_llm::{
    CancellationToken, ChatRequest, DeltaSink, LlmError, Message, Provider, StructuredOutput,
};

#[derive(Clone, Debug)]
pub struct RecoveryPolicy {
    pub max_corrective_retries: u32,
    /// Retries of one provider on retryable errors before moving down the chain.
    pub provider_retries: u32,
    /// Longest wait honoured from a Retry-After before moving on instead.
    pub max_backoff: Duration,
    pub max_output_tokens: u32,
}

impl Default for RecoveryPolicy {
    fn default() -> Self {
        Self {
            max_corrective_retries: 2,
            provider_retries: 1,
            max_backoff: Duration::from_secs(5),
            max_output_tokens: 700,
        }
    }
}

/// One call to a model within a run.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Attempt {
    pub number: u32,
    /// 0 first try, 1 corrective retry, 2 fallback model.
    pub tier: u8,
    pub provider: String,
    pub model: String,
    pub raw_output: Option<String>,
    pub validation_errors: Vec<ValidationError>,
    pub error: Option<String>,
    pub tokens_in: Option<u32>,
    pub tokens_out: Option<u32>,
    pub tokens_estimated: bool,
    pub cost: Option<f64>,
    pub ttft_ms: Option<u64>,
    pub latency_ms: u64,
}

#[derive(Clone, Debug)]
pub enum RunOutcome {
    /// Valid actions, and the tier that produced them.
    Answer {
        answer: ModelAnswer,
        tier: u8,
        provider: String,
        model: String,
    },
    /// Tier 3: no model produced a valid answer.
    Escalate {
        reason: String,
    },
    Cancelled,
}

/// Opens the live stream of one attempt; the engine connects it to the operators' view.
pub trait AttemptObserver: Send {
    fn attempt_started(&mut self, number: u32, tier: u8, provider: &str) -> DeltaSink;
}

/// Runs the tiers over the provider chain (primary first).
pub async fn run(
    chain: &[Arc<dyn Provider>],
    snapshot: &ContextSnapshot,
    validator: &AnswerValidator,
    validation: &ValidationContext,
    policy: &RecoveryPolicy,
    observer: &mut dyn AttemptObserver,
    cancel: &CancellationToken,
) -> (RunOutcome, Vec<Attempt>) {
    let mut attempts = Vec::new();
    if chain.is_empty() {
        return (
            RunOutcome::Escalate {
                reason: "No language model is available: add a provider in Settings, or fetch the offline model (scripts/fetch-model).".into(),
            },
            attempts,
        );
    }
    let mut last_problem = String::new();
    for (index, provider) in chain.iter().enumerate() {
        let mut messages = base_messages(snapshot);
        let mut corrective = 0u32;
        let mut provider_failures = 0u32;
        loop {
            if cancel.is_cancelled() {
                return (RunOutcome::Cancelled, attempts);
            }
            let tier = if index > 0 {
                2
            } else if corrective > 0 {
                1
            } else {
                0
            };
            let number = attempts.len() as u32 + 1;
            let sink = observer.attempt_started(number, tier, &provider.config().name);
            let request = ChatRequest {
                system: Some(snapshot.system_prompt().to_string()),
                messages: messages.clone(),
                max_tokens: policy.max_output_tokens,
                temperature: Some(0.2),
                structured: Some(StructuredOutput {
                    name: "actions".into(),
                    description: Some("The actions to take for this customer request.".into()),
                    schema: validator.schema().clone(),
                }),
            };
            let started = std::time::Instant::now();
            let result = provider.stream(request, sink, cancel.clone()).await;
            let mut attempt = Attempt {
                number,
                tier,
                provider: provider.config().name.clone(),
                model: provider.config().model.clone(),
                raw_output: None,
                validation_errors: Vec::new(),
                error: None,
                tokens_in: None,
                tokens_out: None,
                tokens_estimated: false,
                cost: None,
                ttft_ms: None,
                latency_ms: started.elapsed().as_millis() as u64,
            };
            match result {
                Err(LlmError::Cancelled) => {
                    attempt.error = Some("cancelled".into());
                    attempts.push(attempt);
                    return (RunOutcome::Cancelled, attempts);
                }
                Err(e) => {
                    attempt.error = Some(e.to_string());
                    last_problem = format!("{}: {e}", provider.config().name);
                    attempts.push(attempt);
                    if e.is_retryable() && provider_failures < policy.provider_retries {
                        provider_failures += 1;
                        let wait = e.retry_after().unwrap_or(Duration::from_millis(500));
                        if wait <= policy.max_backoff {
                            tokio::time::sleep(wait).await;
                            continue;
                        }
                    }
                    break; // Tier 2: the next model.
                }
                Ok(completion) => {
                    attempt.model = completion.model.clone();
                    attempt.tokens_in = Some(completion.usage.input_tokens);
                    attempt.tokens_out = Some(completion.usage.output_tokens);
                    attempt.tokens_estimated = completion.usage.estimated;
                    attempt.cost = completion.cost;
                    attempt.ttft_ms = completion.time_to_first_token.map(|d| d.as_millis() as u64);
                    attempt.latency_ms = completion.total_time.as_millis() as u64;
                    let raw = completion
                        .structured_json()
                        .map(str::to_owned)
                        .unwrap_or_else(|| completion.text.clone());
                    attempt.raw_output = Some(raw.clone());
                    match validator.check(&raw, validation) {
                        Ok(answer) => {
                            let model = attempt.model.clone();
                            attempts.push(attempt);
                            return (
                                RunOutcome::Answer {
                                    answer,
                                    tier,
                                    provider: provider.config().name.clone(),
                                    model,
                                },
                                attempts,
                            );
                        }
                        Err(errors) => {
                            last_problem = format!(
                                "{} gave an invalid answer: {}",
                                provider.config().name,
                                errors
                                    .iter()
                                    .map(ToString::to_string)
                                    .collect::<Vec<_>>()
                                    .join("; ")
                            );
                            attempt.validation_errors = errors.clone();
                            attempts.push(attempt);
                            if corrective >= policy.max_corrective_retries {
                                break;
                            }
                            corrective += 1;
                            messages.push(Message::assistant(truncate(&raw, 4000)));
                            messages.push(Message::user(corrective_note(&errors)));
                        }
                    }
                }
            }
        }
    }
    (
        RunOutcome::Escalate {
            reason: format!(
                "No model produced a valid answer after {} attempt(s). Last problem: {last_problem}",
                attempts.len()
            ),
        },
        attempts,
    )
}

fn base_messages(snapshot: &ContextSnapshot) -> Vec<Message> {
    snapshot
        .messages
        .iter()
        .filter(|m| m.role != "system")
        .map(|m| {
            if m.role == "assistant" {
                Message::assistant(m.content.clone())
            } else {
                Message::user(m.content.clone())
            }
        })
        .collect()
}

/// The tier-1 message: what was wrong, for the model to fix.
pub fn corrective_note(errors: &[ValidationError]) -> String {
    let list: Vec<String> = errors.iter().take(20).map(|e| format!("- {e}")).collect();
    format!(
        "Your answer could not be used:\n{}\nAnswer again with one corrected JSON object that follows the schema.",
        list.join("\n")
    )
}

fn truncate(text: &str, max_chars: usize) -> String {
    text.chars().take(max_chars).collect()
}
