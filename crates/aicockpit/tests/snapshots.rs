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

/// Downloads `path` to a file, streamed.
async fn download(ts: &TestServer, token: &str, path: &str, to: &std::path::Path) -> StatusCode {
    use futures_util::StreamExt;
    use tokio::io::AsyncWriteExt;
    let resp = reqwest::Client::new()
        .get(format!("{}{path}", ts.url))
        .bearer_auth(token)
        .send()
        .await
        .expect("send");
    let status = resp.status();
    let mut f = tokio::fs::File::create(to).await.expect("create");
    let mut body = resp.bytes_stream();
    while let Some(chunk) = body.next().await {
        f.write_all(&chunk.expect("chunk")).await.expect("write");
    }
    f.flush().await.expect("flush");
    status
}

/// Uploads a file as a snapshot archive, streamed.
async fn upload(ts: &TestServer, token: &str, from: &std::path::Path) -> (StatusCode, Value) {
    let file = tokio::fs::File::open(from).await.expect("open");
    let resp = reqwest::Client::new()
        .post(format!("{}/api/v1/snapshots/import", ts.url))
        .bearer_auth(token)
        .header("content-type", "application/x-tar")
        .body(reqwest::Body::from(file))
        .send()
        .await
        .expect("send");
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exported_snapshot_imported_into_a_fresh_server_forks_with_its_package_and_data() {
    let dir = tempfile::tempdir().expect("tempdir");
    let archive = dir.path().join("s.tar");
    let a = TestServer::start().await;
    let admin_a = a.admin_api();
    admin_a.create_ws("travel").await;
    as_root(&admin_a, "travel", INSTALL_PACKAGE).await;
    admin_a
        .sh(
            "travel",
            "mkdir -p /workspace/src && echo carried > /workspace/src/f",
        )
        .await;
    let (s, snap) = admin_a
        .post(
            "/api/v1/workspaces/travel/snapshots",
            json!({"name": "trip"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{snap}");
    let token_a = admin_a.token().expect("token").to_owned();
    let bob_a = a.user("travel-bob", Role::Member).await;
    assert_eq!(
        download(&a, &bob_a, "/api/v1/snapshots/trip/export", &archive).await,
        StatusCode::NOT_FOUND,
        "another user's snapshot"
    );
    let status = download(&a, &token_a, "/api/v1/snapshots/trip/export", &archive).await;
    assert_eq!(status, StatusCode::OK);
    let size = std::fs::metadata(&archive).expect("archive").len();
    assert!(size > 1024 * 1024, "an image and data: {size} bytes");

    // A fresh server (its own database and installation) takes it in.
    let b = TestServer::start().await;
    let member = b.user("importer", Role::Member).await;
    let (s, imported) = upload(&b, &member, &archive).await;
    assert_eq!(s, StatusCode::CREATED, "{imported}");
    assert_eq!(imported["name"], "trip");
    assert_eq!(imported["workspace_name"], "travel");
    let member_b = b.api(&member);
    let (s, fork) = member_b
        .post("/api/v1/snapshots/trip/fork", json!({"name": "arrived"}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{fork}");
    let (code, out, err) = member_b
        .sh("arrived", "cat /workspace/src/f; dpkg-query -W -f='${Status}\\n' hello-aicockpit; hello-aicockpit")
        .await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "carried\ninstall ok installed\nhello from a package\n");
    // A second import of the same archive gets a name of its own.
    let (s, again) = upload(&b, &member, &archive).await;
    assert_eq!(s, StatusCode::CREATED, "{again}");
    assert_ne!(again["name"], "trip");
    assert!(again["name"]
        .as_str()
        .unwrap_or_default()
        .starts_with("trip-"));

    let (_, audit) = b.admin_api().get("/api/v1/audit?limit=100").await;
    assert_eq!(
        rows(&audit, "workspace.snapshot.import").len(),
        2,
        "{audit}"
    );
    let (_, audit) = admin_a.get("/api/v1/audit?limit=100").await;
    assert_eq!(
        rows(&audit, "workspace.snapshot.export").len(),
        1,
        "{audit}"
    );
    for (ws, api) in [("arrived", &member_b)] {
        api.delete(&format!("/api/v1/workspaces/{ws}?purge=true"))
            .await;
    }
    for snap in [imported["id"].clone(), again["id"].clone()] {
        let (s, v) = member_b
            .delete(&format!(
                "/api/v1/snapshots/{}",
                snap.as_str().unwrap_or("?")
            ))
            .await;
        assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    }
    admin_a.delete("/api/v1/workspaces/travel?purge=true").await;
    let (s, _) = admin_a.delete("/api/v1/snapshots/trip").await;
    assert_eq!(s, StatusCode::NO_CONTENT);
}

/// A tar of `(name, bytes)` entries.
fn tar_of(entries: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        // Written raw: hostile names (`..`) are what some cases are about.
        h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        h.set_cksum();
        b.append(&h, data.as_slice()).expect("append");
    }
    b.into_inner().expect("tar")
}

/// An image archive of one tiny image whose manifest names `tag`.
fn image_archive(tag: &str) -> Vec<u8> {
    image_archive_with(tag, |_| vec![])
}

/// The same with more entries after it, made from its manifest's bytes.
fn image_archive_with(tag: &str, extra: impl Fn(&[u8]) -> Vec<(String, Vec<u8>)>) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    let layer = tar_of(&[("hello.txt", b"hi\n".to_vec())]);
    let diff = format!("sha256:{:x}", Sha256::digest(&layer));
    let config = serde_json::to_vec(&json!({
        "architecture": "amd64", "os": "linux", "config": {"Cmd": ["sh"]},
        "rootfs": {"type": "layers", "diff_ids": [diff]},
    }))
    .expect("config");
    let config_name = format!("{:x}.json", Sha256::digest(&config));
    let manifest = serde_json::to_vec(&json!([
        {"Config": config_name, "RepoTags": [tag], "Layers": ["l/layer.tar"]}
    ]))
    .expect("manifest");
    let more = extra(&manifest);
    let mut entries: Vec<(&str, Vec<u8>)> = vec![
        (&config_name, config),
        ("l/layer.tar", layer),
        ("manifest.json", manifest.clone()),
        ("repositories", format!(r#"{{"{tag}":{{}}}}"#).into_bytes()),
    ];
    entries.extend(more.iter().map(|(n, b)| (n.as_str(), b.clone())));
    tar_of(&entries)
}

fn meta(name: &str, format: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "format": format, "name": name, "workspace_id": "w0", "workspace_name": "elsewhere",
        "created_at": 0,
        "settings": {"user": "1000:1000", "template": "base", "image": "x", "cpu_millis": 1000,
                     "memory_mb": 512, "pids_limit": 256, "env": {}, "ports": [], "idle_timeout_secs": null}
    }))
    .expect("meta")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_snapshot_archives_are_refused_and_replace_no_image() {
    let ts = TestServer::start_with(|c| c.workspaces.max_snapshot_import_bytes = 256 * 1024).await;
    let member = ts.api(&ts.user("importer", Role::Member).await);
    let viewer = ts.api(&ts.user("watcher", Role::Viewer).await);
    let base = "localhost/aicockpit/base:latest";
    let d = docker().await;
    let base_id = d.inspect_image(base).await.expect("base image").id;
    let good_meta = meta("ok", "aicockpit-snapshot/1");
    let empty = tar_of(&[]);

    let cases: Vec<(&str, Vec<u8>, StatusCode, &str)> = vec![
        (
            "not a tar",
            b"hello, world".repeat(100),
            StatusCode::BAD_REQUEST,
            "invalid_snapshot_archive",
        ),
        (
            "settings only",
            tar_of(&[("aicockpit-snapshot.json", good_meta.clone())]),
            StatusCode::BAD_REQUEST,
            "invalid_snapshot_archive",
        ),
        (
            "no settings",
            tar_of(&[
                ("image.tar", image_archive(base)),
                ("data.tar", empty.clone()),
            ]),
            StatusCode::BAD_REQUEST,
            "invalid_snapshot_archive",
        ),
        (
            "a stray entry",
            tar_of(&[("../../etc/passwd", b"x".to_vec())]),
            StatusCode::BAD_REQUEST,
            "invalid_snapshot_archive",
        ),
        (
            "another format",
            tar_of(&[
                ("aicockpit-snapshot.json", meta("ok", "v0")),
                ("image.tar", image_archive(base)),
                ("data.tar", empty.clone()),
            ]),
            StatusCode::BAD_REQUEST,
            "invalid_snapshot_archive",
        ),
        (
            "a bad name",
            tar_of(&[
                (
                    "aicockpit-snapshot.json",
                    meta("Bad Name", "aicockpit-snapshot/1"),
                ),
                ("image.tar", image_archive(base)),
                ("data.tar", empty.clone()),
            ]),
            StatusCode::BAD_REQUEST,
            "invalid_snapshot_archive",
        ),
        (
            "settings as a bomb",
            tar_of(&[("aicockpit-snapshot.json", vec![b' '; 100 * 1024])]),
            StatusCode::BAD_REQUEST,
            "invalid_snapshot_archive",
        ),
        (
            "over the limit",
            tar_of(&[("data.tar", vec![0; 8 * 1024 * 1024])]),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
        (
            "an image that is no image",
            tar_of(&[
                ("aicockpit-snapshot.json", good_meta.clone()),
                ("image.tar", b"junk".to_vec()),
                ("data.tar", empty.clone()),
            ]),
            StatusCode::BAD_REQUEST,
            "invalid",
        ),
    ];
    for (what, body, status, code) in cases {
        let (s, v) = member
            .post_raw("/api/v1/snapshots/import", Some("application/x-tar"), body)
            .await;
        assert_eq!(s, status, "{what}: {v}");
        assert!(
            v["error"]["code"]
                .as_str()
                .unwrap_or_default()
                .starts_with(code),
            "{what}: {v}"
        );
    }
    let (s, v) = viewer
        .post_raw(
            "/api/v1/snapshots/import",
            Some("application/x-tar"),
            empty.clone(),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");

    // Second manifests and OCI indexes naming the template's tag: refused
    // or dropped; never loaded as they say.
    let index = format!(
        r#"{{"schemaVersion":2,"manifests":[{{"annotations":{{"io.containerd.image.name":"{base}"}}}}]}}"#
    );
    let twice = image_archive_with(base, |m| vec![(".//manifest.json".into(), m.to_vec())]);
    let outside = image_archive_with(base, |m| vec![("../manifest.json".into(), m.to_vec())]);
    let indexed = image_archive_with(base, |_| {
        vec![("index.json".into(), index.clone().into_bytes())]
    });
    for (what, image, status) in [
        ("two manifests", twice, StatusCode::BAD_REQUEST),
        (
            "a path out of the archive",
            outside,
            StatusCode::BAD_REQUEST,
        ),
        ("an OCI index", indexed, StatusCode::CREATED),
    ] {
        let body = tar_of(&[
            (
                "aicockpit-snapshot.json",
                meta("twice", "aicockpit-snapshot/1"),
            ),
            ("image.tar", image),
            ("data.tar", tar_of(&[])),
        ]);
        let (s, v) = member
            .post_raw("/api/v1/snapshots/import", Some("application/x-tar"), body)
            .await;
        assert_eq!(s, status, "{what}: {v}");
        assert_eq!(
            d.inspect_image(base).await.expect("base").id,
            base_id,
            "{what}"
        );
        if s == StatusCode::CREATED {
            let id = v["id"].as_str().expect("id");
            let (s, v) = member.delete(&format!("/api/v1/snapshots/{id}")).await;
            assert_eq!(s, StatusCode::NO_CONTENT, "{what}: {v}");
        }
    }

    // An image archive naming the base template's tag is loaded under the
    // snapshot's own tag: the template is untouched.
    let sneaky = tar_of(&[
        ("aicockpit-snapshot.json", good_meta),
        ("image.tar", image_archive(base)),
        ("data.tar", empty),
    ]);
    let (s, v) = member
        .post_raw(
            "/api/v1/snapshots/import",
            Some("application/x-tar"),
            sneaky,
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(d.inspect_image(base).await.expect("base image").id, base_id);
    let id = v["id"].as_str().expect("id");
    let tagged = d
        .inspect_image(&format!("localhost/aicockpit/snapshot:{id}"))
        .await
        .expect("loaded under the snapshot's tag");
    assert_ne!(tagged.id, base_id);
    let (s, v) = member.delete(&format!("/api/v1/snapshots/{id}")).await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    let spool = ts.data_dir.join("spool");
    let left: Vec<_> = std::fs::read_dir(&spool)
        .map(|d| d.flatten().collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "spool directories left: {left:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_backups_write_importable_archives_and_keep_the_newest() {
    let backups = tempfile::tempdir().expect("tempdir");
    let root = backups.path().to_path_buf();
    let ts = TestServer::start_with(|c| {
        c.workspaces.backup_dir = Some(root.clone());
        c.workspaces.backup_keep = 1;
    })
    .await;
    let admin = ts.admin_api();
    let w = admin.create_ws("saved").await;
    admin.sh("saved", "echo first > /workspace/f").await;
    assert_eq!(ts.state.workspaces.back_up_all().await.expect("backup"), 1);
    admin.sh("saved", "echo second > /workspace/f").await;
    assert_eq!(ts.state.workspaces.back_up_all().await.expect("backup"), 1);

    let dir = root.join(format!("saved-{}", w["id"].as_str().expect("id")));
    let files: Vec<_> = std::fs::read_dir(&dir)
        .expect("backup dir")
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(files.len(), 1, "only the newest is kept: {files:?}");
    let (_, audit) = admin.get("/api/v1/audit?action=workspace.backup").await;
    let ok = rows(&audit, "workspace.backup")
        .iter()
        .filter(|r| r["result"] == "ok" && r["actor"] == "system")
        .count();
    assert_eq!(ok, 2, "{audit}");

    // The backup is an archive like any export: it imports and forks.
    let token = admin.token().expect("token").to_owned();
    let (s, snap) = upload(&ts, &token, &files[0]).await;
    assert_eq!(s, StatusCode::CREATED, "{snap}");
    let id = snap["id"].as_str().expect("id").to_owned();
    let (s, v) = admin
        .post(
            &format!("/api/v1/snapshots/{id}/fork"),
            json!({"name": "from-backup"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(
        admin.sh("from-backup", "cat /workspace/f").await.1,
        "second\n"
    );
    admin
        .delete("/api/v1/workspaces/from-backup?purge=true")
        .await;
    let (s, _) = admin.delete(&format!("/api/v1/snapshots/{id}")).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (_, list) = admin.get("/api/v1/snapshots").await;
    assert_eq!(list, json!([]), "backup snapshots do not linger");
}

/// A snapshot deleted while it is exported: the delete is refused (409)
/// and the export is sent whole; deleted afterwards, a later export finds
/// nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_is_not_deleted_during_its_export() {
    let dir = tempfile::tempdir().expect("tempdir");
    let archive = dir.path().join("s.tar");
    let ts = TestServer::start().await;
    let api = ts.admin_api();
    api.create_ws("racing").await;
    api.sh("racing", "echo kept > /workspace/f").await;
    let (s, snap) = api
        .post(
            "/api/v1/workspaces/racing/snapshots",
            json!({"name": "race"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{snap}");
    let token = api.token().expect("token").to_owned();
    let export = download(&ts, &token, "/api/v1/snapshots/race/export", &archive);
    let delete = async {
        // Once the export is under way.
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        api.delete("/api/v1/snapshots/race").await
    };
    let (exported, (deleted, body)) = tokio::join!(export, delete);
    assert_eq!(exported, StatusCode::OK);
    crate::common::assert_error(deleted, &body, StatusCode::CONFLICT, "snapshot_busy");
    let (deleted, body) = api.delete("/api/v1/snapshots/race").await;
    assert_eq!(deleted, StatusCode::NO_CONTENT, "{body}");
    let names: Vec<String> = tar::Archive::new(std::fs::File::open(&archive).expect("open"))
        .entries()
        .expect("a tar")
        .map(|e| {
            e.expect("entry")
                .path()
                .expect("path")
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert!(names.len() >= 3, "meta, image and data: {names:?}");
    let status = download(&ts, &token, "/api/v1/snapshots/race/export", &archive).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
