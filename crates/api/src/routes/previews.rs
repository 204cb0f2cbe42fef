//! Web previews of workspace ports.
//!
//! - Subdomain mode (`PORT--WS--OWNER.<base domain>`): each preview is an
//!   origin of its own. A browser without a session there is sent to the
//!   main app (`/preview?host=…`), which asks `POST /previews/authorize`
//!   for a one-minute ticket and sends the browser back to
//!   `/__aicockpit/auth?ticket=…` on the preview's origin; that sets an
//!   HttpOnly cookie for that host alone. The port never sees it.
//! - Path mode (`/w/{ws}/ports/{port}/…`) shares the main app's origin,
//!   where the user's token lives: its responses are sandboxed (an opaque
//!   origin, so the page's scripts cannot read the app's storage) and it
//!   serves public ports to browsers, and any port the caller may open to
//!   clients that send a token.

use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath, Auth};
use crate::proxy::{self, Forward};
use crate::AppState;
use aicockpit_core::access::Action;
use aicockpit_core::auth::Principal;
use aicockpit_core::previews::{label_for, Resolved, ShareLevel, Target};
use aicockpit_core::CoreError;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};

/// The preview session cookie (host-only, HttpOnly).
const COOKIE: &str = "aicockpit_preview";
/// The session of a preview shown in the IDE's panel (an iframe of
/// another site, where a `SameSite=Lax` cookie is not sent):
/// `SameSite=None` but `Partitioned`, so the browser keeps it only under
/// the app as top-level site — a page of any other site framing the
/// preview has none.
const FRAME_COOKIE: &str = "aicockpit_preview_frame";
/// Cookies the port never sees.
const OUR_COOKIES: &[&str] = &[COOKIE, FRAME_COOKIE];
/// Where the preview origin takes a ticket.
const AUTH_PATH: &str = "/__aicockpit/auth";

fn host_of(h: &HeaderMap) -> Option<&str> {
    h.get(header::HOST).and_then(|v| v.to_str().ok())
}

fn proto_of(h: &HeaderMap) -> &'static str {
    match h.get("x-forwarded-proto").and_then(|v| v.to_str().ok()) {
        Some("https") => "https",
        _ => "http",
    }
}

fn client_ip(req: &Request) -> Option<std::net::IpAddr> {
    req.extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip())
}

/// A short page for browsers (previews are opened by people).
fn page(status: StatusCode, text: &str) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        format!("AiCockpit preview: {text}\n"),
    )
        .into_response()
}

/// A path to return to after logging in: only a local path (no scheme, no
/// `//host`), or `/`.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.contains('\\')
                && !n.chars().any(char::is_control)
                && n.len() <= 2048 =>
        {
            n.to_owned()
        }
        _ => "/".to_owned(),
    }
}

/// Whether the browser sent this request from the preview's own origin, or
/// as a top-level GET navigation (a link, the address bar). Other previews
/// are same-site with this one under a shared base domain, so their pages'
/// requests, forms and WebSockets would otherwise carry the viewer's
/// session cookie. Clients that are not browsers send neither header.
fn own_or_navigation(req: &Request, host: &str, proto: &str) -> bool {
    let get = |n: &str| header_str(req, n);
    if !origin_is_own(req, host, proto) {
        return false;
    }
    match get("sec-fetch-site") {
        None | Some("same-origin") | Some("none") => true,
        Some(_) => {
            matches!(*req.method(), Method::GET | Method::HEAD)
                && get("sec-fetch-mode") == Some("navigate")
                && get("sec-fetch-dest") == Some("document")
        }
    }
}

/// Whether the browser says the request comes from the preview's own
/// origin (a missing header is no).
fn same_origin(req: &Request, host: &str, proto: &str) -> bool {
    origin_is_own(req, host, proto) && header_str(req, "sec-fetch-site") == Some("same-origin")
}

