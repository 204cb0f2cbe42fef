//! One connection to an agent: requests with responses, data channels, events.

use crate::CoreError;
use aicockpit_runtime::Attached;
use aicockpit_workspace_agent_proto::{
    AgentError, ErrorCode, Event, Frame, FrameDecoder, FrameError, FrameKind, Message, Request,
};
use bytes::Bytes;
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, oneshot};

/// How long the agent may take to say hello.
const HELLO_TIMEOUT: Duration = Duration::from_secs(15);

/// What arrives on a data channel.
#[derive(Debug)]
pub enum ChannelMsg {
    Data(Bytes),
    /// A watch's changes.
    Event(Event),
}

type Pending = oneshot::Sender<Result<serde_json::Value, AgentError>>;

/// A request sent whose answer has not been read yet.
pub struct Waiting {
    id: u64,
    rx: oneshot::Receiver<Result<serde_json::Value, AgentError>>,
}

pub struct AgentConn {
    out: mpsc::Sender<Frame>,
    pending: Mutex<HashMap<u64, Pending>>,
    channels: Mutex<HashMap<u32, ChannelIn>>,
    events: broadcast::Sender<Event>,
    next_id: AtomicU64,
    next_channel: AtomicU32,
    alive: AtomicBool,
    pub protocol: u32,
    pub version: String,
    /// The Landlock ABI of the workspace's kernel (0: none).
    pub landlock_abi: u32,
}

/// Bytes a channel's reader may fall behind before the channel is closed.
const MAX_QUEUED: usize = 32 * 1024 * 1024;

/// The link's side of a data channel.
#[derive(Clone)]
struct ChannelIn {
    intake: mpsc::UnboundedSender<ChannelMsg>,
    queued: Arc<std::sync::atomic::AtomicUsize>,
}

impl ChannelMsg {
    /// What a queued message costs.
    fn weight(&self) -> usize {
        match self {
            ChannelMsg::Data(b) => b.len() + 64,
            ChannelMsg::Event(e) => event_weight(e),
        }
    }
}

/// What a queued event costs, by what it holds: an agent may send one as
/// large as a frame (a port's program name of a megabyte), so a flat price
/// would let an unread watch queue far more than [`MAX_QUEUED`] bytes.
fn event_weight(e: &Event) -> usize {
    256 + match e {
        Event::Fs { changes, .. } => changes.iter().map(|c| c.path.len() + 32).sum(),
        Event::Ports { ports, .. } => ports
            .iter()
            .map(|p| p.process.as_ref().map_or(0, String::len) + 32)
            .sum(),
        _ => 0,
    }
}

fn gone() -> CoreError {
    CoreError::AgentUnavailable("the connection to the workspace agent was lost".into())
}

/// The bridge's output was not the protocol: the engine (or whatever ran
/// in its place) wrote text such as "cannot exec in a stopped state".
/// Shown bounded and printable only.
fn not_the_agent(decoder: &FrameDecoder, e: &FrameError) -> CoreError {
    let text: String = String::from_utf8_lossy(decoder.pending())
        .lines()
        .next()
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_control() && *c != char::REPLACEMENT_CHARACTER)
        .take(200)
        .collect();
    if text.trim().is_empty() {
        CoreError::AgentUnavailable(e.to_string())
    } else {
        CoreError::AgentUnavailable(format!(
            "the workspace agent did not start: {}",
            text.trim()
        ))
    }
}

