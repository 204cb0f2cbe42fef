//! Installing the owner's dotfiles into a new (or rebuilt) workspace: the
//! repository is cloned as the workspace user into `~/.dotfiles` (with the
//! same script, checks and stored credentials as a workspace's own
//! repository), then its install script runs if it has one, otherwise its
//! dotfiles are linked into the home. A home that has `~/.dotfiles`
//! already is left alone. Output goes to the setup log (phase `dotfiles`),
//! the outcome on the audit record.

use super::devcontainer::Failure;
use super::git::{classify_failure, clone_args, clone_script};
use super::setup::{lock, with_credential_hint, SetupLog};
use super::WorkspaceManager;
use crate::auth::Principal;
use crate::dotfiles::{self, DotfilesRepo};
use aicockpit_runtime::ExecRequest;
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The longest the clone and the install script may run, each.
const STEP_TIMEOUT: Duration = Duration::from_secs(10 * 60);

/// Scripts looked for, in order, as GitHub Codespaces looks for them.
const INSTALL_SCRIPTS: &str =
    "install.sh install bootstrap.sh bootstrap script/bootstrap setup.sh setup script/setup";

/// Run by `sh -c` as the workspace user: makes `~/.dotfiles` and clones
/// into it with the clone script (argument 1, its own arguments after it —
/// all passed, never pasted in). Exit 200: there already, nothing to do.
const CLONE_STEP: &str = r#"exec 2>&1
clone="$1"; shift
cd "$HOME" 2>/dev/null || { echo "aicockpit: the workspace user has no home directory"; exit 1; }
dest="$HOME/.dotfiles"
if [ -e "$dest" ] || [ -L "$dest" ]; then
  echo "aicockpit: $dest is there already; the dotfiles are not installed again (remove it and rebuild to install them anew)"
  exit 200
fi
mkdir "$dest" && cd "$dest" || exit 1
sh -c "$clone" aicockpit-clone "$@" || { rc=$?; cd "$HOME"; rm -rf "$dest"; exit $rc; }
"#;
/// Exit code of [`CLONE_STEP`] when `~/.dotfiles` exists already.
const ALREADY_THERE: i64 = 200;

/// Run by `sh -c` as the workspace user in `~/.dotfiles`: the first install
/// script found, else links to the dotfiles.
fn install_step(timeout_secs: u64) -> String {
    format!(
        r#"exec 2>&1
cd "$HOME/.dotfiles" || exit 1
t=""; command -v timeout >/dev/null 2>&1 && t="timeout {timeout_secs}"
for s in {INSTALL_SCRIPTS}; do
  [ -f "$s" ] || continue
  echo "aicockpit: running the dotfiles' $s"
  chmod u+x "$s" 2>/dev/null
  $t "./$s"; rc=$?
  [ $rc -eq 0 ] || echo "aicockpit: $s failed with exit code $rc"
  exit $rc
done
echo "aicockpit: no install script; linking the dotfiles into $HOME"
for f in .[!.]* ..?*; do
  [ -e "$f" ] || [ -L "$f" ] || continue
  case "$f" in .git|.github|.gitignore|.gitmodules|.gitattributes) continue ;; esac
  if [ -e "$HOME/$f" ] && [ ! -L "$HOME/$f" ]; then
    mv "$HOME/$f" "$HOME/$f.before-dotfiles" && echo "kept the image's $f as $f.before-dotfiles"
  fi
  ln -sfn "$HOME/.dotfiles/$f" "$HOME/$f" && echo "linked $f"
done
"#
    )
}

/// Which script an install script is: the first of [`INSTALL_SCRIPTS`]
/// present (said by the step itself; only for the message).
fn script_named(lines: &[String]) -> String {
    lines
        .iter()
        .rev()
        .find_map(|l| l.strip_prefix("aicockpit: running the dotfiles' "))
        .unwrap_or("install script")
        .to_owned()
}

impl WorkspaceManager {
    /// Whether `user_id` has a dotfiles repository to install (one that
    /// cannot be read counts as none here: nothing else is installed).
    pub(super) async fn has_dotfiles(&self, user_id: &str) -> bool {
        matches!(dotfiles::of_user(&self.store, user_id).await, Ok(Some(_)))
    }

    /// Installs the owner's dotfiles into workspace `id` (its container as
    /// it is now), for `p` (on the audit record); nothing when the owner
    /// has none.
    pub(super) async fn install_dotfiles(
        &self,
        p: &Principal,
        id: &str,
        log: &Arc<Mutex<SetupLog>>,
    ) -> Result<(), Failure> {
        let rec = self
            .store
            .workspace(id)
            .await
            .map_err(|e| ("failed".to_owned(), e.to_string()))?;
        let repo = match dotfiles::of_user(&self.store, &rec.owner_id).await {
            Ok(Some(r)) => r,
            Ok(None) => return Ok(()),
            Err(e) => {
                return Err((
                    "dotfiles_failed".into(),
                    format!("the dotfiles setting: {e}"),
                ))
            }
        };
        lock(log).phase = "dotfiles";
        lock(log).feed(format!("aicockpit: installing dotfiles from {}\n", repo.url).as_bytes());
        let outcome = match rec.container_id.clone() {
            None => Err((
                "dotfiles_failed".to_owned(),
                "the workspace has no container".to_owned(),
            )),
            Some(handle) => {
                // Private dotfiles use the owner's stored credentials,
                // asked for through the agent.
                if let Err(e) = self.workspace_agents().connect(&handle).await {
                    lock(log).feed(
                        format!("aicockpit: stored git credentials are unavailable ({e})\n")
                            .as_bytes(),
                    );
                }
                let env: Vec<(String, String)> = rec.env.clone().into_iter().collect();
                self.run_install(&handle, &env, &repo, log).await
            }
        };
        let detail = json!({"url": repo.url, "ref": repo.reference, "owner": rec.owner_id});
        self.audit_step(
            &p.actor(),
            id,
            "workspace.dotfiles",
            detail,
            outcome.as_ref().err(),
        )
        .await;
        outcome
    }

