//! `WorkspacePorts`: the ports something in a workspace listens on, and
//! connections to them carried by the workspace agent (which dials the
//! workspace's own loopback), for port forwarding. Who may connect is who may change the workspace; each
//! connection is on the audit record and counts as activity.

use crate::access::Action;
use crate::audit::{Audit, Entry};
use crate::auth::Principal;
use crate::workspace_agent::{AgentConn, ChannelMsg, Watching};
use crate::workspaces::activity::Activity;
use crate::workspaces::WorkspaceManager;
use crate::CoreError;
use aicockpit_workspace_agent_proto::{ListeningPort, Request};
use bytes::Bytes;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// Dialling gives up after the agent's own 5 s and a margin.
const CONNECT: Duration = Duration::from_secs(10);

pub struct WorkspacePorts {
    workspaces: Arc<WorkspaceManager>,
    audit: Arc<Audit>,
}

/// One open connection to a port: send with [`Tunnel::send`], receive on
/// `incoming` (ends when the port closes its side), finish with
/// [`Tunnel::close`].
pub struct Tunnel {
    conn: Arc<AgentConn>,
    channel: u32,
    pub incoming: mpsc::Receiver<ChannelMsg>,
    activity: Arc<Activity>,
    workspace: String,
}

impl Tunnel {
    pub(crate) fn new(
        conn: Arc<AgentConn>,
        channel: u32,
        incoming: mpsc::Receiver<ChannelMsg>,
        activity: Arc<Activity>,
        workspace: String,
    ) -> Tunnel {
        activity.touch(&workspace);
        Tunnel {
            conn,
            channel,
            incoming,
            activity,
            workspace,
        }
    }

    /// The id of the workspace it reaches.
    pub fn workspace(&self) -> &str {
        &self.workspace
    }

    /// Bytes for the port; traffic is activity (for idle stop).
    pub async fn send(&self, data: Bytes) -> Result<(), CoreError> {
        self.activity.touch(&self.workspace);
        self.conn.send_data(self.channel, data).await
    }

    /// The client is done sending (the port sees end-of-data).
    pub async fn finish_sending(&self) {
        let _ = self.conn.send_eof(self.channel).await;
    }

    /// Ends the connection both ways.
    pub fn close(&self) {
        self.conn.abort_channel(self.channel);
        self.conn.close_channel(self.channel);
    }
}

impl WorkspacePorts {
    pub fn new(workspaces: Arc<WorkspaceManager>, audit: Arc<Audit>) -> WorkspacePorts {
        WorkspacePorts { workspaces, audit }
    }

    /// The TCP ports something in workspace `ws` listens on.
    pub async fn listening(
        &self,
        p: &Principal,
        ws: &str,
    ) -> Result<Vec<ListeningPort>, CoreError> {
        let (_, conn) = self.workspaces.agent_of(p, ws, Action::View).await?;
        conn.call_as(Request::ListeningPorts, CONNECT).await
    }

    /// The listening ports of workspace `ws` as they change: the agent
    /// sends them whole at once and then on every change, as
    /// `Event::Ports`.
    pub async fn watch(&self, p: &Principal, ws: &str) -> Result<Watching, CoreError> {
        let (_, conn) = self.workspaces.agent_of(p, ws, Action::View).await?;
        Watching::start(conn, |channel| Request::WatchPorts { channel }, CONNECT).await
    }

    /// Connects to `port` inside workspace `ws` (port forwarding: audited
    /// per connection).
    pub async fn connect(&self, p: &Principal, ws: &str, port: u16) -> Result<Tunnel, CoreError> {
        if port == 0 {
            return Err(CoreError::invalid("invalid_port", "ports are 1-65535"));
        }
        let (id, conn) = self.workspaces.agent_of(p, ws, Action::Change).await?;
        let tunnel = self.dial(id, conn, port).await?;
        let e = Entry::done(
            &p.actor(),
            Some(&tunnel.workspace),
            "port.connect",
            json!({ "port": port }),
        );
        self.audit.note(e).await;
        Ok(tunnel)
    }

    /// Connects to `port` of workspace `ws_id` for a preview request, whose
    /// access `previews` decided. Not audited per request (a page load is
    /// dozens): opening a preview and changing who may are.
    pub(crate) async fn connect_for_preview(
        &self,
        ws_id: &str,
        port: u16,
    ) -> Result<Tunnel, CoreError> {
        let (id, conn) = self.workspaces.agent_for_preview(ws_id).await?;
        self.dial(id, conn, port).await
    }

    async fn dial(&self, id: String, conn: Arc<AgentConn>, port: u16) -> Result<Tunnel, CoreError> {
        open_tunnel(&self.workspaces, id, conn, |channel| Request::TcpConnect {
            port,
            channel,
        })
        .await
    }
}

/// Opens a channel to the agent, asks it (`request` names the channel) to
/// start carrying bytes on it, and wraps it as a [`Tunnel`]. A refusal
/// leaves nothing open on either side.
pub(crate) async fn open_tunnel(
    workspaces: &WorkspaceManager,
    id: String,
    conn: Arc<AgentConn>,
    request: impl FnOnce(u32) -> Request,
) -> Result<Tunnel, CoreError> {
    let (channel, incoming) = conn.open_channel();
    if let Err(e) = conn.call(request(channel), CONNECT).await {
        // The agent registered the channel before acting on it: end it
        // there too.
        conn.close_channel(channel);
        let _ = conn.send_eof(channel).await;
        return Err(e);
    }
    let activity = workspaces.activity().clone();
    Ok(Tunnel::new(conn, channel, incoming, activity, id))
}
