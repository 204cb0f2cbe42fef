//! "Detect local servers": the usual addresses of local model servers,
//! offered as presets and probed from the server (where the model server
//! usually runs, not the browser).

use crate::gateway::Gateway;
use crate::kinds::Kind;
use crate::probe::{probe, ProbeResult};
use crate::registry::Service;
use serde::Serialize;
use std::time::Duration;

/// A well-known local model server: what the add form is prefilled with.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Preset {
    /// The service kind to create (`custom` for llama.cpp's server).
    pub kind: &'static str,
    pub label: String,
    pub base_url: String,
}

/// Ollama, LM Studio, vLLM and llama.cpp at their default ports.
pub fn local_presets() -> Vec<Preset> {
    [
        (Kind::Ollama, "Ollama", "http://127.0.0.1:11434/v1"),
        (Kind::LmStudio, "LM Studio", "http://127.0.0.1:1234/v1"),
        (Kind::Vllm, "vLLM", "http://127.0.0.1:8000/v1"),
        (Kind::Custom, "llama.cpp server", "http://127.0.0.1:8080/v1"),
    ]
    .into_iter()
    .map(|(kind, label, url)| Preset {
        kind: kind.as_str(),
        label: label.to_owned(),
        base_url: url.to_owned(),
    })
    .collect()
}

/// The presets plus `extra` addresses (configured with `ai.detect_urls`),
/// as `custom` services.
pub fn candidates(extra: &[String]) -> Vec<Preset> {
    let mut all = local_presets();
    for url in extra {
        if !all.iter().any(|p| &p.base_url == url) {
            all.push(Preset {
                kind: Kind::Custom.as_str(),
                label: format!("OpenAI-compatible server at {url}"),
                base_url: url.clone(),
            });
        }
    }
    all
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Detected {
    #[serde(flatten)]
    pub preset: Preset,
    pub probe: ProbeResult,
}

/// Probes every candidate at once, each for at most two seconds, and
/// returns those that answered.
pub async fn detect(gw: &Gateway, candidates: Vec<Preset>) -> Vec<Detected> {
    let probes = candidates.into_iter().map(|preset| async move {
        let svc = probe_service(&preset);
        let result = probe(gw, &svc).await;
        Detected {
            preset,
            probe: result,
        }
    });
    futures_util::future::join_all(probes)
        .await
        .into_iter()
        .filter(|d| d.probe.ok)
        .collect()
}

/// A throw-away service for one probe: no key, short timeouts.
fn probe_service(p: &Preset) -> Service {
    Service {
        id: String::new(),
        name: p.label.clone(),
        kind: Kind::parse(p.kind).unwrap_or(Kind::Custom),
        base_url: p.base_url.clone(),
        api_key: None,
        headers: Vec::new(),
        header_names: Vec::new(),
        default_model: None,
        azure_deployment: None,
        azure_api_version: None,
        connect_timeout: Duration::from_secs(1),
        first_byte_timeout: Duration::from_secs(2),
        idle_timeout: Duration::from_secs(2),
        fallback_id: None,
        updated_at: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_are_valid_kinds_and_extras_are_added_once() {
        for p in local_presets() {
            assert!(Kind::parse(p.kind).is_ok(), "{}", p.kind);
            assert!(
                p.base_url.starts_with("http://127.0.0.1:"),
                "{}",
                p.base_url
            );
        }
        let extra = vec![
            "http://127.0.0.1:8089/v1".to_owned(),
            "http://127.0.0.1:11434/v1".to_owned(),
        ];
        let all = candidates(&extra);
        assert_eq!(all.len(), local_presets().len() + 1);
        assert_eq!(all.last().map(|p| p.kind), Some("custom"));
    }
}
