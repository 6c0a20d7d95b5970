//! Login throttling per account and per client address (in memory, per server).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct LoginLimiter {
    window: Duration,
    per_account: usize,
    per_address: usize,
    failures: Mutex<HashMap<String, Vec<Instant>>>,
}

impl LoginLimiter {
    pub fn new(window: Duration, per_account: usize, per_address: usize) -> Self {
        Self {
            window,
            per_account,
            per_address,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// `Some(seconds to wait)` when either the account or the address has
    /// failed too often within the window.
    pub fn blocked_for(&self, username: &str, address: &str) -> Option<u64> {
        let now = Instant::now();
        let mut map = self.failures.lock().expect("limiter lock");
        let account = self.wait(&mut map, &account_key(username), self.per_account, now);
        let addr = self.wait(&mut map, &address_key(address), self.per_address, now);
        account.max(addr)
    }

    pub fn record_failure(&self, username: &str, address: &str) {
        let now = Instant::now();
        let mut map = self.failures.lock().expect("limiter lock");
        for key in [account_key(username), address_key(address)] {
            map.entry(key).or_default().push(now);
        }
        if map.len() > 100_000 {
            let window = self.window;
            map.retain(|_, times| times.iter().any(|t| now.duration_since(*t) < window));
        }
    }

    pub fn record_success(&self, username: &str) {
        self.failures
            .lock()
            .expect("limiter lock")
            .remove(&account_key(username));
    }

    fn wait(
        &self,
        map: &mut HashMap<String, Vec<Instant>>,
        key: &str,
        limit: usize,
        now: Instant,
    ) -> Option<u64> {
        let times = map.get_mut(key)?;
        times.retain(|t| now.duration_since(*t) < self.window);
        if times.len() < limit {
            return None;
        }
        let oldest = times.first()?;
        Some((self.window - now.duration_since(*oldest)).as_secs().max(1))
    }
}

fn account_key(username: &str) -> String {
    format!("u:{}", username.to_lowercase())
}

fn address_key(address: &str) -> String {
    format!("a:{address}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_is_blocked_after_its_limit_and_freed_by_success() {
        let l = LoginLimiter::new(Duration::from_secs(60), 3, 100);
        for _ in 0..3 {
            assert!(l.blocked_for("anna", "1.1.1.1").is_none());
            l.record_failure("Anna", "1.1.1.1");
        }
        assert!(l.blocked_for("anna", "2.2.2.2").is_some());
        l.record_success("anna");
        assert!(l.blocked_for("anna", "2.2.2.2").is_none());
    }

    #[test]
    fn an_address_is_blocked_across_accounts() {
        let l = LoginLimiter::new(Duration::from_secs(60), 100, 2);
        l.record_failure("a", "9.9.9.9");
        l.record_failure("b", "9.9.9.9");
        assert!(l.blocked_for("c", "9.9.9.9").is_some());
        assert!(l.blocked_for("c", "8.8.8.8").is_none());
    }
}
