//! One server connection: frames in, requests dispatched, frames out.
//!
//! Requests run concurrently (a slow search never delays a keystroke).
//! Requests that consume a data channel (writes, uploads, terminal input)
//! register that channel before the next frame is read, so no data frame can
//! arrive before its consumer exists.

use crate::daemon::State;
use crate::{archive, files, search, watch};
use aicockpit_workspace_agent_proto::{
    AgentError, ErrorCode, Frame, FrameDecoder, FrameKind, Message, Request, CHANNEL_WINDOW,
    PROTOCOL_VERSION,
};
use bytes::Bytes;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio::sync::{mpsc, Semaphore};

/// A live watch of any kind (files, ports) by its channel; dropping it ends
/// it, which is all `Unwatch` and a closed connection need.
type Watching = Box<dyn Send>;

/// Where a connection's outgoing frames are queued, with the send windows
/// of its bulk streams.
#[derive(Clone)]
pub(crate) struct Outbox {
    tx: mpsc::Sender<Frame>,
    /// Per channel: bytes it may still send (granted by the server's
    /// `Credit`s); closed when the server cancels the channel.
    windows: Arc<Mutex<HashMap<u32, Arc<Semaphore>>>>,
}

impl Outbox {
    fn new(tx: mpsc::Sender<Frame>) -> Outbox {
        Outbox {
            tx,
            windows: Arc::default(),
        }
    }

    fn windows(&self) -> std::sync::MutexGuard<'_, HashMap<u32, Arc<Semaphore>>> {
        self.windows.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues without waiting; false if the queue is full or closed.
    pub(crate) fn try_send(&self, f: Frame) -> bool {
        self.tx.try_send(f).is_ok()
    }

    pub(crate) fn send(&self, f: Frame) {
        let _ = self.tx.try_send(f);
    }

    pub(crate) async fn send_wait(&self, f: Frame) -> bool {
        self.tx.send(f).await.is_ok()
    }

    /// Opens `channel`'s send window ([`CHANNEL_WINDOW`] bytes).
    pub(crate) fn open_window(&self, channel: u32) {
        let w = Arc::new(Semaphore::new(CHANNEL_WINDOW));
        self.windows().insert(channel, w);
    }

    /// Sends data on a windowed channel, waiting while its window is
    /// spent; false once the channel is cancelled or the link is gone (the
    /// producer should stop).
    pub(crate) async fn send_paced(&self, channel: u32, data: Bytes) -> bool {
        let Some(w) = self.windows().get(&channel).cloned() else {
            return false;
        };
        let n = u32::try_from(data.len().min(CHANNEL_WINDOW)).unwrap_or(u32::MAX);
        match w.acquire_many(n).await {
            Ok(permit) => permit.forget(),
            Err(_) => return false,
        }
        self.send_wait(Frame::data(channel, data)).await
    }

    /// Ends a windowed stream: its end-of-data goes out and the window is
    /// dropped.
    pub(crate) async fn finish(&self, channel: u32) {
        self.windows().remove(&channel);
        self.send_wait(Frame::eof(channel)).await;
    }

    fn credit(&self, channel: u32, bytes: u64) {
        if let Some(w) = self.windows().get(&channel) {
            // Never more than one window outstanding, whatever is granted.
            let room = CHANNEL_WINDOW.saturating_sub(w.available_permits());
            w.add_permits((bytes as usize).min(room));
        }
    }

    /// Drops `channel`'s window (the server cancelled it, or the stream
    /// failed before it began).
    pub(crate) fn cancel(&self, channel: u32) {
        if let Some(w) = self.windows().remove(&channel) {
            w.close();
        }
    }

    /// The link is gone: every waiting producer stops.
    fn cancel_all(&self) {
        for (_, w) in self.windows().drain() {
            w.close();
        }
    }

