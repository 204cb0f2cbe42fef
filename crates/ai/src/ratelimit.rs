//! Per-user limits on requests and tokens per minute: a sliding window of
//! 60 one-second buckets with running totals, so admitting a request costs
//! the same whether the window is empty or full.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Instant;

const WINDOW_SECS: u64 = 60;

#[derive(Default)]
struct Window {
    /// (second since the limiter started, requests, tokens), oldest first.
    buckets: VecDeque<(u64, u64, u64)>,
    requests: u64,
    tokens: u64,
}

impl Window {
    fn expire(&mut self, now: u64) {
        while let Some(&(sec, r, t)) = self.buckets.front() {
            if now.saturating_sub(sec) < WINDOW_SECS {
                break;
            }
            self.requests -= r;
            self.tokens -= t;
            self.buckets.pop_front();
        }
    }

    fn bucket(&mut self, now: u64) -> &mut (u64, u64, u64) {
        if self.buckets.back().is_none_or(|b| b.0 != now) {
            self.buckets.push_back((now, 0, 0));
        }
        // Just pushed or already there.
        let last = self.buckets.len() - 1;
        &mut self.buckets[last]
    }
}

pub struct RateLimiter {
    start: Instant,
    users: Mutex<HashMap<String, Window>>,
}

impl Default for RateLimiter {
    fn default() -> Self {
        RateLimiter {
            start: Instant::now(),
            users: Mutex::new(HashMap::new()),
        }
    }
}

impl RateLimiter {
    fn now(&self) -> u64 {
        self.start.elapsed().as_secs()
    }

    /// Admits a request unless the last minute already holds `rpm` requests
    /// or `tpm` tokens; otherwise says how many seconds to wait. With both
    /// limits off nothing is kept.
    pub fn admit(&self, user: &str, rpm: u64, tpm: u64) -> Result<(), u64> {
        if rpm == 0 && tpm == 0 {
            return Ok(());
        }
        let now = self.now();
        let mut m = self.users.lock().unwrap_or_else(|p| p.into_inner());
        let w = m.entry(user.to_owned()).or_default();
        w.expire(now);
        if (rpm > 0 && w.requests >= rpm) || (tpm > 0 && w.tokens >= tpm) {
            let oldest = w.buckets.front().map(|b| b.0).unwrap_or(now);
            return Err((oldest + WINDOW_SECS).saturating_sub(now).max(1));
        }
        w.bucket(now).1 += 1;
        w.requests += 1;
        Ok(())
    }

    /// Counts tokens used by a request admitted earlier.
    pub fn add_tokens(&self, user: &str, tokens: u64) {
        let now = self.now();
        let mut m = self.users.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(w) = m.get_mut(user) {
            w.expire(now);
            w.bucket(now).2 += tokens;
            w.tokens += tokens;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_tokens_are_limited_per_user() {
        let r = RateLimiter::default();
        assert!(r.admit("a", 2, 0).is_ok());
        assert!(r.admit("a", 2, 0).is_ok());
        assert!(r.admit("a", 2, 0).is_err());
        assert!(r.admit("b", 2, 0).is_ok(), "limits are per user");
        assert!(r.admit("c", 0, 100).is_ok());
        r.add_tokens("c", 150);
        let wait = r.admit("c", 0, 100).expect_err("over the token budget");
        assert!((1..=60).contains(&wait));
        // Limits off: nothing is kept, everything passes.
        for _ in 0..10_000 {
            assert!(r.admit("d", 0, 0).is_ok());
        }
        assert!(!r.users.lock().expect("lock").contains_key("d"));
    }
}
