//! What counts as work in a workspace, and when an idle one is stopped.
//!
//! Activity is recorded where it happens — terminal input, file changes,
//! exec, AI agent runs (also while one waits for an approval), keep-alives —
//! in memory: a server restart counts as activity for every workspace.
//! Work that lasts (a command running, an agent run) holds the workspace
//! for its whole duration instead of touching it once. [`decide`] is the
//! whole policy, pure and table-tested; the manager's idle loop applies it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// What keeps a workspace busy while it lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Work {
    Exec,
    AgentRun,
}

impl Work {
    pub fn as_str(self) -> &'static str {
        match self {
            Work::Exec => "exec",
            Work::AgentRun => "agent_run",
        }
    }
}

/// An explicit request to keep a workspace running.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeepAlive {
    pub until_ms: i64,
    pub reason: String,
    pub by: String,
}

#[derive(Debug, Default)]
struct Entry {
    /// When it last started, as far as this server saw.
    started_ms: i64,
    last_ms: i64,
    holds: HashMap<Work, u32>,
    keep_alive: Option<KeepAlive>,
}

/// One workspace's activity now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// When it last started (None: not since this server started).
    pub started_ms: Option<i64>,
    /// The last activity (None: none since the server started).
    pub last_ms: Option<i64>,
    /// Work in progress.
    pub busy: Vec<Work>,
    pub keep_alive: Option<KeepAlive>,
}

/// Activity of every workspace.
#[derive(Debug, Default)]
pub struct Activity {
    by_ws: Mutex<HashMap<String, Entry>>,
}

impl Activity {
    fn with<R>(&self, ws: &str, f: impl FnOnce(&mut Entry) -> R) -> R {
        let mut m = self.by_ws.lock().unwrap_or_else(|p| p.into_inner());
        f(m.entry(ws.to_owned()).or_default())
    }

    /// Something happened in `ws` now.
    pub fn touch(&self, ws: &str) {
        let now = crate::now_ms();
        self.with(ws, |e| e.last_ms = e.last_ms.max(now));
    }

    /// `ws` is busy with `work` until the returned guard is dropped.
    pub fn hold(self: &Arc<Self>, ws: &str, work: Work) -> Hold {
        self.with(ws, |e| *e.holds.entry(work).or_default() += 1);
        self.touch(ws);
        Hold {
            activity: self.clone(),
            ws: ws.to_owned(),
            work,
        }
    }

    /// `ws` (re)started now: its idle time and lifetime count from here.
    pub fn started(&self, ws: &str) {
        let now = crate::now_ms();
        self.with(ws, |e| {
            e.started_ms = now;
            e.keep_alive = None;
        });
    }

    pub fn keep_alive(&self, ws: &str, k: KeepAlive) {
        self.with(ws, |e| e.keep_alive = Some(k));
    }

    pub fn snapshot(&self, ws: &str) -> Snapshot {
        let m = self.by_ws.lock().unwrap_or_else(|p| p.into_inner());
        let Some(e) = m.get(ws) else {
            return Snapshot::default();
        };
        let mut busy: Vec<Work> = e
            .holds
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(w, _)| *w)
            .collect();
        busy.sort_by_key(|w| w.as_str());
        Snapshot {
            started_ms: (e.started_ms > 0).then_some(e.started_ms),
            last_ms: (e.last_ms > 0).then_some(e.last_ms),
            busy,
            keep_alive: e.keep_alive.clone(),
        }
    }

    /// Forgets a deleted workspace.
    pub fn forget(&self, ws: &str) {
        let mut m = self.by_ws.lock().unwrap_or_else(|p| p.into_inner());
        m.remove(ws);
    }
}

/// Work in progress; its end counts as activity too.
pub struct Hold {
    activity: Arc<Activity>,
    ws: String,
    work: Work,
}

impl Drop for Hold {
    fn drop(&mut self) {
        // A workspace forgotten meanwhile (deleted) is not brought back.
        let mut m = self
            .activity
            .by_ws
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(e) = m.get_mut(&self.ws) {
            if let Some(n) = e.holds.get_mut(&self.work) {
                *n = n.saturating_sub(1);
            }
            e.last_ms = e.last_ms.max(crate::now_ms());
        }
    }
}

/// What the idle loop knows of one running workspace.
#[derive(Debug, Clone)]
pub struct Facts<'a> {
    pub now_ms: i64,
    /// When it last started (the record's last change to running).
    pub running_since_ms: i64,
    pub activity: &'a Snapshot,
    /// Seconds without activity before it stops (0: never).
    pub idle_timeout_secs: u64,
    /// Seconds it may run at most (0: no limit).
    pub max_lifetime_secs: u64,
}

/// Why a workspace is stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopReason {
    Idle { idle_secs: u64 },
    MaxLifetime { secs: u64 },
}

impl StopReason {
    pub fn describe(&self) -> String {
        match self {
            StopReason::Idle { idle_secs } => {
                format!("stopped after {idle_secs} s without activity")
            }
            StopReason::MaxLifetime { secs } => {
                format!("stopped at its maximum run time of {secs} s")
            }
        }
    }
}

/// Stop now, or keep running (and until when at the earliest, if known).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Stop(StopReason),
    Keep { stop_at_ms: Option<i64> },
}

