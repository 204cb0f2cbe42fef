//! The previews' reverse proxy: one HTTP/1.1 connection per request to the
//! workspace's port, carried by the workspace agent's tunnel. Bodies stream
//! both ways without buffering (Server-Sent Events, long downloads), and an
//! upgrade (WebSocket) becomes a byte pipe between browser and port.

use aicockpit_core::ports::Tunnel;
use aicockpit_core::previews::PreviewConnection;
use aicockpit_core::workspace_agent::ChannelMsg;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use hyper_util::rt::TokioIo;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How long the port may take to send a response's head.
const RESPONSE_HEAD: Duration = Duration::from_secs(60);

/// Headers that describe one hop, never forwarded (RFC 9110 §7.6.1);
/// `connection`/`upgrade` are put back for upgrades.
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "upgrade",
];

/// What the request looks like to the port.
pub(crate) struct Forward {
    /// Path and query as the port sees them.
    pub uri: Uri,
    /// `X-Forwarded-Host` / `-Proto` / `-Prefix` (path mode).
    pub host: String,
    pub proto: &'static str,
    pub prefix: Option<String>,
    pub client: Option<std::net::IpAddr>,
    /// The cookie of ours to take out of `Cookie`.
    pub strip_cookie: &'static [&'static str],
    /// Take `Authorization` out (it carried our token).
    pub strip_authorization: bool,
    /// Path mode: on the app's own origin, so no cookies either way (they
    /// would be the app origin's, shared by every path-mode port) and no
    /// `Clear-Site-Data` (it would clear the app's storage).
    pub path_mode: bool,
}

/// Asks again whether the viewer may still use the preview (a long-lived
/// WebSocket outlives the check made when it opened).
pub(crate) type Recheck =
    std::sync::Arc<dyn Fn() -> futures_util::future::BoxFuture<'static, bool> + Send + Sync>;

/// How often an open upgraded connection is checked again.
const RECHECK_EVERY: Duration = Duration::from_secs(5);

/// A workspace port, as the pool of kept-alive connections knows it.
pub(crate) type PortKey = (String, u16);

type Sender = hyper::client::conn::http1::SendRequest<Body>;

/// Connections to ports kept alive between requests (a page load is dozens
/// of them; each new one costs a round trip through the workspace agent).
/// Bounded per port and in age; a connection still busy is never handed out.
type IdleMap = HashMap<PortKey, Vec<(Sender, Instant)>>;
static IDLE: std::sync::OnceLock<std::sync::Mutex<IdleMap>> = std::sync::OnceLock::new();
const IDLE_PER_PORT: usize = 8;
const IDLE_FOR: Duration = Duration::from_secs(30);

fn idle() -> std::sync::MutexGuard<'static, IdleMap> {
    IDLE.get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

/// A kept-alive connection to `key` ready for a request, if there is one.
pub(crate) fn pooled(key: &PortKey) -> Option<Sender> {
    let mut m = idle();
    let list = m.get_mut(key)?;
    while let Some((sender, at)) = list.pop() {
        if at.elapsed() < IDLE_FOR && sender.is_ready() && !sender.is_closed() {
            return Some(sender);
        }
    }
    m.remove(key);
    None
}

fn keep(key: PortKey, sender: Sender) {
    if sender.is_closed() {
        return;
    }
    let mut m = idle();
    m.retain(|_, l| {
        l.retain(|(s, at)| at.elapsed() < IDLE_FOR && !s.is_closed());
        !l.is_empty()
    });
    let list = m.entry(key).or_default();
    if list.len() < IDLE_PER_PORT {
        list.push((sender, Instant::now()));
    }
}

/// Sends `req` to the port over a new connection `conn` (whose place among
/// the workspace's lasts as long as the connection, upgrades included).
pub(crate) async fn forward(
    conn: PreviewConnection,
    key: PortKey,
    mut req: Request,
    f: Forward,
    recheck: Recheck,
) -> Response {
    let upgrade = wants_upgrade(req.headers());
    let client_upgrade = upgrade.then(|| hyper::upgrade::on(&mut req));
    let io = TokioIo::new(pipe(conn.tunnel, conn.permit));
    let (sender, conn) = match hyper::client::conn::http1::Builder::new()
        .handshake::<_, Body>(io)
        .await
    {
        Ok(x) => x,
        Err(e) => return bad_gateway(&format!("cannot speak HTTP to the port: {e}")),
    };
    tokio::spawn(async move {
        let _ = conn.with_upgrades().await;
    });
    send(sender, key, req, f, client_upgrade.map(|u| (u, recheck))).await
}

/// Sends `req` on `sender` (a new or a kept-alive connection to the port);
/// a plain exchange's connection goes back to the pool for the next one.
pub(crate) async fn send(
    mut sender: Sender,
    key: PortKey,
    req: Request,
    f: Forward,
    client_upgrade: Option<(hyper::upgrade::OnUpgrade, Recheck)>,
) -> Response {
    let upgrade = client_upgrade.is_some();
    let (mut parts, body) = req.into_parts();
    parts.uri = f.uri.clone();
    rewrite_request_headers(&mut parts.headers, &f, upgrade);
    let upstream = Request::from_parts(parts, body);
    let mut resp = match tokio::time::timeout(RESPONSE_HEAD, sender.send_request(upstream)).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => return bad_gateway(&format!("the port did not answer with HTTP: {e}")),
        Err(_) => return bad_gateway("the port sent no response within 60 s"),
    };
    let switching = resp.status() == StatusCode::SWITCHING_PROTOCOLS;
    match (switching, client_upgrade) {
        (true, Some((client_upgrade, recheck))) => {
            let port_upgrade = hyper::upgrade::on(&mut resp);
            tokio::spawn(async move {
                if let (Ok(client), Ok(port)) = (client_upgrade.await, port_upgrade.await) {
                    let mut client = TokioIo::new(client);
                    let mut port = TokioIo::new(port);
                    // Ends when either side does, or when the viewer may no
                    // longer open the preview (share level lowered, session
                    // ended, user or owner disabled).
                    let revoked = async {
                        loop {
                            tokio::time::sleep(RECHECK_EVERY).await;
                            if !recheck().await {
                                break;
                            }
                        }
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut port) => {}
                        _ = revoked => {}
                    }
                }
            });
        }
        // Ready again once this response's body is read; until then
        // `pooled` passes it over.
        (false, None) => keep(key, sender),
        _ => {}
    }
    let (mut parts, body) = resp.into_parts();
    strip_hop_by_hop(&mut parts.headers, switching);
    if f.path_mode {
        parts.headers.remove(header::SET_COOKIE);
        parts.headers.remove("clear-site-data");
    }
    Response::from_parts(parts, Body::new(body))
}

