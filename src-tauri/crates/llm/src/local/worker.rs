//! The inference threads: each owns a llama context, takes jobs from a bounded queue and
//! streams tokens back through a channel. Nothing here runs on tokio's threads.

use std::num::NonZeroU32;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, PoisonError};

use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::{LlamaChatMessage, LlamaChatTemplate};
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::data::LlamaTokenData;
use llama_cpp_2::token::data_array::LlamaTokenDataArray;
use llama_cpp_2::token::LlamaToken;
use llama_cpp_2::DecodeError;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::grammar::{grammar_for, GrammarLimits};
use super::{Finished, LoadedModel, LocalConfig};
use crate::error::LlmError;
use crate::provider::{FinishReason, Message, Role};

/// Prompt tokens evaluated per `llama_decode` call. Also the granularity at which a long
/// prompt notices cancellation: about 0.4 s on two cores for the 135M model (~300 prompt
/// tokens/s). 512 measured only ~7% faster on a 517-token prompt, within noise, and
/// costs 11 MiB more compute buffer.
const PROMPT_CHUNK: usize = 128;
/// DRY sampler settings: llama.cpp's recommended strength, penalising repeats of more
/// than two tokens within the last 256 generated ones.
const DRY_MULTIPLIER: f32 = 0.8;
const DRY_BASE: f32 = 1.75;
const DRY_ALLOWED_LENGTH: i32 = 2;
const DRY_LAST_N: i32 = 256;
/// Jobs waiting per worker before `submit` makes callers wait.
const QUEUE_PER_WORKER: usize = 4;
/// `llama_new_context_with_model` may write to the shared model (see `llama-cpp-2`'s
/// `LlamaModel::new_context`), so contexts are created one at a time process-wide.
static CONTEXT_CREATION: Mutex<()> = Mutex::new(());

/// One generation, as the async side hands it over.
pub(crate) struct Job {
    /// The system prompt, already including the schema sketch for structured requests.
    pub(crate) system: Option<String>,
    pub(crate) messages: Vec<Message>,
    /// Sample under the grammar of this JSON Schema, narrowed by `limits`.
    pub(crate) schema: Option<Value>,
    pub(crate) limits: GrammarLimits,
    pub(crate) max_tokens: u32,
    pub(crate) temperature: Option<f32>,
    pub(crate) cancel: CancellationToken,
    /// Unbounded: the worker must never block on a slow consumer, and the output is
    /// bounded by `max_tokens` anyway.
    pub(crate) events: mpsc::UnboundedSender<WorkerEvent>,
}

#[derive(Debug)]
pub(crate) enum WorkerEvent {
    /// A chunk of the prompt was evaluated; resets the idle deadline during long prompts.
    Progress,
    /// Generated text, in order, always whole UTF-8 characters.
    Text(String),
    Finished(Finished),
    Failed(LlmError),
}

/// The queue in front of the workers. Dropping it closes the queue: each worker finishes
/// (or, once its caller is gone, abandons) its current job and exits.
pub(crate) struct WorkerPool {
    jobs: mpsc::Sender<Job>,
}

impl WorkerPool {
    /// Starts `local.workers` threads and waits until each has its context, so a context
    /// that cannot be allocated is reported now, not on the first call.
    pub(crate) fn start(
        backend: &'static LlamaBackend,
        model: Arc<LoadedModel>,
        local: &LocalConfig,
    ) -> Result<WorkerPool, LlmError> {
        let (jobs_tx, jobs_rx) = mpsc::channel(local.workers.saturating_mul(QUEUE_PER_WORKER));
        // tokio's receiver has one consumer; the workers take turns holding it. A worker
        // blocks inside `blocking_recv` with the lock held, which is exactly "the next idle
        // worker gets the next job".
        let jobs_rx = Arc::new(Mutex::new(jobs_rx));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        for index in 0..local.workers {
            let worker = WorkerSetup {
                backend,
                model: Arc::clone(&model),
                threads: i32::try_from(local.threads).unwrap_or(1),
                context_tokens: local.context_tokens,
                jobs: Arc::clone(&jobs_rx),
                ready: ready_tx.clone(),
            };
            std::thread::Builder::new()
                .name(format!("llm-local-{index}"))
                .spawn(move || worker.run())
                .map_err(|e| LlmError::Config {
                    detail: format!("could not start a local model worker thread: {e}"),
                })?;
        }
        drop(ready_tx);
        for _ in 0..local.workers {
            match ready_rx.recv() {
                Ok(Ok(())) => {}
                // Dropping `jobs_tx` on return stops the workers that did start.
                Ok(Err(e)) => return Err(e),
                Err(_) => {
                    return Err(LlmError::Config {
                        detail: "a local model worker stopped while starting".into(),
                    })
                }
            }
        }
        Ok(WorkerPool { jobs: jobs_tx })
    }