/// The idle policy: the maximum lifetime is hard; otherwise work in
/// progress and an unexpired keep-alive keep it running, and it stops once
/// the last activity (or its start) is older than the timeout.
pub fn decide(f: &Facts) -> Verdict {
    let lifetime_end =
        (f.max_lifetime_secs > 0).then(|| f.running_since_ms + (f.max_lifetime_secs as i64) * 1000);
    if let Some(end) = lifetime_end {
        if f.now_ms >= end {
            return Verdict::Stop(StopReason::MaxLifetime {
                secs: f.max_lifetime_secs,
            });
        }
    }
    let idle_end = if f.idle_timeout_secs == 0 || !f.activity.busy.is_empty() {
        None
    } else {
        let since = f.activity.last_ms.unwrap_or(0).max(f.running_since_ms);
        let kept = f.activity.keep_alive.as_ref().map_or(0, |k| k.until_ms);
        let idle_at = since + (f.idle_timeout_secs as i64) * 1000;
        Some(idle_at.max(kept))
    };
    if let Some(at) = idle_end {
        if f.now_ms >= at {
            let since = f.activity.last_ms.unwrap_or(0).max(f.running_since_ms);
            return Verdict::Stop(StopReason::Idle {
                idle_secs: ((f.now_ms - since).max(0) / 1000) as u64,
            });
        }
    }
    let stop_at_ms = match (idle_end, lifetime_end) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    Verdict::Keep { stop_at_ms }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;

    fn snap(last: Option<i64>, busy: &[Work], kept_until: Option<i64>) -> Snapshot {
        Snapshot {
            started_ms: None,
            last_ms: last,
            busy: busy.to_vec(),
            keep_alive: kept_until.map(|until_ms| KeepAlive {
                until_ms,
                reason: "r".into(),
                by: "u".into(),
            }),
        }
    }

    #[test]
    fn the_idle_policy() {
        use Verdict::*;
        // (now, running since, last activity, busy, keep-alive until,
        //  timeout s, lifetime s) → verdict
        #[allow(clippy::type_complexity)]
        let cases: Vec<(
            i64,
            i64,
            Option<i64>,
            &[Work],
            Option<i64>,
            u64,
            u64,
            Verdict,
        )> = vec![
            // Untouched since it started: stops at start + timeout.
            (
                10 * MIN,
                0,
                None,
                &[],
                None,
                600,
                0,
                Stop(StopReason::Idle { idle_secs: 600 }),
            ),
            (
                9 * MIN,
                0,
                None,
                &[],
                None,
                600,
                0,
                Keep {
                    stop_at_ms: Some(10 * MIN),
                },
            ),
            // Activity moves the deadline.
            (
                10 * MIN,
                0,
                Some(5 * MIN),
                &[],
                None,
                600,
                0,
                Keep {
                    stop_at_ms: Some(15 * MIN),
                },
            ),
            // Activity before the last start does not count against it.
            (
                10 * MIN,
                8 * MIN,
                Some(MIN),
                &[],
                None,
                600,
                0,
                Keep {
                    stop_at_ms: Some(18 * MIN),
                },
            ),
            // Work in progress keeps it, however long ago it began.
            (
                99 * MIN,
                0,
                Some(0),
                &[Work::Exec],
                None,
                60,
                0,
                Keep { stop_at_ms: None },
            ),
            (
                99 * MIN,
                0,
                Some(0),
                &[Work::AgentRun],
                None,
                60,
                0,
                Keep { stop_at_ms: None },
            ),
            // A keep-alive keeps it until it expires, then idle rules.
            (
                30 * MIN,
                0,
                None,
                &[],
                Some(40 * MIN),
                60,
                0,
                Keep {
                    stop_at_ms: Some(40 * MIN),
                },
            ),
            (
                41 * MIN,
                0,
                None,
                &[],
                Some(40 * MIN),
                60,
                0,
                Stop(StopReason::Idle { idle_secs: 41 * 60 }),
            ),
            // Never idle-stopped.
            (
                999 * MIN,
                0,
                None,
                &[],
                None,
                0,
                0,
                Keep { stop_at_ms: None },
            ),
            // The lifetime is hard: busy or kept alive, it stops.
            (
                61 * MIN,
                0,
                Some(61 * MIN),
                &[Work::AgentRun],
                Some(999 * MIN),
                0,
                3600,
                Stop(StopReason::MaxLifetime { secs: 3600 }),
            ),
            (
                30 * MIN,
                0,
                Some(30 * MIN),
                &[],
                None,
                3600,
                3600,
                Keep {
                    stop_at_ms: Some(60 * MIN),
                },
            ),
            (
                30 * MIN,
                0,
                Some(29 * MIN),
                &[],
                None,
                600,
                3600,
                Keep {
                    stop_at_ms: Some(39 * MIN),
                },
            ),
        ];
        for (i, (now, since, last, busy, kept, timeout, life, want)) in
            cases.into_iter().enumerate()
        {
            let s = snap(last, busy, kept);
            let got = decide(&Facts {
                now_ms: now,
                running_since_ms: since,
                activity: &s,
                idle_timeout_secs: timeout,
                max_lifetime_secs: life,
            });
            assert_eq!(got, want, "case {i}");
        }
    }

    #[test]
    fn holds_end_when_dropped_and_count_as_activity() {
        let a = Arc::new(Activity::default());
        assert_eq!(a.snapshot("w"), Snapshot::default());
        let h1 = a.hold("w", Work::Exec);
        let h2 = a.hold("w", Work::Exec);
        assert_eq!(a.snapshot("w").busy, vec![Work::Exec]);
        drop(h1);
        assert_eq!(a.snapshot("w").busy, vec![Work::Exec], "one still runs");
        drop(h2);
        let s = a.snapshot("w");
        assert!(s.busy.is_empty());
        assert!(s.last_ms.is_some());
    }
}
