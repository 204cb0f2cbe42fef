//! The kinds of service and how each is addressed.

use crate::AiError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    OpenAi,
    AzureOpenAi,
    LmStudio,
    Ollama,
    Vllm,
    Custom,
}

/// What a request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Chat,
    Completions,
    Embeddings,
    Models,
}

impl Endpoint {
    pub fn path(self) -> &'static str {
        match self {
            Endpoint::Chat => "chat/completions",
            Endpoint::Completions => "completions",
            Endpoint::Embeddings => "embeddings",
            Endpoint::Models => "models",
        }
    }

    pub fn can_stream(self) -> bool {
        matches!(self, Endpoint::Chat | Endpoint::Completions)
    }
}

impl Kind {
    pub fn parse(s: &str) -> Result<Kind, AiError> {
        Ok(match s {
            "openai" => Kind::OpenAi,
            "azure_openai" => Kind::AzureOpenAi,
            "lm_studio" => Kind::LmStudio,
            "ollama" => Kind::Ollama,
            "vllm" => Kind::Vllm,
            "custom" => Kind::Custom,
            _ => {
                return Err(AiError::invalid(
                    "invalid_kind",
                    "kind must be openai, azure_openai, lm_studio, ollama, vllm or custom",
                ))
            }
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::OpenAi => "openai",
            Kind::AzureOpenAi => "azure_openai",
            Kind::LmStudio => "lm_studio",
            Kind::Ollama => "ollama",
            Kind::Vllm => "vllm",
            Kind::Custom => "custom",
        }
    }

    /// Where each kind usually listens, when no base URL is given.
    pub fn default_base_url(self) -> Option<&'static str> {
        match self {
            Kind::OpenAi => Some("https://api.openai.com/v1"),
            Kind::LmStudio => Some("http://localhost:1234/v1"),
            Kind::Ollama => Some("http://localhost:11434/v1"),
            Kind::Vllm => Some("http://localhost:8000/v1"),
            Kind::AzureOpenAi | Kind::Custom => None,
        }
    }
}

/// Builds the upstream URL. Azure has two schemes: the classic one with a
/// deployment in the path and `api-version` in the query, and the newer
/// `/openai/v1/` API that looks like OpenAI's (used when no API version is set).
pub fn url(
    kind: Kind,
    base: &str,
    ep: Endpoint,
    deployment: Option<&str>,
    api_version: Option<&str>,
    model: &str,
) -> String {
    let base = base.trim_end_matches('/');
    match kind {
        Kind::AzureOpenAi => {
            // Accept either the resource endpoint or one that already ends in /openai.
            let root = base
                .trim_end_matches("/openai/v1")
                .trim_end_matches("/openai");
            match api_version {
                Some(v) if ep == Endpoint::Models => {
                    format!("{root}/openai/models?api-version={v}")
                }
                Some(v) => {
                    let dep = deployment.filter(|d| !d.is_empty()).unwrap_or(model);
                    format!(
                        "{root}/openai/deployments/{dep}/{}?api-version={v}",
                        ep.path()
                    )
                }
                None => format!("{root}/openai/v1/{}", ep.path()),
            }
        }
        _ => format!("{base}/{}", ep.path()),
    }
}

/// The authentication header for a key: Azure's `api-key`, else a bearer token.
pub fn auth_header(kind: Kind, key: &str) -> (&'static str, String) {
    match kind {
        Kind::AzureOpenAi => ("api-key", key.to_owned()),
        _ => ("authorization", format!("Bearer {key}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_per_kind() {
        assert_eq!(
            url(
                Kind::Ollama,
                "http://h:11434/v1/",
                Endpoint::Chat,
                None,
                None,
                "m"
            ),
            "http://h:11434/v1/chat/completions"
        );
        assert_eq!(
            url(Kind::AzureOpenAi, "https://r.openai.azure.com", Endpoint::Chat, Some("gpt4o"), Some("2024-10-21"), "m"),
            "https://r.openai.azure.com/openai/deployments/gpt4o/chat/completions?api-version=2024-10-21"
        );
        assert_eq!(
            url(
                Kind::AzureOpenAi,
                "https://r.openai.azure.com/openai/v1",
                Endpoint::Embeddings,
                None,
                None,
                "m"
            ),
            "https://r.openai.azure.com/openai/v1/embeddings"
        );
        assert_eq!(
            url(
                Kind::AzureOpenAi,
                "https://r.openai.azure.com",
                Endpoint::Completions,
                None,
                Some("v"),
                "dep"
            ),
            "https://r.openai.azure.com/openai/deployments/dep/completions?api-version=v"
        );
        assert_eq!(auth_header(Kind::AzureOpenAi, "k").0, "api-key");
        assert_eq!(auth_header(Kind::Vllm, "k").1, "Bearer k");
    }
}
