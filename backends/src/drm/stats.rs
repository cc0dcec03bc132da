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
/// them). Everything runs on the event loop's thread.
#[derive(Debug, Clone, Default)]
pub struct SharedStats(Rc<RefCell<KmsStats>>);

impl SharedStats {
    pub fn new(stats: KmsStats) -> Self {
        Self(Rc::new(RefCell::new(stats)))
    }

    /// Counts something that reached KMS.
    pub fn count(&self, f: impl FnOnce(&mut KmsStats)) {
        f(&mut self.0.borrow_mut());
    }
}

impl OutputStats for SharedStats {
    fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(*self.0.borrow()).unwrap_or_default()
    }
}
