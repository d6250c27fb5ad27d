//! Send rate limits (README section 4): a per-number bucket (80 msg/s by default) and a
//! per-recipient pair limit (about one message per 6 s to the same user).
//!
//! Both are GCRA token buckets (the algorithm `governor` implements), written out here
//! because a send needs both limits at once: a send blocked by the pair limit must not
//! use up a per-number slot, which needs a check-both-then-take-both step that governor's
//! consuming `check` cannot express. Time is `tokio::time::Instant`, so schedulers and
//! tests can run on tokio's paused clock.
//!
//! State sits behind a `std::sync::Mutex` held only for a few arithmetic operations and
//! never across an await.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use tokio::time::Instant;

/// Rate limit configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    /// Messages per second for the phone number (80 by default; 1,000 for upgraded
    /// numbers; 20 for numbers shared with the Business app).
    pub per_number_per_second: u32,
    /// Messages that may go at once after an idle spell. Defaults to one second's worth.
    pub per_number_burst: u32,
    /// Minimum spacing of messages to the same recipient (6 s).
    pub pair_interval: Duration,
    /// Messages to one recipient that may go back to back before the spacing applies.
    pub pair_burst: u32,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self::per_second(80)
    }
}

impl RateLimits {
    /// `rate` messages per second (burst of one second's worth) and the default pair limit.
    pub fn per_second(rate: u32) -> Self {
        Self {
            per_number_per_second: rate,
            per_number_burst: rate,
            pair_interval: Duration::from_secs(6),
            pair_burst: 1,
        }
    }
}

/// One GCRA cell parameter set: emission interval `t` and burst tolerance `tau`.
#[derive(Debug, Clone, Copy)]
struct Gcra {
    t: Duration,
    tau: Duration,
}

impl Gcra {
    fn new(interval: Duration, burst: u32) -> Self {
        let burst = burst.max(1);
        Self {
            t: interval,
            tau: interval.saturating_mul(burst - 1),
        }
    }

    /// Earliest instant a cell with theoretical arrival time `tat` admits one more.
    fn earliest(&self, tat: Option<Instant>, now: Instant) -> Instant {
        match tat {
            Some(tat) => tat.checked_sub(self.tau).map_or(now, |t| t.max(now)),
            None => now,
        }
    }

    /// The new arrival time after admitting one at `at`.
    fn take(&self, tat: Option<Instant>, at: Instant) -> Instant {
        let base = tat.map_or(at, |tat| tat.max(at));
        base.checked_add(self.t).unwrap_or(base)
    }

    /// Arrival time that makes the cell admit nothing before `until`.
    fn hold_until(&self, tat: Option<Instant>, until: Instant) -> Instant {
        let held = until.checked_add(self.tau).unwrap_or(until);
        tat.map_or(held, |tat| tat.max(held))
    }
}

#[derive(Debug)]
struct State {
    number_tat: Option<Instant>,
    pairs: HashMap<String, Instant>,
    /// Size at which the pair map is next swept (amortised, so a sweep costs O(1) per send).
    next_sweep: usize,
}

/// Per-number and per-recipient limiter for one business phone number.
#[derive(Debug)]
pub struct SendLimiter {
    number: Gcra,
    pair: Gcra,
    state: Mutex<State>,
}

const MIN_SWEEP: usize = 1024;

