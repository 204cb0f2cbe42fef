//! The gateway's retry and fallback policy as a pure decision: given what
//! one attempt at a service came to, retry it, move on to the fallback
//! service, or give up and report the error. Nothing here waits or sends;
//! `Gateway::handle` does what the decision says.

use std::time::Duration;

/// What one attempt came to, as far as the policy cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Attempt {
    /// A 2xx: the answer goes to the client.
    Answered,
    /// No connection, reset, TLS failure…
    Unreachable,
    /// No first byte within the service's timeout.
    TimedOut,
    /// A non-2xx status, with the Retry-After seconds if the service sent any.
    Status { code: u16, retry_after: Option<u64> },
}

/// What to do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Next {
    /// Send the answer to the client.
    Deliver,
    /// Try the same service again after this wait.
    Retry(Wait),
    /// This service is done for; try the next candidate (or fail with the
    /// last error when there is none).
    Fallback,
    /// The request itself is wrong: neither a retry nor another service
    /// will fix it. Report this error now.
    Fail,
}

/// How long to wait before a retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wait {
    /// Exponential backoff with jitter for this attempt number.
    Backoff(u32),
    /// Exactly what the service asked for (429 Retry-After).
    Exactly(Duration),
}

/// The policy's limits.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Policy {
    /// Retries per service (so `max_retries + 1` attempts).
    pub max_retries: u32,
    /// A Retry-After up to this long is waited out; a longer one moves on.
    pub max_retry_wait: Duration,
}

/// Decides what follows attempt number `attempt` (0-based) at a service.
pub(crate) fn decide(result: Attempt, attempt: u32, p: Policy) -> Next {
    let retries_left = attempt < p.max_retries;
    match result {
        Attempt::Answered => Next::Deliver,
        Attempt::Unreachable
        | Attempt::TimedOut
        | Attempt::Status {
            code: 500 | 502 | 503 | 504,
            ..
        } => {
            if retries_left {
                Next::Retry(Wait::Backoff(attempt))
            } else {
                Next::Fallback
            }
        }
        Attempt::Status {
            code: 429,
            retry_after,
        } => {
            let wait = Duration::from_secs(retry_after.unwrap_or(1));
            if retries_left && wait <= p.max_retry_wait {
                Next::Retry(Wait::Exactly(wait))
            } else {
                // Waiting longer than we may: the fallback, if any.
                Next::Fallback
            }
        }
        Attempt::Status { .. } => Next::Fail,
    }
}

/// The delay a [`Wait`] stands for.
pub(crate) fn delay(w: Wait) -> Duration {
    match w {
        Wait::Exactly(d) => d,
        Wait::Backoff(attempt) => {
            let base = 100u64 << attempt.min(5);
            Duration::from_millis(base + rand::random::<u64>() % (base / 2 + 1))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_decision_table() {
        let p = Policy {
            max_retries: 2,
            max_retry_wait: Duration::from_secs(5),
        };
        let status = |code, retry_after| Attempt::Status { code, retry_after };
        let secs = Duration::from_secs;
        #[rustfmt::skip]
        let table: &[(Attempt, u32, Next)] = &[
            (Attempt::Answered, 0, Next::Deliver),
            (Attempt::Answered, 2, Next::Deliver),
            // Transport failures and 5xx: back off and retry, then move on.
            (Attempt::Unreachable, 0, Next::Retry(Wait::Backoff(0))),
            (Attempt::Unreachable, 1, Next::Retry(Wait::Backoff(1))),
            (Attempt::Unreachable, 2, Next::Fallback),
            (Attempt::TimedOut, 0, Next::Retry(Wait::Backoff(0))),
            (Attempt::TimedOut, 2, Next::Fallback),
            (status(500, None), 0, Next::Retry(Wait::Backoff(0))),
            (status(502, None), 1, Next::Retry(Wait::Backoff(1))),
            (status(503, Some(30)), 0, Next::Retry(Wait::Backoff(0))),
            (status(504, None), 2, Next::Fallback),
            // 429: wait what the service asks if we may, else move on.
            (status(429, Some(2)), 0, Next::Retry(Wait::Exactly(secs(2)))),
            (status(429, None), 0, Next::Retry(Wait::Exactly(secs(1)))),
            (status(429, Some(5)), 1, Next::Retry(Wait::Exactly(secs(5)))),
            (status(429, Some(6)), 0, Next::Fallback),
            (status(429, Some(1)), 2, Next::Fallback),
            // The request is wrong: no retry, no fallback.
            (status(400, None), 0, Next::Fail),
            (status(401, None), 0, Next::Fail),
            (status(403, None), 1, Next::Fail),
            (status(404, None), 0, Next::Fail),
            (status(413, None), 0, Next::Fail),
            (status(422, None), 0, Next::Fail),
            (status(501, None), 0, Next::Fail),
        ];
        for (result, attempt, want) in table {
            assert_eq!(
                decide(*result, *attempt, p),
                *want,
                "{result:?} at attempt {attempt}"
            );
        }
    }

    #[test]
    fn no_retries_means_one_attempt_per_service() {
        let p = Policy {
            max_retries: 0,
            max_retry_wait: Duration::from_secs(5),
        };
        assert_eq!(decide(Attempt::Unreachable, 0, p), Next::Fallback);
        let limited = Attempt::Status {
            code: 429,
            retry_after: Some(1),
        };
        assert_eq!(decide(limited, 0, p), Next::Fallback);
    }

    #[test]
    fn backoff_grows_and_stays_bounded() {
        for attempt in 0..10 {
            let d = delay(Wait::Backoff(attempt));
            let base = 100u64 << attempt.min(5);
            assert!(d >= Duration::from_millis(base), "{attempt}: {d:?}");
            assert!(
                d <= Duration::from_millis(base * 3 / 2 + 1),
                "{attempt}: {d:?}"
            );
        }
    }
}
