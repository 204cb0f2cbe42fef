//! Installing a devcontainer's features: a local feature's description is
//! read through the engine (bounded), a registry's feature is fetched
//! (`feature_registry`); their requirements are merged into the
//! configuration (and checked as its own), then one image build on top of
//! the configuration's image runs each `install.sh` as the spec says. The
//! Dockerfile is the server's own (`devcontainer::features::dockerfile`),
//! so nothing in the repository writes build instructions; local features'
//! folders come from the engine's archive of the configuration's folder,
//! fetched ones are added to it as files.

use super::devcontainer::{config_failure, say, Failure};
use super::feature_registry;
use super::setup::{lock, SetupLog};
use super::{WorkspaceManager, WORKSPACE_DIR};
use crate::devcontainer::features::{self, FeatureMeta, FeatureRef, Users};
use crate::devcontainer::{self, DevContainer};
use aicockpit_runtime::{BuildRequest, ContextFile, GeneratedDockerfile};
use aicockpit_store::WorkspaceRecord;
use std::sync::{Arc, Mutex};

/// The longest all of one configuration's registry features take to fetch.
const FEATURES_FETCH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(180);

fn fail(code: &str, message: impl Into<String>) -> Failure {
    (code.to_owned(), message.into())
}

/// The folder a configuration sits in, inside the workspace.
fn config_dir(config: &DevContainer) -> String {
    match config.path.rsplit_once('/') {
        Some((dir, _)) => format!("{WORKSPACE_DIR}/{dir}"),
        None => WORKSPACE_DIR.to_owned(),
    }
}

/// A configuration's features as read: each with its description, and
/// the files of those fetched from a registry (for the build context).
pub(super) struct Features {
    pub found: Vec<(FeatureRef, FeatureMeta)>,
    pub fetched: Vec<ContextFile>,
}

impl WorkspaceManager {
    /// The configuration's features with their descriptions, and the
    /// configuration with their requirements (volumes, capabilities)
    /// merged in and checked against what the server allows.
    pub(super) async fn read_features(
        &self,
        handle: &str,
        config: &DevContainer,
        log: &Arc<Mutex<SetupLog>>,
    ) -> Result<(DevContainer, Features), Failure> {
        let mut merged = config.clone();
        let mut found = Vec::new();
        let mut fetched_files = Vec::new();
        // All of a configuration's registry features together: bounded in
        // bytes and in time, however many it names.
        let mut layers_left = feature_registry::MAX_LAYERS;
        let deadline = tokio::time::Instant::now() + FEATURES_FETCH_TIMEOUT;
        // The configuration's features, then what they depend on (each
        // registry feature once, the configuration's own options first).
        let mut queue: std::collections::VecDeque<FeatureRef> =
            config.features.iter().cloned().collect();
        let mut named: Vec<String> = config
            .features
            .iter()
            .filter_map(|r| r.registry.as_ref().map(|o| o.key()))
            .collect();
        let mut added = 0;
        while let Some(r) = queue.pop_front() {
            let r = &r;
            if let Some(oci) = &r.registry {
                say(log, &format!("aicockpit: fetching feature {oci}"));
                let budget = feature_registry::Budget {
                    bytes: layers_left,
                    deadline,
                };
                let allowed = &self.opts.limits.feature_registries;
                let fetched = feature_registry::fetch(oci, allowed, &r.folder, budget)
                    .await
                    .map_err(|e| fail("feature_unavailable", format!("features {oci}: {e}")))?;
                let taken: u64 = fetched.files.iter().map(|f| f.content.len() as u64).sum();
                layers_left = layers_left.saturating_sub(taken);
                let mut meta = features::parse_meta(&fetched.json, &oci.to_string())
                    .map_err(|e| config_failure(&config.path, &e))?;
                meta.origin = Some(oci.key());
                for n in &meta.notes {
                    say(log, &format!("aicockpit: note: {n}"));
                }
                fetched_files.extend(fetched.files);
                self.queue_dependencies(&meta, &mut named, &mut added, &mut queue, config, log)?;
                found.push((r.clone(), meta));
                continue;
            }
            let path = format!(
                "{}/{}/devcontainer-feature.json",
                config_dir(config),
                r.folder
            );
            let bytes = self
                .runtime
                .read_file(handle, &path, features::MAX_FEATURE_JSON)
                .await
                .map_err(|e| fail("failed", format!("reading {path}: {e}")))?
                .ok_or_else(|| {
                    fail(
                        "devcontainer_invalid",
                        format!("features ./{}: there is no devcontainer-feature.json (or it is larger than 64 KiB)", r.folder),
                    )
                })?;
            let text = String::from_utf8(bytes)
                .map_err(|_| fail("devcontainer_invalid", format!("{path} is not UTF-8")))?;
            let meta = features::parse_meta(&text, &format!("./{}", r.folder))
                .map_err(|e| config_failure(&config.path, &e))?;
            for n in &meta.notes {
                lock(log).feed(format!("aicockpit: note: {n}\n").as_bytes());
            }
            self.queue_dependencies(&meta, &mut named, &mut added, &mut queue, config, log)?;
            found.push((r.clone(), meta));
        }
        let metas: Vec<FeatureMeta> = found.iter().map(|(_, m)| m.clone()).collect();
        features::merge_requirements(&mut merged, &metas)
            .and_then(|()| {
                devcontainer::check_cap_add(&merged, &self.opts.limits.devcontainer_cap_add)
            })
            .map_err(|e| config_failure(&config.path, &e))?;
        Ok((
            merged,
            Features {
                found,
                fetched: fetched_files,
            },
        ))
    }

