//! The implicit-sync bridge. A client that does not use explicit sync (wp_linux_drm_syncobj_v1)
//! hands weft a dma-buf whose producer (its GPU, a decoder) may still be writing it: the write
//! fences live in the dma-buf's reservation object, not in the protocol. Reading it then shows a
//! half-made frame. So a commit whose new buffer is a dma-buf is held with smithay's commit
//! blocker until `poll(POLLIN)` on every plane reports the writes done (the kernel's dma_buf_poll
//! waits for the fences a reader must wait for), and only then applied. Other clients and other
//! surfaces carry on meanwhile; a fence that never signals holds only its own surface.
//!
//! A memfd standing in for a dma-buf polls readable at once, so nothing is held on the host.

use smithay::backend::allocator::dmabuf::Dmabuf;
use smithay::reexports::calloop::{Interest, LoopHandle};
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::reexports::wayland_server::{DisplayHandle, Resource as _};
use smithay::wayland::compositor::{
    add_blocker, add_pre_commit_hook, with_states, BufferAssignment, CompositorHandler,
    SurfaceAttributes,
};
use smithay::wayland::dmabuf::get_dmabuf;
use tracing::{debug, warn};

use crate::budget::Resource;
use crate::state::Weft;
use crate::surface::with_content;

/// Installs the bridge on a new surface (from `CompositorHandler::new_surface`).
pub fn install(surface: &WlSurface) {
    add_pre_commit_hook::<Weft, _>(surface, |state, _dh, surface| {
        let Some(dmabuf) = pending_dmabuf(surface) else {
            return;
        };
        let handle = state.loop_handle.clone();
        hold_until_written(&handle, &state.display_handle, surface, &dmabuf);
    });
}

/// The same dma-buf on duplicated fds (each plane's fd `dup`ed).
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

/// The dma-buf this commit attaches, if any.
fn pending_dmabuf(surface: &WlSurface) -> Option<Dmabuf> {
    with_states(surface, |states| {
        match states
            .cached_state
            .get::<SurfaceAttributes>()
            .pending()
            .buffer
            .as_ref()
        {
            Some(BufferAssignment::NewBuffer(buffer)) => get_dmabuf(buffer).ok().cloned(),
            _ => None,
        }
    })
}

/// Blocks the surface's pending commit until `dmabuf`'s writers are done (nothing when they are).
///
/// Held commits count against the client's budget ([`Resource::PendingCommits`]): a client that
/// piles up commits on fences that never signal is ended with `no_memory` before it can pile up
/// weft's memory.
fn hold_until_written(
    handle: &LoopHandle<'static, Weft>,
    dh: &DisplayHandle,
    surface: &WlSurface,
    dmabuf: &Dmabuf,
) {
    // The wait is on duplicates of the plane fds: the event loop registers an fd once, so waiting
    // on the client's own fds failed (EEXIST) when the same still-fenced buffer was committed
    // again, and that commit went through unwaited.
    let Some(waited) = duplicate(dmabuf) else {
        warn!("cannot duplicate a dma-buf's fds to wait for its fences; commit applied now");
        return;
    };
    // Err(AlreadyReady): every plane polls readable now, the commit goes through at once.
    let Ok((blocker, source)) = waited.generate_blocker(Interest::READ) else {
        return;
    };
    let Some(client) = surface.client() else {
        return;
    };
    // Given back when the source (and this closure) is dropped: released or its client gone.
    let charge = match crate::client::budget_of(&client)
        .map(|b| b.charge(Resource::PendingCommits, 1))
        .transpose()
    {
        Ok(charge) => charge,
        Err(over) => {
            crate::budget::end_client(dh, &client, &over);
            return;
        }
    };
    let id = surface.id().protocol_id();
    let weak = surface.downgrade();
    let held_at = std::time::Instant::now();
    let inserted = handle.insert_source(source, move |_, _, state: &mut Weft| {
        let _held = &charge;
        let waited = held_at.elapsed();
        debug!(
            surface = id,
            ?waited,
            "dma-buf writes done; held commit released"
        );
        if let Ok(surface) = weak.upgrade() {
            with_states(&surface, |states| {
                with_content(states, |c| c.fence_wait_ns += waited.as_nanos() as u64)
            });
        }
        let dh = state.display_handle.clone();
        state
            .client_compositor_state(&client)
            .blocker_cleared(state, &dh);
        Ok(())
    });
    match inserted {
        Ok(_) => {
            add_blocker(surface, blocker);
            with_states(surface, |states| {
                with_content(states, |c| c.fence_waits += 1)
            });
            debug!(
                surface = id,
                "commit held until the dma-buf's writes are done"
            );
        }
        // Without the source the blocker would never clear: apply the commit rather than hang it.
        Err(e) => {
            warn!(surface = id, error = %e, "cannot wait for a dma-buf's fences; commit applied now")
        }
    }
}
