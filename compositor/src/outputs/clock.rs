//! The presentation clock. Real outputs use CLOCK_MONOTONIC; tests may ask for a deterministic clock
//! that advances exactly one refresh period per frame, so timestamps are reproducible.

use std::cell::Cell;
use std::time::Duration;

use rustix::time::{clock_gettime, ClockId};

#[derive(Debug)]
pub enum Clock {
    Monotonic,
    /// Starts at `now` and moves only when [`Clock::advance`] is called.
    Deterministic {
        now: Cell<Duration>,
    },
}

impl Clock {
    pub fn monotonic() -> Self {
        Self::Monotonic
    }

    pub fn deterministic() -> Self {
        Self::Deterministic {
            now: Cell::new(Duration::from_secs(1)),
        }
    }

    /// The clock id sent in wp_presentation.clock_id. The deterministic clock claims CLOCK_MONOTONIC
    /// too: its values are plausible monotonic times, which is all clients may assume.
    pub fn id(&self) -> i32 {
        libc_clock_monotonic()
    }

    pub fn now(&self) -> Duration {
        match self {
            Self::Monotonic => {
                let ts = clock_gettime(ClockId::Monotonic);
                Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
            }
            Self::Deterministic { now } => now.get(),
        }
    }

    /// Moves a deterministic clock forward; a no-op for the real clock.
    pub fn advance(&self, by: Duration) {
        if let Self::Deterministic { now } = self {
            now.set(now.get() + by);
        }
    }
}

/// CLOCK_MONOTONIC's id (1 on Linux), the clock every timestamp weft sends is on.
const fn libc_clock_monotonic() -> i32 {
    1
}
