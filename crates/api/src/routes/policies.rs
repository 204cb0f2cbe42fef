//! Agent policies over HTTP: the admins' default and each workspace's own.

use crate::error::ApiResult;
use crate::extract::{ApiJson, Auth};
use crate::AppState;
use aicockpit_assistant::policy::Policy;
use aicockpit_core::access::Action;
use axum::extract::{Path, State};
use axum::Json;

pub(crate) async fn get_default_policy(
    State(s): State<AppState>,
    Auth(_p): Auth,
) -> ApiResult<Json<Policy>> {
    Ok(Json(s.runs.default_policy().await?))
}

pub(crate) async fn put_default_policy(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiJson(policy): ApiJson<Policy>,
) -> ApiResult<Json<Policy>> {
    Ok(Json(s.runs.set_default_policy(&p, &policy).await?))
}

pub(crate) async fn get_policy(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Policy>> {
    let ws_id = s.workspaces.id_of(&p, &id, Action::View).await?;
    Ok(Json(s.runs.policy(&ws_id).await?))
}

pub(crate) async fn put_policy(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiJson(policy): ApiJson<Policy>,
) -> ApiResult<Json<Policy>> {
    Ok(Json(s.runs.set_policy(&p, &id, &policy).await?))
}