impl AgentConn {
    /// Takes over an attached bridge process and waits for the hello.
    pub(crate) async fn start(attached: Attached) -> Result<Arc<AgentConn>, CoreError> {
        let Attached { mut output, input } = attached;
        let mut decoder = FrameDecoder::default();
        // The hello comes first; read until it is there.
        let hello = tokio::time::timeout(HELLO_TIMEOUT, async {
            loop {
                if let Some(f) = decoder
                    .next_frame()
                    .map_err(|e| not_the_agent(&decoder, &e))?
                {
                    return match serde_json::from_slice::<Message>(&f.payload) {
                        Ok(Message::Hello {
                            protocol,
                            version,
                            landlock_abi,
                        }) if f.kind == FrameKind::Json => Ok((protocol, version, landlock_abi)),
                        _ => Err(CoreError::AgentUnavailable(
                            "the agent did not say hello".into(),
                        )),
                    };
                }
                match output.next().await {
                    Some(Ok(chunk)) => decoder.push(&chunk),
                    Some(Err(e)) => return Err(CoreError::from(e)),
                    None => {
                        return Err(CoreError::AgentUnavailable(
                            "the agent exited before saying hello (is /tmp writable?)".into(),
                        ))
                    }
                }
            }
        })
        .await
        .map_err(|_| CoreError::AgentUnavailable("the agent did not answer in time".into()))??;

        let (tx, rx) = mpsc::channel::<Frame>(4096);
        let (events, _) = broadcast::channel(256);
        let conn = Arc::new(AgentConn {
            out: tx,
            pending: Mutex::new(HashMap::new()),
            channels: Mutex::new(HashMap::new()),
            events,
            next_id: AtomicU64::new(1),
            next_channel: AtomicU32::new(1),
            alive: AtomicBool::new(true),
            protocol: hello.0,
            version: hello.1,
            landlock_abi: hello.2,
        });

        let writer_conn = Arc::downgrade(&conn);
        tokio::spawn(async move {
            aicockpit_workspace_agent_proto::write_frames(rx, input).await;
            if let Some(c) = writer_conn.upgrade() {
                c.shut();
            }
        });

        // Reader: route responses, data and events.
        let reader_conn = Arc::downgrade(&conn);
        tokio::spawn(async move {
            'outer: loop {
                loop {
                    let frame = match decoder.next_frame() {
                        Ok(Some(f)) => f,
                        Ok(None) => break,
                        Err(_) => break 'outer,
                    };
                    let Some(c) = reader_conn.upgrade() else {
                        break 'outer;
                    };
                    c.route(frame).await;
                }
                match output.next().await {
                    Some(Ok(chunk)) => decoder.push(&chunk),
                    _ => break,
                }
            }
            if let Some(c) = reader_conn.upgrade() {
                c.shut();
            }
        });
        Ok(conn)
    }

    async fn route(&self, frame: Frame) {
        match frame.kind {
            FrameKind::Json => match serde_json::from_slice::<Message>(&frame.payload) {
                Ok(Message::Response { id, result }) => {
                    let waiter = self
                        .pending
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .remove(&id);
                    if let Some(w) = waiter {
                        let _ = w.send(result);
                    }
                }
                Ok(Message::Event { event }) => match &event {
                    Event::Fs { channel, .. } | Event::Ports { channel, .. } => {
                        let ch = *channel;
                        self.deliver(ch, ChannelMsg::Event(event));
                    }
                    Event::TermExit { .. } => {
                        let _ = self.events.send(event);
                    }
                    // Only asks within bounds are kept for the answerer
                    // (the broadcast holds up to its capacity of them).
                    Event::GitCredentialWanted { query, .. } => {
                        if query.is_bounded() {
                            let _ = self.events.send(event);
                        }
                    }
                    Event::SshAgentWanted { query, .. } => {
                        if query.is_bounded() {
                            let _ = self.events.send(event);
                        }
                    }
                },
                _ => {}
            },
            FrameKind::Data => self.deliver(frame.channel, ChannelMsg::Data(frame.payload)),
            FrameKind::Eof => {
                // Dropping the sender ends the receiver's stream.
                self.close_channel(frame.channel);
            }
        }
    }

    fn channel(&self, ch: u32) -> Option<ChannelIn> {
        self.channels
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&ch)
            .cloned()
    }

    /// Hands a channel's message to its reader without ever waiting: the
    /// link's one reader task must not stall on one slow consumer (a
    /// throttled download, an unread watch) while terminals wait behind it.
    /// What a reader has not taken is queued up to [`MAX_QUEUED`]; past
    /// that its channel is closed, and only that reader loses.
    fn deliver(&self, ch: u32, msg: ChannelMsg) {
        let Some(c) = self.channel(ch) else { return };
        let n = msg.weight();
        if c.queued.load(Ordering::Relaxed) + n > MAX_QUEUED {
            tracing::warn!(
                channel = ch,
                "closing a channel whose reader fell {MAX_QUEUED} bytes behind"
            );
            self.close_channel(ch);
            return;
        }
        c.queued.fetch_add(n, Ordering::Relaxed);
        if c.intake.send(msg).is_err() {
            self.close_channel(ch);
        }
    }

    fn shut(&self) {
        self.alive.store(false, Ordering::SeqCst);
        // Waiters see their sender dropped: "connection lost".
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        self.channels
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    pub fn is_alive(&self) -> bool {
        self.alive.load(Ordering::SeqCst)
    }

    /// Terminal exits and credential asks, for everyone interested.
    pub fn subscribe_events(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    /// Reserves a data channel; what the agent sends on it arrives here.
    pub fn open_channel(&self) -> (u32, mpsc::Receiver<ChannelMsg>) {
        let ch = self.next_channel.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::channel(64);
        let (intake, mut queue) = mpsc::unbounded_channel::<ChannelMsg>();
        let queued = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let q = queued.clone();
        let out = self.out.clone();
        // The channel's own mover: waits for its reader, in order; ends
        // (ending the reader's stream) once the intake is closed and
        // drained, or when the reader is gone. What the reader takes is
        // credited back to the agent, so a bulk stream runs as fast as its
        // reader and no faster (CHANNEL_WINDOW); a gone reader cancels it.
        tokio::spawn(async move {
            while let Some(m) = queue.recv().await {
                let n = m.weight();
                let data = match &m {
                    ChannelMsg::Data(b) => b.len() as u64,
                    ChannelMsg::Event(_) => 0,
                };
                let sent = tx.send(m).await;
                q.fetch_sub(n, Ordering::Relaxed);
                if sent.is_err() {
                    break;
                }
                if data > 0 {
                    let credit = Message::Credit {
                        channel: ch,
                        bytes: data,
                    };
                    if out.send(Frame::json(&credit)).await.is_err() {
                        return;
                    }
                }
            }
            let _ = out
                .send(Frame::json(&Message::Cancel { channel: ch }))
                .await;
        });
        self.channels
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(ch, ChannelIn { intake, queued });
        (ch, rx)
    }

    pub fn close_channel(&self, ch: u32) {
        self.channels
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&ch);
    }

    /// Sends a request that answers on a data channel of its own (reads,
    /// archives, watches, terminal attaches): the channel is registered
    /// before the request leaves, and released again if the request fails.
    pub async fn call_with_channel(
        &self,
        make: impl FnOnce(u32) -> Request,
        timeout: Duration,
    ) -> Result<(serde_json::Value, u32, mpsc::Receiver<ChannelMsg>), CoreError> {
        let (ch, rx) = self.open_channel();
        match self.call(make(ch), timeout).await {
            Ok(v) => Ok((v, ch, rx)),
            Err(e) => {
                self.close_channel(ch);
                Err(e)
            }
        }
    }

    /// Sends a request whose data follows on its channel (a file write, an
    /// archive upload), streams `data` there within `max` bytes, and returns
    /// the answer the agent gives once it has everything. If the data fails,
    /// exceeds `max`, or this future is dropped half-way, the channel is
    /// ended as aborted, so the agent never commits a truncated upload.
    pub async fn upload<S>(
        &self,
        make: impl FnOnce(u32) -> Request,
        data: S,
        max: u64,
        too_large: &str,
        timeout: Duration,
    ) -> Result<serde_json::Value, CoreError>
    where
        S: futures_util::Stream<Item = Result<Bytes, CoreError>> + Unpin,
    {
        struct AbortOnDrop<'a> {
            conn: &'a AgentConn,
            channel: u32,
            armed: bool,
        }
        impl Drop for AbortOnDrop<'_> {
            fn drop(&mut self) {
                if self.armed {
                    self.conn.abort_channel(self.channel);
                }
            }
        }
        // Data only flows to the agent on this channel: no receiver needed.
        let ch = self.next_channel.fetch_add(1, Ordering::Relaxed);
        let waiting = self.send_request(make(ch)).await?;
        let mut guard = AbortOnDrop {
            conn: self,
            channel: ch,
            armed: true,
        };
        let mut data = data;
        let mut total = 0u64;
        while let Some(chunk) = data.next().await {
            let chunk = chunk?;
            total += chunk.len() as u64;
            if total > max {
                return Err(CoreError::TooLarge(too_large.to_owned()));
            }
            self.send_data(ch, chunk).await?;
        }
        guard.armed = false;
        self.send_eof(ch).await?;
        self.answer(waiting, timeout).await
    }

    /// Sends bytes on a channel (terminal input, upload data).
    pub async fn send_data(&self, ch: u32, data: Bytes) -> Result<(), CoreError> {
        self.out
            .send(Frame::data(ch, data))
            .await
            .map_err(|_| gone())
    }

    pub async fn send_eof(&self, ch: u32) -> Result<(), CoreError> {
        self.out.send(Frame::eof(ch)).await.map_err(|_| gone())
    }

    /// Ends a channel's data as aborted (the agent discards the write).
    /// Synchronous so that it can run from `Drop`.
    pub fn abort_channel(&self, ch: u32) {
        let _ = self.out.try_send(Frame::abort(ch));
    }

    /// Sends a request and waits for its answer.
    pub async fn call(
        &self,
        req: Request,
        timeout: Duration,
    ) -> Result<serde_json::Value, CoreError> {
        let waiting = self.send_request(req).await?;
        self.answer(waiting, timeout).await
    }

    /// Queues a request; data for its channel may be sent right after, and
    /// [`answer`](Self::answer) waits for the response.
    pub async fn send_request(&self, req: Request) -> Result<Waiting, CoreError> {
        if !self.is_alive() {
            return Err(gone());
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, tx);
        if self
            .out
            .send(Frame::json(&Message::Request { id, req }))
            .await
            .is_err()
        {
            self.pending
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&id);
            return Err(gone());
        }
        Ok(Waiting { id, rx })
    }

    pub async fn answer(
        &self,
        waiting: Waiting,
        timeout: Duration,
    ) -> Result<serde_json::Value, CoreError> {
        let Waiting { id, rx } = waiting;
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(Ok(v))) => Ok(v),
            Ok(Ok(Err(e))) => Err(agent_error(e)),
            Ok(Err(_)) => Err(gone()),
            Err(_) => {
                self.pending
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&id);
                Err(CoreError::AgentUnavailable(
                    "the workspace agent did not answer in time".into(),
                ))
            }
        }
    }

    /// [`call`](Self::call) with the answer decoded.
    pub async fn call_as<T: DeserializeOwned>(
        &self,
        req: Request,
        timeout: Duration,
    ) -> Result<T, CoreError> {
        let v = self.call(req, timeout).await?;
        serde_json::from_value(v)
            .map_err(|e| CoreError::Internal(format!("unexpected agent answer: {e}")))
    }
}

