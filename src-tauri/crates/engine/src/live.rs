//! The operators' live stream: the event bus merged with the drafts of the runs in flight.
//!
//! The bus is lossy on purpose (a subscriber that falls behind is told `lagged` and
//! refetches lists), but the reply a model is writing must arrive whole and in order. So
//! drafts never travel on the bus: each run writes into its own [`RunStream`] in the
//! engine's [`StreamHub`], and every subscriber of this stream holds a cursor into each
//! run's text. Consequences:
//! - writing a delta never waits for any subscriber, so a slow operator view cannot slow
//!   the model call;
//! - a subscriber that reads late gets everything written since its last read as one
//!   `token_delta` (coalesced), never a gap;
//! - a subscriber that connects mid-stream gets a `draft` event per run in flight right
//!   after subscribing (the whole text so far), then deltas;
//! - a run's deltas always come before its `run_finished`: the run's stream is finished
//!   before that event is published, and the rest of the draft is drained before it is
//!   passed on.
//!
//! The SSE route and the desktop Channel both forward this stream unchanged.

use crate::{Engine, WeakEngine};
use futures::Stream;
use std::collections::{HashMap, HashSet, VecDeque};
use switchboard_core::events::EventSubscription;
use switchboard_core::ids::{ConversationId, RunId};
use switchboard_core::Event;
use switchboard_llm::{HubEvent, RunStream, Subscription};

/// How many finished runs keep their draft, so a subscriber that reads `run_started` late
/// (it was slow, the run was quick) still gets the whole text before `run_finished`.
const RETIRED_KEPT: usize = 64;

/// The drafts of the runs in flight and of the last few finished ones, with each run's
/// conversation, so a subscriber can name it without a database read.
#[derive(Default)]
pub(crate) struct DraftRegistry {
    hub: switchboard_llm::StreamHub,
    runs: std::sync::Mutex<Runs>,
}

#[derive(Default)]
struct Runs {
    conversations: HashMap<RunId, ConversationId>,
    retired: VecDeque<RunId>,
}

impl DraftRegistry {
    fn runs(&self) -> std::sync::MutexGuard<'_, Runs> {
        // The map is only ever inserted into or removed from whole; a panic elsewhere
        // cannot leave it inconsistent.
        self.runs.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn open(&self, run: RunId, conversation: ConversationId) -> RunStream {
        self.runs().conversations.insert(run, conversation);
        self.hub.open(run.0.to_string())
    }

    /// The run is over (its stream finished); its draft stays readable for a while.
    pub(crate) fn retire(&self, run: RunId) {
        let mut runs = self.runs();
        runs.retired.push_back(run);
        while runs.retired.len() > RETIRED_KEPT {
            if let Some(old) = runs.retired.pop_front() {
                runs.conversations.remove(&old);
                self.hub.remove(&old.0.to_string());
            }
        }
    }

    fn subscribe(&self, run: RunId) -> Option<(ConversationId, Subscription)> {
        let conversation = *self.runs().conversations.get(&run)?;
        Some((conversation, self.hub.subscribe(&run.0.to_string())?))
    }

    /// Runs still writing, oldest first.
    fn active(&self) -> Vec<RunId> {
        let mut active: Vec<RunId> = self
            .runs()
            .conversations
            .keys()
            .copied()
            .filter(|run| {
                self.hub
                    .get(&run.0.to_string())
                    .is_some_and(|s| !s.is_finished())
            })
            .collect();
        active.sort();
        active
    }
}

enum Next {
    Bus(Option<Event>),
    Hub(RunId, Option<HubEvent>),
}

struct Followed {
    conversation: ConversationId,
    subscription: Subscription,
    seq: u64,
    /// The next delta is the first this subscriber sees of the run: sent as `draft`.
    announce: bool,
}

/// One operator view's subscription to [`Engine::live_events`].
pub struct LiveEvents {
    state: LiveState,
}

impl LiveEvents {
    /// The next event, waiting if there is none; `None` once the engine is gone.
    pub async fn next(&mut self) -> Option<Event> {
        self.state.next().await
    }

    pub fn into_stream(self) -> impl Stream<Item = Event> + Send + 'static {
        futures::stream::unfold(self, |mut live| async move {
            let event = live.next().await?;
            Some((event, live))
        })
    }
}

struct LiveState {
    /// Weak, so an open view does not keep a stopped engine alive: its bus closes instead.
    engine: WeakEngine,
    bus: EventSubscription,
    runs: HashMap<RunId, Followed>,
    /// Runs this subscriber saw end, so a late `run_started` does not follow them again.
    ended: HashSet<RunId>,
    queue: VecDeque<Event>,
    bus_closed: bool,
}

