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
//!
//! Y′CbCr buffers: smithay's `create_buffer` knows no bytes per pixel of them and its buffer data
//! cannot be made elsewhere. Each pool's requests therefore pass through weft's own ObjectData
//! ([`PoolObject`]) first, which sees the new buffer's id: it checks every plane
//! ([`crate::shm_layout`]: strides per plane, planes inside the pool), hands smithay the buffer
//! under a stand-in format with plane 0's geometry, and tells the compositor the real format and
//! planes ([`ShmYcbcr`]). smithay keeps mapping the pool, guarding reads against SIGBUS, and
//! sizing the buffer for the surface. The wl_shm object itself gets an ObjectData of weft's at
//! bind ([`ShmObject`]) so that it sees each pool made.

use std::ffi::CString;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use smithay::reexports::wayland_server::backend::protocol::{Argument, Message};
use smithay::reexports::wayland_server::backend::{ClientId, Handle, ObjectData, ObjectId};
use smithay::reexports::wayland_server::protocol::{wl_buffer, wl_shm, wl_shm_pool};
use smithay::reexports::wayland_server::{
    Client, DataInit, Dispatch, DisplayHandle, GlobalDispatch, New, Resource, WEnum,
};
use smithay::wayland::buffer::BufferHandler;
use smithay::wayland::shm::{ShmBufferUserData, ShmHandler, ShmPoolUserData, ShmState};

use crate::shm_layout::{self, ShmPlane};
use crate::Violation;

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

/// Dispatches wl_shm and wl_shm_pool requests (see the module text), then delegates to
/// [`ShmState`].
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

/// What the compositor learns of Y′CbCr wl_shm buffers ([`crate::shm_layout`]).
pub trait ShmYcbcr {
    /// `buffer` was created with the Y′CbCr `format`: smithay keeps it under a stand-in format
    /// ([`shm_layout::stand_in`]) with plane 0's geometry, and `planes` are where all its planes
    /// lie in the pool.
    fn shm_ycbcr_buffer(&mut self, buffer: ObjectId, format: wl_shm::Format, planes: Vec<ShmPlane>);
}

impl<D> GlobalDispatch<wl_shm::WlShm, (), D> for ShmGuard
where
    D: GlobalDispatch<wl_shm::WlShm, ()>
        + Dispatch<wl_shm::WlShm, ()>
        + Dispatch<wl_shm_pool::WlShmPool, ShmPoolUserData>
        + ShmFormats
        + ShmYcbcr
        + 'static,
{
    fn bind(
        state: &mut D,
        dh: &DisplayHandle,
        client: &Client,
        resource: New<wl_shm::WlShm>,
        _global_data: &(),
        data_init: &mut DataInit<'_, D>,
    ) {
        // smithay's dispatch of wl_shm as an ObjectData of its own: wayland-server makes one only
        // with an object, so a server-side wl_shm is made for it and destroyed at once. The client
        // is never told of that object, and its id is free again before any other server-side
        // object is made (clients require server-side ids without gaps).
        let standard = client
            .create_resource::<wl_shm::WlShm, (), D>(dh, 1, ())
            .ok()
            .and_then(|hidden| {
                let data = dh.backend_handle().get_object_data::<D>(hidden.id()).ok();
                let _ = dh.backend_handle().destroy_object::<D>(&hidden.id());
                data
            });
        let shm = match standard {
            Some(standard) => data_init.custom_init(resource, Arc::new(ShmObject { standard })),
            // Only for a client already gone.
            None => data_init.init(resource, ()),
        };
        for format in state.shm_formats() {
            shm.format(*format);
        }
    }
}

/// A wl_shm object: sees each pool created, so that the pool's requests come to [`PoolObject`].
struct ShmObject<D> {
    standard: Arc<dyn ObjectData<D>>,
}

/// Hands `msg` to smithay's dispatch (`standard`), which finds its user data on the object
/// itself: the standard data is the object's while it runs, and `me` again after.
fn forward<D: 'static>(
    standard: &Arc<dyn ObjectData<D>>,
    me: Arc<dyn ObjectData<D>>,
    handle: &Handle,
    data: &mut D,
    client_id: ClientId,
    msg: Message<ObjectId, OwnedFd>,
) -> Option<Arc<dyn ObjectData<D>>> {
    let sender = msg.sender_id.clone();
    let _ = handle.set_object_data::<D>(sender.clone(), standard.clone());
    let created = standard.clone().request(handle, data, client_id, msg);
    let _ = handle.set_object_data::<D>(sender, me);
    created
}

