//! Web previews of workspace ports: which workspace and port a preview
//! address names, who may open it (the port's share level), and the
//! preview sessions browsers hold as a cookie on the preview's own origin.
//!
//! Each subdomain preview is an origin of its own, so an app in a
//! workspace can never read the user's AiCockpit token (kept by the main
//! app's origin) nor another preview's cookie.

use crate::access::{can, Action, Resource};
use crate::audit::{Audit, Entry};
use crate::auth::{AuthService, Principal};
use crate::config::PreviewsConfig;
use crate::ports::{Tunnel, WorkspacePorts};
use crate::workspaces::WorkspaceManager;
use crate::{now_ms, CoreError};
use aicockpit_store::{Store, StoreError, WorkspaceRecord};
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Who may open a port's preview.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShareLevel {
    /// The workspace's owner and admins.
    Private,
    /// Anyone logged in.
    Authenticated,
    /// Anyone at all.
    Public,
}

impl ShareLevel {
    pub fn parse(s: &str) -> Result<ShareLevel, CoreError> {
        match s {
            "private" => Ok(ShareLevel::Private),
            "authenticated" => Ok(ShareLevel::Authenticated),
            "public" => Ok(ShareLevel::Public),
            _ => Err(CoreError::invalid(
                "invalid_share_level",
                "share levels are private, authenticated and public",
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ShareLevel::Private => "private",
            ShareLevel::Authenticated => "authenticated",
            ShareLevel::Public => "public",
        }
    }
}

/// What a preview address names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `PORT--WORKSPACE_ID`
    ById { port: u16, id: String },
    /// `PORT--NAME--OWNER`
    ByName {
        port: u16,
        name: String,
        owner: String,
    },
}

impl Target {
    pub fn port(&self) -> u16 {
        match self {
            Target::ById { port, .. } | Target::ByName { port, .. } => *port,
        }
    }
}

/// The preview `host` (maybe with `:port`) names under `base`, or None
/// when it is not a preview address. Pure.
pub fn parse_host(host: &str, base: &str) -> Option<Target> {
    if base.is_empty() {
        return None;
    }
    let host = host.to_ascii_lowercase();
    let name = strip_port(&host);
    let label = name.strip_suffix(base)?.strip_suffix('.')?;
    if label.is_empty() || label.contains('.') {
        return None;
    }
    let (port, rest) = label.split_once("--")?;
    let port: u16 = port.parse().ok().filter(|p| *p > 0)?;
    if port.to_string().len() != label.find("--")? {
        return None; // leading zeros, "+": one spelling per port
    }
    match rest.rsplit_once("--") {
        None if rest.len() == 32 && rest.bytes().all(|b| b.is_ascii_hexdigit()) => {
            Some(Target::ById {
                port,
                id: rest.to_owned(),
            })
        }
        Some((name, owner)) if !name.is_empty() && !owner.is_empty() => Some(Target::ByName {
            port,
            name: name.to_owned(),
            owner: owner.to_owned(),
        }),
        _ => None,
    }
}

fn strip_port(host: &str) -> &str {
    match host.rsplit_once(':') {
        Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    }
}

/// The label a preview of `port` in workspace `name`/`id` of `owner` gets:
/// the readable form when names fit in a DNS label, else the id form.
pub fn label_for(port: u16, name: &str, id: &str, owner: &str) -> String {
    let dns_safe = |s: &str| {
        !s.is_empty()
            && !s.starts_with('-')
            && !s.ends_with('-')
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    let readable = format!("{port}--{name}--{owner}");
    if dns_safe(name) && dns_safe(owner) && !owner.contains("--") && readable.len() <= 63 {
        readable
    } else {
        format!("{port}--{id}")
    }
}

/// May `viewer` (None: not logged in) open a preview of a port shared at
/// `level` in a workspace owned by `owner_id`? `Err(Unauthenticated)` means
/// "log in first". Pure.
pub fn may_open(
    level: ShareLevel,
    viewer: Option<&Principal>,
    ws_id: &str,
    owner_id: &str,
    public_allowed: bool,
) -> Result<(), CoreError> {
    match (level, viewer) {
        (ShareLevel::Public, _) if public_allowed => Ok(()),
        (_, None) => Err(CoreError::Unauthenticated(
            "log in to open this preview".into(),
        )),
        (ShareLevel::Public | ShareLevel::Authenticated, Some(_)) => Ok(()),
        (ShareLevel::Private, Some(p)) => can(
            p,
            Action::View,
            Resource::Workspace {
                id: ws_id,
                owner_id,
            },
        )
        // Someone else's private port is as good as absent.
        .map_err(|_| CoreError::NotFound("no such preview".into())),
    }
}

/// Preview connections open at once per workspace: a public preview's
/// visitors cannot make the server hold unbounded tunnels.
pub const MAX_CONNECTIONS_PER_WORKSPACE: usize = 256;

fn session_of(p: &Principal, host: &str) -> Session {
    Session {
        user_id: p.user_id.clone(),
        token_id: p.token_id.clone(),
        host: host.to_ascii_lowercase(),
        at: Instant::now(),
    }
}

/// Adds `s` under `key`, making room by forgetting the oldest entry.
fn remember(m: &mut HashMap<String, Session>, key: String, s: Session) {
    if m.len() >= MAX_SESSIONS {
        if let Some(oldest) = m.iter().min_by_key(|(_, s)| s.at).map(|(k, _)| k.clone()) {
            m.remove(&oldest);
        }
    }
    m.insert(key, s);
}

/// Preview sessions last this long; then the browser goes through the
/// main app again (where a logged-out user must log in).
const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);
/// At most this many sessions are kept (the oldest go first).
const MAX_SESSIONS: usize = 10_000;

struct Session {
    user_id: String,
    /// The login (token) the session came from: when it ends (logout,
    /// password change or reset, revocation), so does the session.
    token_id: String,
    host: String,
    at: Instant,
}

pub struct Previews {
    store: Store,
    workspaces: Arc<WorkspaceManager>,
    ports: Arc<WorkspacePorts>,
    auth: AuthService,
    audit: Arc<Audit>,
    config: PreviewsConfig,
    sessions: Mutex<HashMap<String, Session>>,
    /// Single-use tickets (a minute) that carry a login from the main app
    /// to one preview host, where they become a session.
    tickets: Mutex<HashMap<String, Session>>,
    /// Open preview connections per workspace.
    open: Mutex<HashMap<String, Arc<tokio::sync::Semaphore>>>,
}

/// A preview connection: the tunnel and its place among the workspace's
/// open connections (given back when dropped).
pub struct PreviewConnection {
    pub tunnel: Tunnel,
    pub permit: tokio::sync::OwnedSemaphorePermit,
}

const TICKET_TTL: Duration = Duration::from_secs(60);

/// A preview address resolved: the workspace and port, and its owner.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub workspace_id: String,
    pub owner_id: String,
    pub port: u16,
}

