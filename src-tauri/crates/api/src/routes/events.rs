use crate::ApiState;
use axum::extract::State;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures::stream::{self, Stream};
use std::convert::Infallible;
use std::time::Duration;

/// The engine's events as Server-Sent Events. The first event is `ready`, sent once the
/// subscription exists, so a client knows nothing after it is missed. Each later event is
/// named by its `type`; `lagged` means the client fell behind and should refetch.
#[utoipa::path(get, path = "/api/events", tag = "events",
    responses((status = 200, description = "An endless `text/event-stream` of engine events",
               content_type = "text/event-stream", body = switchboard_core::Event),
              (status = 401, body = crate::ErrorBody)))]
pub(crate) async fn stream(
    State(state): State<ApiState>,
) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    let subscription = state.engine.bus().subscribe();
    let ready = SseEvent::default()
        .event("ready")
        .data(r#"{"type":"ready"}"#);
    let events = stream::unfold(subscription, |mut subscription| async move {
        let event = subscription.next().await?;
        let data = serde_json::to_string(&event).unwrap_or_else(|_| "{}".into());
        Some((
            Ok(SseEvent::default().event(event.name()).data(data)),
            subscription,
        ))
    });
    Sse::new(futures::StreamExt::chain(
        stream::once(async move { Ok(ready) }),
        events,
    ))
    .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}
