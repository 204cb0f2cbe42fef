//! The runtime conformance suite: the same cases against every backend of
//! `WorkspaceRuntime` — Docker (DOCKER_HOST, which scripts/test starts) and
//! Podman (AICOCKPIT_TEST_PODMAN_HOST) today — as the store's suite does
//! for SQLite and PostgreSQL. A new backend (Kubernetes) is added by giving
//! it an entry point in `backends!` and passing these cases.
//!
//! Each case works under an instance label of its own and removes what it
//! made, also when it fails.

use aicockpit_runtime::{
    ContainerSpec, DockerRuntime, ExecRequest, RuntimeError, WorkspaceRuntime, LABEL_INSTANCE,
    LABEL_MANAGED, LABEL_WORKSPACE,
};
use futures_util::StreamExt;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// A backend under test and an image it holds.
#[derive(Clone)]
struct Backend {
    rt: Arc<dyn WorkspaceRuntime>,
    image: String,
}

fn docker() -> Backend {
    let host =
        std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".into());
    Backend {
        rt: Arc::new(DockerRuntime::new(host)),
        image: std::env::var("AICOCKPIT_TEST_IMAGE")
            .unwrap_or_else(|_| "localhost/aicockpit/base:latest".into()),
    }
}

fn podman() -> Backend {
    let host = std::env::var("AICOCKPIT_TEST_PODMAN_HOST").expect(
        "AICOCKPIT_TEST_PODMAN_HOST must name Podman's API socket (scripts/test starts it)",
    );
    Backend {
        rt: Arc::new(DockerRuntime::new(host)),
        // scripts/podman.sh loads the debootstrap root filesystem there.
        image: "localhost/aicockpit/rootfs:bookworm".into(),
    }
}

/// One workspace's engine objects, named and labelled as the server does,
/// under a test instance of its own; removed on drop.
struct Fixture {
    rt: Arc<dyn WorkspaceRuntime>,
    image: String,
    instance: String,
    id: String,
}

impl Fixture {
    fn new(b: Backend) -> Fixture {
        let u = uuid_like();
        Fixture {
            rt: b.rt,
            image: b.image,
            instance: format!("conf-{}", &u[..10]),
            id: u[10..22].to_owned(),
        }
    }

    fn labels(&self) -> HashMap<String, String> {
        HashMap::from([
            (LABEL_MANAGED.to_owned(), "true".to_owned()),
            (LABEL_INSTANCE.to_owned(), self.instance.clone()),
            (LABEL_WORKSPACE.to_owned(), self.id.clone()),
        ])
    }

    fn name(&self, what: &str) -> String {
        format!("aicockpit-conf-{what}-{}", self.id)
    }

    fn spec(&self) -> ContainerSpec {
        ContainerSpec {
            name: self.name("ws"),
            image: self.image.clone(),
            hostname: "conf".into(),
            user: "1000:1000".into(),
            env: vec![("CONFORMANCE".into(), "yes".into())],
            labels: self.labels(),
            cpu_millis: 500,
            memory_bytes: 256 * 1024 * 1024,
            pids_limit: 128,
            volume: self.name("vol"),
            volume_target: "/workspace".into(),
            network: self.name("net"),
            ports: vec![],
            cap_add: vec![],
        }
    }

    /// Network, volume and a started container: what a workspace is.
    async fn running(&self) -> String {
        let labels = self.labels();
        self.rt
            .ensure_network(&self.name("net"), &labels, None)
            .await
            .expect("network");
        assert!(self
            .rt
            .ensure_volume(&self.name("vol"), &labels)
            .await
            .expect("volume"));
        let cid = self
            .rt
            .create_container(&self.spec())
            .await
            .expect("create");
        self.rt.start_container(&cid).await.expect("start");
        cid
    }

