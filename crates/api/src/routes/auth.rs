//! Login, logout and API tokens.

use crate::dto::{
    CreateTokenRequest, CreatedToken, LoginRequest, LoginResponse, TokenDto, UserDto,
};
use crate::error::ApiResult;
use crate::extract::{ApiJson, Auth};
use crate::AppState;
use aicockpit_core::format_ms;
use axum::extract::{Path, State};
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

pub(crate) async fn login(
    State(s): State<AppState>,
    ext: axum::http::Extensions,
    ApiJson(req): ApiJson<LoginRequest>,
) -> ApiResult<Json<LoginResponse>> {
    let addr = client_addr(&ext);
    let outcome = s.auth.login(&req.username, &req.password, addr).await;
    // Logins are on the record, failures too (their rate is bounded by the
    // limiter; throttled attempts are not written).
    let name: String = req
        .username
        .chars()
        .take(aicockpit_core::auth::MAX_USERNAME)
        .collect();
    let (actor, action, result) = match &outcome {
        Ok((u, _)) => (u.id.clone(), "auth.login", "ok"),
        Err(aicockpit_core::CoreError::Unauthenticated(_)) => (
            "anonymous".to_owned(),
            "auth.login_failed",
            "wrong username or password",
        ),
        Err(_) => (String::new(), "", ""),
    };
    if !action.is_empty() {
        let detail = serde_json::json!({"username": name, "address": addr.to_string()});
        crate::audit::record_as(&s, &actor, None, action, detail, result).await;
    }
    let (user, token) = outcome?;
    Ok(Json(LoginResponse {
        token: token.secret,
        expires_at: token.record.expires_at.map(format_ms),
        user: UserDto::from(user),
    }))
}

/// Revokes the token the request was made with.
pub(crate) async fn logout(State(s): State<AppState>, Auth(p): Auth) -> ApiResult<StatusCode> {
    s.auth.revoke_token(&p.user_id, &p.token_id).await?;
    crate::audit::record(
        &s,
        &p,
        None,
        "auth.logout",
        serde_json::json!({"token": p.token_id}),
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}

pub(crate) async fn me(State(s): State<AppState>, Auth(p): Auth) -> ApiResult<Json<UserDto>> {
    let user = s.auth.user_by_name(&p.username).await?;
    Ok(Json(UserDto::from(user)))
}

pub(crate) async fn list_tokens(
    State(s): State<AppState>,
    Auth(p): Auth,
) -> ApiResult<Json<Vec<TokenDto>>> {
    let tokens = s.auth.list_tokens(&p.user_id).await?;
    Ok(Json(tokens.into_iter().map(TokenDto::from).collect()))
}

pub(crate) async fn create_token(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiJson(req): ApiJson<CreateTokenRequest>,
) -> ApiResult<(StatusCode, Json<CreatedToken>)> {
    let issued = s
        .auth
        .create_api_token(&p.user_id, &req.name, req.expires_in_days)
        .await?;
    crate::audit::record(
        &s,
        &p,
        None,
        "token.create",
        serde_json::json!({"token": issued.record.id, "name": issued.record.name}),
    )
    .await;
    Ok((
        StatusCode::CREATED,
        Json(CreatedToken {
            token: issued.secret,
            meta: TokenDto::from(issued.record),
        }),
    ))
}

pub(crate) async fn revoke_token(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    s.auth.revoke_token(&p.user_id, &id).await?;
    crate::audit::record(
        &s,
        &p,
        None,
        "token.revoke",
        serde_json::json!({"token": id}),
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}

/// A single-use ticket, valid for 30 s, to open a WebSocket with.
pub(crate) async fn ticket(State(s): State<AppState>, Auth(p): Auth) -> Json<serde_json::Value> {
    let t = s.tickets.issue(p);
    Json(serde_json::json!({ "ticket": t, "expires_in": crate::tickets::TTL.as_secs() }))
}