    async fn respond<T: Serialize>(&self, id: u64, r: Result<T, AgentError>) {
        let result = r.map(|v| serde_json::to_value(v).unwrap_or(serde_json::Value::Null));
        let mut frame = Frame::json(&Message::Response { id, result });
        if frame.payload.len() > aicockpit_workspace_agent_proto::MAX_FRAME {
            // A reply the link cannot carry in one frame would end the link
            // (and every terminal on it) at the server: answer with an error.
            let msg = format!(
                "the answer is {} bytes, more than one reply may carry ({} bytes); ask for less",
                frame.payload.len(),
                aicockpit_workspace_agent_proto::MAX_FRAME
            );
            frame = Frame::json(&Message::Response {
                id,
                result: Err(AgentError::new(ErrorCode::TooLarge, msg)),
            });
        }
        self.send_wait(frame).await;
    }
}

/// What a data channel feeds.
enum Sink {
    Terminal(Arc<crate::term::Terminal>),
    /// A consumer of the server's data (a file write, an archive upload, a
    /// TCP connection). `Err` = the sender aborted: discard, do not commit.
    Upload(mpsc::Sender<Result<Bytes, ()>>),
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, AgentError> + Send + 'static,
) -> Result<T, AgentError> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(AgentError::new(ErrorCode::Io, e.to_string())))
}

pub(crate) async fn serve<R, W>(mut rd: R, wr: W, st: Arc<State>)
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let conn = st.next_conn();
    let (tx, rx) = mpsc::channel::<Frame>(8192);
    let out = Outbox::new(tx);

    let writer = tokio::spawn(aicockpit_workspace_agent_proto::write_frames(rx, wr));

    out.send_wait(Frame::json(&Message::Hello {
        protocol: PROTOCOL_VERSION,
        version: env!("CARGO_PKG_VERSION").to_owned(),
        landlock_abi: aicockpit_workspace_agent_proto::sandbox::landlock_abi(),
    }))
    .await;

    // Events for every connection (terminal exits).
    let mut events = st.events.subscribe();
    let ev_out = out.clone();
    let ev_task = tokio::spawn(async move {
        while let Ok(event) = events.recv().await {
            if !ev_out
                .send_wait(Frame::json(&Message::Event { event }))
                .await
            {
                break;
            }
        }
    });

    let mut sinks: HashMap<u32, Sink> = HashMap::new();
    let mut watches: HashMap<u32, Watching> = HashMap::new();
    let mut decoder = FrameDecoder::default();
    let mut buf = vec![0u8; 64 * 1024];
    'read: loop {
        let n = match rd.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        decoder.push(&buf[..n]);
        loop {
            let frame = match decoder.next_frame() {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(_) => break 'read,
            };
            match frame.kind {
                FrameKind::Data => match sinks.get(&frame.channel) {
                    Some(Sink::Terminal(t)) => t.type_bytes(frame.payload).await,
                    Some(Sink::Upload(tx)) => {
                        // A consumer that gave up (an error) just drops data.
                        let _ = tx.send(Ok(frame.payload)).await;
                    }
                    None => {}
                },
                FrameKind::Eof => {
                    if let Some(Sink::Upload(tx)) = sinks.remove(&frame.channel) {
                        if frame.is_abort() {
                            let _ = tx.send(Err(())).await;
                        }
                    }
                }
                FrameKind::Json => match serde_json::from_slice::<Message>(&frame.payload) {
                    Ok(Message::Request { id, req }) => {
                        dispatch(id, req, &st, conn, &out, &mut sinks, &mut watches).await;
                    }
                    Ok(Message::Credit { channel, bytes }) => out.credit(channel, bytes),
                    // The server's reader of the channel went away: a
                    // watch on it ends too (its Unwatch may never come).
                    Ok(Message::Cancel { channel }) => {
                        out.cancel(channel);
                        watches.remove(&channel);
                    }
                    _ => {}
                },
            }
        }
    }

    out.cancel_all();
    for t in st.terminals() {
        t.detach_conn(conn);
    }
    drop(watches);
    ev_task.abort();
    drop(out);
    let _ = writer.await;
}

