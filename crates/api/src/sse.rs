//! Server-sent event streams: the one place their headers and keep-alives
//! are set (run events, file watches, port watches).

use aicockpit_core::workspace_agent::{ChannelMsg, Watching};
use aicockpit_workspace_agent_proto::Event as AgentEvent;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::IntoResponse;
use futures_util::Stream;
use std::convert::Infallible;
use std::time::Duration;

/// One event of a stream, as the OpenAPI document describes it (clients
/// and schemathesis read each event against it): the endpoint's summary
/// names its `event` and what its `data` holds.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // only its schema is used
pub(crate) struct StreamEvent {
    /// The event's name (`message` when the stream gives none).
    event: String,
    /// The event's data: a JSON text.
    #[schema(content_media_type = "application/json")]
    data: String,
    /// The last `id:` seen, where the stream sets one.
    id: Option<String>,
}

/// A comment line this often keeps proxies and browsers from timing out.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// `events` as a `text/event-stream` response that no proxy holds back.
pub(crate) fn respond(
    events: impl Stream<Item = Result<Event, Infallible>> + Send + 'static,
) -> impl IntoResponse {
    (
        [("x-accel-buffering", "no"), ("cache-control", "no-cache")],
        Sse::new(events).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)),
    )
}

/// An agent watch as a response: each of its events that `to_sse` turns
/// into an SSE event is sent; dropping the response (the client went away)
/// drops `watching`, which ends the agent's watch.
pub(crate) fn of_watch(
    watching: Watching,
    to_sse: impl Fn(AgentEvent) -> Option<Event> + Send + Sync + 'static,
) -> impl IntoResponse {
    let to_sse = std::sync::Arc::new(to_sse);
    let events = futures_util::stream::unfold((watching, to_sse), |(mut w, f)| async move {
        loop {
            if let ChannelMsg::Event(ev) = w.next().await? {
                if let Some(e) = f(ev) {
                    return Some((Ok::<_, Infallible>(e), (w, f)));
                }
            }
        }
    });
    respond(events)
}