    async fn sh(&self, cid: &str, script: &str) -> (Option<i64>, String, String) {
        let out = self
            .rt
            .exec(cid, &exec(&["sh", "-c", script]))
            .await
            .expect("exec");
        (
            out.exit_code,
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    async fn cleanup(&self) {
        let _ = self.rt.remove_container(&self.name("ws")).await;
        let _ = self.rt.remove_network(&self.name("net")).await;
        let _ = self.rt.remove_volume(&self.name("vol")).await;
    }
}

fn uuid_like() -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    let n = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{:032x}", n ^ (u128::from(std::process::id()) << 64))
        .chars()
        .rev()
        .collect()
}

fn exec(argv: &[&str]) -> ExecRequest {
    ExecRequest {
        argv: argv.iter().map(|s| (*s).to_owned()).collect(),
        cwd: Some("/workspace".into()),
        env: vec![],
        user: None,
        timeout: Duration::from_secs(20),
        max_output_bytes: 64 * 1024,
    }
}

/// Runs `case` on a fixture and cleans up whatever happens.
async fn with_fixture<F, Fut>(b: Backend, case: F)
where
    F: FnOnce(Arc<Fixture>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let f = Arc::new(Fixture::new(b));
    let outcome = tokio::spawn(case(f.clone())).await;
    f.cleanup().await;
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

// ---- the cases ------------------------------------------------------------

/// Provisioned and started, the workspace runs as asked: labels, user,
/// environment, the data mount, limits.
async fn provision_and_inspect(b: Backend) {
    b.rt.ping().await.expect("the engine answers");
    let present = b.rt.image_exists(&b.image).await.expect("image_exists");
    assert!(present, "{}", b.image);
    with_fixture(b, |f| async move {
        let cid = f.running().await;
        let info =
            f.rt.inspect_container(&cid)
                .await
                .expect("inspect")
                .expect("exists");
        assert!(info.status.is_running(), "{:?}", info.status);
        assert_eq!(info.labels.get(LABEL_INSTANCE), Some(&f.instance));
        assert_eq!(info.labels.get(LABEL_WORKSPACE), Some(&f.id));
        let (code, out, err) = f
            .sh(&cid, "id -u; echo $CONFORMANCE; stat -c %m /workspace")
            .await;
        assert_eq!(code, Some(0), "{err}");
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.first(), Some(&"1000"), "{out}");
        assert_eq!(lines.get(1), Some(&"yes"), "{out}");
        assert_eq!(
            lines.get(2),
            Some(&"/workspace"),
            "the volume is its own mount: {out}"
        );
        let sample = f.rt.sample(&cid).await.expect("sample").expect("running");
        assert!(sample.memory_bytes > 0, "{sample:?}");
        assert_eq!(sample.memory_limit_bytes, 256 * 1024 * 1024, "{sample:?}");
    })
    .await;
}

/// Exec returns exit codes and both streams, caps output, and kills a
/// command at its timeout.
async fn exec_codes_caps_and_timeouts(b: Backend) {
    with_fixture(b, |f| async move {
        let cid = f.running().await;
        let (code, out, err) = f.sh(&cid, "echo out; echo err >&2; exit 7").await;
        assert_eq!(
            (code, out.as_str(), err.as_str()),
            (Some(7), "out\n", "err\n")
        );
        let mut big = exec(&["sh", "-c", "head -c 100000 /dev/zero | tr '\\0' x"]);
        big.max_output_bytes = 1000;
        let o = f.rt.exec(&cid, &big).await.expect("exec");
        assert_eq!(o.stdout.len(), 1000);
        assert!(o.stdout_truncated && o.exit_code == Some(0), "{o:?}");
        let mut slow = exec(&["sleep", "30"]);
        slow.timeout = Duration::from_millis(500);
        let o = f.rt.exec(&cid, &slow).await.expect("exec");
        assert!(o.timed_out && o.exit_code.is_none(), "{o:?}");
        assert!(o.duration < Duration::from_secs(10), "{o:?}");
    })
    .await;
}

/// Attach streams both ways.
async fn attach_streams_both_ways(b: Backend) {
    with_fixture(b, |f| async move {
        let cid = f.running().await;
        let argv = vec![
            "sh".to_owned(),
            "-c".to_owned(),
            "read l; echo got:$l".to_owned(),
        ];
        let mut a = f.rt.attach(&cid, &argv).await.expect("attach");
        a.input.write_all(b"hello\n").await.expect("write");
        a.input.flush().await.expect("flush");
        let mut seen = Vec::new();
        let got = tokio::time::timeout(Duration::from_secs(10), async {
            while let Some(chunk) = a.output.next().await {
                seen.extend_from_slice(&chunk.expect("chunk"));
                if seen.ends_with(b"\n") {
                    break;
                }
            }
        })
        .await;
        assert!(
            got.is_ok(),
            "no answer: {:?}",
            String::from_utf8_lossy(&seen)
        );
        assert_eq!(String::from_utf8_lossy(&seen), "got:hello\n");
    })
    .await;
}

/// A file copied in reads back the same; reads are bounded.
async fn copy_in_and_read_back(b: Backend) {
    with_fixture(b, |f| async move {
        let cid = f.running().await;
        let content: Vec<u8> = (0..70_000u32).map(|i| (i % 251) as u8).collect();
        f.rt.put_file(&cid, "/tmp/conf/deep/file.bin", &content, 0o755)
            .await
            .expect("put_file");
        let back =
            f.rt.read_file(&cid, "/tmp/conf/deep/file.bin", 1 << 20)
                .await
                .expect("read");
        assert_eq!(back.as_deref(), Some(content.as_slice()));
        let (_, mode, _) = f.sh(&cid, "stat -c %a /tmp/conf/deep/file.bin").await;
        assert_eq!(mode.trim(), "755");
        let capped =
            f.rt.read_file(&cid, "/tmp/conf/deep/file.bin", 1000)
                .await
                .expect("read");
        assert_eq!(capped, None, "over the bound is None, never a partial read");
        let missing =
            f.rt.read_file(&cid, "/tmp/conf/nothing", 1000)
                .await
                .expect("read");
        assert_eq!(missing, None);
    })
    .await;
}

/// Stop stops; start again keeps what was written under /workspace; a new
/// container on the same volume sees it too; removing the volume loses it.
async fn data_survives_stop_start_and_recreate(b: Backend) {
    with_fixture(b, |f| async move {
        let cid = f.running().await;
        let (code, _, err) = f.sh(&cid, "echo kept > /workspace/note").await;
        assert_eq!(code, Some(0), "{err}");
        f.rt.stop_container(&cid, 2).await.expect("stop");
        let info =
            f.rt.inspect_container(&cid)
                .await
                .expect("inspect")
                .expect("exists");
        assert!(!info.status.is_running(), "{:?}", info.status);
        assert!(
            f.rt.sample(&cid).await.expect("sample").is_none(),
            "no usage when stopped"
        );
        f.rt.start_container(&cid).await.expect("start again");
        assert_eq!(f.sh(&cid, "cat /workspace/note").await.1, "kept\n");
        // Destroy the container, keep the data: a new one sees it.
        f.rt.remove_container(&cid).await.expect("remove");
        assert!(f
            .rt
            .inspect_container(&cid)
            .await
            .expect("inspect")
            .is_none());
        assert!(
            !f.rt
                .ensure_volume(&f.name("vol"), &f.labels())
                .await
                .expect("volume"),
            "kept"
        );
        let cid = f.rt.create_container(&f.spec()).await.expect("re-create");
        f.rt.start_container(&cid).await.expect("start");
        assert_eq!(f.sh(&cid, "cat /workspace/note").await.1, "kept\n");
        // Destroy with the data.
        f.rt.remove_container(&cid).await.expect("remove");
        f.rt.remove_volume(&f.name("vol"))
            .await
            .expect("remove volume");
        assert!(
            f.rt.ensure_volume(&f.name("vol"), &f.labels())
                .await
                .expect("volume"),
            "new"
        );
    })
    .await;
}

/// Removing what is already gone succeeds (callers retry after crashes);
/// inspecting it says None.
async fn destroy_is_idempotent(b: Backend) {
    with_fixture(b, |f| async move {
        let cid = f.running().await;
        for _ in 0..2 {
            f.rt.remove_container(&cid).await.expect("remove container");
            f.rt.remove_network(&f.name("net"))
                .await
                .expect("remove network");
            f.rt.remove_volume(&f.name("vol"))
                .await
                .expect("remove volume");
        }
        assert!(f
            .rt
            .inspect_container(&cid)
            .await
            .expect("inspect")
            .is_none());
        assert!(f
            .rt
            .inspect_container("aicockpit-conf-never")
            .await
            .expect("inspect")
            .is_none());
    })
    .await;
}

/// Listing by labels finds this instance's workspace and nothing of
/// another instance's.
async fn listing_is_per_instance(b: Backend) {
    with_fixture(b, |f| async move {
        let cid = f.running().await;
        let mine = HashMap::from([(LABEL_INSTANCE.to_owned(), f.instance.clone())]);
        let found = f.rt.list_containers(&mine).await.expect("list");
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].id, cid);
        let nets = f.rt.list_networks(&mine).await.expect("networks");
        assert_eq!(nets.len(), 1, "{nets:?}");
        let other = HashMap::from([(LABEL_INSTANCE.to_owned(), format!("{}-other", f.instance))]);
        assert!(f.rt.list_containers(&other).await.expect("list").is_empty());
        assert!(f
            .rt
            .list_networks(&other)
            .await
            .expect("networks")
            .is_empty());
    })
    .await;
}