/// `wl_shm.create_pool` is opcode 0: (new_id, fd, size).
const CREATE_POOL: u16 = 0;
/// `wl_shm_pool.create_buffer` is opcode 0: (new_id, offset, width, height, stride, format).
const CREATE_BUFFER: u16 = 0;
/// `wl_shm_pool.resize` is opcode 2: (size).
const RESIZE: u16 = 2;

impl<D> ObjectData<D> for ShmObject<D>
where
    D: ShmFormats + ShmYcbcr + 'static,
{
    fn request(
        self: Arc<Self>,
        handle: &Handle,
        data: &mut D,
        client_id: ClientId,
        msg: Message<ObjectId, OwnedFd>,
    ) -> Option<Arc<dyn ObjectData<D>>> {
        let size = match (msg.opcode, msg.args.get(2)) {
            (CREATE_POOL, Some(Argument::Int(size))) => Some(*size),
            _ => None,
        };
        let created = forward(&self.standard, self.clone(), handle, data, client_id, msg);
        match (created, size) {
            (Some(pool), Some(size)) => Some(Arc::new(PoolObject {
                standard: pool,
                size: AtomicU64::new(u64::try_from(size).unwrap_or(0)),
            })),
            (created, _) => created,
        }
    }

    fn destroyed(
        self: Arc<Self>,
        handle: &Handle,
        data: &mut D,
        client_id: ClientId,
        object_id: ObjectId,
    ) {
        self.standard
            .clone()
            .destroyed(handle, data, client_id, object_id)
    }
}

/// A wl_shm_pool object: checks its requests ([`check_pool_request`], [`shm_layout`]), hands
/// Y′CbCr buffers to smithay under their stand-in format, and keeps the pool's size for the plane
/// checks.
struct PoolObject<D> {
    standard: Arc<dyn ObjectData<D>>,
    size: AtomicU64,
}

/// A wl_shm_pool request as the guard sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolRequest {
    CreateBuffer {
        offset: i32,
        width: i32,
        height: i32,
        stride: i32,
        format: WEnum<wl_shm::Format>,
    },
    Resize {
        size: i32,
    },
    Other,
}

impl PoolRequest {
    fn of(msg: &Message<ObjectId, OwnedFd>) -> Self {
        match (msg.opcode, msg.args.as_slice()) {
            (
                CREATE_BUFFER,
                [_, Argument::Int(offset), Argument::Int(width), Argument::Int(height), Argument::Int(stride), Argument::Uint(format)],
            ) => Self::CreateBuffer {
                offset: *offset,
                width: *width,
                height: *height,
                stride: *stride,
                format: WEnum::from(*format),
            },
            (RESIZE, [Argument::Int(size)]) => Self::Resize { size: *size },
            _ => Self::Other,
        }
    }
}

/// What the guard decides for one wl_shm_pool request, given the formats the compositor
/// advertised and the pool's size: `Ok` hands it to smithay (with, for a Y′CbCr buffer, its
/// planes), `Err` is the error to raise on the pool. Pure, so `fuzz/fuzz_targets/shm_pool.rs`
/// drives it without a connection.
pub fn check_pool_request(
    request: &PoolRequest,
    advertised: &[wl_shm::Format],
    pool_size: u64,
) -> Result<Option<(wl_shm::Format, Vec<ShmPlane>)>, Violation<wl_shm::Error>> {
    match *request {
        PoolRequest::CreateBuffer {
            offset,
            width,
            height,
            stride,
            format,
        } => {
            check_format(format, advertised)?;
            match format {
                WEnum::Value(f) if shm_layout::is_ycbcr(f) => {
                    let planes =
                        shm_layout::check_create(f, (offset, width, height, stride), pool_size)?;
                    Ok(Some((f, planes)))
                }
                _ => Ok(None),
            }
        }
        PoolRequest::Resize { size } => check_resize(size).map(|()| None),
        PoolRequest::Other => Ok(None),
    }
}

