//! The embedded local model: a GGUF file run in-process by llama.cpp (`llama-cpp-2`).
//!
//! - The model is loaded once per file and shared (`Arc`) by every provider that names it;
//!   the llama backend is initialised once per process.
//! - Inference runs on a small pool of dedicated OS threads, never on tokio's: a call sends
//!   a job through a bounded queue and awaits its tokens through a channel, so a busy model
//!   cannot stall the async runtime (timers, HTTP, the UI bridge keep running).
//! - Each worker keeps its own llama context, and with it the KV cache of the previous
//!   prompt: a new prompt that starts the same way (same system prompt, same schema sketch,
//!   a conversation that grew by one message) only evaluates the tokens after the shared
//!   prefix. Prompt evaluation is most of a small CPU model's latency.
//! - Structured requests are sampled under a GBNF grammar converted from the JSON Schema
//!   (cached per schema), so every finished answer parses and has the schema's shape.
//!
//! Configuration: `kind = "local"`, `model` = the GGUF path, or a bare file name looked up
//! in [`default_models_dir`]. `capabilities.context_length` is the context to allocate.

mod grammar;
mod worker;

pub use grammar::GrammarLimits;

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, Weak};

use futures_util::future::BoxFuture;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::LlamaModel;
use tokio::sync::mpsc;
use tokio::time::{timeout_at, Instant};
use tokio_util::sync::CancellationToken;

use crate::error::LlmError;
use crate::provider::{
    ChatRequest, Completion, DeltaSink, FinishReason, Provider, ProviderConfig, StreamEvent, Usage,
};
use crate::structured::{self, StructuredMode};
use crate::wire::Deadlines;

use worker::{Job, WorkerEvent, WorkerPool};

/// The default model's file name, as `scripts/fetch-model` installs it.
pub const DEFAULT_MODEL_FILE: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";
/// Overrides [`default_models_dir`] (the fetch script honours it too).
pub const MODELS_DIR_ENV: &str = "SWITCHBOARD_MODELS_DIR";

/// Where model files live: `$SWITCHBOARD_MODELS_DIR`, else the app's data directory plus
/// `models/` (on Linux `~/.local/share/switchboard/models`). `None` only when the system
/// has no home directory.
pub fn default_models_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os(MODELS_DIR_ENV).filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    // The same qualifier/organisation/application as `switchboard_core::Config::data_dir`.
    directories::ProjectDirs::from("dev", "switchboard", "switchboard")
        .map(|d| d.data_dir().join("models"))
}

/// Where the default model is expected (see [`default_models_dir`]).
pub fn default_model_path() -> Option<PathBuf> {
    default_models_dir().map(|d| d.join(DEFAULT_MODEL_FILE))
}

/// The file a provider's `model` names: a path (absolute, or with a directory part) is
/// used as is; a bare file name is looked up in [`default_models_dir`]; an empty name
/// means the default model.
pub fn resolve_model_path(model: &str) -> PathBuf {
    let model = model.trim();
    let name = if model.is_empty() {
        DEFAULT_MODEL_FILE
    } else {
        model
    };
    let path = Path::new(name);
    if path.is_absolute() || path.components().count() > 1 {
        return path.to_path_buf();
    }
    match default_models_dir() {
        Some(dir) => dir.join(path),
        None => path.to_path_buf(),
    }
}

/// The GBNF grammar the local provider samples structured answers under, for a JSON
/// Schema. Cached per schema for the life of the process. Exposed for diagnostics and
/// benchmarks; [`LocalProvider`] calls it itself.
pub fn grammar_for_schema(
    schema: &serde_json::Value,
    limits: GrammarLimits,
) -> Result<Arc<str>, LlmError> {
    grammar::grammar_for(schema, limits)
}

/// How a [`LocalProvider`] runs its model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalConfig {
    /// The GGUF file.
    pub model_path: PathBuf,
    /// CPU threads each worker's llama.cpp uses for decoding.
    pub threads: u32,
    /// Context allocated per worker, in tokens (prompt + answer). Memory for the KV cache
    /// grows linearly with it.
    pub context_tokens: u32,
    /// Hard cap on generated tokens per call, whatever the request asks.
    pub max_output_tokens: u32,
    /// Concurrent generations. Each has its own context; on a small machine one worker
    /// using every core beats two sharing them.
    pub workers: usize,
    /// How structured answers' grammar narrows the caller's schema. The default suits
    /// the default 135M model; use [`GrammarLimits::NONE`] for a model of 1B+ parameters.
    pub grammar_limits: GrammarLimits,
}