impl SendLimiter {
    /// A limiter with the given limits. A rate of 0 is taken as 1 per second.
    pub fn new(limits: RateLimits) -> Self {
        let rate = limits.per_number_per_second.max(1);
        Self {
            number: Gcra::new(
                Duration::from_secs(1) / rate,
                limits.per_number_burst.max(1),
            ),
            pair: Gcra::new(limits.pair_interval, limits.pair_burst),
            state: Mutex::new(State {
                number_tat: None,
                pairs: HashMap::new(),
                next_sweep: MIN_SWEEP,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state is plain numbers, valid after any panic elsewhere; keep going.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes a slot for `recipient` now if both limits allow it, else returns how long to
    /// wait before asking again (nothing is taken then). For schedulers that pick another
    /// recipient meanwhile.
    pub fn check(&self, recipient: &str) -> Result<(), Duration> {
        let now = Instant::now();
        let mut state = self.lock();
        let at = self.earliest(&state, recipient, now);
        if at > now {
            return Err(at - now);
        }
        self.commit(&mut state, recipient, now);
        Ok(())
    }

    /// How long until the per-number limit admits a message (`None`: it does now). Takes
    /// nothing. Lets a scheduler tell "the number is saturated, wait" from "this recipient
    /// is held back, try another" after a refused [`SendLimiter::check`].
    pub fn number_wait(&self) -> Option<Duration> {
        let now = Instant::now();
        let state = self.lock();
        let at = self.number.earliest(state.number_tat, now);
        (at > now).then(|| at - now)
    }

    /// Waits until both limits admit a message to `recipient`, and takes the slot.
    ///
    /// First waits (without reserving) until the pair limit admits `recipient`, then
    /// reserves the next per-number slot and sleeps until it. Number slots are reserved
    /// ahead so concurrent callers are served in order without waking each other to retry;
    /// a pair wait is never reserved on the number bucket, because booking a slot seconds
    /// ahead there would hold up every other recipient until then. Dropping the future
    /// while it sleeps on a reservation leaves that slot used (a small, safe under-use).
    pub async fn acquire(&self, recipient: &str) {
        loop {
            let reserved = {
                let now = Instant::now();
                let mut state = self.lock();
                let pair_at = self.pair.earliest(state.pairs.get(recipient).copied(), now);
                if pair_at > now {
                    Err(pair_at)
                } else {
                    let at = self.number.earliest(state.number_tat, now);
                    self.commit(&mut state, recipient, at);
                    Ok(at)
                }
                // The guard is dropped here, before any await.
            };
            match reserved {
                Ok(at) => {
                    tokio::time::sleep_until(at).await;
                    return;
                }
                // Another message to the same recipient may take the slot first; then
                // this loops and waits again.
                Err(pair_at) => tokio::time::sleep_until(pair_at).await,
            }
        }
    }

    /// After a 131056 for `recipient`: admit nothing to it for `delay`.
    pub fn defer_recipient(&self, recipient: &str, delay: Duration) {
        let now = Instant::now();
        let until = now.checked_add(delay).unwrap_or(now);
        let mut state = self.lock();
        let current = state.pairs.get(recipient).copied();
        let held = self.pair.hold_until(current, until);
        state.pairs.insert(recipient.to_owned(), held);
    }

    /// After a 130429 or an app limit: admit nothing on this number for `delay`.
    pub fn defer_all(&self, delay: Duration) {
        let now = Instant::now();
        let until = now.checked_add(delay).unwrap_or(now);
        let mut state = self.lock();
        state.number_tat = Some(self.number.hold_until(state.number_tat, until));
    }

    /// Recipients currently tracked (for tests and metrics).
    pub fn tracked_recipients(&self) -> usize {
        self.lock().pairs.len()
    }

    fn earliest(&self, state: &State, recipient: &str, now: Instant) -> Instant {
        let number = self.number.earliest(state.number_tat, now);
        let pair = self.pair.earliest(state.pairs.get(recipient).copied(), now);
        number.max(pair)
    }

    fn commit(&self, state: &mut State, recipient: &str, at: Instant) {
        state.number_tat = Some(self.number.take(state.number_tat, at));
        let tat = self.pair.take(state.pairs.get(recipient).copied(), at);
        state.pairs.insert(recipient.to_owned(), tat);
        if state.pairs.len() >= state.next_sweep {
            // An entry whose arrival time has passed behaves exactly like no entry, so
            // dropping it changes nothing but memory.
            let now = Instant::now();
            state.pairs.retain(|_, tat| *tat > now);
            state.next_sweep = (state.pairs.len() * 2).max(MIN_SWEEP);
        }
    }
}

impl Default for SendLimiter {
    fn default() -> Self {
        Self::new(RateLimits::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn pair_limit_blocks_without_using_a_number_slot() {
        let mut limits = RateLimits::per_second(1);
        limits.per_number_burst = 2;
        let limiter = SendLimiter::new(limits);
        assert_eq!(limiter.check("a"), Ok(()));
        // "a" is pair-limited; asking again must not take the number's second slot...
        assert!(limiter.check("a").is_err());
        assert!(limiter.check("a").is_err());
        // ...which is still there for "b".
        assert_eq!(limiter.check("b"), Ok(()));
        assert!(limiter.check("c").is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn stale_pairs_are_swept() {
        let limiter = SendLimiter::new(RateLimits::per_second(1_000_000));
        for i in 0..MIN_SWEEP - 1 {
            limiter.acquire(&format!("r{i}")).await;
        }
        tokio::time::advance(Duration::from_secs(7)).await;
        limiter.acquire("last").await;
        assert_eq!(limiter.tracked_recipients(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn deferrals() {
        let limiter = SendLimiter::default();
        limiter.defer_recipient("a", Duration::from_secs(10));
        let wait = limiter.check("a").expect_err("deferred");
        assert_eq!(wait, Duration::from_secs(10));
        assert_eq!(limiter.check("b"), Ok(()));
        limiter.defer_all(Duration::from_secs(3));
        assert_eq!(limiter.check("c"), Err(Duration::from_secs(3)));
        assert_eq!(limiter.number_wait(), Some(Duration::from_secs(3)));
    }

    #[tokio::test(start_paused = true)]
    async fn number_wait_tells_a_saturated_number_from_a_held_recipient() {
        let mut limits = RateLimits::per_second(2);
        limits.per_number_burst = 1;
        let limiter = SendLimiter::new(limits);
        assert_eq!(limiter.number_wait(), None);
        limiter.defer_recipient("a", Duration::from_secs(10));
        assert!(limiter.check("a").is_err());
        assert_eq!(limiter.number_wait(), None, "only the recipient is held");
        assert_eq!(limiter.check("b"), Ok(()));
        assert_eq!(limiter.number_wait(), Some(Duration::from_millis(500)));
    }
}
