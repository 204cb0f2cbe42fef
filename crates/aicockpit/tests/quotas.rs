//! Per-user quotas: a member over their quota gets a clear refusal, an
//! admin raises it and the create succeeds; parallel creates cannot share
//! the last slot; only admins set quotas, and bad settings are refused.

use crate::common::{assert_error, TestServer};
use aicockpit_core::auth::Role;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_over_quota_is_refused_until_an_admin_raises_it() {
    let ts = TestServer::start_with(|c| {
        c.workspaces.quota_workspaces = 2;
        c.workspaces.quota_running = 1;
    })
    .await;
    let member_token = ts.user("quota-member", Role::Member).await;
    let member = ts.api(&member_token);
    let (_, me) = member.get("/api/v1/auth/me").await;
    let member_id = me["id"].as_str().expect("id").to_owned();

    member.create_ws("q1").await;
    // Running one of one.
    let (s, v) = member
        .post("/api/v1/workspaces", json!({"name": "q2"}))
        .await;
    assert_error(s, &v, StatusCode::CONFLICT, "quota_exceeded");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("1 of the 1 workspaces your quota allows at once"),
        "{v}"
    );
    let (s, _) = member.post_empty("/api/v1/workspaces/q1/stop").await;
    assert_eq!(s, StatusCode::OK);
    member.create_ws("q2").await;
    // Two of two.
    let (s, v) = member
        .post("/api/v1/workspaces", json!({"name": "q3"}))
        .await;
    assert_error(s, &v, StatusCode::CONFLICT, "quota_exceeded");
    let (s, v) = member.post_empty("/api/v1/workspaces/q1/start").await;
    assert_error(s, &v, StatusCode::CONFLICT, "quota_exceeded");
    let (s, q) = member.get("/api/v1/quota").await;
    assert_eq!(s, StatusCode::OK, "{q}");
    assert_eq!(q["limits"]["workspaces"], 2, "{q}");
    assert_eq!(q["used"]["workspaces"], 2, "{q}");
    assert_eq!(q["used"]["running"], 1, "{q}");
    assert!(q.get("own").is_none(), "{q}");

    // Members cannot raise their own.
    let (s, v) = member
        .put(
            &format!("/api/v1/users/{member_id}/quota"),
            json!({"workspaces": 99}),
        )
        .await;
    assert_error(s, &v, StatusCode::FORBIDDEN, "forbidden");

    let admin = ts.admin_api();
    let (s, q) = admin
        .put(
            &format!("/api/v1/users/{member_id}/quota"),
            json!({"workspaces": 3, "running": 2}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{q}");
    assert_eq!(q["own"]["workspaces"], 3, "{q}");
    assert!(q["own"]["cpus"].is_null(), "{q}");
    member.create_ws("q3").await;
    let (s, v) = member.post_empty("/api/v1/workspaces/q1/start").await;
    assert_error(s, &v, StatusCode::CONFLICT, "quota_exceeded");
    let (s, _) = member.post_empty("/api/v1/workspaces/q2/stop").await;
    assert_eq!(s, StatusCode::OK);
    let (s, v) = member.post_empty("/api/v1/workspaces/q1/start").await;
    assert_eq!(s, StatusCode::OK, "{v}");

    // On the record.
    let (_, log) = admin.get("/api/v1/audit").await;
    assert!(
        log.as_array()
            .into_iter()
            .flatten()
            .any(|e| e["action"] == "quota.set" && e["detail"]["user"] == member_id.as_str()),
        "{log}"
    );

    // Bad settings: (body, status, code).
    let cases = [
        (
            json!({"cpus": -1.0}),
            StatusCode::BAD_REQUEST,
            "invalid_quota",
        ),
        (
            json!({"memory_mb": -5}),
            StatusCode::BAD_REQUEST,
            "invalid_quota",
        ),
        (
            json!({"workspaces": -1}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            json!({"workspaces": "many"}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            json!({"disk_gb": 5}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
    ];
    for (body, status, code) in cases {
        let (s, v) = admin
            .put(&format!("/api/v1/users/{member_id}/quota"), body.clone())
            .await;
        assert_error(s, &v, status, code);
    }
    let (s, v) = admin
        .put("/api/v1/users/no-such-user/quota", json!({"workspaces": 1}))
        .await;
    assert_error(s, &v, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_creates_cannot_share_the_last_slot() {
    let ts = TestServer::start_with(|c| {
        c.workspaces.quota_workspaces = 1;
    })
    .await;
    let token = ts.user("quota-racer", Role::Member).await;
    let mut tasks = Vec::new();
    for i in 0..3 {
        let api = ts.api(&token);
        tasks.push(tokio::spawn(async move {
            api.post("/api/v1/workspaces", json!({"name": format!("race{i}")}))
                .await
                .0
        }));
    }
    let mut created = 0;
    let mut refused = 0;
    for t in tasks {
        match t.await.expect("task") {
            StatusCode::CREATED => created += 1,
            StatusCode::CONFLICT => refused += 1,
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!((created, refused), (1, 2));
}