/// A subnet another network holds is reported as such, so the pool can
/// move on to the next one.
async fn a_taken_subnet_is_address_in_use(b: Backend) {
    with_fixture(b, |f| async move {
        let labels = f.labels();
        let subnet = format!(
            "10.251.{}.0/28",
            u8::from_str_radix(&f.id[..2], 16).unwrap_or(7) % 250
        );
        f.rt.ensure_network(&f.name("net"), &labels, Some(&subnet))
            .await
            .expect("first");
        // The same network again is fine (idempotent)…
        f.rt.ensure_network(&f.name("net"), &labels, Some(&subnet))
            .await
            .expect("again");
        // …another one on its subnet is not.
        let second = f.name("net2");
        let r = f.rt.ensure_network(&second, &labels, Some(&subnet)).await;
        let _ = f.rt.remove_network(&second).await;
        assert!(matches!(r, Err(RuntimeError::AddressInUse(_))), "{r:?}");
    })
    .await;
}

/// A container whose image does not exist is a clear error, not a hang.
async fn a_missing_image_is_a_clear_error(b: Backend) {
    with_fixture(b, |f| async move {
        assert!(!f
            .rt
            .image_exists("localhost/aicockpit/none:never")
            .await
            .expect("exists?"));
        let labels = f.labels();
        f.rt.ensure_network(&f.name("net"), &labels, None)
            .await
            .expect("network");
        f.rt.ensure_volume(&f.name("vol"), &labels)
            .await
            .expect("volume");
        let mut spec = f.spec();
        spec.image = "localhost/aicockpit/none:never".into();
        let r = tokio::time::timeout(Duration::from_secs(30), f.rt.create_container(&spec)).await;
        let r = r.expect("answers in time");
        assert!(r.is_err(), "{r:?}");
    })
    .await;
}

