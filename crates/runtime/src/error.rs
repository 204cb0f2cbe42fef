//! The runtime's error type.

/// What can go wrong talking to the engine.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The engine does not answer (socket missing, refused, timed out).
    #[error("container engine unavailable: {0}")]
    Unavailable(String),
    /// The object does not exist on the engine.
    #[error("{0}")]
    NotFound(String),
    /// The object exists in a conflicting state (name taken, not running…).
    #[error("{0}")]
    Conflict(String),
    /// The image is not present and could not be pulled.
    #[error("image {image} is not available: {message}")]
    ImageUnavailable { image: String, message: String },
    /// The engine refused the request as invalid (bad image reference, limits…).
    #[error("{0}")]
    Invalid(String),
    /// The address range asked for is taken (or the engine has none left).
    #[error("{0}")]
    AddressInUse(String),
    /// Every address range offered for the workspace's network is taken.
    #[error("no free address range for the workspace's network: {0}")]
    NoFreeAddressRange(String),
    /// The workspace was made but would not run (bad image, init exits…).
    #[error("{0}")]
    StartFailed(String),
    /// The engine failed otherwise.
    #[error("container engine error: {0}")]
    Engine(String),
}

/// Files the backend spools (snapshot archives) failing to be written or
/// read: the server's own disk, reported as an engine-side failure.
impl From<std::io::Error> for RuntimeError {
    fn from(e: std::io::Error) -> RuntimeError {
        RuntimeError::Engine(format!("spool file: {e}"))
    }
}

impl From<bollard::errors::Error> for RuntimeError {
    fn from(e: bollard::errors::Error) -> Self {
        use bollard::errors::Error as E;
        match e {
            E::DockerResponseServerError {
                status_code,
                message,
            } => match status_code {
                404 => RuntimeError::NotFound(message),
                409 | 304 => RuntimeError::Conflict(message),
                400 => RuntimeError::Invalid(message),
                _ => RuntimeError::Engine(format!("HTTP {status_code}: {message}")),
            },
            E::SocketNotFoundError(path) => {
                RuntimeError::Unavailable(format!("no socket at {path}"))
            }
            E::RequestTimeoutError => RuntimeError::Unavailable("request timed out".into()),
            E::HyperResponseError { .. } | E::IOError { .. } => {
                RuntimeError::Unavailable(e.to_string())
            }
            other => {
                let msg = other.to_string();
                // Connection failures surface through several wrapper variants
                // depending on the transport; their text is the reliable signal.
                if msg.contains("onnect") || msg.contains("refused") || msg.contains("No such file")
                {
                    RuntimeError::Unavailable(msg)
                } else {
                    RuntimeError::Engine(msg)
                }
            }
        }
    }
}