impl LocalConfig {
    /// Defaults: every core for one worker, 4096 tokens of context, 512 output tokens.
    pub fn new(model_path: impl Into<PathBuf>) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        LocalConfig {
            model_path: model_path.into(),
            threads: u32::try_from(cores).unwrap_or(1).clamp(1, 64),
            context_tokens: 4_096,
            max_output_tokens: 512,
            workers: 1,
            grammar_limits: GrammarLimits::default(),
        }
    }

    /// The local settings a generic provider config implies: the model path from `model`
    /// (see [`resolve_model_path`]) and the context from `capabilities.context_length`.
    pub fn from_provider(config: &ProviderConfig) -> Self {
        let mut local = LocalConfig::new(resolve_model_path(&config.model));
        if config.capabilities.context_length > 0 {
            local.context_tokens = config.capabilities.context_length;
        }
        local
    }

    fn validate(&self) -> Result<(), LlmError> {
        let bad = |detail: String| Err(LlmError::Config { detail });
        if self.workers == 0 || self.workers > 64 {
            return bad(format!(
                "local model: workers must be 1 to 64, not {}",
                self.workers
            ));
        }
        if self.threads == 0 || self.threads > 1024 {
            return bad(format!(
                "local model: threads must be 1 to 1024, not {}",
                self.threads
            ));
        }
        if self.context_tokens < 64 {
            return bad(format!(
                "local model: context_tokens must be at least 64, not {}",
                self.context_tokens
            ));
        }
        if self.max_output_tokens == 0 {
            return bad("local model: max_output_tokens must be at least 1".into());
        }
        Ok(())
    }
}

/// The process's llama backend. llama.cpp wants `llama_backend_init` once per process;
/// `LlamaBackend::init` fails on a second call, so it lives here for good.
fn backend() -> Result<&'static LlamaBackend, LlmError> {
    static BACKEND: OnceLock<Result<LlamaBackend, String>> = OnceLock::new();
    BACKEND
        .get_or_init(|| {
            // llama.cpp logs every tensor at load time on stderr; through tracing it
            // lands wherever the app's logs go, at debug level for most of it.
            llama_cpp_2::send_logs_to_tracing(llama_cpp_2::LogOptions::default());
            LlamaBackend::init().map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| LlmError::Config {
            detail: format!("could not initialise llama.cpp: {e}"),
        })
}

/// A loaded model, shared by every provider and worker that uses the file.
pub(crate) struct LoadedModel {
    pub(crate) model: LlamaModel,
    pub(crate) path: PathBuf,
    /// The model's own name from its metadata, for [`Completion::model`].
    pub(crate) name: String,
}

impl fmt::Debug for LoadedModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoadedModel")
            .field("path", &self.path)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// GGUF files start with these four bytes.
const GGUF_MAGIC: &[u8; 4] = b"GGUF";

fn missing_model_error(path: &Path) -> LlmError {
    let is_default = path.file_name().and_then(|n| n.to_str()) == Some(DEFAULT_MODEL_FILE);
    let hint = if is_default {
        "run scripts/fetch-model to download it (or set the provider's model to another GGUF file)"
    } else {
        "set the provider's model to an existing GGUF file, or run scripts/fetch-model for the default one"
    };
    LlmError::Config {
        detail: format!("local model file {} not found: {hint}", path.display()),
    }
}

/// Checks what llama.cpp would otherwise report as a bare null pointer (or, for a missing
/// file, a debug assertion in `llama-cpp-2`): the file exists, is readable and is GGUF.
fn check_model_file(path: &Path) -> Result<(), LlmError> {
    use std::io::Read;
    let mut file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(missing_model_error(path))
        }
        Err(e) => {
            return Err(LlmError::Config {
                detail: format!("local model file {} cannot be read: {e}", path.display()),
            })
        }
    };
    let mut magic = [0u8; 4];
    if file.read_exact(&mut magic).is_err() || &magic != GGUF_MAGIC {
        return Err(LlmError::Config {
            detail: format!(
                "local model file {} is not a GGUF model (run scripts/fetch-model for the default one)",
                path.display()
            ),
        });
    }
    Ok(())
}

