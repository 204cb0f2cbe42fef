//! Where workspace networks get their addresses: small subnets carved from
//! one configured pool (`workspaces.network_pool`, `network_prefix`), so a
//! host holds thousands of workspaces instead of the ~30 networks the
//! engine's default address pools allow. Each workspace still has a bridge
//! network of its own (the engine isolates bridges from each other).

use std::net::Ipv4Addr;

/// A pool of equal subnets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NetPool {
    base: u32,
    pool_prefix: u8,
    prefix: u8,
}

/// How many subnets are tried for one network before the pool counts as
/// full (they are taken in a hashed order, so collisions are rare until it
/// really is).
const TRIES: u32 = 256;

impl NetPool {
    /// `pool` as `a.b.c.d/n`; `prefix` the size of each subnet (/24–/29).
    pub fn parse(pool: &str, prefix: u8) -> Result<NetPool, String> {
        let (ip, bits) = pool
            .split_once('/')
            .ok_or_else(|| format!("{pool:?} is not an IPv4 CIDR such as 10.213.0.0/16"))?;
        let ip: Ipv4Addr = ip
            .parse()
            .map_err(|_| format!("{pool:?} is not an IPv4 CIDR such as 10.213.0.0/16"))?;
        let pool_prefix: u8 = bits
            .parse()
            .ok()
            .filter(|b| (8..=28).contains(b))
            .ok_or_else(|| format!("the pool's prefix in {pool:?} must be /8–/28"))?;
        if !(pool_prefix + 1..=29).contains(&prefix) || prefix < 16 {
            return Err(format!(
                "network_prefix must be between /{} and /29 (and at least /16)",
                pool_prefix + 1
            ));
        }
        let mask = u32::MAX << (32 - pool_prefix);
        Ok(NetPool {
            base: u32::from(ip) & mask,
            pool_prefix,
            prefix,
        })
    }

    /// How many subnets the pool holds.
    pub fn slots(&self) -> u32 {
        1 << (self.prefix - self.pool_prefix)
    }

    /// The subnets to try for the network of `key`, in order.
    pub fn candidates(&self, key: &str) -> impl Iterator<Item = String> + '_ {
        let start = key.bytes().fold(0x811c_9dc5u32, |h, b| {
            (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
        });
        let slots = self.slots();
        (0..TRIES.min(slots)).map(move |i| {
            let slot = start.wrapping_add(i) % slots;
            let net = self.base + (slot << (32 - self.prefix));
            format!("{}/{}", Ipv4Addr::from(net), self.prefix)
        })
    }

    pub fn describe(&self) -> String {
        format!("{}/{}", Ipv4Addr::from(self.base), self.pool_prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subnets_come_from_the_pool() {
        let p = NetPool::parse("10.213.0.0/16", 28).expect("pool");
        assert_eq!(p.slots(), 4096);
        let c: Vec<String> = p.candidates("ws1").take(3).collect();
        assert_eq!(c.len(), 3);
        for s in &c {
            assert!(s.starts_with("10.213.") && s.ends_with("/28"), "{s}");
        }
        assert_ne!(c[0], c[1]);
        assert_eq!(
            p.candidates("ws1").next(),
            p.candidates("ws1").next(),
            "stable"
        );
        for bad in [
            ("10.0.0.0", 28),
            ("10.0.0.0/33", 28),
            ("x/16", 28),
            ("10.0.0.0/16", 30),
            ("10.0.0.0/16", 16),
        ] {
            assert!(NetPool::parse(bad.0, bad.1).is_err(), "{bad:?}");
        }
    }
}
