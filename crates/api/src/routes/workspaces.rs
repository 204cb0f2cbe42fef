//! The workspace lifecycle endpoints and the template catalog.

use crate::dto::{
    CreateWorkspaceRequest, DeletedDto, ExecRequestDto, ExecResponseDto, KeepAliveRequest,
    SetupDto, TemplateDto, UpdateWorkspaceRequest, WorkspaceDto,
};
use crate::error::ApiResult;
use crate::extract::{ApiJson, ApiPath, ApiQuery, Auth};
use crate::AppState;
use aicockpit_core::workspaces::{CreateWorkspace, ExecParams};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;

#[utoipa::path(
    get,
    path = "/templates",
    tag = "workspaces",
    summary = "The template catalog",
    responses((status = 200, description = "OK", body = Vec<crate::dto::TemplateDto>))
)]
pub(crate) async fn templates(State(s): State<AppState>, Auth(_p): Auth) -> Json<Vec<TemplateDto>> {
    Json(
        s.workspaces
            .catalog()
            .all()
            .iter()
            .map(TemplateDto::from)
            .collect(),
    )
}

#[utoipa::path(
    get,
    path = "/workspaces",
    tag = "workspaces",
    summary = "The caller's workspaces (admins: all)",
    responses((status = 200, description = "OK", body = Vec<WorkspaceDto>))
)]
pub(crate) async fn list(
    State(s): State<AppState>,
    Auth(p): Auth,
) -> ApiResult<Json<Vec<WorkspaceDto>>> {
    Ok(Json(
        s.workspaces
            .list(&p)
            .await?
            .into_iter()
            .map(WorkspaceDto::from)
            .collect(),
    ))
}

#[utoipa::path(
    post,
    path = "/workspaces",
    tag = "workspaces",
    summary = "Create and start a workspace",
    request_body = CreateWorkspaceRequest,
    responses((status = 201, description = "Created", body = WorkspaceDto))
)]
pub(crate) async fn create(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiJson(req): ApiJson<CreateWorkspaceRequest>,
) -> ApiResult<(StatusCode, Json<WorkspaceDto>)> {
    let ws = s
        .workspaces
        .create(
            &p,
            CreateWorkspace {
                name: req.name,
                template: req.template,
                image: req.image,
                cpus: req.cpus,
                memory_mb: req.memory_mb,
                pids_limit: req.pids_limit,
                env: req.env,
                ports: req.ports,
                idle_timeout_secs: req.idle_timeout_secs,
                from_kept: req.from_kept,
                git: req.git.map(Into::into),
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(WorkspaceDto::from(ws))))
}

