//! Test helpers: the real server on an ephemeral port over a real engine,
//! an HTTP client for its API, and cleanup of everything a test's server
//! instance created on the engine (even when the test panics).

use aicockpit_api::server::App;
use aicockpit_api::AppState;
use aicockpit_core::auth::Role;
use aicockpit_core::config::Config;
use bollard::Docker;
use reqwest::StatusCode;
use serde_json::Value;
use std::collections::HashMap;
use std::time::Duration;

/// The engine the tests use (scripts/test sets DOCKER_HOST).
pub fn engine_host() -> String {
    std::env::var("DOCKER_HOST")
        .expect("DOCKER_HOST must name the test engine; run the tests with scripts/test")
}

pub async fn docker_for(host: &str) -> Docker {
    let path = host
        .strip_prefix("unix://")
        .expect("a unix:// engine address");
    Docker::connect_with_unix(path, 60, bollard::API_DEFAULT_VERSION)
        .expect("engine socket")
        .negotiate_version()
        .await
        .expect("engine answers")
}

pub async fn docker() -> Docker {
    docker_for(&engine_host()).await
}

pub struct TestServer {
    pub url: String,
    pub state: AppState,
    pub instance: String,
    /// A token of the `admin` user.
    pub admin: String,
    pub engine: String,
    pub data_dir: std::path::PathBuf,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    keep_engine_objects: bool,
    dir: Option<tempfile::TempDir>,
}

impl TestServer {
    /// Runs the CLI against this server as `token`, with a config file of
    /// its own in `dir` (blocking in place: tests run on a multi-thread
    /// runtime).
    pub fn cli_as(
        &self,
        token: &str,
        dir: &std::path::Path,
        args: &[&str],
    ) -> std::process::Output {
        tokio::task::block_in_place(|| {
            std::process::Command::new(env!("CARGO_BIN_EXE_aicockpit"))
                .args(["--server", self.url.as_str()])
                .args(args)
                .env("AICOCKPIT_TOKEN", token)
                .env("AICOCKPIT_CLI_CONFIG", dir.join("cli.json"))
                .output()
                .expect("cli")
        })
    }

    pub async fn start() -> TestServer {
        TestServer::start_with(|_| {}).await
    }

    pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> TestServer {
        // Server logs go to the test's captured output, shown on failure.
        let _ = tracing_subscriber::fmt()
            .with_test_writer()
            .with_env_filter(tracing_subscriber::EnvFilter::new(
                std::env::var("AICOCKPIT_LOG").unwrap_or_else(|_| "warn".into()),
            ))
            .try_init();
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = Config::default();
        config.server.data_dir = Some(dir.path().to_path_buf());
        config.engine.host = Some(engine_host());
        config.engine.stop_timeout_secs = 2;
        // Tests drive reconciliation themselves; the background loop only
        // has to not get in the way.
        config.workspaces.reconcile_interval_secs = 3600;
        adjust(&mut config);
        let engine = config.engine_host();
        let app = App::build(config).await.expect("server builds");
        let state = app.state.clone();
        let instance = state.workspaces.instance().to_owned();
        // The generated first admin must choose a password before anything
        // else; set one from the console, as an operator would.
        state
            .auth
            .set_password("system", "admin", "admin-password-1")
            .await
            .expect("admin password");
        let admin_user = state
            .auth
            .user_by_name("admin")
            .await
            .expect("bootstrap admin");
        let admin = state
            .auth
            .create_api_token("system", &admin_user.id, "tests", None)
            .await
            .expect("admin token")
            .secret;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = app
                .serve(listener, async {
                    let _ = rx.await;
                })
                .await;
        });
        TestServer {
            url,
            state,
            instance,
            admin,
            engine,
            data_dir: dir.path().to_path_buf(),
            shutdown: Some(tx),
            task: Some(task),
            keep_engine_objects: false,
            dir: Some(dir),
        }
    }

    /// Creates a user with `role` and returns an API token for them.
    pub async fn user(&self, name: &str, role: Role) -> String {
        let u = self
            .state
            .auth
            .create_user("system", name, "password-123", role, false)
            .await
            .expect("create user");
        self.state
            .auth
            .create_api_token("system", &u.id, "tests", None)
            .await
            .expect("token")
            .secret
    }

    pub fn api(&self, token: &str) -> Api {
        Api {
            http: reqwest::Client::new(),
            base: self.url.clone(),
            token: Some(token.to_owned()),
        }
    }

    pub fn anonymous(&self) -> Api {
        Api {
            http: reqwest::Client::new(),
            base: self.url.clone(),
            token: None,
        }
    }

    pub fn admin_api(&self) -> Api {
        self.api(&self.admin)
    }

    /// Stops serving and leaves the containers running, as a server
    /// restart would; a later server on the same database cleans up.
    /// Returns the data dir, which then outlives this server.
    pub async fn stop_keeping_containers(mut self) -> Option<tempfile::TempDir> {
        self.keep_engine_objects = true;
        let dir = self.dir.take();
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(30), t).await;
        }
        dir
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if !self.keep_engine_objects {
            cleanup_instance(&self.engine, &self.instance);
        }
    }
}

