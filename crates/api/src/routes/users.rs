//! User administration (admins only).

use crate::dto::{CreateUserRequest, UserDto};
use crate::error::ApiResult;
use crate::extract::{ApiJson, Auth};
use crate::AppState;
use aicockpit_core::access::{can, Action, Resource};
use aicockpit_core::auth::Role;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;

#[utoipa::path(
    get,
    path = "/users",
    tag = "users",
    summary = "Every user (admins)",
    responses((status = 200, description = "OK", body = Vec<UserDto>))
)]
pub(crate) async fn list(
    State(s): State<AppState>,
    Auth(p): Auth,
) -> ApiResult<Json<Vec<UserDto>>> {
    can(&p, Action::Administer, Resource::Instance)?;
    Ok(Json(
        s.auth
            .list_users()
            .await?
            .into_iter()
            .map(UserDto::from)
            .collect(),
    ))
}

#[utoipa::path(
    post,
    path = "/users",
    tag = "users",
    summary = "Add a user (admins)",
    request_body = CreateUserRequest,
    responses((status = 201, description = "Created", body = UserDto))
)]
pub(crate) async fn create(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiJson(req): ApiJson<CreateUserRequest>,
) -> ApiResult<(StatusCode, Json<UserDto>)> {
    can(&p, Action::Administer, Resource::Instance)?;
    let role = Role::parse(&req.role)?;
    let user = s
        .auth
        .create_user(&p.actor(), &req.username, &req.password, role)
        .await?;
    Ok((StatusCode::CREATED, Json(UserDto::from(user))))
}
