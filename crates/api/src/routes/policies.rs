//! Agent policies over HTTP: the admins' default and each workspace's own.

use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath, Auth};
use crate::AppState;
use aicockpit_assistant::judge;
use aicockpit_assistant::policy::{Policy, Verdict};
use aicockpit_core::access::Action;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;

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

/// A command line to judge under a policy (usually one being edited).
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PolicyCheckBody {
    policy: Policy,
    #[schema(max_length = 16384)]
    command: String,
}

#[utoipa::path(
    post,
    path = "/ai/policy/check",
    tag = "policies",
    summary = "The server's verdict on a command line under a policy, and why",
    request_body = PolicyCheckBody,
    responses((status = 200, description = "OK", body = Verdict))
)]
/// The same judge the agent's commands go through. Paths are taken as
/// written (no workspace is looked at); in a workspace, where a symlink
/// really leads is judged too, so the verdict there can differ.
pub(crate) async fn check(
    Auth(_p): Auth,
    ApiJson(b): ApiJson<PolicyCheckBody>,
) -> ApiResult<Json<Verdict>> {
    if b.command.len() > 16384 {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "command lines are at most 16 KiB",
        ));
    }
    Ok(Json(judge::command(&b.policy, &b.command, &judge::Lexical)))
}
