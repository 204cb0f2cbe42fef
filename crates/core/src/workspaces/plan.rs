//! Creating a workspace, step one: resolve the request against the
//! template catalog and the server's limits into a plan — which image,
//! user, limits, environment and ports — or say what is wrong with it.
//! Pure (no engine, no database), so every rule is table-tested here; the
//! manager then provisions and starts what the plan says.

use super::manager::{CreateWorkspace, DEFAULT_USER};
use super::validate;
use crate::config::WorkspacesConfig;
use crate::templates::{Catalog, Template};
use crate::CoreError;
use std::collections::BTreeMap;

/// What a create request comes to.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The template's name (None for a bare image).
    pub template: Option<String>,
    pub image: String,
    /// The user the workspace's processes run as.
    pub user: String,
    pub cpu_millis: i64,
    pub memory_mb: i64,
    pub pids_limit: i64,
    pub env: BTreeMap<String, String>,
    pub ports: Vec<u16>,
    /// The workspace's own idle timeout (None: the server's default).
    pub idle_timeout_secs: Option<i64>,
}

impl Plan {
    /// The row a workspace of this plan starts as (`creating`), with its
    /// id, owner, name and (for one made ahead) its container.
    pub fn record(
        &self,
        id: &str,
        owner_id: &str,
        name: &str,
        container_id: Option<String>,
    ) -> aicockpit_store::WorkspaceRecord {
        let now = crate::now_ms();
        aicockpit_store::WorkspaceRecord {
            id: id.to_owned(),
            owner_id: owner_id.to_owned(),
            name: name.to_owned(),
            template: self.template.clone(),
            image: self.image.clone(),
            state: super::model::WorkspaceState::Creating.as_str().into(),
            state_reason: None,
            cpu_millis: self.cpu_millis,
            memory_mb: self.memory_mb,
            pids_limit: self.pids_limit,
            env: self.env.clone(),
            ports: self.ports.clone(),
            run_as: self.user.clone(),
            container_id,
            volume: format!("aicockpit-vol-{id}"),
            network: format!("aicockpit-net-{id}"),
            created_at: now,
            updated_at: now,
            idle_timeout_secs: self.idle_timeout_secs,
        }
    }
}

/// A workspace's own idle timeout checked against the server's limits:
/// None keeps the server default, 0 is "never" (where admins allow it).
pub fn idle_timeout(secs: Option<i64>, lim: &WorkspacesConfig) -> Result<Option<i64>, CoreError> {
    match secs {
        None => Ok(None),
        Some(0) if lim.allow_never_idle => Ok(Some(0)),
        Some(0) => Err(CoreError::invalid(
            "invalid_idle_timeout",
            "this server does not allow workspaces that never stop for idleness",
        )),
        Some(s) if s >= 60 && (s as u64) <= lim.max_idle_timeout_secs => Ok(Some(s)),
        Some(_) => Err(CoreError::invalid(
            "invalid_idle_timeout",
            format!(
                "idle_timeout_secs must be 0 (never) or between 60 and {}",
                lim.max_idle_timeout_secs
            ),
        )),
    }
}

