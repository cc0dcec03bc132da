//! What weft keeps of a commit's synchronisation (types only; the hooks that fill them are in
//! [`super`]): the double-buffered [`PendingSync`] of a commit, the applied commit's
//! [`CommitSync`] (its fences by usage and its release point), and [`Held`], what a frame reading
//! the buffer in place keeps.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use smithay::backend::allocator::dmabuf::Dmabuf;
use smithay::backend::renderer::utils::Buffer;
use smithay::reexports::wayland_server::DisplayHandle;
use smithay::wayland::compositor::Cacheable;
use tracing::debug;

use super::fence_set::{Access, FenceSet, Usage};
use super::sync_file;
use super::timeline::{Point, ReleasePoint};

/// How a surface's current buffer was synchronised with its producer (`weft msg surfaces`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SyncMode {
    /// Not a dma-buf (wl_shm, single-pixel): nothing to wait for.
    #[default]
    None,
    /// wp_linux_drm_syncobj_v1 acquire and release points.
    Explicit,
    /// The planes' implicit fences as a sync_file (`DMA_BUF_IOCTL_EXPORT_SYNC_FILE`).
    ImplicitSyncFile,
    /// `poll` on the planes (memfd stand-ins, kernels before 6.0).
    ImplicitPoll,
}

impl SyncMode {
    pub fn name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Explicit => "explicit",
            Self::ImplicitSyncFile => "implicit_sync_file",
            Self::ImplicitPoll => "implicit_poll",
        }
    }
}

/// A fence weft holds: a sync_file.
pub type Fence = Arc<OwnedFd>;

/// The double-buffered sync state of a commit (smithay's cached state): the explicit points set
/// since the last commit, and what the pre-commit hook found for the attached buffer.
#[derive(Default)]
pub struct PendingSync {
    pub(crate) acquire: Option<Point>,
    pub(crate) release: Option<ReleasePoint>,
    /// The commit attached a buffer (else the surface keeps its current sync).
    pub(crate) attached: bool,
    pub(crate) mode: SyncMode,
    /// The implicit acquire fence (merged sync_file), already signalled when applied.
    pub(crate) implicit: Option<Fence>,
}

impl Cacheable for PendingSync {
    fn commit(&mut self, _dh: &DisplayHandle) -> Self {
        std::mem::take(self)
    }

    fn merge_into(self, into: &mut Self, _dh: &DisplayHandle) {
        // A commit without a buffer changes nothing; one with a buffer replaces a commit not yet
        // applied (a sync subsurface's), whose release point is then signalled unread.
        if self.attached {
            *into = self;
        }
    }
}

/// The fences of one applied commit's buffer: the acquire (usage `Write`) and weft's reads, the
/// release point of an explicitly synced commit, and the planes an implicit read fence goes into.
pub struct CommitSync {
    pub mode: SyncMode,
    fences: Mutex<FenceSet<Fence>>,
    /// Whether a frame has taken the acquire fence to wait on (the first reader does).
    acquire_taken: AtomicBool,
    /// The distinct plane fds of an implicitly synced dma-buf (`IMPORT_SYNC_FILE` targets).
    planes: Vec<OwnedFd>,
    /// Signalled when this is dropped: every holder gone means every read has finished.
    release: Option<ReleasePoint>,
    /// Read fences exported into the buffer (introspection).
    pub read_fences: std::sync::atomic::AtomicU64,
}

impl CommitSync {
    pub(crate) fn new(pending: PendingSync, dmabuf: Option<&Dmabuf>) -> Self {
        let mut fences = FenceSet::default();
        if let Some(fd) = pending.implicit {
            fences.add(Usage::Write, fd);
        }
        if let Some(point) = &pending.acquire {
            // Signalled already (the commit was held until it was): its sync_file is for the
            // GPU's ordering, where the device imports sync_files.
            if let Ok(fd) = point.timeline.export_sync_file(point.value) {
                fences.add(Usage::Write, Arc::new(fd));
            }
        }
        let planes = match (pending.mode, dmabuf) {
            (SyncMode::ImplicitSyncFile, Some(d)) => sync_file::distinct(d.handles())
                .into_iter()
                .filter_map(|fd| fd.try_clone_to_owned().ok())
                .collect(),
            _ => Vec::new(),
        };
        Self {
            mode: pending.mode,
            fences: Mutex::new(fences),
            acquire_taken: AtomicBool::new(false),
            planes,
            release: pending.release,
            read_fences: Default::default(),
        }
    }

    /// The release point's value (explicit sync).
    pub fn release_point(&self) -> Option<u64> {
        self.release.as_ref().map(|r| r.0.value)
    }

    /// Reads of weft's in flight on this buffer (read fences not yet signalled).
    pub fn reads_in_flight(&self) -> usize {
        let Ok(mut fences) = self.fences.lock() else {
            return 0;
        };
        fences.prune(|f| sync_file::signalled(f.as_fd()));
        fences.count(Usage::Read)
    }
}

impl Drop for CommitSync {
    fn drop(&mut self) {
        // The ring lets go of a frame's holders only after its fence signalled, so every read
        // fence has signalled here; the release point (dropped after this) may go.
        if let Ok(fences) = self.fences.get_mut() {
            if !fences.reads_done(|f| sync_file::signalled(f.as_fd())) {
                debug!("commit sync dropped with a read fence pending");
            }
        }
    }
}

/// What a frame that reads a client buffer in place keeps: the buffer (its wl_buffer.release waits
/// for the frame) and its commit's fences.
pub struct Held {
    pub buffer: Buffer,
    pub sync: Option<Arc<CommitSync>>,
}

impl crate::render::HeldBuffer for Held {
    fn take_acquire(&self) -> Option<OwnedFd> {
        let sync = self.sync.as_ref()?;
        if sync.acquire_taken.swap(true, Ordering::SeqCst) {
            return None;
        }
        let fences = sync.fences.lock().ok()?;
        let mut merged: Option<OwnedFd> = None;
        for (_, fence) in fences.to_wait(Access::Read) {
            merged = Some(match merged {
                None => fence.try_clone().ok()?,
                Some(m) => sync_file::merge(m.as_fd(), fence.as_fd()).ok()?,
            });
        }
        merged
    }

    fn wants_read_fence(&self) -> bool {
        self.sync.as_ref().is_some_and(|s| !s.planes.is_empty())
    }

    fn read_by(&self, done: BorrowedFd<'_>) {
        let Some(sync) = &self.sync else {
            return;
        };
        if let Ok(fd) = done.try_clone_to_owned() {
            if let Ok(mut fences) = sync.fences.lock() {
                fences.prune(|f| sync_file::signalled(f.as_fd()));
                fences.add(Usage::Read, Arc::new(fd));
            }
        }
        for plane in &sync.planes {
            match sync_file::import(plane.as_fd(), sync_file::READ, done) {
                Ok(()) => {
                    sync.read_fences.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => debug!(error = %e, "read fence not added to the client's buffer"),
            }
        }
    }
}
