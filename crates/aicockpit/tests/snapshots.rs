//! Snapshots and forks of whole workspaces: a package installed with dpkg
//! and a file in /workspace both survive into the fork; snapshots are
//! their owner's alone; their images are reached only through them.

use crate::common::{assert_error, docker, Api, TestServer};
use aicockpit_core::auth::Role;
use reqwest::StatusCode;
use serde_json::{json, Value};

/// Runs `script` as root (admins only) and asserts it succeeded.
async fn as_root(api: &Api, ws: &str, script: &str) -> String {
    let (s, r) = api
        .post(
            &format!("/api/v1/workspaces/{ws}/exec"),
            json!({"argv": ["sh", "-c", script], "user": "0", "timeout_secs": 60}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["exit_code"], 0, "{script}: {r}");
    r["stdout"].as_str().unwrap_or_default().to_owned()
}

/// A tiny package, built and installed inside the workspace with dpkg.
const INSTALL_PACKAGE: &str = r#"set -e
mkdir -p /tmp/pkg/DEBIAN /tmp/pkg/usr/local/bin
printf 'Package: hello-aicockpit\nVersion: 1.0\nArchitecture: all\nMaintainer: t <t@example.com>\nDescription: test\n' > /tmp/pkg/DEBIAN/control
printf '#!/bin/sh\necho hello from a package\n' > /tmp/pkg/usr/local/bin/hello-aicockpit
chmod 0755 /tmp/pkg/usr/local/bin/hello-aicockpit
dpkg-deb --build /tmp/pkg /tmp/hello.deb >/dev/null
dpkg -i /tmp/hello.deb >/dev/null
rm -rf /tmp/pkg /tmp/hello.deb"#;

fn rows(v: &Value, action: &str) -> Vec<Value> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["action"] == action)
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fork_has_the_installed_package_and_the_data_and_snapshots_are_their_owners() {
    let ts = TestServer::start().await;
    let admin = ts.admin_api();
    let bob = ts.api(&ts.user("snap-bob", Role::Member).await);

    let (s, w) = admin
        .post(
            "/api/v1/workspaces",
            json!({"name": "orig", "template": "base", "memory_mb": 640, "env": {"FOO": "bar"}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{w}");
    as_root(&admin, "orig", INSTALL_PACKAGE).await;
    let (code, _, err) = admin
        .sh("orig", "echo original > /workspace/data.txt")
        .await;
    assert_eq!(code, 0, "{err}");

    let (s, snap) = admin
        .post("/api/v1/workspaces/orig/snapshots", json!({"name": "s1"}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{snap}");
    let id = snap["id"].as_str().expect("id").to_owned();
    assert_eq!(snap["workspace_name"], "orig");
    let (s, v) = admin
        .post("/api/v1/workspaces/orig/snapshots", json!({"name": "s1"}))
        .await;
    assert_error(s, &v, StatusCode::CONFLICT, "name_taken");
    let (s, v) = admin
        .post(
            "/api/v1/workspaces/orig/snapshots",
            json!({"name": "Bad Name"}),
        )
        .await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, "invalid_name");
    // Changed after the snapshot: the fork has what was there before.
    admin.sh("orig", "echo changed > /workspace/data.txt").await;

    // Bob sees none of it and reaches none of it, by id, name or image.
    let (_, list) = bob.get("/api/v1/snapshots").await;
    assert_eq!(list, json!([]));
    for target in [id.as_str(), "s1"] {
        let (s, v) = bob
            .post(
                &format!("/api/v1/snapshots/{target}/fork"),
                json!({"name": "mine"}),
            )
            .await;
        assert_error(s, &v, StatusCode::NOT_FOUND, "not_found");
        let (s, v) = bob.delete(&format!("/api/v1/snapshots/{target}")).await;
        assert_error(s, &v, StatusCode::NOT_FOUND, "not_found");
    }
    for image in [
        format!("localhost/aicockpit/snapshot:{id}"),
        format!("aicockpit/snapshot:{id}"),
        format!("LOCALHOST/AICOCKPIT/SNAPSHOT:{id}"),
    ] {
        let (s, v) = bob
            .post(
                "/api/v1/workspaces",
                json!({"name": "sneaky", "image": image}),
            )
            .await;
        assert_error(s, &v, StatusCode::BAD_REQUEST, "invalid_image");
    }
    let (s, v) = bob
        .post("/api/v1/workspaces/orig/snapshots", json!({}))
        .await;
    assert_error(s, &v, StatusCode::NOT_FOUND, "not_found");

    // The fork: the package, the data as it was, the settings.
    let (s, fork) = admin
        .post(
            &format!("/api/v1/snapshots/{id}/fork"),
            json!({"name": "forked"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{fork}");
    assert_eq!(fork["limits"]["memory_mb"], 640);
    assert_ne!(fork["id"], w["id"]);
    let out = as_root(
        &admin,
        "forked",
        "dpkg-query -W -f='${Status}\\n' hello-aicockpit; hello-aicockpit",
    )
    .await;
    assert_eq!(out, "install ok installed\nhello from a package\n");
    let (code, out, err) = admin
        .sh(
            "forked",
            "cat /workspace/data.txt; echo $FOO; touch /workspace/new",
        )
        .await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "original\nbar\n");
    assert_eq!(
        admin.sh("orig", "cat /workspace/data.txt").await.1,
        "changed\n"
    );

    // Restored: back as it was, package and data; only its own snapshots,
    // only by its owner.
    let (s, v) = bob
        .post("/api/v1/workspaces/orig/restore", json!({"snapshot": id}))
        .await;
    assert_error(s, &v, StatusCode::NOT_FOUND, "not_found");
    let (s, v) = admin
        .post("/api/v1/workspaces/forked/restore", json!({"snapshot": id}))
        .await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, "wrong_workspace");
    as_root(&admin, "orig", "dpkg -r hello-aicockpit >/dev/null").await;
    let (s, v) = admin
        .post("/api/v1/workspaces/orig/restore", json!({"snapshot": "s1"}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["state"], "running");
    assert_eq!(
        admin.sh("orig", "cat /workspace/data.txt").await.1,
        "original\n"
    );
    assert_eq!(
        as_root(&admin, "orig", "hello-aicockpit").await,
        "hello from a package\n"
    );

    // A stopped workspace can be snapshotted too.
    let (s, v) = admin.post_empty("/api/v1/workspaces/orig/stop").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = admin
        .post("/api/v1/workspaces/orig/snapshots", json!({}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let second = v["id"].as_str().expect("id").to_owned();
    let (_, list) = admin.get("/api/v1/snapshots").await;
    assert_eq!(list.as_array().map(Vec::len), Some(2), "{list}");
    assert_eq!(list[0]["id"], second.as_str(), "newest first");

    // In use while the fork exists; then deleted with its image.
    let (s, v) = admin.delete(&format!("/api/v1/snapshots/{id}")).await;
    assert_error(s, &v, StatusCode::CONFLICT, "snapshot_in_use");
    for ws in ["forked", "orig"] {
        let (s, v) = admin
            .delete(&format!("/api/v1/workspaces/{ws}?purge=true"))
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
    }
    let (s, v) = admin.delete("/api/v1/snapshots/s1").await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    let d = docker().await;
    assert!(d
        .inspect_image(&format!("localhost/aicockpit/snapshot:{id}"))
        .await
        .is_err());
    assert!(d
        .inspect_volume(&format!("aicockpit-snap-{id}"))
        .await
        .is_err());
    let (s, _) = admin.delete(&format!("/api/v1/snapshots/{id}")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, v) = admin.delete(&format!("/api/v1/snapshots/{second}")).await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");

    let (_, audit) = admin.get("/api/v1/audit?limit=200").await;
    assert_eq!(rows(&audit, "workspace.snapshot").len(), 2, "{audit}");
    assert_eq!(rows(&audit, "workspace.snapshot.delete").len(), 2);
    assert_eq!(rows(&audit, "workspace.restore").len(), 1);
    assert!(rows(&audit, "workspace.create")
        .iter()
        .any(|r| r["detail"]["from_snapshot"] == id.as_str()));
}
