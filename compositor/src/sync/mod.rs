//! Synchronisation with the producers of client buffers, by fence category (shared/DESIGN.md,
//! "Fences per category"; the rules are [`fence_set`]'s).
//!
//! A commit that attaches a dma-buf is held (smithay's commit blocker) until its **acquire** fence
//! has signalled, and only then applied; the wait is a source in the event loop, never a blocking
//! call, and holds only that surface (and the sync subsurface trees it belongs to), so a fence that
//! never signals stalls nobody else: its surface keeps showing its last good frame.
//!
//! - **Explicit** ([`explicit`], wp_linux_drm_syncobj_v1): the acquire point of the client's DRM
//!   timeline, waited through `DRM_IOCTL_SYNCOBJ_EVENTFD`; the release point is signalled when
//!   weft has finished with the buffer of that commit ([`timeline::ReleasePoint`]).
//! - **Implicit, sync_file** (Linux 6.0+): `DMA_BUF_IOCTL_EXPORT_SYNC_FILE(READ)` over every
//!   distinct plane fd, merged, polled in the loop. After each frame that reads the buffer in
//!   place, weft's read fence is added to the buffer with `IMPORT_SYNC_FILE(READ)`, so a producer
//!   that writes next waits for weft.
//! - **Implicit, poll**: a memfd stand-in or an older kernel: `poll(POLLIN)` on the planes.
//!
//! The applied commit's fences live in a [`commit::CommitSync`] the surface holds, and every frame
//! in flight that reads its buffer too ([`commit::Held`]); the last holder gone is the end of
//! weft's reads. The hooks that hold and apply commits are `handlers/sync.rs` and
//! `handlers/syncobj.rs`, their fence waits `handlers/fence_wait.rs`.

pub mod commit;
pub mod explicit;
pub mod fence_set;
pub mod soft_fence;
pub mod sync_file;
pub mod timeline;

use std::cell::RefCell;
use std::time::Instant;

use smithay::reexports::calloop::RegistrationToken;
use smithay::wayland::compositor::SurfaceData;

/// The fence waits of a surface's held commits (in its data map): removed from the loop when the
/// surface goes, so a client that disconnects while waiting leaves nothing behind.
#[derive(Default)]
pub struct FenceWaits {
    pub(crate) waits: RefCell<Vec<(u64, RegistrationToken, Instant)>>,
    pub(crate) next: std::cell::Cell<u64>,
}

impl FenceWaits {
    /// How long the oldest held commit has waited, if one is held.
    pub fn waiting_for(&self) -> Option<std::time::Duration> {
        self.waits.borrow().iter().map(|w| w.2.elapsed()).max()
    }
}

/// How long the surface's oldest held commit has waited for its fence (`None`: none held).
pub fn waiting_for(states: &SurfaceData) -> Option<std::time::Duration> {
    states
        .data_map
        .get::<FenceWaits>()
        .and_then(FenceWaits::waiting_for)
}

/// Weft's side of synchronisation: the syncobj global and how many commits wait right now.
pub struct Fences {
    /// wp_linux_drm_syncobj_v1, where a device has timeline syncobjs ([`explicit`]).
    pub(crate) syncobj: Option<timeline::SyncobjState>,
    /// Commits held on a fence right now, over all surfaces.
    pub(crate) active_fence_waits: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}
