//! Web previews: a web app in a workspace opened through the server in
//! subdomain mode (each preview its own origin, logged in by a one-use
//! ticket that becomes an HttpOnly cookie for that host alone) and in path
//! mode (sandboxed; public ports, or a token); bodies and Server-Sent
//! Events stream, WebSockets pass; share levels decide who may open what.

use crate::common::{assert_error, Api, TestServer};
use aicockpit_core::auth::Role;
use futures_util::{SinkExt, StreamExt};
use reqwest::header::{HeaderMap, COOKIE, HOST, LOCATION, SET_COOKIE};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::time::Duration;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

const FIXTURE: &str = include_str!("fixtures/preview-server.pl");

/// Puts the fixture app in `ws` and starts it on `port`.
async fn start_app(api: &Api, ws: &str, port: u16) {
    let r = reqwest::Client::new()
        .put(format!(
            "{}/api/v1/workspaces/{ws}/files/content?path=/workspace/app.pl",
            api.base
        ))
        .bearer_auth(api_token(api))
        .body(FIXTURE)
        .send()
        .await
        .expect("upload");
    assert_eq!(r.status(), StatusCode::OK);
    let (code, _, err) = api
        .sh(
            ws,
            &format!("nohup perl /workspace/app.pl {port} >/tmp/app.log 2>&1 & for i in $(seq 50); do nc -z 127.0.0.1 {port} && exit 0; sleep 0.1; done; cat /tmp/app.log; exit 1"),
        )
        .await;
    assert_eq!(code, 0, "{err}");
}

fn api_token(api: &Api) -> String {
    api.token().expect("token").to_owned()
}

/// A client that does not follow redirects and sends `*.localhost` to the
/// server (as browsers do).
fn browser(ts: &TestServer, host: &str) -> reqwest::Client {
    let addr: SocketAddr = ts
        .url
        .trim_start_matches("http://")
        .parse()
        .expect("server address");
    let name = host.split(':').next().unwrap_or(host).to_owned();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .resolve(&name, addr)
        .build()
        .expect("client")
}

