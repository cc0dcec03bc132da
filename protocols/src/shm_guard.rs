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

use crate::Violation;

/// What the guard decides for one wl_shm_pool request, given the formats the compositor
/// advertised: `Ok` hands it to smithay, `Err` is the error to raise on the pool. Pure, so
/// `fuzz/fuzz_targets/shm_pool.rs` drives it without a connection.
pub fn check_pool_request(
    request: &wl_shm_pool::Request,
    advertised: &[wl_shm::Format],
) -> Result<(), Violation<wl_shm::Error>> {
    match request {
        wl_shm_pool::Request::CreateBuffer { format, .. } => check_format(*format, advertised),
        wl_shm_pool::Request::Resize { size } => check_resize(*size),
        _ => Ok(()),
    }
}

/// `create_buffer`'s format: one the compositor advertised, else `invalid_format`.
pub fn check_format(
    format: WEnum<wl_shm::Format>,
    advertised: &[wl_shm::Format],
) -> Result<(), Violation<wl_shm::Error>> {
    let known = match format {
        WEnum::Value(f) => advertised.contains(&f),
        WEnum::Unknown(_) => false,
    };
    if known {
        Ok(())
    } else {
        Err(Violation::new(
            wl_shm::Error::InvalidFormat,
            format!("format {format:?} is not advertised"),
        ))
    }
}

/// `resize`: a positive size (smithay refuses shrinking itself, but unwraps a zero size).
pub fn check_resize(size: i32) -> Result<(), Violation<wl_shm::Error>> {
    if size <= 0 {
        return Err(Violation::new(
            wl_shm::Error::InvalidFd,
            format!("wl_shm_pool.resize to {size}: a pool can only grow"),
        ));
    }
    Ok(())
}

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
        if let Err(v) = check_pool_request(&request, state.shm_formats()) {
            pool.post_error(v.error, v.message);
            return;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_requests_table() {
        let advertised = [wl_shm::Format::Argb8888, wl_shm::Format::Xrgb8888];
        let format = |f| check_format(f, &advertised).err().map(|v| v.error);
        assert_eq!(format(WEnum::Value(wl_shm::Format::Argb8888)), None);
        assert_eq!(
            format(WEnum::Value(wl_shm::Format::Yuyv)),
            Some(wl_shm::Error::InvalidFormat)
        );
        assert_eq!(
            format(WEnum::Unknown(7)),
            Some(wl_shm::Error::InvalidFormat)
        );
        for (size, want) in [
            (1, None),
            (i32::MAX, None),
            (0, Some(wl_shm::Error::InvalidFd)),
            (-1, Some(wl_shm::Error::InvalidFd)),
            (i32::MIN, Some(wl_shm::Error::InvalidFd)),
        ] {
            assert_eq!(check_resize(size).err().map(|v| v.error), want, "{size}");
            let req = wl_shm_pool::Request::Resize { size };
            assert_eq!(
                check_pool_request(&req, &advertised).err().map(|v| v.error),
                want
            );
        }
    }
}
