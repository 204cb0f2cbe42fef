//! Dotfiles, against a real git server and the real engine: a user's
//! repository is installed into every workspace they make (its install
//! script, else links into the home), private ones with the stored token;
//! failures say which step failed and leave the workspace running; the
//! setting refuses what git would misread, and only its owner sees it.

use crate::common::{assert_error, Api, TestServer};
use crate::git::{audit_rows, follow, git_server, git_server_with, publish};
use aicockpit_core::auth::Role;
use reqwest::StatusCode;
use serde_json::json;

async fn server() -> TestServer {
    // Outside the pool the host firewall guards, so the workspaces may
    // reach this host's git server.
    TestServer::start_with(|c| {
        c.workspaces.network_pool = "10.224.0.0/16".into();
        c.workspaces.block_host_access = false;
    })
    .await
}

/// Makes a workspace from the base template and follows its setup.
async fn create_following(api: &Api, name: &str) -> (serde_json::Value, Vec<String>) {
    let (s, w) = api
        .post(
            "/api/v1/workspaces",
            json!({"name": name, "template": "base"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{w}");
    follow(api, name).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dotfiles_are_installed_by_their_script_or_linked_into_new_workspaces() {
    let srv = git_server();
    let scripted = publish(
        &srv,
        "dotfiles-scripted",
        &[
            (
                "install.sh",
                "#!/bin/sh\nset -e\necho \"installing as $(id -un) in $(pwd)\"\n\
                 echo \"from-dotfiles $HOME\" > \"$HOME/.installed\"\n",
            ),
            (".aliases", "alias ll='ls -l'\n"),
        ],
    );
    let linked = publish(
        &srv,
        "dotfiles-linked",
        &[
            (".gitconfig", "[user]\n\tname = Dot Files\n"),
            (".bashrc", "export FROM_DOTFILES=yes\n"),
            ("README.md", "not a dotfile\n"),
        ],
    );
    let ts = server().await;
    let member = ts.api(&ts.user("dotty", Role::Member).await);

    // No dotfiles: no setup at all.
    let (s, v) = member.get("/api/v1/dotfiles").await;
    assert_eq!((s, v.clone()), (StatusCode::OK, json!(null)), "{v}");

    // With an install script: it runs as the workspace user, in the clone.
    let (s, v) = member
        .put("/api/v1/dotfiles", json!({"url": scripted}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v, json!({"url": scripted, "ref": null}));
    let (v, lines) = create_following(&member, "dots-a").await;
    assert_eq!(v["state"], "succeeded", "{v} {lines:#?}");
    assert_eq!(v["kind"], "dotfiles", "{v}");
    assert_eq!(v["phase"], "dotfiles", "{v}");
    let all = lines.join("\n");
    assert!(all.contains("running the dotfiles' install.sh"), "{all}");
    assert!(
        all.contains("installing as dev in /home/dev/.dotfiles"),
        "{all}"
    );
    let (code, out, err) = member
        .sh(
            "dots-a",
            "cat ~/.installed; test -L ~/.aliases || echo not-linked",
        )
        .await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "from-dotfiles /home/dev\nnot-linked\n");

    // Without one: the dotfiles are linked; what the image had is kept
    // aside; other files and .git are not linked.
    let (s, v) = member
        .put("/api/v1/dotfiles", json!({"url": linked, "ref": "main"}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (v, lines) = create_following(&member, "dots-b").await;
    assert_eq!(v["state"], "succeeded", "{v} {lines:#?}");
    let (code, out, err) = member
        .sh(
            "dots-b",
            "readlink ~/.gitconfig ~/.bashrc; git config --global user.name; \
             test -f ~/.bashrc.before-dotfiles && echo kept; \
             test -e ~/README.md || echo no-readme; test -e ~/.git || echo no-git",
        )
        .await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        "/home/dev/.dotfiles/.gitconfig\n/home/dev/.dotfiles/.bashrc\nDot Files\nkept\nno-readme\nno-git\n"
    );

    // Audited: the setting and each install.
    assert_eq!(audit_rows(&ts.admin_api(), "dotfiles.set").await.len(), 2);
    let installs = audit_rows(&ts.admin_api(), "workspace.dotfiles").await;
    assert_eq!(installs.len(), 2, "{installs:?}");
    assert!(installs.iter().all(|r| r["result"] == "ok"), "{installs:?}");

    // A workspace from git gets them after its clone, in the same setup.
    let (s, w) = member
        .post(
            "/api/v1/workspaces",
            json!({"name": "dots-git", "template": "base", "git": {"url": format!("{}/public.git", srv.url)}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{w}");
    let (v, lines) = follow(&member, "dots-git").await;
    assert_eq!(v["state"], "succeeded", "{v} {lines:#?}");
    assert_eq!(
        (v["kind"].clone(), v["phase"].clone()),
        (json!("git_clone"), json!("dotfiles"))
    );
    let (_, out, _) = member
        .sh(
            "dots-git",
            "cat /workspace/README.md; readlink ~/.gitconfig",
        )
        .await;
    assert_eq!(out, "version two\n/home/dev/.dotfiles/.gitconfig\n");

    // Another user's workspaces do not get them; forgetting stops them.
    let other = ts.api(&ts.user("plain", Role::Member).await);
    let w = other.create_ws("plain-ws").await;
    let (s, _) = other
        .get(&format!(
            "/api/v1/workspaces/{}/setup",
            w["id"].as_str().expect("id")
        ))
        .await;
    assert_eq!(
        s,
        StatusCode::NOT_FOUND,
        "no setup for a user without dotfiles"
    );
    let (s, v) = member.delete("/api/v1/dotfiles").await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    let (s, v) = member.delete("/api/v1/dotfiles").await;
    assert_error(s, &v, StatusCode::NOT_FOUND, "not_found");
    assert_eq!(member.get("/api/v1/dotfiles").await.1, json!(null));
    member.create_ws("dots-none").await;
    let (s, _) = member.get("/api/v1/workspaces/dots-none/setup").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_dotfiles_use_the_stored_token_and_failures_name_their_step() {
    const TOKEN: &str = "tok-dotfiles-88c1d0a4";
    let srv = git_server_with(Some(&format!("dotty:{TOKEN}")));
    let failing = publish(
        &srv,
        "dotfiles-failing",
        &[("bootstrap.sh", "#!/bin/sh\necho half-way\nexit 3\n")],
    );
    let ts = server().await;
    let member = ts.api(&ts.user("dotty", Role::Member).await);
    let private = format!("{}/private/secret.git", srv.url);

    // Without a credential: the clone fails, the workspace still runs, the
    // message says what went wrong; nothing is left half-cloned.
    let (s, _) = member
        .put("/api/v1/dotfiles", json!({"url": private}))
        .await;
    assert_eq!(s, StatusCode::OK);
    let (v, lines) = create_following(&member, "priv-a").await;
    assert_eq!(v["state"], "failed", "{v} {lines:#?}");
    assert_eq!(v["error_code"], "dotfiles_failed", "{v}");
    let message = v["error"].as_str().unwrap_or_default();
    assert!(
        message.contains("could not be cloned") && message.contains("git credential for"),
        "{message}"
    );
    let (s, w) = member.get("/api/v1/workspaces/priv-a").await;
    assert_eq!((s, w["state"].clone()), (StatusCode::OK, json!("running")));
    let (_, out, _) = member
        .sh("priv-a", "test -e ~/.dotfiles || echo gone")
        .await;
    assert_eq!(out, "gone\n");
    let rows = audit_rows(&ts.admin_api(), "workspace.dotfiles").await;
    assert!(rows.iter().any(|r| r["result"] == "failed"), "{rows:?}");

    // With the stored token: cloned (it has no dotfiles: nothing linked).
    let (s, c) = member
        .post(
            "/api/v1/git-credentials",
            json!({"url": srv.url, "username": "dotty", "token": TOKEN}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    let (v, lines) = create_following(&member, "priv-b").await;
    assert_eq!(v["state"], "succeeded", "{v} {lines:#?}");
    let (_, out, _) = member
        .sh("priv-b", "cat ~/.dotfiles/README.md; grep -rl tok-dotfiles ~ /proc/*/environ 2>/dev/null | head -1")
        .await;
    assert_eq!(
        out, "version two\n",
        "cloned, and the token written nowhere"
    );

    // An install script that fails: named, with its exit code.
    member
        .put("/api/v1/dotfiles", json!({"url": failing}))
        .await;
    let (v, lines) = create_following(&member, "priv-c").await;
    assert_eq!(v["state"], "failed", "{v} {lines:#?}");
    assert_eq!(
        v["error"], "the dotfiles' bootstrap.sh failed with exit code 3",
        "{v}"
    );
    assert!(lines.iter().any(|l| l == "half-way"), "{lines:#?}");

    // After a clone the same failure is a warning: the workspace's own
    // setup succeeded.
    let (s, w) = member
        .post(
            "/api/v1/workspaces",
            json!({"name": "priv-d", "template": "base", "git": {"url": format!("{}/public.git", srv.url)}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{w}");
    let (v, lines) = follow(&member, "priv-d").await;
    assert_eq!(v["state"], "succeeded", "{v} {lines:#?}");
    assert!(
        lines
            .iter()
            .any(|l| l == "aicockpit: warning: the dotfiles' bootstrap.sh failed with exit code 3"),
        "{lines:#?}"
    );
    // The actor of the install is who made the workspace.
    let rows = audit_rows(&ts.admin_api(), "workspace.dotfiles").await;
    assert!(rows.iter().all(|r| r["actor"] != "workspace"), "{rows:?}");
}

/// What the setting accepts: (body, expected status, expected code).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dotfiles_setting_refuses_hostile_input_and_other_callers() {
    let ts = TestServer::start().await;
    let member = ts.api(&ts.user("dotty", Role::Member).await);
    let long = format!("https://example.com/{}", "a".repeat(3000));
    let table = [
        (
            json!({"url": "--upload-pack=touch /tmp/x"}),
            "invalid_git_source",
        ),
        (
            json!({"url": "ext::sh -c touch% /tmp/x"}),
            "invalid_git_source",
        ),
        (json!({"url": "file:///etc"}), "invalid_git_source"),
        (json!({"url": "/srv/repos/dotfiles"}), "invalid_git_source"),
        (
            json!({"url": "https://user:secret@example.com/d.git"}),
            "invalid_git_source",
        ),
        (
            json!({"url": "https://example.com/d.git\nx"}),
            "invalid_git_source",
        ),
        (json!({"url": ""}), "invalid_git_source"),
        (json!({"url": long}), "invalid_git_source"),
        (
            json!({"url": "https://example.com/d.git", "ref": "--orphan"}),
            "invalid_git_source",
        ),
        (
            json!({"url": "https://example.com/d.git", "ref": "a..b"}),
            "invalid_git_source",
        ),
        (
            json!({"url": "https://example.com/d.git", "script": "x"}),
            "invalid_request",
        ),
        (json!({"ref": "main"}), "invalid_request"),
        (json!({"url": 7}), "invalid_request"),
    ];
    for (body, code) in table {
        let (s, v) = member.put("/api/v1/dotfiles", body.clone()).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{body}: {v}");
        assert_eq!(v["error"]["code"], code, "{body}: {v}");
    }
    assert_eq!(
        member.get("/api/v1/dotfiles").await.1,
        json!(null),
        "nothing stored"
    );

    let viewer = ts.api(&ts.user("watcher", Role::Viewer).await);
    let (s, v) = viewer
        .put(
            "/api/v1/dotfiles",
            json!({"url": "https://example.com/d.git"}),
        )
        .await;
    assert_error(s, &v, StatusCode::FORBIDDEN, "forbidden");
    let (s, _) = ts.anonymous().get("/api/v1/dotfiles").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);

    // Each user sees only their own.
    let (s, _) = member
        .put(
            "/api/v1/dotfiles",
            json!({"url": "https://example.com/mine.git", "ref": "v2"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(ts.admin_api().get("/api/v1/dotfiles").await.1, json!(null));
    assert_eq!(
        member.get("/api/v1/dotfiles").await.1,
        json!({"url": "https://example.com/mine.git", "ref": "v2"})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_sets_shows_and_forgets_dotfiles() {
    let ts = TestServer::start().await;
    let member = ts.user("cli-dots", Role::Member).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let run = |args: &[&str]| ts.cli_as(&member, dir.path(), args);
    let out = run(&["dotfiles", "show"]);
    assert_eq!(out.status.code(), Some(4), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("dotfiles set"));
    let out = run(&[
        "dotfiles",
        "set",
        "https://example.com/d.git",
        "--ref",
        "main",
    ]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let out = run(&["dotfiles", "show"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "https://example.com/d.git (ref main)"
    );
    let out = run(&["dotfiles", "set", "file:///etc"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let out = run(&["dotfiles", "rm"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let out = run(&["dotfiles", "rm"]);
    assert_eq!(out.status.code(), Some(4), "{out:?}");
}
