//! Kept data of deleted workspaces: listed for its owner only, attached to
//! a new workspace (a copy with owners, modes and links intact), purged.

use crate::common::{assert_error, docker, TestServer};
use aicockpit_core::auth::Role;
use reqwest::StatusCode;
use serde_json::{json, Value};

async fn kept_ids(api: &crate::common::Api) -> Vec<String> {
    let (s, v) = api.get("/api/v1/kept-data").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v.as_array()
        .expect("a list")
        .iter()
        .map(|k| k["workspace"].as_str().expect("id").to_owned())
        .collect()
}

fn audit_rows(rows: &Value, action: &str) -> Vec<Value> {
    rows.as_array()
        .or_else(|| rows["entries"].as_array())
        .into_iter()
        .flatten()
        .filter(|r| r["action"] == action)
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kept_data_is_listed_attached_to_a_new_workspace_and_purged_by_its_owner_only() {
    let ts = TestServer::start().await;
    let admin = ts.admin_api();
    let alice = ts.api(&ts.user("kept-alice", Role::Member).await);
    let bob = ts.api(&ts.user("kept-bob", Role::Member).await);
    let viewer = ts.api(&ts.user("kept-viewer", Role::Viewer).await);

    let w = alice.create_ws("proj").await;
    let old = w["id"].as_str().expect("id").to_owned();
    let old_volume = w["volume"].as_str().expect("volume").to_owned();
    let (code, _, err) = alice
        .sh(
            "proj",
            "mkdir -p /workspace/src/deep && printf 'fn main() {}\\n' > /workspace/src/main.rs \
             && chmod 0640 /workspace/src/main.rs && ln -s src/main.rs /workspace/link \
             && head -c 3000000 /dev/urandom > /workspace/src/deep/blob && sha256sum /workspace/src/deep/blob > /tmp/sum",
        )
        .await;
    assert_eq!(code, 0, "{err}");
    let (_, sum, _) = alice.sh("proj", "cut -d' ' -f1 /tmp/sum").await;

    // A live workspace's data is not kept data.
    assert!(kept_ids(&alice).await.is_empty());
    let (s, v) = alice.delete(&format!("/api/v1/kept-data/{old}")).await;
    assert_error(s, &v, StatusCode::NOT_FOUND, "not_found");

    let (s, v) = alice.delete("/api/v1/workspaces/proj").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = alice.get("/api/v1/kept-data").await;
    assert_eq!(s, StatusCode::OK);
    let list = v.as_array().expect("list");
    assert_eq!(list.len(), 1, "{v}");
    assert_eq!(list[0]["workspace"], old);
    assert_eq!(list[0]["name"], "proj");

    // Nobody else's business but an admin's; others get "not found".
    assert!(kept_ids(&bob).await.is_empty());
    assert!(kept_ids(&admin).await.contains(&old));
    let (s, v) = bob.delete(&format!("/api/v1/kept-data/{old}")).await;
    assert_error(s, &v, StatusCode::NOT_FOUND, "not_found");
    let (s, v) = bob
        .post(
            "/api/v1/workspaces",
            json!({"name": "stolen", "template": "base", "from_kept": old}),
        )
        .await;
    assert_error(s, &v, StatusCode::NOT_FOUND, "not_found");
    assert!(kept_ids(&viewer).await.is_empty());
    // Hostile ids find nothing and touch nothing.
    for id in [
        "..",
        "%2e%2e%2fetc",
        "*",
        "aicockpit-vol-x",
        &"a".repeat(300),
    ] {
        let (s, v) = alice.delete(&format!("/api/v1/kept-data/{id}")).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{id}: {v}");
        let (s, v) = alice
            .post(
                "/api/v1/workspaces",
                json!({"name": "hostile", "template": "base", "from_kept": id}),
            )
            .await;
        assert_error(s, &v, StatusCode::NOT_FOUND, "not_found");
    }
    assert!(docker().await.inspect_volume(&old_volume).await.is_ok());

    // Attached: the new workspace has it all, owned as before.
    let (s, w2) = alice
        .post(
            "/api/v1/workspaces",
            json!({"name": "proj-again", "template": "base", "from_kept": old}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{w2}");
    let new = w2["id"].as_str().expect("id").to_owned();
    assert_ne!(new, old);
    let (code, out, err) = alice
        .sh(
            "proj-again",
            "cat /workspace/link; stat -c '%u:%g %a' /workspace/src/main.rs /workspace/src/deep /workspace; \
             sha256sum /workspace/src/deep/blob | cut -d' ' -f1; touch /workspace/writable",
        )
        .await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        format!("fn main() {{}}\n1000:1000 640\n1000:1000 755\n1000:1000 755\n{sum}")
    );
    // The kept data now belongs to the new workspace: nothing is listed.
    assert!(kept_ids(&alice).await.is_empty());
    assert!(docker().await.inspect_volume(&old_volume).await.is_err());
    let (s, v) = alice
        .post(
            "/api/v1/workspaces",
            json!({"name": "twice", "template": "base", "from_kept": old}),
        )
        .await;
    assert_error(s, &v, StatusCode::NOT_FOUND, "not_found");

    // Purged: gone from the engine and the list, on the record.
    let (s, v) = alice.delete("/api/v1/workspaces/proj-again").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let new_volume = w2["volume"].as_str().expect("volume").to_owned();
    let (s, v) = viewer.delete(&format!("/api/v1/kept-data/{new}")).await;
    assert_error(s, &v, StatusCode::NOT_FOUND, "not_found");
    let (s, v) = alice.delete(&format!("/api/v1/kept-data/{new}")).await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    assert!(kept_ids(&alice).await.is_empty());
    assert!(docker().await.inspect_volume(&new_volume).await.is_err());
    let (s, v) = alice.delete(&format!("/api/v1/kept-data/{new}")).await;
    assert_error(s, &v, StatusCode::NOT_FOUND, "not_found");

    let (_, rows) = admin.get("/api/v1/audit?limit=200").await;
    let created = audit_rows(&rows, "workspace.create");
    assert!(
        created
            .iter()
            .any(|r| r["detail"]["from_kept"] == old.as_str()),
        "{created:?}"
    );
    let purged = audit_rows(&rows, "workspace.kept.purge");
    assert_eq!(purged.len(), 1, "{purged:?}");
    assert_eq!(purged[0]["workspace_id"], new.as_str(), "{purged:?}");
}