/// No `Origin`, or the preview's own.
fn origin_is_own(req: &Request, host: &str, proto: &str) -> bool {
    header_str(req, "origin").is_none_or(|o| o.eq_ignore_ascii_case(&format!("{proto}://{host}")))
}

fn header_str<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

/// Sends requests whose `Host` names a preview to it, the rest on.
pub(crate) async fn dispatch(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let target = host_of(req.headers()).and_then(|h| s.previews.target_of_host(h));
    match target {
        Some(t) => subdomain(&s, t, req).await,
        None => next.run(req).await,
    }
}

/// Every answer on a preview's origin may be framed only by itself and
/// the app (the IDE's panel) — pages of ours included. Appended: the
/// port's own policy still applies too.
async fn subdomain(s: &AppState, target: Target, req: Request) -> Response {
    let host = host_of(req.headers())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let app = origin_of(&app_url(s, &host, proto_of(req.headers())));
    let mut resp = subdomain_answer(s, target, req).await;
    let policy = HeaderValue::from_str(&format!("frame-ancestors 'self' {app}"))
        .unwrap_or(HeaderValue::from_static("frame-ancestors 'self'"));
    resp.headers_mut()
        .append(header::CONTENT_SECURITY_POLICY, policy);
    resp
}

async fn subdomain_answer(s: &AppState, target: Target, req: Request) -> Response {
    let host = host_of(req.headers())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let proto = proto_of(req.headers());
    let cookies = proxy::cookies(req.headers(), COOKIE);
    let frame_cookies = proxy::cookies(req.headers(), FRAME_COOKIE);
    let resolved = match s.previews.resolve(&target).await {
        Ok(r) => r,
        // Without a session, whether it exists is not told.
        Err(_)
            if cookies.is_empty() && frame_cookies.is_empty() && req.uri().path() != AUTH_PATH =>
        {
            return to_login(s, &host, &req)
        }
        Err(_) => return page(StatusCode::NOT_FOUND, "no such preview"),
    };
    if req.uri().path() == AUTH_PATH {
        return take_ticket(s, &host, &resolved, req.uri(), proto).await;
    }
    let mut viewer = None;
    let mut viewer_cookie: Option<String> = None;
    // The tab's session counts for the preview's own requests and page
    // navigations; the panel's only for the preview's own requests, said
    // by the browser (`Sec-Fetch-Site: same-origin`): it is `SameSite=None`,
    // so any other page under the app's site — another preview in the
    // panel — would otherwise send it.
    let mut usable: Vec<&str> = Vec::new();
    if own_or_navigation(&req, &host, proto) {
        usable.extend(&cookies);
    }
    if same_origin(&req, &host, proto) {
        usable.extend(&frame_cookies);
    }
    {
        for c in usable {
            if let Some(p) = s.previews.session(c, &host).await {
                viewer = Some(p);
                viewer_cookie = Some(c.to_owned());
                break;
            }
        }
    }
    match s.previews.check(&resolved, viewer.as_ref()).await {
        Ok(()) => {}
        Err(CoreError::Unauthenticated(_)) => return to_login(s, &host, &req),
        Err(CoreError::NotFound(_)) => return page(StatusCode::NOT_FOUND, "no such preview"),
        Err(e) => return ApiError::from(e).into_response(),
    }
    let uri = req
        .uri()
        .path_and_query()
        .map_or_else(|| "/".to_owned(), |pq| pq.as_str().to_owned());
    let f = Forward {
        uri: uri.parse().unwrap_or_else(|_| Uri::from_static("/")),
        host: host.clone(),
        proto,
        prefix: None,
        client: client_ip(&req),
        strip_cookie: OUR_COOKIES,
        // Our tokens never reach a port (an app's own Authorization does).
        strip_authorization: false,
        path_mode: false,
    };
    // The same decision, made again while an upgraded connection lasts.
    let cred = match viewer_cookie {
        Some(cookie) => Credential::Session { cookie, host },
        None => Credential::None,
    };
    let recheck = recheck(s, &resolved, cred);
    connect_and_forward(s, &resolved, req, f, false, recheck).await
}

