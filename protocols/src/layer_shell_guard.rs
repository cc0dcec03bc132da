//! zwlr_layer_shell_v1 guard.
//!
//! Rule enforced before smithay sees the request: `get_layer_surface` on a wl_surface that has a
//! buffer attached or committed is `zwlr_layer_shell_v1.already_constructed` (smithay does not
//! check it). smithay raises the shell's `role` and `invalid_layer` and the layer surface's
//! `invalid_size`, `invalid_anchor`, `invalid_keyboard_interactivity` and `invalid_surface_state`
//! (an unknown configure serial); a buffer committed before the first `ack_configure` is raised by
//! the compositor at commit (`invalid_surface_state`: smithay's own check posts the shell's code
//! on the layer surface object).

use smithay::reexports::wayland_protocols_wlr::layer_shell::v1::server::{
    zwlr_layer_shell_v1::{self, ZwlrLayerShellV1},
    zwlr_layer_surface_v1::ZwlrLayerSurfaceV1,
};
use smithay::reexports::wayland_server::{Client, DataInit, Dispatch, DisplayHandle, Resource};
use smithay::wayland::shell::wlr_layer::{
    WlrLayerShellHandler, WlrLayerShellState, WlrLayerSurfaceUserData,
};

/// Dispatches zwlr_layer_shell_v1: validates, then delegates to smithay.
pub struct LayerShellGuard;

impl<D> Dispatch<ZwlrLayerShellV1, (), D> for LayerShellGuard
where
    D: Dispatch<ZwlrLayerShellV1, ()>
        + Dispatch<ZwlrLayerSurfaceV1, WlrLayerSurfaceUserData>
        + WlrLayerShellHandler
        + 'static,
{
    fn request(
        state: &mut D,
        client: &Client,
        shell: &ZwlrLayerShellV1,
        request: zwlr_layer_shell_v1::Request,
        data: &(),
        dh: &DisplayHandle,
        data_init: &mut DataInit<'_, D>,
    ) {
        if let zwlr_layer_shell_v1::Request::GetLayerSurface { surface, .. } = &request {
            if crate::xdg_guard::buffer_attached_or_committed(surface) {
                shell.post_error(
                    zwlr_layer_shell_v1::Error::AlreadyConstructed,
                    "get_layer_surface on a wl_surface that has a buffer attached or committed",
                );
                return;
            }
        }
        <WlrLayerShellState as Dispatch<ZwlrLayerShellV1, (), D>>::request(
            state, client, shell, request, data, dh, data_init,
        )
    }
}

/// Like smithay's `delegate_layer_shell!`, with zwlr_layer_shell_v1 routed through
/// [`LayerShellGuard`].
#[macro_export]
macro_rules! delegate_layer_shell_guarded {
    ($ty: ty) => {
        smithay::reexports::wayland_server::delegate_global_dispatch!($ty: [
            smithay::reexports::wayland_protocols_wlr::layer_shell::v1::server::zwlr_layer_shell_v1::ZwlrLayerShellV1: smithay::wayland::shell::wlr_layer::WlrLayerShellGlobalData
        ] => smithay::wayland::shell::wlr_layer::WlrLayerShellState);
        smithay::reexports::wayland_server::delegate_dispatch!($ty: [
            smithay::reexports::wayland_protocols_wlr::layer_shell::v1::server::zwlr_layer_shell_v1::ZwlrLayerShellV1: ()
        ] => $crate::layer_shell_guard::LayerShellGuard);
        smithay::reexports::wayland_server::delegate_dispatch!($ty: [
            smithay::reexports::wayland_protocols_wlr::layer_shell::v1::server::zwlr_layer_surface_v1::ZwlrLayerSurfaceV1: smithay::wayland::shell::wlr_layer::WlrLayerSurfaceUserData
        ] => smithay::wayland::shell::wlr_layer::WlrLayerShellState);
    };
}
