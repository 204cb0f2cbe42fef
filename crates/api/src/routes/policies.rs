//! Agent policies over HTTP: the admins' default and each workspace's own.

use crate::error::ApiResult;
use crate::extract::{ApiJson, ApiPath, Auth};
use crate::AppState;
use aicockpit_assistant::policy::Policy;
use aicockpit_core::access::Action;
use axum::extract::State;
use axum::Json;

#[utoipa::path(
    get,
    path = "/ai/default-policy",
    tag = "policies",
    summary = "The policy new workspaces start with",
    responses((status = 200, description = "OK", body = Policy))
)]
pub(crate) async fn get_default_policy(
    State(s): State<AppState>,
    Auth(_p): Auth,
) -> ApiResult<Json<Policy>> {
    Ok(Json(s.runs.default_policy().await?))
}

#[utoipa::path(
    put,
    path = "/ai/default-policy",
    tag = "policies",
    summary = "Set the default policy (admins)",
    request_body = Policy,
    responses((status = 200, description = "OK", body = Policy))
)]
pub(crate) async fn put_default_policy(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiJson(policy): ApiJson<Policy>,
) -> ApiResult<Json<Policy>> {
    Ok(Json(s.runs.set_default_policy(&p, &policy).await?))
}

#[utoipa::path(
    get,
    path = "/workspaces/{id}/policy",
    tag = "policies",
    summary = "The workspace's agent policy",
    params(("id" = String, Path, description = "Workspace id, or the name of one of the caller's workspaces")),
    responses((status = 200, description = "OK", body = Policy))
)]
pub(crate) async fn get_policy(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Policy>> {
    let ws_id = s.workspaces.id_of(&p, &id, Action::View).await?;
    Ok(Json(s.runs.policy(&ws_id).await?))
}

#[utoipa::path(
    put,
    path = "/workspaces/{id}/policy",
    tag = "policies",
    summary = "Set the workspace's agent policy",
    params(("id" = String, Path, description = "Workspace id, or the name of one of the caller's workspaces")),
    request_body = Policy,
    responses((status = 200, description = "OK", body = Policy))
)]
pub(crate) async fn put_policy(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiPath(id): ApiPath<String>,
    ApiJson(policy): ApiJson<Policy>,
) -> ApiResult<Json<Policy>> {
    Ok(Json(s.runs.set_policy(&p, &id, &policy).await?))
}