impl<D> ObjectData<D> for PoolObject<D>
where
    D: ShmFormats + ShmYcbcr + 'static,
{
    fn request(
        self: Arc<Self>,
        handle: &Handle,
        data: &mut D,
        client_id: ClientId,
        mut msg: Message<ObjectId, OwnedFd>,
    ) -> Option<Arc<dyn ObjectData<D>>> {
        let request = PoolRequest::of(&msg);
        let size = self.size.load(Ordering::Relaxed);
        let ycbcr = match check_pool_request(&request, data.shm_formats(), size) {
            Ok(ycbcr) => ycbcr,
            Err(v) => {
                let message = CString::new(v.message).unwrap_or_default();
                handle.post_error(msg.sender_id.clone(), v.error as u32, message);
                return None;
            }
        };
        let buffer = match (&ycbcr, msg.args.first()) {
            (Some(_), Some(Argument::NewId(buffer))) => Some(buffer.clone()),
            _ => None,
        };
        let stand_in = ycbcr.as_ref().and_then(|(f, _)| shm_layout::stand_in(*f));
        if let (Some(stand_in), Some(arg)) = (stand_in, msg.args.get_mut(5)) {
            *arg = Argument::Uint(stand_in as u32);
        }
        let created = forward(&self.standard, self.clone(), handle, data, client_id, msg);
        if let (Some((format, planes)), Some(buffer), Some(_)) = (ycbcr, buffer, &created) {
            data.shm_ycbcr_buffer(buffer, format, planes);
        }
        if let PoolRequest::Resize { size } = request {
            // smithay refuses shrinking (and ends the client); a pool only grows.
            self.size
                .fetch_max(u64::try_from(size).unwrap_or(0), Ordering::Relaxed);
        }
        created
    }

    fn destroyed(
        self: Arc<Self>,
        handle: &Handle,
        data: &mut D,
        client_id: ClientId,
        object_id: ObjectId,
    ) {
        self.standard
            .clone()
            .destroyed(handle, data, client_id, object_id)
    }
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

/// The pool's requests were checked by [`PoolObject`]; smithay does the rest.
impl<D> Dispatch<wl_shm_pool::WlShmPool, ShmPoolUserData, D> for ShmGuard
where
    D: Dispatch<wl_shm_pool::WlShmPool, ShmPoolUserData>
        + Dispatch<wl_buffer::WlBuffer, ShmBufferUserData>
        + BufferHandler
        + ShmHandler
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
        ] => $crate::shm_guard::ShmGuard);
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
            let req = PoolRequest::Resize { size };
            assert_eq!(
                check_pool_request(&req, &advertised, 0)
                    .err()
                    .map(|v| v.error),
                want
            );
        }
    }

    #[test]
    fn ycbcr_buffers_are_checked_plane_by_plane() {
        let advertised = [wl_shm::Format::Argb8888, wl_shm::Format::Nv12];
        let create = |format, stride, pool| {
            let req = PoolRequest::CreateBuffer {
                offset: 0,
                width: 64,
                height: 48,
                stride,
                format: WEnum::Value(format),
            };
            check_pool_request(&req, &advertised, pool)
        };
        let nv12 = create(wl_shm::Format::Nv12, 64, 64 * 72).expect("fits");
        assert_eq!(
            nv12.map(|(f, p)| (f, p.len())),
            Some((wl_shm::Format::Nv12, 2))
        );
        // The chroma plane past the pool.
        assert_eq!(
            create(wl_shm::Format::Nv12, 64, 64 * 48)
                .err()
                .map(|v| v.error),
            Some(wl_shm::Error::InvalidStride)
        );
        // RGB is smithay's to check; an unadvertised format (a stand-in, too) is invalid_format.
        assert!(matches!(create(wl_shm::Format::Argb8888, 256, 1), Ok(None)));
        for format in [wl_shm::Format::R8, wl_shm::Format::Yuyv] {
            assert_eq!(
                create(format, 256, 1 << 20).err().map(|v| v.error),
                Some(wl_shm::Error::InvalidFormat)
            );
        }
    }
}
