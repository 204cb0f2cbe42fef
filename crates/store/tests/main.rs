//! Conformance tests for the store, run against SQLite always and against
//! PostgreSQL at AICOCKPIT_TEST_POSTGRES_URL (set by scripts/test), each in a
//! database of its own.

use aicockpit_store::{
    AuditFilter, AuditRecord, Backend, GitCredentialRecord, SshKeyRecord, Store, StoreError,
    TokenRecord, UserRecord, WorkspaceRecord,
};
use std::collections::BTreeMap;

fn id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

async fn sqlite() -> (Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    (Store::connect(&url).await.expect("sqlite store"), dir)
}

/// A fresh PostgreSQL database for one test.
async fn postgres() -> Store {
    let base = std::env::var("AICOCKPIT_TEST_POSTGRES_URL").expect(
        "AICOCKPIT_TEST_POSTGRES_URL must point at a PostgreSQL server (scripts/test starts one)",
    );
    use sqlx::Connection;
    let mut admin = sqlx::PgConnection::connect(&base)
        .await
        .expect("connect to postgres");
    let name = format!("t_{}", id());
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .expect("create database");
    let url = match base.rfind('/') {
        Some(i) if base[..i].ends_with(|c: char| c.is_ascii_digit() || c.is_ascii_alphabetic()) => {
            format!("{}/{name}", &base[..i])
        }
        _ => format!("{base}/{name}"),
    };
    let store = Store::connect(&url).await.expect("postgres store");
    assert_eq!(store.backend(), Backend::Postgres);
    store
}

fn user(name: &str) -> UserRecord {
    UserRecord {
        id: id(),
        username: name.into(),
        password_hash: "$argon2id$fake".into(),
        role: "member".into(),
        created_at: 1_700_000_000_000,
        disabled: false,
        must_change_password: false,
    }
}

fn workspace(owner: &str, name: &str) -> WorkspaceRecord {
    let mut env = BTreeMap::new();
    env.insert("A".to_string(), "1 2 \"3\"".to_string());
    WorkspaceRecord {
        id: id(),
        owner_id: owner.into(),
        name: name.into(),
        template: Some("base".into()),
        image: "img".into(),
        state: "creating".into(),
        state_reason: None,
        cpu_millis: 1500,
        memory_mb: 512,
        pids_limit: 256,
        env,
        ports: vec![8000, 3000],
        run_as: "1000:1000".into(),
        container_id: None,
        volume: "v".into(),
        network: "n".into(),
        created_at: 1,
        updated_at: 1,
        idle_timeout_secs: None,
    }
}