/// Whether `image` is an image id or a prefix of one (`sha256:…`, or hex
/// digits alone).
fn is_image_id(image: &str) -> bool {
    let hex = image.strip_prefix("sha256:").unwrap_or(image);
    image.starts_with("sha256:") || (!hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The last part of an image reference's repository path (without its
/// tag or digest): `snapshot` for `localhost/aicockpit/snapshot:x`.
fn last_component(reference: &str) -> &str {
    let name = reference.split('@').next().unwrap_or(reference);
    let last = name.rsplit('/').next().unwrap_or(name);
    last.split(':').next().unwrap_or(last)
}

/// An image named by a user (not by a template): a plausible reference
/// that reaches no image made from someone's workspace.
pub fn check_bare_image(i: &str) -> Result<(), CoreError> {
    // A snapshot's image holds someone's whole environment: it is reached
    // through the snapshot (and its access check) only.
    if aicockpit_runtime::is_snapshot_image(i)
        || last_component(&i.to_ascii_lowercase()) == "snapshot"
    {
        return Err(CoreError::invalid(
            "invalid_image",
            "snapshot images are used by forking their snapshot",
        ));
    }
    // A built devcontainer image holds what its build copied from someone's
    // repository: it is reached by building that configuration.
    // (Matched loosely: the engine resolves names its own way, and Podman
    // matches a short name by the end of a repository's path.)
    let lower = i.to_ascii_lowercase();
    let built = aicockpit_runtime::BUILT_IMAGE_REPOSITORY.trim_start_matches("localhost/");
    if lower.contains(built) || last_component(&lower) == "devcontainer" {
        return Err(CoreError::invalid(
            "invalid_image",
            "images built from devcontainer.json are used by creating from their repository",
        ));
    }
    // An image id (or a prefix of one) would reach any local image,
    // snapshots included, whatever their names.
    if is_image_id(i) {
        return Err(CoreError::invalid(
            "invalid_image",
            "name an image by its repository (and tag or digest), not by its id",
        ));
    }
    validate::image(i).map_err(|m| CoreError::invalid("invalid_image", m))
}

/// The request's template (or `base`, or the catalog's first) or its bare
/// image, with the request's values over the template's over the defaults,
/// each within the limits.
pub fn resolve(
    req: &CreateWorkspace,
    catalog: &Catalog,
    lim: &WorkspacesConfig,
) -> Result<Plan, CoreError> {
    validate::name(&req.name).map_err(|m| CoreError::invalid("invalid_name", m))?;
    let template = template_of(req, catalog)?;
    let image = match (&template, &req.image) {
        (Some(t), _) => t.image.clone(),
        (None, Some(i)) => {
            check_bare_image(i)?;
            i.clone()
        }
        (None, None) => return Err(CoreError::Internal("neither template nor image".into())),
    };
    validate::image(&image).map_err(|m| CoreError::invalid("invalid_image", m))?;
    let t = template.as_ref();
    let cpus = req
        .cpus
        .or(t.and_then(|t| t.cpus))
        .unwrap_or(lim.default_cpus);
    if !(cpus >= 0.1 && cpus <= lim.max_cpus) {
        return Err(CoreError::invalid(
            "invalid_limits",
            format!("cpus must be between 0.1 and {}", lim.max_cpus),
        ));
    }
    let memory_mb = req
        .memory_mb
        .or(t.and_then(|t| t.memory_mb))
        .unwrap_or(lim.default_memory_mb);
    if !(64..=lim.max_memory_mb).contains(&memory_mb) {
        return Err(CoreError::invalid(
            "invalid_limits",
            format!("memory_mb must be between 64 and {}", lim.max_memory_mb),
        ));
    }
    let pids_limit = req.pids_limit.unwrap_or(lim.default_pids_limit);
    if !(32..=lim.max_pids_limit).contains(&pids_limit) {
        return Err(CoreError::invalid(
            "invalid_limits",
            format!("pids_limit must be between 32 and {}", lim.max_pids_limit),
        ));
    }
    let mut env = t.map(|t| t.env.clone()).unwrap_or_default();
    env.extend(req.env.clone());
    validate::env(&env).map_err(|m| CoreError::invalid("invalid_env", m))?;
    let ports = req
        .ports
        .clone()
        .or_else(|| t.map(|t| t.ports.clone()))
        .unwrap_or_default();
    validate::ports(&ports).map_err(|m| CoreError::invalid("invalid_ports", m))?;
    let idle_timeout_secs = idle_timeout(req.idle_timeout_secs, lim)?;
    Ok(Plan {
        template: t.map(|t| t.name.clone()),
        image,
        user: t
            .and_then(|t| t.user.clone())
            .unwrap_or_else(|| DEFAULT_USER.into()),
        cpu_millis: (cpus * 1000.0).round() as i64,
        memory_mb,
        pids_limit,
        env,
        ports,
        idle_timeout_secs,
    })
}

/// The template a request names, `base` (or the first) when it names
/// neither a template nor an image, None for a bare image.
fn template_of(req: &CreateWorkspace, catalog: &Catalog) -> Result<Option<Template>, CoreError> {
    match (&req.template, &req.image) {
        (Some(_), Some(_)) => Err(CoreError::invalid(
            "invalid_request",
            "give either a template or an image, not both",
        )),
        (Some(t), None) => catalog.get(t).cloned().map(Some).ok_or_else(|| {
            CoreError::invalid("unknown_template", format!("no template named {t:?}"))
        }),
        (None, Some(_)) => Ok(None),
        (None, None) => catalog
            .get("base")
            .or_else(|| catalog.all().first())
            .cloned()
            .map(Some)
            .ok_or_else(|| {
                CoreError::invalid(
                    "unknown_template",
                    "no template given and the catalog is empty",
                )
            }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(name: &str) -> CreateWorkspace {
        CreateWorkspace {
            name: name.into(),
            template: None,
            image: None,
            cpus: None,
            memory_mb: None,
            pids_limit: None,
            env: BTreeMap::new(),
            ports: None,
            idle_timeout_secs: None,
            from_kept: None,
            git: None,
        }
    }

    #[test]
    fn idle_timeouts_within_the_limits() {
        let mut lim = WorkspacesConfig {
            max_idle_timeout_secs: 3600,
            ..Default::default()
        };
        type Case = (Option<i64>, bool, Result<Option<i64>, &'static str>);
        let cases: [Case; 8] = [
            (None, true, Ok(None)),
            (Some(0), true, Ok(Some(0))),
            (Some(0), false, Err("invalid_idle_timeout")),
            (Some(60), true, Ok(Some(60))),
            (Some(3600), true, Ok(Some(3600))),
            (Some(59), true, Err("invalid_idle_timeout")),
            (Some(3601), true, Err("invalid_idle_timeout")),
            (Some(-5), true, Err("invalid_idle_timeout")),
        ];
        for (secs, never_ok, want) in cases {
            lim.allow_never_idle = never_ok;
            let got = idle_timeout(secs, &lim).map_err(|e| match e {
                CoreError::Invalid { code, .. } => code,
                _ => "other",
            });
            assert_eq!(got, want, "{secs:?} (never allowed: {never_ok})");
        }
    }

    fn outcome(r: Result<Plan, CoreError>) -> String {
        match r {
            Ok(p) => format!(
                "ok {} {} cpu={} mem={} pids={} ports={:?} user={}",
                p.template.as_deref().unwrap_or("-"),
                p.image,
                p.cpu_millis,
                p.memory_mb,
                p.pids_limit,
                p.ports,
                p.user
            ),
            Err(CoreError::Invalid { code, .. }) => code.to_string(),
            Err(e) => format!("other: {e}"),
        }
    }

    #[test]
    fn the_resolution_table() {
        let catalog = Catalog::builtin().expect("the built-in catalog");
        let lim = WorkspacesConfig::default();
        let base = catalog.get("base").expect("base").clone();
        let with = |f: &dyn Fn(&mut CreateWorkspace)| {
            let mut r = req("demo");
            f(&mut r);
            r
        };
        let cases: Vec<(CreateWorkspace, String)> = vec![
            // No template, no image: the base template with the defaults.
            (
                req("demo"),
                format!(
                    "ok base {} cpu={} mem={} pids={} ports={:?} user={}",
                    base.image,
                    (base.cpus.unwrap_or(lim.default_cpus) * 1000.0).round() as i64,
                    base.memory_mb.unwrap_or(lim.default_memory_mb),
                    lim.default_pids_limit,
                    base.ports,
                    base.user.clone().unwrap_or_else(|| DEFAULT_USER.into())
                ),
            ),
            // A bare image: no template, the request's limits.
            (
                with(&|r| {
                    r.image = Some("alpine:3".into());
                    r.cpus = Some(0.5);
                    r.memory_mb = Some(300);
                    r.pids_limit = Some(64);
                    r.ports = Some(vec![8000]);
                }),
                format!("ok - alpine:3 cpu=500 mem=300 pids=64 ports=[8000] user={DEFAULT_USER}"),
            ),
            (with(&|r| r.name = "Bad_Name".into()), "invalid_name".into()),
            (with(&|r| r.name = "-x".into()), "invalid_name".into()),
            (
                with(&|r| {
                    r.template = Some("base".into());
                    r.image = Some("alpine".into());
                }),
                "invalid_request".into(),
            ),
            (
                with(&|r| r.template = Some("nope".into())),
                "unknown_template".into(),
            ),
            (
                with(&|r| r.image = Some("-rm".into())),
                "invalid_image".into(),
            ),
            (
                with(&|r| r.image = Some("a b".into())),
                "invalid_image".into(),
            ),
            // Image ids and their prefixes reach any local image.
            (
                with(&|r| r.image = Some("3f".into())),
                "invalid_image".into(),
            ),
            (
                with(&|r| r.image = Some("sha256:3f2a".into())),
                "invalid_image".into(),
            ),
            // Snapshot images in any spelling: only through their snapshot.
            (
                with(&|r| r.image = Some("localhost/aicockpit/snapshot:0123abcd".into())),
                "invalid_image".into(),
            ),
            (
                with(&|r| r.image = Some("AiCockpit/Snapshot:x".into())),
                "invalid_image".into(),
            ),
            (
                with(&|r| r.image = Some("docker.io/aicockpit/snapshot@sha256:00".into())),
                "invalid_image".into(),
            ),
            // Images built from someone's devcontainer.json: only by
            // building that configuration.
            (
                with(&|r| r.image = Some("localhost/aicockpit/devcontainer:0123abcd".into())),
                "invalid_image".into(),
            ),
            (
                with(&|r| r.image = Some("AiCockpit/DevContainer:x".into())),
                "invalid_image".into(),
            ),
            // Podman finds a short name by the end of a repository's path.
            (
                with(&|r| r.image = Some("snapshot:0123".into())),
                "invalid_image".into(),
            ),
            (
                with(&|r| r.image = Some("devcontainer@sha256:00".into())),
                "invalid_image".into(),
            ),
            (with(&|r| r.cpus = Some(0.05)), "invalid_limits".into()),
            (
                with(&|r| r.cpus = Some(lim.max_cpus + 1.0)),
                "invalid_limits".into(),
            ),
            (with(&|r| r.cpus = Some(f64::NAN)), "invalid_limits".into()),
            (with(&|r| r.memory_mb = Some(63)), "invalid_limits".into()),
            (
                with(&|r| r.memory_mb = Some(lim.max_memory_mb + 1)),
                "invalid_limits".into(),
            ),
            (with(&|r| r.pids_limit = Some(31)), "invalid_limits".into()),
            (
                with(&|r| r.pids_limit = Some(lim.max_pids_limit + 1)),
                "invalid_limits".into(),
            ),
            (
                with(&|r| {
                    r.env.insert("BAD NAME".into(), "x".into());
                }),
                "invalid_env".into(),
            ),
            (with(&|r| r.ports = Some(vec![0])), "invalid_ports".into()),
        ];
        for (r, want) in cases {
            let name = format!("{:?}/{:?}/{:?}", r.name, r.template, r.image);
            assert_eq!(outcome(resolve(&r, &catalog, &lim)), want, "{name}");
        }
    }

    #[test]
    fn the_request_overrides_the_template_and_adds_to_its_environment() {
        let catalog = Catalog::builtin().expect("the built-in catalog");
        let lim = WorkspacesConfig::default();
        let mut r = req("demo");
        r.template = Some("base".into());
        r.env.insert("EDITOR".into(), "vim".into());
        r.ports = Some(vec![3000, 8080]);
        let plan = resolve(&r, &catalog, &lim).expect("a plan");
        assert_eq!(plan.env.get("EDITOR").map(String::as_str), Some("vim"));
        assert_eq!(plan.ports, vec![3000, 8080]);
        assert_eq!(plan.template.as_deref(), Some("base"));
    }
}
