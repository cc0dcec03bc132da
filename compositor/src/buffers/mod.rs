//! Client buffers coming in: wl_shm, single-pixel buffers and linux-dmabuf (with the feedback that
//! steers clients), and the wl_shm uploads that are spread over several loop turns.

pub mod feedback;
pub mod shm_in_place;
pub mod shm_pixels;
pub mod upload_slices;
pub mod uploads;

use smithay::reexports::wayland_server::protocol::wl_shm;
use smithay::wayland::dmabuf::{DmabufGlobal, DmabufState};
use smithay::wayland::shm::ShmState;
use smithay::wayland::single_pixel_buffer::SinglePixelBufferState;
use weft_protocols::dmabuf_guard::DmabufGuardData;

/// The buffer globals and their bookkeeping.
pub struct Buffers {
    pub(crate) shm_state: ShmState,
    /// What wl_shm advertises ([`crate::state::shm_formats`]).
    pub(crate) shm_formats: Vec<wl_shm::Format>,
    /// Kept: the global lives as long as this.
    pub(crate) _single_pixel_state: SinglePixelBufferState,
    pub(crate) dmabuf_state: DmabufState,
    /// Kept: the global lives as long as this.
    pub(crate) _dmabuf_global: DmabufGlobal,
    /// The default feedback and the steered variants surfaces get ([`crate::buffers::feedback`]).
    pub(crate) feedback: crate::buffers::feedback::FeedbackBook,
    pub(crate) dmabuf_guard: DmabufGuardData,
    /// wl_shm uploads too large for one event-loop turn ([`crate::buffers::uploads`]).
    pub(crate) uploads: crate::buffers::uploads::UploadQueue,
}
