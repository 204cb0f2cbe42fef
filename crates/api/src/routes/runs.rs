//! AI agent runs over HTTP: start one, follow its events (SSE), answer its
//! approval requests, stop it, undo its file changes.

use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, Auth};
use crate::AppState;
use aicockpit_assistant::run::{Approval, RunError};
use aicockpit_core::access::Action;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::IntoResponse;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use std::convert::Infallible;
use std::time::Duration;

impl From<RunError> for ApiError {
    fn from(e: RunError) -> Self {
        match e {
            RunError::NotFound(m) => ApiError::new(StatusCode::NOT_FOUND, "not_found", m),
            RunError::Invalid(m) => ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", m),
            RunError::Core(c) => c.into(),
            RunError::Store(s) => aicockpit_core::CoreError::from(s).into(),
            RunError::ApprovalExpired => ApiError::new(
                StatusCode::CONFLICT,
                "approval_expired",
                "nobody answered the approval request in time",
            ),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StartBody {
    task: String,
    model: Option<String>,
    max_steps: Option<u32>,
}

pub(crate) async fn start(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<StartBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let run = s.runs.start(&p, &id, b.task, b.model, b.max_steps).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"run_id": run.id, "workspace_id": run.workspace_id})),
    ))
}

/// Server-sent events of a run: everything so far, then live, ending with
/// an `end` event.
pub(crate) async fn events(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(run): Path<String>,
) -> ApiResult<impl IntoResponse> {
    let run = s.runs.run(&run, &p, Action::View)?;
    let (past, live, finished) = run.subscribe();
    let past = futures_util::stream::iter(
        past.into_iter()
            .map(|v| Ok::<_, Infallible>(Event::default().data(v.to_string()))),
    );
    let live = futures_util::stream::unfold((live, finished), |(mut rx, done)| async move {
        if done {
            return None;
        }
        loop {
            match rx.recv().await {
                Ok(v) => {
                    let end = v["type"] == "end";
                    return Some((Ok(Event::default().data(v.to_string())), (rx, end)));
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(_) => return None,
            }
        }
    });
    use futures_util::StreamExt;
    Ok((
        [("x-accel-buffering", "no"), ("cache-control", "no-cache")],
        Sse::new(past.chain(live)).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))),
    ))
}

pub(crate) async fn approve(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path((run, call)): Path<(String, String)>,
    ApiJson(a): ApiJson<Approval>,
) -> ApiResult<StatusCode> {
    let run = s.runs.run(&run, &p, Action::Change)?;
    s.runs.approve(&run, &call, a, &p)?;
    Ok(StatusCode::NO_CONTENT)
}

pub(crate) async fn stop(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(run): Path<String>,
) -> ApiResult<StatusCode> {
    let run = s.runs.run(&run, &p, Action::Change)?;
    s.runs.stop(&run);
    Ok(StatusCode::NO_CONTENT)
}

/// Restores every file the run changed to what it was before the run.
pub(crate) async fn undo(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(run): Path<String>,
) -> ApiResult<Json<Value>> {
    let run = s.runs.run(&run, &p, Action::Change)?;
    let files = s.runs.undo(&run, &p).await?;
    Ok(Json(
        json!({"restored": files, "note": "commands the agent ran are not undone"}),
    ))
}
