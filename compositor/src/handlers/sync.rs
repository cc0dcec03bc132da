//! The sync hooks of every surface (shared/DESIGN.md, "Fences per category"; the types and rules
//! are [`crate::sync`]'s): a commit attaching a dma-buf is held (smithay's commit blocker) until
//! its acquire fence has signalled — a source in the event loop, never a blocking call, holding
//! only that surface — and at apply its fences become the surface's
//! [`crate::sync::commit::CommitSync`]. Explicitly synced surfaces go through
//! [`super::syncobj`].

use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;

use smithay::backend::allocator::dmabuf::Dmabuf;
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::wayland::compositor::{
    add_pre_commit_hook, with_states, BufferAssignment, SurfaceAttributes, SurfaceData,
};
use smithay::wayland::dmabuf::get_dmabuf;
use tracing::info;

use super::fence_wait::{hold, WaitOn};
use crate::sync::commit::{CommitSync, Fence, PendingSync, SyncMode};
use crate::sync::sync_file;
use crate::Weft;

/// Installs the sync hook on a new surface (from `CompositorHandler::new_surface`), and the
/// destruction hook that drops its fence waits.
pub fn install(surface: &WlSurface) {
    add_pre_commit_hook::<Weft, _>(surface, |state, _dh, surface| pre_commit(state, surface));
    smithay::wayland::compositor::add_destruction_hook(surface, |state: &mut Weft, surface| {
        super::fence_wait::forget(state, surface)
    });
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
    if crate::sync::explicit::has_syncobj_surface(surface) {
        super::syncobj::pre_commit(state, surface);
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
