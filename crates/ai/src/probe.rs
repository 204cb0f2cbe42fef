//! "Test connection": one real, minimal call (the models list) and an exact
//! account of what went wrong if it failed.

use crate::failure::FailureKind;
use crate::gateway::Gateway;
use crate::kinds::{self, Endpoint};
use crate::registry::Service;
use serde::Serialize;
use std::time::Instant;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ProbeResult {
    pub ok: bool,
    pub latency_ms: f64,
    pub models: Vec<String>,
    /// Whether the default model is among them (None: no default, or the
    /// service does not list models).
    pub default_model_found: Option<bool>,
    /// `dns`, `refused`, `tls`, `timeout`, `connect`, `unauthorized`,
    /// `not_found`, `http_error`, `invalid_response`.
    pub error_kind: Option<FailureKind>,
    pub error: Option<String>,
    pub status: Option<u16>,
}

/// Classifies a transport error by walking its causes.
pub fn classify(e: &reqwest::Error) -> FailureKind {
    if e.is_timeout() {
        return FailureKind::Timeout;
    }
    let mut text = e.to_string().to_lowercase();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        text.push_str(" / ");
        text.push_str(&s.to_string().to_lowercase());
        src = s.source();
    }
    if text.contains("dns")
        || text.contains("failed to lookup")
        || text.contains("name or service not known")
    {
        FailureKind::Dns
    } else if text.contains("refused") {
        FailureKind::Refused
    } else if text.contains("certificate")
        || text.contains("tls")
        || text.contains("handshake")
        || text.contains("ssl")
    {
        FailureKind::Tls
    } else if text.contains("timed out") {
        FailureKind::Timeout
    } else {
        FailureKind::Connect
    }
}

/// A models list larger than this is not one (whoever answers on a probed
/// address may send anything).
const MAX_MODELS_BYTES: usize = 4 << 20;

/// The body, unless it exceeds `max` or breaks off.
async fn read_bounded(resp: reqwest::Response, max: usize) -> Option<Vec<u8>> {
    use futures_util::StreamExt;
    let mut body = Vec::new();
    let mut stream = resp.bytes_stream();
    while let Some(chunk) = stream.next().await {
        body.extend_from_slice(&chunk.ok()?);
        if body.len() > max {
            return None;
        }
    }
    Some(body)
}

pub async fn probe(gw: &Gateway, svc: &Service) -> ProbeResult {
    let url = kinds::url(
        svc.kind,
        &svc.base_url,
        Endpoint::Models,
        svc.azure_deployment.as_deref(),
        svc.azure_api_version.as_deref(),
        "",
    );
    let started = Instant::now();
    let mut r = ProbeResult {
        ok: false,
        latency_ms: 0.0,
        models: Vec::new(),
        default_model_found: None,
        error_kind: None,
        error: None,
        status: None,
    };
    let resp = match gw
        .request(svc, reqwest::Method::GET, &url)
        .timeout(svc.first_byte_timeout)
        .send()
        .await
    {
        Ok(resp) => resp,
        Err(e) => {
            r.latency_ms = started.elapsed().as_secs_f64() * 1000.0;
            r.error_kind = Some(classify(&e));
            r.error = Some(format!(
                "{}: {e}",
                r.error_kind.unwrap_or(FailureKind::Connect)
            ));
            return r;
        }
    };
    let status = resp.status();
    let Some(body) = read_bounded(resp, MAX_MODELS_BYTES).await else {
        r.latency_ms = started.elapsed().as_secs_f64() * 1000.0;
        r.status = Some(status.as_u16());
        r.error_kind = Some(FailureKind::InvalidResponse);
        r.error = Some(format!(
            "the answer is larger than {} MiB or broke off",
            MAX_MODELS_BYTES >> 20
        ));
        return r;
    };
    r.latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    r.status = Some(status.as_u16());
    if !status.is_success() {
        r.error_kind = Some(match status.as_u16() {
            401 | 403 => FailureKind::Unauthorized,
            404 => FailureKind::NotFound,
            _ => FailureKind::HttpError,
        });
        let detail = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
            .unwrap_or_else(|| String::from_utf8_lossy(&body).chars().take(300).collect());
        r.error = Some(format!("HTTP {status}: {detail}"));
        return r;
    }
    match serde_json::from_slice::<serde_json::Value>(&body) {
        Ok(v) => {
            r.models = v["data"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|m| m["id"].as_str().map(str::to_owned))
                .collect();
            r.ok = true;
            if let Some(dm) = &svc.default_model {
                r.default_model_found = Some(r.models.iter().any(|m| m == dm));
                if r.default_model_found == Some(false) && !r.models.is_empty() {
                    r.error_kind = Some(FailureKind::NotFound);
                    r.error = Some(format!("the service answers, but has no model {dm:?}"));
                }
            }
        }
        Err(e) => {
            r.error_kind = Some(FailureKind::InvalidResponse);
            r.error = Some(format!("the answer is not JSON: {e}"));
        }
    }
    r
}
