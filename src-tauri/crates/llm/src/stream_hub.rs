//! Fan-out of a run's live text to any number of operator views.
//!
//! A [`RunStream`] keeps the text written so far; each [`Subscription`] is a byte cursor
//! into it plus a `watch` notification. Consequences, all intended:
//! - publishing appends under a briefly held lock and bumps a counter, so it never waits
//!   for subscribers;
//! - a slow subscriber is never dropped and never blocks: its next read returns
//!   everything written since its last read as one delta (coalesced);
//! - a subscriber joining mid-stream gets everything so far as its first delta;
//! - order is the order of publishing, for every subscriber.
//!
//! Memory per run is the text itself, capped at [`MAX_RUN_BYTES`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use futures_util::Stream;
use tokio::sync::watch;

use crate::partial_json::{FieldTarget, PartialJsonReader};
use crate::provider::{DeltaSink, StreamEvent};

/// Text beyond this is dropped from a run (the reply a customer gets is far shorter).
pub const MAX_RUN_BYTES: usize = 1024 * 1024;

/// How a run ended, as shown to operators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunEnd {
    Completed,
    Failed { message: String },
    Cancelled,
}

/// What a subscriber reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HubEvent {
    /// New text; `offset` is its byte position in the run's text, so a view can detect
    /// that it already has it.
    Delta {
        offset: usize,
        text: String,
    },
    /// Everything shown so far is void (e.g. the engine is retrying with another
    /// provider); deltas start again from offset 0.
    Reset,
    Finished(RunEnd),
}

#[derive(Debug, Default)]
struct State {
    text: String,
    generation: u64,
    end: Option<RunEnd>,
    truncated: bool,
}

#[derive(Debug)]
struct Inner {
    state: Mutex<State>,
    changed: watch::Sender<u64>,
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave `State` half-updated in a way that
        // matters (appends are single calls), so recover rather than propagate poison.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn notify(&self) {
        self.changed.send_modify(|v| *v = v.wrapping_add(1));
    }
}

/// The live text of one run. Cheap to clone; all clones are the same stream.
#[derive(Debug, Clone)]
pub struct RunStream {
    inner: Arc<Inner>,
}

impl Default for RunStream {
    fn default() -> Self {
        Self::new()
    }
}

impl RunStream {
    pub fn new() -> Self {
        let (changed, _) = watch::channel(0);
        RunStream {
            inner: Arc::new(Inner {
                state: Mutex::new(State::default()),
                changed,
            }),
        }
    }

    /// Appends `delta`. Ignored after [`RunStream::finish`].
    pub fn publish(&self, delta: &str) {
        if delta.is_empty() {
            return;
        }
        {
            let mut state = self.inner.lock();
            if state.end.is_some() || state.truncated {
                return;
            }
            let room = MAX_RUN_BYTES.saturating_sub(state.text.len());
            if delta.len() <= room {
                state.text.push_str(delta);
            } else {
                let mut cut = room;
                while !delta.is_char_boundary(cut) {
                    cut -= 1;
                }
                state.text.push_str(&delta[..cut]);
                state.truncated = true;
            }
        }
        self.inner.notify();
    }

    /// Voids what was published so far; subscribers get [`HubEvent::Reset`].
    pub fn reset(&self) {
        {
            let mut state = self.inner.lock();
            if state.end.is_some() {
                return;
            }
            state.text.clear();
            state.truncated = false;
            state.generation += 1;
        }
        self.inner.notify();
    }

    /// Ends the run; later calls are ignored.
    pub fn finish(&self, end: RunEnd) {
        {
            let mut state = self.inner.lock();
            if state.end.is_some() {
                return;
            }
            state.end = Some(end);
        }
        self.inner.notify();
    }

    pub fn text(&self) -> String {
        self.inner.lock().text.clone()
    }

    pub fn is_finished(&self) -> bool {
        self.inner.lock().end.is_some()
    }

    pub fn subscribe(&self) -> Subscription {
        let mut changed = self.inner.changed.subscribe();
        changed.mark_changed();
        Subscription {
            inner: Arc::clone(&self.inner),
            changed,
            cursor: 0,
            generation: 0,
            finished: false,
        }
    }
}

/// One operator view's position in a run.
#[derive(Debug)]
pub struct Subscription {
    inner: Arc<Inner>,
    changed: watch::Receiver<u64>,
    cursor: usize,
    generation: u64,
    finished: bool,
}