/// `scheme://host[:port]` of a URL.
fn origin_of(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => format!("{scheme}://{}", rest.split('/').next().unwrap_or(rest)),
        None => url.to_owned(),
    }
}

/// What a preview request was opened with, to be checked again later.
#[derive(Clone)]
enum Credential {
    None,
    Session { cookie: String, host: String },
    Token(String),
}

/// The same decision as when the connection opened, made again while an
/// upgraded connection lasts: false once the credential no longer holds or
/// the viewer may no longer open `r`.
fn recheck(s: &AppState, r: &Resolved, cred: Credential) -> proxy::Recheck {
    let (previews, auth, r) = (s.previews.clone(), s.auth.clone(), r.clone());
    std::sync::Arc::new(move || {
        let (previews, auth, r, cred) = (previews.clone(), auth.clone(), r.clone(), cred.clone());
        Box::pin(async move {
            let viewer = match &cred {
                Credential::None => None,
                Credential::Session { cookie, host } => {
                    match previews.session(cookie, host).await {
                        Some(p) => Some(p),
                        None => return false,
                    }
                }
                Credential::Token(t) => match auth.authenticate(t).await {
                    Ok(p) => Some(p),
                    Err(_) => return false,
                },
            };
            previews.check(&r, viewer.as_ref()).await.is_ok()
        })
    })
}

