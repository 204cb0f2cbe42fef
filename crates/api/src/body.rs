//! Streamed request bodies that are drained (within bounds) when a handler
//! refuses them part-way.
//!
//! Why: when a handler answers before the client finished sending (a 413
//! after the limit, a 400 for a bad archive), the server closes the socket
//! with unread bytes in it; the kernel then resets the connection and the
//! client often loses the answer ("connection closed before message
//! completed") instead of reading the clear error it was sent. Reading and
//! discarding what is left — at most [`DRAIN_BYTES`] within [`DRAIN_TIME`],
//! so a client cannot hold the server with an endless body — lets the error
//! arrive.

use aicockpit_core::CoreError;
use axum::body::{Body, BodyDataStream};
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

/// The most that is read and thrown away after a refusal.
const DRAIN_BYTES: usize = 64 * 1024 * 1024;
/// The longest a refusal waits for the rest of a body.
const DRAIN_TIME: Duration = Duration::from_secs(5);

/// A request body's data that a handler consumes while the route keeps a
/// handle to drain what is left.
#[derive(Clone)]
pub(crate) struct SharedBody(Arc<Mutex<BodyDataStream>>);

impl Stream for SharedBody {
    type Item = Result<Bytes, CoreError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        // The lock is only ever held for one poll, never across an await.
        let mut inner = self.0.lock().unwrap_or_else(|p| p.into_inner());
        Pin::new(&mut *inner).poll_next(cx).map(|item| {
            item.map(|r| {
                r.map_err(|e| {
                    CoreError::invalid("body_error", format!("reading the body failed: {e}"))
                })
            })
        })
    }
}

/// Runs `consume` over the body; if it fails, drains the rest of the body
/// (bounded) before the error goes back, so the client reads it.
pub(crate) async fn consume_or_drain<T, E, F, Fut>(body: Body, consume: F) -> Result<T, E>
where
    F: FnOnce(SharedBody) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let shared = SharedBody(Arc::new(Mutex::new(body.into_data_stream())));
    let result = consume(shared.clone()).await;
    if result.is_err() {
        drain(shared).await;
    }
    result
}

async fn drain(mut body: SharedBody) {
    let _ = tokio::time::timeout(DRAIN_TIME, async {
        let mut seen = 0usize;
        while let Some(Ok(chunk)) = body.next().await {
            seen = seen.saturating_add(chunk.len());
            if seen > DRAIN_BYTES {
                break;
            }
        }
    })
    .await;
}
