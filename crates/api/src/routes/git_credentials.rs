//! The caller's git credentials: a token per git server origin, served to
//! git inside their own workspaces on demand. The token goes in once and
//! never comes back out of the API.

use crate::error::ApiResult;
use crate::extract::{ApiJson, ApiPath, Auth};
use crate::AppState;
use aicockpit_core::format_ms;
use aicockpit_core::git_credentials::GitCredentialInfo;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};

/// A stored git credential (never its token).
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct GitCredentialDto {
    id: String,
    /// `scheme://host[:port]`: the git server it is given to.
    origin: String,
    username: String,
    created_at: String,
    last_used_at: Option<String>,
    /// When a git server last refused it: replace it.
    rejected_at: Option<String>,
}

impl From<GitCredentialInfo> for GitCredentialDto {
    fn from(c: GitCredentialInfo) -> Self {
        GitCredentialDto {
            id: c.id,
            origin: c.origin,
            username: c.username,
            created_at: format_ms(c.created_ms),
            last_used_at: c.last_used_ms.map(format_ms),
            rejected_at: c.rejected_ms.map(format_ms),
        }
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateGitCredential {
    /// The git server: `https://github.com`, `http://git.internal:8080`.
    url: String,
    /// Default `git` (hosts such as GitHub take any name with a token).
    #[serde(default)]
    username: Option<String>,
    /// The token or password (stored sealed, never shown again).
    token: String,
    /// Replace the caller's credential for the same server, if any
    /// (otherwise that is a 409).
    #[serde(default)]
    replace: bool,
}

#[utoipa::path(
    get,
    path = "/git-credentials",
    tag = "auth",
    summary = "The caller's git credentials (never their tokens)",
    responses((status = 200, description = "OK", body = Vec<GitCredentialDto>))
)]
pub(crate) async fn list(
    State(s): State<AppState>,
    Auth(p): Auth,
) -> ApiResult<Json<Vec<GitCredentialDto>>> {
    let list = s.git_credentials.list(&p).await?;
    Ok(Json(list.into_iter().map(GitCredentialDto::from).collect()))
}

#[utoipa::path(
    post,
    path = "/git-credentials",
    tag = "auth",
    summary = "Store a git credential for a git server (sealed; given to git in the caller's workspaces on demand, each use audited)",
    request_body = CreateGitCredential,
    responses((status = 201, description = "Stored", body = GitCredentialDto))
)]
pub(crate) async fn create(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiJson(req): ApiJson<CreateGitCredential>,
) -> ApiResult<(StatusCode, Json<GitCredentialDto>)> {
    let c = s
        .git_credentials
        .add(
            &p,
            &req.url,
            req.username.as_deref(),
            &req.token,
            req.replace,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(c.into())))
}

#[utoipa::path(
    delete,
    path = "/git-credentials/{id}",
    tag = "auth",
    summary = "Delete one of the caller's git credentials",
    params(("id" = String, Path, description = "Credential id")),
    responses((status = 204, description = "Deleted"))
)]
pub(crate) async fn delete(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    s.git_credentials.remove(&p, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
