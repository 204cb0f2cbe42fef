//! Login, logout and API tokens.

use crate::dto::{
    ChangePasswordRequest, CreateTokenRequest, CreatedToken, LoginRequest, LoginResponse, TokenDto,
    UserDto,
};
use crate::error::ApiResult;
use crate::extract::{ApiJson, ApiPath, Auth};
use crate::AppState;
use aicockpit_core::format_ms;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;

/// The client's address as the listener saw it (unspecified when the
/// server runs without connection info, e.g. in-process tests).
fn client_addr(parts: &axum::http::Extensions) -> std::net::IpAddr {
    parts
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED))
}

#[utoipa::path(
    post,
    path = "/auth/login",
    tag = "auth",
    summary = "Log in with a password; returns a session token",
    request_body = LoginRequest,
    responses((status = 200, description = "OK", body = LoginResponse)),
    security(())
)]
pub(crate) async fn login(
    State(s): State<AppState>,
    ext: axum::http::Extensions,
    ApiJson(req): ApiJson<LoginRequest>,
) -> ApiResult<Json<LoginResponse>> {
    let addr = client_addr(&ext);
    let (user, token) = s.auth.login(&req.username, &req.password, addr).await?;
    Ok(Json(LoginResponse {
        token: token.secret,
        expires_at: token.record.expires_at.map(format_ms),
        user: UserDto::from(user),
    }))
}

#[utoipa::path(
    post,
    path = "/auth/password",
    tag = "auth",
    summary = "Change your own password; your other sessions end",
    request_body = ChangePasswordRequest,
    responses(
        (status = 204, description = "Done"),
        (status = 400, description = "The current password is wrong (`wrong_password`) or the new one too short")
    )
)]
pub(crate) async fn change_password(
    State(s): State<AppState>,
    Auth(p): Auth,
    ext: axum::http::Extensions,
    ApiJson(req): ApiJson<ChangePasswordRequest>,
) -> ApiResult<StatusCode> {
    let addr = client_addr(&ext);
    s.auth
        .change_own_password(&p, &req.current_password, &req.new_password, addr)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    post,
    path = "/auth/logout",
    tag = "auth",
    summary = "Revoke the token this request was made with",
    responses((status = 204, description = "Done"))
)]
/// Revokes the token the request was made with.
pub(crate) async fn logout(State(s): State<AppState>, Auth(p): Auth) -> ApiResult<StatusCode> {
    s.auth.logout(&p).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get,
    path = "/auth/me",
    tag = "auth",
    summary = "The caller",
    responses((status = 200, description = "OK", body = UserDto))
)]
pub(crate) async fn me(State(s): State<AppState>, Auth(p): Auth) -> ApiResult<Json<UserDto>> {
    let user = s.auth.user_by_name(&p.username).await?;
    Ok(Json(UserDto::from(user)))
}

#[utoipa::path(
    get,
    path = "/auth/tokens",
    tag = "auth",
    summary = "The caller's tokens (never their secrets)",
    responses((status = 200, description = "OK", body = Vec<TokenDto>))
)]
pub(crate) async fn list_tokens(
    State(s): State<AppState>,
    Auth(p): Auth,
) -> ApiResult<Json<Vec<TokenDto>>> {
    let tokens = s.auth.list_tokens(&p.user_id).await?;
    Ok(Json(tokens.into_iter().map(TokenDto::from).collect()))
}

#[utoipa::path(
    post,
    path = "/auth/tokens",
    tag = "auth",
    summary = "Create an API token (the secret is shown once)",
    request_body = CreateTokenRequest,
    responses((status = 201, description = "Created", body = CreatedToken))
)]
pub(crate) async fn create_token(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiJson(req): ApiJson<CreateTokenRequest>,
) -> ApiResult<(StatusCode, Json<CreatedToken>)> {
    let issued = s
        .auth
        .create_api_token(&p.actor(), &p.user_id, &req.name, req.expires_in_days)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedToken {
            token: issued.secret,
            meta: TokenDto::from(issued.record),
        }),
    ))
}

#[utoipa::path(
    delete,
    path = "/auth/tokens/{id}",
    tag = "auth",
    summary = "Revoke one of the caller's tokens",
    params(("id" = String, Path, description = "Token id")),
    responses((status = 204, description = "Done"))
)]
pub(crate) async fn revoke_token(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    s.auth.revoke_token(&p, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    post,
    path = "/auth/ticket",
    tag = "auth",
    summary = "A single-use ticket (30 s) to open a WebSocket with",
    responses((status = 200, description = "OK", body = TicketDto))
)]
/// A single-use ticket, valid for 30 s, to open a WebSocket with.
pub(crate) async fn ticket(State(s): State<AppState>, Auth(p): Auth) -> Json<TicketDto> {
    Json(TicketDto {
        ticket: s.tickets.issue(p),
        expires_in: crate::tickets::TTL.as_secs(),
    })
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub(crate) struct TicketDto {
    ticket: String,
    /// Seconds.
    expires_in: u64,
}
