//! `WorkspaceTerminals`: opening, listing, attaching to and ending the
//! terminals a workspace's agent keeps, with the access check and the audit
//! record of each open and close in one place.

use crate::access::Action;
use crate::audit::{Audit, Entry};
use crate::auth::Principal;
use crate::workspace_agent::{AgentConn, ChannelMsg};
use crate::workspaces::activity::Activity;
use crate::workspaces::WorkspaceManager;
use crate::CoreError;
use aicockpit_workspace_agent_proto::{Request, TermInfo};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

const CALL: Duration = Duration::from_secs(30);

/// What a new terminal runs, and how big it is.
#[derive(Debug, Clone, Default)]
pub struct OpenTerminal {
    pub shell: Option<String>,
    pub cols: u16,
    pub rows: u16,
    pub cwd: Option<String>,
    pub env: BTreeMap<String, String>,
}

/// A viewer attached to a terminal: its output arrives on `output`, input
/// and resizes go through `conn` on `channel`.
pub struct Attached {
    pub conn: Arc<AgentConn>,
    pub channel: u32,
    pub output: mpsc::Receiver<ChannelMsg>,
    pub info: TermInfo,
    /// Typing is activity (for idle stop): call [`Typing::typed`] on input.
    pub typing: Typing,
}

/// Marks a workspace active when someone types into one of its terminals.
pub struct Typing {
    activity: Arc<Activity>,
    workspace: String,
}

impl Typing {
    pub fn typed(&self) {
        self.activity.touch(&self.workspace);
    }
}

pub struct WorkspaceTerminals {
    workspaces: Arc<WorkspaceManager>,
    audit: Arc<Audit>,
}

impl WorkspaceTerminals {
    pub fn new(workspaces: Arc<WorkspaceManager>, audit: Arc<Audit>) -> WorkspaceTerminals {
        WorkspaceTerminals { workspaces, audit }
    }

    pub async fn open(
        &self,
        p: &Principal,
        ws: &str,
        t: OpenTerminal,
    ) -> Result<TermInfo, CoreError> {
        let (id, conn) = self.workspaces.agent_of(p, ws, Action::Change).await?;
        let req = Request::TermOpen {
            shell: t.shell,
            cols: t.cols,
            rows: t.rows,
            cwd: t.cwd,
            env: t.env.clone(),
        };
        let info: TermInfo = conn.call_as(req, CALL).await?;
        // Variable names only on the record: values may be secrets.
        let detail = json!({
            "terminal": info.id, "cwd": info.cwd,
            "env": t.env.keys().collect::<Vec<_>>(),
        });
        let e = Entry::done(&p.actor(), Some(&id), "terminal.open", detail);
        self.audit.note(e).await;
        Ok(info)
    }

    pub async fn list(&self, p: &Principal, ws: &str) -> Result<Vec<TermInfo>, CoreError> {
        let (_, conn) = self.workspaces.agent_of(p, ws, Action::View).await?;
        conn.call_as(Request::TermList, CALL).await
    }

    /// Ends a terminal (its processes get SIGHUP).
    pub async fn kill(&self, p: &Principal, ws: &str, terminal: &str) -> Result<(), CoreError> {
        let (id, conn) = self.workspaces.agent_of(p, ws, Action::Change).await?;
        let req = Request::TermKill {
            id: terminal.to_owned(),
        };
        conn.call(req, CALL).await?;
        let detail = json!({ "terminal": terminal });
        let e = Entry::done(&p.actor(), Some(&id), "terminal.close", detail);
        self.audit.note(e).await;
        Ok(())
    }

    /// Attaches a viewer (which may type: attaching needs write access).
    pub async fn attach(
        &self,
        p: &Principal,
        ws: &str,
        terminal: &str,
    ) -> Result<Attached, CoreError> {
        let (ws_id, conn) = self.workspaces.agent_of(p, ws, Action::Change).await?;
        let id = terminal.to_owned();
        let (v, channel, output) = conn
            .call_with_channel(|channel| Request::TermAttach { id, channel }, CALL)
            .await?;
        let info = serde_json::from_value(v).map_err(|e| CoreError::Internal(e.to_string()))?;
        Ok(Attached {
            conn,
            channel,
            output,
            info,
            typing: Typing {
                activity: self.workspaces.activity().clone(),
                workspace: ws_id,
            },
        })
    }
}
