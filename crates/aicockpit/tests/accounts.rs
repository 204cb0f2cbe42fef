//! Accounts as admins run them: disabling ends every session and token,
//! roles change without ever leaving no enabled admin, reset passwords must
//! be changed, and a user who must change theirs can do nothing else.

use crate::common::{assert_error, Api, TestServer};
use aicockpit_core::auth::Role;
use reqwest::StatusCode;
use serde_json::{json, Value};

async fn login(ts: &TestServer, user: &str, password: &str) -> (StatusCode, Value) {
    ts.anonymous()
        .post(
            "/api/v1/auth/login",
            json!({"username": user, "password": password}),
        )
        .await
}

async fn session(ts: &TestServer, user: &str, password: &str) -> Api {
    let (s, v) = login(ts, user, password).await;
    assert_eq!(s, StatusCode::OK, "login {user}: {v}");
    ts.api(v["token"].as_str().expect("token"))
}

async fn user_id(api: &Api) -> String {
    let (s, me) = api.get("/api/v1/auth/me").await;
    assert_eq!(s, StatusCode::OK, "{me}");
    me["id"].as_str().expect("id").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_who_must_change_their_password_can_do_nothing_else() {
    let ts = TestServer::start().await;
    let admin = ts.admin_api();
    let (s, u) = admin
        .post(
            "/api/v1/users",
            json!({"username": "newbie", "password": "temp-password-1", "role": "member",
                   "must_change_password": true}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{u}");
    assert_eq!(u["must_change_password"], true, "{u}");
    let first = session(&ts, "newbie", "temp-password-1").await;
    let second = session(&ts, "newbie", "temp-password-1").await;

    // Everything but me, the change and logout is refused.
    let (s, me) = first.get("/api/v1/auth/me").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(me["must_change_password"], true, "{me}");
    for (method, path) in [
        ("GET", "/api/v1/workspaces"),
        ("POST", "/api/v1/workspaces"),
        ("POST", "/api/v1/auth/ticket"),
        ("POST", "/api/v1/auth/tokens"),
        ("GET", "/api/v1/ai/services"),
        ("GET", "/v1/models"),
        ("GET", "/api/v1/quota"),
    ] {
        let (s, v) = match method {
            "GET" => first.get(path).await,
            _ => first.post(path, json!({"name": "x"})).await,
        };
        assert_eq!(s, StatusCode::FORBIDDEN, "{method} {path}: {v}");
        assert_eq!(
            v["error"]["code"], "password_change_required",
            "{method} {path}"
        );
    }

    // Bad changes, as a table: (current, new, status, code).
    let cases = [
        (
            "wrong-password",
            "fine-password-9",
            StatusCode::BAD_REQUEST,
            "wrong_password",
        ),
        (
            "temp-password-1",
            "short",
            StatusCode::BAD_REQUEST,
            "weak_password",
        ),
        (
            "temp-password-1",
            "temp-password-1",
            StatusCode::BAD_REQUEST,
            "same_password",
        ),
    ];
    for (current, new, status, code) in cases {
        let (s, v) = first
            .post(
                "/api/v1/auth/password",
                json!({"current_password": current, "new_password": new}),
            )
            .await;
        assert_error(s, &v, status, code);
    }
    let (s, v) = first
        .post(
            "/api/v1/auth/password",
            json!({"current_password": "temp-password-1", "new_password": "my-own-password-1"}),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    // This session goes on and may do everything; the other one ended.
    let (s, v) = first.get("/api/v1/workspaces").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, _) = second.get("/api/v1/auth/me").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _) = login(&ts, "newbie", "temp-password-1").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    session(&ts, "newbie", "my-own-password-1").await;

    // On the record, with no password in it.
    let (_, rows) = admin.get("/api/v1/audit?action=user.password").await;
    let text = rows.to_string();
    assert!(text.contains("sessions_ended"), "{text}");
    assert!(!text.contains("my-own-password-1"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabling_a_user_ends_their_sessions_and_tokens_and_reset_asks_for_a_new_password() {
    let ts = TestServer::start().await;
    let admin = ts.admin_api();
    let api_token = ts.user("dora", Role::Member).await;
    let token_api = ts.api(&api_token);
    let id = user_id(&token_api).await;
    let sess = session(&ts, "dora", "password-123").await;

    let (s, u) = admin
        .patch(&format!("/api/v1/users/{id}"), json!({"disabled": true}))
        .await;
    assert_eq!(s, StatusCode::OK, "{u}");
    assert_eq!(u["disabled"], true);
    for api in [&token_api, &sess] {
        let (s, _) = api.get("/api/v1/workspaces").await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
    }
    let (s, v) = login(&ts, "dora", "password-123").await;
    assert_error(s, &v, StatusCode::UNAUTHORIZED, "unauthenticated");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("disabled"),
        "{v}"
    );
    // A wrong password still says only that.
    let (_, v) = login(&ts, "dora", "wrong-password").await;
    assert!(!v.to_string().contains("disabled"), "{v}");

    // Enabled again: logs in; the revoked tokens stay revoked.
    let (s, _) = admin
        .patch(&format!("/api/v1/users/{id}"), json!({"disabled": false}))
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = token_api.get("/api/v1/workspaces").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let sess = session(&ts, "dora", "password-123").await;

    // An admin's reset ends the sessions and asks for a new password.
    let (s, v) = admin
        .post(
            &format!("/api/v1/users/{id}/password"),
            json!({"password": "reset-password-1"}),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    let (s, _) = sess.get("/api/v1/auth/me").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let fresh = session(&ts, "dora", "reset-password-1").await;
    let (s, v) = fresh.get("/api/v1/workspaces").await;
    assert_error(s, &v, StatusCode::FORBIDDEN, "password_change_required");

    let (_, rows) = admin.get("/api/v1/audit?action=user.update").await;
    assert!(rows.to_string().contains("tokens_revoked"), "{rows}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_change_but_an_enabled_admin_always_remains() {
    let ts = TestServer::start().await;
    let admin = ts.admin_api();
    let admin_id = user_id(&admin).await;
    let member = ts.api(&ts.user("mia", Role::Member).await);
    let mia = user_id(&member).await;

    // Hostile and bad changes, as a table: (caller, target, body, status, code).
    let cases: Vec<(&Api, String, Value, StatusCode, &str)> = vec![
        (
            &member,
            mia.clone(),
            json!({"role": "admin"}),
            StatusCode::FORBIDDEN,
            "forbidden",
        ),
        (
            &member,
            admin_id.clone(),
            json!({"disabled": true}),
            StatusCode::FORBIDDEN,
            "forbidden",
        ),
        (
            &admin,
            admin_id.clone(),
            json!({"disabled": true}),
            StatusCode::CONFLICT,
            "cannot_change_self",
        ),
        (
            &admin,
            admin_id.clone(),
            json!({"role": "member"}),
            StatusCode::CONFLICT,
            "cannot_change_self",
        ),
        (
            &admin,
            mia.clone(),
            json!({"role": "owner"}),
            StatusCode::BAD_REQUEST,
            "invalid_role",
        ),
        (
            &admin,
            "nobody".into(),
            json!({"role": "member"}),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            &admin,
            mia.clone(),
            json!({"role": "admin", "extra": 1}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
    ];
    for (api, target, body, status, code) in cases {
        let (s, v) = api
            .patch(&format!("/api/v1/users/{target}"), body.clone())
            .await;
        assert_error(s, &v, status, code);
    }
    let (s, v) = member
        .post(
            &format!("/api/v1/users/{admin_id}/password"),
            json!({"password": "taken-over-1"}),
        )
        .await;
    assert_error(s, &v, StatusCode::FORBIDDEN, "forbidden");
    // An admin's own password is changed with the current one, not reset.
    let (s, v) = admin
        .post(
            &format!("/api/v1/users/{admin_id}/password"),
            json!({"password": "locked-out-1"}),
        )
        .await;
    assert_error(s, &v, StatusCode::CONFLICT, "cannot_change_self");

    // Two admins (the only ones) demoting each other at once: exactly one
    // wins, the other is refused (no longer admin, or the last one).
    let store = &ts.state.store;
    for round in 0..4 {
        let a = ts.api(&ts.user(&format!("a{round}"), Role::Admin).await);
        let b = ts.api(&ts.user(&format!("b{round}"), Role::Admin).await);
        let (a_id, b_id) = (user_id(&a).await, user_id(&b).await);
        store
            .update_user(&admin_id, Some("member"), None)
            .await
            .expect("step the test admin aside");
        let (path_b, path_a) = (
            format!("/api/v1/users/{b_id}"),
            format!("/api/v1/users/{a_id}"),
        );
        let ((s1, v1), (s2, v2)) = tokio::join!(
            a.patch(&path_b, json!({"role": "member"})),
            b.patch(&path_a, json!({"role": "member"})),
        );
        let won = [s1, s2].iter().filter(|s| **s == StatusCode::OK).count();
        assert_eq!(won, 1, "round {round}: {s1} {v1} / {s2} {v2}");
        for (s, v) in [(s1, &v1), (s2, &v2)] {
            if s == StatusCode::CONFLICT {
                assert_error(s, v, StatusCode::CONFLICT, "last_admin");
            } else if s != StatusCode::OK {
                assert_error(s, v, StatusCode::FORBIDDEN, "forbidden");
            }
        }
        let admins = ts.state.auth.list_users().await.expect("users");
        let enabled = admins
            .iter()
            .filter(|u| u.role == "admin" && !u.disabled)
            .count();
        assert_eq!(enabled, 1, "round {round}");
        // Back to the test admin alone.
        store
            .update_user(&admin_id, Some("admin"), None)
            .await
            .expect("restore the test admin");
        for id in [&a_id, &b_id] {
            store
                .update_user(id, Some("member"), None)
                .await
                .expect("demote");
        }
    }
}
