//! The in-workspace agent through the API: terminals over WebSocket, files,
//! uploads and downloads, watching and search — and no way out of /workspace.

use crate::common::{assert_error, TestServer};
use aicockpit_core::auth::Role;
use futures_util::{SinkExt, StreamExt};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::Duration;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

pub(crate) type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub(crate) async fn connect_ws(ts: &TestServer, token: &str, ws: &str, tid: &str) -> Ws {
    let url = format!(
        "{}/api/v1/workspaces/{ws}/terminals/{tid}/ws",
        ts.url.replace("http://", "ws://")
    );
    let mut req = url.into_client_request().expect("request");
    req.headers_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("header"),
    );
    let (socket, _) = tokio_tungstenite::connect_async(req)
        .await
        .expect("websocket");
    socket
}

/// Reads until the accumulated terminal output contains `needle`.
pub(crate) async fn read_until(ws: &mut Ws, needle: &str) -> String {
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let msg = tokio::time::timeout_at(deadline, ws.next())
            .await
            .unwrap_or_else(|_| panic!("timed out waiting for {needle:?}; saw {seen:?}"))
            .unwrap_or_else(|| panic!("stream closed waiting for {needle:?}; saw {seen:?}"))
            .expect("message");
        match msg {
            Message::Binary(b) => seen.push_str(&String::from_utf8_lossy(&b)),
            Message::Text(t) => seen.push_str(&format!("\n[text {t}]\n")),
            _ => {}
        }
        if seen.contains(needle) {
            return seen;
        }
    }
}