/// A container whose init exits is seen as exited, with its output.
async fn an_init_that_exits_is_seen(b: Backend) {
    with_fixture(b, |f| async move {
        let labels = f.labels();
        f.rt.ensure_network(&f.name("net"), &labels, None)
            .await
            .expect("network");
        f.rt.ensure_volume(&f.name("vol"), &labels)
            .await
            .expect("volume");
        let cid = f.rt.create_container(&f.spec()).await.expect("create");
        f.rt.start_container(&cid).await.expect("start");
        // Our init runs until stopped: no exit within the window.
        let code =
            f.rt.wait_exited(&cid, Duration::from_millis(300))
                .await
                .expect("wait");
        assert_eq!(code, None);
        f.rt.stop_container(&cid, 1).await.expect("stop");
        let code =
            f.rt.wait_exited(&cid, Duration::from_secs(5))
                .await
                .expect("wait");
        assert!(code.is_some(), "a stopped container has an exit code");
        let _logs =
            f.rt.logs(&cid, 2048)
                .await
                .expect("logs of a stopped container");
    })
    .await;
}

// ---- one test per case and backend ------------------------------------------

macro_rules! backends {
    ($($case:ident),* $(,)?) => {
        mod docker_backend {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(super::docker()).await;
                }
            )*
        }
        mod podman_backend {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(super::podman()).await;
                }
            )*
        }
    };
}

backends!(
    provision_and_inspect,
    exec_codes_caps_and_timeouts,
    attach_streams_both_ways,
    copy_in_and_read_back,
    data_survives_stop_start_and_recreate,
    destroy_is_idempotent,
    listing_is_per_instance,
    a_taken_subnet_is_address_in_use,
    a_missing_image_is_a_clear_error,
    an_init_that_exits_is_seen,
);