/// Removes every container, network and volume labelled with `instance`.
/// Runs on a thread of its own so it works from `Drop` in async tests.
pub fn cleanup_instance(engine: &str, instance: &str) {
    let engine = engine.to_owned();
    let instance = instance.to_owned();
    let _ = std::thread::spawn(move || {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        rt.block_on(async move {
            use bollard::query_parameters::*;
            let d = docker_for(&engine).await;
            let filters: HashMap<String, Vec<String>> = HashMap::from([(
                "label".to_string(),
                vec![format!("io.aicockpit.instance={instance}")],
            )]);
            let cs = d
                .list_containers(Some(
                    ListContainersOptionsBuilder::default()
                        .all(true)
                        .filters(&filters)
                        .build(),
                ))
                .await
                .unwrap_or_default();
            for c in cs {
                if let Some(id) = c.id {
                    let _ = d
                        .remove_container(
                            &id,
                            Some(RemoveContainerOptionsBuilder::default().force(true).build()),
                        )
                        .await;
                }
            }
            let nets = d
                .list_networks(Some(
                    ListNetworksOptionsBuilder::default()
                        .filters(&filters)
                        .build(),
                ))
                .await
                .unwrap_or_default();
            for n in nets {
                if let Some(name) = n.name {
                    let _ = d.remove_network(&name).await;
                }
            }
            let vols = d
                .list_volumes(Some(
                    ListVolumesOptionsBuilder::default()
                        .filters(&filters)
                        .build(),
                ))
                .await
                .ok()
                .and_then(|v| v.volumes)
                .unwrap_or_default();
            for v in vols {
                let _ = d
                    .remove_volume(
                        &v.name,
                        Some(RemoveVolumeOptionsBuilder::default().force(true).build()),
                    )
                    .await;
            }
            // Snapshot images carry the instance label of the container
            // they were committed from.
            let images = d
                .list_images(Some(
                    ListImagesOptionsBuilder::default()
                        .filters(&filters)
                        .build(),
                ))
                .await
                .unwrap_or_default();
            for i in images {
                for tag in i.repo_tags {
                    let _ = d
                        .remove_image(
                            &tag,
                            Some(RemoveImageOptionsBuilder::default().force(true).build()),
                            None,
                        )
                        .await;
                }
            }
        });
    })
    .join();
}

/// A thin JSON client for the API.
pub struct Api {
    http: reqwest::Client,
    pub base: String,
    token: Option<String>,
}

impl Api {
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    fn req(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let r = self.http.request(method, format!("{}{path}", self.base));
        match &self.token {
            Some(t) => r.bearer_auth(t),
            None => r,
        }
    }

    async fn finish(r: reqwest::RequestBuilder) -> (StatusCode, Value) {
        let resp = r.send().await.expect("request sent");
        let status = resp.status();
        let bytes = resp.bytes().await.expect("body");
        let v = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        (status, v)
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        Api::finish(self.req(reqwest::Method::GET, path)).await
    }

    pub async fn get_text(&self, path: &str) -> (StatusCode, String) {
        let resp = self
            .req(reqwest::Method::GET, path)
            .send()
            .await
            .expect("sent");
        (resp.status(), resp.text().await.expect("text"))
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        Api::finish(self.req(reqwest::Method::POST, path).json(&body)).await
    }

    pub async fn put(&self, path: &str, body: Value) -> (StatusCode, Value) {
        Api::finish(self.req(reqwest::Method::PUT, path).json(&body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> (StatusCode, Value) {
        Api::finish(self.req(reqwest::Method::PATCH, path).json(&body)).await
    }

    pub async fn post_empty(&self, path: &str) -> (StatusCode, Value) {
        Api::finish(self.req(reqwest::Method::POST, path)).await
    }

    pub async fn post_raw(
        &self,
        path: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> (StatusCode, Value) {
        let mut r = self.req(reqwest::Method::POST, path).body(body);
        if let Some(ct) = content_type {
            r = r.header("content-type", ct);
        }
        Api::finish(r).await
    }

    pub async fn delete(&self, path: &str) -> (StatusCode, Value) {
        Api::finish(self.req(reqwest::Method::DELETE, path)).await
    }

    /// Creates a workspace from the base template and asserts it runs.
    pub async fn create_ws(&self, name: &str) -> Value {
        let (s, w) = self
            .post(
                "/api/v1/workspaces",
                serde_json::json!({"name": name, "template": "base"}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "create {name}: {w}");
        assert_eq!(w["state"], "running", "{w}");
        w
    }

    /// Runs `sh -c script` in a workspace; returns (exit code, stdout, stderr).
    pub async fn sh(&self, ws: &str, script: &str) -> (i64, String, String) {
        let (s, r) = self
            .post(
                &format!("/api/v1/workspaces/{ws}/exec"),
                serde_json::json!({"argv": ["sh", "-c", script]}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "exec {script}: {r}");
        (
            r["exit_code"].as_i64().unwrap_or(-1),
            r["stdout"].as_str().unwrap_or_default().to_owned(),
            r["stderr"].as_str().unwrap_or_default().to_owned(),
        )
    }
}

/// Asserts the `{"error": {"code", "message"}}` shape and the code.
pub fn assert_error(status: StatusCode, body: &Value, want_status: StatusCode, want_code: &str) {
    assert_eq!(status, want_status, "{body}");
    assert_eq!(body["error"]["code"], want_code, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "error without message: {body}"
    );
}
