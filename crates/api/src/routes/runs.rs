//! AI agent runs over HTTP: start one, follow its events (SSE), answer its
//! approval requests, stop it, undo its file changes.

use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath, Auth};
use crate::AppState;
use aicockpit_assistant::run::{Approval, RunError};
use aicockpit_core::access::Action;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::Event;
use axum::response::IntoResponse;
use axum::Json;
use serde::Deserialize;

use std::convert::Infallible;

#[derive(serde::Serialize, utoipa::ToSchema)]
pub(crate) struct RunStarted {
    run_id: String,
    workspace_id: String,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub(crate) struct Undone {
    /// Paths put back as they were before the run.
    restored: Vec<String>,
    note: &'static str,
}

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

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct StartBody {
    task: String,
    model: Option<String>,
    max_steps: Option<u32>,
}

#[utoipa::path(
    post,
    path = "/workspaces/{id}/runs",
    tag = "runs",
    summary = "Start an AI agent run on a task",
    params(("id" = String, Path, description = "Workspace id, or the name of one of the caller's workspaces")),
    request_body = StartBody,
    responses((status = 201, description = "Created", body = RunStarted))
)]
pub(crate) async fn start(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiPath(id): ApiPath<String>,
    ApiJson(b): ApiJson<StartBody>,
) -> ApiResult<(StatusCode, Json<RunStarted>)> {
    // Without a model, the agent's model as the caller's settings say.
    let model = match b.model.filter(|m| !m.is_empty()) {
        Some(m) => Some(m),
        None => Some(
            s.ai.registry()
                .feature_model(&p.user_id, aicockpit_ai::features::Feature::Agent)
                .await?,
        )
        .filter(|m| !m.is_empty()),
    };
    let run = s.runs.start(&p, &id, b.task, model, b.max_steps).await?;
    Ok((
        StatusCode::CREATED,
        Json(RunStarted {
            run_id: run.id.clone(),
            workspace_id: run.workspace_id.clone(),
        }),
    ))
}

#[utoipa::path(
    get,
    path = "/runs/{run}/events",
    tag = "runs",
    summary = "The run's steps as server-sent events (replayed from the start, ending with type end)",
    params(("run" = String, Path, description = "Run id")),
    responses((status = 200, description = "Server-sent events; each data is a JSON run event", content_type = "text/event-stream", body = crate::sse::StreamEvent))
)]
/// Server-sent events of a run: everything so far, then live, ending with
/// an `end` event.
pub(crate) async fn events(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiPath(run): ApiPath<String>,
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
    Ok(crate::sse::respond(past.chain(live)))
}

#[utoipa::path(
    post,
    path = "/runs/{run}/approvals/{call}",
    tag = "runs",
    summary = "Answer an approval request",
    params(("run" = String, Path, description = "Run id"), ("call" = String, Path, description = "Tool call id")),
    request_body = Approval,
    responses((status = 204, description = "Done"))
)]
pub(crate) async fn approve(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiPath((run, call)): ApiPath<(String, String)>,
    ApiJson(a): ApiJson<Approval>,
) -> ApiResult<StatusCode> {
    let run = s.runs.run(&run, &p, Action::Change)?;
    s.runs.approve(&run, &call, a, &p)?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    post,
    path = "/runs/{run}/stop",
    tag = "runs",
    summary = "Stop a run",
    params(("run" = String, Path, description = "Run id")),
    responses((status = 204, description = "Done"))
)]
pub(crate) async fn stop(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiPath(run): ApiPath<String>,
) -> ApiResult<StatusCode> {
    let run = s.runs.run(&run, &p, Action::Change)?;
    s.runs.stop(&run);
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    post,
    path = "/runs/{run}/undo",
    tag = "runs",
    summary = "Restore every file the run changed",
    params(("run" = String, Path, description = "Run id")),
    responses((status = 200, description = "OK", body = Undone))
)]
/// Restores every file the run changed to what it was before the run.
pub(crate) async fn undo(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiPath(run): ApiPath<String>,
) -> ApiResult<Json<Undone>> {
    let run = s.runs.run(&run, &p, Action::Change)?;
    let restored = s.runs.undo(&run, &p).await?;
    Ok(Json(Undone {
        restored,
        note: "commands the agent ran are not undone",
    }))
}
