//! The OpenAI-compatible gateway: `/v1/chat/completions`, `/v1/completions`,
//! `/v1/embeddings`, `/v1/models`, authenticated with AiCockpit tokens.

use crate::error::OpenAiError;
use crate::extract::Auth;
use crate::metrics::Arrived;
use crate::AppState;
use aicockpit_ai::gateway::ReplyBody;
use aicockpit_ai::kinds::Endpoint;
use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use std::time::Instant;

async fn forward(
    s: AppState,
    arrived: Option<Extension<Arrived>>,
    auth: Result<Auth, crate::error::ApiError>,
    ep: Endpoint,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    // From the outermost layer when it ran; else from here.
    let arrived = arrived
        .map(|Extension(Arrived(t))| t)
        .unwrap_or_else(Instant::now);
    let result: Result<Response, OpenAiError> = async {
        let Auth(p) = auth?;
        let body = body.map_err(|e| OpenAiError {
            status: e.status(),
            code: if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                "payload_too_large"
            } else {
                "invalid_body"
            },
            message: e.body_text(),
            retry_after: None,
            raw: None,
        })?;
        let reply = s.ai.handle(&p.user_id, ep, &body, arrived).await?;
        let mut resp = match reply.body {
            ReplyBody::Full(b) => {
                let mut r = Response::new(Body::from(b));
                r.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
                r
            }
            ReplyBody::Stream(st) => {
                let mut r = Response::new(Body::from_stream(st));
                let h = r.headers_mut();
                h.insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/event-stream"),
                );
                h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
                // Reverse proxies (nginx) must pass events on as they come.
                h.insert(
                    HeaderName::from_static("x-accel-buffering"),
                    HeaderValue::from_static("no"),
                );
                r
            }
        };
        *resp.status_mut() = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::OK);
        for (k, v) in reply.headers {
            if let Ok(v) = HeaderValue::from_str(&v) {
                resp.headers_mut().insert(HeaderName::from_static(k), v);
            }
        }
        Ok(resp)
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

#[utoipa::path(
    post,
    path = "/chat/completions",
    tag = "gateway",
    summary = "OpenAI-compatible chat completions (streams as SSE when stream is true)",
    request_body = Object,
    responses((status = 200, description = "The upstream's answer, JSON or an SSE stream", body = Object))
)]
pub(crate) async fn chat(
    State(s): State<AppState>,
    arrived: Option<Extension<Arrived>>,
    auth: Result<Auth, crate::error::ApiError>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    forward(s, arrived, auth, Endpoint::Chat, body).await
}

#[utoipa::path(
    post,
    path = "/completions",
    tag = "gateway",
    summary = "OpenAI-compatible text completions",
    request_body = Object,
    responses((status = 200, description = "The upstream's answer", body = Object))
)]
pub(crate) async fn completions(
    State(s): State<AppState>,
    arrived: Option<Extension<Arrived>>,
    auth: Result<Auth, crate::error::ApiError>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    forward(s, arrived, auth, Endpoint::Completions, body).await
}

#[utoipa::path(
    post,
    path = "/embeddings",
    tag = "gateway",
    summary = "OpenAI-compatible embeddings",
    request_body = Object,
    responses((status = 200, description = "The upstream's answer", body = Object))
)]
pub(crate) async fn embeddings(
    State(s): State<AppState>,
    arrived: Option<Extension<Arrived>>,
    auth: Result<Auth, crate::error::ApiError>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    forward(s, arrived, auth, Endpoint::Embeddings, body).await
}

#[utoipa::path(
    get,
    path = "/models",
    tag = "gateway",
    summary = "Models of every service and alias, OpenAI's format",
    responses((status = 200, description = "OpenAI list of models", body = Object))
)]
pub(crate) async fn models(
    State(s): State<AppState>,
    auth: Result<Auth, crate::error::ApiError>,
) -> Response {
    let r: Result<Response, OpenAiError> = async {
        auth?;
        Ok(Json(s.ai.models().await?).into_response())
    }
    .await;
    r.unwrap_or_else(IntoResponse::into_response)
}

pub(crate) async fn not_found() -> Response {
    OpenAiError {
        status: StatusCode::NOT_FOUND,
        code: "not_found",
        message: "no such endpoint".into(),
        retry_after: None,
        raw: None,
    }
    .into_response()
}