/// The agent's refusal, as the domain's error.
pub(crate) fn agent_error(e: AgentError) -> CoreError {
    match e.code {
        ErrorCode::NotFound => CoreError::NotFound(e.message),
        ErrorCode::Exists => CoreError::conflict("already_exists", e.message),
        ErrorCode::OutsideWorkspace => CoreError::invalid("path_outside_workspace", e.message),
        ErrorCode::NotADirectory => CoreError::invalid("not_a_directory", e.message),
        ErrorCode::IsADirectory => CoreError::invalid("is_a_directory", e.message),
        ErrorCode::DirectoryNotEmpty => CoreError::conflict("directory_not_empty", e.message),
        ErrorCode::PreconditionFailed => CoreError::PreconditionFailed(e.message),
        ErrorCode::TooLarge => CoreError::TooLarge(e.message),
        ErrorCode::Invalid => CoreError::invalid("invalid_request", e.message),
        ErrorCode::PermissionDenied => CoreError::Forbidden(e.message),
        ErrorCode::Io => CoreError::Internal(format!("workspace agent: {}", e.message)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the engine may write in place of the agent, and what the user
    /// is told.
    #[test]
    fn text_in_place_of_the_protocol_is_shown_bounded() {
        let long = "x".repeat(5000);
        let cases: [(&[u8], &str); 4] = [
            (
                b"cannot exec in a stopped state: unknown\r\n",
                "workspace agent unavailable: the workspace agent did not start: cannot exec in a stopped state: unknown",
            ),
            (
                b"OCI runtime exec failed: \x1b[31mno such file\x07\nsecond line",
                "workspace agent unavailable: the workspace agent did not start: OCI runtime exec failed: [31mno such file",
            ),
            (b"\xff\xff\xff\xff\x00", "workspace agent unavailable: bad frame: length 4294967295 out of range"),
            (long.as_bytes(), ""),
        ];
        for (input, want) in cases {
            let mut d = FrameDecoder::default();
            d.push(input);
            let err = d.next_frame().expect_err("not a frame");
            let got = not_the_agent(&d, &err).to_string();
            if want.is_empty() {
                assert!(got.len() < 300, "bounded: {}", got.len());
            } else {
                assert_eq!(got, want);
            }
        }
    }
}