impl Previews {
    pub fn new(
        store: Store,
        workspaces: Arc<WorkspaceManager>,
        ports: Arc<WorkspacePorts>,
        auth: AuthService,
        audit: Arc<Audit>,
        config: PreviewsConfig,
    ) -> Previews {
        Previews {
            store,
            workspaces,
            ports,
            auth,
            audit,
            config,
            sessions: Mutex::default(),
            tickets: Mutex::default(),
            open: Mutex::default(),
        }
    }

    pub fn config(&self) -> &PreviewsConfig {
        &self.config
    }

    /// The preview a request's `Host` names, if it names one.
    pub fn target_of_host(&self, host: &str) -> Option<Target> {
        parse_host(host, &self.config.base_domain)
    }

    /// The workspace a target names.
    pub async fn resolve(&self, t: &Target) -> Result<Resolved, CoreError> {
        let gone = || CoreError::NotFound("no such preview".into());
        let rec: WorkspaceRecord = match t {
            Target::ById { id, .. } => self.store.workspace(id).await,
            Target::ByName { name, owner, .. } => {
                let user = match self.store.user_by_name(owner).await {
                    Ok(u) => u,
                    Err(StoreError::NotFound) => return Err(gone()),
                    Err(e) => return Err(e.into()),
                };
                self.store.workspace_by_name(&user.id, name).await
            }
        }
        .map_err(|e| match e {
            StoreError::NotFound => gone(),
            e => e.into(),
        })?;
        Ok(Resolved {
            workspace_id: rec.id,
            owner_id: rec.owner_id,
            port: t.port(),
        })
    }

    pub async fn share_level(&self, ws_id: &str, port: u16) -> Result<ShareLevel, CoreError> {
        match self.store.port_share(ws_id, port).await? {
            Some(l) => ShareLevel::parse(&l),
            None => Ok(ShareLevel::Private),
        }
    }

    /// Whether `viewer` may open the preview `r`.
    pub async fn check(&self, r: &Resolved, viewer: Option<&Principal>) -> Result<(), CoreError> {
        // A disabled owner's workspace serves nobody.
        match self.store.user_by_id(&r.owner_id).await {
            Ok(owner) if !owner.disabled => {}
            Ok(_) | Err(StoreError::NotFound) => {
                return Err(CoreError::NotFound("no such preview".into()))
            }
            Err(e) => return Err(e.into()),
        }
        let level = self.share_level(&r.workspace_id, r.port).await?;
        may_open(
            level,
            viewer,
            &r.workspace_id,
            &r.owner_id,
            self.config.allow_public,
        )
    }