/// The models in memory, keyed by canonical path so `./m.gguf` and `/abs/m.gguf` share one
/// copy; weak, so the memory is released when the last provider using it is dropped.
static LOADED: OnceLock<Mutex<HashMap<PathBuf, Weak<LoadedModel>>>> = OnceLock::new();

/// The files of the models in memory now (canonical paths). A model leaves when the last
/// provider using it is dropped and its workers have finished their current job.
pub fn loaded_model_paths() -> Vec<PathBuf> {
    let Some(loaded) = LOADED.get() else {
        return Vec::new();
    };
    let loaded = loaded.lock().unwrap_or_else(PoisonError::into_inner);
    let mut paths: Vec<_> = loaded
        .iter()
        .filter(|(_, weak)| weak.strong_count() > 0)
        .map(|(path, _)| path.clone())
        .collect();
    paths.sort();
    paths
}

/// Loads `path`, or returns the copy already loaded by another provider. Blocking.
fn load_model(path: &Path) -> Result<Arc<LoadedModel>, LlmError> {
    check_model_file(path)?;
    let key = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    // Held across the load, so two providers connecting at once load the file once.
    let mut loaded = LOADED
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    if let Some(model) = loaded.get(&key).and_then(Weak::upgrade) {
        return Ok(model);
    }
    let backend = backend()?;
    let started = std::time::Instant::now();
    let model = LlamaModel::load_from_file(backend, &key, &LlamaModelParams::default()).map_err(
        |e| LlmError::Config {
            detail: format!(
                "local model file {} could not be loaded by llama.cpp ({e}); is it a complete GGUF file of a supported architecture?",
                path.display()
            ),
        },
    )?;
    let name = model
        .meta_val_str("general.name")
        .ok()
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| {
            key.file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "local".into())
        });
    tracing::info!(path = %key.display(), %name, elapsed_ms = started.elapsed().as_millis() as u64, "local model loaded");
    let model = Arc::new(LoadedModel {
        model,
        path: key.clone(),
        name,
    });
    loaded.retain(|_, weak| weak.strong_count() > 0);
    loaded.insert(key, Arc::downgrade(&model));
    Ok(model)
}

/// An in-process llama.cpp model behind the [`Provider`] trait.
pub struct LocalProvider {
    config: ProviderConfig,
    local: LocalConfig,
    model: Arc<LoadedModel>,
    pool: WorkerPool,
}

impl fmt::Debug for LocalProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalProvider")
            .field("name", &self.config.name)
            .field("local", &self.local)
            .field("model", &self.model.name)
            .finish_non_exhaustive()
    }
}

impl LocalProvider {
    /// A provider for `config` with the settings [`LocalConfig::from_provider`] derives.
    /// Blocks while the model loads (unless another provider already loaded the file).
    pub fn new(config: ProviderConfig) -> Result<Self, LlmError> {
        let local = LocalConfig::from_provider(&config);
        Self::with_local_config(config, local)
    }

    /// A provider with explicit local settings. Blocks while the model loads and the
    /// workers allocate their contexts; every error (missing file, not GGUF, context too
    /// large for memory) surfaces here rather than on the first call.
    pub fn with_local_config(config: ProviderConfig, local: LocalConfig) -> Result<Self, LlmError> {
        local.validate()?;
        let backend = backend()?;
        let model = load_model(&local.model_path)?;
        let pool = WorkerPool::start(backend, Arc::clone(&model), &local)?;
        Ok(LocalProvider {
            config,
            local,
            model,
            pool,
        })
    }

    pub fn local_config(&self) -> &LocalConfig {
        &self.local
    }

    /// The model's name from its GGUF metadata (e.g. `SmolLM2 135M Instruct`).
    pub fn model_name(&self) -> &str {
        &self.model.name
    }

    /// The loaded file, canonicalised.
    pub fn model_path(&self) -> &Path {
        &self.model.path
    }