#[utoipa::path(
    get,
    path = "/workspaces/{id}",
    tag = "workspaces",
    summary = "One workspace",
    params(("id" = String, Path, description = "Workspace id, or the name of one of the caller's workspaces")),
    responses((status = 200, description = "OK", body = WorkspaceDto))
)]
pub(crate) async fn get(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<WorkspaceDto>> {
    Ok(Json(s.workspaces.get(&p, &id).await?.into()))
}

#[utoipa::path(
    post,
    path = "/workspaces/{id}/start",
    tag = "workspaces",
    summary = "Start a workspace",
    params(("id" = String, Path, description = "Workspace id, or the name of one of the caller's workspaces")),
    responses((status = 200, description = "OK", body = WorkspaceDto))
)]
pub(crate) async fn start(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<WorkspaceDto>> {
    let w = s.workspaces.start(&p, &id).await?;
    Ok(Json(w.into()))
}

#[utoipa::path(
    post,
    path = "/workspaces/{id}/stop",
    tag = "workspaces",
    summary = "Stop a workspace",
    params(("id" = String, Path, description = "Workspace id, or the name of one of the caller's workspaces")),
    responses((status = 200, description = "OK", body = WorkspaceDto))
)]
pub(crate) async fn stop(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<WorkspaceDto>> {
    let w = s.workspaces.stop(&p, &id).await?;
    Ok(Json(w.into()))
}

#[utoipa::path(
    post,
    path = "/workspaces/{id}/restart",
    tag = "workspaces",
    summary = "Restart a workspace",
    params(("id" = String, Path, description = "Workspace id, or the name of one of the caller's workspaces")),
    responses((status = 200, description = "OK", body = WorkspaceDto))
)]
pub(crate) async fn restart(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<WorkspaceDto>> {
    let w = s.workspaces.restart(&p, &id).await?;
    Ok(Json(w.into()))
}

#[utoipa::path(
    post,
    path = "/workspaces/{id}/rebuild",
    tag = "workspaces",
    summary = "Re-read the workspace's devcontainer.json and make its container again from it, keeping /workspace; follow it through GET /workspaces/{id}/setup",
    params(("id" = String, Path, description = "Workspace id, or the name of one of the caller's workspaces")),
    responses((status = 202, description = "The rebuild started", body = WorkspaceDto), (status = 409, description = "The workspace is not running, or a setup is under way", body = crate::openapi::ErrorBody))
)]
pub(crate) async fn rebuild(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<(StatusCode, Json<WorkspaceDto>)> {
    let w = s.workspaces.rebuild(&p, &id).await?;
    Ok((StatusCode::ACCEPTED, Json(w.into())))
}

#[utoipa::path(
    patch,
    path = "/workspaces/{id}",
    tag = "workspaces",
    summary = "Change a workspace's settings (its idle timeout)",
    params(("id" = String, Path, description = "Workspace id, or the name of one of the caller's workspaces")),
    request_body = UpdateWorkspaceRequest,
    responses((status = 200, description = "OK", body = WorkspaceDto))
)]
pub(crate) async fn update(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<UpdateWorkspaceRequest>,
) -> ApiResult<Json<WorkspaceDto>> {
    let w = match req.idle_timeout_secs {
        Some(secs) => s.workspaces.set_idle_timeout(&p, &id, secs).await?,
        None => s.workspaces.get(&p, &id).await?,
    };
    Ok(Json(w.into()))
}

#[utoipa::path(
    post,
    path = "/workspaces/{id}/keepalive",
    tag = "workspaces",
    summary = "Keep a running workspace from idle stop for a while",
    params(("id" = String, Path, description = "Workspace id, or the name of one of the caller's workspaces")),
    request_body = KeepAliveRequest,
    responses((status = 200, description = "OK", body = WorkspaceDto))
)]
pub(crate) async fn keep_alive(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<KeepAliveRequest>,
) -> ApiResult<Json<WorkspaceDto>> {
    let w = s
        .workspaces
        .keep_alive(&p, &id, req.for_secs, &req.reason)
        .await?;
    Ok(Json(w.into()))
}

#[utoipa::path(
    post,
    path = "/workspaces/{id}/activity",
    tag = "workspaces",
    summary = "Note activity the server cannot see (typing in the editor), for idle stop",
    params(("id" = String, Path, description = "Workspace id, or the name of one of the caller's workspaces")),
    responses((status = 204, description = "Noted"))
)]
pub(crate) async fn activity(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    s.workspaces.note_activity(&p, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeleteQuery {
    #[serde(default)]
    purge: bool,
}

#[utoipa::path(
    delete,
    path = "/workspaces/{id}",
    tag = "workspaces",
    summary = "Delete a workspace (its data volume is kept unless purge)",
    params(("id" = String, Path, description = "Workspace id, or the name of one of the caller's workspaces"), DeleteQuery),
    responses((status = 200, description = "OK", body = DeletedDto))
)]
pub(crate) async fn delete(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<DeleteQuery>,
) -> ApiResult<Json<DeletedDto>> {
    let out = s.workspaces.delete(&p, &id, q.purge).await?;
    Ok(Json(DeletedDto {
        deleted: true,
        kept_volume: out.kept_volume,
    }))
}

