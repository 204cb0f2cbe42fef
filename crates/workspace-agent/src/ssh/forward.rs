//! TCP forwarding: `-L` (the client asks us to connect somewhere from the
//! workspace) and `-R` (we listen in the workspace and hand each accepted
//! connection to the client).

use super::ChannelSlot;
use russh::server::{Handle, Msg};
use russh::Channel;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// `-L`: connects to `host:port` as seen from the workspace and carries the
/// connection on `channel`.
pub(super) async fn direct(channel: Channel<Msg>, host: String, port: u16) {
    let connected =
        tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect((host.as_str(), port))).await;
    match connected {
        Ok(Ok(mut tcp)) => {
            let _ = tcp.set_nodelay(true);
            let mut stream = channel.into_stream();
            let _ = tokio::io::copy_bidirectional(&mut stream, &mut tcp).await;
        }
        _ => {
            let _ = channel.close().await;
        }
    }
}

/// Where a client's `-R` address listens: OpenSSH's conventions ("" and
/// "*" = every address, "localhost" = loopback).
fn bind_address(address: &str) -> &str {
    match address {
        "" | "*" => "0.0.0.0",
        "localhost" => "127.0.0.1",
        a => a,
    }
}

/// `-R`: listens on `address:port` in the workspace; each connection is
/// offered to the client as a forwarded-tcpip channel. Returns the bound
/// port (the client may ask for 0) and the accepting task.
pub(super) async fn listen(
    address: &str,
    port: u16,
    handle: Handle,
    channels: Arc<AtomicUsize>,
) -> std::io::Result<(u16, JoinHandle<()>)> {
    let listener = TcpListener::bind((bind_address(address), port)).await?;
    let bound = listener.local_addr()?.port();
    let address = address.to_owned();
    let task = tokio::spawn(async move {
        loop {
            let (tcp, peer) = match listener.accept().await {
                Ok(c) => c,
                Err(_) => {
                    // Out of descriptors, most likely: wait rather than spin.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let n = channels.fetch_add(1, Ordering::Relaxed);
            let slot = ChannelSlot(channels.clone());
            if n >= super::MAX_CHANNELS {
                continue;
            }
            let handle = handle.clone();
            let address = address.clone();
            tokio::spawn(async move {
                let opened = handle
                    .channel_open_forwarded_tcpip(
                        address,
                        u32::from(bound),
                        peer.ip().to_string(),
                        u32::from(peer.port()),
                    )
                    .await;
                if let Ok(ch) = opened {
                    let mut tcp = tcp;
                    let _ = tcp.set_nodelay(true);
                    let mut stream = ch.into_stream();
                    let _ = tokio::io::copy_bidirectional(&mut stream, &mut tcp).await;
                }
                drop(slot);
            });
        }
    });
    Ok((bound, task))
}

/// A connection's `-R` listeners, stopped when it ends.
#[derive(Default)]
pub(super) struct RemoteForwards {
    tasks: HashMap<(String, u16), Arc<JoinHandle<()>>>,
}

impl RemoteForwards {
    pub(super) fn len(&self) -> usize {
        self.tasks.len()
    }

    pub(super) fn insert(&mut self, address: &str, port: u16, task: JoinHandle<()>) {
        if let Some(old) = self
            .tasks
            .insert((address.to_owned(), port), Arc::new(task))
        {
            old.abort();
        }
    }

    pub(super) fn remove(&mut self, address: &str, port: u16) -> bool {
        match self.tasks.remove(&(address.to_owned(), port)) {
            Some(t) => {
                t.abort();
                true
            }
            None => false,
        }
    }
}

impl Drop for RemoteForwards {
    fn drop(&mut self) {
        for t in self.tasks.values() {
            t.abort();
        }
    }
}