    async fn run(
        &self,
        request: ChatRequest,
        mut sink: DeltaSink,
        cancel: CancellationToken,
    ) -> Result<Completion, LlmError> {
        let start = Instant::now();
        let deadlines = Deadlines::new(&self.config, start);
        let mode = request.structured.as_ref().map(|_| StructuredMode::Grammar);
        let system =
            structured::system_prompt(request.system.as_deref(), request.structured.as_ref(), mode);
        // The job's own token: cancelled by the caller's, by a deadline, or when this
        // future is dropped (the guard), so the worker stops at the next token and moves
        // on to the next job instead of generating for nobody.
        let job_cancel = cancel.child_token();
        let _stop_on_drop = job_cancel.clone().drop_guard();
        let (events_tx, mut events) = mpsc::unbounded_channel();
        let job = Job {
            system,
            messages: request.messages,
            schema: request.structured.map(|s| s.schema),
            limits: self.local.grammar_limits,
            max_tokens: request.max_tokens.min(self.local.max_output_tokens),
            temperature: request.temperature,
            cancel: job_cancel.clone(),
            events: events_tx,
        };

        // Waiting for a free slot in the queue counts towards the first-token deadline,
        // as a remote server that accepted the request but has not answered yet would.
        let (deadline, phase) = deadlines.next(false, None);
        tokio::select! {
            biased;
            _ = cancel.cancelled() => return Err(LlmError::Cancelled),
            sent = timeout_at(deadline, self.pool.submit(job)) => match sent {
                Err(_) => return Err(LlmError::Timeout { phase }),
                Ok(sent) => sent?,
            },
        }

        let mut text = String::new();
        let mut first_token_at = None;
        // Idle time counts from when a worker picked the job up, not while it was queued.
        let mut last_activity = None;
        // Once the worker reports evaluated prompt chunks, the model is provably working:
        // how long a long prompt takes is the machine's speed (several times slower while
        // other work shares the cores), not a stalled server, so from then on the idle
        // deadline between chunks and the total deadline apply, not the first-token one.
        // Otherwise a busy machine turns every offline run into an escalation.
        let mut evaluating = false;
        loop {
            let (deadline, phase) =
                deadlines.next(first_token_at.is_some() || evaluating, last_activity);
            let event = tokio::select! {
                biased;
                _ = cancel.cancelled() => return Err(LlmError::Cancelled),
                event = timeout_at(deadline, events.recv()) => match event {
                    Err(_) => return Err(LlmError::Timeout { phase }),
                    // The worker dropped the job without a word: it panicked (and said so
                    // in the log) or the pool is shutting down.
                    Ok(None) => return Err(LlmError::Disconnected),
                    Ok(Some(event)) => event,
                },
            };
            last_activity = Some(Instant::now());
            match event {
                WorkerEvent::Progress => evaluating = true,
                WorkerEvent::Text(delta) => {
                    if first_token_at.is_none() {
                        first_token_at = Some(Instant::now());
                    }
                    text.push_str(&delta);
                    sink.emit(&StreamEvent::Text(delta));
                }
                WorkerEvent::Failed(e) => return Err(e),
                WorkerEvent::Finished(done) => {
                    let usage = Usage {
                        input_tokens: done.prompt_tokens,
                        output_tokens: done.output_tokens,
                        estimated: false,
                    };
                    if done.reused_prompt_tokens > 0 {
                        tracing::debug!(
                            reused = done.reused_prompt_tokens,
                            prompt = done.prompt_tokens,
                            "local model reused cached prompt prefix"
                        );
                    }
                    return Ok(Completion {
                        provider: self.config.name.clone(),
                        model: self.model.name.clone(),
                        text,
                        tool_calls: Vec::new(),
                        finish_reason: done.finish,
                        usage,
                        time_to_first_token: first_token_at.map(|t| t - start),
                        total_time: start.elapsed(),
                        cost: Some(0.0),
                        structured_mode: mode,
                    });
                }
            }
        }
    }
}

impl Provider for LocalProvider {
    fn config(&self) -> &ProviderConfig {
        &self.config
    }

    fn stream(
        &self,
        request: ChatRequest,
        sink: DeltaSink,
        cancel: CancellationToken,
    ) -> BoxFuture<'_, Result<Completion, LlmError>> {
        Box::pin(self.run(request, sink, cancel))
    }

    fn structured_mode(&self) -> StructuredMode {
        StructuredMode::Grammar
    }
}

/// What a worker reports when a job completes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Finished {
    pub(crate) prompt_tokens: u32,
    pub(crate) reused_prompt_tokens: u32,
    pub(crate) output_tokens: u32,
    pub(crate) finish: FinishReason,
}
