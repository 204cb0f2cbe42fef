//! Single-use, short-lived tickets for opening WebSockets from a browser.

use aicockpit_core::auth::Principal;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub(crate) const TTL: Duration = Duration::from_secs(30);

#[derive(Default)]
pub struct Tickets {
    issued: Mutex<HashMap<String, (Principal, Instant)>>,
}

impl Tickets {
    pub(crate) fn issue(&self, p: Principal) -> String {
        let t = format!("tkt_{}", uuid::Uuid::new_v4().simple());
        let mut m = self.issued.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        m.retain(|_, (_, at)| now.duration_since(*at) < TTL);
        m.insert(t.clone(), (p, now));
        t
    }

    /// The ticket's principal, once; None if unknown, used or expired.
    pub(crate) fn redeem(&self, ticket: &str) -> Option<Principal> {
        let mut m = self.issued.lock().unwrap_or_else(|e| e.into_inner());
        let (p, at) = m.remove(ticket)?;
        (at.elapsed() < TTL).then_some(p)
    }
}
