//! Extractors that fail with [`ApiError`]s: JSON bodies and the caller's
//! identity from `Authorization: Bearer …`.

use crate::error::ApiError;
use crate::AppState;
use aicockpit_core::auth::Principal;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use serde::de::DeserializeOwned;

/// `Json<T>` whose failures use our error shape and statuses.
pub(crate) struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(rej) => Err(match rej {
                JsonRejection::JsonDataError(e) => {
                    ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", e.body_text())
                }
                JsonRejection::JsonSyntaxError(e) => {
                    ApiError::new(StatusCode::BAD_REQUEST, "invalid_json", e.body_text())
                }
                JsonRejection::MissingJsonContentType(_) => ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported_media_type",
                    "send the body as application/json",
                ),
                JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                    ApiError::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "payload_too_large",
                        "the request body is too large",
                    )
                }
                other => ApiError::new(other.status(), "invalid_request", other.body_text()),
            }),
        }
    }
}

/// What a user who must change their password may still call: who they
/// are, the change itself, and logging out. Everything else is refused
/// until then (fails closed: a new route is covered without a thought).
const PASSWORD_CHANGE_PATHS: [&str; 3] = [
    "/api/v1/auth/me",
    "/api/v1/auth/password",
    "/api/v1/auth/logout",
];

/// The authenticated caller. Every route but `/health` and login takes one.
pub(crate) struct Auth(pub Principal);

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let missing = || {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "send a token as `Authorization: Bearer <token>`",
            )
        };
        let value = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or_else(missing)?;
        let value = value.to_str().map_err(|_| missing())?;
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .ok_or_else(missing)?
            .trim();
        let principal = state.auth.authenticate(token).await?;
        // Nested routers see their own part of the path; the whole one is here.
        let path = parts
            .extensions
            .get::<axum::extract::OriginalUri>()
            .map_or_else(|| parts.uri.path().to_owned(), |u| u.0.path().to_owned());
        if principal.must_change_password && !PASSWORD_CHANGE_PATHS.contains(&path.as_str()) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "password_change_required",
                "choose a new password first (POST /api/v1/auth/password)",
            ));
        }
        Ok(Auth(principal))
    }
}

/// `Query<T>` whose failures use our error shape.
pub(crate) struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(ApiQuery(v)),
            Err(rej) => Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_query",
                rej.body_text(),
            )),
        }
    }
}

/// `Path<T>` whose failures (a segment that is not UTF-8 once decoded, a
/// number that is not one) use our error shape.
pub(crate) struct ApiPath<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(ApiPath(v)),
            Err(rej) => Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_path",
                rej.body_text(),
            )),
        }
    }
}

/// Authentication for WebSockets and browser downloads (a link the browser
/// follows itself, streaming to disk): browsers cannot set headers on
/// them, so besides `Authorization: Bearer` a single-use `?ticket=` from
/// `POST /api/v1/auth/ticket` is accepted (short-lived, so a URL that ends
/// up in a log is worthless).
pub(crate) struct WsAuth(pub Principal);

impl FromRequestParts<AppState> for WsAuth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if parts.headers.contains_key(header::AUTHORIZATION) {
            return Auth::from_request_parts(parts, state)
                .await
                .map(|a| WsAuth(a.0));
        }
        let ticket = parts
            .uri
            .query()
            .unwrap_or("")
            .split('&')
            .find_map(|kv| kv.strip_prefix("ticket="))
            .unwrap_or("");
        match state.tickets.redeem(ticket) {
            Some(p) => Ok(WsAuth(p)),
            None => Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "send a token as `Authorization: Bearer <token>` or a fresh `?ticket=`",
            )),
        }
    }
}
