//! Creating a workspace from a repository with a devcontainer.json,
//! against a real git server and the real engine: the image is built from
//! the repository's Dockerfile (FROM the local base image), the container
//! made again with its environment, user and ports, its lifecycle commands
//! run; a configuration that would weaken isolation, or a Dockerfile that
//! reaches an image nobody may name, is refused with a message naming it
//! and leaves the workspace as it was.

use crate::common::{Api, TestServer};
use crate::git::{audit_rows, follow, git_server, publish};
use reqwest::StatusCode;
use serde_json::{json, Value};

async fn server() -> TestServer {
    // Outside the pool the host firewall guards, so the workspaces may
    // reach this host's git server.
    TestServer::start_with(|c| {
        c.workspaces.network_pool = "10.218.0.0/16".into();
        c.workspaces.block_host_access = false;
    })
    .await
}

async fn create(api: &Api, name: &str, url: &str) -> (Value, Vec<String>) {
    let (s, w) = api
        .post(
            "/api/v1/workspaces",
            json!({"name": name, "template": "base", "git": {"url": url}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{w}");
    follow(api, name).await
}

const CONFIG: &str = r#"{
    // Built from the local base image; comments and trailing commas are fine.
    "name": "demo",
    "build": { "dockerfile": "Dockerfile", "args": { "GREETING": "hello from the build" } },
    "containerEnv": { "PROJECT_MODE": "devcontainer", "WS": "${containerWorkspaceFolder}", "DROP_ME": "x" },
    "remoteEnv": { "FROM_REMOTE": "${containerEnv:PROJECT_MODE}-remote", "DROP_ME": null },
    "remoteUser": "builder",
    "forwardPorts": [5173, 8080],
    "portsAttributes": { "5173": { "label": "Vite", "onAutoForward": "openPreview" } },
    "onCreateCommand": { "a": "touch /workspace/on-create-a", "b": ["touch", "/workspace/on-create-b"] },
    "postCreateCommand": "echo created-$FROM_REMOTE-${DROP_ME:-unset} > /workspace/post-create.txt && id -un >> /workspace/post-create.txt",
    "postStartCommand": ["sh", "-c", "echo started >> /workspace/post-start.txt"],
    "postAttachCommand": "echo attached >> /workspace/post-start.txt",
    "mounts": ["source=cache,target=/home/builder/.cache/tool,type=volume"],
    "customizations": { "vscode": { "extensions": ["x.y"] } },
}"#;

const DOCKERFILE: &str = "ARG BASE=localhost/aicockpit/base:latest
FROM ${BASE}
ARG GREETING=unset
USER root
RUN usermod -l builder -d /home/builder -m dev && groupmod -n builder dev \\
 && echo \"$GREETING\" > /etc/greeting
USER builder
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_devcontainer_dockerfile_is_built_and_applied_with_its_env_user_ports_and_commands() {
    let srv = git_server();
    // A context of its own, so that this run builds (built images are
    // kept on the engine, by content).
    let nonce = format!("{:?}", std::time::SystemTime::now());
    let url = publish(
        &srv,
        "project",
        &[
            (".devcontainer/devcontainer.json", CONFIG),
            (".devcontainer/Dockerfile", DOCKERFILE),
            (".devcontainer/nonce", &nonce),
            ("README.md", "the project\n"),
        ],
    );
    let ts = server().await;
    let api = ts.admin_api();
    let (v, lines) = create(&api, "dc", &url).await;
    assert_eq!(v["state"], "succeeded", "{v} {lines:#?}");
    assert_eq!(v["phase"], "lifecycle", "{v}");
    let all = lines.join("\n");
    assert!(
        all.contains("applying .devcontainer/devcontainer.json"),
        "{all}"
    );
    assert!(
        all.to_lowercase().contains("step"),
        "the build's own output: {all}"
    );
    assert!(all.contains("running postCreateCommand"), "{all}");
    assert!(all.contains("customizations is not used"), "{all}");

    // The API shows what was applied.
    let (s, w) = api.get("/api/v1/workspaces/dc").await;
    assert_eq!(s, StatusCode::OK, "{w}");
    assert!(
        w["image"]
            .as_str()
            .unwrap_or_default()
            .starts_with("localhost/aicockpit/devcontainer:"),
        "{w}"
    );
    // Pinned to its numbers: a name is looked up inside, where it could be
    // changed.
    assert_eq!(w["user"], "1000:1000", "{w}");
    assert_eq!(w["state"], "running", "{w}");
    let (s, d) = api.get("/api/v1/workspaces/dc/devcontainer").await;
    assert_eq!(s, StatusCode::OK, "{d}");
    assert_eq!(d["remote_user"], "builder", "{d}");
    assert_eq!(d["container_env"]["PROJECT_MODE"], "devcontainer", "{d}");
    assert_eq!(d["container_env"]["WS"], "/workspace", "{d}");
    assert_eq!(
        d["forward_ports"],
        json!([{"port": 5173, "label": "Vite", "on_auto_forward": "openPreview"},
               {"port": 8080, "label": null, "on_auto_forward": null}]),
        "{d}"
    );
    assert_eq!(
        d["lifecycle"],
        json!([
            "onCreateCommand",
            "postCreateCommand",
            "postStartCommand",
            "postAttachCommand"
        ]),
        "{d}"
    );

    // Inside: the built image, its user, its environment, the commands'
    // work, and the repository still there.
    let (code, out, err) = api
        .sh(
            "dc",
            "cat /workspace/post-create.txt /etc/greeting; echo $PROJECT_MODE; id -un; \
             ls /workspace/on-create-a /workspace/on-create-b; cat /workspace/post-start.txt README.md",
        )
        .await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        "created-devcontainer-remote-unset\nbuilder\nhello from the build\ndevcontainer\nbuilder\n\
         /workspace/on-create-a\n/workspace/on-create-b\nstarted\nattached\nthe project\n"
    );
    let rows = audit_rows(&api, "workspace.devcontainer").await;
    assert!(
        rows.iter()
            .any(|r| r["workspace_id"] == w["id"] && r["result"] == "ok"),
        "{rows:?}"
    );

    // Started again: postStartCommand and postAttachCommand run again
    // (in the background).
    let (s, v) = api.post("/api/v1/workspaces/dc/stop", json!({})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = api.post("/api/v1/workspaces/dc/start", json!({})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (v, lines) = follow(&api, "dc").await;
    assert_eq!(v["kind"], "post_start", "{v}");
    assert_eq!(v["state"], "succeeded", "{v} {lines:#?}");
    let (_, out, _) = api.sh("dc", "cat /workspace/post-start.txt").await;
    assert_eq!(out, "started\nattached\nstarted\nattached\n");

    // Rebuilt after the configuration changed inside: the new environment,
    // the same /workspace, the creation commands again.
    let (code, _, err) = api
        .sh(
            "dc",
            "sed -i 's/\"PROJECT_MODE\": \"devcontainer\"/\"PROJECT_MODE\": \"rebuilt\"/' \
             .devcontainer/devcontainer.json && echo kept > /workspace/mine.txt \
             && echo in-volume > ~/.cache/tool/kept && echo in-home > ~/not-kept",
        )
        .await;
    assert_eq!(code, 0, "{err}");
    let (s, v) = api.post("/api/v1/workspaces/dc/rebuild", json!({})).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    let (s, v2) = api.post("/api/v1/workspaces/dc/rebuild", json!({})).await;
    crate::common::assert_error(s, &v2, StatusCode::CONFLICT, "setup_running");
    let (v, lines) = follow(&api, "dc").await;
    assert_eq!(v["kind"], "rebuild", "{v}");
    assert_eq!(v["state"], "succeeded", "{v} {lines:#?}");
    let (_, out, _) = api
        .sh("dc", "echo $PROJECT_MODE; cat mine.txt post-create.txt")
        .await;
    assert_eq!(
        out,
        "rebuilt\nkept\ncreated-rebuilt-remote-unset\nbuilder\n"
    );
    // The named volume outlives the container, as /workspace does; the
    // rest of the home does not.
    let (_, out, _) = api
        .sh(
            "dc",
            "cat ~/.cache/tool/kept; test -e ~/not-kept || echo gone",
        )
        .await;
    assert_eq!(out, "in-volume\ngone\n");
    assert!(!audit_rows(&api, "workspace.rebuild").await.is_empty());
    // Every setup is kept, not only the last: the clone's output (with
    // its build and postCreateCommand) is still there after a restart's
    // commands and a rebuild ran.
    let (s, kept) = api.get("/api/v1/workspaces/dc/setups").await;
    assert_eq!(s, StatusCode::OK, "{kept}");
    let kinds: Vec<&str> = kept
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|k| k["kind"].as_str())
        .collect();
    assert_eq!(kinds, ["git_clone", "post_start", "rebuild"], "{kept}");
    let at = kept[0]["started_ms"].as_i64().expect("started_ms");
    let (s, first) = api
        .get(&format!("/api/v1/workspaces/dc/setup?at={at}"))
        .await;
    assert_eq!(s, StatusCode::OK, "{first}");
    assert_eq!(first["kind"], "git_clone", "{first}");
    assert!(
        first["lines"]
            .as_array()
            .expect("lines")
            .iter()
            .any(|l| l.as_str().is_some_and(|l| l.contains("postCreateCommand"))),
        "{first}"
    );
    let (s, v) = api.get("/api/v1/workspaces/dc/setup?at=1").await;
    crate::common::assert_error(s, &v, StatusCode::NOT_FOUND, "not_found");
    let (s, v) = api.post("/api/v1/workspaces/dc/stop", json!({})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = api.post("/api/v1/workspaces/dc/rebuild", json!({})).await;
    crate::common::assert_error(s, &v, StatusCode::CONFLICT, "not_running");

    // The same configuration again: the image built before is used.
    let (v, lines) = create(&api, "dc-again", &url).await;
    assert_eq!(v["state"], "succeeded", "{v} {lines:#?}");
    assert!(
        lines.iter().any(|l| l.contains("was built before")),
        "{lines:#?}"
    );
    let (_, w2) = api.get("/api/v1/workspaces/dc-again").await;
    assert_eq!(w2["image"], w["image"]);
    // The same volume name in another workspace is a volume of its own,
    // and a workspace's volumes go with it.
    let (_, out, _) = api
        .sh(
            "dc-again",
            "test -e ~/.cache/tool/kept || echo own; touch ~/.cache/tool/w && echo writable",
        )
        .await;
    assert_eq!(out, "own\nwritable\n");
    let volume = format!("aicockpit-vol-{}--cache", w["id"].as_str().expect("id"));
    let docker = crate::common::docker().await;
    assert!(docker.inspect_volume(&volume).await.is_ok(), "{volume}");
    let (s, v) = api.delete("/api/v1/workspaces/dc?purge=true").await;
    assert!(s.is_success(), "{v}");
    assert!(
        docker.inspect_volume(&volume).await.is_err(),
        "{volume} removed"
    );
    // And nobody names a built image directly.
    let (s, v) = api
        .post(
            "/api/v1/workspaces",
            json!({"name": "steal", "image": w["image"]}),
        )
        .await;
    crate::common::assert_error(s, &v, StatusCode::BAD_REQUEST, "invalid_image");
}

/// Configurations refused: (name, devcontainer.json, Dockerfile, the
/// error code, what the message must name).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configurations_that_weaken_isolation_or_reach_others_images_are_refused() {
    let srv = git_server();
    let ts = server().await;
    let api = ts.admin_api();
    let cases: &[(&str, &str, &str, &str, &str)] = &[
        (
            "priv",
            r#"{"image": "localhost/aicockpit/base:latest", "privileged": true}"#,
            "",
            "devcontainer_refused",
            "privileged",
        ),
        (
            "caps",
            r#"{"image": "localhost/aicockpit/base:latest", "capAdd": ["SYS_ADMIN"]}"#,
            "",
            "devcontainer_refused",
            "capAdd: SYS_ADMIN",
        ),
        (
            "runargs",
            r#"{"image": "localhost/aicockpit/base:latest", "runArgs": ["--privileged"]}"#,
            "",
            "devcontainer_refused",
            "runArgs",
        ),
        (
            "bind",
            r#"{"image": "localhost/aicockpit/base:latest", "mounts": ["source=/var/run/docker.sock,target=/var/run/docker.sock,type=bind"]}"#,
            "",
            "devcontainer_refused",
            "mounts",
        ),
        (
            "snapshot-base",
            r#"{"build": {"dockerfile": "Dockerfile"}}"#,
            "FROM localhost/aicockpit/snapshot:0123456789abcdef\n",
            "image_build_failed",
            "FROM localhost/aicockpit/snapshot",
        ),
        (
            "id-prefix",
            r#"{"build": {"dockerfile": "Dockerfile", "args": {"B": "3f"}}}"#,
            "ARG B=debian\nFROM ${B}\n",
            "image_build_failed",
            "FROM 3f",
        ),
        (
            "copy-from",
            r#"{"build": {"dockerfile": "Dockerfile"}}"#,
            "FROM localhost/aicockpit/base:latest\nCOPY --from=localhost/aicockpit/devcontainer:x /etc /stolen\n",
            "image_build_failed",
            "from=localhost/aicockpit/devcontainer",
        ),
        (
            "split-from",
            r#"{"build": {"dockerfile": "Dockerfile"}}"#,
            "FROM localhost/aicockpit/base:latest\nFR\\\nOM 3f\n",
            "image_build_failed",
            "FROM 3f",
        ),
        (
            "add-url",
            r#"{"build": {"dockerfile": "Dockerfile"}}"#,
            "FROM localhost/aicockpit/base:latest\nADD http://127.0.0.1:1/x /x\n",
            "image_build_failed",
            "ADD",
        ),
        (
            "broken",
            "{ \"image\": ",
            "",
            "devcontainer_invalid",
            "not valid JSON",
        ),
    ];
    for (name, config, dockerfile, code, named) in cases {
        let mut files = vec![(".devcontainer/devcontainer.json", *config)];
        if !dockerfile.is_empty() {
            files.push((".devcontainer/Dockerfile", *dockerfile));
        }
        let url = publish(&srv, name, &files);
        let (v, lines) = create(&api, name, &url).await;
        assert_eq!(v["state"], "failed", "{name}: {v} {lines:#?}");
        assert_eq!(v["error_code"], *code, "{name}: {v}");
        let message = v["error"].as_str().unwrap_or_default();
        assert!(message.contains(named), "{name}: {message}");
        // The workspace is as it was: running its template, repository in place.
        let (_, w) = api.get(&format!("/api/v1/workspaces/{name}")).await;
        assert_eq!(w["state"], "running", "{name}: {w}");
        assert_eq!(w["image"], "localhost/aicockpit/base:latest", "{name}: {w}");
        let (s, d) = api
            .get(&format!("/api/v1/workspaces/{name}/devcontainer"))
            .await;
        assert_eq!((s, d), (StatusCode::OK, Value::Null), "{name}");
        let (c, out, _) = api.sh(name, "ls -a /workspace/.devcontainer").await;
        assert_eq!(c, 0, "{name}");
        assert!(out.contains("devcontainer.json"), "{name}: {out}");
    }
    let rows = audit_rows(&api, "workspace.devcontainer").await;
    assert!(
        rows.iter().filter(|r| r["result"] == "failed").count() >= cases.len(),
        "{rows:?}"
    );
}

/// The CLI shows the build and the commands as they come, and says when a
/// configuration is refused (exit code 1, the property named).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_creates_and_rebuilds_from_a_devcontainer_and_reports_a_refusal() {
    let srv = git_server();
    let nonce = format!("{:?}", std::time::SystemTime::now());
    let good = publish(
        &srv,
        "cli-project",
        &[
            (
                ".devcontainer.json",
                r#"{"build": {"dockerfile": "Dockerfile"}, "containerEnv": {"FROM_CLI": "yes"}, "postCreateCommand": "echo post-create-ran"}"#,
            ),
            (
                "Dockerfile",
                "FROM localhost/aicockpit/base:latest\nRUN true\n",
            ),
            ("nonce", &nonce),
        ],
    );
    let bad = publish(
        &srv,
        "cli-bad",
        &[(
            ".devcontainer.json",
            r#"{"image": "localhost/aicockpit/base:latest", "securityOpt": ["apparmor=unconfined"]}"#,
        )],
    );
    let ts = server().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let cli = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_aicockpit"))
            .args(["--server", ts.url.as_str()])
            .args(args)
            .env("AICOCKPIT_TOKEN", &ts.admin)
            .env("AICOCKPIT_CLI_CONFIG", dir.path().join("cli.json"))
            .output()
            .expect("cli")
    };
    let out = tokio::task::block_in_place(|| cli(&["ws", "create", "from-cli", "--git", &good]));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("applying .devcontainer.json"), "{err}");
    assert!(err.contains("post-create-ran"), "{err}");
    let out = tokio::task::block_in_place(|| cli(&["ws", "rebuild", "from-cli"]));
    let (stdout, err) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("was built before"), "{err}");
    assert!(stdout.contains("rebuilt from-cli"), "{stdout}");
    assert!(
        stdout.contains("localhost/aicockpit/devcontainer:"),
        "{stdout}"
    );
    // Both setups are kept; the first one's output is shown again whole.
    let out = tokio::task::block_in_place(|| cli(&["ws", "setups", "from-cli"]));
    let listed = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(0), "{listed}");
    let rows: Vec<&str> = listed.lines().skip(1).collect();
    assert_eq!(rows.len(), 2, "{listed}");
    assert!(
        rows[0].contains("git_clone") && rows[1].contains("rebuild"),
        "{listed}"
    );
    let first = rows[0].split_whitespace().next().expect("STARTED");
    let out = tokio::task::block_in_place(|| cli(&["ws", "setups", "from-cli", "--at", first]));
    let shown = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(0), "{shown}");
    assert!(shown.trim_end().ends_with("git_clone succeeded"), "{shown}");

    let out = tokio::task::block_in_place(|| cli(&["ws", "create", "bad-cli", "--git", &bad]));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("devcontainer_refused"), "{err}");
    assert!(err.contains("securityOpt"), "{err}");
}