impl Engine {
    /// The events an operator view shows, drafts included; see the module documentation.
    /// The subscription exists when this returns, so nothing published afterwards is missed.
    pub fn live_events(&self) -> LiveEvents {
        let mut state = LiveState {
            engine: self.downgrade(),
            bus: self.bus().subscribe(),
            runs: HashMap::new(),
            ended: HashSet::new(),
            queue: VecDeque::new(),
            bus_closed: false,
        };
        // After the bus subscription, so a run starting now is either listed here or
        // announced by its `run_started`; following it twice is prevented by the map.
        state.follow_active_runs();
        LiveEvents { state }
    }
}

impl LiveState {
    fn follow(&mut self, run: RunId, announce: bool) {
        if self.runs.contains_key(&run) || self.ended.contains(&run) {
            return;
        }
        let Some(engine) = self.engine.upgrade() else {
            return;
        };
        if let Some((conversation, subscription)) = engine.pipeline().drafts.subscribe(run) {
            self.runs.insert(
                run,
                Followed {
                    conversation,
                    subscription,
                    seq: 0,
                    announce,
                },
            );
            if announce {
                // The draft event goes out even before any text, so the view knows the
                // run is writing.
                let text = match self
                    .runs
                    .get_mut(&run)
                    .and_then(|f| f.subscription.try_next())
                {
                    Some(HubEvent::Delta { text, .. }) => text,
                    _ => String::new(),
                };
                if let Some(f) = self.runs.get_mut(&run) {
                    f.announce = false;
                }
                self.queue.push_back(Event::Draft {
                    run_id: run,
                    conversation_id: conversation,
                    text,
                });
            }
        }
    }

    fn follow_active_runs(&mut self) {
        let Some(engine) = self.engine.upgrade() else {
            return;
        };
        for run in engine.pipeline().drafts.active() {
            self.follow(run, true);
        }
    }

    fn end(&mut self, run: RunId) {
        self.runs.remove(&run);
        if self.ended.len() > 4096 {
            self.ended.clear();
        }
        self.ended.insert(run);
    }

    /// Turns one hub event of `run` into what the subscriber sees.
    fn translate(&mut self, run: RunId, event: Option<HubEvent>) {
        let Some(followed) = self.runs.get_mut(&run) else {
            return;
        };
        let conversation_id = followed.conversation;
        match event {
            Some(HubEvent::Delta { offset, text }) => {
                if followed.announce {
                    followed.announce = false;
                    self.queue.push_back(Event::Draft {
                        run_id: run,
                        conversation_id,
                        text,
                    });
                } else {
                    followed.seq += 1;
                    self.queue.push_back(Event::TokenDelta {
                        run_id: run,
                        conversation_id,
                        seq: followed.seq,
                        offset: offset as u64,
                        text,
                    });
                }
            }
            Some(HubEvent::Reset) => self.queue.push_back(Event::DraftReset {
                run_id: run,
                conversation_id,
            }),
            Some(HubEvent::Finished(_)) | None => self.end(run),
        }
    }

    /// Everything the run's stream holds now, so nothing of it comes after its end.
    fn drain(&mut self, run: RunId) {
        while let Some(event) = self
            .runs
            .get_mut(&run)
            .and_then(|f| f.subscription.try_next())
        {
            self.translate(run, Some(event));
        }
    }

    fn on_bus(&mut self, event: Option<Event>) {
        match event {
            None => self.bus_closed = true,
            Some(Event::RunStarted {
                run_id,
                conversation_id,
            }) => {
                self.queue.push_back(Event::RunStarted {
                    run_id,
                    conversation_id,
                });
                self.follow(run_id, false);
            }
            Some(Event::RunFinished {
                run_id,
                conversation_id,
                outcome,
            }) => {
                self.drain(run_id);
                self.end(run_id);
                self.queue.push_back(Event::RunFinished {
                    run_id,
                    conversation_id,
                    outcome,
                });
            }
            Some(lagged @ Event::Lagged { .. }) => {
                // Run starts may be among what was missed: pick up their drafts whole.
                self.queue.push_back(lagged);
                self.follow_active_runs();
            }
            Some(other) => self.queue.push_back(other),
        }
    }

    async fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(event) = self.queue.pop_front() {
                return Some(event);
            }
            if self.bus_closed {
                return None;
            }
            if self.runs.is_empty() {
                let event = self.bus.next().await;
                self.on_bus(event);
                continue;
            }
            let hub = futures::future::select_all(self.runs.iter_mut().map(|(run, f)| {
                let run = *run;
                Box::pin(async move { (run, f.subscription.next().await) })
            }));
            // Both sides are cancel-safe: a dropped hub read has not moved its cursor, and
            // a dropped bus read has not taken its event.
            let next = tokio::select! {
                event = self.bus.next() => Next::Bus(event),
                ((run, event), _, rest) = hub => {
                    drop(rest);
                    Next::Hub(run, event)
                }
            };
            match next {
                Next::Bus(event) => self.on_bus(event),
                Next::Hub(run, event) => self.translate(run, event),
            }
        }
    }
}
