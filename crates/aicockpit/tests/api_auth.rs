//! Authentication and authorization through the HTTP API.

use crate::common::{assert_error, TestServer};
use aicockpit_core::auth::Role;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_is_open_and_everything_else_needs_a_token() {
    let ts = TestServer::start().await;
    let anon = ts.anonymous();
    let (s, v) = anon.get("/health").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["status"], "ok");
    // Probes carry no token: /ready is open, and says little.
    let (s, v) = anon.get("/ready").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["status"], "ready");
    for path in [
        "/metrics",
        "/api/v1/workspaces",
        "/api/v1/templates",
        "/api/v1/auth/me",
        "/api/v1/users",
    ] {
        let (s, v) = anon.get(path).await;
        assert_error(s, &v, StatusCode::UNAUTHORIZED, "unauthenticated");
        let (s, v) = ts.api("acp_not-a-real-token").get(path).await;
        assert_error(s, &v, StatusCode::UNAUTHORIZED, "unauthenticated");
        let (s, v) = ts.api("garbage").get(path).await;
        assert_error(s, &v, StatusCode::UNAUTHORIZED, "unauthenticated");
    }
    let (s, v) = anon.post("/api/v1/workspaces", json!({"name": "x"})).await;
    assert_error(s, &v, StatusCode::UNAUTHORIZED, "unauthenticated");
    let (s, v) = anon.post_empty("/api/v1/workspaces/x/start").await;
    assert_error(s, &v, StatusCode::UNAUTHORIZED, "unauthenticated");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_gives_a_session_token_and_logout_revokes_it() {
    let ts = TestServer::start().await;
    ts.user("alice", Role::Member).await;
    let anon = ts.anonymous();
    let (s, v) = anon
        .post(
            "/api/v1/auth/login",
            json!({"username": "alice", "password": "password-123"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let token = v["token"].as_str().expect("token").to_owned();
    assert!(token.starts_with("acp_"));
    assert!(v["expires_at"].is_string());
    assert_eq!(v["user"]["username"], "alice");
    assert!(v["user"].get("password_hash").is_none());

    let api = ts.api(&token);
    let (s, me) = api.get("/api/v1/auth/me").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(me["role"], "member");

    let (s, _) = api.post_empty("/api/v1/auth/logout").await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, v) = api.get("/api/v1/auth/me").await;
    assert_error(s, &v, StatusCode::UNAUTHORIZED, "unauthenticated");

    for (user, pw) in [
        ("alice", "wrong-password"),
        ("nobody", "password-123"),
        ("alice", ""),
    ] {
        let (s, v) = anon
            .post(
                "/api/v1/auth/login",
                json!({"username": user, "password": pw}),
            )
            .await;
        assert_error(s, &v, StatusCode::UNAUTHORIZED, "unauthenticated");
        // The same words for an unknown user and a wrong password.
        assert_eq!(v["error"]["message"], "wrong username or password");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_tokens_are_shown_once_and_stored_only_as_hashes() {
    let ts = TestServer::start().await;
    let api = ts.api(&ts.user("bob", Role::Member).await);
    let (s, created) = api
        .post(
            "/api/v1/auth/tokens",
            json!({"name": "ci", "expires_in_days": 30}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    let secret = created["token"].as_str().expect("secret").to_owned();
    let id = created["id"].as_str().expect("id").to_owned();

    let (s, list) = api.get("/api/v1/auth/tokens").await;
    assert_eq!(s, StatusCode::OK);
    let text = list.to_string();
    assert!(text.contains("\"ci\""));
    assert!(
        !text.contains(&secret),
        "a listing must never include a secret"
    );
    assert!(!text.contains("hash"), "{text}");

    // What the database holds is not the secret.
    let stored = ts
        .state
        .store
        .token_by_hash(&aicockpit_core::auth::hash_token(&secret))
        .await
        .expect("stored by hash");
    assert_ne!(stored.token.token_hash, secret);

    let new_api = ts.api(&secret);
    assert_eq!(new_api.get("/api/v1/auth/me").await.0, StatusCode::OK);
    let (s, _) = api.delete(&format!("/api/v1/auth/tokens/{id}")).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(
        new_api.get("/api/v1/auth/me").await.0,
        StatusCode::UNAUTHORIZED
    );
    // Someone else's token id is not found, not revoked.
    let (s, v) = ts
        .admin_api()
        .delete(&format!("/api/v1/auth/tokens/{id}"))
        .await;
    assert_error(s, &v, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_see_only_their_own_workspaces_and_admins_see_all() {
    let ts = TestServer::start().await;
    let alice = ts.api(&ts.user("alice", Role::Member).await);
    let bob = ts.api(&ts.user("bob", Role::Member).await);
    let viewer = ts.api(&ts.user("vera", Role::Viewer).await);
    let w = alice.create_ws("mine").await;
    let id = w["id"].as_str().expect("id");

    let (_, list) = bob.get("/api/v1/workspaces").await;
    assert_eq!(list.as_array().map(Vec::len), Some(0));
    for (method, path) in [
        ("GET", format!("/api/v1/workspaces/{id}")),
        ("POST", format!("/api/v1/workspaces/{id}/stop")),
        ("POST", format!("/api/v1/workspaces/{id}/exec")),
        ("DELETE", format!("/api/v1/workspaces/{id}")),
    ] {
        let (s, v) = match method {
            "GET" => bob.get(&path).await,
            "DELETE" => bob.delete(&path).await,
            _ => bob.post(&path, json!({"argv": ["true"]})).await,
        };
        // Not 403: others' workspaces must not even be confirmed to exist.
        assert_error(s, &v, StatusCode::NOT_FOUND, "not_found");
    }
    // Bob may use the same name: names are per user.
    bob.create_ws("mine").await;
    // Members run as the image's user; root is for admins.
    for user in ["0", "root", "0:0", "root:root"] {
        let (s, v) = alice
            .post(
                &format!("/api/v1/workspaces/{id}/exec"),
                json!({"argv": ["id", "-u"], "user": user}),
            )
            .await;
        assert_error(s, &v, StatusCode::FORBIDDEN, "forbidden");
    }
    let (s, v) = ts
        .admin_api()
        .post(
            &format!("/api/v1/workspaces/{id}/exec"),
            json!({"argv": ["id", "-u"], "user": "0"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["stdout"], "0\n");

    let (_, all) = ts.admin_api().get("/api/v1/workspaces").await;
    assert_eq!(all.as_array().map(Vec::len), Some(2));
    let (s, _) = ts
        .admin_api()
        .get(&format!("/api/v1/workspaces/{id}"))
        .await;
    assert_eq!(s, StatusCode::OK);

    let (s, v) = viewer
        .post("/api/v1/workspaces", json!({"name": "nope"}))
        .await;
    assert_error(s, &v, StatusCode::FORBIDDEN, "forbidden");
    let (s, v) = alice.get("/api/v1/users").await;
    assert_error(s, &v, StatusCode::FORBIDDEN, "forbidden");
    let (s, v) = alice.get("/metrics").await;
    assert_error(s, &v, StatusCode::FORBIDDEN, "forbidden");

    let (s, u) = ts
        .admin_api()
        .post(
            "/api/v1/users",
            json!({"username": "carol", "password": "password-456", "role": "viewer"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{u}");
    assert!(u.get("password_hash").is_none());
    let (s, v) = ts
        .admin_api()
        .post(
            "/api/v1/users",
            json!({"username": "carol", "password": "password-456"}),
        )
        .await;
    assert_error(s, &v, StatusCode::CONFLICT, "username_taken");
    let (s, v) = ts
        .admin_api()
        .post(
            "/api/v1/users",
            json!({"username": "dave", "password": "short"}),
        )
        .await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, "weak_password");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_and_metrics_report_real_state() {
    let ts = TestServer::start().await;
    let admin = ts.admin_api();
    let (s, v) = admin.get("/ready").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["engine"], "docker");
    assert_eq!(v["database"], "sqlite");
    // These machines' kernels offer Landlock ABI 6 or newer.
    assert_eq!(v["agent_sandbox"]["available"], true, "{v}");
    assert!(
        v["agent_sandbox"]["landlock_abi"].as_u64() >= Some(6),
        "{v}"
    );
    admin.create_ws("metered").await;
    let (s, text) = admin.get_text("/metrics").await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        text.contains("aicockpit_workspaces{state=\"running\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("aicockpit_workspaces{state=\"stopped\"} 0"),
        "{text}"
    );
    assert!(
        text.contains("aicockpit_http_requests_total{method=\"POST\",route=\"/api/v1/workspaces\",status=\"201\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("aicockpit_http_request_duration_seconds_bucket"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engine_down_is_reported_not_hidden() {
    let ts =
        TestServer::start_with(|c| c.engine.host = Some("unix:///nonexistent/engine.sock".into()))
            .await;
    let admin = ts.admin_api();
    let (s, v) = ts.anonymous().get("/ready").await;
    assert_error(s, &v, StatusCode::SERVICE_UNAVAILABLE, "not_ready");
    let msg = v["error"]["message"].as_str().unwrap_or_default();
    assert_eq!(
        msg, "engine: unavailable",
        "names the part, not the raw error: {v}"
    );
    let (s, v) = admin.post("/api/v1/workspaces", json!({"name": "w"})).await;
    assert_error(s, &v, StatusCode::SERVICE_UNAVAILABLE, "engine_unavailable");
    // Nothing half-created: no row was left.
    let (_, list) = admin.get("/api/v1/workspaces").await;
    assert_eq!(list.as_array().map(Vec::len), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_failed_logins_are_slowed_down() {
    let ts = TestServer::start().await;
    ts.user("guessme", Role::Member).await;
    ts.user("other", Role::Member).await;
    let anon = ts.anonymous();
    for _ in 0..5 {
        let (s, _) = anon
            .post(
                "/api/v1/auth/login",
                json!({"username": "guessme", "password": "not-it-123"}),
            )
            .await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
    }
    // Now even the right password waits, for that name only.
    let (s, v) = anon
        .post(
            "/api/v1/auth/login",
            json!({"username": "guessme", "password": "password-123"}),
        )
        .await;
    assert_error(s, &v, StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    let (s, _) = anon
        .post(
            "/api/v1/auth/login",
            json!({"username": "other", "password": "password-123"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    // Unknown names are limited the same way (no hint that they do not exist).
    for _ in 0..5 {
        anon.post(
            "/api/v1/auth/login",
            json!({"username": "ghost", "password": "x-password-1"}),
        )
        .await;
    }
    let (s, _) = anon
        .post(
            "/api/v1/auth/login",
            json!({"username": "ghost", "password": "x-password-1"}),
        )
        .await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);

    // Backoff, not lockout: from another address the right password works
    // while this one is throttled.
    let elsewhere = reqwest::Client::builder()
        .local_address(std::net::IpAddr::from([127, 0, 0, 2]))
        .build()
        .expect("client");
    let r = elsewhere
        .post(format!("{}/api/v1/auth/login", ts.url))
        .json(&json!({"username": "guessme", "password": "password-123"}))
        .send()
        .await
        .expect("login");
    assert_eq!(r.status(), StatusCode::OK);

    // Huge usernames are refused before any work, in parallel too.
    let huge = "u".repeat(1 << 20);
    let floods = (0..8).map(|_| {
        let c = reqwest::Client::new();
        let url = format!("{}/api/v1/auth/login", ts.url);
        let body = json!({"username": huge, "password": "x"});
        async move { c.post(url).json(&body).send().await.map(|r| r.status()) }
    });
    for st in futures_util::future::join_all(floods).await {
        let st = st.expect("answer");
        assert!(st.is_client_error(), "{st}");
    }
    // Parallel guesses cannot slip past the check together.
    let guesses = (0..12).map(|i| {
        let c = reqwest::Client::builder()
            .local_address(std::net::IpAddr::from([127, 0, 0, 3]))
            .build()
            .expect("client");
        let url = format!("{}/api/v1/auth/login", ts.url);
        async move {
            c.post(url)
                .json(&json!({"username": "other", "password": format!("wrong-{i}")}))
                .send()
                .await
                .map(|r| r.status())
        }
    });
    let statuses: Vec<StatusCode> = futures_util::future::join_all(guesses)
        .await
        .into_iter()
        .map(|r| r.expect("answer"))
        .collect();
    let tried = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    assert!(
        tried <= 5,
        "{tried} parallel guesses were checked: {statuses:?}"
    );

    // Failures are on the audit record, with the address.
    let (_, log) = ts.admin_api().get("/api/v1/audit").await;
    let failed = log
        .as_array()
        .expect("rows")
        .iter()
        .filter(|r| r["action"] == "auth.login_failed" && r["detail"]["username"] == "guessme")
        .count();
    assert_eq!(failed, 5, "{log}");
}
