//! The caller's SSH key pair, made by the server: the public key to paste
//! into a git host; the private key never leaves the server (the user's
//! workspaces' SSH agents ask it for signatures).

use crate::error::ApiResult;
use crate::extract::Auth;
use crate::AppState;
use aicockpit_core::format_ms;
use aicockpit_core::ssh_keys::SshKeyInfo;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;

/// The caller's SSH key (its public half).
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct SshKeyDto {
    /// OpenSSH's one-line form, to paste into a git host.
    public_key: String,
    /// `SHA256:…`, as `ssh-keygen -l` and git hosts show it.
    fingerprint: String,
    created_at: String,
    last_used_at: Option<String>,
}

impl From<SshKeyInfo> for SshKeyDto {
    fn from(k: SshKeyInfo) -> Self {
        SshKeyDto {
            public_key: k.public_key,
            fingerprint: k.fingerprint,
            created_at: format_ms(k.created_at),
            last_used_at: k.last_used_at.map(format_ms),
        }
    }
}

#[utoipa::path(
    get,
    path = "/ssh-key",
    tag = "auth",
    summary = "The caller's SSH key (its public half), or null",
    responses((status = 200, description = "OK: the key, or null", body = Option<SshKeyDto>))
)]
pub(crate) async fn get(
    State(s): State<AppState>,
    Auth(p): Auth,
) -> ApiResult<Json<Option<SshKeyDto>>> {
    Ok(Json(s.ssh_keys.get(&p).await?.map(Into::into)))
}

#[utoipa::path(
    post,
    path = "/ssh-key",
    tag = "auth",
    summary = "Make a new SSH key pair for the caller, replacing theirs (the private key stays sealed on the server; the caller's workspaces sign with it through their SSH agent, each use audited)",
    responses((status = 201, description = "Made", body = SshKeyDto))
)]
pub(crate) async fn generate(
    State(s): State<AppState>,
    Auth(p): Auth,
) -> ApiResult<(StatusCode, Json<SshKeyDto>)> {
    Ok((
        StatusCode::CREATED,
        Json(s.ssh_keys.generate(&p).await?.into()),
    ))
}

#[utoipa::path(
    delete,
    path = "/ssh-key",
    tag = "auth",
    summary = "Delete the caller's SSH key pair",
    responses((status = 204, description = "Deleted"), (status = 404, description = "No key", body = crate::openapi::ErrorBody))
)]
pub(crate) async fn delete(State(s): State<AppState>, Auth(p): Auth) -> ApiResult<StatusCode> {
    s.ssh_keys.remove(&p).await?;
    Ok(StatusCode::NO_CONTENT)
}