    /// Queues `job`, waiting (asynchronously) while the queue is full.
    pub(crate) async fn submit(&self, job: Job) -> Result<(), LlmError> {
        self.jobs.send(job).await.map_err(|_| LlmError::Config {
            detail: "the local model's workers have stopped".into(),
        })
    }
}

struct WorkerSetup {
    backend: &'static LlamaBackend,
    model: Arc<LoadedModel>,
    threads: i32,
    context_tokens: u32,
    jobs: Arc<Mutex<mpsc::Receiver<Job>>>,
    ready: std::sync::mpsc::Sender<Result<(), LlmError>>,
}

impl WorkerSetup {
    fn run(self) {
        let model = &self.model;
        let params = LlamaContextParams::default()
            .with_n_ctx(NonZeroU32::new(self.context_tokens))
            .with_n_batch(PROMPT_CHUNK as u32)
            .with_n_ubatch(PROMPT_CHUNK as u32)
            .with_n_threads(self.threads)
            .with_n_threads_batch(self.threads);
        let context = {
            let _one_at_a_time = CONTEXT_CREATION
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            model.model.new_context(self.backend, params)
        };
        let context = match context {
            Ok(context) => context,
            Err(e) => {
                let _ = self.ready.send(Err(LlmError::Config {
                    detail: format!(
                        "local model {}: could not allocate a context of {} tokens ({e}); lower context_length",
                        model.path.display(),
                        self.context_tokens
                    ),
                }));
                return;
            }
        };
        let mut worker = Worker {
            model,
            context,
            cached: Vec::new(),
            template: chat_template(model),
            control_texts: control_token_texts(model),
        };
        let _ = self.ready.send(Ok(()));
        drop(self.ready);
        loop {
            let job = {
                let mut jobs = self.jobs.lock().unwrap_or_else(PoisonError::into_inner);
                jobs.blocking_recv()
            };
            let Some(job) = job else {
                return;
            };
            if job.cancel.is_cancelled() {
                // The caller gave up while the job was queued.
                continue;
            }
            // A panic in the bindings must not take the worker (and every later call) down
            // with it; the context's state is unknown afterwards, so the cache is dropped.
            let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| worker.generate(&job)))
                .unwrap_or_else(|_| {
                    tracing::error!("local model worker panicked during generation");
                    Err(LlmError::MalformedStream {
                        detail: "the local model failed during generation".into(),
                    })
                });
            let event = match outcome {
                Ok(done) => WorkerEvent::Finished(done),
                Err(e) => {
                    // `cached` only grows after a successful decode, so it still matches
                    // the KV cache after a cancellation or a refused request; after a
                    // failed decode or a panic the KV cache's state is unknown.
                    if matches!(e, LlmError::MalformedStream { .. }) {
                        worker.forget_cache();
                    }
                    WorkerEvent::Failed(e)
                }
            };
            // The caller may be gone (cancelled, timed out); nothing else to do then.
            let _ = job.events.send(event);
        }
    }
}

struct Worker<'m> {
    model: &'m LoadedModel,
    context: LlamaContext<'m>,
    /// The tokens whose keys and values are in the context's KV cache, in order.
    cached: Vec<LlamaToken>,
    template: Option<LlamaChatTemplate>,
    /// Texts of control tokens (`<|im_start|>`…), removed from message contents so that a
    /// customer cannot forge a turn of the chat template.
    control_texts: Vec<String>,
}

/// The model's own chat template, else ChatML (what most small instruct models use).
fn chat_template(model: &LoadedModel) -> Option<LlamaChatTemplate> {
    match model.model.chat_template(None) {
        Ok(template) => Some(template),
        Err(e) => {
            tracing::warn!(path = %model.path.display(), error = %e, "local model has no usable chat template; using ChatML");
            // Only fails on a NUL byte, which the literal has not.
            LlamaChatTemplate::new("chatml").ok()
        }
    }
}