/// Whether the request asks to switch protocols (a WebSocket).
pub(crate) fn is_upgrade(req: &Request) -> bool {
    wants_upgrade(req.headers())
}

fn wants_upgrade(h: &HeaderMap) -> bool {
    h.get(header::UPGRADE).is_some()
        && h.get_all(header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| {
                v.split(',')
                    .any(|t| t.trim().eq_ignore_ascii_case("upgrade"))
            })
}

/// Removes hop-by-hop headers (and those `Connection` names); for an
/// upgrade keeps `Connection: upgrade` and `Upgrade`.
fn strip_hop_by_hop(h: &mut HeaderMap, upgrade: bool) {
    let named: Vec<HeaderName> = h
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|t| HeaderName::try_from(t.trim()).ok())
        .collect();
    let upgrade_value = h.get(header::UPGRADE).cloned();
    for n in named {
        h.remove(n);
    }
    for n in HOP_BY_HOP {
        h.remove(n);
    }
    if let (true, Some(u)) = (upgrade, upgrade_value) {
        h.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        h.insert(header::UPGRADE, u);
    }
}

fn rewrite_request_headers(h: &mut HeaderMap, f: &Forward, upgrade: bool) {
    strip_hop_by_hop(h, upgrade);
    let ours = h
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start_matches("Bearer ")
                .trim()
                .starts_with(aicockpit_core::auth::TOKEN_PREFIX)
        });
    if f.strip_authorization || ours {
        h.remove(header::AUTHORIZATION);
    }
    if f.path_mode {
        h.remove(header::COOKIE);
    } else {
        strip_cookie(h, f.strip_cookie);
    }
    // Only what this proxy says about the client counts.
    h.remove(header::FORWARDED);
    h.remove("x-real-ip");
    let set = |h: &mut HeaderMap, name: &'static str, v: &str| {
        if let Ok(v) = HeaderValue::from_str(v) {
            h.insert(name, v);
        }
    };
    set(h, "x-forwarded-host", &f.host);
    set(h, "x-forwarded-proto", f.proto);
    if let Some(ip) = f.client {
        set(h, "x-forwarded-for", &ip.to_string());
    }
    match &f.prefix {
        Some(p) => set(h, "x-forwarded-prefix", p),
        None => {
            h.remove("x-forwarded-prefix");
        }
    }
}

/// Takes the cookies `names` out of every `Cookie` header: the port never
/// sees the preview session.
pub(crate) fn strip_cookie(h: &mut HeaderMap, names: &[&str]) {
    let kept: Vec<String> = h
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .map(str::trim)
        .filter(|c| {
            !c.is_empty()
                && !c
                    .split('=')
                    .next()
                    .map(str::trim)
                    .is_some_and(|n| names.contains(&n))
        })
        .map(str::to_owned)
        .collect();
    h.remove(header::COOKIE);
    if !kept.is_empty() {
        if let Ok(v) = HeaderValue::from_str(&kept.join("; ")) {
            h.insert(header::COOKIE, v);
        }
    }
}

/// Every value of cookie `name` in the request's `Cookie` headers (a
/// sibling origin may have set one of the same name to shadow ours).
pub(crate) fn cookies<'a>(h: &'a HeaderMap, name: &str) -> Vec<&'a str> {
    h.get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .filter(|(k, _)| k.trim() == name)
        .map(|(_, v)| v.trim())
        .take(8)
        .collect()
}

/// The tunnel as a byte stream: a duplex pipe whose far end one task
/// moves to and from the agent's channel (whose credits pace both ways).
/// hyper dropping its end (the exchange is over) ends the connection.
fn pipe(mut tunnel: Tunnel, permit: tokio::sync::OwnedSemaphorePermit) -> tokio::io::DuplexStream {
    let (near, far) = tokio::io::duplex(64 * 1024);
    tokio::spawn(async move {
        let _permit = permit;
        let (mut rd, mut wr) = tokio::io::split(far);
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            tokio::select! {
                n = rd.read(&mut buf) => match n {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if tunnel.send(Bytes::copy_from_slice(&buf[..n])).await.is_err() {
                            break;
                        }
                    }
                },
                msg = tunnel.incoming.recv() => match msg {
                    Some(ChannelMsg::Data(b)) => {
                        if wr.write_all(&b).await.is_err() {
                            break;
                        }
                    }
                    Some(ChannelMsg::Event(_)) => {}
                    None => break,
                },
            }
        }
        let _ = wr.shutdown().await;
        tunnel.close();
    });
    near
}

fn bad_gateway(why: &str) -> Response {
    (
        StatusCode::BAD_GATEWAY,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("AiCockpit preview: {why}\n"),
    )
        .into_response()
}
