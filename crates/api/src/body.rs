//! Request bodies: refused ones are drained (within bounds) so the client
//! reads the refusal, and streamed ones reach core with our error type.
//!
//! Why: when the server answers before the client finished sending (a 413
//! past the limit, a 400 for a bad archive), the connection is closed with
//! unread bytes in it; the kernel then resets it and the client often
//! loses the answer ("connection closed before message completed") instead
//! of reading the clear error it was sent. [`drain_refused`] keeps reading
//! and discarding the rest of an error's request body in the background —
//! at most [`DRAIN_BYTES`] within [`DRAIN_TIME`], so a client cannot hold
//! the server with an endless body — while the answer goes out.

use aicockpit_core::CoreError;
use axum::body::{Body, BodyDataStream};
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

/// The most that is read and thrown away after a refusal.
const DRAIN_BYTES: usize = 64 * 1024 * 1024;
/// The longest the rest of a refused body is read.
const DRAIN_TIME: Duration = Duration::from_secs(5);

/// A request body's data, shared between the handler and this layer,
/// which drains what the handler left when it refused the request.
#[derive(Clone)]
struct SharedBody(Arc<Mutex<BodyDataStream>>);

impl Stream for SharedBody {
    type Item = Result<Bytes, axum::Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        // The lock is only ever held for one poll, never across an await.
        let mut inner = self.0.lock().unwrap_or_else(|p| p.into_inner());
        Pin::new(&mut *inner).poll_next(cx)
    }
}

/// Middleware: an error answer goes out while the rest of its request's
/// body is read and discarded (bounded) in the background.
pub(crate) async fn drain_refused(req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    let shared = SharedBody(Arc::new(Mutex::new(body.into_data_stream())));
    let resp = next
        .run(Request::from_parts(
            parts,
            Body::from_stream(shared.clone()),
        ))
        .await;
    let status = resp.status();
    if status.is_client_error() || status.is_server_error() {
        tokio::spawn(drain(shared));
    }
    resp
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

/// A streamed request body as core reads it.
pub(crate) fn body_stream(body: Body) -> impl Stream<Item = Result<Bytes, CoreError>> + Unpin {
    body.into_data_stream().map(|r| {
        r.map_err(|e| CoreError::invalid("body_error", format!("reading the body failed: {e}")))
    })
}