    /// The dotfiles as the last step of a clone or a rebuild: their failure
    /// is said in the log (and audited), not the setup's — the workspace
    /// it made is fine.
    pub(super) async fn dotfiles_after_setup(
        &self,
        p: &Principal,
        id: &str,
        log: &Arc<Mutex<SetupLog>>,
    ) {
        if let Err((_, message)) = self.install_dotfiles(p, id, log).await {
            lock(log).feed(format!("aicockpit: warning: {message}\n").as_bytes());
        }
    }

    /// The clone, then (unless `~/.dotfiles` was there) the install: two
    /// commands, so a failure is known to be the one or the other.
    async fn run_install(
        &self,
        handle: &str,
        env: &[(String, String)],
        repo: &DotfilesRepo,
        log: &Arc<Mutex<SetupLog>>,
    ) -> Result<(), Failure> {
        let failed = |m: String| ("dotfiles_failed".to_owned(), m);
        let mut clone = vec![
            "sh".to_owned(),
            "-c".to_owned(),
            CLONE_STEP.to_owned(),
            "aicockpit-dotfiles".to_owned(),
            clone_script(STEP_TIMEOUT.as_secs()),
        ];
        clone.extend(clone_args(&repo.source()));
        let from = lock(log).next_line();
        let out = self
            .step(handle, env, clone, log)
            .await
            .map_err(|e| failed(format!("the dotfiles could not be cloned: {e}")))?;
        match out {
            (Some(0), _) => {}
            (Some(ALREADY_THERE), _) => return Ok(()),
            (code, timed_out) => {
                let code = if timed_out { Some(124) } else { code };
                let lines = lock(log).since(from, 40);
                let (kind, why) = classify_failure(code, &lines);
                return Err(failed(format!(
                    "the dotfiles could not be cloned: {}",
                    with_credential_hint(kind, why, &repo.url)
                )));
            }
        }
        let from = lock(log).next_line();
        let install = vec![
            "sh".to_owned(),
            "-c".to_owned(),
            install_step(STEP_TIMEOUT.as_secs()),
        ];
        match self.step(handle, env, install, log).await {
            Ok((Some(0), _)) => Ok(()),
            Ok((code, timed_out)) => {
                let script = script_named(&lock(log).since(from, 1000));
                Err(failed(if timed_out {
                    format!(
                        "the dotfiles' {script} ran longer than {} minutes",
                        STEP_TIMEOUT.as_secs() / 60
                    )
                } else {
                    format!(
                        "the dotfiles' {script} failed with exit code {}",
                        code.unwrap_or(-1)
                    )
                }))
            }
            Err(e) => Err(failed(format!("the dotfiles could not be installed: {e}"))),
        }
    }

    /// One command as the workspace user, its output into `log`: its exit
    /// code and whether it timed out.
    async fn step(
        &self,
        handle: &str,
        env: &[(String, String)],
        argv: Vec<String>,
        log: &Arc<Mutex<SetupLog>>,
    ) -> Result<(Option<i64>, bool), aicockpit_runtime::RuntimeError> {
        let req = ExecRequest {
            argv,
            cwd: None,
            env: env.to_vec(),
            user: None,
            timeout: STEP_TIMEOUT + Duration::from_secs(30),
            max_output_bytes: 64 * 1024,
        };
        let sink_log = log.clone();
        let sink = move |bytes: &[u8]| lock(&sink_log).feed(bytes);
        let out = self.runtime.exec_observed(handle, &req, &sink).await?;
        Ok((out.exit_code, out.timed_out))
    }
}

impl WorkspaceManager {
    /// Installs the owner's dotfiles into the new workspace `id` in the
    /// background (when there is nothing else to set up); the log (kind
    /// `dotfiles`) exists on return.
    pub(super) fn start_dotfiles(&self, p: &Principal, id: &str) {
        let log = self.setups.begin(id, "dotfiles", "dotfiles".into());
        lock(&log).phase = "dotfiles";
        let Some(me) = self.me.upgrade() else {
            let gone = ("failed".to_owned(), "the server is stopping".to_owned());
            lock(&log).finish(Some(gone));
            return;
        };
        let busy = self.activity.hold(id, super::activity::Work::Exec);
        let (ws, p) = (id.to_owned(), p.clone());
        let task = tokio::spawn(async move {
            let _busy = busy;
            let error = me.install_dotfiles(&p, &ws, &log).await.err();
            lock(&log).finish(error);
        });
        self.setups.running(id, task.abort_handle());
    }
}
