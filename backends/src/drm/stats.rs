//! What the KMS backend asked its device for, per output: the backend's own bookkeeping, shown by
//! `weft msg outputs` under `kms` (the core sees it only through [`OutputStats`]).

use std::cell::RefCell;
use std::rc::Rc;

use weft_compositor::backend::OutputStats;

/// Counts of what reached KMS for one output.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct KmsStats {
    /// Client dma-bufs imported (PRIME) and made framebuffers (ADDFB2), or tried.
    pub client_framebuffers: u64,
    /// Atomic TEST_ONLY commits of a client framebuffer.
    pub tests: u64,
    /// Flips to a client's buffer (scanout) and to a composed frame.
    pub scanout_flips: u64,
    pub composed_flips: u64,
    /// Composed flips that showed a client's buffer on the overlay or cursor plane over them.
    pub upper_plane_flips: u64,
    /// Flips that showed the cursor on the cursor plane (not composed).
    pub cursor_plane_flips: u64,
    /// Client buffers released at the out-fence of the flip that replaced them.
    pub released_at_out_fence: u64,
    /// Where composed frames go, and how they get there.
    pub composed_into: &'static str,
}

/// One output's counts, shared by the backend (which counts) and the output's slot (which shows
/// them), with when its last flips were queued (for flips per second). Everything runs on the
/// event loop's thread.
#[derive(Debug, Clone, Default)]
pub struct SharedStats(Rc<RefCell<Shared>>);

#[derive(Debug, Default)]
struct Shared {
    stats: KmsStats,
    /// When flips were queued in the last second.
    recent: std::collections::VecDeque<std::time::Instant>,
}

/// How far back flips per second look.
const WINDOW: std::time::Duration = std::time::Duration::from_secs(1);

impl Shared {
    fn forget_old(&mut self, now: std::time::Instant) {
        while self
            .recent
            .front()
            .is_some_and(|t| now.duration_since(*t) > WINDOW)
        {
            self.recent.pop_front();
        }
    }
}

impl SharedStats {
    pub fn new(stats: KmsStats) -> Self {
        Self(Rc::new(RefCell::new(Shared {
            stats,
            recent: Default::default(),
        })))
    }

    /// Counts something that reached KMS.
    pub fn count(&self, f: impl FnOnce(&mut KmsStats)) {
        f(&mut self.0.borrow_mut().stats);
    }

    /// A flip (or a modeset) was queued now.
    pub fn flipped(&self) {
        let now = std::time::Instant::now();
        let mut shared = self.0.borrow_mut();
        shared.forget_old(now);
        shared.recent.push_back(now);
    }
}

impl OutputStats for SharedStats {
    fn to_json(&self) -> serde_json::Value {
        let mut shared = self.0.borrow_mut();
        shared.forget_old(std::time::Instant::now());
        let mut json = serde_json::to_value(shared.stats).unwrap_or_default();
        if let Some(map) = json.as_object_mut() {
            // An output with nothing new to show does not flip (crate::drm::devices).
            map.insert("flips_per_second".into(), shared.recent.len().into());
        }
        json
    }
}
