//! Frames on demand for a display backend that flips only when there is something to show
//! (KMS): an output with nothing new rests — no flip, no wake-up — until the scene changes or a
//! client asks for a frame (a frame callback, presentation feedback), which wakes the backend
//! through the ping it gave ([`Weft::set_frame_waker`]). The backend asks
//! [`Weft::output_wants_frame`] after each flip and at each wake-up.

use smithay::wayland::compositor::{with_states, SurfaceAttributes};
use smithay::wayland::presentation::PresentationFeedbackCachedState;

use crate::Weft;

/// The backend's wake-up, and whether one is already on its way.
#[derive(Default)]
pub struct FrameWaker {
    ping: Option<calloop::ping::Ping>,
    pending: bool,
}

impl FrameWaker {
    /// Something may want a frame: the backend hears it once per turn of the loop.
    pub(crate) fn wake(&mut self) {
        if let Some(ping) = &self.ping {
            if !self.pending {
                self.pending = true;
                ping.ping();
            }
        }
    }
}

impl Weft {
    /// Frames on demand: `ping` wakes the display backend when an output may want a frame.
    pub fn set_frame_waker(&mut self, ping: calloop::ping::Ping) {
        self.outputs.waker.ping = Some(ping);
    }

    /// The backend took the wake-up: the next change pings again.
    pub fn frame_wake_taken(&mut self) {
        self.outputs.waker.pending = false;
    }

    /// Whether output `index` has something to show: its scene changed since its last frame, a
    /// capture waits on it, or a surface it shows waits for a frame callback or presentation
    /// feedback.
    pub fn output_wants_frame(&self, index: usize) -> bool {
        let Some(slot) = self.outputs.slots.get(index).filter(|s| s.enabled) else {
            return false;
        };
        if slot.shown_generation != Some(self.outputs.scene_generation)
            || self.capture.waiting_on(&slot.name())
        {
            return true;
        }
        self.scene(index).surfaces.iter().any(|surface| {
            with_states(surface, |states| {
                let callbacks = !states
                    .cached_state
                    .get::<SurfaceAttributes>()
                    .current()
                    .frame_callbacks
                    .is_empty();
                callbacks
                    || !states
                        .cached_state
                        .get::<PresentationFeedbackCachedState>()
                        .current()
                        .callbacks
                        .is_empty()
            })
        })
    }
}