/// A member may not make a workspace that runs as root: not by name or
/// number in devcontainer.json, nor by a user the Dockerfile maps to uid 0
/// (found in the new container, which is then replaced by the old one).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_cannot_get_a_root_workspace_through_devcontainer_json() {
    let srv = git_server();
    let ts = server().await;
    let member = ts
        .user("dc-member", aicockpit_core::auth::Role::Member)
        .await;
    let api = ts.api(&member);
    let nonce = format!("{:?}", std::time::SystemTime::now());
    let cases = [
        (
            "by-number",
            publish(
                &srv,
                "root-number",
                &[(".devcontainer.json", r#"{"image": "localhost/aicockpit/base:latest", "remoteUser": "00"}"#)],
            ),
        ),
        (
            "by-alias",
            publish(
                &srv,
                "root-alias",
                &[
                    (".devcontainer.json", r#"{"build": {"dockerfile": "Dockerfile"}, "containerUser": "toor"}"#),
                    (
                        "Dockerfile",
                        "FROM localhost/aicockpit/base:latest\nUSER root\nRUN useradd -o -u 0 -g 0 -M toor\n",
                    ),
                    ("nonce", &nonce),
                ],
            ),
        ),
    ];
    for (name, url) in &cases {
        let (v, lines) = create(&api, name, url).await;
        assert_eq!(v["state"], "failed", "{name}: {v} {lines:#?}");
        assert_eq!(v["error_code"], "devcontainer_refused", "{name}: {v}");
        assert!(
            v["error"].as_str().unwrap_or_default().contains("root"),
            "{name}: {v}"
        );
        let (_, w) = api.get(&format!("/api/v1/workspaces/{name}")).await;
        assert_eq!(w["state"], "running", "{name}: {w}");
        assert_eq!(w["image"], "localhost/aicockpit/base:latest", "{name}: {w}");
        let (code, out, _) = api
            .sh(
                name,
                "id -u; cat /workspace/.devcontainer.json >/dev/null && echo kept",
            )
            .await;
        assert_eq!(code, 0, "{name}");
        assert_eq!(out, "1000\nkept\n", "{name}");
    }
}

/// A capability the server's admins allow (`workspaces.devcontainer_cap_add`)
/// is added to the container, as the kernel shows it; any other is refused
/// naming it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_capabilities_an_admin_allowed_are_added() {
    let srv = git_server();
    let ts = TestServer::start_with(|c| {
        c.workspaces.network_pool = "10.218.0.0/16".into();
        c.workspaces.block_host_access = false;
        c.workspaces.devcontainer_cap_add = vec!["SYS_PTRACE".into()];
    })
    .await;
    let api = ts.admin_api();
    // Bit 19 of the bounding set is CAP_SYS_PTRACE, 12 CAP_NET_ADMIN.
    let bits = "b=$(awk '/CapBnd/{print $2}' /proc/self/status); echo $(( (0x$b >> 19) & 1 )) $(( (0x$b >> 12) & 1 ))";
    let url = publish(
        &srv,
        "ptrace",
        &[(
            ".devcontainer.json",
            r#"{"image": "localhost/aicockpit/base:latest", "capAdd": ["CAP_SYS_PTRACE"]}"#,
        )],
    );
    let (v, lines) = create(&api, "cap-ok", &url).await;
    assert_eq!(v["state"], "succeeded", "{v} {lines:#?}");
    assert_eq!(api.sh("cap-ok", bits).await.1, "1 0\n");
    // Without it, the same image has neither.
    api.create_ws("cap-none").await;
    assert_eq!(api.sh("cap-none", bits).await.1, "0 0\n");

    let url = publish(
        &srv,
        "netadmin",
        &[(
            ".devcontainer.json",
            r#"{"image": "localhost/aicockpit/base:latest", "capAdd": ["SYS_PTRACE", "NET_ADMIN"]}"#,
        )],
    );
    let (v, lines) = create(&api, "cap-no", &url).await;
    assert_eq!(v["state"], "failed", "{v} {lines:#?}");
    assert_eq!(v["error_code"], "devcontainer_refused", "{v}");
    let message = v["error"].as_str().unwrap_or_default();
    assert!(message.contains("capAdd: NET_ADMIN"), "{message}");
    assert_eq!(api.sh("cap-no", bits).await.1, "0 0\n", "left as it was");

    // The same through runArgs, as many templates write it: --cap-add is
    // capAdd, --env is containerEnv, --shm-size is noted as not used; a
    // flag that weakens isolation still refuses the whole configuration.
    let url = publish(
        &srv,
        "runargs",
        &[(
            ".devcontainer.json",
            r#"{"image": "localhost/aicockpit/base:latest",
                "runArgs": ["--cap-add=SYS_PTRACE", "-e", "FROM_ARGS=yes", "--shm-size", "1g", "--init"]}"#,
        )],
    );
    let (v, lines) = create(&api, "runargs", &url).await;
    assert_eq!(v["state"], "succeeded", "{v} {lines:#?}");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("--shm-size 1g is not used")),
        "{lines:#?}"
    );
    assert_eq!(
        api.sh("runargs", &format!("{bits}; echo $FROM_ARGS"))
            .await
            .1,
        "1 0\nyes\n"
    );
    let url = publish(
        &srv,
        "runargs-seccomp",
        &[(
            ".devcontainer.json",
            r#"{"image": "localhost/aicockpit/base:latest",
                "runArgs": ["--cap-add=SYS_PTRACE", "--security-opt", "seccomp=unconfined"]}"#,
        )],
    );
    let (v, lines) = create(&api, "runargs-seccomp", &url).await;
    assert_eq!(v["state"], "failed", "{v} {lines:#?}");
    assert_eq!(v["error_code"], "devcontainer_refused", "{v}");
    let message = v["error"].as_str().unwrap_or_default();
    assert!(message.contains("--security-opt"), "{message}");
}

