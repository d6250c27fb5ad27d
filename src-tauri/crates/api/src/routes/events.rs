use crate::ApiState;
use axum::extract::State;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures::stream::{self, Stream};
use std::convert::Infallible;
use std::time::Duration;

/// The engine's events as Server-Sent Events. The first event is `ready`, sent once the
/// subscription exists, so a client knows nothing after it is missed. Each later event is
/// named by its `type`; `lagged` means the client fell behind and should refetch lists.
///
/// Drafts of the replies being written never lag: right after `ready` comes a `draft` (the
/// whole text so far) for each run already in flight, then `token_delta`s in order (offset 0
/// starts the draft, others append; a slow reader gets what it missed as one delta), a
/// `draft_reset` when a run starts its answer over, and `run_finished` after its last delta.
#[utoipa::path(get, path = "/api/events", tag = "events",
    responses((status = 200, description = "An endless `text/event-stream` of engine events",
               content_type = "text/event-stream", body = switchboard_core::Event),
              (status = 401, body = crate::ErrorBody)))]
pub(crate) async fn stream(
    State(state): State<ApiState>,
) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    let live = state.engine.live_events().into_stream();
    let ready = SseEvent::default()
        .event("ready")
        .data(r#"{"type":"ready"}"#);
    let events = futures::StreamExt::map(live, |event| {
        let data = serde_json::to_string(&event).unwrap_or_else(|_| "{}".into());
        Ok(SseEvent::default().event(event.name()).data(data))
    });
    Sse::new(futures::StreamExt::chain(
        stream::once(async move { Ok(ready) }),
        events,
    ))
    .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}
