//! wp_fractional_scale_manager_v1.fractional_scale_exists, raised on the manager as the spec says.
//!
//! smithay notices a second wp_fractional_scale_v1 for one surface but raises the error on the
//! wl_surface with the manager's code, so a client reads it as `wl_surface.invalid_scale`. The
//! guard marks each surface that has a live fractional-scale object (cleared when the object is
//! destroyed) and raises the spec's error on the manager before smithay sees the request.

use std::sync::atomic::{AtomicBool, Ordering};

use smithay::reexports::wayland_protocols::wp::fractional_scale::v1::server::{
    wp_fractional_scale_manager_v1::{self, WpFractionalScaleManagerV1},
    wp_fractional_scale_v1::{self, WpFractionalScaleV1},
};
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::reexports::wayland_server::{
    Client, DataInit, Dispatch, DisplayHandle, Resource, Weak,
};
use smithay::wayland::compositor::with_states;
use smithay::wayland::fractional_scale::{FractionalScaleHandler, FractionalScaleManagerState};

/// The guard: sees the requests first, then hands them to smithay.
pub struct FractionalScaleGuard;

/// Whether a surface has a live wp_fractional_scale_v1 (in the surface's data map).
#[derive(Default)]
struct HasFractionalScale(AtomicBool);

fn mark(surface: &WlSurface, live: bool) -> bool {
    with_states(surface, |states| {
        states
            .data_map
            .insert_if_missing_threadsafe(HasFractionalScale::default);
        states
            .data_map
            .get::<HasFractionalScale>()
            .map(|m| m.0.swap(live, Ordering::SeqCst))
            .unwrap_or(false)
    })
}

impl<D> Dispatch<WpFractionalScaleManagerV1, (), D> for FractionalScaleGuard
where
    D: Dispatch<WpFractionalScaleManagerV1, ()>
        + Dispatch<WpFractionalScaleV1, Weak<WlSurface>>
        + FractionalScaleHandler
        + 'static,
    FractionalScaleManagerState: Dispatch<WpFractionalScaleManagerV1, (), D>,
{
    fn request(
        state: &mut D,
        client: &Client,
        manager: &WpFractionalScaleManagerV1,
        request: wp_fractional_scale_manager_v1::Request,
        data: &(),
        dh: &DisplayHandle,
        data_init: &mut DataInit<'_, D>,
    ) {
        if let wp_fractional_scale_manager_v1::Request::GetFractionalScale { surface, .. } =
            &request
        {
            if mark(surface, true) {
                manager.post_error(
                    wp_fractional_scale_manager_v1::Error::FractionalScaleExists,
                    "the surface already has a wp_fractional_scale_v1",
                );
                // smithay still answers (and initialises the new id); the client is gone.
            }
        }
        <FractionalScaleManagerState as Dispatch<WpFractionalScaleManagerV1, (), D>>::request(
            state, client, manager, request, data, dh, data_init,
        );
    }
}

impl<D> Dispatch<WpFractionalScaleV1, Weak<WlSurface>, D> for FractionalScaleGuard
where
    D: Dispatch<WpFractionalScaleV1, Weak<WlSurface>> + FractionalScaleHandler + 'static,
    FractionalScaleManagerState: Dispatch<WpFractionalScaleV1, Weak<WlSurface>, D>,
{
    fn request(
        state: &mut D,
        client: &Client,
        object: &WpFractionalScaleV1,
        request: wp_fractional_scale_v1::Request,
        data: &Weak<WlSurface>,
        dh: &DisplayHandle,
        data_init: &mut DataInit<'_, D>,
    ) {
        if let wp_fractional_scale_v1::Request::Destroy = request {
            if let Ok(surface) = data.upgrade() {
                mark(&surface, false);
            }
        }
        <FractionalScaleManagerState as Dispatch<WpFractionalScaleV1, Weak<WlSurface>, D>>::request(
            state, client, object, request, data, dh, data_init,
        );
    }
}

/// Delegates wp_fractional_scale_v1 to [`FractionalScaleGuard`] (and smithay behind it).
#[macro_export]
macro_rules! delegate_fractional_scale_guarded {
    ($ty: ty) => {
        smithay::reexports::wayland_server::delegate_global_dispatch!($ty: [
            smithay::reexports::wayland_protocols::wp::fractional_scale::v1::server::wp_fractional_scale_manager_v1::WpFractionalScaleManagerV1: ()
        ] => smithay::wayland::fractional_scale::FractionalScaleManagerState);
        smithay::reexports::wayland_server::delegate_dispatch!($ty: [
            smithay::reexports::wayland_protocols::wp::fractional_scale::v1::server::wp_fractional_scale_manager_v1::WpFractionalScaleManagerV1: ()
        ] => $crate::fractional_scale_guard::FractionalScaleGuard);
        smithay::reexports::wayland_server::delegate_dispatch!($ty: [
            smithay::reexports::wayland_protocols::wp::fractional_scale::v1::server::wp_fractional_scale_v1::WpFractionalScaleV1: smithay::reexports::wayland_server::Weak<smithay::reexports::wayland_server::protocol::wl_surface::WlSurface>
        ] => $crate::fractional_scale_guard::FractionalScaleGuard);
    };
}
