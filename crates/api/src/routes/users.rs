//! User administration (admins only).

use crate::dto::{CreateUserRequest, ResetPasswordRequest, UpdateUserRequest, UserDto};
use crate::error::ApiResult;
use crate::extract::{ApiJson, ApiPath, Auth};
use crate::AppState;
use aicockpit_core::access::{can, Action, Resource};
use aicockpit_core::auth::{Role, UserChange};
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
        .create_user(
            &p.actor(),
            &req.username,
            &req.password,
            role,
            req.must_change_password,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(UserDto::from(user))))
}

#[utoipa::path(
    patch,
    path = "/users/{id}",
    tag = "users",
    summary = "Change a user's role, or disable them (admins)",
    params(("id" = String, Path, description = "User id")),
    request_body = UpdateUserRequest,
    responses(
        (status = 200, description = "OK", body = UserDto),
        (status = 409, description = "It would leave no enabled admin (`last_admin`), or it is yourself (`cannot_change_self`)")
    )
)]
pub(crate) async fn update(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<UpdateUserRequest>,
) -> ApiResult<Json<UserDto>> {
    can(&p, Action::Administer, Resource::Instance)?;
    let change = UserChange {
        role: req.role.as_deref().map(Role::parse).transpose()?,
        disabled: req.disabled,
    };
    Ok(Json(UserDto::from(
        s.auth.update_user(&p, &id, change).await?,
    )))
}

#[utoipa::path(
    post,
    path = "/users/{id}/password",
    tag = "users",
    summary = "Reset a user's password; their sessions end (admins)",
    params(("id" = String, Path, description = "User id")),
    request_body = ResetPasswordRequest,
    responses(
        (status = 204, description = "Done"),
        (status = 409, description = "It is your own (`cannot_change_self`): use POST /auth/password")
    )
)]
pub(crate) async fn reset_password(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<ResetPasswordRequest>,
) -> ApiResult<StatusCode> {
    can(&p, Action::Administer, Resource::Instance)?;
    s.auth
        .reset_password(&p, &id, &req.password, req.must_change_password)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
