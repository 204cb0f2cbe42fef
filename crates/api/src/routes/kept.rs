//! Kept data of deleted workspaces: list and purge (attaching is
//! `from_kept` when creating a workspace).

use crate::dto::KeptDataDto;
use crate::error::ApiResult;
use crate::extract::{ApiPath, Auth};
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;

#[utoipa::path(
    get,
    path = "/kept-data",
    tag = "workspaces",
    summary = "The kept data of the caller's deleted workspaces (admins: all)",
    responses((status = 200, description = "OK", body = Vec<KeptDataDto>))
)]
pub(crate) async fn list(
    State(s): State<AppState>,
    Auth(p): Auth,
) -> ApiResult<Json<Vec<KeptDataDto>>> {
    let kept = s.workspaces.kept_data(&p).await?;
    Ok(Json(kept.into_iter().map(KeptDataDto::from).collect()))
}

#[utoipa::path(
    delete,
    path = "/kept-data/{workspace}",
    tag = "workspaces",
    summary = "Remove a deleted workspace's kept data for good",
    params(("workspace" = String, Path, description = "The deleted workspace's id")),
    responses((status = 204, description = "Purged"), (status = 404, description = "No such kept data the caller may touch"))
)]
pub(crate) async fn purge(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiPath(workspace): ApiPath<String>,
) -> ApiResult<StatusCode> {
    s.workspaces.purge_kept(&p, &workspace).await?;
    Ok(StatusCode::NO_CONTENT)
}