const FEATURE_JSON: &str = r#"{
    // A feature as the spec describes one, in the repository.
    "id": "hello",
    "version": "1.0.0",
    "options": {
        "greeting": { "type": "string", "default": "hi" },
        "with-dash": { "type": "boolean", "default": true }
    },
    "containerEnv": { "HELLO_HOME": "/opt/hello", "PATH": "/opt/hello/bin:${PATH}" },
    "postCreateCommand": "echo feature-$(hello) > /tmp/order",
    "customizations": { "vscode": {} }
}"#;

const FEATURE_INSTALL: &str = "#!/bin/sh
set -e
mkdir -p /opt/hello/bin
printf '%s\\n' \"$GREETING\" > /opt/hello/greeting
printf '#!/bin/sh\\ncat /opt/hello/greeting\\n' > /opt/hello/bin/hello
chmod +x /opt/hello/bin/hello
echo \"user=$_REMOTE_USER home=$_REMOTE_USER_HOME dash=$WITH_DASH as=$(id -u)\" > /opt/hello/info
";

/// A feature from a folder of the repository is installed as the spec
/// says (install.sh as root with its options, its containerEnv in the
/// image, its postCreateCommand before the configuration's); one asking for a privileged container, or one from a registry
/// the admins did not list, is refused naming it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_features_are_installed_and_hostile_ones_refused() {
    let srv = git_server();
    let ts = server().await;
    let api = ts.admin_api();
    let nonce = format!("{:?}", std::time::SystemTime::now());
    let url = publish(
        &srv,
        "featured",
        &[
            (
                ".devcontainer/devcontainer.json",
                r#"{"image": "localhost/aicockpit/base:latest", "remoteUser": "dev",
                    "postCreateCommand": "echo config >> /tmp/order",
                    "features": {"./hello": {"greeting": "it's \"me\""}}}"#,
            ),
            (
                ".devcontainer/hello/devcontainer-feature.json",
                FEATURE_JSON,
            ),
            (".devcontainer/hello/install.sh", FEATURE_INSTALL),
            (".devcontainer/hello/nonce", &nonce),
        ],
    );
    let (v, lines) = create(&api, "feat", &url).await;
    assert_eq!(v["state"], "succeeded", "{v} {lines:#?}");
    let all = lines.join("\n");
    assert!(all.contains("installing features hello"), "{all}");
    assert!(
        all.contains("aicockpit: installing feature hello"),
        "the build's own output: {all}"
    );
    assert!(all.contains("customizations is not used"), "{all}");
    let (code, out, err) = api
        .sh(
            "feat",
            "hello; echo $HELLO_HOME; cat /opt/hello/info /tmp/order",
        )
        .await;
    assert_eq!(code, 0, "{err}");
    // The feature's postCreateCommand ran before the configuration's.
    assert_eq!(
        out,
        "it's \"me\"\n/opt/hello\nuser=dev home=/home/dev dash=true as=0\nfeature-it's \"me\"\nconfig\n"
    );
    let rows = audit_rows(&api, "workspace.devcontainer").await;
    assert!(
        rows.iter()
            .any(|r| r["detail"]["features"] == json!(["hello"])
                && r["detail"]["user"] == "1000:1000"),
        "{rows:?}"
    );

    for (name, config, feature, says) in [
        (
            "feat-priv",
            r#"{"image": "localhost/aicockpit/base:latest", "features": {"./evil": {}}}"#,
            r#"{"id": "evil", "privileged": true}"#,
            "features ./evil: privileged",
        ),
        (
            "feat-cap",
            r#"{"image": "localhost/aicockpit/base:latest", "features": {"./evil": {}}}"#,
            r#"{"id": "evil", "capAdd": ["SYS_ADMIN"]}"#,
            "capAdd: SYS_ADMIN",
        ),
        (
            "feat-registry",
            r#"{"image": "localhost/aicockpit/base:latest", "features": {"registry.example.com/features/node:1": {}}}"#,
            "{}",
            "not one this server fetches features from",
        ),
    ] {
        let url = publish(
            &srv,
            name,
            &[
                (".devcontainer/devcontainer.json", config),
                (".devcontainer/evil/devcontainer-feature.json", feature),
                (".devcontainer/evil/install.sh", "#!/bin/sh\ntouch /evil\n"),
            ],
        );
        let (v, lines) = create(&api, name, &url).await;
        assert_eq!(v["state"], "failed", "{name}: {v} {lines:#?}");
        let message = v["error"].as_str().unwrap_or_default();
        assert!(message.contains(says), "{name}: {message}");
        let (_, out, _) = api.sh(name, "test -e /evil || echo untouched").await;
        assert_eq!(out, "untouched\n", "{name}");
    }
}

