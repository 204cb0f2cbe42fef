//! Watching a directory tree for changes (inotify through `notify`), so the
//! file tree in the IDE follows what terminals and the AI do. Changes are
//! batched for [`BATCH`] and deduplicated before they are sent.

use crate::conn::Outbox;
use crate::paths::Root;
use aicockpit_workspace_agent_proto::{
    AgentError, ChangeKind, ErrorCode, Event, Frame, FsChange, Message,
};
use notify::{EventKind, RecursiveMode, Watcher};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;
use tokio::sync::mpsc;

const BATCH: Duration = Duration::from_millis(50);
/// Changes per message at most; a flood (an `npm install`) is cut, and the
/// message says so by ending with the directory itself as "modified".
const MAX_CHANGES: usize = 1000;

/// A live watch; dropping it stops watching.
pub(crate) struct Watch {
    _watcher: notify::RecommendedWatcher,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Watch {
    pub(crate) fn start(
        root: &Root,
        rel: &str,
        channel: u32,
        out: Outbox,
    ) -> Result<Watch, AgentError> {
        let dir = root.resolve(rel)?;
        if !dir.is_dir() {
            return Err(AgentError::new(
                ErrorCode::NotADirectory,
                format!("{rel}: not a directory"),
            ));
        }
        let (tx, mut rx) = mpsc::unbounded_channel::<notify::Event>();
        let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
            if let Ok(ev) = res {
                let _ = tx.send(ev);
            }
        })
        .map_err(|e| AgentError::new(ErrorCode::Io, format!("cannot watch: {e}")))?;
        watcher
            .watch(&dir, RecursiveMode::Recursive)
            .map_err(|e| AgentError::new(ErrorCode::Io, format!("cannot watch {rel}: {e}")))?;
        let root = root.clone();
        let task = tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut pending: BTreeMap<PathBuf, ChangeKind> = BTreeMap::new();
                let mut overflow = false;
                collect(&mut pending, first, &mut overflow);
                let deadline = tokio::time::sleep(BATCH);
                tokio::pin!(deadline);
                loop {
                    tokio::select! {
                        ev = rx.recv() => match ev {
                            Some(ev) => collect(&mut pending, ev, &mut overflow),
                            None => break,
                        },
                        _ = &mut deadline => break,
                    }
                }
                let mut changes: Vec<FsChange> = pending
                    .into_iter()
                    .filter(|(p, _)| {
                        // Our own atomic-write temporaries are noise.
                        !p.file_name()
                            .is_some_and(|n| n.to_string_lossy().contains(".aicockpit-"))
                    })
                    .map(|(p, kind)| FsChange {
                        kind,
                        path: root.relative(&p),
                    })
                    .collect();
                if overflow {
                    changes.push(FsChange {
                        kind: ChangeKind::Modified,
                        path: root.relative(&dir),
                    });
                }
                if changes.is_empty() {
                    continue;
                }
                let msg = Message::Event {
                    event: Event::Fs { channel, changes },
                };
                if !out.send_wait(Frame::json(&msg)).await {
                    break;
                }
            }
        });
        Ok(Watch {
            _watcher: watcher,
            task,
        })
    }
}

fn collect(pending: &mut BTreeMap<PathBuf, ChangeKind>, ev: notify::Event, overflow: &mut bool) {
    use notify::event::ModifyKind;
    let kind = match ev.kind {
        EventKind::Create(_) => ChangeKind::Created,
        EventKind::Remove(_) => ChangeKind::Removed,
        EventKind::Modify(ModifyKind::Name(_)) => {
            // A rename: the old name is gone, the new one exists.
            for p in ev.paths {
                let k = if p.symlink_metadata().is_ok() {
                    ChangeKind::Created
                } else {
                    ChangeKind::Removed
                };
                insert(pending, p, k, overflow);
            }
            return;
        }
        EventKind::Modify(_) => ChangeKind::Modified,
        _ => return,
    };
    for p in ev.paths {
        insert(pending, p, kind, overflow);
    }
}

fn insert(
    pending: &mut BTreeMap<PathBuf, ChangeKind>,
    p: PathBuf,
    kind: ChangeKind,
    overflow: &mut bool,
) {
    if pending.len() >= MAX_CHANGES && !pending.contains_key(&p) {
        *overflow = true;
        return;
    }
    let merged = match (pending.get(&p), kind) {
        // Created then modified within one batch is still "created".
        (Some(ChangeKind::Created), ChangeKind::Modified) => ChangeKind::Created,
        _ => kind,
    };
    pending.insert(p, merged);
}