impl Subscription {
    /// Whatever is new, without waiting.
    pub fn try_next(&mut self) -> Option<HubEvent> {
        if self.finished {
            return None;
        }
        // Mark seen before reading, so a publish racing with this read still wakes `next`.
        self.changed.borrow_and_update();
        let state = self.inner.lock();
        if state.generation != self.generation {
            self.generation = state.generation;
            let had_text = self.cursor > 0;
            self.cursor = 0;
            if had_text {
                return Some(HubEvent::Reset);
            }
        }
        if let Some(text) = state.text.get(self.cursor..).filter(|t| !t.is_empty()) {
            let event = HubEvent::Delta {
                offset: self.cursor,
                text: text.to_string(),
            };
            self.cursor = state.text.len();
            return Some(event);
        }
        if let Some(end) = &state.end {
            self.finished = true;
            return Some(HubEvent::Finished(end.clone()));
        }
        None
    }

    /// The next event, waiting if there is none; `None` after [`HubEvent::Finished`].
    pub async fn next(&mut self) -> Option<HubEvent> {
        loop {
            if let Some(event) = self.try_next() {
                return Some(event);
            }
            if self.finished {
                return None;
            }
            // The sender lives in `inner`, which we hold, so this cannot fail; treat a
            // failure as the end anyway rather than spinning.
            if self.changed.changed().await.is_err() {
                return None;
            }
        }
    }

    pub fn into_stream(self) -> impl Stream<Item = HubEvent> + Send {
        futures_util::stream::unfold(self, |mut sub| async move {
            let event = sub.next().await?;
            Some((event, sub))
        })
    }
}

/// The runs currently streaming, by id, so operator connections can find them.
#[derive(Debug, Default)]
pub struct StreamHub {
    runs: Mutex<HashMap<String, RunStream>>,
}

impl StreamHub {
    pub fn new() -> Self {
        Self::default()
    }

    fn runs(&self) -> MutexGuard<'_, HashMap<String, RunStream>> {
        self.runs.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts (or restarts) the stream of `run_id`. A previous stream under the same id is
    /// finished as cancelled so its subscribers do not wait forever.
    pub fn open(&self, run_id: impl Into<String>) -> RunStream {
        let stream = RunStream::new();
        if let Some(old) = self.runs().insert(run_id.into(), stream.clone()) {
            old.finish(RunEnd::Cancelled);
        }
        stream
    }

    pub fn get(&self, run_id: &str) -> Option<RunStream> {
        self.runs().get(run_id).cloned()
    }

    pub fn subscribe(&self, run_id: &str) -> Option<Subscription> {
        self.get(run_id).map(|s| s.subscribe())
    }

    /// Forgets `run_id`; existing subscriptions keep working until they read the end.
    pub fn remove(&self, run_id: &str) -> Option<RunStream> {
        self.runs().remove(run_id)
    }

    pub fn len(&self) -> usize {
        self.runs().len()
    }

    pub fn is_empty(&self) -> bool {
        self.runs().is_empty()
    }
}

/// A sink that publishes model text as-is (plain chat, no structured output).
pub fn text_sink(run: RunStream) -> DeltaSink {
    DeltaSink::new(move |event| {
        if let StreamEvent::Text(text) = event {
            run.publish(text);
        }
    })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Source {
    Text,
    Tool,
}

/// A sink that publishes only the string at `target` of the JSON document the model is
/// writing, e.g. [`FieldTarget::reply_text`]. Works whichever structured mode the provider
/// used: the document is read from the text and from the first tool call's arguments, and
/// whichever yields the field first is followed from then on.
pub fn json_field_sink(run: RunStream, target: FieldTarget) -> DeltaSink {
    let mut text = PartialJsonReader::new(target.clone());
    let mut tool = PartialJsonReader::new(target);
    let mut source: Option<Source> = None;
    DeltaSink::new(move |event| {
        let (reader, this) = match event {
            StreamEvent::Text(t) if source != Some(Source::Tool) => (&mut text, (Source::Text, t)),
            StreamEvent::ToolArguments { index: 0, fragment } if source != Some(Source::Text) => {
                (&mut tool, (Source::Tool, fragment))
            }
            _ => return,
        };
        let fresh = reader.feed(this.1);
        if reader.is_found() {
            source = Some(this.0);
        }
        run.publish(&fresh);
    })
}
