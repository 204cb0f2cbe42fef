//! The workspace lifecycle endpoints and the template catalog.

use crate::dto::{
    CreateWorkspaceRequest, DeletedDto, ExecRequestDto, ExecResponseDto, TemplateDto, WorkspaceDto,
};
use crate::error::ApiResult;
use crate::extract::{ApiJson, ApiQuery, Auth};
use crate::AppState;
use aicockpit_core::workspaces::{CreateWorkspace, ExecParams};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;

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
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(WorkspaceDto::from(ws))))
}

pub(crate) async fn get(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<WorkspaceDto>> {
    Ok(Json(s.workspaces.get(&p, &id).await?.into()))
}

pub(crate) async fn start(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<WorkspaceDto>> {
    let w = s.workspaces.start(&p, &id).await?;
    Ok(Json(w.into()))
}

pub(crate) async fn stop(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<WorkspaceDto>> {
    let w = s.workspaces.stop(&p, &id).await?;
    Ok(Json(w.into()))
}

pub(crate) async fn restart(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<WorkspaceDto>> {
    let w = s.workspaces.restart(&p, &id).await?;
    Ok(Json(w.into()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeleteQuery {
    #[serde(default)]
    purge: bool,
}

pub(crate) async fn delete(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<DeleteQuery>,
) -> ApiResult<Json<DeletedDto>> {
    let out = s.workspaces.delete(&p, &id, q.purge).await?;
    Ok(Json(DeletedDto {
        deleted: true,
        kept_volume: out.kept_volume,
    }))
}

pub(crate) async fn exec(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
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

/// Resource use: `{"running": bool, "cpu_percent", "memory_bytes", "memory_limit_bytes", "pids"}`.
pub(crate) async fn usage(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    Ok(Json(match s.workspaces.usage(&p, &id).await? {
        Some(u) => serde_json::json!({
            "running": true,
            "cpu_percent": u.cpu_percent,
            "memory_bytes": u.memory_bytes,
            "memory_limit_bytes": u.memory_limit_bytes,
            "pids": u.pids,
        }),
        None => serde_json::json!({ "running": false }),
    }))
}