async fn dispatch(
    id: u64,
    req: Request,
    st: &Arc<State>,
    conn: u64,
    out: &Outbox,
    sinks: &mut HashMap<u32, Sink>,
    watches: &mut HashMap<u32, Watching>,
) {
    let root = st.root.clone();
    let out2 = out.clone();
    match req {
        Request::TermOpen {
            shell,
            cols,
            rows,
            cwd,
            env,
        } => {
            let r = st.open_terminal(shell, cols, rows, cwd, env);
            out.respond(id, r).await;
        }
        Request::TermList => out.respond(id, Ok(st.terminal_infos())).await,
        Request::KeepAlive { for_secs, reason } => {
            out.respond(id, crate::keepalive::hold(st, for_secs, reason))
                .await
        }
        Request::KeptAlive => out.respond(id, Ok(crate::keepalive::current(st))).await,
        Request::GitCredential { ask } => {
            let st = st.clone();
            tokio::spawn(
                async move { out2.respond(id, crate::gitcred::ask(&st, ask).await).await },
            );
        }
        Request::GitCredentialAnswer { ask, credential } => {
            crate::gitcred::answer(st, ask, credential);
            out.respond(id, Ok(())).await
        }
        Request::SshAgentAnswer { ask, reply } => {
            crate::sshagent::answer(st, ask, reply);
            out.respond(id, Ok(())).await
        }
        Request::TermAttach { id: tid, channel } => match st.terminal(&tid) {
            Some(t) => {
                sinks.insert(channel, Sink::Terminal(t.clone()));
                // The response goes first so the server knows the attach
                // worked before replayed output arrives.
                let info = t.info();
                out.respond(id, Ok(info)).await;
                t.attach(conn, channel, out.clone());
            }
            None => out.respond::<()>(id, Err(no_terminal(&tid))).await,
        },
        Request::TermDetach { channel } => {
            if let Some(Sink::Terminal(t)) = sinks.remove(&channel) {
                t.detach(conn, channel);
            }
            out.respond(id, Ok(())).await;
        }
        Request::TermResize {
            id: tid,
            cols,
            rows,
        } => match st.terminal(&tid) {
            Some(t) => {
                t.resize(cols, rows).await;
                out.respond(id, Ok(t.info())).await;
            }
            None => out.respond::<()>(id, Err(no_terminal(&tid))).await,
        },
        Request::TermKill { id: tid } => match st.terminal(&tid) {
            Some(t) => {
                t.kill();
                st.forget_terminal_later(&tid);
                out.respond(id, Ok(())).await;
            }
            None => out.respond::<()>(id, Err(no_terminal(&tid))).await,
        },
        Request::List {
            path,
            offset,
            limit,
        } => {
            tokio::spawn(async move {
                let page = blocking(move || files::list_page(&root, &path, offset, limit)).await;
                out2.respond(id, page).await
            });
        }
        Request::Resolve { paths } => {
            tokio::spawn(async move {
                out2.respond(id, blocking(move || files::resolve(&paths)).await)
                    .await
            });
        }
        Request::Stat { path } => {
            tokio::spawn(async move {
                out2.respond(id, blocking(move || files::stat(&root, &path)).await)
                    .await
            });
        }
        Request::Mkdir { path, parents } => {
            tokio::spawn(async move {
                out2.respond(
                    id,
                    blocking(move || files::mkdir(&root, &path, parents)).await,
                )
                .await
            });
        }
        Request::Rename {
            from,
            to,
            overwrite,
        } => {
            tokio::spawn(async move {
                out2.respond(
                    id,
                    blocking(move || files::rename(&root, &from, &to, overwrite)).await,
                )
                .await
            });
        }
        Request::Delete { path, recursive } => {
            tokio::spawn(async move {
                out2.respond(
                    id,
                    blocking(move || files::delete(&root, &path, recursive)).await,
                )
                .await
            });
        }
        Request::Read { path, channel } => {
            out.open_window(channel);
            tokio::spawn(
                async move { crate::stream::read_file(root, path, id, channel, out2).await },
            );
        }
        Request::Write {
            path,
            channel,
            if_match,
            create_only,
            max_bytes,
        } => {
            let (tx, rx) = mpsc::channel::<Result<Bytes, ()>>(64);
            sinks.insert(channel, Sink::Upload(tx));
            tokio::spawn(async move {
                let r = crate::stream::write_file(root, path, if_match, create_only, max_bytes, rx)
                    .await;
                out2.respond(id, r).await;
            });
        }
        Request::ArchiveOut { path, channel } => {
            out.open_window(channel);
            tokio::spawn(async move { archive::send(root, path, id, channel, out2).await });
        }
        Request::ArchiveIn {
            path,
            channel,
            max_bytes,
            max_entries,
        } => {
            let (tx, rx) = mpsc::channel::<Result<Bytes, ()>>(64);
            sinks.insert(channel, Sink::Upload(tx));
            tokio::spawn(async move {
                let r = archive::receive(root, path, max_bytes, max_entries, rx).await;
                out2.respond(id, r).await;
            });
        }
        Request::TcpConnect { port, channel } => {
            // Registered now, so that no data frame can arrive before it.
            let (tx, rx) = mpsc::channel::<Result<Bytes, ()>>(64);
            sinks.insert(channel, Sink::Upload(tx));
            out.open_window(channel);
            tokio::spawn(async move {
                match crate::tcp::connect(port).await {
                    Ok(stream) => {
                        out2.respond(id, Ok(())).await;
                        crate::tcp::pump(stream, channel, out2, rx).await;
                    }
                    Err(e) => {
                        out2.cancel(channel);
                        out2.respond::<()>(id, Err(e)).await;
                    }
                }
            });
        }
        Request::SshOpen {
            channel,
            host_key_seed,
        } => {
            let (tx, rx) = mpsc::channel::<Result<Bytes, ()>>(64);
            sinks.insert(channel, Sink::Upload(tx));
            out.open_window(channel);
            match crate::ssh::parse_seed(&host_key_seed) {
                Ok(seed) => {
                    // Sessions start where terminals do.
                    let start = crate::term::start_folder(&root);
                    let cwd = root
                        .resolve(&start)
                        .unwrap_or_else(|_| root.path().to_owned());
                    tokio::spawn(async move {
                        // The SSH server on one end of an in-memory pipe,
                        // the channel on the other.
                        let (ours, theirs) = tokio::io::duplex(256 * 1024);
                        out2.respond(id, Ok(())).await;
                        let pumped = crate::tcp::pump(theirs, channel, out2, rx);
                        let served = crate::ssh::serve(seed, cwd, ours);
                        let (_, _) = tokio::join!(pumped, served);
                    });
                }
                Err(e) => {
                    out.cancel(channel);
                    tokio::spawn(async move { out2.respond::<()>(id, Err(e)).await });
                }
            }
        }
        Request::Search(q) => {
            tokio::spawn(async move {
                out2.respond(id, blocking(move || search::search(&root, &q)).await)
                    .await
            });
        }
        Request::FindFiles { query, max_results } => {
            tokio::spawn(async move {
                out2.respond(
                    id,
                    blocking(move || search::find_files(&root, &query, max_results)).await,
                )
                .await
            });
        }
        Request::Watch { path, channel } => {
            if watches.len() >= MAX_WATCHES {
                out.respond::<()>(id, Err(too_many_watches())).await;
                return;
            }
            match watch::Watch::start(&root, &path, channel, out.clone()) {
                Ok(w) => {
                    watches.insert(channel, Box::new(w));
                    out.respond(id, Ok(())).await;
                }
                Err(e) => out.respond::<()>(id, Err(e)).await,
            }
        }
        Request::Unwatch { channel } => {
            watches.remove(&channel);
            out.respond(id, Ok(())).await;
        }
        Request::ListeningPorts => {
            tokio::spawn(async move {
                let r = blocking(|| Ok(crate::ports::listening())).await;
                out2.respond(id, r).await
            });
        }
        Request::WatchPorts { channel } => {
            if watches.len() >= MAX_WATCHES {
                out.respond::<()>(id, Err(too_many_watches())).await;
                return;
            }
            watches.insert(channel, Box::new(crate::ports::watch(channel, out.clone())));
            out.respond(id, Ok(())).await;
        }
    }
}

/// Watches (files and ports together) one connection may hold: each IDE
/// tab holds two, and each costs the agent a task and a timer or inotify
/// watches.
const MAX_WATCHES: usize = 64;

fn too_many_watches() -> AgentError {
    AgentError::new(
        ErrorCode::TooLarge,
        format!("more than {MAX_WATCHES} watches"),
    )
}

fn no_terminal(id: &str) -> AgentError {
    AgentError::new(ErrorCode::NotFound, format!("no terminal {id:?}"))
}
