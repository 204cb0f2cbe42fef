//! The API client behind the CLI's commands: connection settings, the saved
//! session, output in text or JSON, and exit codes scripts can rely on.

pub(crate) mod ai;
pub(crate) mod dotfiles;
pub(crate) mod forward;
pub(crate) mod git_credentials;
pub(crate) mod session;
pub(crate) mod ssh;
pub(crate) mod ssh_key;
pub(crate) mod ws;

use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::time::Duration;

/// Exit codes. `ws exec` exits with the command's own code instead.
pub(crate) mod exit {
    pub(crate) const OK: u8 = 0;
    /// Server error, network failure, anything unexpected.
    pub(crate) const FAILURE: u8 = 1;
    /// Bad arguments or input the server refused as invalid (400).
    pub(crate) const USAGE: u8 = 2;
    /// Not logged in, bad token, or not allowed (401, 403).
    pub(crate) const AUTH: u8 = 3;
    /// No such workspace or object (404).
    pub(crate) const NOT_FOUND: u8 = 4;
    /// Conflicts with current state (409): duplicate name, not running…
    pub(crate) const CONFLICT: u8 = 5;
    /// The server or its engine is unavailable (502, 503).
    pub(crate) const UNAVAILABLE: u8 = 6;
    /// `ws exec` hit its timeout (as coreutils' `timeout` does).
    pub(crate) const TIMEOUT: u8 = 124;
}

/// Text for people or JSON for scripts.
#[derive(Clone, Copy)]
pub(crate) struct Output {
    pub json: bool,
}

impl Output {
    pub(crate) fn print(&self, json: &Value, text: &str) {
        if self.json {
            println!("{}", serde_json::to_string_pretty(json).unwrap_or_default());
        } else if !text.is_empty() {
            println!("{text}");
        }
    }
}

/// Runs a command's `body` with a client for `conn`; a failure is
/// reported (on stderr) and becomes the exit code.
pub(crate) async fn with_client<F>(conn: &Connection, body: impl FnOnce(Client) -> F) -> u8
where
    F: std::future::Future<Output = Result<u8, Failure>>,
{
    match Client::from_connection(conn) {
        Ok(c) => body(c).await.unwrap_or_else(Failure::report),
        Err(f) => f.report(),
    }
}

/// Where to connect, from flags/env; the saved session fills the gaps.
pub(crate) struct Connection {
    pub server: Option<String>,
    pub token: Option<String>,
}

/// A failed call, already reduced to what the user sees and the exit code.
pub(crate) struct Failure {
    pub message: String,
    pub code: u8,
}

impl Failure {
    pub(crate) fn report(self) -> u8 {
        eprintln!("error: {}", self.message);
        self.code
    }
}

pub(crate) struct Client {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

fn code_for(status: StatusCode) -> u8 {
    match status.as_u16() {
        400 | 413 | 415 | 422 => exit::USAGE,
        401 | 403 => exit::AUTH,
        404 => exit::NOT_FOUND,
        409 | 412 => exit::CONFLICT,
        502..=504 => exit::UNAVAILABLE,
        _ => exit::FAILURE,
    }
}

impl Client {
    pub(crate) fn new(base: &str, token: Option<String>) -> Result<Client, Failure> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| Failure {
                message: format!("cannot build an HTTP client: {e}"),
                code: exit::FAILURE,
            })?;
        Ok(Client {
            http,
            base: base.trim_end_matches('/').to_owned(),
            token,
        })
    }

    /// The server's base URL (`http://host:port`).
    pub(crate) fn base(&self) -> &str {
        &self.base
    }

    pub(crate) fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// Resolves the connection (flags, env, then the saved session).
    pub(crate) fn from_connection(conn: &Connection) -> Result<Client, Failure> {
        let saved = session::load();
        let server = conn
            .server
            .clone()
            .or_else(|| saved.as_ref().map(|s| s.server.clone()))
            .ok_or_else(|| Failure {
                message: "no server: run `aicockpit login --server URL` or set AICOCKPIT_URL"
                    .into(),
                code: exit::AUTH,
            })?;
        let token = conn.token.clone().or_else(|| saved.map(|s| s.token));
        Client::new(&server, token)
    }

    /// A GET whose successful response is returned as is (event streams).
    pub(crate) async fn get_stream(&self, path: &str) -> Result<reqwest::Response, Failure> {
        let mut req = self.http.get(format!("{}{path}", self.base));
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.map_err(|e| Failure {
            message: format!("cannot reach {}: {e}", self.base),
            code: exit::UNAVAILABLE,
        })?;
        if !resp.status().is_success() {
            return Err(Failure {
                message: format!("HTTP {}", resp.status()),
                code: code_for(resp.status()),
            });
        }
        Ok(resp)
    }

    /// Sends a JSON request and returns the successful response itself (for
    /// streams); errors are read as in [`call`](Self::call).
    pub(crate) async fn raw(
        &self,
        method: Method,
        path: &str,
        body: &Value,
    ) -> Result<reqwest::Response, Failure> {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .json(body);
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.map_err(|e| Failure {
            message: format!("cannot reach {}: {e}", self.base),
            code: exit::UNAVAILABLE,
        })?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        let status = resp.status();
        let v: Value = resp.json().await.unwrap_or(Value::Null);
        let message = v["error"]["message"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| format!("HTTP {status}"));
        Err(Failure {
            message,
            code: code_for(status),
        })
    }

    /// Sends a request and decodes the JSON answer, or turns the server's
    /// `{"error": …}` into a [`Failure`].
    pub(crate) async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<T, Failure> {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(b) = body {
            req = req.json(b);
        }
        self.send(req).await
    }

    /// Streams a file as the body of a POST and decodes the JSON answer.
    pub(crate) async fn post_file<T: DeserializeOwned>(
        &self,
        path: &str,
        content_type: &str,
        file: tokio::fs::File,
    ) -> Result<T, Failure> {
        self.post_body(path, content_type, reqwest::Body::from(file))
            .await
    }

    pub(crate) async fn post_body<T: DeserializeOwned>(
        &self,
        path: &str,
        content_type: &str,
        body: reqwest::Body,
    ) -> Result<T, Failure> {
        let req = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", content_type)
            .body(body);
        self.send(req).await
    }

    async fn send<T: DeserializeOwned>(
        &self,
        mut req: reqwest::RequestBuilder,
    ) -> Result<T, Failure> {
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.map_err(|e| Failure {
            message: format!("cannot reach {}: {e}", self.base),
            code: exit::UNAVAILABLE,
        })?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(|e| Failure {
            message: format!("reading the answer failed: {e}"),
            code: exit::UNAVAILABLE,
        })?;
        if !status.is_success() {
            let message = serde_json::from_slice::<Value>(&bytes)
                .ok()
                .and_then(|v| {
                    let m = v["error"]["message"].as_str()?.to_owned();
                    let c = v["error"]["code"].as_str().unwrap_or("error").to_owned();
                    Some(format!("{m} ({c})"))
                })
                .unwrap_or_else(|| format!("HTTP {status}"));
            return Err(Failure {
                message,
                code: code_for(status),
            });
        }
        let bytes = if bytes.is_empty() {
            &b"null"[..]
        } else {
            &bytes[..]
        };
        serde_json::from_slice(bytes).map_err(|e| Failure {
            message: format!("unexpected answer from the server: {e}"),
            code: exit::FAILURE,
        })
    }
}
