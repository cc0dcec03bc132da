//! wl_shm uploads too large for one event-loop turn.
//!
//! A commit whose wl_shm upload is larger than [`SLICE_BYTES`] is not copied in the commit: the
//! surface gets a fresh texture (charged to its client's budget), the job is queued here, and an
//! idle callback copies one slice of rows per event-loop turn, round-robin over the surfaces that
//! wait. Between two slices the loop serves every other client, so one client's 8K buffer costs
//! the others at most one slice of latency, not the whole copy.
//!
//! Invariants:
//! - the surface keeps showing its previous texture until the last slice is copied; then the new
//!   texture replaces it whole (a half-copied buffer is never drawn);
//! - a job copies only from the buffer of the commit that queued it: a newer commit of the
//!   surface replaces or cancels the job (smithay releases the old buffer then, so weft must not
//!   read it any more);
//! - each slice is flushed to the device before the next, so the staging buffer stays one slice
//!   large.
//!
//! This module holds the queue; [`crate::buffers::upload_slices`] copies the slices.

use std::collections::VecDeque;
use std::sync::Arc;

use smithay::backend::renderer::utils::CommitCounter;
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::reexports::wayland_server::{Resource, Weak};

use crate::budget::Charge;
use crate::buffer::BufferInfo;
use crate::render::Texture;

/// The most bytes copied for one client in one event-loop turn. A 1080p XRGB8888 frame (8 MiB)
/// goes in one turn; a 4K frame (32 MiB) in two.
pub const SLICE_BYTES: u64 = 16 * 1024 * 1024;

/// A wl_shm upload in progress (in the surface's content record).
pub struct StagedUpload {
    pub texture: Arc<Texture>,
    pub charge: Option<Charge>,
    /// The commit whose buffer is copied.
    pub commit: CommitCounter,
    /// Rows copied so far.
    pub rows_done: u32,
    pub opaque: bool,
    pub info: BufferInfo,
    /// The Y′CbCr conversion of a Y′CbCr buffer's rows.
    pub yuv: crate::render::YuvParams,
}

/// Surfaces with a [`StagedUpload`], served round-robin.
#[derive(Default)]
pub struct UploadQueue {
    pub(crate) surfaces: VecDeque<Weak<WlSurface>>,
    pub(crate) scheduled: bool,
}

impl UploadQueue {
    /// Queues `surface` (once) for slices.
    pub fn push(&mut self, surface: &WlSurface) {
        let id = surface.id();
        if !self.surfaces.iter().any(|w| w.id() == id) {
            self.surfaces.push_back(surface.downgrade());
        }
    }

    pub fn is_empty(&self) -> bool {
        self.surfaces.is_empty()
    }

    pub fn len(&self) -> usize {
        self.surfaces.len()
    }
}