/// A built image stays while a workspace runs it and goes once none does
/// (here with no grace time, checked every second).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn built_images_no_workspace_uses_are_removed() {
    let srv = git_server();
    let ts = TestServer::start_with(|c| {
        c.workspaces.network_pool = "10.218.0.0/16".into();
        c.workspaces.block_host_access = false;
        c.workspaces.built_image_keep_hours = 0;
        c.workspaces.built_image_check_secs = 1;
    })
    .await;
    let api = ts.admin_api();
    let nonce = format!("{:?}", std::time::SystemTime::now());
    let url = publish(
        &srv,
        "pruned",
        &[
            (
                ".devcontainer/devcontainer.json",
                r#"{"build": {"dockerfile": "Dockerfile"}}"#,
            ),
            (
                ".devcontainer/Dockerfile",
                "FROM localhost/aicockpit/base:latest\n",
            ),
            (".devcontainer/nonce", &nonce),
        ],
    );
    let (v, lines) = create(&api, "pruned", &url).await;
    assert_eq!(v["state"], "succeeded", "{v} {lines:#?}");
    let (_, w) = api.get("/api/v1/workspaces/pruned").await;
    let image = w["image"].as_str().expect("image").to_owned();
    let docker = crate::common::docker().await;
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    assert!(
        docker.inspect_image(&image).await.is_ok(),
        "kept while used: {image}"
    );
    let (s, v) = api.delete("/api/v1/workspaces/pruned?purge=true").await;
    assert!(s.is_success(), "{v}");
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    while docker.inspect_image(&image).await.is_ok() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{image} was not removed"
        );
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    let rows = audit_rows(&api, "image.prune").await;
    assert!(
        rows.iter().any(|r| r["detail"]["images"]
            .as_array()
            .is_some_and(|a| a.contains(&json!(image)))),
        "{rows:?}"
    );
}

