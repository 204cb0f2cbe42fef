//! Per-user limits on requests and tokens per minute (sliding window).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const WINDOW: Duration = Duration::from_secs(60);

#[derive(Default)]
pub struct RateLimiter {
    users: Mutex<HashMap<String, VecDeque<(Instant, u64)>>>,
}

impl RateLimiter {
    /// Admits a request unless the last minute already holds `rpm` requests
    /// or `tpm` tokens; otherwise says how many seconds to wait.
    pub fn admit(&self, user: &str, rpm: u64, tpm: u64) -> Result<(), u64> {
        let now = Instant::now();
        let mut m = self.users.lock().unwrap_or_else(|p| p.into_inner());
        let q = m.entry(user.to_owned()).or_default();
        while q
            .front()
            .is_some_and(|(t, _)| now.duration_since(*t) >= WINDOW)
        {
            q.pop_front();
        }
        let tokens: u64 = q.iter().map(|(_, n)| n).sum();
        if (rpm > 0 && q.len() as u64 >= rpm) || (tpm > 0 && tokens >= tpm) {
            let oldest = q.front().map(|(t, _)| *t).unwrap_or(now);
            let wait = WINDOW.saturating_sub(now.duration_since(oldest));
            return Err(wait.as_secs().max(1));
        }
        q.push_back((now, 0));
        Ok(())
    }

    /// Counts tokens used by a request admitted earlier.
    pub fn add_tokens(&self, user: &str, tokens: u64) {
        let mut m = self.users.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(q) = m.get_mut(user) {
            q.push_back((Instant::now(), tokens));
            // Token entries are not requests: keep the request count honest
            // by merging into the previous entry when there is one.
            if q.len() >= 2 {
                if let Some((_, n)) = q.pop_back() {
                    if let Some(last) = q.back_mut() {
                        last.1 += n;
                    }
                }
            }
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
    }
}