/// `/__aicockpit/auth?ticket=…&next=…` on the preview's origin.
async fn take_ticket(s: &AppState, host: &str, r: &Resolved, uri: &Uri, proto: &str) -> Response {
    #[derive(Deserialize)]
    struct Q {
        ticket: String,
        next: Option<String>,
        /// For the IDE's panel (see [`FRAME_COOKIE`]).
        frame: Option<String>,
    }
    let Ok(q) = serde_urlencoded::from_str::<Q>(uri.query().unwrap_or_default()) else {
        return page(StatusCode::BAD_REQUEST, "the link is incomplete");
    };
    let Some(p) = s.previews.redeem_ticket(&q.ticket, host).await else {
        return page(
            StatusCode::UNAUTHORIZED,
            "this link was used or has expired; open the preview again from AiCockpit",
        );
    };
    if let Err(e) = s.previews.check(r, Some(&p)).await {
        return match e {
            CoreError::NotFound(_) => page(StatusCode::NOT_FOUND, "no such preview"),
            e => ApiError::from(e).into_response(),
        };
    }
    let session = s.previews.open_session(&p, host, r).await;
    let next = safe_next(q.next.as_deref());
    let framed = q.frame.as_deref() == Some("1");
    let (cookie, mut resp) = if framed {
        // Browsers take Secure cookies from http://localhost and its
        // subdomains too; elsewhere a panel needs https. The frame moves
        // on from a page of this origin, so that its first request with
        // the cookie is same-origin too.
        (
            format!(
                "{FRAME_COOKIE}={session}; Path=/; HttpOnly; Secure; SameSite=None; Partitioned"
            ),
            moving_on(&next),
        )
    } else {
        let secure = if proto == "https" { "; Secure" } else { "" };
        let mut r = StatusCode::FOUND.into_response();
        if let Ok(l) = HeaderValue::from_str(&next) {
            r.headers_mut().insert(header::LOCATION, l);
        }
        (
            format!("{COOKIE}={session}; Path=/; HttpOnly; SameSite=Lax{secure}"),
            r,
        )
    };
    let h = resp.headers_mut();
    if let Ok(c) = HeaderValue::from_str(&cookie) {
        h.insert(header::SET_COOKIE, c);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// A page that goes on to `next` (a local path) by itself — by script,
/// which a sandboxed frame allows where it blocks a meta refresh.
fn moving_on(next: &str) -> Response {
    // A JSON string with `<` escaped cannot end the script element.
    let target = serde_json::to_string(next)
        .unwrap_or_else(|_| "\"/\"".to_owned())
        .replace('<', "\\u003c");
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        format!(
            "<!doctype html><title>Opening the preview</title><script>location.replace({target})</script>"
        ),
    )
        .into_response()
}

/// A browser without a session goes to the main app to log in; other
/// clients are told.
fn to_login(s: &AppState, host: &str, req: &Request) -> Response {
    if !matches!(*req.method(), Method::GET | Method::HEAD) {
        return page(StatusCode::UNAUTHORIZED, "log in to open this preview");
    }
    let app = app_url(s, host, proto_of(req.headers()));
    let next = req.uri().path_and_query().map_or("/", |pq| pq.as_str());
    let q = serde_urlencoded::to_string([("host", host), ("next", next)]).unwrap_or_default();
    let mut resp = StatusCode::FOUND.into_response();
    if let Ok(l) = HeaderValue::from_str(&format!("{app}/preview?{q}")) {
        resp.headers_mut().insert(header::LOCATION, l);
    }
    resp
}

/// The main app's address, seen from a preview host: configured, or the
/// host without its first label.
fn app_url(s: &AppState, host: &str, proto: &str) -> String {
    if let Some(u) = &s.previews.config().app_url {
        return u.trim_end_matches('/').to_owned();
    }
    let rest = host.split_once('.').map_or(host, |(_, r)| r);
    format!("{proto}://{rest}")
}

async fn connect_and_forward(
    s: &AppState,
    r: &Resolved,
    req: Request,
    f: Forward,
    sandbox: bool,
    recheck: proxy::Recheck,
) -> Response {
    let key = (r.workspace_id.clone(), r.port);
    if !proxy::is_upgrade(&req) {
        if let Some(sender) = proxy::pooled(&key) {
            // (Its bytes count as activity as they pass the tunnel.)
            let resp = proxy::send(sender, key, req, f, None).await;
            return sandboxed(resp, sandbox);
        }
    }
    let conn = match s.previews.connect(r).await {
        Ok(c) => c,
        Err(e @ CoreError::TooManyRequests { .. }) => return ApiError::from(e).into_response(),
        Err(CoreError::Conflict { .. }) => {
            return page(
                StatusCode::CONFLICT,
                "the workspace is not running; start it first",
            )
        }
        Err(e) => {
            tracing::debug!(error = %e, port = r.port, "preview: cannot connect");
            return page(
                StatusCode::BAD_GATEWAY,
                &format!("nothing answers on port {} in the workspace", r.port),
            );
        }
    };
    let resp = proxy::forward(conn, key, req, f, recheck).await;
    sandboxed(resp, sandbox)
}

/// Path-mode responses get an opaque origin.
fn sandboxed(mut resp: Response, sandbox: bool) -> Response {
    if sandbox {
        // An opaque origin: scripts run, but cannot reach the app's
        // storage on this origin.
        // Appended: the app's own policy still applies too.
        resp.headers_mut().append(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "sandbox allow-scripts allow-forms allow-popups allow-modals allow-downloads",
            ),
        );
    }
    resp
}

