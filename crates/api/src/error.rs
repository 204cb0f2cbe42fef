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
            CoreError::TooManyRequests { message, .. } => {
                ApiError::new(S::TOO_MANY_REQUESTS, "rate_limited", message)
            }
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

/// How an AI-layer error is answered: status, stable code, message, and a
/// Retry-After for rate limits. Shared by both renderings below.
pub(crate) fn ai_parts(
    e: &aicockpit_ai::AiError,
) -> (StatusCode, &'static str, String, Option<u64>) {
    use aicockpit_ai::AiError as E;
    use StatusCode as S;
    match e {
        E::Invalid { code, message } => (S::BAD_REQUEST, code, message.clone(), None),
        E::NotFound(m) => (S::NOT_FOUND, "not_found", m.clone(), None),
        E::Conflict(m) => (S::CONFLICT, "conflict", m.clone(), None),
        E::NoService(m) => (S::SERVICE_UNAVAILABLE, "no_ai_service", m.clone(), None),
        E::Upstream {
            status,
            service,
            body,
        } => {
            let detail = serde_json::from_slice::<serde_json::Value>(body)
                .ok()
                .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
                .unwrap_or_else(|| String::from_utf8_lossy(body).chars().take(500).collect());
            let st = if *status >= 500 {
                S::BAD_GATEWAY
            } else {
                S::from_u16(*status).unwrap_or(S::BAD_GATEWAY)
            };
            (
                st,
                "upstream_error",
                format!("{service} answered {status}: {detail}"),
                None,
            )
        }
        E::Unavailable { kind, message, .. } => {
            let st = if *kind == aicockpit_ai::failure::FailureKind::Timeout {
                S::GATEWAY_TIMEOUT
            } else {
                S::BAD_GATEWAY
            };
            (st, "upstream_unavailable", message.clone(), None)
        }
        E::RateLimited {
            retry_after_secs,
            message,
        } => (
            S::TOO_MANY_REQUESTS,
            "rate_limited",
            message.clone(),
            Some(*retry_after_secs),
        ),
        E::TooLarge(m) => (S::PAYLOAD_TOO_LARGE, "payload_too_large", m.clone(), None),
        E::Crypto(m) => {
            tracing::error!(error = %m, "AI secrets");
            (
                S::INTERNAL_SERVER_ERROR,
                "internal",
                "internal error; see the server log".into(),
                None,
            )
        }
        E::Store(err) => {
            tracing::error!(error = %err, "AI store");
            (
                S::INTERNAL_SERVER_ERROR,
                "internal",
                "internal error; see the server log".into(),
                None,
            )
        }
    }
}

impl From<aicockpit_ai::AiError> for ApiError {
    fn from(e: aicockpit_ai::AiError) -> Self {
        let (status, code, message, _) = ai_parts(&e);
        ApiError::new(status, code, message)
    }
}

/// An error in OpenAI's shape (`{"error": {"message", "type", "param",
/// "code"}}`), for `/v1/...`, so that SDKs raise their usual exceptions.
pub(crate) struct OpenAiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub retry_after: Option<u64>,
    /// An upstream's own OpenAI-shaped error body, passed on unchanged.
    pub raw: Option<bytes::Bytes>,
}

impl From<aicockpit_ai::AiError> for OpenAiError {
    fn from(e: aicockpit_ai::AiError) -> Self {
        let raw = match &e {
            aicockpit_ai::AiError::Upstream { status, body, .. } if *status < 500 => {
                serde_json::from_slice::<serde_json::Value>(body)
                    .ok()
                    .filter(|v| v["error"].is_object())
                    .map(|_| body.clone())
            }
            _ => None,
        };
        let (status, code, message, retry_after) = ai_parts(&e);
        OpenAiError {
            status,
            code,
            message,
            retry_after,
            raw,
        }
    }
}

impl From<ApiError> for OpenAiError {
    fn from(e: ApiError) -> Self {
        OpenAiError {
            status: e.status,
            code: e.code,
            message: e.message,
            retry_after: None,
            raw: None,
        }
    }
}

impl IntoResponse for OpenAiError {
    fn into_response(self) -> Response {
        let kind = match self.status.as_u16() {
            400 | 413 | 415 | 422 => "invalid_request_error",
            401 => "authentication_error",
            403 => "permission_error",
            404 => "not_found_error",
            429 => "rate_limit_error",
            _ => "api_error",
        };
        let body = match self.raw {
            Some(raw) => raw,
            None => bytes::Bytes::from(
                serde_json::json!({"error": {"message": self.message, "type": kind, "param": null, "code": self.code}})
                    .to_string(),
            ),
        };
        let mut resp = (
            self.status,
            [(header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response();
        if let Some(s) = self.retry_after {
            if let Ok(v) = HeaderValue::from_str(&s.to_string()) {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        resp
    }
}
