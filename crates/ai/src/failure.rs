//! What went wrong with an AI service, as one closed set of kinds: shown
//! by "test connection", carried by `AiError::Unavailable`, counted in the
//! metrics. The names are stable (they are API and metric labels).

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// The host name does not resolve.
    Dns,
    /// Nothing listens there.
    Refused,
    /// The TLS handshake or certificate failed.
    Tls,
    /// No answer (or no first byte) in time.
    Timeout,
    /// Any other transport failure.
    Connect,
    /// The key was refused (401/403).
    Unauthorized,
    /// No such endpoint, or no such model.
    NotFound,
    /// Another non-2xx status.
    HttpError,
    /// The answer is not what the API promises (not JSON…).
    InvalidResponse,
    /// A non-streamed answer was broken off.
    Disconnected,
    /// A stream went quiet for longer than the idle timeout.
    IdleTimeout,
    /// A stream ended or broke off early.
    UpstreamDisconnected,
    /// A stream sent something no valid stream holds.
    InvalidStream,
    /// The service reported an error inside its stream.
    UpstreamErrorInStream,
    /// The service answered with an error status.
    UpstreamError,
    /// Rate limited (by us or the service).
    RateLimited,
    /// Anything else.
    Error,
}

impl FailureKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::Dns => "dns",
            FailureKind::Refused => "refused",
            FailureKind::Tls => "tls",
            FailureKind::Timeout => "timeout",
            FailureKind::Connect => "connect",
            FailureKind::Unauthorized => "unauthorized",
            FailureKind::NotFound => "not_found",
            FailureKind::HttpError => "http_error",
            FailureKind::InvalidResponse => "invalid_response",
            FailureKind::Disconnected => "disconnected",
            FailureKind::IdleTimeout => "idle_timeout",
            FailureKind::UpstreamDisconnected => "upstream_disconnected",
            FailureKind::InvalidStream => "invalid_stream",
            FailureKind::UpstreamErrorInStream => "upstream_error_in_stream",
            FailureKind::UpstreamError => "upstream_error",
            FailureKind::RateLimited => "rate_limited",
            FailureKind::Error => "error",
        }
    }
}

impl std::fmt::Display for FailureKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::FailureKind;

    /// The wire name (serde) and the label name (as_str) are one name.
    #[test]
    fn serde_names_are_the_labels() {
        use FailureKind::*;
        for k in [
            Dns,
            Refused,
            Tls,
            Timeout,
            Connect,
            Unauthorized,
            NotFound,
            HttpError,
            InvalidResponse,
            Disconnected,
            IdleTimeout,
            UpstreamDisconnected,
            InvalidStream,
            UpstreamErrorInStream,
            UpstreamError,
            RateLimited,
            Error,
        ] {
            assert_eq!(
                serde_json::to_value(k).ok(),
                Some(serde_json::json!(k.as_str()))
            );
        }
    }
}
