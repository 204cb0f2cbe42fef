//! The runtime conformance suite: the same cases against every backend of
//! `WorkspaceRuntime` — Docker (DOCKER_HOST, which scripts/test starts) and
//! Podman (AICOCKPIT_TEST_PODMAN_HOST) today — as the store's suite does
//! for SQLite and PostgreSQL. A new backend (Kubernetes) is added by giving
//! it an entry point in `backends!` and passing these cases. The cases use
//! only the trait: how a backend builds a workspace is its own business.
//!
//! Each case works as an installation of its own and destroys what it made,
//! also when it fails.

use aicockpit_runtime::{
    DataSeed, DockerRuntime, ExecRequest, Limits, RuntimeError, SnapshotRequest, WorkspaceRuntime,
    WorkspaceSpec,
};
use futures_util::StreamExt;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// A backend under test: how to open it as an installation, and an image
/// it holds.
#[derive(Clone)]
struct Backend {
    open: fn(&str) -> Arc<dyn WorkspaceRuntime>,
    image: String,
}

fn docker() -> Backend {
    Backend {
        open: |instance| {
            let host = std::env::var("DOCKER_HOST")
                .unwrap_or_else(|_| "unix:///var/run/docker.sock".into());
            Arc::new(DockerRuntime::new(host, instance))
        },
        image: std::env::var("AICOCKPIT_TEST_IMAGE")
            .unwrap_or_else(|_| "localhost/aicockpit/base:latest".into()),
    }
}

fn podman() -> Backend {
    Backend {
        open: |instance| {
            let host = std::env::var("AICOCKPIT_TEST_PODMAN_HOST").expect(
                "AICOCKPIT_TEST_PODMAN_HOST must name Podman's API socket (scripts/test starts it)",
            );
            Arc::new(DockerRuntime::new(host, instance))
        },
        // scripts/podman.sh loads the debootstrap root filesystem there.
        image: "localhost/aicockpit/rootfs:bookworm".into(),
    }
}

/// One installation with workspaces of its own; destroyed on cleanup.
struct Fixture {
    backend: Backend,
    rt: Arc<dyn WorkspaceRuntime>,
    image: String,
    instance: String,
    /// The case's main workspace id; `other(n)` names more.
    id: String,
}

impl Fixture {
    fn new(b: Backend) -> Fixture {
        let u = uuid_like();
        let instance = format!("conf-{}", &u[..10]);
        Fixture {
            rt: (b.open)(&instance),
            image: b.image.clone(),
            backend: b,
            instance,
            id: u[10..22].to_owned(),
        }
    }

    fn other(&self, n: u8) -> String {
        format!("{}x{n}", self.id)
    }

    fn spec(&self) -> WorkspaceSpec {
        self.spec_for(&self.id)
    }

    fn spec_for(&self, id: &str) -> WorkspaceSpec {
        WorkspaceSpec {
            id: id.to_owned(),
            image: self.image.clone(),
            hostname: "conf".into(),
            user: "1000:1000".into(),
            env: vec![("CONFORMANCE".into(), "yes".into())],
            limits: Limits {
                cpu_millis: 500,
                memory_bytes: 256 * 1024 * 1024,
                pids: 128,
            },
            data_dir: "/workspace".into(),
            own_new_data: false,
            verify_start: true,
            ports: vec![],
            subnets: vec![],
            annotations: vec![("name".into(), "conf".into())],
            seed: None,
            volumes: vec![],
            extra_capabilities: vec![],
        }
    }

    /// A provisioned, running workspace: its handle.
    async fn running(&self) -> String {
        let made = self.rt.provision(&self.spec()).await.expect("provision");
        assert!(made.data_created, "new data for a new workspace");
        made.handle
    }

