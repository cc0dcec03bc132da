//! wl_subsurface guard.
//!
//! Rule enforced: `wl_subsurface.place_above` / `place_below` take a reference surface that "must be
//! one of the sibling surfaces, or the parent surface. Using any other surface, including this
//! sub-surface, will cause a protocol error" (`bad_surface`). smithay 0.7 finds the sub-surface
//! itself in its parent's child list, removes it, and then inserts it one past the end of the
//! shortened list: a panic that takes the compositor and every client down. The guard raises
//! `bad_surface` for the self-reference and hands every other request to smithay unchanged (smithay
//! already raises `bad_surface` for a surface that is neither a sibling nor the parent).

use smithay::reexports::wayland_server::protocol::{wl_subsurface, wl_surface::WlSurface};
use smithay::reexports::wayland_server::{Client, DataInit, Dispatch, DisplayHandle, Resource};
use smithay::wayland::compositor::{CompositorHandler, CompositorState, SubsurfaceUserData};

/// Dispatches wl_subsurface requests: validates, then delegates to [`CompositorState`].
pub struct SubsurfaceGuard;

/// Whether a restacking request names the sub-surface's own surface as its reference.
pub fn references_itself(subsurface_surface: &WlSurface, reference: &WlSurface) -> bool {
    subsurface_surface.id() == reference.id()
}

impl<D> Dispatch<wl_subsurface::WlSubsurface, SubsurfaceUserData, D> for SubsurfaceGuard
where
    D: Dispatch<wl_subsurface::WlSubsurface, SubsurfaceUserData> + CompositorHandler + 'static,
{
    fn request(
        state: &mut D,
        client: &Client,
        subsurface: &wl_subsurface::WlSubsurface,
        request: wl_subsurface::Request,
        data: &SubsurfaceUserData,
        dh: &DisplayHandle,
        data_init: &mut DataInit<'_, D>,
    ) {
        let reference = match &request {
            wl_subsurface::Request::PlaceAbove { sibling }
            | wl_subsurface::Request::PlaceBelow { sibling } => Some(sibling),
            _ => None,
        };
        if let Some(reference) = reference {
            if references_itself(data.surface(), reference) {
                subsurface.post_error(
                    wl_subsurface::Error::BadSurface,
                    "the reference surface of place_above/place_below is this sub-surface itself; \
                     it must be a sibling or the parent",
                );
                return;
            }
        }
        <CompositorState as Dispatch<wl_subsurface::WlSubsurface, SubsurfaceUserData, D>>::request(
            state, client, subsurface, request, data, dh, data_init,
        )
    }

    fn destroyed(
        state: &mut D,
        client: smithay::reexports::wayland_server::backend::ClientId,
        subsurface: &wl_subsurface::WlSubsurface,
        data: &SubsurfaceUserData,
    ) {
        <CompositorState as Dispatch<wl_subsurface::WlSubsurface, SubsurfaceUserData, D>>::destroyed(
            state, client, subsurface, data,
        )
    }
}

/// Like smithay's `delegate_compositor!`, with wl_subsurface routed through [`SubsurfaceGuard`],
/// wl_surface through [`crate::surface_guard::SurfaceGuard`] and wl_region through
/// [`crate::surface_guard::RegionGuard`].
#[macro_export]
macro_rules! delegate_compositor_guarded {
    ($ty: ty) => {
        smithay::reexports::wayland_server::delegate_global_dispatch!($ty: [
            smithay::reexports::wayland_server::protocol::wl_compositor::WlCompositor: ()
        ] => smithay::wayland::compositor::CompositorState);
        smithay::reexports::wayland_server::delegate_global_dispatch!($ty: [
            smithay::reexports::wayland_server::protocol::wl_subcompositor::WlSubcompositor: ()
        ] => smithay::wayland::compositor::CompositorState);
        smithay::reexports::wayland_server::delegate_dispatch!($ty: [
            smithay::reexports::wayland_server::protocol::wl_compositor::WlCompositor: ()
        ] => smithay::wayland::compositor::CompositorState);
        smithay::reexports::wayland_server::delegate_dispatch!($ty: [
            smithay::reexports::wayland_server::protocol::wl_surface::WlSurface: smithay::wayland::compositor::SurfaceUserData
        ] => $crate::surface_guard::SurfaceGuard);
        smithay::reexports::wayland_server::delegate_dispatch!($ty: [
            smithay::reexports::wayland_server::protocol::wl_region::WlRegion: smithay::wayland::compositor::RegionUserData
        ] => $crate::surface_guard::RegionGuard);
        smithay::reexports::wayland_server::delegate_dispatch!($ty: [
            smithay::reexports::wayland_server::protocol::wl_callback::WlCallback: ()
        ] => smithay::wayland::compositor::CompositorState);
        smithay::reexports::wayland_server::delegate_dispatch!($ty: [
            smithay::reexports::wayland_server::protocol::wl_subcompositor::WlSubcompositor: ()
        ] => smithay::wayland::compositor::CompositorState);
        smithay::reexports::wayland_server::delegate_dispatch!($ty: [
            smithay::reexports::wayland_server::protocol::wl_subsurface::WlSubsurface: smithay::wayland::compositor::SubsurfaceUserData
        ] => $crate::subsurface_guard::SubsurfaceGuard);
    };
}