    /// Queues what `meta` depends on that is not named yet, each in a
    /// folder of its own, up to [`features::MAX_FEATURES`] in all.
    fn queue_dependencies(
        &self,
        meta: &FeatureMeta,
        named: &mut Vec<String>,
        added: &mut usize,
        queue: &mut std::collections::VecDeque<FeatureRef>,
        config: &DevContainer,
        log: &Arc<Mutex<SetupLog>>,
    ) -> Result<(), Failure> {
        for d in &meta.depends_on {
            let Some(oci) = &d.registry else { continue };
            if named.contains(&oci.key()) {
                continue;
            }
            if config.features.len() + *added >= features::MAX_FEATURES {
                return Err(fail(
                    "devcontainer_invalid",
                    format!(
                        "features: more than {} with what they depend on ({} depends on {oci})",
                        features::MAX_FEATURES,
                        meta.id
                    ),
                ));
            }
            say(
                log,
                &format!("aicockpit: feature {} depends on {oci}", meta.id),
            );
            named.push(oci.key());
            let mut dep = d.clone();
            dep.folder = format!(".aicockpit-feature-{}", config.features.len() + *added);
            *added += 1;
            queue.push_back(dep);
        }
        Ok(())
    }

    /// `base` with the features installed: a build of the server's own
    /// Dockerfile from the configuration's folder, cached by content.
    pub(super) async fn install_features(
        &self,
        rec: &WorkspaceRecord,
        handle: &str,
        config: &DevContainer,
        base: String,
        features: Features,
        log: &Arc<Mutex<SetupLog>>,
    ) -> Result<String, Failure> {
        let found = &features.found;
        let ids: Vec<&str> = found.iter().map(|(_, m)| m.id.as_str()).collect();
        lock(log).feed(format!("aicockpit: installing features {}\n", ids.join(", ")).as_bytes());
        let named =
            |u: &str| (!u.bytes().all(|b| b.is_ascii_digit() || b == b':')).then(|| u.to_owned());
        let remote = config
            .remote_user
            .clone()
            .or(config.container_user.clone())
            .or_else(|| named(&rec.run_as))
            .unwrap_or_else(|| "root".into());
        let users = Users {
            container: config
                .container_user
                .clone()
                .unwrap_or_else(|| remote.clone()),
            remote,
        };
        let (text, mut files) = features::dockerfile(&base, found, &users);
        files.extend(features.fetched);
        let sent = text.clone().into_bytes();
        let req = BuildRequest {
            context_dir: config_dir(config),
            dockerfile: ".aicockpit-features.Dockerfile".into(),
            generated: Some(GeneratedDockerfile {
                text: sent.clone(),
                files,
            }),
            args: Default::default(),
            target: None,
            memory_bytes: rec.memory_mb * 1024 * 1024,
            cpu_millis: rec.cpu_millis,
            network: Some(rec.network.clone()),
            max_context_bytes: super::devcontainer::MAX_CONTEXT_BYTES,
            spool_dir: self.opts.spool_dir.clone(),
            timeout: super::devcontainer::BUILD_TIMEOUT,
        };
        // The server wrote it: its one base is the image just made ready.
        let check = move |bytes: &[u8]| -> Result<Vec<String>, String> {
            if bytes == sent.as_slice() {
                Ok(vec![base.clone()])
            } else {
                Err("not the Dockerfile the server wrote".into())
            }
        };
        let progress_log = log.clone();
        let progress = move |line: String| {
            lock(&progress_log).feed(format!("{line}\n").as_bytes());
        };
        self.runtime
            .build_image(handle, &req, &check, &progress)
            .await
            .map_err(|e| fail("image_build_failed", format!("features: {e}")))
    }
}