pub(crate) async fn open_terminal(api: &crate::common::Api, ws: &str) -> String {
    let (s, t) = api
        .post(
            &format!("/api/v1/workspaces/{ws}/terminals"),
            json!({"cols": 80, "rows": 24}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{t}");
    t["id"].as_str().expect("terminal id").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminals_echo_resize_replay_share_and_report_exit() {
    let ts = TestServer::start().await;
    let api = ts.admin_api();
    api.create_ws("term").await;
    let tid = open_terminal(&api, "term").await;

    let mut a = connect_ws(&ts, &ts.admin, "term", &tid).await;
    read_until(&mut a, "\"type\":\"attached\"}").await;
    a.send(Message::Binary(b"echo answer-$((6*7))\r".to_vec().into()))
        .await
        .expect("send");
    read_until(&mut a, "answer-42").await;
    a.send(Message::Text(
        r#"{"type":"resize","cols":120,"rows":40}"#.into(),
    ))
    .await
    .expect("send");
    tokio::time::sleep(Duration::from_millis(100)).await;
    a.send(Message::Binary(b"stty size\r".to_vec().into()))
        .await
        .expect("send");
    read_until(&mut a, "40 120").await;

    // The browser goes away; the terminal does not. Re-attaching replays.
    drop(a);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (s, list) = api.get("/api/v1/workspaces/term/terminals").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(list[0]["id"], tid.as_str());
    assert_eq!(list[0]["cols"], 120);
    // With a single-use ticket, as a browser would.
    let (_, t) = api.post_empty("/api/v1/auth/ticket").await;
    let ticket = t["ticket"].as_str().expect("ticket").to_owned();
    let url = format!(
        "{}/api/v1/workspaces/term/terminals/{tid}/ws?ticket={ticket}",
        ts.url.replace("http://", "ws://")
    );
    let (mut b, _) = tokio_tungstenite::connect_async(url.clone())
        .await
        .expect("ticket ws");
    let replay = read_until(&mut b, "40 120").await;
    assert!(replay.contains("answer-42"), "{replay}");
    // A ticket works once.
    assert!(tokio_tungstenite::connect_async(url).await.is_err());

    // Two viewers see the same session.
    let mut c = connect_ws(&ts, &ts.admin, "term", &tid).await;
    read_until(&mut c, "answer-42").await;
    b.send(Message::Binary(b"echo shared-$((1+1))\r".to_vec().into()))
        .await
        .expect("send");
    read_until(&mut c, "shared-2").await;
    read_until(&mut b, "shared-2").await;

    // The shell's exit code reaches every viewer.
    c.send(Message::Binary(b"exit 3\r".to_vec().into()))
        .await
        .expect("send");
    read_until(&mut b, r#"{"code":3,"type":"exit"}"#).await;
    read_until(&mut c, r#"{"code":3,"type":"exit"}"#).await;

    // Unknown terminals and missing auth are refused before upgrading.
    let (s, v) = api.get("/api/v1/workspaces/term/terminals/nope/ws").await;
    assert!(
        s == StatusCode::NOT_FOUND || s == StatusCode::BAD_REQUEST,
        "{s} {v}"
    );
    let bare = format!(
        "{}/api/v1/workspaces/term/terminals/{tid}/ws",
        ts.url.replace("http://", "ws://")
    );
    assert!(tokio_tungstenite::connect_async(bare).await.is_err());
    // Other users cannot attach.
    let bob = ts.user("bob", Role::Member).await;
    let mut req = format!(
        "{}/api/v1/workspaces/term/terminals/{tid}/ws",
        ts.url.replace("http://", "ws://")
    )
    .into_client_request()
    .expect("req");
    req.headers_mut()
        .insert("authorization", format!("Bearer {bob}").parse().expect("h"));
    assert!(tokio_tungstenite::connect_async(req).await.is_err());

    // Several terminals per workspace; DELETE ends one.
    let t2 = open_terminal(&api, "term").await;
    let (s, _) = api
        .delete(&format!("/api/v1/workspaces/term/terminals/{t2}"))
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
}

async fn put(
    ts: &TestServer,
    ws: &str,
    path: &str,
    body: Vec<u8>,
    headers: &[(&str, &str)],
) -> (StatusCode, Value, Option<String>) {
    let mut r = reqwest::Client::new()
        .put(format!("{}/api/v1/workspaces/{ws}/files/content", ts.url))
        .query(&[("path", path)])
        .bearer_auth(&ts.admin)
        .body(body);
    for (k, v) in headers {
        r = r.header(*k, *v);
    }
    let resp = r.send().await.expect("put");
    let s = resp.status();
    let etag = resp
        .headers()
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (s, resp.json().await.unwrap_or(Value::Null), etag)
}

async fn get_bytes(ts: &TestServer, ws: &str, path: &str) -> (StatusCode, Vec<u8>) {
    let resp = reqwest::Client::new()
        .get(format!("{}/api/v1/workspaces/{ws}/files/content", ts.url))
        .query(&[("path", path)])
        .bearer_auth(&ts.admin)
        .send()
        .await
        .expect("get");
    (resp.status(), resp.bytes().await.expect("body").to_vec())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_round_trip_with_conflict_detection() {
    let ts = TestServer::start().await;
    let api = ts.admin_api();
    api.create_ws("files").await;

    let (s, meta, etag) = put(&ts, "files", "src/hello.txt", b"hello".to_vec(), &[]).await;
    assert_eq!(s, StatusCode::OK, "{meta}");
    let etag = etag.expect("etag");
    assert_eq!(meta["path"], "src/hello.txt");
    assert_eq!(meta["size"], 5);
    assert_eq!(
        get_bytes(&ts, "files", "src/hello.txt").await,
        (StatusCode::OK, b"hello".to_vec())
    );
    // The terminal side sees API writes, and the API sees terminal writes.
    assert_eq!(
        api.sh(
            "files",
            "cat /workspace/src/hello.txt; stat -c %U /workspace/src/hello.txt"
        )
        .await
        .1,
        "hellodev\n"
    );
    api.sh("files", "echo changed > /workspace/src/hello.txt")
        .await;
    assert_eq!(
        get_bytes(&ts, "files", "src/hello.txt").await.1,
        b"changed\n"
    );

    // A stale editor cannot overwrite: 412, and the newer content stays.
    let (s, v, _) = put(
        &ts,
        "files",
        "src/hello.txt",
        b"stale".to_vec(),
        &[("if-match", &etag)],
    )
    .await;
    assert_error(
        s,
        &v,
        StatusCode::PRECONDITION_FAILED,
        "precondition_failed",
    );
    assert_eq!(
        get_bytes(&ts, "files", "src/hello.txt").await.1,
        b"changed\n"
    );
    let (_, st) = api
        .get("/api/v1/workspaces/files/files/stat?path=src/hello.txt")
        .await;
    let fresh = st["etag"].as_str().expect("etag").to_owned();
    let (s, _, _) = put(
        &ts,
        "files",
        "src/hello.txt",
        b"fresh".to_vec(),
        &[("if-match", &fresh)],
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (s, v, _) = put(
        &ts,
        "files",
        "src/hello.txt",
        b"x".to_vec(),
        &[("if-none-match", "*")],
    )
    .await;
    assert_error(s, &v, StatusCode::CONFLICT, "already_exists");

    // Binary-safe, and large files stream.
    let all: Vec<u8> = (0..=255u8).cycle().take(5 * 1024 * 1024 + 7).collect();
    let (s, _, _) = put(&ts, "files", "bin/blob", all.clone(), &[]).await;
    assert_eq!(s, StatusCode::OK);
    let (s, got) = get_bytes(&ts, "files", "bin/blob").await;
    assert_eq!(s, StatusCode::OK);
    assert!(got == all, "binary content differs");
    assert_eq!(
        api.sh("files", "md5sum < /workspace/bin/blob | cut -c1-8")
            .await
            .1
            .len(),
        9
    );

    // Directories: mkdir, list, rename, delete.
    let (s, v) = api
        .post(
            "/api/v1/workspaces/files/files/mkdir",
            json!({"path": "a/b/c"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, list) = api.get("/api/v1/workspaces/files/files?path=").await;
    assert_eq!(s, StatusCode::OK);
    let names: Vec<&str> = list
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|e| e["name"].as_str())
        .collect();
    assert_eq!(names, vec!["a", "bin", "src"], "directories first, sorted");
    assert_eq!(list[0]["kind"], "dir");
    let (s, v) = api
        .post(
            "/api/v1/workspaces/files/files/rename",
            json!({"from": "src/hello.txt", "to": "a/b/hi.txt"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(get_bytes(&ts, "files", "a/b/hi.txt").await.1, b"fresh");
    let (s, v) = api.delete("/api/v1/workspaces/files/files?path=a").await;
    assert_error(s, &v, StatusCode::CONFLICT, "directory_not_empty");
    let (s, _) = api
        .delete("/api/v1/workspaces/files/files?path=a&recursive=true")
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, v) = api.get("/api/v1/workspaces/files/files/stat?path=a").await;
    assert_error(s, &v, StatusCode::NOT_FOUND, "not_found");

    // Viewers read but do not write; strangers see nothing.
    let viewer = ts.api(&ts.user("vic", Role::Viewer).await);
    let (s, _) = viewer.get("/api/v1/workspaces/files/files?path=").await;
    assert_eq!(
        s,
        StatusCode::NOT_FOUND,
        "viewers see only their own workspaces"
    );
    let (s, v) = api.get("/api/v1/workspaces/nope/files?path=").await;
    assert_error(s, &v, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paths_cannot_escape_the_workspace() {
    let ts = TestServer::start().await;
    let api = ts.admin_api();
    api.create_ws("jail").await;
    // Links planted from inside, pointing out.
    api.sh("jail", "ln -s /etc /workspace/etc-link && ln -s /etc/passwd /workspace/pw && mkdir -p /workspace/d").await;

    for path in [
        "../etc/passwd",
        "../../x",
        "d/../../etc/passwd",
        "etc-link/passwd",
        "pw",
        "a\u{0}b",
    ] {
        let (s, body) = get_bytes(&ts, "jail", path).await;
        assert!(s.is_client_error(), "{path}: {s}");
        assert!(
            !String::from_utf8_lossy(&body).contains("root:x:0"),
            "{path} leaked /etc/passwd"
        );
    }
    // An absolute path outside /workspace is refused, never reinterpreted;
    // /workspace/… is the workspace.
    let (s, body) = get_bytes(&ts, "jail", "/etc/passwd").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(String::from_utf8_lossy(&body).contains("path_outside_workspace"));
    let (s, v) = api
        .get("/api/v1/workspaces/jail/files?path=/workspace")
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");

    for path in ["../evil", "etc-link/evil", "pw"] {
        let (s, v, _) = put(&ts, "jail", path, b"x".to_vec(), &[]).await;
        assert!(s.is_client_error(), "{path}: {s} {v}");
    }
    let (s, v) = api.get("/api/v1/workspaces/jail/files?path=etc-link").await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, "path_outside_workspace");
    let (s, v) = api
        .post(
            "/api/v1/workspaces/jail/files/rename",
            json!({"from": "d", "to": "../d"}),
        )
        .await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, "path_outside_workspace");
    let (s, v) = api
        .delete("/api/v1/workspaces/jail/files?path=..&recursive=true")
        .await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, "path_outside_workspace");
    let (s, v) = api
        .delete("/api/v1/workspaces/jail/files?path=&recursive=true")
        .await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, "invalid_request");
    // Deleting the link removes the link, not /etc.
    let (s, _) = api
        .delete("/api/v1/workspaces/jail/files?path=etc-link")
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (_, out, _) = api.sh("jail", "test -f /etc/passwd && ls /etc | grep -c . && ls /evil /etc/evil 2>&1 | grep -c 'No such'").await;
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].parse::<u32>().is_ok_and(|n| n > 10), "{out}");
    assert_eq!(lines[1], "2", "nothing was written outside");

    let (s, v) = api
        .post(
            "/api/v1/workspaces/jail/terminals",
            json!({"cwd": "../..", "cols": 80, "rows": 24}),
        )
        .await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, "path_outside_workspace");
}

fn tar_gz(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut b = tar::Builder::new(gz);
    for (name, data) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        // Written raw so that hostile names (`../`) reach the server as is.
        let raw = h.as_old_mut();
        raw.name[..name.len()].copy_from_slice(name.as_bytes());
        h.set_cksum();
        b.append(&h, *data).expect("append");
    }
    b.into_inner().expect("tar").finish().expect("gz")
}

async fn post_bytes(ts: &TestServer, path: &str, ct: &str, body: Vec<u8>) -> (StatusCode, Value) {
    let resp = reqwest::Client::new()
        .post(format!("{}{path}", ts.url))
        .bearer_auth(&ts.admin)
        .header("content-type", ct)
        .body(body)
        .send()
        .await
        .expect("post");
    let s = resp.status();
    (s, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_downloads_and_archive_bombs() {
    let ts = TestServer::start_with(|c| {
        c.workspace_agent.max_archive_bytes = 2 * 1024 * 1024;
        c.workspace_agent.max_archive_entries = 100;
    })
    .await;
    let api = ts.admin_api();
    api.create_ws("up").await;

    // Several files in one multipart request.
    let boundary = "XaicockpitX";
    let mut body = Vec::new();
    for (name, content) in [("one.txt", "first"), ("two.txt", "second")] {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: text/plain\r\n\r\n{content}\r\n"
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    let (s, v) = post_bytes(
        &ts,
        "/api/v1/workspaces/up/files/upload?path=docs",
        &format!("multipart/form-data; boundary={boundary}"),
        body,
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["files"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        api.sh("up", "cat /workspace/docs/one.txt /workspace/docs/two.txt")
            .await
            .1,
        "firstsecond"
    );

    // An archive unpacks under the path.
    let (s, v) = post_bytes(
        &ts,
        "/api/v1/workspaces/up/files/upload?path=proj",
        "application/gzip",
        tar_gz(&[("src/main.rs", b"fn main() {}\n"), ("README", b"hi\n")]),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["files"], 2);
    assert_eq!(
        api.sh("up", "cat /workspace/proj/src/main.rs").await.1,
        "fn main() {}\n"
    );

    // Hostile entries are refused.
    let (s, v) = post_bytes(
        &ts,
        "/api/v1/workspaces/up/files/upload",
        "application/gzip",
        tar_gz(&[("../../evil", b"x")]),
    )
    .await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, "path_outside_workspace");
    assert_eq!(
        api.sh("up", "ls /evil 2>&1 | grep -c 'No such'").await.1,
        "1\n"
    );
    // A bomb: 3 MiB of zeros compresses to almost nothing but exceeds the limit.
    let zeros = vec![0u8; 3 * 1024 * 1024];
    let (s, v) = post_bytes(
        &ts,
        "/api/v1/workspaces/up/files/upload?path=bomb",
        "application/gzip",
        tar_gz(&[("z", &zeros)]),
    )
    .await;
    assert_error(s, &v, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    let many: Vec<(String, Vec<u8>)> = (0..150).map(|i| (format!("f{i}"), vec![b'x'])).collect();
    let refs: Vec<(&str, &[u8])> = many
        .iter()
        .map(|(n, d)| (n.as_str(), d.as_slice()))
        .collect();
    let (s, v) = post_bytes(
        &ts,
        "/api/v1/workspaces/up/files/upload?path=many",
        "application/gzip",
        tar_gz(&refs),
    )
    .await;
    assert_error(s, &v, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    let (s, v) = post_bytes(
        &ts,
        "/api/v1/workspaces/up/files/upload",
        "text/plain",
        b"x".to_vec(),
    )
    .await;
    assert_error(
        s,
        &v,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    );

    // Download a directory as .tar.gz and read it back.
    let resp = reqwest::Client::new()
        .get(format!(
            "{}/api/v1/workspaces/up/files/archive?path=proj",
            ts.url
        ))
        .bearer_auth(&ts.admin)
        .send()
        .await
        .expect("archive");
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers()["content-disposition"]
        .to_str()
        .unwrap_or("")
        .contains("proj.tar.gz"));
    let bytes = resp.bytes().await.expect("bytes");
    let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(&bytes[..]));
    let mut names: Vec<String> = ar
        .entries()
        .expect("entries")
        .filter_map(|e| {
            e.ok()
                .and_then(|e| e.path().ok().map(|p| p.to_string_lossy().into_owned()))
        })
        .collect();
    names.sort();
    assert!(names.contains(&"proj/src/main.rs".to_string()), "{names:?}");
    assert!(names.contains(&"proj/README".to_string()), "{names:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watching_and_searching() {
    let ts = TestServer::start().await;
    let api = ts.admin_api();
    api.create_ws("look").await;
    api.sh(
        "look",
        "mkdir -p /workspace/src /workspace/target && cd /workspace && printf 'target/\\n' > .gitignore && \
         printf 'fn needle() {}\\nlet Needle = 1;\\n' > src/lib.rs && echo needle > target/out.txt && \
         echo 'a needle here' > notes.md",
    )
    .await;

    // Watch: changes made in the terminal reach the stream.
    let resp = reqwest::Client::new()
        .get(format!(
            "{}/api/v1/workspaces/look/files/watch?path=",
            ts.url
        ))
        .bearer_auth(&ts.admin)
        .send()
        .await
        .expect("watch");
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let mut events = resp.bytes_stream();
    api.sh("look", "touch /workspace/src/fresh.rs").await;
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !seen.contains("src/fresh.rs") {
        let chunk = tokio::time::timeout_at(deadline, events.next())
            .await
            .unwrap_or_else(|_| panic!("no change event; saw {seen:?}"))
            .expect("open")
            .expect("chunk");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(seen.contains("event: changes"), "{seen}");
    assert!(seen.contains("\"kind\":\"created\""), "{seen}");

    let (s, r) = api.get("/api/v1/workspaces/look/search?q=needle").await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let hits: Vec<String> = r["matches"]
        .as_array()
        .expect("matches")
        .iter()
        .map(|m| format!("{}:{}", m["path"].as_str().unwrap_or(""), m["line"]))
        .collect();
    assert_eq!(
        hits,
        vec!["notes.md:1", "src/lib.rs:1", "src/lib.rs:2"],
        "gitignored target/ skipped"
    );
    let (_, r) = api
        .get("/api/v1/workspaces/look/search?q=needle&case=sensitive&globs=*.rs")
        .await;
    assert_eq!(r["matches"].as_array().map(Vec::len), Some(1));
    let (_, r) = api
        .get("/api/v1/workspaces/look/search?q=ne%2Bdle&regex=true&include_ignored=true")
        .await;
    assert_eq!(r["matches"].as_array().map(Vec::len), Some(4), "{r}");
    let (s, v) = api
        .get("/api/v1/workspaces/look/search?q=(&regex=true")
        .await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, "invalid_request");
    let (s, v) = api
        .get("/api/v1/workspaces/look/search?q=x&case=loud")
        .await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, "invalid_query");
    let (s, files) = api.get("/api/v1/workspaces/look/search/files?q=lib").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(files[0], "src/lib.rs", "{files}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newer_server_replaces_the_agent_and_checks_its_version() {
    // Server A with the agent as built.
    let ts = TestServer::start().await;
    let api = ts.admin_api();
    api.create_ws("upgrade").await;
    let tid = open_terminal(&api, "upgrade").await;
    let hash_a = ts
        .state
        .workspaces
        .workspace_agents()
        .binary()
        .expect("agent binary")
        .hash
        .clone();
    let (_, ls, _) = api.sh("upgrade", "ls /.aicockpit").await;
    assert_eq!(ls.trim(), format!("workspace-agent-{hash_a}"));
    // The agent runs as the workspace user, never root.
    let (_, users, _) = api
        .sh(
            "upgrade",
            "ps -eo user:20,args | grep '[a]icockpit/workspace-agent' | cut -d' ' -f1 | sort -u",
        )
        .await;
    assert_eq!(users.trim(), "dev", "{users}");
    let data_dir = ts.data_dir.clone();
    let admin = ts.admin.clone();
    let original = ts
        .state
        .workspaces
        .workspace_agents()
        .binary()
        .expect("bin")
        .bytes
        .clone();
    let _kept = ts.stop_keeping_containers().await;

    // Server B on the same data, with a different agent build (same code,
    // different bytes, so a different identity).
    let dir = tempfile::tempdir().expect("tempdir");
    let newer = dir.path().join("aicockpit-workspace-agent");
    let mut bytes = original.to_vec();
    bytes.extend_from_slice(b"\0newer-build");
    std::fs::write(&newer, &bytes).expect("write");
    let ts2 = TestServer::start_with(|c| {
        c.server.data_dir = Some(data_dir.clone());
        c.workspace_agent.binary = Some(newer.clone());
    })
    .await;
    let api2 = ts2.api(&admin);
    let hash_b = ts2
        .state
        .workspaces
        .workspace_agents()
        .binary()
        .expect("bin")
        .hash
        .clone();
    assert_ne!(hash_a, hash_b);
    // The first agent request places the new agent beside the old one...
    let (s, _) = api2.get("/api/v1/workspaces/upgrade/files?path=").await;
    assert_eq!(s, StatusCode::OK);
    let (_, ls, _) = api2.sh("upgrade", "ls /.aicockpit | sort").await;
    let mut want = vec![
        format!("workspace-agent-{hash_a}"),
        format!("workspace-agent-{hash_b}"),
    ];
    want.sort();
    assert_eq!(ls.lines().map(str::to_owned).collect::<Vec<_>>(), want);
    // ...and it is a fresh daemon: the old one's terminals are not its own.
    let (_, list) = api2.get("/api/v1/workspaces/upgrade/terminals").await;
    assert!(
        !list.to_string().contains(&format!("\"{tid}\""))
            || list.as_array().is_some_and(|l| l.is_empty()),
        "{list}"
    );
    let t2 = open_terminal(&api2, "upgrade").await;
    assert!(!t2.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn big_listings_are_paged_and_big_searches_cut_never_a_lost_link() {
    let ts = TestServer::start().await;
    let api = ts.admin_api();
    api.create_ws("bigdir").await;
    // 6,000 entries with 200-byte names: a listing of ~2 MB, more than one
    // frame carries; and a file whose 20,000 long lines all match.
    let (code, _, err) = api
        .sh("bigdir", "mkdir -p /workspace/big && cd /workspace/big && i=0; while [ $i -lt 6000 ]; do : > \"$(printf '%0200d' $i)\"; i=$((i+1)); done; \
             yes \"needle $(printf '%0180d' 0)\" | head -n 20000 > /workspace/hay.txt")
        .await;
    assert_eq!(code, 0, "{err}");
    let client = reqwest::Client::new();
    let mut names = std::collections::BTreeSet::new();
    let mut next = Some(format!(
        "{}/api/v1/workspaces/bigdir/files?path=big",
        ts.url
    ));
    let mut pages = 0;
    while let Some(url) = next.take() {
        let r = client
            .get(&url)
            .bearer_auth(&ts.admin)
            .send()
            .await
            .expect("page");
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(
            r.headers()
                .get("x-total-count")
                .and_then(|v| v.to_str().ok()),
            Some("6000")
        );
        next = r
            .headers()
            .get("link")
            .and_then(|v| v.to_str().ok())
            .and_then(|l| l.strip_prefix('<'))
            .and_then(|l| l.split_once('>'))
            .map(|(u, _)| format!("{}{u}", ts.url));
        let page: Vec<Value> = r.json().await.expect("entries");
        assert!(!page.is_empty() && page.len() <= 1000, "{}", page.len());
        names.extend(
            page.iter()
                .filter_map(|e| e["name"].as_str().map(str::to_owned)),
        );
        pages += 1;
        assert!(pages <= 10, "the pages end");
    }
    assert_eq!(names.len(), 6000, "every entry once, over {pages} pages");
    // A page may be asked for directly, and past the end is empty.
    let (s, v) = api
        .get("/api/v1/workspaces/bigdir/files?path=big&offset=5990&limit=50")
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v.as_array().map(Vec::len), Some(10));
    let (s, v) = api
        .get("/api/v1/workspaces/bigdir/files?path=big&offset=7000")
        .await;
    assert_eq!((s, v), (StatusCode::OK, json!([])));
    // 10,000 matches of ~250 bytes would not fit one reply: cut, flagged.
    let (s, v) = api
        .get("/api/v1/workspaces/bigdir/search?q=needle&max=10000")
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["truncated"], true);
    let n = v["matches"].as_array().map(Vec::len).unwrap_or(0);
    assert!(n > 1000 && n < 10_000, "{n} matches");
    // The link survived all of it: the same connection still answers.
    let (s, v) = api.get("/api/v1/workspaces/bigdir/files?path=").await;
    assert_eq!(s, StatusCode::OK, "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_reader_does_not_stall_the_workspace_link() {
    let ts = TestServer::start().await;
    let api = ts.admin_api();
    api.create_ws("slowread").await;
    let (code, _, err) = api
        .sh(
            "slowread",
            "head -c 60000000 /dev/urandom > /workspace/big.bin && echo hi > /workspace/small.txt",
        )
        .await;
    assert_eq!(code, 0, "{err}");
    let (_, sum, _) = api
        .sh("slowread", "sha256sum /workspace/big.bin | cut -c1-64")
        .await;
    // A download whose client reads nothing: its channel backs up.
    let stalled = reqwest::Client::new()
        .get(format!(
            "{}/api/v1/workspaces/slowread/files/content?path=big.bin",
            ts.url
        ))
        .bearer_auth(&ts.admin)
        .send()
        .await
        .expect("download starts");
    assert_eq!(stalled.status(), StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Everyone else on the same link still gets answers.
    for _ in 0..3 {
        let small = tokio::time::timeout(
            Duration::from_secs(10),
            reqwest::Client::new()
                .get(format!(
                    "{}/api/v1/workspaces/slowread/files/content?path=small.txt",
                    ts.url
                ))
                .bearer_auth(&ts.admin)
                .send(),
        )
        .await
        .expect("a small read is not stuck behind the stalled download")
        .expect("small read");
        assert_eq!(small.text().await.expect("body"), "hi\n");
    }
    // The stalled stream was paced, not cut: read late, it is all there
    // (60 MB, more than the server would ever queue for one reader).
    let body = stalled.bytes().await.expect("the whole download");
    assert_eq!(body.len(), 60_000_000);
    use sha2::Digest as _;
    let got: String = sha2::Sha256::digest(&body)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(got, sum.trim());
}

/// A zip archive; `link` entries become symlinks to their data.
pub fn zip_of(entries: &[(&str, &[u8])], links: &[(&str, &str)]) -> Vec<u8> {
    use std::io::Write;
    use zip::write::SimpleFileOptions;
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, data) in entries {
        if name.ends_with('/') {
            w.add_directory(*name, opts).expect("dir");
        } else {
            w.start_file(*name, opts).expect("file");
            w.write_all(data).expect("data");
        }
    }
    for (name, target) in links {
        w.add_symlink(*name, *target, opts).expect("link");
    }
    w.finish().expect("zip").into_inner()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zip_archives_unpack_and_hostile_ones_are_refused() {
    let ts = TestServer::start_with(|c| {
        c.workspace_agent.max_archive_bytes = 2 * 1024 * 1024;
        c.workspace_agent.max_archive_entries = 100;
    })
    .await;
    let api = ts.admin_api();
    api.create_ws("zips").await;
    let good = zip_of(
        &[
            ("proj/", b""),
            ("proj/src/main.rs", b"fn main() {}\n"),
            ("proj/README", b"hi\n"),
        ],
        &[],
    );
    let (s, v) = post_bytes(
        &ts,
        "/api/v1/workspaces/zips/files/upload?path=z",
        "application/zip",
        good,
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["files"], 3, "{v}");
    assert_eq!(
        api.sh(
            "zips",
            "cat /workspace/z/proj/src/main.rs /workspace/z/proj/README"
        )
        .await
        .1,
        "fn main() {}\nhi\n"
    );

    let zeros = vec![0u8; 3 * 1024 * 1024];
    let many: Vec<(String, Vec<u8>)> = (0..150).map(|i| (format!("f{i}"), vec![b'x'])).collect();
    let many: Vec<(&str, &[u8])> = many
        .iter()
        .map(|(n, d)| (n.as_str(), d.as_slice()))
        .collect();
    // (archive, status, code): nothing of these may land.
    let hostile: Vec<(&str, Vec<u8>, StatusCode, &str)> = vec![
        (
            "zip slip",
            zip_of(&[("../../evil", b"x")], &[]),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "symlink out",
            zip_of(&[], &[("link", "/etc/passwd")]),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "bomb",
            zip_of(&[("z", &zeros)], &[]),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
        (
            "too many entries",
            zip_of(&many, &[]),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
        (
            "truncated",
            zip_of(&[("a", b"abc")], &[])[..20].to_vec(),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
    ];
    for (what, body, status, code) in hostile {
        let (s, v) = post_bytes(
            &ts,
            "/api/v1/workspaces/zips/files/upload?path=h",
            "application/zip",
            body,
        )
        .await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (status, Some(code)),
            "{what}: {v}"
        );
    }
    let (_, out, _) = api
        .sh(
            "zips",
            "ls /evil /workspace/evil /workspace/h/link 2>/dev/null | wc -l",
        )
        .await;
    assert_eq!(out.trim(), "0", "nothing hostile landed");
    // An absolute name lands under the destination, as tar's do.
    let abs = zip_of(&[("/etc/evil", b"x")], &[]);
    let (s, v) = post_bytes(
        &ts,
        "/api/v1/workspaces/zips/files/upload?path=abs",
        "application/zip",
        abs,
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (_, out, _) = api
        .sh(
            "zips",
            "cat /workspace/abs/etc/evil; test -e /etc/evil && echo ESCAPED",
        )
        .await;
    assert_eq!(out, "x");
    // What the bomb began is not left half-written.
    let (_, out, _) = api
        .sh("zips", "test -e /workspace/h/z && echo left || echo gone")
        .await;
    assert_eq!(out.trim(), "gone");
}