/// A registry serving devcontainer features for one test: Debian's build
/// of the CNCF distribution registry on a free port, features published to
/// it by the reference CLI (`devcontainer features publish`), as ghcr.io
/// serves the official ones. Stopped when dropped.
struct FeatureRegistry {
    child: std::process::Child,
    host: String,
    dir: tempfile::TempDir,
}

impl Drop for FeatureRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl FeatureRegistry {
    fn start() -> FeatureRegistry {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
                dir.path().join("store").display()
            ),
        )
        .expect("config");
        let child = std::process::Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("docker-registry (scripts/setup.sh --test installs it)");
        let reg = FeatureRegistry {
            child,
            host: format!("localhost:{port}"),
            dir,
        };
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return reg;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("the registry did not listen on {port}");
    }

    /// Publishes the feature `id` made of `files` (name, text, executable)
    /// under `aicockpit/features`, with the reference CLI.
    fn publish(&self, id: &str, files: &[(&str, &str, bool)]) {
        let src = self.dir.path().join("src");
        for (name, text, executable) in files {
            let path = src.join(id).join(name);
            std::fs::create_dir_all(path.parent().expect("a folder")).expect("mkdir");
            std::fs::write(&path, text).expect("write");
            if *executable {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
                    .expect("chmod");
            }
        }
        let cli = std::env::var("AICOCKPIT_TEST_DEVCONTAINER_CLI")
            .expect("AICOCKPIT_TEST_DEVCONTAINER_CLI (scripts/devcontainer-cli.sh prints it)");
        let out = std::process::Command::new(cli)
            .args([
                "features",
                "publish",
                "--registry",
                &self.host,
                "--namespace",
                "aicockpit/features",
            ])
            .arg(&src)
            .output()
            .expect("devcontainer features publish");
        assert!(
            out.status.success(),
            "publish: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// A feature from a registry the admins listed is fetched by the server
/// (the manifest, then its layer, checked against the digest) and
/// installed as a local one is, with its options, its containerEnv, the
/// modes of its files and what it depends on (installed first); a version
/// the registry does not have, a registry not listed, and a registry that
/// is down are refused naming the feature.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_features_are_fetched_from_listed_registries_only() {
    let registry = FeatureRegistry::start();
    let nonce = format!("{:?}", std::time::SystemTime::now());
    // hello depends on base, which the configuration does not name: it is
    // fetched too and installed first, with the options hello gives it.
    registry.publish(
        "base",
        &[
            (
                "devcontainer-feature.json",
                r#"{"id": "base", "version": "1.0.0", "name": "Base", "options": {"word": {"type": "string", "default": "plain"}}}"#,
                false,
            ),
            (
                "install.sh",
                "#!/bin/sh\nset -e\necho \"base: $WORD\" > /usr/local/share/hello.txt\n",
                true,
            ),
        ],
    );
    let hello_json = format!(
        r#"{{"id": "hello", "version": "1.2.0", "name": "Hello",
            "options": {{"greeting": {{"type": "string", "default": "hi"}}}},
            "containerEnv": {{"HELLO_FROM": "the registry"}},
            "dependsOn": {{"{}/aicockpit/features/base:1": {{"word": "given by hello"}}}},
            "installsAfter": ["ghcr.io/devcontainers/features/common-utils"]}}"#,
        registry.host
    );
    registry.publish(
        "hello",
        &[
            ("devcontainer-feature.json", &hello_json, false),
            (
                "install.sh",
                "#!/bin/sh\nset -e\n./lib/say.sh \"$GREETING\" >> /usr/local/share/hello.txt\n",
                true,
            ),
            ("lib/say.sh", "#!/bin/sh\necho \"said: $1\"\n", true),
            ("nonce", &nonce, false),
        ],
    );
    let listed = registry.host.clone();
    let srv = git_server();
    let ts = TestServer::start_with(move |c| {
        c.workspaces.network_pool = "10.218.0.0/16".into();
        c.workspaces.block_host_access = false;
        c.workspaces.feature_registries = vec![listed];
    })
    .await;
    let api = ts.admin_api();
    let feature = format!("{}/aicockpit/features/hello:1", registry.host);
    let config = format!(
        r#"{{"image": "localhost/aicockpit/base:latest", "features": {{"{feature}": {{"greeting": "it's me"}}}}}}"#
    );
    let url = publish(&srv, "fetched", &[(".devcontainer.json", config.as_str())]);
    let (v, lines) = create(&api, "fetched", &url).await;
    assert_eq!(v["state"], "succeeded", "{v} {lines:#?}");
    let all = lines.join("\n");
    assert!(
        all.contains(&format!("fetching feature {feature}")),
        "{all}"
    );
    assert!(all.contains("aicockpit: installing feature hello"), "{all}");
    let (code, out, err) = api
        .sh(
            "fetched",
            "cat /usr/local/share/hello.txt; echo $HELLO_FROM",
        )
        .await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "base: given by hello\nsaid: it's me\nthe registry\n");
    assert!(
        all.contains("depends on localhost:"),
        "the dependency is said: {all}"
    );

    let down = FeatureRegistry::start();
    let down_host = down.host.clone();
    drop(down);
    for (name, feature, says) in [
        (
            "no-version",
            format!("{}/aicockpit/features/hello:9", registry.host),
            "no such feature or version".to_owned(),
        ),
        (
            "no-feature",
            format!("{}/aicockpit/features/nothing:1", registry.host),
            "no such feature or version".to_owned(),
        ),
        (
            "not-listed",
            format!("{down_host}/aicockpit/features/hello:1"),
            format!("the registry {down_host} is not one this server fetches features from"),
        ),
    ] {
        let config = format!(
            r#"{{"image": "localhost/aicockpit/base:latest", "features": {{"{feature}": {{}}}}}}"#
        );
        let url = publish(&srv, name, &[(".devcontainer.json", config.as_str())]);
        let (v, lines) = create(&api, name, &url).await;
        assert_eq!(v["state"], "failed", "{name}: {v} {lines:#?}");
        assert_eq!(v["error_code"], "feature_unavailable", "{name}: {v}");
        let message = v["error"].as_str().unwrap_or_default();
        assert!(message.contains(&feature), "{name}: {message}");
        assert!(message.contains(&says), "{name}: {message}");
    }
    // The listed registry gone: said, not hung.
    drop(registry);
    let url = publish(&srv, "gone", &[(".devcontainer.json", config.as_str())]);
    let (v, lines) = create(&api, "gone", &url).await;
    assert_eq!(v["state"], "failed", "{v} {lines:#?}");
    let message = v["error"].as_str().unwrap_or_default();
    assert!(message.contains("could not be reached"), "{message}");
}