async fn users_and_tokens(s: Store) {
    let alice = user("alice");
    s.insert_user(&alice).await.expect("insert");
    assert!(matches!(
        s.insert_user(&user("alice")).await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(s.user_by_name("alice").await.expect("by name").id, alice.id);
    assert!(matches!(
        s.user_by_name("bob").await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(s.count_users().await.expect("count"), 1);

    let t = TokenRecord {
        id: id(),
        user_id: alice.id.clone(),
        name: "cli".into(),
        kind: "api".into(),
        token_hash: "h1".into(),
        created_at: 5,
        expires_at: None,
        last_used_at: None,
    };
    s.insert_token(&t).await.expect("token");
    let found = s.token_by_hash("h1").await.expect("by hash");
    assert_eq!(found.user.username, "alice");
    assert_eq!(found.token.expires_at, None);
    s.touch_token(&t.id, 99).await.expect("touch");
    assert_eq!(
        s.token_by_hash("h1")
            .await
            .expect("again")
            .token
            .last_used_at,
        Some(99)
    );
    assert!(matches!(
        s.delete_token("someone-else", &t.id).await,
        Err(StoreError::NotFound)
    ));
    s.delete_token(&alice.id, &t.id).await.expect("delete");
    assert!(matches!(
        s.token_by_hash("h1").await,
        Err(StoreError::NotFound)
    ));

    let expiring = TokenRecord {
        id: id(),
        token_hash: "h2".into(),
        expires_at: Some(10),
        ..t
    };
    s.insert_token(&expiring).await.expect("token");
    assert_eq!(s.delete_expired_tokens(11).await.expect("expire"), 1);
}

async fn workspaces_roundtrip(s: Store) {
    let alice = user("alice");
    let bob = user("bob");
    s.insert_user(&alice).await.expect("alice");
    s.insert_user(&bob).await.expect("bob");
    let w = workspace(&alice.id, "dev");
    s.insert_workspace(&w).await.expect("insert");
    // Names are unique per owner, not globally.
    assert!(matches!(
        s.insert_workspace(&workspace(&alice.id, "dev")).await,
        Err(StoreError::Conflict)
    ));
    s.insert_workspace(&workspace(&bob.id, "dev"))
        .await
        .expect("bob's dev");

    let got = s.workspace(&w.id).await.expect("get");
    assert_eq!(got.env, w.env);
    assert_eq!(got.ports, vec![8000, 3000]);
    assert_eq!(got.cpu_millis, 1500);
    assert_eq!(got.template.as_deref(), Some("base"));
    assert_eq!(got.container_id, None);
    assert_eq!(
        s.workspace_by_name(&alice.id, "dev")
            .await
            .expect("by name")
            .id,
        w.id
    );

    s.set_workspace_container(&w.id, Some("c1"), 2)
        .await
        .expect("container");
    s.set_workspace_state(&w.id, "error", Some("why"), 3)
        .await
        .expect("state");
    let got = s.workspace(&w.id).await.expect("get");
    assert_eq!(got.container_id.as_deref(), Some("c1"));
    assert_eq!(got.state, "error");
    assert_eq!(got.state_reason.as_deref(), Some("why"));
    assert_eq!(got.updated_at, 3);

    assert_eq!(
        s.list_workspaces(Some(&alice.id))
            .await
            .expect("list")
            .len(),
        1
    );
    assert_eq!(s.list_workspaces(None).await.expect("list").len(), 2);
    let counts = s.count_workspaces_by_state().await.expect("counts");
    assert_eq!(
        counts,
        vec![("creating".to_string(), 1), ("error".to_string(), 1)]
    );

    s.delete_workspace(&w.id).await.expect("delete");
    assert!(matches!(
        s.workspace(&w.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        s.delete_workspace(&w.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        s.set_workspace_state(&w.id, "running", None, 4).await,
        Err(StoreError::NotFound)
    ));
}

async fn settings_keep_the_first_value(s: Store) {
    assert_eq!(
        s.setting_or_insert("instance_id", "a")
            .await
            .expect("first"),
        "a"
    );
    assert_eq!(
        s.setting_or_insert("instance_id", "b")
            .await
            .expect("second"),
        "a"
    );
}

#[tokio::test]
async fn sqlite_users_and_tokens() {
    let (s, _d) = sqlite().await;
    users_and_tokens(s).await;
}

#[tokio::test]
async fn sqlite_workspaces_roundtrip() {
    let (s, _d) = sqlite().await;
    workspaces_roundtrip(s).await;
}

#[tokio::test]
async fn sqlite_settings_keep_the_first_value() {
    let (s, _d) = sqlite().await;
    settings_keep_the_first_value(s).await;
}

#[tokio::test]
async fn sqlite_survives_reopening() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let s = Store::connect(&url).await.expect("open");
    s.insert_user(&user("carol")).await.expect("insert");
    s.close().await;
    // Migrations are applied once; a second open finds the data.
    let s = Store::connect(&url).await.expect("reopen");
    assert_eq!(
        s.user_by_name("carol").await.expect("found").username,
        "carol"
    );
}

#[tokio::test]
async fn postgres_users_and_tokens() {
    users_and_tokens(postgres().await).await;
}

#[tokio::test]
async fn postgres_workspaces_roundtrip() {
    workspaces_roundtrip(postgres().await).await;
}

#[tokio::test]
async fn postgres_settings_keep_the_first_value() {
    settings_keep_the_first_value(postgres().await).await;
}

/// The database itself refuses to change or drop audit rows, whatever SQL
/// reaches it.
async fn audit_rows_cannot_be_changed(store: Store) {
    let row = AuditRecord {
        seq: 1,
        at: 1,
        actor: "u".into(),
        workspace_id: None,
        action: "x".into(),
        detail: "{}".into(),
        decision: None,
        approved_by: None,
        result: None,
        prev_hash: "0".into(),
        hash: "h".into(),
    };
    store.insert_audit(&row).await.expect("append");
    let truncate = if store.backend() == Backend::Postgres {
        "TRUNCATE audit_log"
    } else {
        "DELETE FROM audit_log"
    };
    for sql in [
        "UPDATE audit_log SET actor = 'evil'",
        "DELETE FROM audit_log WHERE seq = 1",
        truncate,
    ] {
        assert!(store.execute_raw(sql).await.is_err(), "{sql} was allowed");
    }
    assert_eq!(
        store.audit_head().await.expect("head").map(|h| h.0),
        Some(1)
    );
}

#[tokio::test]
async fn sqlite_audit_rows_cannot_be_changed() {
    let (s, _d) = sqlite().await;
    audit_rows_cannot_be_changed(s).await;
}

#[tokio::test]
async fn postgres_audit_rows_cannot_be_changed() {
    audit_rows_cannot_be_changed(postgres().await).await;
}

#[tokio::test]
async fn unsupported_urls_are_refused() {
    assert!(matches!(
        Store::connect("mysql://x").await,
        Err(StoreError::UnsupportedUrl)
    ));
}

/// Role changes never leave no enabled admin; tokens go by user and kind;
/// audit search and usage series, on both databases.
async fn accounts_audit_search_and_usage_series(store: Store) {
    let mut a = user("ada");
    a.role = "admin".into();
    let mut b = user("bea");
    b.role = "admin".into();
    store.insert_user(&a).await.expect("a");
    store.insert_user(&b).await.expect("b");
    let b2 = store
        .update_user(&b.id, None, Some(true))
        .await
        .expect("disable b");
    assert!(b2.disabled && !b2.must_change_password);
    assert!(matches!(
        store.update_user(&a.id, Some("member"), None).await,
        Err(StoreError::Conflict)
    ));
    assert!(matches!(
        store.update_user(&a.id, None, Some(true)).await,
        Err(StoreError::Conflict)
    ));
    // Making the last admin admin again is fine; so is a missing user.
    store
        .update_user(&a.id, Some("admin"), None)
        .await
        .expect("no-op");
    assert!(matches!(
        store.update_user("nobody", Some("member"), None).await,
        Err(StoreError::NotFound)
    ));
    store
        .update_user(&b.id, None, Some(false))
        .await
        .expect("enable b");
    let a2 = store
        .update_user(&a.id, Some("viewer"), None)
        .await
        .expect("demote a");
    assert_eq!(a2.role, "viewer");
    store
        .set_password_hash(&a.id, "$argon2id$other", true)
        .await
        .expect("pw");
    assert!(
        store
            .user_by_id(&a.id)
            .await
            .expect("a")
            .must_change_password
    );

    for (i, kind) in ["session", "session", "api"].iter().enumerate() {
        store
            .insert_token(&TokenRecord {
                id: format!("t{i}"),
                user_id: a.id.clone(),
                name: "n".into(),
                kind: (*kind).into(),
                token_hash: format!("h{i}"),
                created_at: 1,
                expires_at: None,
                last_used_at: None,
            })
            .await
            .expect("token");
    }
    let n = store
        .delete_tokens_of(&a.id, Some("session"), Some("t0"))
        .await
        .expect("del");
    assert_eq!(n, 1);
    let mut left: Vec<String> = store
        .list_tokens(&a.id)
        .await
        .expect("list")
        .into_iter()
        .map(|t| t.id)
        .collect();
    left.sort();
    assert_eq!(left, ["t0", "t2"]);
    assert_eq!(
        store
            .delete_tokens_of(&a.id, None, None)
            .await
            .expect("all"),
        2
    );

    for (seq, action, actor) in [
        (1, "user.create", "x"),
        (2, "user.update", "y"),
        (3, "workspace.create", "x"),
        (4, "user_x", "x"),
    ] {
        store
            .insert_audit(&AuditRecord {
                seq,
                at: seq * 1000,
                actor: actor.into(),
                workspace_id: None,
                action: action.into(),
                detail: "{}".into(),
                decision: None,
                approved_by: None,
                result: None,
                prev_hash: "0".into(),
                hash: format!("h{seq}"),
            })
            .await
            .expect("audit");
    }
    let seqs = |rows: Vec<AuditRecord>| rows.iter().map(|r| r.seq).collect::<Vec<_>>();
    let f = |prefix: &str| AuditFilter {
        action_prefix: Some(prefix.into()),
        limit: 10,
        ..AuditFilter::default()
    };
    assert_eq!(
        seqs(store.audit_search(&f("user.")).await.expect("q")),
        [1, 2]
    );
    assert_eq!(seqs(store.audit_search(&f("user_")).await.expect("q")), [4]);
    assert_eq!(
        seqs(store.audit_search(&f("%")).await.expect("q")),
        Vec::<i64>::new()
    );
    let newest = AuditFilter {
        before: Some(4),
        actor: Some("x".into()),
        limit: 10,
        ..AuditFilter::default()
    };
    assert_eq!(seqs(store.audit_search(&newest).await.expect("q")), [3, 1]);
    let window = AuditFilter {
        since: Some(2000),
        until: Some(3000),
        limit: 10,
        ..AuditFilter::default()
    };
    assert_eq!(seqs(store.audit_search(&window).await.expect("q")), [2, 3]);

    let hour = 3_600_000;
    for (i, at) in [hour * 10 + 5, hour * 10 + 99, hour * 11 + 1]
        .iter()
        .enumerate()
    {
        store
            .insert_ai_usage(&aicockpit_store::AiUsageRecord {
                id: format!("u{i}"),
                user_id: a.id.clone(),
                service_id: "s".into(),
                model: "m".into(),
                endpoint: "chat".into(),
                prompt_tokens: 10,
                completion_tokens: 1,
                created_at: *at,
            })
            .await
            .expect("usage");
    }
    let series = store.ai_usage_series(None, 0, hour).await.expect("series");
    let points: Vec<(i64, i64, i64)> = series
        .iter()
        .map(|t| (t.bucket, t.requests, t.prompt_tokens))
        .collect();
    assert_eq!(points, [(hour * 10, 2, 20), (hour * 11, 1, 10)]);
    let totals = store.ai_usage_totals(Some(&a.id), 0).await.expect("totals");
    assert_eq!(totals.len(), 1);
    assert_eq!((totals[0].bucket, totals[0].requests), (0, 3));
}

#[tokio::test]
async fn sqlite_accounts_audit_search_and_usage_series() {
    let (s, _d) = sqlite().await;
    accounts_audit_search_and_usage_series(s).await;
}

#[tokio::test]
async fn postgres_accounts_audit_search_and_usage_series() {
    accounts_audit_search_and_usage_series(postgres().await).await;
}

/// Snapshots: unique names per owner, newest first, gone with their owner.
async fn snapshots_roundtrip(s: Store) {
    let alice = user("alice");
    let bob = user("bob");
    s.insert_user(&alice).await.expect("alice");
    s.insert_user(&bob).await.expect("bob");
    let snap = |id: &str, owner: &str, name: &str, at: i64| aicockpit_store::SnapshotRecord {
        id: id.into(),
        owner_id: owner.into(),
        workspace_id: "w1".into(),
        workspace_name: "dev".into(),
        name: name.into(),
        image: format!("localhost/aicockpit/snapshot:{id}"),
        config: r#"{"cpu_millis":1000}"#.into(),
        created_at: at,
    };
    s.insert_snapshot(&snap("s1", &alice.id, "one", 1))
        .await
        .expect("s1");
    s.insert_snapshot(&snap("s2", &alice.id, "two", 2))
        .await
        .expect("s2");
    s.insert_snapshot(&snap("s3", &bob.id, "one", 3))
        .await
        .expect("bob's one");
    assert!(matches!(
        s.insert_snapshot(&snap("s4", &alice.id, "one", 4)).await,
        Err(StoreError::Conflict)
    ));
    let mine: Vec<String> = s
        .list_snapshots(Some(&alice.id))
        .await
        .expect("list")
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(mine, vec!["s2", "s1"]);
    assert_eq!(s.list_snapshots(None).await.expect("all").len(), 3);
    assert_eq!(
        s.snapshot_by_name(&bob.id, "one")
            .await
            .expect("by name")
            .id,
        "s3"
    );
    assert_eq!(
        s.snapshot("s1").await.expect("get"),
        snap("s1", &alice.id, "one", 1)
    );
    s.delete_snapshot("s1").await.expect("delete");
    assert!(matches!(
        s.delete_snapshot("s1").await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(s.snapshot("s1").await, Err(StoreError::NotFound)));
}

#[tokio::test]
async fn sqlite_snapshots_roundtrip() {
    let (s, _d) = sqlite().await;
    snapshots_roundtrip(s).await;
}

#[tokio::test]
async fn postgres_snapshots_roundtrip() {
    snapshots_roundtrip(postgres().await).await;
}

async fn git_credentials_and_their_workspaces(s: Store) {
    let alice = user("alice");
    let bob = user("bob");
    s.insert_user(&alice).await.expect("alice");
    s.insert_user(&bob).await.expect("bob");
    let cred = |user: &str, origin: &str| GitCredentialRecord {
        id: id(),
        user_id: user.into(),
        origin: origin.into(),
        username: "git".into(),
        secret: "v1:sealed".into(),
        created_at: 1,
        last_used_at: None,
        rejected_at: None,
    };
    let c = cred(&alice.id, "https://git.example.com");
    s.insert_git_credential(&c).await.expect("insert");
    // One per user and origin.
    assert!(matches!(
        s.insert_git_credential(&cred(&alice.id, "https://git.example.com"))
            .await,
        Err(StoreError::Conflict)
    ));
    s.insert_git_credential(&cred(&bob.id, "https://git.example.com"))
        .await
        .expect("bob's own");
    assert_eq!(s.git_credential_count(&alice.id).await.expect("count"), 1);
    assert!(s
        .git_credential_for(&alice.id, "http://git.example.com")
        .await
        .expect("lookup")
        .is_none());
    s.touch_git_credential(&c.id, 7, false).await.expect("used");
    s.touch_git_credential(&c.id, 9, true)
        .await
        .expect("refused");
    let got = s
        .git_credential_for(&alice.id, "https://git.example.com")
        .await
        .expect("lookup")
        .expect("found");
    assert_eq!((got.last_used_at, got.rejected_at), (Some(7), Some(9)));
    // Only its owner deletes it.
    assert!(matches!(
        s.delete_git_credential(&bob.id, &c.id).await,
        Err(StoreError::NotFound)
    ));

    // A workspace is found by its container, unless its owner is disabled.
    let w = workspace(&alice.id, "dev");
    s.insert_workspace(&w).await.expect("workspace");
    s.set_workspace_container(&w.id, Some("c-123"), 2)
        .await
        .expect("container");
    assert_eq!(
        s.workspace_id_by_container("c-123").await.expect("lookup"),
        Some((w.id.clone(), alice.id.clone()))
    );
    assert_eq!(
        s.workspace_id_by_container("c-999").await.expect("lookup"),
        None
    );
    // (An enabled admin must remain.)
    let mut admin = user("admin");
    admin.role = "admin".into();
    s.insert_user(&admin).await.expect("admin");
    s.update_user(&alice.id, None, Some(true))
        .await
        .expect("disable");
    assert_eq!(
        s.workspace_id_by_container("c-123").await.expect("lookup"),
        None
    );
    s.delete_git_credential(&alice.id, &c.id)
        .await
        .expect("delete");
    assert_eq!(s.git_credential_count(&alice.id).await.expect("count"), 0);
}

#[tokio::test]
async fn sqlite_git_credentials_and_their_workspaces() {
    let (s, _dir) = sqlite().await;
    git_credentials_and_their_workspaces(s).await;
}

#[tokio::test]
async fn postgres_git_credentials_and_their_workspaces() {
    git_credentials_and_their_workspaces(postgres().await).await;
}

async fn ssh_keys_one_per_user(s: Store) {
    let alice = user("alice");
    let bob = user("bob");
    s.insert_user(&alice).await.expect("alice");
    s.insert_user(&bob).await.expect("bob");
    let key = |user: &str, n: &str| SshKeyRecord {
        user_id: user.into(),
        public_key: format!("ssh-ed25519 AAAA{n} aicockpit:x"),
        fingerprint: format!("SHA256:{n}"),
        secret: "v1:sealed".into(),
        created_at: 1,
        last_used_at: None,
    };
    assert!(s.ssh_key(&alice.id).await.expect("none").is_none());
    s.put_ssh_key(&key(&alice.id, "one")).await.expect("put");
    s.put_ssh_key(&key(&bob.id, "bob")).await.expect("put");
    // A new one replaces the old.
    s.put_ssh_key(&key(&alice.id, "two"))
        .await
        .expect("replace");
    let k = s.ssh_key(&alice.id).await.expect("get").expect("some");
    assert_eq!(k.fingerprint, "SHA256:two");
    s.touch_ssh_key(&alice.id, 42).await.expect("touch");
    let k = s.ssh_key(&alice.id).await.expect("get").expect("some");
    assert_eq!(k.last_used_at, Some(42));
    assert_eq!(
        s.delete_ssh_key(&alice.id).await.expect("delete"),
        "SHA256:two"
    );
    assert!(matches!(
        s.delete_ssh_key(&alice.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(s.ssh_key(&bob.id).await.expect("bob").is_some());
}

#[tokio::test]
async fn sqlite_ssh_keys_one_per_user() {
    let (s, _d) = sqlite().await;
    ssh_keys_one_per_user(s).await;
}

#[tokio::test]
async fn postgres_ssh_keys_one_per_user() {
    ssh_keys_one_per_user(postgres().await).await;
}
