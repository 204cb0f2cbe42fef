//! Slowing down password guessing without handing attackers a weapon.
//!
//! Failures are counted per client address and per (account, address), and
//! per account over all addresses; past a threshold each further attempt
//! waits an exponentially growing delay (backoff), never a lockout: an
//! address that has not failed for an account is not slowed by others'
//! failures on it until the account as a whole sees a flood, so `admin`
//! can still log in from elsewhere while one address is throttled. The
//! check and the reservation of an attempt are one step under one lock
//! (parallel guesses count as failures until they are proven right), keys
//! are bounded in length and the maps in size.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures are forgotten this long after the last one.
const WINDOW: Duration = Duration::from_secs(900);
/// Free failures per (account, address), per address, per account.
const FREE_PER_PAIR: u32 = 5;
const FREE_PER_ADDR: u32 = 20;
const FREE_PER_ACCOUNT: u32 = 100;
/// The longest backoff.
const MAX_DELAY: Duration = Duration::from_secs(300);
/// Entries per map; past it the oldest expired are dropped, and if none
/// expired, new keys are throttled (fail closed, memory bounded).
const MAX_ENTRIES: usize = 100_000;
/// Longest username considered at all (validated names are shorter).
pub const MAX_USERNAME: usize = 64;

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    in_flight: u32,
    last: Instant,
}

impl Entry {
    fn new(now: Instant) -> Entry {
        Entry {
            failures: 0,
            in_flight: 0,
            last: now,
        }
    }

    fn expired(&self, now: Instant) -> bool {
        self.in_flight == 0 && now.duration_since(self.last) >= WINDOW
    }

    /// How long until another attempt is allowed, if any wait is due.
    fn wait(&self, free: u32, now: Instant) -> Option<Duration> {
        let n = self.failures + self.in_flight;
        if n < free {
            return None;
        }
        let over = (n - free).min(16);
        let delay = Duration::from_secs(1u64 << over).min(MAX_DELAY);
        let ready = self.last + delay;
        (ready > now).then(|| ready - now)
    }
}

#[derive(Default)]
struct Maps {
    pairs: HashMap<(String, IpAddr), Entry>,
    addrs: HashMap<IpAddr, Entry>,
    accounts: HashMap<String, Entry>,
}

fn room<K: std::hash::Hash + Eq + Clone>(m: &mut HashMap<K, Entry>, key: &K, now: Instant) -> bool {
    if m.contains_key(key) || m.len() < MAX_ENTRIES {
        return true;
    }
    m.retain(|_, e| !e.expired(now));
    m.len() < MAX_ENTRIES
}

/// Counts an attempt in flight under `key` (a stale record starts over).
fn reserve<K: std::hash::Hash + Eq>(m: &mut HashMap<K, Entry>, key: K, now: Instant) {
    let e = m.entry(key).or_insert(Entry::new(now));
    if e.expired(now) {
        *e = Entry::new(now);
    }
    e.in_flight += 1;
}

/// Why an attempt may not be made now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Throttled {
    pub(crate) retry_after_secs: u64,
}

#[derive(Default)]
pub(crate) struct LoginLimiter {
    maps: Mutex<Maps>,
}

/// An attempt in progress; `finish` records how it ended. Dropping it
/// unfinished counts as a failure (an attempt whose check was cut short
/// proved nothing).
pub(crate) struct Attempt<'a> {
    limiter: &'a LoginLimiter,
    account: String,
    addr: IpAddr,
    done: bool,
}

