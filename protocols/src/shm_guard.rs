//! wl_shm guard.
//!
//! Rule enforced: `wl_shm_pool.resize` may only grow a pool. smithay raises `invalid_fd` for a
//! smaller positive size, but for `size <= 0` it posts the error and then unwraps a zero size,
//! which would panic the whole compositor. The guard raises `invalid_fd` (libwayland's code for
//! shrinking a pool) and stops there.
//!
//! Accounting: every `wl_shm.create_pool` is first offered to the compositor's per-client budget
//! ([`ShmPoolBudget`]), which may refuse it (and end the client); every pool's destruction is
//! reported back.
//!
//! Rule enforced: `wl_shm_pool.create_buffer` with a format the compositor does not advertise is
//! `invalid_format`. smithay checks the stride first with a bytes-per-pixel table that knows no
//! size for many formats, so an unadvertised format would come back as `invalid_stride`.

use smithay::reexports::wayland_server::backend::ClientId;
use smithay::reexports::wayland_server::protocol::{wl_buffer, wl_shm, wl_shm_pool};
use smithay::reexports::wayland_server::{
    Client, DataInit, Dispatch, DisplayHandle, Resource, WEnum,
};
use smithay::wayland::buffer::BufferHandler;
use smithay::wayland::shm::{ShmBufferUserData, ShmHandler, ShmPoolUserData, ShmState};

/// Dispatches wl_shm_pool requests: validates, then delegates to [`ShmState`].
pub struct ShmGuard;

/// The formats the compositor advertised on wl_shm.
pub trait ShmFormats {
    fn shm_formats(&self) -> &[wl_shm::Format];
}

/// The compositor's per-client accounting of wl_shm pools.
pub trait ShmPoolBudget {
    /// `client` asks for one more pool. `false` refuses it: the implementor has ended the client
    /// (with the protocol error it chose), and the request goes no further.
    fn shm_pool_wanted(&mut self, client: &Client) -> bool;
    /// A pool of `client` was destroyed (by request or with its client).
    fn shm_pool_gone(&mut self, client: ClientId);
}

impl<D> Dispatch<wl_shm::WlShm, (), D> for ShmGuard
where
    D: Dispatch<wl_shm::WlShm, ()>
        + Dispatch<wl_shm_pool::WlShmPool, ShmPoolUserData>
        + ShmHandler
        + ShmPoolBudget
        + 'static,
{
    fn request(
        state: &mut D,
        client: &Client,
        shm: &wl_shm::WlShm,
        request: wl_shm::Request,
        data: &(),
        dh: &DisplayHandle,
        data_init: &mut DataInit<'_, D>,
    ) {
        if let wl_shm::Request::CreatePool { .. } = &request {
            if !state.shm_pool_wanted(client) {
                return;
            }
        }
        <ShmState as Dispatch<wl_shm::WlShm, (), D>>::request(
            state, client, shm, request, data, dh, data_init,
        )
    }
}

impl<D> Dispatch<wl_shm_pool::WlShmPool, ShmPoolUserData, D> for ShmGuard
where
    D: Dispatch<wl_shm_pool::WlShmPool, ShmPoolUserData>
        + Dispatch<wl_buffer::WlBuffer, ShmBufferUserData>
        + BufferHandler
        + ShmHandler
        + ShmFormats
        + ShmPoolBudget
        + 'static,
{
    fn request(
        state: &mut D,
        client: &Client,
        pool: &wl_shm_pool::WlShmPool,
        request: wl_shm_pool::Request,
        data: &ShmPoolUserData,
        dh: &DisplayHandle,
        data_init: &mut DataInit<'_, D>,
    ) {
        if let wl_shm_pool::Request::CreateBuffer { format, .. } = &request {
            let known = match format {
                WEnum::Value(f) => state.shm_formats().contains(f),
                WEnum::Unknown(_) => false,
            };
            if !known {
                pool.post_error(
                    wl_shm::Error::InvalidFormat,
                    format!("format {format:?} is not advertised"),
                );
                return;
            }
        }
        if let wl_shm_pool::Request::Resize { size } = request {
            if size <= 0 {
                pool.post_error(
                    wl_shm::Error::InvalidFd,
                    format!("wl_shm_pool.resize to {size}: a pool can only grow"),
                );
                return;
            }
        }
        <ShmState as Dispatch<wl_shm_pool::WlShmPool, ShmPoolUserData, D>>::request(
            state, client, pool, request, data, dh, data_init,
        )
    }

    fn destroyed(
        state: &mut D,
        client: ClientId,
        _pool: &wl_shm_pool::WlShmPool,
        _data: &ShmPoolUserData,
    ) {
        state.shm_pool_gone(client);
    }
}

/// Like smithay's `delegate_shm!`, with wl_shm and wl_shm_pool routed through [`ShmGuard`].
#[macro_export]
macro_rules! delegate_shm_guarded {
    ($ty: ty) => {
        smithay::reexports::wayland_server::delegate_global_dispatch!($ty: [
            smithay::reexports::wayland_server::protocol::wl_shm::WlShm: ()
        ] => smithay::wayland::shm::ShmState);
        smithay::reexports::wayland_server::delegate_dispatch!($ty: [
            smithay::reexports::wayland_server::protocol::wl_shm::WlShm: ()
        ] => $crate::shm_guard::ShmGuard);
        smithay::reexports::wayland_server::delegate_dispatch!($ty: [
            smithay::reexports::wayland_server::protocol::wl_shm_pool::WlShmPool: smithay::wayland::shm::ShmPoolUserData
        ] => $crate::shm_guard::ShmGuard);
        smithay::reexports::wayland_server::delegate_dispatch!($ty: [
            smithay::reexports::wayland_server::protocol::wl_buffer::WlBuffer: smithay::wayland::shm::ShmBufferUserData
        ] => smithay::wayland::shm::ShmState);
    };
}