    /// A connection to the preview's port, if the workspace has fewer than
    /// [`MAX_CONNECTIONS_PER_WORKSPACE`] open (else 429).
    pub async fn connect(&self, r: &Resolved) -> Result<PreviewConnection, CoreError> {
        let slots = {
            let mut m = self.open.lock().unwrap_or_else(|e| e.into_inner());
            // Workspaces with nothing open are forgotten.
            m.retain(|_, s| s.available_permits() < MAX_CONNECTIONS_PER_WORKSPACE);
            m.entry(r.workspace_id.clone())
                .or_insert_with(|| {
                    Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS_PER_WORKSPACE))
                })
                .clone()
        };
        let permit = slots
            .try_acquire_owned()
            .map_err(|_| CoreError::TooManyRequests {
                retry_after_secs: 1,
                message: "this workspace's previews have too many connections open".into(),
            })?;
        let tunnel = self
            .ports
            .connect_for_preview(&r.workspace_id, r.port)
            .await?;
        Ok(PreviewConnection { tunnel, permit })
    }

    /// Who may open `port` of workspace `ws` from now on (admins may forbid
    /// public); audited.
    pub async fn set_share(
        &self,
        p: &Principal,
        ws: &str,
        port: u16,
        level: ShareLevel,
    ) -> Result<(), CoreError> {
        if port == 0 {
            return Err(CoreError::invalid("invalid_port", "ports are 1-65535"));
        }
        if level == ShareLevel::Public && !self.config.allow_public {
            return Err(CoreError::Forbidden(
                "public previews are turned off on this server".into(),
            ));
        }
        let id = self.workspaces.id_of(p, ws, Action::Change).await?;
        let before = self.share_level(&id, port).await?;
        let stored = (level != ShareLevel::Private).then_some(level.as_str());
        self.store
            .set_port_share(&id, port, stored, now_ms())
            .await?;
        let detail = json!({"port": port, "from": before.as_str(), "to": level.as_str()});
        self.audit
            .note(Entry::done(&p.actor(), Some(&id), "port.share", detail))
            .await;
        Ok(())
    }

    /// Every port of `ws` that is not private.
    pub async fn shares(
        &self,
        p: &Principal,
        ws: &str,
    ) -> Result<Vec<(u16, ShareLevel)>, CoreError> {
        let id = self.workspaces.id_of(p, ws, Action::View).await?;
        self.store
            .port_shares(&id)
            .await?
            .into_iter()
            .map(|(port, l)| Ok((port, ShareLevel::parse(&l)?)))
            .collect()
    }

    /// A ticket for `p` to open a session on preview `host` (after
    /// [`Previews::check`] said they may).
    pub fn issue_ticket(&self, p: &Principal, host: &str) -> String {
        let t = format!("pvt_{}", crate::auth::random_password());
        let mut m = self.tickets.lock().unwrap_or_else(|e| e.into_inner());
        m.retain(|_, s| s.at.elapsed() < TICKET_TTL);
        remember(&mut m, t.clone(), session_of(p, host));
        t
    }

    /// The principal a ticket was issued to, once, on the host it names.
    pub async fn redeem_ticket(&self, ticket: &str, host: &str) -> Option<Principal> {
        let s = {
            let mut m = self.tickets.lock().unwrap_or_else(|e| e.into_inner());
            m.remove(ticket)?
        };
        if s.at.elapsed() >= TICKET_TTL || s.host != host.to_ascii_lowercase() {
            return None;
        }
        // The session to come belongs to the login the ticket came from.
        self.auth.principal_of(&s.user_id, &s.token_id).await.ok()
    }

    /// Opens a preview session for `p` on `host` (after a ticket from the
    /// main app was redeemed there): the cookie's value. Audited.
    pub async fn open_session(&self, p: &Principal, host: &str, r: &Resolved) -> String {
        let id = crate::auth::random_password();
        {
            let mut m = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
            m.retain(|_, s| s.at.elapsed() < SESSION_TTL);
            remember(&mut m, id.clone(), session_of(p, host));
        }
        let detail = json!({"port": r.port, "host": host});
        self.audit
            .note(Entry::done(
                &p.actor(),
                Some(&r.workspace_id),
                "preview.open",
                detail,
            ))
            .await;
        id
    }

    /// The principal of preview session `cookie` on `host`, if it is one
    /// (for this very host) and its user may still log in.
    pub async fn session(&self, cookie: &str, host: &str) -> Option<Principal> {
        let (user_id, token_id) = {
            let m = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
            let s = m.get(cookie)?;
            (s.at.elapsed() < SESSION_TTL && s.host == host.to_ascii_lowercase())
                .then(|| (s.user_id.clone(), s.token_id.clone()))?
        };
        let p = self.auth.principal_of(&user_id, "preview").await.ok()?;
        let login_lives = self
            .store
            .list_tokens(&user_id)
            .await
            .ok()?
            .iter()
            .any(|t| t.id == token_id);
        (login_lives && !p.must_change_password).then_some(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Role;

    #[test]
    fn hosts_parse_to_one_target_or_none() {
        let id = "0123456789abcdef0123456789abcdef";
        let by_name = |port, name: &str, owner: &str| {
            Some(Target::ByName {
                port,
                name: name.into(),
                owner: owner.into(),
            })
        };
        let by_id = format!("3000--{id}.localhost");
        let cases: Vec<(&str, &str, Option<Target>)> = vec![
            (
                "5173--demo--alice.localhost",
                "localhost",
                by_name(5173, "demo", "alice"),
            ),
            (
                "5173--demo--alice.localhost:8080",
                "localhost",
                by_name(5173, "demo", "alice"),
            ),
            (
                "5173--DEMO--Alice.LOCALHOST",
                "localhost",
                by_name(5173, "demo", "alice"),
            ),
            (
                "80--my--app--bob.ws.example.com",
                "ws.example.com",
                by_name(80, "my--app", "bob"),
            ),
            (
                &by_id,
                "localhost",
                Some(Target::ById {
                    port: 3000,
                    id: id.into(),
                }),
            ),
            ("localhost:8080", "localhost", None),
            ("127.0.0.1:8080", "localhost", None),
            ("5173--demo--alice.localhost.evil.com", "localhost", None),
            ("5173--demo--alice.evillocalhost", "localhost", None),
            ("a.5173--demo--alice.localhost", "localhost", None),
            ("0--demo--alice.localhost", "localhost", None),
            ("05173--demo--alice.localhost", "localhost", None),
            ("+80--demo--alice.localhost", "localhost", None),
            ("70000--demo--alice.localhost", "localhost", None),
            ("5173--demo.localhost", "localhost", None),
            ("5173----alice.localhost", "localhost", None),
            ("5173--demo--.localhost", "localhost", None),
            ("5173--demo--alice.localhost", "", None),
            ("", "localhost", None),
        ];
        for (host, base, want) in cases {
            assert_eq!(parse_host(host, base), want, "{host} under {base}");
        }
    }

    #[test]
    fn labels_are_readable_when_they_can_be() {
        let id = "0123456789abcdef0123456789abcdef";
        assert_eq!(label_for(5173, "demo", id, "alice"), "5173--demo--alice");
        assert_eq!(label_for(80, "demo", id, "a.b"), format!("80--{id}"));
        assert_eq!(label_for(80, "demo", id, "a--b"), format!("80--{id}"));
        assert_eq!(
            label_for(80, &"x".repeat(60), id, "al"),
            format!("80--{id}")
        );
        // What is generated parses back to the same port.
        for label in [
            label_for(5173, "demo", id, "alice"),
            label_for(80, "demo", id, "a_b"),
        ] {
            let t = parse_host(&format!("{label}.localhost"), "localhost");
            assert_eq!(
                t.map(|t| t.port()),
                Some(if label.starts_with("80") { 80 } else { 5173 })
            );
        }
    }

    #[test]
    fn who_may_open_what() {
        let p = |role, id: &str| Principal {
            user_id: id.into(),
            username: id.into(),
            role,
            token_id: "t".into(),
            run: None,
            must_change_password: false,
        };
        let owner = p(Role::Member, "owner");
        let other = p(Role::Member, "other");
        let admin = p(Role::Admin, "root");
        let viewer = p(Role::Viewer, "owner");
        use ShareLevel::*;
        // (level, viewer, public allowed, outcome)
        let cases: Vec<(ShareLevel, Option<&Principal>, bool, &str)> = vec![
            (Private, Some(&owner), true, "ok"),
            (Private, Some(&viewer), true, "ok"),
            (Private, Some(&admin), true, "ok"),
            (Private, Some(&other), true, "not_found"),
            (Private, None, true, "login"),
            (Authenticated, Some(&other), true, "ok"),
            (Authenticated, None, true, "login"),
            (Public, None, true, "ok"),
            (Public, Some(&other), true, "ok"),
            (Public, None, false, "login"),
            (Public, Some(&other), false, "ok"),
        ];
        for (level, who, public, want) in cases {
            let got = match may_open(level, who, "ws", "owner", public) {
                Ok(()) => "ok",
                Err(CoreError::Unauthenticated(_)) => "login",
                Err(CoreError::NotFound(_)) => "not_found",
                Err(e) => panic!("{e:?}"),
            };
            assert_eq!(
                got,
                want,
                "{level:?} {:?} public={public}",
                who.map(|w| &w.user_id)
            );
        }
    }
}
