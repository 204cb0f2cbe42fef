//! The one place where errors become HTTP responses:
//! `{"error": {"code": "...", "message": "..."}}` with the right status.
//! Client errors are not logged as errors; server errors are logged with
//! their detail and answered without it.

use aicockpit_core::CoreError;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

#[derive(Serialize)]
struct Body<'a> {
    error: Inner<'a>,
}

#[derive(Serialize)]
struct Inner<'a> {
    code: &'a str,
    message: &'a str,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }
}

impl From<CoreError> for ApiError {
    fn from(e: CoreError) -> Self {
        use StatusCode as S;
        match e {
            CoreError::Invalid { code, message } => ApiError::new(S::BAD_REQUEST, code, message),
            CoreError::Unauthenticated(m) => ApiError::new(S::UNAUTHORIZED, "unauthenticated", m),
            CoreError::Forbidden(m) => ApiError::new(S::FORBIDDEN, "forbidden", m),
            CoreError::NotFound(m) => ApiError::new(S::NOT_FOUND, "not_found", m),
            CoreError::Conflict { code, message } => ApiError::new(S::CONFLICT, code, message),
            CoreError::PreconditionFailed(m) => {
                ApiError::new(S::PRECONDITION_FAILED, "precondition_failed", m)
            }
            CoreError::TooLarge(m) => ApiError::new(S::PAYLOAD_TOO_LARGE, "payload_too_large", m),
            CoreError::AgentUnavailable(m) => {
                tracing::warn!(error = %m, "workspace agent unavailable");
                ApiError::new(S::SERVICE_UNAVAILABLE, "agent_unavailable", m)
            }
            CoreError::StartFailed(m) => {
                ApiError::new(S::UNPROCESSABLE_ENTITY, "container_start_failed", m)
            }
            CoreError::EngineUnavailable(m) => {
                tracing::warn!(error = %m, "container engine unavailable");
                ApiError::new(
                    S::SERVICE_UNAVAILABLE,
                    "engine_unavailable",
                    "the container engine is not answering; try again shortly",
                )
            }
            CoreError::Engine(m) => {
                tracing::error!(error = %m, "container engine error");
                ApiError::new(
                    S::BAD_GATEWAY,
                    "engine_error",
                    "the container engine failed; see the server log",
                )
            }
            e @ (CoreError::Store(_) | CoreError::Internal(_)) => {
                tracing::error!(error = %e, "internal error");
                ApiError::new(
                    S::INTERNAL_SERVER_ERROR,
                    "internal",
                    "internal error; see the server log",
                )
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut resp = (
            self.status,
            Json(Body {
                error: Inner {
                    code: self.code,
                    message: &self.message,
                },
            }),
        )
            .into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            resp.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        resp
    }
}

/// A handler panicked: answer 500 in our shape (the panic is logged by the
/// default hook).
pub(crate) fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "internal error; see the server log",
    )
    .into_response()
}

pub type ApiResult<T> = Result<T, ApiError>;
