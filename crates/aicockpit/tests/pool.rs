//! The warm pool: a create of a pooled template claims a started
//! workspace (its name, owner, limits and environment applied in place),
//! the pool refills, what an entry cannot take is a miss, and a claimed
//! workspace's kept data is its owner's.

use crate::common::{docker, TestServer};
use crate::workspace_agent::{connect_ws, open_terminal, read_until};
use aicockpit_core::auth::Role;
use bollard::query_parameters::ListContainersOptionsBuilder;
use futures_util::SinkExt;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

/// The base template's pool as the system page reports it.
async fn pool_of(admin: &crate::common::Api) -> Value {
    let (s, v) = admin.get("/api/v1/system").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v["warm_pool"]
        .as_array()
        .and_then(|a| a.iter().find(|p| p["template"] == "base"))
        .cloned()
        .unwrap_or_else(|| panic!("no base pool in {v}"))
}

/// Waits until `ready` base entries wait; returns the pool.
async fn ready(admin: &crate::common::Api, ready: u64) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    loop {
        let p = pool_of(admin).await;
        if p["ready"] == ready {
            return p;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the pool never had {ready} ready: {p}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The containers of this installation made for the base pool.
async fn pooled_containers(ts: &TestServer) -> Vec<String> {
    let filters = HashMap::from([(
        "label".to_owned(),
        vec![
            format!("io.aicockpit.instance={}", ts.instance),
            "io.aicockpit.pool=base".to_owned(),
        ],
    )]);
    let opts = ListContainersOptionsBuilder::default()
        .all(true)
        .filters(&filters)
        .build();
    docker()
        .await
        .list_containers(Some(opts))
        .await
        .expect("list")
        .into_iter()
        .filter_map(|c| c.id)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_claims_a_warm_workspace_and_the_pool_refills() {
    let ts = TestServer::start_with(|c| {
        c.workspaces.pool.insert("base".into(), 1);
    })
    .await;
    let admin = ts.admin_api();
    let alice_token = ts.user("pool-alice", Role::Member).await;
    let alice = ts.api(&alice_token);
    let bob = ts.api(&ts.user("pool-bob", Role::Member).await);

    let p = ready(&admin, 1).await;
    assert_eq!(p["wanted"], 1, "{p}");
    assert_eq!(
        (p["hits"].clone(), p["misses"].clone()),
        (json!(0), json!(0))
    );
    let warm = pooled_containers(&ts).await;
    assert_eq!(warm.len(), 1, "{warm:?}");

    // A create of the template, with limits and environment of its own.
    let (s, w) = alice
        .post(
            "/api/v1/workspaces",
            json!({"name": "fast", "template": "base", "cpus": 0.5, "memory_mb": 300,
                   "pids_limit": 200, "env": {"GREETING": "hello pool"}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{w}");
    assert_eq!(w["state"], "running", "{w}");
    assert_eq!(w["name"], "fast");
    assert_eq!(
        w["container_id"].as_str(),
        Some(warm[0].as_str()),
        "not claimed: {w}"
    );
    let p = pool_of(&admin).await;
    assert_eq!(p["hits"], 1, "{p}");

    // The engine holds the asked limits.
    let c = docker()
        .await
        .inspect_container(&warm[0], None)
        .await
        .expect("inspect");
    let hc = c.host_config.expect("host config");
    assert_eq!(hc.memory, Some(300 * 1024 * 1024));
    assert_eq!(hc.memory_swap, Some(300 * 1024 * 1024));
    assert_eq!(hc.nano_cpus, Some(500_000_000));
    assert_eq!(hc.pids_limit, Some(200));

    // The environment reaches commands and terminals.
    let (code, out, err) = alice.sh("fast", "printf '%s' \"$GREETING\"").await;
    assert_eq!((code, out.as_str()), (0, "hello pool"), "{err}");
    let tid = open_terminal(&alice, "fast").await;
    let mut term = connect_ws(&ts, &alice_token, "fast", &tid).await;
    term.send(Message::Binary(b"echo \"G=[$GREETING]\"\n".to_vec().into()))
        .await
        .expect("type");
    read_until(&mut term, "G=[hello pool]").await;
    drop(term);
    // ...kept where the workspace user cannot change it.
    let (code, _, _) = alice.sh("fast", "echo EVIL=1 >> /etc/aicockpit/env").await;
    assert_ne!(code, 0, "the workspace user wrote the claimed environment");

    // Others do not see it; the claim is on the record, by alice.
    let (s, _) = bob.get("/api/v1/workspaces/fast").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, rows) = admin.get("/api/v1/audit?limit=200").await;
    let claims: Vec<&Value> = rows
        .as_array()
        .or_else(|| rows["entries"].as_array())
        .into_iter()
        .flatten()
        .filter(|r| r["action"] == "workspace.pool.claim")
        .collect();
    assert_eq!(claims.len(), 1, "{rows}");
    assert_eq!(claims[0]["workspace_id"], w["id"], "{}", claims[0]);
    assert_eq!(claims[0]["actor"], w["owner_id"], "{}", claims[0]);

    // The pool refills with a new container.
    ready(&admin, 1).await;
    let refilled = pooled_containers(&ts).await;
    assert_eq!(refilled.len(), 2, "claimed + new: {refilled:?}");

    // Ports are fixed when a container is made: a request for others is a
    // miss and gets a workspace of its own; the entry stays.
    let (s, other) = alice
        .post(
            "/api/v1/workspaces",
            json!({"name": "ported", "template": "base", "ports": [8080]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{other}");
    assert!(!refilled.contains(
        &other["container_id"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    ));
    let p = pool_of(&admin).await;
    assert_eq!(
        (p["hits"].clone(), p["misses"].clone(), p["ready"].clone()),
        (json!(1), json!(1), json!(1)),
        "{p}"
    );

    // A taken name puts the entry back, unharmed.
    let (s, v) = alice
        .post(
            "/api/v1/workspaces",
            json!({"name": "fast", "template": "base"}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    let p = pool_of(&admin).await;
    assert_eq!(
        (p["ready"].clone(), p["misses"].clone()),
        (json!(1), json!(1)),
        "{p}"
    );
    let now = pooled_containers(&ts).await;
    assert_eq!(now.len(), 2, "the claimed one and the waiting one: {now:?}");
    assert!(
        refilled.iter().all(|c| now.contains(c)),
        "the entry was kept, not replaced"
    );
    // A waiting entry is nobody's kept data, not even an admin's.
    let (_, all_kept) = admin.get("/api/v1/kept-data").await;
    assert_eq!(all_kept, json!([]), "{all_kept}");

    // The metrics say the same.
    let (s, text) = admin.get_text("/metrics").await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        text.contains("aicockpit_pool_ready{template=\"base\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("aicockpit_pool_claims{template=\"base\",outcome=\"hit\"} 1"),
        "{text}"
    );

    // Deleted with its data kept, the claimed workspace's data is alice's.
    let (s, v) = alice.delete("/api/v1/workspaces/fast").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (_, kept) = alice.get("/api/v1/kept-data").await;
    let kept = kept.as_array().expect("list").clone();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(kept[0]["workspace"], w["id"]);
    assert_eq!(kept[0]["name"], "fast");
    let (_, theirs) = bob.get("/api/v1/kept-data").await;
    assert_eq!(theirs, json!([]));
}
