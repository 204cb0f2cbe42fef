//! A watch the agent keeps (files, ports): its events by channel, ended by
//! dropping it.

use super::{AgentConn, ChannelMsg};
use crate::CoreError;
use aicockpit_workspace_agent_proto::Request;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// How long the agent has to answer the `Unwatch` sent on drop.
const UNWATCH: Duration = Duration::from_secs(30);

/// A watch in progress; dropping it ends the agent's watch.
pub struct Watching {
    events: mpsc::Receiver<ChannelMsg>,
    /// Held for its `Drop`: ends the agent's watch with this value.
    _unwatch: Unwatch,
}

impl Watching {
    /// Asks the agent for the watch `make` describes on a new channel.
    pub(crate) async fn start(
        conn: Arc<AgentConn>,
        make: impl FnOnce(u32) -> Request,
        timeout: Duration,
    ) -> Result<Watching, CoreError> {
        let (_, channel, events) = conn.call_with_channel(make, timeout).await?;
        Ok(Watching {
            events,
            _unwatch: Unwatch { conn, channel },
        })
    }

    /// The next event's message, `None` once the watch ended.
    pub async fn next(&mut self) -> Option<ChannelMsg> {
        self.events.recv().await
    }
}

struct Unwatch {
    conn: Arc<AgentConn>,
    channel: u32,
}

impl Drop for Unwatch {
    fn drop(&mut self) {
        let conn = self.conn.clone();
        let channel = self.channel;
        conn.close_channel(channel);
        tokio::spawn(async move {
            let _ = conn.call(Request::Unwatch { channel }, UNWATCH).await;
        });
    }
}
