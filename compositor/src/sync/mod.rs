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
//! The applied commit's fences live in a [`CommitSync`] the surface holds, and every frame in flight
//! that reads its buffer too ([`Held`]); the last holder gone is the end of weft's reads.

pub mod explicit;
pub mod fence_set;
pub mod soft_fence;
pub mod sync_file;
pub mod timeline;

use std::cell::RefCell;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use smithay::backend::allocator::dmabuf::Dmabuf;
use smithay::backend::renderer::utils::Buffer;
use smithay::reexports::calloop::generic::Generic;
use smithay::reexports::calloop::{Interest, Mode, PostAction, RegistrationToken};
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::reexports::wayland_server::{DisplayHandle, Resource as _};
use smithay::wayland::compositor::{
    add_blocker, add_pre_commit_hook, with_states, Blocker, BlockerState, BufferAssignment,
    Cacheable, CompositorHandler, SurfaceAttributes, SurfaceData,
};
use smithay::wayland::dmabuf::get_dmabuf;
use tracing::{debug, info};

use self::fence_set::{Access, FenceSet, Usage};
use self::timeline::{Point, ReleasePoint};
use crate::budget::Resource;
use crate::state::Weft;

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
    attached: bool,
    mode: SyncMode,
    /// The implicit acquire fence (merged sync_file), already signalled when applied.
    implicit: Option<Fence>,
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
    fn new(pending: PendingSync, dmabuf: Option<&Dmabuf>) -> Self {
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

/// The fence waits of a surface's held commits (in its data map): removed from the loop when the
/// surface goes, so a client that disconnects while waiting leaves nothing behind.
#[derive(Default)]
pub struct FenceWaits {
    waits: RefCell<Vec<(u64, RegistrationToken, Instant)>>,
    next: std::cell::Cell<u64>,
}

impl FenceWaits {
    /// How long the oldest held commit has waited, if one is held.
    pub fn waiting_for(&self) -> Option<std::time::Duration> {
        self.waits.borrow().iter().map(|w| w.2.elapsed()).max()
    }
}

struct FenceBlocker(Arc<AtomicBool>);

impl Blocker for FenceBlocker {
    fn state(&self) -> BlockerState {
        if self.0.load(Ordering::SeqCst) {
            BlockerState::Released
        } else {
            BlockerState::Pending
        }
    }
}

/// Installs the sync hook on a new surface (from `CompositorHandler::new_surface`), and the
/// destruction hook that drops its fence waits.
pub fn install(surface: &WlSurface) {
    add_pre_commit_hook::<Weft, _>(surface, |state, _dh, surface| pre_commit(state, surface));
    smithay::wayland::compositor::add_destruction_hook(surface, |state: &mut Weft, surface| {
        forget_waits(state, surface)
    });
}

fn forget_waits(state: &mut Weft, surface: &WlSurface) {
    let tokens: Vec<RegistrationToken> = with_states(surface, |states| {
        states
            .data_map
            .get::<FenceWaits>()
            .map(|w| w.waits.borrow_mut().drain(..).map(|w| w.1).collect())
            .unwrap_or_default()
    });
    state
        .active_fence_waits
        .fetch_sub(tokens.len(), Ordering::SeqCst);
    for token in tokens {
        state.loop_handle.remove(token);
    }
}

/// The dma-buf this commit attaches: `Some(None)` for another kind of buffer, `None` when the
/// commit attaches nothing new.
fn pending_buffer(states: &SurfaceData) -> Option<Option<Dmabuf>> {
    match states
        .cached_state
        .get::<SurfaceAttributes>()
        .pending()
        .buffer
        .as_ref()
    {
        Some(BufferAssignment::NewBuffer(buffer)) => Some(get_dmabuf(buffer).ok().cloned()),
        _ => None,
    }
}

fn pre_commit(state: &mut Weft, surface: &WlSurface) {
    if explicit::has_syncobj_surface(surface) {
        explicit::pre_commit(state, surface);
        return;
    }
    let Some(buffer) = with_states(surface, pending_buffer) else {
        return;
    };
    let (mode, wait) = match &buffer {
        None => (SyncMode::None, None),
        Some(dmabuf) => implicit_acquire(dmabuf),
    };
    let implicit = match &wait {
        Some(Wait::SyncFile(fd)) => Some(fd.clone()),
        _ => None,
    };
    with_states(surface, |states| {
        let mut cached = states.cached_state.get::<PendingSync>();
        let p = cached.pending();
        p.attached = true;
        p.mode = mode;
        p.implicit = implicit;
    });
    match wait {
        Some(Wait::SyncFile(fd)) if !sync_file::signalled(fd.as_fd()) => hold(
            state,
            surface,
            WaitOn::Fd(fd),
            "implicit write fence (sync_file)",
        ),
        Some(Wait::Poll(dmabuf)) => hold(
            state,
            surface,
            WaitOn::Poll(dmabuf),
            "implicit write fence (poll)",
        ),
        _ => {}
    }
}

enum Wait {
    SyncFile(Fence),
    /// Duplicated plane fds to poll (the loop registers an fd once: the client's own could be
    /// waited on twice when the same buffer is committed again).
    Poll(Dmabuf),
}

/// The implicit acquire fence of `dmabuf`: `EXPORT_SYNC_FILE(READ)` over its distinct planes,
/// merged; else (memfd, old kernel) its planes to poll.
fn implicit_acquire(dmabuf: &Dmabuf) -> (SyncMode, Option<Wait>) {
    let mut merged: Option<OwnedFd> = None;
    for fd in sync_file::distinct(dmabuf.handles()) {
        let exported = match sync_file::export(fd, sync_file::READ) {
            Ok(f) => f,
            Err(sync_file::FenceError::Unsupported(..)) => {
                return (SyncMode::ImplicitPoll, duplicate(dmabuf).map(Wait::Poll))
            }
            Err(e) => {
                info!(error = %e, "cannot export a dma-buf's fences; polling its planes");
                return (SyncMode::ImplicitPoll, duplicate(dmabuf).map(Wait::Poll));
            }
        };
        merged = Some(match merged {
            None => exported,
            Some(m) => match sync_file::merge(m.as_fd(), exported.as_fd()) {
                Ok(both) => both,
                Err(e) => {
                    info!(error = %e, "cannot merge sync_files; polling the planes");
                    return (SyncMode::ImplicitPoll, duplicate(dmabuf).map(Wait::Poll));
                }
            },
        });
    }
    (
        SyncMode::ImplicitSyncFile,
        merged.map(|fd| Wait::SyncFile(Arc::new(fd))),
    )
}

/// The same dma-buf on duplicated fds.
fn duplicate(dmabuf: &Dmabuf) -> Option<Dmabuf> {
    use smithay::backend::allocator::dmabuf::DmabufFlags;
    let flags = if dmabuf.y_inverted() {
        DmabufFlags::Y_INVERT
    } else {
        DmabufFlags::empty()
    };
    let mut builder = Dmabuf::builder_from_buffer(dmabuf, flags);
    for (idx, ((fd, offset), stride)) in dmabuf
        .handles()
        .zip(dmabuf.offsets())
        .zip(dmabuf.strides())
        .enumerate()
    {
        let fd = fd.try_clone_to_owned().ok()?;
        if !builder.add_plane(fd, u32::try_from(idx).ok()?, offset, stride) {
            return None;
        }
    }
    builder.build()
}

/// What a held commit waits on.
pub(crate) enum WaitOn {
    /// Readable when the fence has signalled: a sync_file or a syncobj eventfd.
    Fd(Fence),
    Poll(Dmabuf),
}

/// Holds the surface's pending commit until `on` is ready. Held commits count against the
/// client's budget ([`Resource::PendingCommits`]): a client piling up commits on fences that never
/// signal is ended with `no_memory` before it piles up weft's memory.
pub(crate) fn hold(state: &mut Weft, surface: &WlSurface, on: WaitOn, what: &'static str) {
    let Some(client) = surface.client() else {
        return;
    };
    let charge = match crate::client::budget_of(&client)
        .map(|b| b.charge(Resource::PendingCommits, 1))
        .transpose()
    {
        Ok(charge) => charge,
        Err(over) => {
            crate::budget::end_client(&state.display_handle, &client, &over);
            return;
        }
    };
    let id = surface.id().protocol_id();
    let signal = Arc::new(AtomicBool::new(false));
    let wait_id = with_states(surface, |states| {
        let waits = states.data_map.get_or_insert(FenceWaits::default);
        let n = waits.next.get();
        waits.next.set(n + 1);
        n
    });
    let weak = surface.downgrade();
    let held_at = Instant::now();
    let flag = signal.clone();
    let done = move |state: &mut Weft| {
        let _held = &charge;
        flag.store(true, Ordering::SeqCst);
        state.active_fence_waits.fetch_sub(1, Ordering::SeqCst);
        let waited = held_at.elapsed();
        debug!(
            surface = id,
            ?waited,
            what,
            "fence signalled; held commit released"
        );
        if let Ok(surface) = weak.upgrade() {
            with_states(&surface, |states| {
                if let Some(w) = states.data_map.get::<FenceWaits>() {
                    w.waits.borrow_mut().retain(|w| w.0 != wait_id);
                }
                crate::surface::with_content(states, |c| {
                    c.fence_wait_ns += waited.as_nanos() as u64
                });
            });
        }
        let dh = state.display_handle.clone();
        state
            .client_compositor_state(&client)
            .blocker_cleared(state, &dh);
    };
    let inserted = match on {
        WaitOn::Fd(fd) => {
            let mut done = Some(done);
            state
                .loop_handle
                .insert_source(
                    Generic::new(fd, Interest::READ, Mode::Level),
                    move |_, _, state: &mut Weft| {
                        if let Some(done) = done.take() {
                            done(state);
                        }
                        Ok(PostAction::Remove)
                    },
                )
                .map_err(|e| e.error.to_string())
        }
        WaitOn::Poll(dmabuf) => match dmabuf.generate_blocker(Interest::READ) {
            // Every plane polls readable now: nothing to hold.
            Err(_) => return,
            Ok((_, source)) => {
                let mut done = Some(done);
                state
                    .loop_handle
                    .insert_source(source, move |_, _, state: &mut Weft| {
                        if let Some(done) = done.take() {
                            done(state);
                        }
                        Ok(())
                    })
                    .map_err(|e| e.error.to_string())
            }
        },
    };
    match inserted {
        Ok(token) => {
            state.active_fence_waits.fetch_add(1, Ordering::SeqCst);
            add_blocker(surface, FenceBlocker(signal));
            with_states(surface, |states| {
                if let Some(w) = states.data_map.get::<FenceWaits>() {
                    w.waits.borrow_mut().push((wait_id, token, held_at));
                }
                crate::surface::with_content(states, |c| c.fence_waits += 1)
            });
            debug!(
                surface = id,
                what, "commit held until its acquire fence signals"
            );
        }
        // Without the source the blocker would never clear: apply the commit rather than hang it.
        Err(e) => info!(surface = id, error = %e, "cannot wait for a fence; commit applied now"),
    }
}

/// At apply (the commit handler, after smithay's buffer handler): the applied commit's fences
/// become the surface's [`CommitSync`] when it attached a buffer.
pub fn applied(surface: &WlSurface) {
    with_states(surface, |states| {
        let pending = std::mem::take(states.cached_state.get::<PendingSync>().current());
        if !pending.attached {
            return;
        }
        let dmabuf = states
            .data_map
            .get::<smithay::backend::renderer::utils::RendererSurfaceStateUserData>()
            .and_then(|rs| {
                rs.lock()
                    .ok()
                    .and_then(|rs| rs.buffer().and_then(|b| get_dmabuf(b).ok().cloned()))
            });
        let sync = CommitSync::new(pending, dmabuf.as_ref());
        crate::surface::with_content(states, |c| {
            c.sync_mode = sync.mode;
            c.sync = Some(Arc::new(sync));
        });
    });
}

/// Gives `renderer` read fences when its device exports none: vgem's, where the registry has
/// vgem ([`soft_fence`]). Without either, weft's reads end when the loop sees the frame's
/// `VkFence` signalled, and wl_buffer.release waits for that.
pub fn provide_read_fences(
    renderer: &mut crate::render::Renderer,
    devices: &crate::devices::Registry,
) {
    if renderer.has_read_fences() || devices.is_simulated() {
        return;
    }
    let Some(node) = devices
        .devices()
        .iter()
        .filter(|d| d.driver == "vgem")
        .find_map(|d| d.nodes.iter().find(|n| !n.path.contains("renderD")))
    else {
        return;
    };
    match soft_fence::SoftFences::open(std::path::Path::new(&node.path)) {
        Ok(fences) => {
            info!(node = %node.path, "read fences made on vgem (the render device exports none)");
            renderer.set_read_fences(Box::new(Arc::new(fences)));
        }
        Err(e) => info!(node = %node.path, error = %e, "no read fences from vgem"),
    }
}

/// How long the surface's oldest held commit has waited for its fence (`None`: none held).
pub fn waiting_for(states: &SurfaceData) -> Option<std::time::Duration> {
    states
        .data_map
        .get::<FenceWaits>()
        .and_then(FenceWaits::waiting_for)
}