#[utoipa::path(
    post,
    path = "/workspaces/{id}/exec",
    tag = "workspaces",
    summary = "Run a command to completion",
    params(("id" = String, Path, description = "Workspace id, or the name of one of the caller's workspaces")),
    request_body = ExecRequestDto,
    responses((status = 200, description = "OK", body = ExecResponseDto))
)]
pub(crate) async fn exec(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<ExecRequestDto>,
) -> ApiResult<Json<ExecResponseDto>> {
    let out = s
        .workspaces
        .exec(
            &p,
            &id,
            ExecParams {
                argv: req.argv,
                cwd: req.cwd,
                env: req.env,
                user: req.user,
                timeout_secs: req.timeout_secs,
                max_output_bytes: req.max_output_bytes,
                sandbox: None,
            },
        )
        .await?;
    Ok(Json(out.into()))
}

/// Resource use now; the numbers are absent when the workspace is not running.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(crate) struct WorkspaceUsageDto {
    running: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    cpu_percent: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    memory_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    memory_limit_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pids: Option<u64>,
    /// Bytes used under /workspace (measured at most once a minute).
    #[serde(skip_serializing_if = "Option::is_none")]
    disk_bytes: Option<u64>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct SetupQuery {
    /// The first line wanted (what the last answer's `next` said).
    #[serde(default)]
    from: u64,
    /// A kept setup, by when it started (`started_ms` from GET
    /// /workspaces/{id}/setups); the one under way or last run if absent.
    at: Option<i64>,
}

#[utoipa::path(
    get,
    path = "/workspaces/{id}/setup",
    tag = "workspaces",
    summary = "How the workspace's setup (a git clone at create) goes: its output from a line on, and its outcome",
    params(("id" = String, Path, description = "Workspace id, or the name of one of the caller's workspaces"), SetupQuery),
    responses((status = 200, description = "OK", body = SetupDto))
)]
pub(crate) async fn setup(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<SetupQuery>,
) -> ApiResult<Json<SetupDto>> {
    Ok(Json(
        s.workspaces.setup(&p, &id, q.from, q.at).await?.into(),
    ))
}

#[utoipa::path(
    get,
    path = "/workspaces/{id}/setups",
    tag = "workspaces",
    summary = "The workspace's setups kept (clone, rebuilds, the commands of each start, dotfiles): the last few, oldest first, without their output",
    params(("id" = String, Path, description = "Workspace id, or the name of one of the caller's workspaces")),
    responses((status = 200, description = "OK", body = Vec<crate::dto::SetupSummaryDto>))
)]
pub(crate) async fn setups(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Vec<crate::dto::SetupSummaryDto>>> {
    let list = s.workspaces.setups(&p, &id).await?;
    Ok(Json(list.into_iter().map(Into::into).collect()))
}

#[utoipa::path(
    get,
    path = "/workspaces/{id}/devcontainer",
    tag = "workspaces",
    summary = "The devcontainer.json applied to the workspace (null when none was)",
    params(("id" = String, Path, description = "Workspace id, or the name of one of the caller's workspaces")),
    responses((status = 200, description = "OK: the configuration, or null", body = Option<crate::dto::DevcontainerDto>))
)]
pub(crate) async fn devcontainer(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Option<crate::dto::DevcontainerDto>>> {
    Ok(Json(
        s.workspaces.devcontainer(&p, &id).await?.map(Into::into),
    ))
}

#[utoipa::path(
    get,
    path = "/workspaces/{id}/usage",
    tag = "workspaces",
    summary = "Resource use now",
    params(("id" = String, Path, description = "Workspace id, or the name of one of the caller's workspaces")),
    responses((status = 200, description = "OK", body = WorkspaceUsageDto))
)]

pub(crate) async fn usage(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<WorkspaceUsageDto>> {
    Ok(Json(match s.workspaces.usage(&p, &id).await? {
        Some(u) => WorkspaceUsageDto {
            running: true,
            cpu_percent: u.cpu_percent,
            memory_bytes: Some(u.memory_bytes),
            memory_limit_bytes: Some(u.memory_limit_bytes),
            pids: Some(u.pids),
            disk_bytes: u.disk_bytes,
        },
        None => WorkspaceUsageDto {
            running: false,
            cpu_percent: None,
            memory_bytes: None,
            memory_limit_bytes: None,
            pids: None,
            disk_bytes: None,
        },
    }))
}