/// What the spec gives tools: a terminal opened without a folder, and an SSH
/// session, start in
/// the configuration's workspaceFolder, with its remoteEnv (substituted
/// from the container's environment), after creation and after a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminals_open_in_the_workspace_folder_with_remote_env() {
    use crate::workspace_agent::{connect_ws, open_terminal, read_until};
    use futures_util::SinkExt;
    use tokio_tungstenite::tungstenite::Message;
    let srv = git_server();
    let ts = server().await;
    let api = ts.admin_api();
    let url = publish(
        &srv,
        "tools",
        &[
            (
                ".devcontainer.json",
                r#"{"image": "localhost/aicockpit/base:latest", "workspaceFolder": "/workspace/app",
                    "containerEnv": {"DROPPED": "still-here"},
                    "remoteEnv": {"GREETING": "hi-${containerEnv:HOME}", "DROPPED": null}}"#,
            ),
            ("app/readme", "x"),
        ],
    );
    let (v, lines) = create(&api, "tools", &url).await;
    assert_eq!(v["state"], "succeeded", "{v} {lines:#?}");
    for round in ["created", "restarted"] {
        let tid = open_terminal(&api, "tools").await;
        let mut t = connect_ws(&ts, &ts.admin, "tools", &tid).await;
        read_until(&mut t, "\"type\":\"attached\"}").await;
        t.send(Message::Binary(
            b"echo \"[$GREETING|$PWD|${DROPPED-unset}]\"\r"
                .to_vec()
                .into(),
        ))
        .await
        .expect("send");
        read_until(&mut t, "[hi-/home/dev|/workspace/app|unset]").await;
        // An SSH session too (a desktop IDE's remote mode).
        let home = tempfile::tempdir().expect("tempdir");
        let ssh = ts.url.clone();
        let token = ts.admin.clone();
        let o = tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_aicockpit"))
                .args([
                    "--server",
                    &ssh,
                    "ssh",
                    "tools",
                    "--",
                    "echo \"[$GREETING|$PWD|${DROPPED-unset}]\"",
                ])
                .env("HOME", home.path())
                .env_remove("XDG_CONFIG_HOME")
                .env_remove("AICOCKPIT_CLI_CONFIG")
                .env("AICOCKPIT_TOKEN", token)
                .stdin(std::process::Stdio::null())
                .output()
                .expect("aicockpit ssh")
        })
        .await
        .expect("join");
        assert_eq!(
            String::from_utf8_lossy(&o.stdout),
            "[hi-/home/dev|/workspace/app|unset]\n",
            "{round}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        if round == "created" {
            let (s, v) = api
                .post("/api/v1/workspaces/tools/restart", json!({}))
                .await;
            assert_eq!(s, StatusCode::OK, "{v}");
        }
    }
}
