//! weft's fence waits: a commit held (smithay's commit blocker) until a fence fd is readable — a
//! sync_file, a syncobj eventfd — or a dma-buf's planes poll readable. Each wait is a source in
//! the event loop, never a blocking call, and holds only its surface; the waits are listed in the
//! surface's [`FenceWaits`] and removed with it, so a client that leaves while waiting leaves
//! nothing behind.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use smithay::backend::allocator::dmabuf::Dmabuf;
use smithay::reexports::calloop::generic::Generic;
use smithay::reexports::calloop::{Interest, Mode, PostAction, RegistrationToken};
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::reexports::wayland_server::Resource as _;
use smithay::wayland::compositor::{
    add_blocker, with_states, Blocker, BlockerState, CompositorHandler,
};
use tracing::{debug, info};

use crate::budget::Resource;
use crate::sync::commit::Fence;
use crate::sync::FenceWaits;
use crate::Weft;

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

/// Drops the surface's waits from the event loop (its destruction hook).
pub(super) fn forget(state: &mut Weft, surface: &WlSurface) {
    let tokens: Vec<RegistrationToken> = with_states(surface, |states| {
        states
            .data_map
            .get::<FenceWaits>()
            .map(|w| w.waits.borrow_mut().drain(..).map(|w| w.1).collect())
            .unwrap_or_default()
    });
    state
        .sync
        .active_fence_waits
        .fetch_sub(tokens.len(), Ordering::SeqCst);
    for token in tokens {
        state.runtime.loop_handle().remove(token);
    }
}

/// What a held commit waits on.
pub(super) enum WaitOn {
    /// Readable when the fence has signalled: a sync_file or a syncobj eventfd.
    Fd(Fence),
    Poll(Dmabuf),
}

/// Holds the surface's pending commit until `on` is ready. Held commits count against the
/// client's budget ([`Resource::PendingCommits`]): a client piling up commits on fences that never
/// signal is ended with `no_memory` before it piles up weft's memory.
pub(super) fn hold(state: &mut Weft, surface: &WlSurface, on: WaitOn, what: &'static str) {
    let Some(client) = surface.client() else {
        return;
    };
    let charge = match crate::runtime::client::budget_of(&client)
        .map(|b| b.charge(Resource::PendingCommits, 1))
        .transpose()
    {
        Ok(charge) => charge,
        Err(over) => {
            crate::budget::end_client(state.runtime.display_handle(), &client, &over);
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
        state.sync.active_fence_waits.fetch_sub(1, Ordering::SeqCst);
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
        let dh = state.runtime.display_handle().clone();
        state
            .client_compositor_state(&client)
            .blocker_cleared(state, &dh);
    };
    let inserted = match on {
        WaitOn::Fd(fd) => {
            let mut done = Some(done);
            state
                .runtime
                .loop_handle()
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
                    .runtime
                    .loop_handle()
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
            state.sync.active_fence_waits.fetch_add(1, Ordering::SeqCst);
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
