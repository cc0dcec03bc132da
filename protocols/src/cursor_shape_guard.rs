//! wp_cursor_shape_device_v1.invalid_shape, which smithay does not raise (it ignores a shape
//! outside the enum): the guard raises it, and hands every other request to smithay.

use smithay::input::SeatHandler;
use smithay::reexports::wayland_protocols::wp::cursor_shape::v1::server::wp_cursor_shape_device_v1::{
    self, WpCursorShapeDeviceV1,
};
use smithay::reexports::wayland_server::{Client, DataInit, Dispatch, DisplayHandle, Resource, WEnum};
use smithay::wayland::cursor_shape::{CursorShapeDeviceUserData, CursorShapeManagerState};
use smithay::wayland::tablet_manager::TabletSeatHandler;

/// The guard: sees the requests first, then hands them to smithay.
pub struct CursorShapeGuard;

impl<D> Dispatch<WpCursorShapeDeviceV1, CursorShapeDeviceUserData<D>, D> for CursorShapeGuard
where
    D: Dispatch<WpCursorShapeDeviceV1, CursorShapeDeviceUserData<D>>
        + SeatHandler
        + TabletSeatHandler
        + 'static,
    CursorShapeManagerState: Dispatch<WpCursorShapeDeviceV1, CursorShapeDeviceUserData<D>, D>,
{
    fn request(
        state: &mut D,
        client: &Client,
        device: &WpCursorShapeDeviceV1,
        request: wp_cursor_shape_device_v1::Request,
        data: &CursorShapeDeviceUserData<D>,
        dh: &DisplayHandle,
        data_init: &mut DataInit<'_, D>,
    ) {
        if let wp_cursor_shape_device_v1::Request::SetShape {
            shape: WEnum::Unknown(raw),
            ..
        } = &request
        {
            device.post_error(
                wp_cursor_shape_device_v1::Error::InvalidShape,
                format!("{raw} is not a wp_cursor_shape_device_v1.shape"),
            );
            return;
        }
        <CursorShapeManagerState as Dispatch<
            WpCursorShapeDeviceV1,
            CursorShapeDeviceUserData<D>,
            D,
        >>::request(state, client, device, request, data, dh, data_init);
    }
}

/// Delegates wp_cursor_shape_v1 to smithay, the device's requests through [`CursorShapeGuard`].
#[macro_export]
macro_rules! delegate_cursor_shape_guarded {
    ($ty: ty) => {
        smithay::reexports::wayland_server::delegate_global_dispatch!($ty: [
            smithay::reexports::wayland_protocols::wp::cursor_shape::v1::server::wp_cursor_shape_manager_v1::WpCursorShapeManagerV1: ()
        ] => smithay::wayland::cursor_shape::CursorShapeManagerState);
        smithay::reexports::wayland_server::delegate_dispatch!($ty: [
            smithay::reexports::wayland_protocols::wp::cursor_shape::v1::server::wp_cursor_shape_manager_v1::WpCursorShapeManagerV1: ()
        ] => smithay::wayland::cursor_shape::CursorShapeManagerState);
        smithay::reexports::wayland_server::delegate_dispatch!($ty: [
            smithay::reexports::wayland_protocols::wp::cursor_shape::v1::server::wp_cursor_shape_device_v1::WpCursorShapeDeviceV1: smithay::wayland::cursor_shape::CursorShapeDeviceUserData<$ty>
        ] => $crate::cursor_shape_guard::CursorShapeGuard);
    };
}
