//! Which TCP ports something in the workspace listens on, read from the
//! kernel's socket tables (`/proc/net/tcp`, `/proc/net/tcp6`), with the
//! listening program's name where the agent may see its file descriptors;
//! once on request, or as a watch that sends them whenever they change.

use crate::conn::Outbox;
use aicockpit_workspace_agent_proto::{Event, Frame, ListeningPort, Message};
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

/// The state column's value for LISTEN.
const LISTEN: &str = "0A";

/// 127.0.0.11 in the kernel's little-endian hex.
const DOCKER_DNS: &str = "0B00007F";

/// One listening socket of a table: (port, loopback only, inode).
fn parse_line(line: &str, v6: bool) -> Option<(u16, bool, u64)> {
    let cols: Vec<&str> = line.split_whitespace().collect();
    if cols.get(3) != Some(&LISTEN) {
        return None;
    }
    let (addr, port) = cols.get(1)?.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    // Docker's embedded DNS listens on 127.0.0.11 at a random port (the
    // engine's, not the user's: leave it out).
    if addr == DOCKER_DNS {
        return None;
    }
    let loopback = if v6 {
        // ::1 in the kernel's word order, or ::ffff:127.x.
        addr == "00000000000000000000000001000000"
            || (addr.starts_with("0000000000000000FFFF0000") && addr.ends_with("7F"))
    } else {
        // Little-endian IPv4: 127.x.x.x ends in 7F.
        addr.len() == 8 && addr.ends_with("7F")
    };
    let inode = cols.get(9)?.parse().ok()?;
    Some((port, loopback, inode))
}

/// Listening sockets from table texts, merged per port (listening on any
/// non-loopback address makes the port reachable from outside).
pub(crate) fn parse(tcp: &str, tcp6: &str) -> BTreeMap<u16, (bool, Vec<u64>)> {
    let mut ports: BTreeMap<u16, (bool, Vec<u64>)> = BTreeMap::new();
    for (text, v6) in [(tcp, false), (tcp6, true)] {
        for line in text.lines().skip(1) {
            if let Some((port, loopback, inode)) = parse_line(line, v6) {
                let e = ports.entry(port).or_insert((true, Vec::new()));
                e.0 &= loopback;
                e.1.push(inode);
            }
        }
    }
    ports
}

/// Socket inode → program name, from the processes the agent may inspect.
fn socket_owners() -> HashMap<u64, String> {
    let mut owners = HashMap::new();
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return owners;
    };
    for p in procs.flatten().take(4096) {
        let pid = p.file_name();
        if !pid.to_string_lossy().bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(fds) = std::fs::read_dir(p.path().join("fd")) else {
            continue;
        };
        let name = std::fs::read_to_string(p.path().join("comm"))
            .map(|s| s.trim().to_owned())
            .unwrap_or_default();
        for fd in fds.flatten().take(4096) {
            if let Ok(target) = std::fs::read_link(fd.path()) {
                let t = target.to_string_lossy();
                if let Some(inode) = t
                    .strip_prefix("socket:[")
                    .and_then(|r| r.strip_suffix(']'))
                    .and_then(|n| n.parse().ok())
                {
                    owners.entry(inode).or_insert_with(|| name.clone());
                }
            }
        }
    }
    owners
}

/// The listening sockets now, per port.
fn table() -> BTreeMap<u16, (bool, Vec<u64>)> {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    parse(&read("/proc/net/tcp"), &read("/proc/net/tcp6"))
}

/// The workspace's listening TCP ports now.
pub(crate) fn listening() -> Vec<ListeningPort> {
    with_owners(table())
}

/// Ports with their programs' names (looked up only when there are ports:
/// it reads every process's descriptors).
fn with_owners(table: BTreeMap<u16, (bool, Vec<u64>)>) -> Vec<ListeningPort> {
    let owners = if table.is_empty() {
        HashMap::new()
    } else {
        socket_owners()
    };
    table
        .into_iter()
        .map(|(port, (loopback_only, inodes))| ListeningPort {
            port,
            loopback_only,
            process: inodes.iter().find_map(|i| owners.get(i).cloned()),
        })
        .collect()
}

/// How often a port watch reads the socket tables. The kernel tells no one
/// when a socket starts listening, so the tables are read (they are
/// in-memory and cheap; the program names, which cost a walk of `/proc`,
/// only when the ports change); a quarter second keeps "listening → shown
/// in the IDE" well under a second.
const WATCH_EVERY: Duration = Duration::from_millis(250);

/// A live port watch; dropping it stops it.
pub(crate) struct Watch(tokio::task::JoinHandle<()>);

impl Drop for Watch {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// What a watch compares: the ports and whether each is loopback-only.
fn shape(table: &BTreeMap<u16, (bool, Vec<u64>)>) -> Vec<(u16, bool)> {
    table.iter().map(|(p, (l, _))| (*p, *l)).collect()
}

/// Sends the ports on `channel` at once and again whenever they change,
/// until dropped or the connection's queue is closed.
pub(crate) fn watch(channel: u32, out: Outbox) -> Watch {
    Watch(tokio::spawn(async move {
        let mut last: Option<Vec<(u16, bool)>> = None;
        let mut tick = tokio::time::interval(WATCH_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let seen = last.clone();
            let Ok(changed) = tokio::task::spawn_blocking(move || {
                let t = table();
                let now = shape(&t);
                (seen.as_ref() != Some(&now)).then(|| (now, with_owners(t)))
            })
            .await
            else {
                return;
            };
            let Some((now, ports)) = changed else {
                continue;
            };
            last = Some(now);
            let msg = Message::Event {
                event: Event::Ports { channel, ports },
            };
            if !out.send_wait(Frame::json(&msg)).await {
                return;
            }
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1B58 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 111 1 0000000000000000 100 0 0 10 0
   1: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 222 1 0000000000000000 100 0 0 10 0
   2: 0100007F:1F90 0100007F:9C40 01 00000000:00000000 00:00000000 00000000  1000        0 0 1 0000000000000000 20 4 30 10 -1
   3: 0B00007F:A0A5 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 555 1 0000000000000000 100 0 0 10 0
";
    const TCP6: &str = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:1435 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 333 1 0000000000000000 100 0 0 10 0
   1: 00000000000000000000000000000000:1B58 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 444 1 0000000000000000 100 0 0 10 0
garbage line
";

    #[test]
    fn listening_sockets_are_read_from_the_tables() {
        let got = parse(TCP, TCP6);
        // 7000 on 127.0.0.1 and on [::]: reachable from outside.
        assert_eq!(got.get(&7000), Some(&(false, vec![111, 444])));
        // 8080 on 0.0.0.0; the established connection is not listening.
        assert_eq!(got.get(&8080), Some(&(false, vec![222])));
        // Docker's DNS on 127.0.0.11 is not the user's.
        assert!(!got.contains_key(&0xA0A5));
        // 5173 on ::1 only.
        assert_eq!(got.get(&5173), Some(&(true, vec![333])));
        assert_eq!(got.len(), 3);
        assert!(parse("", "").is_empty());
    }
}