impl LoginLimiter {
    /// Checks and reserves one attempt for `account` from `addr`.
    pub(crate) fn begin(&self, account: &str, addr: IpAddr) -> Result<Attempt<'_>, Throttled> {
        let now = Instant::now();
        let account: String = account.chars().take(MAX_USERNAME).collect();
        let mut m = self.maps.lock().unwrap_or_else(|p| p.into_inner());
        let pair_key = (account.clone(), addr);
        let busy = Throttled {
            retry_after_secs: 60,
        };
        if !room(&mut m.pairs, &pair_key, now)
            || !room(&mut m.addrs, &addr, now)
            || !room(&mut m.accounts, &account, now)
        {
            return Err(busy);
        }
        let pair = m.pairs.get(&pair_key).copied().filter(|e| !e.expired(now));
        let by_addr = m.addrs.get(&addr).copied().filter(|e| !e.expired(now));
        let by_account = m
            .accounts
            .get(&account)
            .copied()
            .filter(|e| !e.expired(now));
        let mut wait = [
            pair.and_then(|e| e.wait(FREE_PER_PAIR, now)),
            by_addr.and_then(|e| e.wait(FREE_PER_ADDR, now)),
            // The account-wide flood limit only slows addresses that have
            // failed on this account themselves.
            by_account
                .filter(|_| pair.is_some_and(|p| p.failures > 0))
                .and_then(|e| e.wait(FREE_PER_ACCOUNT, now)),
        ]
        .into_iter()
        .flatten()
        .max();
        if let Some(w) = wait.take() {
            return Err(Throttled {
                retry_after_secs: w.as_secs().max(1),
            });
        }
        reserve(&mut m.pairs, pair_key, now);
        reserve(&mut m.addrs, addr, now);
        reserve(&mut m.accounts, account.clone(), now);
        Ok(Attempt {
            limiter: self,
            account,
            addr,
            done: false,
        })
    }

    fn end(&self, account: &str, addr: IpAddr, ok: bool) {
        let now = Instant::now();
        let mut m = self.maps.lock().unwrap_or_else(|p| p.into_inner());
        let key = (account.to_owned(), addr);
        let settle = |e: Option<&mut Entry>| {
            if let Some(e) = e {
                e.in_flight = e.in_flight.saturating_sub(1);
                if !ok {
                    e.failures = e.failures.saturating_add(1);
                    e.last = now;
                }
            }
        };
        settle(m.pairs.get_mut(&key));
        settle(m.addrs.get_mut(&addr));
        settle(m.accounts.get_mut(account));
        if ok {
            // Proven right: this address's record for the account is clean.
            m.pairs.remove(&key);
        }
    }
}

impl Attempt<'_> {
    pub(crate) fn finish(mut self, ok: bool) {
        self.done = true;
        self.limiter.end(&self.account, self.addr, ok);
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.limiter.end(&self.account, self.addr, false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn one_address_is_slowed_others_are_not() {
        let l = LoginLimiter::default();
        for _ in 0..FREE_PER_PAIR {
            l.begin("admin", ip("10.0.0.1"))
                .expect("free attempt")
                .finish(false);
        }
        let t = l.begin("admin", ip("10.0.0.1")).err().expect("throttled");
        assert!(t.retry_after_secs >= 1);
        // Another address, the right password: not locked out.
        l.begin("admin", ip("10.0.0.2"))
            .expect("elsewhere")
            .finish(true);
    }

    #[test]
    fn parallel_guesses_count_before_they_finish() {
        let l = LoginLimiter::default();
        let held: Vec<_> = (0..FREE_PER_PAIR)
            .map(|_| l.begin("bob", ip("10.0.0.3")).expect("free"))
            .collect();
        assert!(
            l.begin("bob", ip("10.0.0.3")).is_err(),
            "in-flight attempts count"
        );
        drop(held); // unfinished = failed
        assert!(l.begin("bob", ip("10.0.0.3")).is_err());
    }

    #[test]
    fn keys_are_bounded() {
        let l = LoginLimiter::default();
        let long = "x".repeat(1 << 20);
        l.begin(&long, ip("10.0.0.4")).expect("first").finish(false);
        let m = l.maps.lock().expect("lock");
        assert!(m.accounts.keys().all(|k| k.len() <= MAX_USERNAME));
    }

    #[test]
    fn success_clears_the_pair_and_backoff_grows() {
        let l = LoginLimiter::default();
        l.begin("carol", ip("10.0.0.5")).expect("a").finish(false);
        l.begin("carol", ip("10.0.0.5")).expect("b").finish(true);
        assert!(!l
            .maps
            .lock()
            .expect("lock")
            .pairs
            .contains_key(&("carol".to_owned(), ip("10.0.0.5"))));
        let e = Entry {
            failures: FREE_PER_PAIR + 3,
            in_flight: 0,
            last: Instant::now(),
        };
        let w = e.wait(FREE_PER_PAIR, Instant::now()).expect("wait");
        assert!(w > Duration::from_secs(7) && w <= Duration::from_secs(8));
    }
}