fn control_token_texts(model: &LoadedModel) -> Vec<String> {
    let vocab = model.model.vocab();
    let mut texts: Vec<String> = vocab
        .tokens()
        .filter(|t| vocab.is_control(*t))
        .filter_map(|t| vocab.text(t).map(|s| s.to_string_lossy().into_owned()))
        // Single characters (a stray control byte) are harmless and too common to strip.
        .filter(|s| s.chars().count() > 1)
        .collect();
    // Longest first, so a token that contains another is removed whole.
    texts.sort_by_key(|s| std::cmp::Reverse(s.len()));
    texts.dedup();
    texts
}

impl Worker<'_> {
    fn forget_cache(&mut self) {
        self.cached.clear();
        self.context.clear_kv_cache();
    }

    fn clean(&self, text: &str) -> String {
        // NUL would make the C string conversion fail; control-token texts would be parsed
        // as real control tokens by the tokenizer.
        let mut text = text.replace('\0', "");
        for control in &self.control_texts {
            if text.contains(control.as_str()) {
                text = text.replace(control.as_str(), "");
            }
        }
        text
    }

    fn prompt(&self, job: &Job) -> Result<String, LlmError> {
        let mut chat = Vec::with_capacity(job.messages.len() + 1);
        let message = |role: &str, content: &str| {
            LlamaChatMessage::new(role.to_string(), self.clean(content)).map_err(|e| {
                LlmError::InvalidRequest {
                    message: format!("message cannot be passed to the local model: {e}"),
                }
            })
        };
        if let Some(system) = &job.system {
            chat.push(message("system", system)?);
        }
        for m in &job.messages {
            let role = match m.role {
                Role::User => "user",
                Role::Assistant => "assistant",
            };
            chat.push(message(role, &m.content)?);
        }
        let template = self.template.as_ref().ok_or_else(|| LlmError::Config {
            detail: "the local model has no chat template".into(),
        })?;
        self.model
            .model
            .apply_chat_template(template, &chat, true)
            .map_err(|e| LlmError::InvalidRequest {
                message: format!("the local model's chat template failed: {e}"),
            })
    }

    fn generate(&mut self, job: &Job) -> Result<Finished, LlmError> {
        let prompt = self.prompt(job)?;
        let vocab = self.model.model.vocab();
        let tokens = vocab.tokenize(prompt.as_bytes(), true, true);
        let n_ctx = self.context.n_ctx() as usize;
        if tokens.is_empty() {
            return Err(LlmError::InvalidRequest {
                message: "the prompt is empty".into(),
            });
        }
        // At least one token of room is needed to generate anything.
        if tokens.len() >= n_ctx {
            return Err(LlmError::ContextTooLong);
        }
        let max_new = (job.max_tokens as usize).min(n_ctx - tokens.len());
        if max_new == 0 {
            return Err(LlmError::InvalidRequest {
                message: "max_tokens is 0".into(),
            });
        }
        let mut sampler = self.sampler(job)?;

        let (reused, mut logits_index) = self.evaluate_prompt(&tokens, job)?;

        let mut batch = LlamaBatch::new(1, 1);
        let mut text = Utf8Stream::default();
        let mut piece = Vec::new();
        let mut output_tokens = 0u32;
        let mut finish = FinishReason::Length;
        for step in 0..max_new {
            if job.cancel.is_cancelled() {
                return Err(LlmError::Cancelled);
            }
            let Some(token) = sampler.sample(&self.context, logits_index) else {
                // The grammar allows nothing, not even end of generation: only a schema
                // that no document satisfies does that.
                return Err(LlmError::InvalidRequest {
                    message: "no output satisfies the JSON Schema's grammar".into(),
                });
            };
            if vocab.is_eog(token) {
                finish = FinishReason::Stop;
                break;
            }
            output_tokens += 1;
            piece.clear();
            vocab.token_to_piece_into(token, &mut piece, false, None);
            let delta = text.push(&piece);
            if !delta.is_empty() && job.events.send(WorkerEvent::Text(delta)).is_err() {
                // The caller's future is gone (dropped without cancelling).
                return Err(LlmError::Cancelled);
            }
            if step + 1 == max_new {
                break;
            }
            let pos = i32::try_from(self.cached.len()).map_err(|_| LlmError::ContextTooLong)?;
            batch.clear();
            batch.add(token, pos, &[0], true).map_err(decode_failed)?;
            self.context.decode(&mut batch).map_err(decode_error)?;
            self.cached.push(token);
            logits_index = 0;
        }
        let rest = text.finish();
        if !rest.is_empty() {
            let _ = job.events.send(WorkerEvent::Text(rest));
        }
        Ok(Finished {
            prompt_tokens: u32::try_from(tokens.len()).unwrap_or(u32::MAX),
            reused_prompt_tokens: u32::try_from(reused).unwrap_or(u32::MAX),
            output_tokens,
            finish,
        })
    }
}

