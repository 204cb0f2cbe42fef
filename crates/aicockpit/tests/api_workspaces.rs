//! The workspace lifecycle through the API, checked on the engine itself.

use crate::common::{assert_error, docker, TestServer};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workspace_is_a_real_isolated_container_with_its_limits() {
    let ts = TestServer::start().await;
    let api = ts.admin_api();
    let (s, w) = api
        .post(
            "/api/v1/workspaces",
            json!({"name": "limited", "template": "base", "cpus": 0.5, "memory_mb": 256,
                   "pids_limit": 128, "env": {"GREETING": "hello world"}, "ports": [8000]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{w}");
    assert_eq!(w["limits"]["cpus"], 0.5);
    assert_eq!(w["limits"]["memory_mb"], 256);
    assert_eq!(w["limits"]["pids_limit"], 128);
    assert_eq!(w["user"], "1000:1000");
    let cid = w["container_id"].as_str().expect("container id").to_owned();

    let c = docker()
        .await
        .inspect_container(&cid, None)
        .await
        .expect("inspect");
    let hc = c.host_config.expect("host config");
    assert_eq!(hc.memory, Some(256 * 1024 * 1024));
    assert_eq!(
        hc.memory_swap,
        Some(256 * 1024 * 1024),
        "no swap beyond memory"
    );
    assert_eq!(hc.nano_cpus, Some(500_000_000));
    assert_eq!(hc.pids_limit, Some(128));
    assert_eq!(hc.init, Some(true));
    assert_eq!(hc.privileged, Some(false));
    assert!(hc
        .security_opt
        .unwrap_or_default()
        .contains(&"no-new-privileges".to_string()));
    assert_eq!(hc.cap_drop, Some(vec!["ALL".to_string()]));
    let caps = hc.cap_add.unwrap_or_default();
    for dangerous in [
        "SYS_ADMIN",
        "NET_ADMIN",
        "NET_RAW",
        "SYS_PTRACE",
        "MKNOD",
        "SYS_MODULE",
    ] {
        assert!(
            !caps.iter().any(|c| c.contains(dangerous)),
            "{dangerous} granted: {caps:?}"
        );
    }
    let net = hc.network_mode.expect("network mode");
    assert!(net.starts_with("aicockpit-net-"), "own network, got {net}");
    assert!(
        hc.binds.unwrap_or_default().is_empty(),
        "no bind mounts (no engine socket)"
    );
    let mounts = c.mounts.expect("mounts");
    assert_eq!(mounts.len(), 1, "{mounts:?}");
    assert_eq!(mounts[0].destination.as_deref(), Some("/workspace"));
    assert_eq!(mounts[0].name.as_deref(), w["volume"].as_str());
    let cfg = c.config.expect("config");
    assert_eq!(cfg.user.as_deref(), Some("1000:1000"));
    let labels = cfg.labels.expect("labels");
    assert_eq!(
        labels.get("io.aicockpit.managed").map(String::as_str),
        Some("true")
    );
    assert_eq!(labels.get("io.aicockpit.instance"), Some(&ts.instance));
    assert_eq!(
        labels.get("io.aicockpit.workspace").map(String::as_str),
        w["id"].as_str()
    );

    // From the inside: not root, no new privileges, limits enforced, env set,
    // no engine socket anywhere.
    let (code, out, _) = api
        .sh(
            "limited",
            "id -u; grep NoNewPrivs /proc/self/status; grep CapEff /proc/self/status; \
             cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max; \
             echo \"$GREETING\"; ls /var/run/docker.sock /run/docker.sock /run/aicockpit-docker.sock 2>&1 | grep -c 'No such'",
        )
        .await;
    assert_eq!(code, 0, "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "1000");
    assert!(lines[1].ends_with("1"), "{}", lines[1]);
    assert!(
        lines[2].ends_with("0000000000000000"),
        "a non-root exec has no effective caps: {}",
        lines[2]
    );
    assert_eq!(lines[3], "268435456");
    assert_eq!(lines[4], "hello world");
    assert_eq!(lines[5], "3");
    // sudo cannot escalate under no-new-privileges.
    let (code, _, _) = api.sh("limited", "sudo -n true").await;
    assert_ne!(code, 0);

    // The port is published on loopback only.
    let (s, got) = api.get("/api/v1/workspaces/limited").await;
    assert_eq!(s, StatusCode::OK);
    let published = &got["published_ports"][0];
    assert_eq!(published["container_port"], 8000);
    assert_eq!(published["host_ip"], "127.0.0.1");
    assert!(published["host_port"].as_u64().is_some_and(|p| p > 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_workspace_volume_survives_stop_start_restart_and_recreation() {
    let ts = TestServer::start().await;
    let api = ts.admin_api();
    let w = api.create_ws("persist").await;
    let id = w["id"].as_str().expect("id").to_owned();
    let (code, _, err) = api
        .sh(
            &id,
            "echo kept > /workspace/note && mkdir -p /workspace/src",
        )
        .await;
    assert_eq!(code, 0, "{err}");

    let (s, v) = api
        .post_empty(&format!("/api/v1/workspaces/{id}/stop"))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["state"], "stopped");
    let cid = v["container_id"].as_str().expect("cid").to_owned();
    let c = docker()
        .await
        .inspect_container(&cid, None)
        .await
        .expect("inspect");
    assert_eq!(c.state.and_then(|s| s.running), Some(false));
    let (s, v) = api
        .post(
            &format!("/api/v1/workspaces/{id}/exec"),
            json!({"argv": ["true"]}),
        )
        .await;
    assert_error(s, &v, StatusCode::CONFLICT, "workspace_not_running");
    // Stopping twice is fine.
    assert_eq!(
        api.post_empty(&format!("/api/v1/workspaces/{id}/stop"))
            .await
            .0,
        StatusCode::OK
    );

    let (s, v) = api
        .post_empty(&format!("/api/v1/workspaces/{id}/start"))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["state"], "running");
    assert_eq!(api.sh(&id, "cat /workspace/note").await.1, "kept\n");

    let (s, v) = api
        .post_empty(&format!("/api/v1/workspaces/{id}/restart"))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["state"], "running");
    assert_eq!(api.sh(&id, "cat /workspace/note").await.1, "kept\n");

    // The container is removed behind our back: the reconciler notices, and
    // start makes a new container on the same volume.
    docker()
        .await
        .remove_container(
            &cid,
            Some(
                bollard::query_parameters::RemoveContainerOptionsBuilder::default()
                    .force(true)
                    .build(),
            ),
        )
        .await
        .expect("remove behind the server's back");
    ts.state.workspaces.reconcile().await.expect("reconcile");
    let (_, v) = api.get(&format!("/api/v1/workspaces/{id}")).await;
    assert_eq!(v["state"], "error", "{v}");
    assert!(
        v["state_reason"]
            .as_str()
            .unwrap_or_default()
            .contains("removed outside"),
        "{v}"
    );
    assert!(v["container_id"].is_null());
    let (s, v) = api
        .post_empty(&format!("/api/v1/workspaces/{id}/start"))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_ne!(v["container_id"].as_str(), Some(cid.as_str()));
    assert_eq!(api.sh(&id, "cat /workspace/note").await.1, "kept\n");

    // Delete keeps the volume unless purged.
    let (s, v) = api.delete(&format!("/api/v1/workspaces/{id}")).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let vol = v["kept_volume"].as_str().expect("kept volume").to_owned();
    let d = docker().await;
    assert!(d.inspect_volume(&vol).await.is_ok());
    assert!(d
        .inspect_network(w["network"].as_str().expect("net"), None)
        .await
        .is_err());
    let (s, v) = api.get(&format!("/api/v1/workspaces/{id}")).await;
    assert_error(s, &v, StatusCode::NOT_FOUND, "not_found");

    let w2 = api.create_ws("purged").await;
    let vol2 = w2["volume"].as_str().expect("volume").to_owned();
    let (s, v) = api.delete("/api/v1/workspaces/purged?purge=true").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(v["kept_volume"].is_null());
    assert!(
        d.inspect_volume(&vol2).await.is_err(),
        "purge removes the volume"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_reports_exit_codes_streams_caps_and_timeouts() {
    let ts = TestServer::start().await;
    let api = ts.admin_api();
    api.create_ws("runner").await;
    let path = "/api/v1/workspaces/runner/exec";

    let (s, r) = api
        .post(
            path,
            json!({"argv": ["sh", "-c", "echo out; echo err >&2; exit 3"]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["exit_code"], 3);
    assert_eq!(r["stdout"], "out\n");
    assert_eq!(r["stderr"], "err\n");
    assert_eq!(r["timed_out"], false);

    let (_, r) = api
        .post(path, json!({"argv": ["sh", "-c", "pwd; echo $FOO; id -un"], "cwd": "/tmp", "env": {"FOO": "bar"}}))
        .await;
    assert_eq!(r["stdout"], "/tmp\nbar\ndev\n");
    let (_, r) = api
        .post(path, json!({"argv": ["id", "-u"], "user": "root"}))
        .await;
    assert_eq!(r["stdout"], "0\n");

    let (_, r) = api
        .post(path, json!({"argv": ["sh", "-c", "head -c 100000 /dev/zero | tr '\\0' a"], "max_output_bytes": 1000}))
        .await;
    assert_eq!(r["stdout"].as_str().map(str::len), Some(1000));
    assert_eq!(r["stdout_truncated"], true);
    assert_eq!(r["exit_code"], 0);

    let (_, r) = api
        .post(path, json!({"argv": ["printf", "\\377\\376"]}))
        .await;
    assert_eq!(r["stdout_encoding"], "base64");
    assert_eq!(r["stdout"], "//4=");

    let (_, r) = api
        .post(
            path,
            json!({"argv": ["sh", "-c", "sleep 300 & sleep 301"], "timeout_secs": 1}),
        )
        .await;
    assert_eq!(r["timed_out"], true, "{r}");
    assert!(r["exit_code"].is_null());
    // The timed-out command and its children are gone.
    let (_, ps, _) = api
        .sh("runner", "ps -eo args | grep -c '^sleep 30' || true")
        .await;
    assert_eq!(ps.trim(), "0", "leftover processes");

    let (_, r) = api.post(path, json!({"argv": ["no-such-program"]})).await;
    assert_eq!(r["exit_code"], 127, "{r}");

    for (body, code) in [
        (json!({"argv": []}), "invalid_argv"),
        (json!({"argv": ["a\u{0}b"]}), "invalid_argv"),
        (
            json!({"argv": ["true"], "timeout_secs": 0}),
            "invalid_timeout",
        ),
        (
            json!({"argv": ["true"], "timeout_secs": 100000}),
            "invalid_timeout",
        ),
        (json!({"argv": ["true"], "cwd": "relative"}), "invalid_cwd"),
        (
            json!({"argv": ["true"], "max_output_bytes": 1u64 << 40}),
            "invalid_output_limit",
        ),
        (
            json!({"argv": ["true"], "user": "root; rm -rf /"}),
            "invalid_user",
        ),
    ] {
        let (s, v) = api.post(path, body).await;
        assert_error(s, &v, StatusCode::BAD_REQUEST, code);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_workspaces_than_the_engines_default_pools_hold() {
    // The engine's default pools give ~30 bridge networks; workspace
    // networks come from our own pool of small subnets instead.
    let ts = TestServer::start().await;
    const N: usize = 40;
    let names: Vec<String> = (0..N).map(|i| format!("many{i}")).collect();
    let mut created = Vec::new();
    for chunk in names.chunks(8) {
        let batch = chunk.iter().map(|n| {
            let api = ts.admin_api();
            let n = n.clone();
            async move {
                let (s, w) = api
                    .post("/api/v1/workspaces", json!({"name": n, "template": "base"}))
                    .await;
                (s, w)
            }
        });
        for (s, w) in futures_util::future::join_all(batch).await {
            assert_eq!(s, StatusCode::CREATED, "{w}");
            assert_eq!(w["state"], "running", "{w}");
            created.push(w);
        }
    }
    let d = docker().await;
    let mut subnets = std::collections::HashSet::new();
    for w in &created {
        let net = d
            .inspect_network(w["network"].as_str().expect("net"), None)
            .await
            .expect("network");
        let subnet = net
            .ipam
            .and_then(|i| i.config)
            .and_then(|c| c.into_iter().next())
            .and_then(|c| c.subnet)
            .expect("subnet");
        assert!(
            subnet.starts_with("10.213.") && subnet.ends_with("/28"),
            "{subnet}"
        );
        assert!(subnets.insert(subnet), "each workspace has its own subnet");
    }
    let deletes = created.iter().map(|w| {
        let api = ts.admin_api();
        let id = w["id"].as_str().expect("id").to_owned();
        async move {
            api.delete(&format!("/api/v1/workspaces/{id}?purge=true"))
                .await
                .0
        }
    });
    for s in futures_util::future::join_all(deletes).await {
        assert_eq!(s, StatusCode::OK);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workspaces_cannot_reach_each_other() {
    let ts = TestServer::start().await;
    let api = ts.admin_api();
    api.create_ws("peer-a").await;
    let b = api.create_ws("peer-b").await;
    // A listener in B (perl is in the base image).
    let (code, _, err) = api
        .sh(
            "peer-b",
            "nohup perl -MIO::Socket::INET -e '$s=IO::Socket::INET->new(LocalPort=>7777,Listen=>5,ReuseAddr=>1) or die; while($c=$s->accept){print $c \"hello\\n\"; close $c}' >/dev/null 2>&1 & sleep 1",
        )
        .await;
    assert_eq!(code, 0, "{err}");
    let d = docker().await;
    let net = d
        .inspect_network(b["network"].as_str().expect("net"), None)
        .await
        .expect("network");
    let ip = net
        .containers
        .and_then(|c| c.into_values().next())
        .and_then(|c| c.ipv4_address)
        .expect("b's address");
    let ip = ip.split('/').next().expect("ip").to_owned();
    let probe = format!("timeout 3 bash -c 'exec 3<>/dev/tcp/{ip}/7777 && head -1 <&3' && echo reached || echo unreachable");
    // Control: B reaches its own listener on that address.
    let (_, out, _) = api.sh("peer-b", &probe).await;
    assert!(out.contains("hello") && out.contains("reached"), "{out}");
    // A, on its own network, does not.
    let (_, out, _) = api.sh("peer-a", &probe).await;
    assert!(
        out.contains("unreachable") && !out.contains("hello"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workspaces_cannot_reach_the_servers_host() {
    // A service on the host, on every address.
    let listener = std::net::TcpListener::bind("0.0.0.0:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for c in listener.incoming().flatten() {
            use std::io::Write as _;
            let mut c = c;
            let _ = c.write_all(b"hello\n");
        }
    });
    let ts = TestServer::start().await;
    let api = ts.admin_api();
    let (s, ready) = ts.anonymous().get("/ready").await;
    assert_eq!(s, StatusCode::OK, "{ready}");
    assert_eq!(ready["host_isolation"]["enforced"], true, "{ready}");
    let w = api.create_ws("hostprobe").await;
    let d = docker().await;
    let c = d
        .inspect_container(
            &format!("aicockpit-ws-{}", w["id"].as_str().expect("id")),
            None,
        )
        .await
        .expect("container");
    let gateway = c
        .network_settings
        .and_then(|n| n.networks)
        .and_then(|n| n.into_values().next())
        .and_then(|n| n.gateway)
        .filter(|g| !g.is_empty())
        .expect("gateway");
    // The host answers on that address (from the host itself)…
    let mut direct =
        std::net::TcpStream::connect((gateway.as_str(), port)).expect("host reaches itself");
    let mut line = String::new();
    use std::io::Read as _;
    let _ = direct.read_to_string(&mut line);
    assert_eq!(line, "hello\n");
    // …but not to the workspace.
    let probe = format!("timeout 3 bash -c 'exec 3<>/dev/tcp/{gateway}/{port} && head -1 <&3' && echo reached || echo unreachable");
    let (_, out, _) = api.sh("hostprobe", &probe).await;
    assert!(
        out.contains("unreachable") && !out.contains("hello"),
        "{out}"
    );
}