    async fn sh(&self, handle: &str, script: &str) -> (Option<i64>, String, String) {
        let out = self
            .rt
            .exec(handle, &exec(&["sh", "-c", script]))
            .await
            .expect("exec");
        (
            out.exit_code,
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// The workspaces the backend lists for this installation.
    async fn listed(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .rt
            .list()
            .await
            .expect("list")
            .into_iter()
            .map(|p| p.workspace)
            .collect();
        ids.sort();
        ids
    }

    async fn cleanup(&self) {
        for id in [self.id.clone(), self.other(1), self.other(2)] {
            let _ = self.rt.destroy(&id, false).await;
        }
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

/// Provisioned, the workspace runs as asked: user, environment, its data
/// mounted at the data dir, limits; inspect and list know it.
async fn provision_and_inspect(b: Backend) {
    with_fixture(b, |f| async move {
        f.rt.ping().await.expect("the backend answers");
        f.rt.ensure_image(&f.image, &|_| {})
            .await
            .expect("the image is there");
        let handle = f.running().await;
        let info =
            f.rt.inspect(&handle)
                .await
                .expect("inspect")
                .expect("exists");
        assert!(info.status.is_running(), "{:?}", info.status);
        assert_eq!(info.workspace.as_deref(), Some(f.id.as_str()));
        assert_eq!(info.handle, handle);
        let (code, out, err) = f
            .sh(
                &handle,
                "id -u; echo $CONFORMANCE; stat -c %m /workspace; pwd",
            )
            .await;
        assert_eq!(code, Some(0), "{err}");
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.first(), Some(&"1000"), "{out}");
        assert_eq!(lines.get(1), Some(&"yes"), "{out}");
        assert_eq!(
            lines.get(2),
            Some(&"/workspace"),
            "the data is its own mount: {out}"
        );
        let usage = f.rt.usage(&handle).await.expect("usage").expect("running");
        assert!(usage.memory_bytes > 0, "{usage:?}");
        assert_eq!(usage.memory_limit_bytes, 256 * 1024 * 1024, "{usage:?}");
        let present = f.rt.list().await.expect("list");
        assert_eq!(present.len(), 1, "{present:?}");
        assert_eq!(present[0].workspace, f.id);
        assert_eq!(
            present[0].info.as_ref().map(|i| i.handle.as_str()),
            Some(handle.as_str())
        );
    })
    .await;
}

/// Exec returns exit codes and both streams, caps output, and kills a
/// command at its timeout.
async fn exec_codes_caps_and_timeouts(b: Backend) {
    with_fixture(b, |f| async move {
        let h = f.running().await;
        let (code, out, err) = f.sh(&h, "echo out; echo err >&2; exit 7").await;
        assert_eq!(
            (code, out.as_str(), err.as_str()),
            (Some(7), "out\n", "err\n")
        );
        let mut big = exec(&["sh", "-c", "head -c 100000 /dev/zero | tr '\\0' x"]);
        big.max_output_bytes = 1000;
        let o = f.rt.exec(&h, &big).await.expect("exec");
        assert_eq!(o.stdout.len(), 1000);
        assert!(o.stdout_truncated && o.exit_code == Some(0), "{o:?}");
        let mut slow = exec(&["sleep", "30"]);
        slow.timeout = Duration::from_millis(500);
        let o = f.rt.exec(&h, &slow).await.expect("exec");
        assert!(o.timed_out && o.exit_code.is_none(), "{o:?}");
        assert!(o.duration < Duration::from_secs(10), "{o:?}");
    })
    .await;
}

/// Attach streams both ways.
async fn attach_streams_both_ways(b: Backend) {
    with_fixture(b, |f| async move {
        let h = f.running().await;
        let argv = vec![
            "sh".to_owned(),
            "-c".to_owned(),
            "read l; echo got:$l".to_owned(),
        ];
        let mut a = f.rt.attach(&h, &argv).await.expect("attach");
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
        let h = f.running().await;
        let content: Vec<u8> = (0..70_000u32).map(|i| (i % 251) as u8).collect();
        f.rt.put_file(&h, "/tmp/conf/deep/file.bin", &content, 0o755)
            .await
            .expect("put_file");
        let back =
            f.rt.read_file(&h, "/tmp/conf/deep/file.bin", 1 << 20)
                .await
                .expect("read");
        assert_eq!(back.as_deref(), Some(content.as_slice()));
        let (_, mode, _) = f.sh(&h, "stat -c %a /tmp/conf/deep/file.bin").await;
        assert_eq!(mode.trim(), "755");
        let capped =
            f.rt.read_file(&h, "/tmp/conf/deep/file.bin", 1000)
                .await
                .expect("read");
        assert_eq!(capped, None, "over the bound is None, never a partial read");
        let missing =
            f.rt.read_file(&h, "/tmp/conf/nothing", 1000)
                .await
                .expect("read");
        assert_eq!(missing, None);
    })
    .await;
}

/// Stop stops; start again keeps what was written in the data dir;
/// destroyed with its data kept, a workspace of the same id provisioned
/// again sees it; destroyed with its data, it is gone.
async fn data_survives_stop_start_and_reprovision(b: Backend) {
    with_fixture(b, |f| async move {
        let h = f.running().await;
        let (code, _, err) = f.sh(&h, "echo kept > /workspace/note").await;
        assert_eq!(code, Some(0), "{err}");
        f.rt.stop(&h, Duration::from_secs(2)).await.expect("stop");
        f.rt.stop(&h, Duration::from_secs(2))
            .await
            .expect("stopping a stopped workspace is fine");
        let info = f.rt.inspect(&h).await.expect("inspect").expect("exists");
        assert!(!info.status.is_running(), "{:?}", info.status);
        assert!(
            f.rt.usage(&h).await.expect("usage").is_none(),
            "no usage when stopped"
        );
        f.rt.start(&h).await.expect("start again");
        f.rt.start(&h)
            .await
            .expect("starting a running workspace is fine");
        assert_eq!(f.sh(&h, "cat /workspace/note").await.1, "kept\n");

        f.rt.destroy(&f.id, true).await.expect("destroy, keep data");
        assert!(f.rt.inspect(&h).await.expect("inspect").is_none());
        let again = f.rt.provision(&f.spec()).await.expect("provision again");
        assert!(!again.data_created, "the kept data is reused");
        assert_eq!(f.sh(&again.handle, "cat /workspace/note").await.1, "kept\n");

        f.rt.destroy(&f.id, false).await.expect("destroy with data");
        let fresh = f.rt.provision(&f.spec()).await.expect("provision anew");
        assert!(fresh.data_created);
        let (code, _, _) = f.sh(&fresh.handle, "test -e /workspace/note").await;
        assert_eq!(code, Some(1), "the data went with the workspace");
    })
    .await;
}

/// Destroying what is already gone succeeds (callers retry after crashes);
/// inspecting it says None and listing no longer shows it.
async fn destroy_is_idempotent(b: Backend) {
    with_fixture(b, |f| async move {
        let h = f.running().await;
        for _ in 0..2 {
            f.rt.destroy(&f.id, false).await.expect("destroy");
        }
        assert!(f.rt.inspect(&h).await.expect("inspect").is_none());
        assert!(f.listed().await.is_empty(), "{:?}", f.listed().await);
        f.rt.destroy("never-made", false)
            .await
            .expect("destroying what never was");
        assert!(f
            .rt
            .inspect("aicockpit-conf-never")
            .await
            .expect("inspect")
            .is_none());
    })
    .await;
}

/// Listing shows this installation's workspaces and nothing of another's,
/// and another installation cannot destroy them.
async fn listing_is_per_installation(b: Backend) {
    with_fixture(b, |f| async move {
        let h = f.running().await;
        assert_eq!(f.listed().await, vec![f.id.clone()]);
        let other = (f.backend.open)(&format!("{}-other", f.instance));
        assert!(other.list().await.expect("list").is_empty());
        other
            .destroy(&f.id, false)
            .await
            .expect("destroy elsewhere");
        let info = f.rt.inspect(&h).await.expect("inspect");
        assert!(
            info.is_some_and(|i| i.status.is_running()),
            "another installation's destroy left it alone"
        );
    })
    .await;
}

/// The private network takes the first free range offered; when every
/// range is taken provisioning says so and leaves nothing behind.
async fn address_ranges_are_tried_in_order(b: Backend) {
    with_fixture(b, |f| async move {
        let n = u8::from_str_radix(&f.id[..2], 16).unwrap_or(7) % 250;
        let taken = format!("10.251.{n}.0/28");
        let free = format!("10.251.{n}.16/28");
        let mut first = f.spec();
        first.subnets = vec![taken.clone()];
        f.rt.provision(&first).await.expect("first");
        let mut second = f.spec_for(&f.other(1));
        second.subnets = vec![taken.clone(), free];
        let made =
            f.rt.provision(&second)
                .await
                .expect("second, on the free range");
        let (_, addr, _) = f.sh(&made.handle, "hostname -i").await;
        assert!(
            addr.trim().starts_with(&format!("10.251.{n}.")),
            "on the second range: {addr}"
        );
        let mut third = f.spec_for(&f.other(2));
        third.subnets = vec![taken];
        let r = f.rt.provision(&third).await;
        assert!(
            matches!(r, Err(RuntimeError::NoFreeAddressRange(_))),
            "{r:?}"
        );
        assert!(
            !f.listed().await.contains(&f.other(2)),
            "nothing left of the refused one"
        );
    })
    .await;
}

/// A missing image is a clear error, not a hang, and leaves nothing.
async fn a_missing_image_is_a_clear_error(b: Backend) {
    with_fixture(b, |f| async move {
        let none = "localhost/aicockpit/none:never";
        let r = tokio::time::timeout(Duration::from_secs(60), f.rt.ensure_image(none, &|_| {}))
            .await
            .expect("answers in time");
        assert!(
            matches!(r, Err(RuntimeError::ImageUnavailable { .. })),
            "{r:?}"
        );
        let mut spec = f.spec();
        spec.image = none.into();
        let r = tokio::time::timeout(Duration::from_secs(60), f.rt.provision(&spec))
            .await
            .expect("answers in time");
        assert!(r.is_err(), "{r:?}");
        assert!(f.listed().await.is_empty(), "{:?}", f.listed().await);
    })
    .await;
}

/// A workspace the engine cannot start is StartFailed with the reason, and
/// provisioning leaves nothing behind.
async fn a_workspace_that_cannot_run_is_start_failed(b: Backend) {
    with_fixture(b, |f| async move {
        let mut no_user = f.spec();
        no_user.user = "no-such-user-here".into();
        let r = f.rt.provision(&no_user).await;
        assert!(matches!(r, Err(RuntimeError::StartFailed(_))), "{r:?}");
        assert!(f.listed().await.is_empty(), "{:?}", f.listed().await);
    })
    .await;
}

/// New data is given to the workspace's user when asked (images without a
/// data dir of their own).
async fn new_data_is_given_to_the_user(b: Backend) {
    with_fixture(b, |f| async move {
        let mut spec = f.spec();
        spec.own_new_data = true;
        let made = f.rt.provision(&spec).await.expect("provision");
        let (code, _, err) = f.sh(&made.handle, "touch /workspace/mine").await;
        assert_eq!(code, Some(0), "the user can write its data dir: {err}");
    })
    .await;
}

/// Named volumes besides the data: writable by the user when new, kept
/// with the data across a container made again, the workspace's own (the
/// same name elsewhere is another volume), removed with the data, and not
/// listed as kept data of their own.
async fn named_volumes_are_the_workspaces_own(b: Backend) {
    with_fixture(b, |f| async move {
        let with_volume = |id: &str| {
            let mut spec = f.spec_for(id);
            spec.volumes = vec![aicockpit_runtime::NamedVolume {
                name: "cache".into(),
                target: "/home/dev/.cache/tool".into(),
            }];
            spec
        };
        let made =
            f.rt.provision(&with_volume(&f.id))
                .await
                .expect("provision");
        let (code, _, err) = f
            .sh(&made.handle, "echo kept > /home/dev/.cache/tool/note")
            .await;
        assert_eq!(code, Some(0), "the user can write a new volume: {err}");
        f.rt.destroy(&f.id, true).await.expect("destroy, keep data");
        let again = f.rt.provision(&with_volume(&f.id)).await.expect("again");
        assert_eq!(
            f.sh(&again.handle, "cat /home/dev/.cache/tool/note")
                .await
                .1,
            "kept\n"
        );
        let kept: Vec<_> =
            f.rt.data_volumes()
                .await
                .expect("data volumes")
                .into_iter()
                .filter(|v| v.workspace == f.id)
                .collect();
        assert_eq!(kept.len(), 1, "{kept:?}");

        let other = f.other(1);
        let theirs = f.rt.provision(&with_volume(&other)).await.expect("other");
        let (code, _, _) = f
            .sh(&theirs.handle, "test -e /home/dev/.cache/tool/note")
            .await;
        assert_eq!(code, Some(1), "another workspace's volume of the same name");
        f.rt.destroy(&other, false).await.expect("destroy other");

        f.rt.destroy(&f.id, false).await.expect("destroy with data");
        let fresh = f.rt.provision(&with_volume(&f.id)).await.expect("anew");
        let (code, _, _) = f
            .sh(&fresh.handle, "test -e /home/dev/.cache/tool/note")
            .await;
        assert_eq!(code, Some(1), "the volume went with the data");
    })
    .await;
}

/// Kept data is listed with its labels; a new workspace seeded from it
/// starts with a copy (owners, modes and links intact), the kept data is
/// left for the caller to remove, and seeding from nothing is NotFound
/// with nothing left behind.
async fn kept_data_is_listed_and_seeds_a_new_workspace(b: Backend) {
    with_fixture(b, |f| async move {
        let mut spec = f.spec();
        spec.own_new_data = true;
        let made = f.rt.provision(&spec).await.expect("provision");
        let script = "mkdir /workspace/d && echo hi > /workspace/d/f && chmod 0600 /workspace/d/f \
                      && ln -s d/f /workspace/l";
        let (code, _, err) = f.sh(&made.handle, script).await;
        assert_eq!(code, Some(0), "{err}");
        f.rt.destroy(&f.id, true).await.expect("destroy, keep data");
        let listed = f.rt.data_volumes().await.expect("data volumes");
        assert_eq!(listed.len(), 1, "{listed:?}");
        assert_eq!(listed[0].workspace, f.id);
        assert_eq!(listed[0].name.as_deref(), Some("conf"));

        let mut seeded = f.spec_for(&f.other(1));
        seeded.own_new_data = true;
        seeded.seed = Some(DataSeed::Kept(f.id.clone()));
        let made = f.rt.provision(&seeded).await.expect("provision seeded");
        assert!(made.data_created);
        let (code, out, err) = f
            .sh(
                &made.handle,
                "cat /workspace/l; stat -c '%u %a' /workspace/d/f; touch /workspace/new",
            )
            .await;
        assert_eq!(code, Some(0), "{err}");
        assert_eq!(out, "hi\n1000 600\n");
        let mut ids: Vec<String> =
            f.rt.data_volumes()
                .await
                .expect("data volumes")
                .into_iter()
                .map(|v| v.workspace)
                .collect();
        ids.sort();
        assert_eq!(
            ids,
            vec![f.id.clone(), f.other(1)],
            "the kept data is only read"
        );

        let mut orphan = f.spec_for(&f.other(2));
        orphan.seed = Some(DataSeed::Kept("never-made".into()));
        let r = f.rt.provision(&orphan).await;
        assert!(matches!(r, Err(RuntimeError::NotFound(_))), "{r:?}");
        assert!(!f.listed().await.contains(&f.other(2)));
        let left = f.rt.data_volumes().await.expect("data volumes");
        assert!(left.iter().all(|v| v.workspace != f.other(2)), "{left:?}");
    })
    .await;
}

/// A snapshot holds the container's own filesystem and a copy of its
/// data; a workspace made of it has both; its image cannot be removed
/// while that workspace exists; deleting it twice is fine.
async fn a_snapshot_makes_a_workspace_with_its_filesystem_and_data(b: Backend) {
    with_fixture(b, |f| async move {
        let mut spec = f.spec();
        spec.own_new_data = true;
        let made = f.rt.provision(&spec).await.expect("provision");
        let mut root = exec(&["sh", "-c", "echo tool > /usr/local/bin/conf-tool"]);
        root.user = Some("0".into());
        let out = f.rt.exec(&made.handle, &root).await.expect("exec");
        assert_eq!(
            out.exit_code,
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let (code, _, err) = f.sh(&made.handle, "echo data > /workspace/d").await;
        assert_eq!(code, Some(0), "{err}");
        let snap = format!("{}snap", f.id);
        let image =
            f.rt.snapshot(&SnapshotRequest {
                workspace: f.id.clone(),
                handle: made.handle.clone(),
                snapshot: snap.clone(),
                user: "1000:1000".into(),
            })
            .await
            .expect("snapshot");
        assert!(aicockpit_runtime::is_snapshot_image(&image), "{image}");
        let (code, _, _) = f.sh(&made.handle, "echo later > /workspace/d").await;
        assert_eq!(code, Some(0));

        let mut fork = f.spec_for(&f.other(1));
        fork.image = image;
        fork.seed = Some(DataSeed::Snapshot(snap.clone()));
        let forked = f.rt.provision(&fork).await.expect("provision the fork");
        let (code, out, err) = f
            .sh(
                &forked.handle,
                "cat /usr/local/bin/conf-tool /workspace/d; touch /workspace/n",
            )
            .await;
        assert_eq!(code, Some(0), "{err}");
        assert_eq!(out, "tool\ndata\n");
        let r = f.rt.delete_snapshot(&snap).await;
        assert!(matches!(r, Err(RuntimeError::Conflict(_))), "{r:?}");
        f.rt.destroy(&f.other(1), false)
            .await
            .expect("destroy the fork");
        f.rt.delete_snapshot(&snap).await.expect("delete");
        f.rt.delete_snapshot(&snap)
            .await
            .expect("deleting again is fine");
        let mut again = f.spec_for(&f.other(2));
        again.seed = Some(DataSeed::Snapshot(snap));
        let r = f.rt.provision(&again).await;
        assert!(matches!(r, Err(RuntimeError::NotFound(_))), "{r:?}");
    })
    .await;
}

/// Data made ahead (for a warm pool) carries no owner until a claim's
/// facts are written; they go with the data, are replaced when written
/// again, and are removed with it. Limits change in place where the engine
/// can; where it cannot, they stay as they were.
async fn data_made_ahead_gets_its_facts_later(b: Backend) {
    with_fixture(b, |f| async move {
        let mut spec = f.spec();
        spec.annotations = vec![("pool".into(), "base".into())];
        let made = f.rt.provision(&spec).await.expect("provision");
        let find = |list: Vec<aicockpit_runtime::DataVolume>| {
            list.into_iter().find(|v| v.workspace == f.id).expect("listed")
        };
        let v = find(f.rt.data_volumes().await.expect("volumes"));
        assert!(v.pooled && v.owner.is_none(), "{v:?}");

        let limit = "cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes";
        let (_, before, _) = f.sh(&made.handle, limit).await;
        assert_eq!(before.trim(), (256u64 * 1024 * 1024).to_string());
        let wider = Limits {
            cpu_millis: 700,
            memory_bytes: 300 * 1024 * 1024,
            pids: 150,
        };
        let (_, after, _) = match f.rt.set_limits(&made.handle, &wider).await {
            Ok(()) => f.sh(&made.handle, limit).await,
            Err(e) => {
                eprintln!("{}: limits cannot change in place: {e}", f.rt.engine_name());
                let (c, o, e) = f.sh(&made.handle, limit).await;
                assert_eq!(o, before, "a refused update changed nothing");
                (c, (256u64 * 1024 * 1024).to_string(), e)
            }
        };
        if f.rt.engine_name() == "docker" {
            assert_eq!(after.trim(), (300u64 * 1024 * 1024).to_string());
        }

        let facts = |name: &str| vec![("owner".into(), "u-1".into()), ("name".into(), name.into())];
        f.rt.annotate(&f.id, &facts("first")).await.expect("annotate");
        f.rt.annotate(&f.id, &facts("proj")).await.expect("annotate again");
        f.rt.destroy(&f.id, true).await.expect("destroy, keep data");
        let v = find(f.rt.data_volumes().await.expect("volumes"));
        assert_eq!((v.owner.as_deref(), v.name.as_deref()), (Some("u-1"), Some("proj")));
        assert!(v.pooled);
        assert_eq!(
            f.rt.data_volumes().await.expect("volumes").len(),
            1,
            "the facts are not data"
        );
        f.rt.destroy(&f.id, false).await.expect("destroy with data");
        assert!(f.rt.data_volumes().await.expect("volumes").is_empty());
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
    data_survives_stop_start_and_reprovision,
    destroy_is_idempotent,
    listing_is_per_installation,
    address_ranges_are_tried_in_order,
    a_missing_image_is_a_clear_error,
    a_workspace_that_cannot_run_is_start_failed,
    new_data_is_given_to_the_user,
    named_volumes_are_the_workspaces_own,
    kept_data_is_listed_and_seeds_a_new_workspace,
    a_snapshot_makes_a_workspace_with_its_filesystem_and_data,
    data_made_ahead_gets_its_facts_later,
);
