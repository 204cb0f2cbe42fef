//! What the benchmarks share: the real server in-process on a real socket,
//! and percentiles.
#![allow(dead_code, unreachable_pub)] // each bench uses a different part

use aicockpit_api::server::App;
use aicockpit_core::config::Config;
use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{CreateContainerOptionsBuilder, RemoveContainerOptionsBuilder};
use futures_util::StreamExt;
use std::time::{Duration, Instant};

/// Latency samples.
pub struct Stats(pub Vec<Duration>);

impl Stats {
    pub fn pct(&self, p: f64) -> f64 {
        let mut v: Vec<f64> = self.0.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
        pct(&mut v, p)
    }

    pub fn line(&self, what: &str) {
        println!(
            "{what:<46} median {:>8.3} ms   p95 {:>8.3} ms   p99 {:>8.3} ms   (n={})",
            self.pct(0.5),
            self.pct(0.95),
            self.pct(0.99),
            self.0.len()
        );
    }
}

/// The `p` quantile of milliseconds (sorts in place).
pub fn pct(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() - 1) as f64 * p).round() as usize]
}

/// A running server: its address, an admin token, and how to stop it.
pub struct Server {
    pub addr: std::net::SocketAddr,
    pub token: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    _dir: tempfile::TempDir,
}

impl Server {
    pub async fn start(adjust: impl FnOnce(&mut Config)) -> Server {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = Config::default();
        config.server.data_dir = Some(dir.path().to_path_buf());
        config.log.level = "error".into();
        adjust(&mut config);
        let app = App::build(config).await.expect("app");
        // The generated first admin must choose a password first.
        app.state
            .auth
            .set_password("system", "admin", "bench-password-1")
            .await
            .expect("admin password");
        let admin = app.state.auth.user_by_name("admin").await.expect("admin");
        let token = app
            .state
            .auth
            .create_api_token("system", &admin.id, "bench", None)
            .await
            .expect("token")
            .secret;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(app.serve(listener, async {
            let _ = rx.await;
        }));
        Server {
            addr,
            token,
            stop: Some(tx),
            task,
            _dir: dir,
        }
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.task).await;
    }
}

/// A client of the engine itself, for the floors measured beside ours.
pub async fn engine(host: &str) -> bollard::Docker {
    let path = host.strip_prefix("unix://").expect("unix engine");
    bollard::Docker::connect_with_unix(path, 60, bollard::API_DEFAULT_VERSION)
        .expect("connect")
        .negotiate_version()
        .await
        .expect("negotiate")
}

/// create + start + first `exec true` straight on the engine API: the floor.
pub async fn engine_floor(host: &str, image: &str, n: usize) -> Stats {
    let d = engine(host).await;
    let mut out = Vec::new();
    for i in 0..n {
        let name = format!("aicockpit-bench-floor-{}-{i}", std::process::id());
        let t = Instant::now();
        let body = ContainerCreateBody {
            image: Some(image.into()),
            cmd: Some(vec!["sleep".into(), "infinity".into()]),
            host_config: Some(HostConfig {
                init: Some(true),
                ..Default::default()
            }),
            ..Default::default()
        };
        let id = d
            .create_container(
                Some(CreateContainerOptionsBuilder::default().name(&name).build()),
                body,
            )
            .await
            .expect("create")
            .id;
        d.start_container(&id, None).await.expect("start");
        let exec = d
            .create_exec(
                &id,
                bollard::exec::CreateExecOptions::<String> {
                    cmd: Some(vec!["true".into()]),
                    attach_stdout: Some(true),
                    ..Default::default()
                },
            )
            .await
            .expect("exec");
        if let bollard::exec::StartExecResults::Attached { mut output, .. } =
            d.start_exec(&exec.id, None).await.expect("start exec")
        {
            while output.next().await.is_some() {}
        }
        out.push(t.elapsed());
        d.remove_container(
            &id,
            Some(RemoveContainerOptionsBuilder::default().force(true).build()),
        )
        .await
        .expect("remove");
    }
    Stats(out)
}

/// POSTs JSON with a token and returns the answer, which must be a success.
pub async fn post(
    c: &reqwest::Client,
    url: String,
    token: &str,
    body: serde_json::Value,
) -> serde_json::Value {
    let r = c
        .post(url)
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("request");
    let status = r.status();
    let v: serde_json::Value = r.json().await.expect("json");
    assert!(status.is_success(), "{status}: {v}");
    v
}