/// Path mode: `/w/{ws}/ports/{port}/{*rest}`.
pub(crate) async fn path_mode(
    State(s): State<AppState>,
    axum::extract::Path(params): axum::extract::Path<Vec<(String, String)>>,
    req: Request,
) -> Response {
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let (Some(ws), Some(port)) = (get("ws"), get("port")) else {
        return page(StatusCode::NOT_FOUND, "no such preview");
    };
    let Ok(port) = port.parse::<u16>() else {
        return page(StatusCode::BAD_REQUEST, "ports are 1-65535");
    };
    let rest = get("rest").unwrap_or_default();
    let prefix = format!("/w/{ws}/ports/{port}");
    if rest.is_empty() && !req.uri().path().ends_with('/') {
        // Relative links resolve against the directory.
        let mut resp = StatusCode::MOVED_PERMANENTLY.into_response();
        if let Ok(l) = HeaderValue::from_str(&format!("{prefix}/")) {
            resp.headers_mut().insert(header::LOCATION, l);
        }
        return resp;
    }
    // A token in `Authorization` (scripts, curl) may open what its user may;
    // browsers navigating here send none, and get public ports only.
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .map(str::to_owned);
    let bearer_token = bearer.clone();
    let viewer: Option<Principal> = match bearer {
        Some(t) => match s.auth.authenticate(&t).await {
            Ok(p) if !p.must_change_password => Some(p),
            _ => return page(StatusCode::UNAUTHORIZED, "invalid or expired token"),
        },
        None => None,
    };
    let resolved = match resolve_path_target(&s, viewer.as_ref(), &ws, port).await {
        Some(r) => r,
        None => return page(StatusCode::NOT_FOUND, "no such preview"),
    };
    match s.previews.check(&resolved, viewer.as_ref()).await {
        Ok(()) => {}
        Err(CoreError::Unauthenticated(_)) => {
            return page(
                StatusCode::UNAUTHORIZED,
                "this port is not public; open its preview from the IDE (its own address)",
            )
        }
        Err(_) => return page(StatusCode::NOT_FOUND, "no such preview"),
    }
    let query = req
        .uri()
        .query()
        .map(|q| format!("?{q}"))
        .unwrap_or_default();
    // The rest of the path as the client sent it (still percent-encoded:
    // decoding would change its meaning, `%3F` into a query).
    let raw_rest = req.uri().path().splitn(6, '/').nth(5).unwrap_or_default();
    let uri = format!("/{raw_rest}{query}");
    let f = Forward {
        uri: uri.parse().unwrap_or_else(|_| Uri::from_static("/")),
        host: host_of(req.headers()).unwrap_or_default().to_owned(),
        proto: proto_of(req.headers()),
        prefix: Some(prefix),
        client: client_ip(&req),
        strip_cookie: OUR_COOKIES,
        strip_authorization: true,
        path_mode: true,
    };
    let cred = match bearer_token {
        Some(t) => Credential::Token(t),
        None => Credential::None,
    };
    let recheck = recheck(&s, &resolved, cred);
    connect_and_forward(&s, &resolved, req, f, true, recheck).await
}

