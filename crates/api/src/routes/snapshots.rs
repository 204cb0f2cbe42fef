//! Snapshots of workspaces and forks of them.

use crate::body::body_stream;
use crate::dto::{CreateSnapshotRequest, ForkRequest, RestoreRequest, SnapshotDto, WorkspaceDto};
use crate::error::ApiResult;
use crate::extract::{ApiJson, ApiPath, Auth, WsAuth};
use crate::AppState;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use axum::Json;

#[utoipa::path(
    post,
    path = "/workspaces/{id}/snapshots",
    tag = "workspaces",
    summary = "Snapshot a workspace: its filesystem (paused meanwhile), its data and settings",
    params(("id" = String, Path, description = "Workspace id, or the name of one of the caller's workspaces")),
    request_body = CreateSnapshotRequest,
    responses((status = 201, description = "Taken", body = SnapshotDto))
)]
pub(crate) async fn create(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<CreateSnapshotRequest>,
) -> ApiResult<(StatusCode, Json<SnapshotDto>)> {
    let snap = s.workspaces.take_snapshot(&p, &id, req.name).await?;
    Ok((StatusCode::CREATED, Json(snap.into())))
}

#[utoipa::path(
    get,
    path = "/snapshots",
    tag = "workspaces",
    summary = "The caller's snapshots (admins: all), newest first",
    responses((status = 200, description = "OK", body = Vec<SnapshotDto>))
)]
pub(crate) async fn list(
    State(s): State<AppState>,
    Auth(p): Auth,
) -> ApiResult<Json<Vec<SnapshotDto>>> {
    let list = s.workspaces.snapshots(&p).await?;
    Ok(Json(list.into_iter().map(SnapshotDto::from).collect()))
}

#[utoipa::path(
    delete,
    path = "/snapshots/{id}",
    tag = "workspaces",
    summary = "Delete a snapshot (409 while a workspace forked from it exists)",
    params(("id" = String, Path, description = "Snapshot id, or the name of one of the caller's snapshots")),
    responses((status = 204, description = "Deleted"))
)]
pub(crate) async fn delete(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    s.workspaces.delete_snapshot(&p, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    post,
    path = "/snapshots/{id}/fork",
    tag = "workspaces",
    summary = "Make a new workspace of a snapshot (its filesystem, a copy of its data, its settings)",
    params(("id" = String, Path, description = "Snapshot id, or the name of one of the caller's snapshots")),
    request_body = ForkRequest,
    responses((status = 201, description = "Created", body = WorkspaceDto))
)]
pub(crate) async fn fork(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<ForkRequest>,
) -> ApiResult<(StatusCode, Json<WorkspaceDto>)> {
    let ws = s.workspaces.fork(&p, &id, req.name).await?;
    Ok((StatusCode::CREATED, Json(ws.into())))
}

#[utoipa::path(
    post,
    path = "/workspaces/{id}/restore",
    tag = "workspaces",
    summary = "Put a workspace back as one of its snapshots was (what is there now is discarded)",
    params(("id" = String, Path, description = "Workspace id, or the name of one of the caller's workspaces")),
    request_body = RestoreRequest,
    responses((status = 200, description = "Restored and running", body = WorkspaceDto))
)]
pub(crate) async fn restore(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<RestoreRequest>,
) -> ApiResult<Json<WorkspaceDto>> {
    let ws = s.workspaces.restore(&p, &id, &req.snapshot).await?;
    Ok(Json(ws.into()))
}

#[utoipa::path(
    get,
    path = "/snapshots/{id}/export",
    tag = "workspaces",
    summary = "A snapshot as one archive (its settings, image and data), streamed",
    params(("id" = String, Path, description = "Snapshot id, or the name of one of the caller's snapshots"), ("ticket" = Option<String>, Query, description = "A ticket from POST /auth/ticket: a browser then downloads the archive itself, streamed to disk with its own progress")),
    responses((status = 200, description = "A tar archive", content_type = "application/x-tar", body = Vec<u8>))
)]
pub(crate) async fn export(
    State(s): State<AppState>,
    WsAuth(p): WsAuth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Response> {
    let (name, stream) = s.workspaces.export_snapshot(&p, &id).await?;
    let mut r = Response::new(Body::from_stream(stream));
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-tar"),
    );
    // The name is a validated snapshot name plus a fixed suffix.
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(r)
}

#[utoipa::path(
    post,
    path = "/snapshots/import",
    tag = "workspaces",
    summary = "Make a snapshot of the caller's from an exported archive (streamed in, at most workspaces.max_snapshot_import_bytes)",
    // Any media type is taken (the body is read as a tar); octet-stream is
    // what generic clients send for a file.
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The archive (application/x-tar or application/octet-stream)"),
    responses((status = 201, description = "Imported", body = SnapshotDto))
)]
pub(crate) async fn import(
    State(s): State<AppState>,
    Auth(p): Auth,
    req: Request,
) -> ApiResult<(StatusCode, Json<SnapshotDto>)> {
    let body = body_stream(req.into_body());
    let snap = s.workspaces.import_snapshot(&p, body).await?;
    Ok((StatusCode::CREATED, Json(snap.into())))
}
