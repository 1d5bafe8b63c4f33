//! The circuit breaker in front of one upstream: after `threshold`
//! consecutive failures, no request is sent until a backoff passes (5 s,
//! doubling to 5 minutes); then one request is let through, and its outcome
//! closes the circuit or opens it again for longer. A `429`'s `Retry-After`
//! opens it for exactly that long, whatever the count.

use std::sync::Mutex;
use std::time::{Duration, Instant};

const FIRST_BACKOFF: Duration = Duration::from_secs(5);
const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// A `Retry-After` longer than this is read as this (a hostile or broken
/// upstream must not switch a proxy off for a day).
const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

pub(crate) struct Breaker {
    threshold: u32,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    failures: u32,
    open_until: Option<Instant>,
    backoff: Option<Duration>,
    /// A trial request is out (half-open): others wait for its outcome.
    trial: bool,
}

impl Breaker {
    pub(crate) fn new(threshold: u32) -> Breaker {
        Breaker {
            threshold: threshold.max(1),
            state: Mutex::new(State::default()),
        }
    }

    /// Whether a request may be sent now; the error says for how long not.
    pub(crate) fn allow(&self) -> Result<(), String> {
        let mut s = self.state.lock().expect("breaker");
        match s.open_until {
            Some(until) if Instant::now() < until => Err(format!(
                "circuit open for {} s more after upstream failures",
                (until - Instant::now()).as_secs() + 1
            )),
            Some(_) if s.trial => Err("circuit half-open: a trial request is out".into()),
            Some(_) => {
                s.trial = true;
                Ok(())
            }
            None => Ok(()),
        }
    }

    pub(crate) fn is_open(&self) -> bool {
        let s = self.state.lock().expect("breaker");
        s.open_until.is_some_and(|u| Instant::now() < u)
    }

    pub(crate) fn success(&self) {
        *self.state.lock().expect("breaker") = State::default();
    }

    /// A failed request; `retry_after` when the upstream said how long to wait.
    pub(crate) fn failure(&self, retry_after: Option<Duration>) {
        let mut s = self.state.lock().expect("breaker");
        s.failures += 1;
        s.trial = false;
        if let Some(wait) = retry_after {
            s.open_until = Some(Instant::now() + wait.min(MAX_RETRY_AFTER));
            return;
        }
        if s.failures >= self.threshold {
            let backoff = s
                .backoff
                .map_or(FIRST_BACKOFF, |b| (b * 2).min(MAX_BACKOFF));
            s.backoff = Some(backoff);
            s.open_until = Some(Instant::now() + backoff);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_threshold_and_on_retry_after() {
        let b = Breaker::new(2);
        b.failure(None);
        assert!(b.allow().is_ok());
        b.failure(None);
        assert!(b.allow().is_err());
        assert!(b.is_open());
        b.success();
        assert!(b.allow().is_ok());
        b.failure(Some(Duration::from_secs(30)));
        let err = b.allow().unwrap_err();
        assert!(err.contains("30 s") || err.contains("29 s"), "{err}");
    }

    #[test]
    fn half_open_lets_one_trial_through() {
        let b = Breaker::new(1);
        b.failure(Some(Duration::ZERO));
        assert!(b.allow().is_ok(), "the trial");
        assert!(b.allow().is_err(), "others wait for it");
        b.success();
        assert!(b.allow().is_ok());
        assert!(b.allow().is_ok());
    }
}