/// A workspace id, or (with a caller) one of their workspace names.
async fn resolve_path_target(
    s: &AppState,
    viewer: Option<&Principal>,
    ws: &str,
    port: u16,
) -> Option<Resolved> {
    let id = match viewer {
        Some(p) => s.workspaces.id_of(p, ws, Action::View).await.ok(),
        None => None,
    };
    let target = Target::ById {
        port,
        id: id.unwrap_or_else(|| ws.to_owned()),
    };
    s.previews.resolve(&target).await.ok()
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AuthorizeBody {
    /// A preview host (as a browser was sent here with), or
    host: Option<String>,
    /// a workspace (id or name) and
    workspace: Option<String>,
    /// a port in it.
    port: Option<u16>,
    /// Where to go on the preview afterwards (a path; default `/`).
    next: Option<String>,
    /// For a frame in the app (the IDE's preview panel) rather than a tab.
    #[serde(default)]
    frame: bool,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct AuthorizedDto {
    /// Open this: it logs the browser in on the preview's origin once.
    url: String,
    /// The preview's own address.
    preview_url: String,
    /// The path-mode address (public ports in browsers).
    path_url: String,
}

#[utoipa::path(
    post,
    path = "/previews/authorize",
    tag = "previews",
    summary = "A one-use link that opens a port's preview in a browser, logged in",
    request_body = AuthorizeBody,
    responses((status = 200, description = "OK", body = AuthorizedDto))
)]
pub(crate) async fn authorize(
    State(s): State<AppState>,
    Auth(p): Auth,
    headers: HeaderMap,
    ApiJson(b): ApiJson<AuthorizeBody>,
) -> ApiResult<Json<AuthorizedDto>> {
    let proto = proto_of(&headers);
    let base = &s.previews.config().base_domain;
    if base.is_empty() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "previews_off",
            "subdomain previews are turned off (previews.base_domain)",
        ));
    }
    let (host, resolved) = match (&b.host, &b.workspace, b.port) {
        (Some(h), None, None) => {
            let t = s.previews.target_of_host(h).ok_or_else(|| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_host",
                    "not a preview address",
                )
            })?;
            (h.to_ascii_lowercase(), s.previews.resolve(&t).await?)
        }
        (None, Some(ws), Some(port)) if port > 0 => {
            let w = s.workspaces.get(&p, ws).await?;
            let owner = s.auth.user_by_id(&w.owner_id).await?;
            let label = label_for(port, &w.name, &w.id, &owner.username);
            // The main app's own port, if it has one, is the preview's too.
            let app_port = host_of(&headers)
                .and_then(|h| h.rsplit_once(':'))
                .filter(|(_, p)| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
                .map(|(_, p)| format!(":{p}"))
                .unwrap_or_default();
            let host = format!("{label}.{base}{app_port}");
            let t = Target::ById {
                port,
                id: w.id.clone(),
            };
            (host, s.previews.resolve(&t).await?)
        }
        _ => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "give host, or workspace and port (1-65535)",
            ))
        }
    };
    s.previews.check(&resolved, Some(&p)).await?;
    let ticket = s.previews.issue_ticket(&p, &host);
    let next = safe_next(b.next.as_deref());
    let mut pairs = vec![("ticket", ticket.as_str()), ("next", next.as_str())];
    if b.frame {
        pairs.push(("frame", "1"));
    }
    let q = serde_urlencoded::to_string(pairs).unwrap_or_default();
    Ok(Json(AuthorizedDto {
        url: format!("{proto}://{host}{AUTH_PATH}?{q}"),
        preview_url: format!("{proto}://{host}/"),
        path_url: format!("/w/{}/ports/{}/", resolved.workspace_id, resolved.port),
    }))
}

#[derive(Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ShareBody {
    /// `private`, `authenticated` or `public`.
    #[schema(pattern = "^(private|authenticated|public)$")]
    level: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct PortShareDto {
    port: u16,
    level: &'static str,
}

#[utoipa::path(
    put,
    path = "/workspaces/{id}/ports/{port}/share",
    tag = "previews",
    summary = "Who may open this port's preview (audited)",
    params(("id" = String, Path, description = "Workspace id, or the name of one of the caller's workspaces"), ("port" = u16, Path, description = "Port inside the workspace, 1-65535")),
    request_body = ShareBody,
    responses((status = 200, description = "OK", body = PortShareDto))
)]
pub(crate) async fn set_share(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiPath((id, port)): ApiPath<(String, u16)>,
    ApiJson(b): ApiJson<ShareBody>,
) -> ApiResult<Json<PortShareDto>> {
    let level = ShareLevel::parse(&b.level)?;
    s.previews.set_share(&p, &id, port, level).await?;
    Ok(Json(PortShareDto {
        port,
        level: level.as_str(),
    }))
}

#[utoipa::path(
    get,
    path = "/workspaces/{id}/ports/shares",
    tag = "previews",
    summary = "The workspace's ports that are not private",
    params(("id" = String, Path, description = "Workspace id, or the name of one of the caller's workspaces")),
    responses((status = 200, description = "OK", body = Vec<PortShareDto>))
)]
pub(crate) async fn shares(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Vec<PortShareDto>>> {
    Ok(Json(
        s.previews
            .shares(&p, &id)
            .await?
            .into_iter()
            .map(|(port, l)| PortShareDto {
                port,
                level: l.as_str(),
            })
            .collect(),
    ))
}
