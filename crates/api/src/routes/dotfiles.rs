//! The caller's dotfiles repository, installed into every workspace they
//! make from now on (its install script, else links into the home).

use crate::error::ApiResult;
use crate::extract::{ApiJson, Auth};
use crate::AppState;
use aicockpit_core::dotfiles::DotfilesRepo;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};

/// A dotfiles repository.
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DotfilesDto {
    /// A git URL, as for creating a workspace from git (private
    /// repositories use the caller's git credentials or SSH key).
    url: String,
    /// A branch or tag (default: the repository's default branch).
    #[serde(default, rename = "ref")]
    reference: Option<String>,
}

impl From<DotfilesRepo> for DotfilesDto {
    fn from(r: DotfilesRepo) -> Self {
        DotfilesDto {
            url: r.url,
            reference: r.reference,
        }
    }
}

#[utoipa::path(
    get,
    path = "/dotfiles",
    tag = "auth",
    summary = "The caller's dotfiles repository, or null",
    responses((status = 200, description = "OK: the repository, or null", body = Option<DotfilesDto>))
)]
pub(crate) async fn get(
    State(s): State<AppState>,
    Auth(p): Auth,
) -> ApiResult<Json<Option<DotfilesDto>>> {
    Ok(Json(s.dotfiles.get(&p).await?.map(Into::into)))
}

#[utoipa::path(
    put,
    path = "/dotfiles",
    tag = "auth",
    summary = "Set the caller's dotfiles repository, installed into the workspaces they make from now on (and after a rebuild)",
    request_body = DotfilesDto,
    responses((status = 200, description = "Set", body = DotfilesDto))
)]
pub(crate) async fn put(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiJson(req): ApiJson<DotfilesDto>,
) -> ApiResult<Json<DotfilesDto>> {
    let repo = DotfilesRepo {
        url: req.url,
        reference: req.reference.filter(|r| !r.is_empty()),
    };
    Ok(Json(s.dotfiles.set(&p, repo).await?.into()))
}

#[utoipa::path(
    delete,
    path = "/dotfiles",
    tag = "auth",
    summary = "Forget the caller's dotfiles repository",
    responses((status = 204, description = "Forgotten"), (status = 404, description = "None was set", body = crate::openapi::ErrorBody))
)]
pub(crate) async fn delete(State(s): State<AppState>, Auth(p): Auth) -> ApiResult<StatusCode> {
    s.dotfiles.remove(&p).await?;
    Ok(StatusCode::NO_CONTENT)
}
