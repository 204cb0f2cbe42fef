//! Keeping workspaces off the server host's own addresses.
//!
//! Traffic from a workspace to the host (its gateway address, or any other
//! address of the host) is not forwarded traffic, so the engine's network
//! isolation does not cover it; an `iptables` chain on the host's INPUT
//! path does: packets from the workspace pool are rejected unless they
//! belong to a connection the host opened, or go to an address (and port)
//! the configuration allows (`workspaces.host_allow`, e.g. a git server on
//! this host). Only possible where the engine runs on this host and the
//! server may change the firewall (root); otherwise [`HostIsolation`] says
//! why not and `/ready` shows it.

use std::process::Command;

/// The chain's name (one per host; every server with the same settings
/// wants the same rules, so they are only rewritten when they differ).
const CHAIN: &str = "AICOCKPIT-HOST";

/// Whether workspaces are kept off the host, and if not, why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostIsolation {
    Enforced,
    Off(String),
}

/// The rules of the chain, in order, as `iptables -S` prints them.
pub fn rules(allow: &[String]) -> Result<Vec<String>, String> {
    let mut out = vec![format!(
        "-A {CHAIN} -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN"
    )];
    for a in allow {
        let (ip, port) = match a.rsplit_once(':') {
            Some((ip, port)) => (ip, Some(port)),
            None => (a.as_str(), None),
        };
        let ip: std::net::Ipv4Addr = ip
            .parse()
            .map_err(|_| format!("workspaces.host_allow: {a:?} is not IPV4[:PORT]"))?;
        match port {
            Some(p) => {
                let p: u16 = p
                    .parse()
                    .map_err(|_| format!("workspaces.host_allow: {a:?} has no valid port"))?;
                out.push(format!(
                    "-A {CHAIN} -d {ip}/32 -p tcp -m tcp --dport {p} -j RETURN"
                ));
            }
            None => out.push(format!("-A {CHAIN} -d {ip}/32 -j RETURN")),
        }
    }
    out.push(format!(
        "-A {CHAIN} -p tcp -j REJECT --reject-with tcp-reset"
    ));
    out.push(format!(
        "-A {CHAIN} -j REJECT --reject-with icmp-port-unreachable"
    ));
    Ok(out)
}

fn iptables(args: &[&str]) -> Result<String, String> {
    let out = Command::new("iptables")
        .arg("-w")
        .args(args)
        .output()
        .map_err(|e| format!("iptables: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "iptables {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Makes the host's firewall reject what comes from `pool` to the host,
/// except `allow`. Blocking (runs `iptables`); idempotent.
pub fn enforce(pool: &str, allow: &[String]) -> HostIsolation {
    match try_enforce(pool, allow) {
        Ok(()) => HostIsolation::Enforced,
        Err(e) => HostIsolation::Off(e),
    }
}

fn try_enforce(pool: &str, allow: &[String]) -> Result<(), String> {
    let want = rules(allow)?;
    if iptables(&["-S", CHAIN]).is_err() {
        // Created by a concurrent server in between: fine.
        let _ = iptables(&["-N", CHAIN]);
    }
    let have: Vec<String> = iptables(&["-S", CHAIN])?
        .lines()
        .filter(|l| l.starts_with("-A "))
        .map(str::to_owned)
        .collect();
    if have != want {
        iptables(&["-F", CHAIN])?;
        for r in &want {
            let args: Vec<&str> = r.split_whitespace().collect();
            iptables(&args)?;
        }
    }
    let jump = ["-s", pool, "-j", CHAIN];
    let mut check = vec!["-C", "INPUT"];
    check.extend(jump);
    if iptables(&check).is_err() {
        let mut insert = vec!["-I", "INPUT", "1"];
        insert.extend(jump);
        iptables(&insert)?;
    }
    Ok(())
}

/// Makes the kernel refuse to forward anything from one workspace of
/// `pool` to another (each workspace is alone on its network, so no
/// traffic between two pool addresses is ever wanted). Docker's own
/// isolation between its networks has a gap: whenever a network is made it
/// deletes and re-inserts its isolation jump in FORWARD, and in between its
/// per-network `-i br-X ! -o br-X -j ACCEPT` rules let one workspace reach
/// another. This rule is in `DOCKER-USER`, which Docker jumps to before
/// all of its own rules and never rewrites (in FORWARD itself where Docker
/// is absent). Blocking (runs `iptables`); idempotent.
pub fn isolate_pool(pool: &str) -> Result<(), String> {
    let chain = if iptables(&["-S", "DOCKER-USER"]).is_ok() {
        "DOCKER-USER"
    } else {
        "FORWARD"
    };
    let rule = [
        "-s",
        pool,
        "-d",
        pool,
        "-j",
        "REJECT",
        "--reject-with",
        "icmp-port-unreachable",
    ];
    let mut check = vec!["-C", chain];
    check.extend(rule);
    if iptables(&check).is_err() {
        let mut insert = vec!["-I", chain, "1"];
        insert.extend(rule);
        iptables(&insert)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_reject_all_but_replies_and_allowed_addresses() {
        let r = rules(&["10.0.0.5:22".into(), "10.0.0.6".into()]).expect("rules");
        assert!(r[0].contains("ESTABLISHED -j RETURN"));
        assert!(r[1].contains("-d 10.0.0.5/32 -p tcp -m tcp --dport 22 -j RETURN"));
        assert!(r[2].contains("-d 10.0.0.6/32 -j RETURN"));
        assert!(r.last().is_some_and(|l| l.contains("REJECT")));
        for bad in ["host:22", "10.0.0.5:x", "10.0.0.5:70000"] {
            assert!(rules(&[bad.into()]).is_err(), "{bad}");
        }
    }
}
