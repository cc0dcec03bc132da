//! wl_surface and wl_region guard: rectangles with a negative side.
//!
//! Rules enforced: `wl_surface.damage`/`damage_buffer` and `wl_region.add`/`subtract` with a
//! negative width or height. Neither interface defines an error for it, and such a rectangle
//! covers nothing, so the request changes nothing: the guard ignores it. smithay 0.7 builds a
//! `Size` from the values, which asserts they are not negative: a panic that took the compositor
//! and every client down (both found by the wire fuzzer, `tests/wire_fuzz.rs`).
//!
//! Wiring: [`delegate_compositor_surface_guarded!`](crate::delegate_compositor_surface_guarded) is
//! smithay's `delegate_compositor!` with `wl_surface::WlSurface: SurfaceUserData` routed to
//! [`SurfaceGuard`] and `wl_region::WlRegion: RegionUserData` to [`RegionGuard`].

use smithay::reexports::wayland_server::backend::ClientId;
use smithay::reexports::wayland_server::protocol::{wl_callback, wl_region, wl_surface};
use smithay::reexports::wayland_server::{Client, DataInit, Dispatch, DisplayHandle};
use smithay::wayland::compositor::{
    CompositorHandler, CompositorState, RegionUserData, SurfaceUserData,
};

/// Whether a rectangle covers nothing because a side is negative (zero-sized ones are fine for
/// smithay and cover nothing either). Pure.
pub fn is_negative_rect(width: i32, height: i32) -> bool {
    width < 0 || height < 0
}

/// The size of a rectangle a wl_surface request carries, if it carries one.
pub fn surface_rect(request: &wl_surface::Request) -> Option<(i32, i32)> {
    match request {
        wl_surface::Request::Damage { width, height, .. }
        | wl_surface::Request::DamageBuffer { width, height, .. } => Some((*width, *height)),
        _ => None,
    }
}

/// The size of a rectangle a wl_region request carries, if it carries one.
pub fn region_rect(request: &wl_region::Request) -> Option<(i32, i32)> {
    match request {
        wl_region::Request::Add { width, height, .. }
        | wl_region::Request::Subtract { width, height, .. } => Some((*width, *height)),
        _ => None,
    }
}

/// Dispatches wl_surface requests: drops damage with a negative side, delegates the rest to
/// [`CompositorState`].
pub struct SurfaceGuard;

impl<D> Dispatch<wl_surface::WlSurface, SurfaceUserData, D> for SurfaceGuard
where
    D: Dispatch<wl_surface::WlSurface, SurfaceUserData>
        + Dispatch<wl_callback::WlCallback, ()>
        + CompositorHandler
        + 'static,
{
    fn request(
        state: &mut D,
        client: &Client,
        surface: &wl_surface::WlSurface,
        request: wl_surface::Request,
        data: &SurfaceUserData,
        dh: &DisplayHandle,
        data_init: &mut DataInit<'_, D>,
    ) {
        if let Some((width, height)) = surface_rect(&request) {
            if is_negative_rect(width, height) {
                tracing::debug!(
                    width,
                    height,
                    "wl_surface: damage with a negative side is empty"
                );
                return;
            }
        }
        <CompositorState as Dispatch<wl_surface::WlSurface, SurfaceUserData, D>>::request(
            state, client, surface, request, data, dh, data_init,
        )
    }

    fn destroyed(
        state: &mut D,
        client: ClientId,
        surface: &wl_surface::WlSurface,
        data: &SurfaceUserData,
    ) {
        <CompositorState as Dispatch<wl_surface::WlSurface, SurfaceUserData, D>>::destroyed(
            state, client, surface, data,
        )
    }
}

/// Dispatches wl_region requests: drops rectangles with a negative side, delegates the rest to
/// [`CompositorState`].
pub struct RegionGuard;

impl<D> Dispatch<wl_region::WlRegion, RegionUserData, D> for RegionGuard
where
    D: Dispatch<wl_region::WlRegion, RegionUserData> + CompositorHandler + 'static,
{
    fn request(
        state: &mut D,
        client: &Client,
        region: &wl_region::WlRegion,
        request: wl_region::Request,
        data: &RegionUserData,
        dh: &DisplayHandle,
        data_init: &mut DataInit<'_, D>,
    ) {
        if let Some((width, height)) = region_rect(&request) {
            if is_negative_rect(width, height) {
                tracing::debug!(
                    width,
                    height,
                    "wl_region: a rectangle with a negative side is empty"
                );
                return;
            }
        }
        <CompositorState as Dispatch<wl_region::WlRegion, RegionUserData, D>>::request(
            state, client, region, request, data, dh, data_init,
        )
    }

    fn destroyed(
        state: &mut D,
        client: ClientId,
        region: &wl_region::WlRegion,
        data: &RegionUserData,
    ) {
        <CompositorState as Dispatch<wl_region::WlRegion, RegionUserData, D>>::destroyed(
            state, client, region, data,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rectangles_with_a_negative_side_are_empty() {
        for (w, h, negative) in [
            (0, 0, false),
            (1, 1, false),
            (i32::MAX, i32::MAX, false),
            (-1, 5, true),
            (5, -1, true),
            (i32::MIN, i32::MIN, true),
        ] {
            assert_eq!(is_negative_rect(w, h), negative, "{w}x{h}");
        }
        let add = wl_region::Request::Add {
            x: 0,
            y: 0,
            width: -3,
            height: 4,
        };
        assert_eq!(region_rect(&add), Some((-3, 4)));
        assert_eq!(region_rect(&wl_region::Request::Destroy), None);
        let damage = wl_surface::Request::DamageBuffer {
            x: 1,
            y: 2,
            width: 3,
            height: -4,
        };
        assert_eq!(surface_rect(&damage), Some((3, -4)));
        assert_eq!(surface_rect(&wl_surface::Request::Commit), None);
    }
}
