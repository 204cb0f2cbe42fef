//! The web app: embedded files, and `index.html` for every other page path
//! so that deep links (`/w/<id>?file=…`) work. API paths and paths with a
//! file extension that do not exist are 404s, never the app.

use crate::error::ApiError;
use crate::AppState;
use axum::extract::State;
use axum::http::{header, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use std::path::{Component, Path};

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
img-src 'self' data: blob:; font-src 'self' data:; worker-src 'self' blob:; connect-src 'self' ws: wss:; \
frame-ancestors 'none'; base-uri 'self'; form-action 'self'";

/// The page policy: [`CSP`], and the preview origins the IDE's panel may
/// frame (`*.<previews.base_domain>`, when set and a plain host name).
fn page_policy(base_domain: &str) -> String {
    let plain = !base_domain.is_empty()
        && base_domain
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
    if plain {
        format!("{CSP}; frame-src http://*.{base_domain}:* https://*.{base_domain}:*")
    } else {
        format!("{CSP}; frame-src 'none'")
    }
}

fn respond(bytes: Vec<u8>, mime: &str, immutable: bool, page: Option<&str>) -> Response {
    let mut r = bytes.into_response();
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(mime) {
        h.insert(header::CONTENT_TYPE, v);
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(if immutable {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        }),
    );
    if let Some(policy) = page {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_str(policy).unwrap_or(HeaderValue::from_static(CSP)),
        );
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    r
}

fn from_dir(dir: &Path, path: &str) -> Option<(Vec<u8>, String)> {
    let rel = Path::new(path.trim_start_matches('/'));
    if !rel.components().all(|c| matches!(c, Component::Normal(_))) {
        return None;
    }
    let rel = if rel.as_os_str().is_empty() {
        Path::new("index.html")
    } else {
        rel
    };
    let file = dir.join(rel);
    let bytes = std::fs::read(&file).ok()?;
    let mime = match file.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript",
        Some("css") => "text/css",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("json") => "application/json",
        Some("ttf") => "font/ttf",
        Some("woff2") => "font/woff2",
        _ => "application/octet-stream",
    };
    Some((bytes, mime.to_owned()))
}

fn lookup(s: &AppState, path: &str) -> Option<(Vec<u8>, String, bool)> {
    match &s.web_dir {
        Some(dir) => from_dir(dir, path).map(|(b, m)| (b, m, false)),
        None => aicockpit_web::get(path).map(|a| (a.bytes.into_owned(), a.mime, a.immutable)),
    }
}

pub(crate) async fn serve(State(s): State<AppState>, method: Method, uri: Uri) -> Response {
    let path = uri.path();
    if path.starts_with("/api/")
        || path.starts_with("/v1/")
        || (method != Method::GET && method != Method::HEAD)
    {
        return ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint")
            .into_response();
    }
    let policy = page_policy(&s.previews.config().base_domain);
    if let Some((bytes, mime, immutable)) = lookup(&s, path) {
        let page = mime.starts_with("text/html").then_some(policy.as_str());
        return respond(bytes, &mime, immutable, page);
    }
    let last = path.rsplit('/').next().unwrap_or("");
    if last.contains('.') {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    }
    match lookup(&s, "index.html") {
        Some((bytes, mime, _)) => respond(bytes, &mime, false, Some(&policy)),
        None => respond(
            aicockpit_web::NOT_BUILT.as_bytes().to_vec(),
            "text/html; charset=utf-8",
            false,
            Some(&policy),
        ),
    }
}
