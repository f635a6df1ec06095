//! Debounce: how long a request waits before it may start a model call. A request that arrives
//! during the wait replaces the waiting one (the newer request cancels it), so a burst of
//! keystrokes starts one model call, not one per key.
//!
//! Adaptive by default: waiting only pays when the model is slower than the user's typing
//! (otherwise each answer arrives before the next key), and then the right wait is about one
//! keystroke gap. Both are learned as moving averages; the wait is clamped.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A gap longer than this is a pause, not typing; it does not count as a keystroke gap.
const PAUSE: Duration = Duration::from_millis(400);
/// The adaptive wait never exceeds this.
const MAX_WAIT: Duration = Duration::from_millis(150);
/// Wait this share of the typical gap, so the next key usually lands inside the window.
const GAP_SHARE: f64 = 1.2;
/// Weight of the newest sample in the moving averages.
const SMOOTHING: f64 = 0.2;

pub struct Debounce {
    /// A fixed wait from the settings; `None`: adaptive.
    fixed: Option<Duration>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    last_request: Option<Instant>,
    typing_gap_ms: Option<f64>,
    model_call_ms: Option<f64>,
}

fn smooth(average: &mut Option<f64>, sample: f64) {
    *average = Some(average.map_or(sample, |a| a + SMOOTHING * (sample - a)));
}

impl Debounce {
    pub fn new(fixed_ms: Option<u64>) -> Self {
        Self { fixed: fixed_ms.map(Duration::from_millis), state: Mutex::default() }
    }

    /// Notes a request arriving at `now`; returns how long it should wait before its model call.
    pub fn on_request(&self, now: Instant) -> Duration {
        let Ok(mut state) = self.state.lock() else { return Duration::ZERO };
        if let Some(gap) = state.last_request.map(|last| now.saturating_duration_since(last))
            && gap < PAUSE
        {
            smooth(&mut state.typing_gap_ms, gap.as_secs_f64() * 1000.0);
        }
        state.last_request = Some(now);
        if let Some(fixed) = self.fixed {
            return fixed;
        }
        match (state.typing_gap_ms, state.model_call_ms) {
            (Some(gap), Some(call)) if call > gap => {
                Duration::from_millis((gap * GAP_SHARE).round() as u64).min(MAX_WAIT)
            }
            _ => Duration::ZERO,
        }
    }

    /// Notes how long a finished model call took (prompt and generation).
    pub fn on_model_call(&self, took: Duration) {
        if let Ok(mut state) = self.state.lock() {
            smooth(&mut state.model_call_ms, took.as_secs_f64() * 1000.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// Requests at the given gaps (ms) from a start instant; returns the last wait.
    fn after_requests(debounce: &Debounce, gaps: &[u64]) -> Duration {
        let mut now = Instant::now();
        let mut wait = debounce.on_request(now);
        for &gap in gaps {
            now += ms(gap);
            wait = debounce.on_request(now);
        }
        wait
    }

    #[test]
    fn a_fast_model_is_never_waited_for() {
        let debounce = Debounce::new(None);
        debounce.on_model_call(ms(20));
        assert_eq!(after_requests(&debounce, &[60, 60, 60]), Duration::ZERO);
    }

    #[test]
    fn a_slow_model_waits_about_one_keystroke_gap() {
        let debounce = Debounce::new(None);
        debounce.on_model_call(ms(500));
        let wait = after_requests(&debounce, &[60, 60, 60, 60]);
        assert_eq!(wait, ms(72));
    }

    #[test]
    fn pauses_do_not_count_as_typing_and_the_wait_is_clamped() {
        let debounce = Debounce::new(None);
        debounce.on_model_call(ms(5000));
        assert_eq!(after_requests(&debounce, &[2000, 3000]), Duration::ZERO, "no typing seen");
        assert_eq!(after_requests(&debounce, &[350, 350, 350]), MAX_WAIT);
    }

    #[test]
    fn a_fixed_setting_wins() {
        let debounce = Debounce::new(Some(30));
        assert_eq!(after_requests(&debounce, &[60]), ms(30));
        let off = Debounce::new(Some(0));
        off.on_model_call(ms(5000));
        assert_eq!(after_requests(&off, &[60, 60]), Duration::ZERO);
    }
}