fn session_cookie(h: &HeaderMap) -> String {
    let c = h
        .get(SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .expect("set-cookie");
    assert!(
        c.contains("HttpOnly") && c.contains("Path=/") && !c.to_lowercase().contains("domain="),
        "{c}"
    );
    c.split(';').next().unwrap_or_default().to_owned()
}

async fn authorize(api: &Api, body: Value) -> (StatusCode, Value) {
    api.post("/api/v1/previews/authorize", body).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn previews_open_stream_and_obey_share_levels() {
    let ts = TestServer::start().await;
    let alice = ts.api(&ts.user("alice", Role::Member).await);
    let bob = ts.api(&ts.user("bob", Role::Member).await);
    let w = alice.create_ws("demo").await;
    let ws_id = w["id"].as_str().expect("id").to_owned();
    start_app(&alice, "demo", 8000).await;
    // The workspace's disk use is reported (the app is there).
    let (s, u) = alice.get("/api/v1/workspaces/demo/usage").await;
    assert_eq!(s, StatusCode::OK, "{u}");
    let disk = u["disk_bytes"].as_u64().unwrap_or(0);
    assert!(disk >= FIXTURE.len() as u64, "{u}");
    let port = ts.url.rsplit(':').next().expect("port").to_owned();
    let host = format!("8000--demo--alice.localhost:{port}");
    let base = format!("http://{host}");
    let client = browser(&ts, &host);

    // The owner's one-use link logs the browser in on the preview's origin.
    let (s, a) = authorize(
        &alice,
        json!({"workspace": "demo", "port": 8000, "next": "/hello?x=1"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{a}");
    let url = a["url"].as_str().expect("url").to_owned();
    assert!(
        url.starts_with(&format!("{base}/__aicockpit/auth?ticket=")),
        "{url}"
    );
    assert_eq!(a["path_url"], format!("/w/{ws_id}/ports/8000/"));
    let r = client.get(&url).send().await.expect("auth");
    assert_eq!(r.status(), StatusCode::FOUND);
    assert_eq!(r.headers()[LOCATION], "/hello?x=1");
    let cookie = session_cookie(r.headers());
    // Used once only.
    let r = client.get(&url).send().await.expect("again");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    let r = client
        .get(format!("{base}/hello?x=1"))
        .header(COOKIE, format!("theirs=1; {cookie}"))
        .send()
        .await
        .expect("hello");
    assert_eq!(r.status(), StatusCode::OK);
    let text = r.text().await.expect("text");
    assert!(text.starts_with("hello from the workspace"), "{text}");
    assert!(text.contains(&format!("x-forwarded-host={host}")), "{text}");
    assert!(text.contains("path=/hello?x=1"), "{text}");
    // The app's own cookies pass; ours never reaches the port.
    assert!(text.contains("cookie=theirs=1\n"), "{text}");
    assert!(!text.contains("aicockpit_preview"), "{text}");

    // A 1 MB body both ways.
    let big: String = "0123456789abcdef".repeat(65_536);
    let r = client
        .post(format!("{base}/echo"))
        .header(COOKIE, &cookie)
        .body(big.clone())
        .send()
        .await
        .expect("echo");
    assert_eq!(r.text().await.expect("echo body"), big);

    // Server-Sent Events are not buffered: the first event arrives while
    // the app still holds the second back (3 s).
    let mut r = client
        .get(format!("{base}/sse"))
        .header(COOKIE, &cookie)
        .send()
        .await
        .expect("sse");
    let first = tokio::time::timeout(Duration::from_millis(2500), r.chunk())
        .await
        .expect("the first event arrives before the second is sent")
        .expect("chunk")
        .expect("some bytes");
    assert_eq!(&first[..], b"data: first\n\n");

    // A WebSocket passes through.
    let mut req = format!("ws://127.0.0.1:{port}/ws")
        .into_client_request()
        .expect("ws request");
    req.headers_mut().insert(HOST, host.parse().expect("host"));
    req.headers_mut()
        .insert(COOKIE, cookie.parse().expect("cookie"));
    let (mut sock, _) = tokio_tungstenite::connect_async(req)
        .await
        .expect("websocket");
    sock.send(Message::text("hi")).await.expect("send");
    let got = tokio::time::timeout(Duration::from_secs(10), sock.next())
        .await
        .expect("echo in time")
        .expect("a message")
        .expect("ok");
    assert_eq!(got.into_text().expect("text").as_str(), "echo: hi");

    // Without a session: browsers go to the main app to log in.
    let r = client
        .get(format!("{base}/hello"))
        .send()
        .await
        .expect("anon");
    assert_eq!(r.status(), StatusCode::FOUND);
    let to = r.headers()[LOCATION].to_str().expect("location").to_owned();
    assert!(
        to.starts_with(&format!(
            "http://localhost:{port}/preview?host=8000--demo--alice.localhost"
        )),
        "{to}"
    );
    // The cookie is for its own host only.
    let other = format!("8001--demo--alice.localhost:{port}");
    let r = browser(&ts, &other)
        .get(format!("http://{other}/hello"))
        .header(COOKIE, &cookie)
        .send()
        .await
        .expect("other host");
    assert_eq!(r.status(), StatusCode::FOUND, "a session is per host");

    // Private: another user gets nothing, by name or by host.
    let (s, v) = authorize(&bob, json!({"workspace": ws_id, "port": 8000})).await;
    assert_error(s, &v, StatusCode::NOT_FOUND, "not_found");
    let (s, v) = authorize(&bob, json!({"host": host})).await;
    assert_error(s, &v, StatusCode::NOT_FOUND, "not_found");
    let (s, v) = bob
        .put(
            &format!("/api/v1/workspaces/{ws_id}/ports/8000/share"),
            json!({"level": "public"}),
        )
        .await;
    assert_error(s, &v, StatusCode::NOT_FOUND, "not_found");
    // Path mode: not for browsers on a private port; a token opens it.
    let path = format!("{}/w/{ws_id}/ports/8000/hello", ts.url);
    let r = reqwest::get(&path).await.expect("path anon");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = reqwest::Client::new()
        .get(&path)
        .bearer_auth(api_token(&alice))
        .send()
        .await
        .expect("path");
    assert_eq!(r.status(), StatusCode::OK);
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .expect("csp")
        .to_owned();
    assert!(
        csp.starts_with("sandbox") && !csp.contains("allow-same-origin"),
        "{csp}"
    );
    let text = r.text().await.expect("text");
    assert!(
        text.contains(&format!("x-forwarded-prefix=/w/{ws_id}/ports/8000\n")),
        "{text}"
    );
    assert!(
        text.contains("authorization=\n"),
        "the token never reaches the port: {text}"
    );
    let r = reqwest::Client::new()
        .get(&path)
        .bearer_auth(api_token(&bob))
        .send()
        .await
        .expect("bob path");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // Any logged-in user.
    let (s, _) = alice
        .put(
            &format!("/api/v1/workspaces/{ws_id}/ports/8000/share"),
            json!({"level": "authenticated"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, a) = authorize(&bob, json!({"host": host, "next": "/hello"})).await;
    assert_eq!(s, StatusCode::OK, "{a}");
    let r = client
        .get(a["url"].as_str().expect("url"))
        .send()
        .await
        .expect("bob auth");
    let bob_cookie = session_cookie(r.headers());
    let r = client
        .get(format!("{base}/hello"))
        .header(COOKIE, &bob_cookie)
        .send()
        .await
        .expect("bob");
    assert_eq!(r.status(), StatusCode::OK);
    let r = client
        .get(format!("{base}/hello"))
        .send()
        .await
        .expect("anon");
    assert_eq!(r.status(), StatusCode::FOUND);

    // Public: anyone, in both modes.
    let (s, _) = alice
        .put(
            &format!("/api/v1/workspaces/{ws_id}/ports/8000/share"),
            json!({"level": "public"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let r = client
        .get(format!("{base}/hello"))
        .send()
        .await
        .expect("public");
    assert_eq!(r.status(), StatusCode::OK);
    let r = reqwest::get(&path).await.expect("public path");
    assert_eq!(r.status(), StatusCode::OK);
    // The rest of the path reaches the port as it was sent.
    let encoded = path.replace("/hello", "/a%3Fb");
    let r = reqwest::get(&encoded).await.expect("encoded path");
    let text = r.text().await.expect("text");
    assert!(text.contains("path=/a%3Fb\n"), "{text}");
    // A WebSocket opened while public (logged out).
    let mut req = format!("ws://127.0.0.1:{port}/ws")
        .into_client_request()
        .expect("ws request");
    req.headers_mut().insert(HOST, host.parse().expect("host"));
    let (mut anon_ws, _) = tokio_tungstenite::connect_async(req)
        .await
        .expect("public websocket");
    anon_ws.send(Message::text("still")).await.expect("send");
    let got = anon_ws.next().await.expect("message").expect("ok");
    assert_eq!(got.into_text().expect("text").as_str(), "echo: still");
    let (_, shares) = alice
        .get(&format!("/api/v1/workspaces/{ws_id}/ports/shares"))
        .await;
    assert_eq!(shares, json!([{"port": 8000, "level": "public"}]));
    let (_, rows) = ts.admin_api().get("/api/v1/audit?action=port.share").await;
    let levels: Vec<&str> = rows
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["detail"]["to"].as_str())
        .collect();
    assert_eq!(levels, ["authenticated", "public"]);

    // Back to private: the public link stops working at once; bob's session too.
    let (s, _) = alice
        .put(
            &format!("/api/v1/workspaces/{ws_id}/ports/8000/share"),
            json!({"level": "private"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let r = reqwest::get(&path).await.expect("private again");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // The WebSocket opened while it was public is closed too (checked
    // again every few seconds while it lasts).
    let closed = tokio::time::timeout(Duration::from_secs(15), async {
        loop {
            match anon_ws.next().await {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the WebSocket outlived the share level");
    let r = client
        .get(format!("{base}/hello"))
        .header(COOKIE, &bob_cookie)
        .send()
        .await
        .expect("bob again");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // Nothing on the port: a clear 502.
    let r = client
        .get(format!("{base}/"))
        .header(COOKIE, &cookie)
        .send()
        .await
        .expect("still ok");
    assert_eq!(r.status(), StatusCode::OK);
    let (_, a) = authorize(&alice, json!({"workspace": "demo", "port": 8001})).await;
    let r = browser(&ts, &other)
        .get(a["url"].as_str().expect("url"))
        .send()
        .await
        .expect("auth 8001");
    let c8001 = session_cookie(r.headers());
    let r = browser(&ts, &other)
        .get(format!("http://{other}/"))
        .header(COOKIE, &c8001)
        .send()
        .await
        .expect("closed");
    assert_eq!(r.status(), StatusCode::BAD_GATEWAY);

    // Another site's requests do not ride on the viewer's session: a
    // sibling preview's fetch or WebSocket (same site under a shared base
    // domain) is treated as logged out; a top-level link is not.
    let evil = format!("http://9999--evil--mallory.localhost:{port}");
    // (what, request headers, status)
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], StatusCode);
    let cross: [Case; 5] = [
        (
            "cors fetch",
            &[
                ("sec-fetch-site", "same-site"),
                ("sec-fetch-mode", "cors"),
                ("sec-fetch-dest", "empty"),
            ],
            StatusCode::FOUND,
        ),
        (
            "iframe",
            &[
                ("sec-fetch-site", "same-site"),
                ("sec-fetch-mode", "navigate"),
                ("sec-fetch-dest", "iframe"),
            ],
            StatusCode::FOUND,
        ),
        (
            "foreign origin",
            &[("origin", evil.as_str())],
            StatusCode::FOUND,
        ),
        (
            "link",
            &[
                ("sec-fetch-site", "same-site"),
                ("sec-fetch-mode", "navigate"),
                ("sec-fetch-dest", "document"),
            ],
            StatusCode::OK,
        ),
        (
            "own page",
            &[("sec-fetch-site", "same-origin"), ("origin", base.as_str())],
            StatusCode::OK,
        ),
    ];
    for (what, headers, want) in cross {
        let mut r = client.get(format!("{base}/hello")).header(COOKIE, &cookie);
        for (k, v) in headers {
            r = r.header(*k, *v);
        }
        let got = r.send().await.expect("cross").status();
        assert_eq!(got, want, "{what}");
    }
    // The IDE panel's session: a partitioned SameSite=None cookie (kept by
    // browsers only under the app as top-level site), set by a page of the
    // preview's origin that moves on by itself, and honoured only for the
    // preview's own requests — never another page's, framed or not. Every
    // answer may be framed by the app alone.
    let (_, a) = authorize(
        &alice,
        json!({"workspace": "demo", "port": 8000, "frame": true}),
    )
    .await;
    let r = client
        .get(a["url"].as_str().expect("url"))
        .send()
        .await
        .expect("frame auth");
    assert_eq!(r.status(), StatusCode::OK);
    let set = r.headers()[SET_COOKIE].to_str().expect("cookie").to_owned();
    assert!(
        set.starts_with("aicockpit_preview_frame=")
            && set.contains("SameSite=None")
            && set.contains("Partitioned")
            && set.contains("Secure"),
        "{set}"
    );
    let frame_cookie = session_cookie(r.headers());
    let body = r.text().await.expect("page");
    assert!(body.contains(r#"location.replace("/")"#), "{body}");
    for (site, mode, dest, want) in [
        ("same-origin", "navigate", "iframe", StatusCode::OK),
        ("same-origin", "cors", "empty", StatusCode::OK),
        ("cross-site", "navigate", "iframe", StatusCode::FOUND),
        ("same-site", "navigate", "iframe", StatusCode::FOUND),
        ("cross-site", "navigate", "document", StatusCode::FOUND),
        ("cross-site", "cors", "empty", StatusCode::FOUND),
        ("", "", "", StatusCode::FOUND),
    ] {
        let mut r = client
            .get(format!("{base}/hello"))
            .header(COOKIE, &frame_cookie);
        if !site.is_empty() {
            r = r
                .header("sec-fetch-site", site)
                .header("sec-fetch-mode", mode)
                .header("sec-fetch-dest", dest);
        }
        let r = r.send().await.expect("framed");
        assert_eq!(r.status(), want, "{site} {mode} {dest}");
        let csp: Vec<&str> = r
            .headers()
            .get_all("content-security-policy")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        assert!(
            csp.iter()
                .any(|c| c.starts_with("frame-ancestors 'self' http://localhost:")),
            "{site} {mode} {dest}: {csp:?}"
        );
    }
    let mut req = format!("ws://127.0.0.1:{port}/ws")
        .into_client_request()
        .expect("ws request");
    req.headers_mut().insert(HOST, host.parse().expect("host"));
    req.headers_mut()
        .insert(COOKIE, cookie.parse().expect("cookie"));
    req.headers_mut()
        .insert("origin", evil.parse().expect("origin"));
    assert!(
        tokio_tungstenite::connect_async(req).await.is_err(),
        "a foreign page's WebSocket gets no session"
    );
    // Path mode sends no cookies to the port.
    let r = reqwest::Client::new()
        .get(&path)
        .bearer_auth(api_token(&alice))
        .header(COOKIE, "app_session=secret")
        .send()
        .await
        .expect("path cookie");
    assert!(r.text().await.expect("text").contains("cookie=\n"));

    // A session ends with the login it came from.
    let (_, tokens) = alice.get("/api/v1/auth/tokens").await;
    let token_id = tokens[0]["id"].as_str().expect("token id").to_owned();
    let (s, _) = alice
        .delete(&format!("/api/v1/auth/tokens/{token_id}"))
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let r = client
        .get(format!("{base}/hello"))
        .header(COOKIE, &cookie)
        .send()
        .await
        .expect("after revoke");
    assert_eq!(r.status(), StatusCode::FOUND);

    // A disabled owner's workspace serves nobody, public or not.
    let (s, _) = ts
        .admin_api()
        .put(
            &format!("/api/v1/workspaces/{ws_id}/ports/8000/share"),
            json!({"level": "public"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let r = reqwest::get(&path).await.expect("public again");
    assert_eq!(r.status(), StatusCode::OK);
    let alice_id = w["owner_id"].as_str().expect("owner").to_owned();
    let (s, v) = ts
        .admin_api()
        .patch(
            &format!("/api/v1/users/{alice_id}"),
            json!({"disabled": true}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let r = reqwest::get(&path).await.expect("disabled owner");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_preview_requests_are_refused() {
    let ts = TestServer::start_with(|c| c.previews.allow_public = false).await;
    let alice = ts.api(&ts.user("alice", Role::Member).await);
    let w = alice.create_ws("demo").await;
    let ws_id = w["id"].as_str().expect("id").to_owned();
    // (body, status, code)
    let cases: Vec<(Value, StatusCode, &str)> = vec![
        (
            json!({"host": "localhost:8080"}),
            StatusCode::BAD_REQUEST,
            "invalid_host",
        ),
        (
            json!({"host": "8000--demo--alice.evil.com"}),
            StatusCode::BAD_REQUEST,
            "invalid_host",
        ),
        (
            json!({"host": "8000--nope--alice.localhost"}),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            json!({"workspace": "demo"}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            json!({"workspace": "demo", "port": 0}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            json!({"workspace": "demo", "port": 80, "host": "x"}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            json!({"workspace": "demo", "port": 70000}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
    ];
    for (body, status, code) in cases {
        let (s, v) = authorize(&alice, body.clone()).await;
        assert_error(s, &v, status, code);
    }
    // Where to go afterwards is a local path only.
    for (next, want) in [
        ("//evil.com/x", "/"),
        ("https://evil.com", "/"),
        ("/a?b=1", "/a?b=1"),
        ("\\evil", "/"),
        ("/\t/evil.com", "/"),
    ] {
        let (_, a) = authorize(
            &alice,
            json!({"workspace": "demo", "port": 8000, "next": next}),
        )
        .await;
        let url = a["url"].as_str().expect("url");
        let q: Vec<(String, String)> =
            serde_urlencoded::from_str(url.split_once('?').map(|x| x.1).unwrap_or_default())
                .expect("query");
        assert_eq!(
            q.iter().find(|(k, _)| k == "next").map(|(_, v)| v.as_str()),
            Some(want),
            "{next}"
        );
    }
    let (s, v) = alice
        .put(
            &format!("/api/v1/workspaces/{ws_id}/ports/8000/share"),
            json!({"level": "public"}),
        )
        .await;
    assert_error(s, &v, StatusCode::FORBIDDEN, "forbidden");
    let (s, v) = alice
        .put(
            &format!("/api/v1/workspaces/{ws_id}/ports/8000/share"),
            json!({"level": "everyone"}),
        )
        .await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, "invalid_share_level");
    let (s, _) = ts
        .anonymous()
        .post(
            "/api/v1/previews/authorize",
            json!({"workspace": "demo", "port": 80}),
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // Tickets are bound to their host; unknown ones are refused.
    let port = ts.url.rsplit(':').next().expect("port").to_owned();
    let host = format!("8000--demo--alice.localhost:{port}");
    let (_, a) = authorize(&alice, json!({"workspace": "demo", "port": 8000})).await;
    let ticket_url = a["url"]
        .as_str()
        .expect("url")
        .replace("8000--demo", "8001--demo");
    let other = format!("8001--demo--alice.localhost:{port}");
    let r = browser(&ts, &other)
        .get(&ticket_url)
        .send()
        .await
        .expect("wrong host");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = browser(&ts, &host)
        .get(format!("http://{host}/__aicockpit/auth?ticket=pvt_forged"))
        .send()
        .await
        .expect("forged");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // Without a session, a preview that does not exist looks like one that does.
    let nobody = format!("8000--nope--nobody.localhost:{port}");
    let r = browser(&ts, &nobody)
        .get(format!("http://{nobody}/"))
        .send()
        .await
        .expect("unknown");
    assert_eq!(r.status(), StatusCode::FOUND);
    let r = browser(&ts, &host)
        .get(format!("http://{host}/__aicockpit/auth"))
        .send()
        .await
        .expect("no ticket");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // A preview host never reaches the API (no way around the origin split).
    let r = browser(&ts, &host)
        .get(format!("http://{host}/api/v1/auth/me"))
        .bearer_auth(api_token(&alice))
        .send()
        .await
        .expect("api on preview host");
    assert_eq!(r.status(), StatusCode::FOUND);
}