impl Worker<'_> {
    /// Brings the KV cache to `tokens`, evaluating only what follows the prefix it already
    /// holds. Returns how many tokens were reused and the batch index of the last token's
    /// logits.
    fn evaluate_prompt(
        &mut self,
        tokens: &[LlamaToken],
        job: &Job,
    ) -> Result<(usize, i32), LlmError> {
        let common = self
            .cached
            .iter()
            .zip(tokens)
            .take_while(|(a, b)| a == b)
            .count();
        // The last prompt token is always evaluated again: its logits are what the first
        // sample needs, and they are not kept for cached tokens.
        let mut keep = common.min(tokens.len() - 1);
        if keep < self.cached.len() {
            let removed = u32::try_from(keep).ok().and_then(|p0| {
                self.context
                    .clear_kv_cache_seq(Some(0), Some(p0), None)
                    .ok()
            });
            if removed != Some(true) {
                // Some architectures (recurrent ones) cannot drop a suffix; start over.
                self.context.clear_kv_cache();
                keep = 0;
            }
            self.cached.truncate(keep);
        }
        // llama.cpp caps n_batch at the context size and aborts the process (not an
        // error) on a batch larger than n_batch, so never send more than it reports.
        let chunk_size = PROMPT_CHUNK.min(self.context.n_batch() as usize).max(1);
        let mut batch = LlamaBatch::new(chunk_size, 1);
        let mut logits_index = 0;
        let rest = &tokens[keep..];
        for chunk in rest.chunks(chunk_size) {
            if job.cancel.is_cancelled() {
                return Err(LlmError::Cancelled);
            }
            batch.clear();
            let is_last_chunk = self.cached.len() + chunk.len() == tokens.len();
            for (i, token) in chunk.iter().enumerate() {
                let pos =
                    i32::try_from(self.cached.len() + i).map_err(|_| LlmError::ContextTooLong)?;
                let wants_logits = is_last_chunk && i + 1 == chunk.len();
                batch
                    .add(*token, pos, &[0], wants_logits)
                    .map_err(decode_failed)?;
            }
            self.context.decode(&mut batch).map_err(decode_error)?;
            self.cached.extend_from_slice(chunk);
            logits_index = batch.n_tokens() - 1;
            let _ = job.events.send(WorkerEvent::Progress);
        }
        Ok((keep, logits_index))
    }

    fn sampler(&self, job: &Job) -> Result<Sampler, LlmError> {
        // DRY ("don't repeat yourself") penalises extending a token sequence that already
        // occurred in the output: a small model decoding greedily otherwise loops ("I'm
        // glad to have you here. I'm glad to have you here…"). Its sequence breakers
        // (newline, `:`, `"`, `*`) keep JSON punctuation, which must repeat, unpenalised.
        let dry = LlamaSampler::dry(
            &self.model.model,
            DRY_MULTIPLIER,
            DRY_BASE,
            DRY_ALLOWED_LENGTH,
            DRY_LAST_N,
            ["\n", ":", "\"", "*"],
        );
        let pick = match job.temperature {
            // Deterministic by default: for choosing actions the most likely answer is the
            // best one, and the same conversation should get the same proposal.
            Some(t) if t.is_finite() && t > 0.0 => LlamaSampler::chain_simple([
                dry,
                LlamaSampler::min_p(0.05, 1),
                LlamaSampler::temp(t),
                LlamaSampler::dist(rand_seed()),
            ]),
            _ => LlamaSampler::chain_simple([dry, LlamaSampler::greedy()]),
        };
        let Some(schema) = &job.schema else {
            return Ok(Sampler::Free(pick));
        };
        let gbnf = grammar_for(schema, job.limits)?;
        let grammar = LlamaSampler::grammar(&self.model.model, &gbnf, "root").map_err(|e| {
            LlmError::InvalidRequest {
                message: format!("the schema's grammar was rejected by llama.cpp: {e}"),
            }
        })?;
        Ok(Sampler::Constrained { grammar, pick })
    }
}

/// How the next token is chosen.
enum Sampler {
    Free(LlamaSampler),
    /// `pick` chooses among the tokens `grammar` allows.
    Constrained {
        grammar: LlamaSampler,
        pick: LlamaSampler,
    },
}

