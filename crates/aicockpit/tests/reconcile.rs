//! The reconciler against the real engine: drift is corrected, our
//! leftovers adopted or removed, and nobody else's objects touched.

use crate::common::{docker, TestServer};
use aicockpit_store::WorkspaceRecord;
use bollard::models::{ContainerCreateBody, NetworkCreateRequest};
use bollard::query_parameters::{CreateContainerOptionsBuilder, StopContainerOptionsBuilder};
use std::collections::HashMap;

fn labels(instance: &str, ws: &str) -> HashMap<String, String> {
    HashMap::from([
        ("io.aicockpit.managed".to_string(), "true".to_string()),
        ("io.aicockpit.instance".to_string(), instance.to_string()),
        ("io.aicockpit.workspace".to_string(), ws.to_string()),
    ])
}

async fn make_container(name: &str, labels: HashMap<String, String>) -> String {
    let d = docker().await;
    let body = ContainerCreateBody {
        image: Some("localhost/aicockpit/base:latest".into()),
        cmd: Some(vec!["sleep".into(), "infinity".into()]),
        labels: Some(labels),
        host_config: Some(bollard::models::HostConfig {
            init: Some(true),
            ..Default::default()
        }),
        ..Default::default()
    };
    let id = d
        .create_container(
            Some(CreateContainerOptionsBuilder::default().name(name).build()),
            body,
        )
        .await
        .expect("create")
        .id;
    d.start_container(&id, None).await.expect("start");
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_changed_behind_our_back_is_corrected() {
    let ts = TestServer::start().await;
    let api = ts.admin_api();
    let w = api.create_ws("drift").await;
    let cid = w["container_id"].as_str().expect("cid").to_owned();
    let d = docker().await;
    d.stop_container(
        &cid,
        Some(StopContainerOptionsBuilder::default().t(1).build()),
    )
    .await
    .expect("stop");
    let report = ts.state.workspaces.reconcile().await.expect("reconcile");
    assert_eq!(report.fixed, 1);
    let (_, v) = api.get("/api/v1/workspaces/drift").await;
    assert_eq!(v["state"], "stopped", "{v}");
    assert!(
        v["state_reason"]
            .as_str()
            .unwrap_or_default()
            .contains("outside AiCockpit"),
        "{v}"
    );

    d.start_container(&cid, None).await.expect("start");
    ts.state.workspaces.reconcile().await.expect("reconcile");
    let (_, v) = api.get("/api/v1/workspaces/drift").await;
    assert_eq!(v["state"], "running", "{v}");
    assert!(v["state_reason"].is_null());
    // A pass with nothing to do does nothing.
    let report = ts.state.workspaces.reconcile().await.expect("reconcile");
    assert_eq!(report.fixed, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leftovers_are_adopted_or_removed_and_foreign_objects_left_alone() {
    let ts = TestServer::start().await;
    let store = &ts.state.store;
    let admin = store.user_by_name("admin").await.expect("admin");
    let now = aicockpit_core::now_ms();
    let row = |id: &str, name: &str, state: &str| WorkspaceRecord {
        id: id.into(),
        owner_id: admin.id.clone(),
        name: name.into(),
        template: Some("base".into()),
        image: "localhost/aicockpit/base:latest".into(),
        state: state.into(),
        state_reason: None,
        cpu_millis: 1000,
        memory_mb: 512,
        pids_limit: 256,
        env: Default::default(),
        ports: vec![],
        run_as: "1000:1000".into(),
        container_id: None,
        volume: format!("aicockpit-vol-{id}"),
        network: format!("aicockpit-net-{id}"),
        created_at: now,
        updated_at: now,
        idle_timeout_secs: None,
    };
    let suffix = &ts.instance;

    // 1. A crash between creating the container and recording it.
    let adopt_id = format!("adopt{suffix}");
    store
        .insert_workspace(&row(&adopt_id, "adopted", "creating"))
        .await
        .expect("row");
    let adopted_cid = make_container(
        &format!("aicockpit-ws-{adopt_id}"),
        labels(&ts.instance, &adopt_id),
    )
    .await;

    // 2. A crash in the middle of a delete.
    let del_id = format!("del{suffix}");
    store
        .insert_workspace(&row(&del_id, "half-deleted", "deleting"))
        .await
        .expect("row");
    let del_cid = make_container(
        &format!("aicockpit-ws-{del_id}"),
        labels(&ts.instance, &del_id),
    )
    .await;

    // 3. A crash mid-create before any container existed.
    let early_id = format!("early{suffix}");
    store
        .insert_workspace(&row(&early_id, "early", "creating"))
        .await
        .expect("row");

    // 4. Our container and network with no row at all.
    let orphan_cid =
        make_container(&format!("orphan-{suffix}"), labels(&ts.instance, "gone")).await;
    let d = docker().await;
    d.create_network(NetworkCreateRequest {
        name: format!("orphan-net-{suffix}"),
        labels: Some(labels(&ts.instance, "gone")),
        ..Default::default()
    })
    .await
    .expect("network");

    // 5. Someone else's container with our labels but another instance.
    let foreign_cid =
        make_container(&format!("foreign-{suffix}"), labels("someone-else", "gone")).await;

    let report = ts.state.workspaces.reconcile().await.expect("reconcile");
    assert_eq!(
        report.orphans_removed, 1,
        "container and network of one workspace: {report:?}"
    );

    let adopted = store.workspace(&adopt_id).await.expect("adopted row");
    assert_eq!(adopted.container_id.as_deref(), Some(adopted_cid.as_str()));
    assert_eq!(adopted.state, "running");
    assert!(
        store.workspace(&del_id).await.is_err(),
        "interrupted delete finished"
    );
    assert!(d.inspect_container(&del_cid, None).await.is_err());
    let early = store.workspace(&early_id).await.expect("early row");
    assert_eq!(early.state, "error");
    assert!(
        d.inspect_container(&orphan_cid, None).await.is_err(),
        "orphan removed"
    );
    assert!(d
        .inspect_network(&format!("orphan-net-{suffix}"), None)
        .await
        .is_err());
    assert!(
        d.inspect_container(&foreign_cid, None).await.is_ok(),
        "foreign container untouched"
    );
    crate::common::cleanup_instance(&ts.engine, "someone-else");

    // The interrupted create can be finished by starting it.
    let api = ts.admin_api();
    let (s, v) = api
        .post_empty(&format!("/api/v1/workspaces/{early_id}/start"))
        .await;
    assert_eq!(s, reqwest::StatusCode::OK, "{v}");
    assert_eq!(v["state"], "running");
    assert_eq!(api.sh(&early_id, "echo ok").await.1, "ok\n");
}
