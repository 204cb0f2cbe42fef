//! Creating a workspace from a repository with a devcontainer.json,
//! against a real git server and the real engine: the image is built from
//! the repository's Dockerfile (FROM the local base image), the container
//! made again with its environment, user and ports, its lifecycle commands
//! run; a configuration that would weaken isolation, or a Dockerfile that
//! reaches an image nobody may name, is refused with a message naming it
//! and leaves the workspace as it was.

use crate::common::{Api, TestServer};
use crate::git::{audit_rows, follow, git, git_server, GitServer};
use reqwest::StatusCode;
use serde_json::{json, Value};

/// Publishes a repository `name` on `srv` holding `files`.
fn publish(srv: &GitServer, name: &str, files: &[(&str, &str)]) -> String {
    let work = tempfile::tempdir().expect("tempdir");
    git(work.path(), &["init", "-q", "-b", "main"]);
    for (path, content) in files {
        let p = work.path().join(path);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, content).expect("write");
    }
    git(work.path(), &["add", "."]);
    git(work.path(), &["commit", "-q", "-m", "project"]);
    let bare = srv.repos.join(format!("{name}.git"));
    git(
        work.path(),
        &["clone", "-q", "--bare", ".", bare.to_str().expect("path")],
    );
    format!("{}/{name}.git", srv.url)
}

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
    "containerEnv": { "PROJECT_MODE": "devcontainer", "WS": "${containerWorkspaceFolder}" },
    "remoteEnv": { "FROM_REMOTE": "${containerEnv:PROJECT_MODE}-remote" },
    "remoteUser": "builder",
    "forwardPorts": [5173, 8080],
    "portsAttributes": { "5173": { "label": "Vite", "onAutoForward": "openPreview" } },
    "onCreateCommand": { "a": "touch /workspace/on-create-a", "b": ["touch", "/workspace/on-create-b"] },
    "postCreateCommand": "echo created-$FROM_REMOTE > /workspace/post-create.txt && id -un >> /workspace/post-create.txt",
    "postStartCommand": ["sh", "-c", "echo started >> /workspace/post-start.txt"],
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
    assert_eq!(w["user"], "builder", "{w}");
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
        json!(["onCreateCommand", "postCreateCommand", "postStartCommand"]),
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
        "created-devcontainer-remote\nbuilder\nhello from the build\ndevcontainer\nbuilder\n\
         /workspace/on-create-a\n/workspace/on-create-b\nstarted\nthe project\n"
    );
    let rows = audit_rows(&api, "workspace.devcontainer").await;
    assert!(
        rows.iter()
            .any(|r| r["workspace_id"] == w["id"] && r["result"] == "ok"),
        "{rows:?}"
    );

    // Started again: postStartCommand runs again (in the background).
    let (s, v) = api.post("/api/v1/workspaces/dc/stop", json!({})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = api.post("/api/v1/workspaces/dc/start", json!({})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (v, lines) = follow(&api, "dc").await;
    assert_eq!(v["kind"], "post_start", "{v}");
    assert_eq!(v["state"], "succeeded", "{v} {lines:#?}");
    let (_, out, _) = api.sh("dc", "cat /workspace/post-start.txt").await;
    assert_eq!(out, "started\nstarted\n");

    // Rebuilt after the configuration changed inside: the new environment,
    // the same /workspace, the creation commands again.
    let (code, _, err) = api
        .sh(
            "dc",
            "sed -i 's/\"PROJECT_MODE\": \"devcontainer\"/\"PROJECT_MODE\": \"rebuilt\"/' \
             .devcontainer/devcontainer.json && echo kept > /workspace/mine.txt",
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
    assert_eq!(out, "rebuilt\nkept\ncreated-rebuilt-remote\nbuilder\n");
    assert!(!audit_rows(&api, "workspace.rebuild").await.is_empty());
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
            r#"{"image": "localhost/aicockpit/base:latest", "capAdd": ["SYS_ADMIN"], "runArgs": ["--privileged"]}"#,
            "",
            "devcontainer_refused",
            "capAdd",
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