impl Sampler {
    /// Chooses the next token from the logits at `index` and advances the samplers' state.
    fn sample(&mut self, context: &LlamaContext<'_>, index: i32) -> Option<LlamaToken> {
        match self {
            Sampler::Free(pick) => Some(pick.sample(context, index)),
            Sampler::Constrained { grammar, pick } => {
                // Checking one token against the grammar is cheap; masking the whole
                // vocabulary (49k tokens for SmolLM2) with it is most of the cost of a
                // constrained token. So pick freely first and only mask when the grammar
                // rejects the pick, as llama.cpp's own `common_sampler` does. The result is
                // the same token either way for greedy picking.
                let mut candidates = context.token_data_array_ith(index);
                candidates.apply_sampler(pick);
                let token = candidates
                    .selected_token()
                    .filter(|t| grammar_allows(grammar, *t))
                    .or_else(|| {
                        let mut candidates = context.token_data_array_ith(index);
                        candidates.apply_sampler(grammar);
                        candidates.apply_sampler(pick);
                        candidates.selected_token()
                    })?;
                grammar.accept(token);
                pick.accept(token);
                Some(token)
            }
        }
    }
}

fn grammar_allows(grammar: &mut LlamaSampler, token: LlamaToken) -> bool {
    let mut single = LlamaTokenDataArray::new(vec![LlamaTokenData::new(token, 1.0, 0.0)], false);
    single.apply_sampler(grammar);
    single
        .data
        .first()
        .is_some_and(|d| d.logit() != f32::NEG_INFINITY)
}

/// A seed that differs between calls without pulling in a random number crate.
fn rand_seed() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    hasher.finish() as u32
}

fn decode_error(e: DecodeError) -> LlmError {
    match e {
        DecodeError::NoKvCacheSlot => LlmError::ContextTooLong,
        other => decode_failed(other),
    }
}

fn decode_failed(e: impl std::fmt::Display) -> LlmError {
    LlmError::MalformedStream {
        detail: format!("the local model failed to evaluate tokens: {e}"),
    }
}

/// Turns token pieces (arbitrary bytes: a token may end in the middle of a multi-byte
/// character) into whole-character text.
#[derive(Debug, Default)]
pub(crate) struct Utf8Stream {
    pending: Vec<u8>,
}

impl Utf8Stream {
    /// Appends `bytes` and returns the text that is now complete. An incomplete character
    /// at the end waits for the next piece; invalid bytes become U+FFFD.
    pub(crate) fn push(&mut self, bytes: &[u8]) -> String {
        self.pending.extend_from_slice(bytes);
        let mut out = String::new();
        loop {
            match std::str::from_utf8(&self.pending) {
                Ok(text) => {
                    out.push_str(text);
                    self.pending.clear();
                    return out;
                }
                Err(e) => {
                    let valid = e.valid_up_to();
                    out.push_str(&String::from_utf8_lossy(&self.pending[..valid]));
                    match e.error_len() {
                        // Truncated character at the end: keep it for the next piece.
                        None => {
                            self.pending.drain(..valid);
                            return out;
                        }
                        Some(len) => {
                            out.push(char::REPLACEMENT_CHARACTER);
                            self.pending.drain(..valid + len);
                        }
                    }
                }
            }
        }
    }

    /// Whatever is left at the end of generation (a character the model never finished).
    pub(crate) fn finish(&mut self) -> String {
        let rest = String::from_utf8_lossy(&self.pending).into_owned();
        self.pending.clear();
        rest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_split_across_pieces() {
        let mut s = Utf8Stream::default();
        let bytes = "¿Qué tal? 🎉".as_bytes();
        let mut out = String::new();
        for b in bytes {
            out.push_str(&s.push(std::slice::from_ref(b)));
        }
        out.push_str(&s.finish());
        assert_eq!(out, "¿Qué tal? 🎉");

        let mut s = Utf8Stream::default();
        assert_eq!(s.push(&[0xF0, 0x9F]), "");
        assert_eq!(s.push(&[0x8E, 0x89, b'!']), "🎉!");
    }

    #[test]
    fn utf8_invalid_bytes_are_replaced_not_fatal() {
        let mut s = Utf8Stream::default();
        assert_eq!(s.push(&[b'a', 0xFF, b'b']), "a\u{FFFD}b");
        assert_eq!(s.push(&[0xE2, 0x82]), "");
        assert_eq!(s.finish(), "\u{FFFD}");
        assert_eq!(s.finish(), "");
    }
}
