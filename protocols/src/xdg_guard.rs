//! xdg-shell guard: the spec's error codes where smithay uses another one or none.
//!
//! Rules enforced before smithay sees the request:
//! - `xdg_surface.get_toplevel`/`get_popup` on an xdg_surface that already made its role object:
//!   `xdg_surface.already_constructed` (smithay says `xdg_wm_base.role`).
//! - `xdg_surface.ack_configure` with a serial weft never sent to this client:
//!   `xdg_surface.invalid_serial` (smithay says `xdg_wm_base.invalid_surface_state`).
//! - `xdg_surface.set_window_geometry` with a non-positive size: `xdg_surface.invalid_size`.
//! - `xdg_toplevel.set_min_size`/`set_max_size` with a negative size, or a max below the min:
//!   `xdg_toplevel.invalid_size`.
//! - `xdg_toplevel.resize` with an edge outside the enum: `xdg_toplevel.invalid_resize_edge`.
//!
//! `xdg_surface.unconfigured_buffer` needs the commit's buffer, so the compositor raises it at commit
//! through [`XdgGuardData::xdg_surface_of`], which this guard fills in when a role object is made.

use std::collections::{HashMap, HashSet};

use smithay::reexports::wayland_protocols::xdg::shell::server::{
    xdg_popup, xdg_positioner, xdg_surface, xdg_toplevel, xdg_wm_base,
};
use smithay::reexports::wayland_server::backend::{ClientId, ObjectId};
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::reexports::wayland_server::{Client, DataInit, Dispatch, DisplayHandle, Resource, WEnum};
use smithay::wayland::shell::xdg::{
    XdgShellHandler, XdgShellState, XdgShellSurfaceUserData, XdgSurfaceUserData,
};

/// What the guard remembers. Lives in the compositor state (see [`XdgGuardState`]).
#[derive(Debug, Default)]
pub struct XdgGuardData {
    /// xdg_surfaces that already made their role object.
    constructed: HashSet<ObjectId>,
    /// The xdg_surface whose get_toplevel/get_popup is being handled, taken by
    /// [`XdgGuardData::role_object_created`] from smithay's new_toplevel/new_popup callback.
    creating: Option<xdg_surface::XdgSurface>,
    /// wl_surface → its xdg_surface, for errors raised at commit.
    by_surface: HashMap<ObjectId, xdg_surface::XdgSurface>,
    /// Configure serials sent to each client and not yet acknowledged (or superseded).
    sent_serials: HashMap<ClientId, Vec<u32>>,
}

impl XdgGuardData {
    /// Call from `XdgShellHandler::new_toplevel`/`new_popup` with the role object's wl_surface.
    pub fn role_object_created(&mut self, surface: &WlSurface) {
        if let Some(xdg) = self.creating.take() {
            self.by_surface.insert(surface.id(), xdg);
        }
    }

    /// The xdg_surface of a wl_surface that has an xdg role.
    pub fn xdg_surface_of(&self, surface: &WlSurface) -> Option<&xdg_surface::XdgSurface> {
        self.by_surface.get(&surface.id())
    }

    /// Call for every configure sent (toplevel or popup) with its serial.
    pub fn configure_sent(&mut self, surface: &WlSurface, serial: u32) {
        if let Some(client) = surface.client() {
            self.sent_serials.entry(client.id()).or_default().push(serial);
        }
    }

    /// Forgets a destroyed surface.
    pub fn surface_destroyed(&mut self, surface: &WlSurface) {
        if let Some(xdg) = self.by_surface.remove(&surface.id()) {
            self.constructed.remove(&xdg.id());
        }
    }

    /// Forgets a disconnected client's serials.
    pub fn client_gone(&mut self, client: &ClientId) {
        self.sent_serials.remove(client);
        self.by_surface.retain(|_, x| x.is_alive());
        self.constructed.retain(|id| self.by_surface.values().any(|x| x.id() == *id));
    }

    fn ack(&mut self, client: &ClientId, serial: u32) -> bool {
        let Some(serials) = self.sent_serials.get_mut(client) else {
            return false;
        };
        if !serials.contains(&serial) {
            return false;
        }
        // Acking a serial also acks every older one of this client's configures.
        serials.retain(|s| s.wrapping_sub(serial) as i32 > 0);
        true
    }
}

/// Access to the guard's data in the compositor state.
pub trait XdgGuardState {
    fn xdg_guard(&mut self) -> &mut XdgGuardData;
}

/// Dispatches xdg_surface and xdg_toplevel requests: validates, then delegates to [`XdgShellState`].
pub struct XdgGuard;

impl<D> Dispatch<xdg_surface::XdgSurface, XdgSurfaceUserData, D> for XdgGuard
where
    D: Dispatch<xdg_surface::XdgSurface, XdgSurfaceUserData>
        + Dispatch<xdg_toplevel::XdgToplevel, XdgShellSurfaceUserData>
        + Dispatch<xdg_popup::XdgPopup, XdgShellSurfaceUserData>
        + Dispatch<xdg_positioner::XdgPositioner, smithay::wayland::shell::xdg::XdgPositionerUserData>
        + Dispatch<xdg_wm_base::XdgWmBase, smithay::wayland::shell::xdg::XdgWmBaseUserData>
        + XdgShellHandler
        + XdgGuardState
        + 'static,
{
    fn request(
        state: &mut D,
        client: &Client,
        resource: &xdg_surface::XdgSurface,
        request: xdg_surface::Request,
        data: &XdgSurfaceUserData,
        dh: &DisplayHandle,
        data_init: &mut DataInit<'_, D>,
    ) {
        match &request {
            xdg_surface::Request::GetToplevel { .. } | xdg_surface::Request::GetPopup { .. } => {
                let guard = state.xdg_guard();
                if !guard.constructed.insert(resource.id()) {
                    resource.post_error(
                        xdg_surface::Error::AlreadyConstructed,
                        "this xdg_surface already has a role object",
                    );
                    return;
                }
                guard.creating = Some(resource.clone());
            }
            xdg_surface::Request::AckConfigure { serial } => {
                if !state.xdg_guard().ack(&client.id(), *serial) {
                    resource.post_error(
                        xdg_surface::Error::InvalidSerial,
                        format!("ack_configure: serial {serial} was not sent to this client"),
                    );
                    return;
                }
            }
            xdg_surface::Request::SetWindowGeometry { width, height, .. } if *width <= 0 || *height <= 0 => {
                resource.post_error(
                    xdg_surface::Error::InvalidSize,
                    format!("set_window_geometry: size {width}x{height} must be positive"),
                );
                return;
            }
            _ => {}
        }
        <XdgShellState as Dispatch<xdg_surface::XdgSurface, XdgSurfaceUserData, D>>::request(
            state, client, resource, request, data, dh, data_init,
        );
        // If smithay refused the role (another role, say), nothing consumed `creating`.
        state.xdg_guard().creating = None;
    }

    fn destroyed(state: &mut D, client: ClientId, resource: &xdg_surface::XdgSurface, data: &XdgSurfaceUserData) {
        state.xdg_guard().constructed.remove(&resource.id());
        <XdgShellState as Dispatch<xdg_surface::XdgSurface, XdgSurfaceUserData, D>>::destroyed(
            state, client, resource, data,
        )
    }
}

impl<D> Dispatch<xdg_toplevel::XdgToplevel, XdgShellSurfaceUserData, D> for XdgGuard
where
    D: Dispatch<xdg_toplevel::XdgToplevel, XdgShellSurfaceUserData> + XdgShellHandler + 'static,
{
    fn request(
        state: &mut D,
        client: &Client,
        resource: &xdg_toplevel::XdgToplevel,
        request: xdg_toplevel::Request,
        data: &XdgShellSurfaceUserData,
        dh: &DisplayHandle,
        data_init: &mut DataInit<'_, D>,
    ) {
        let size_error = |what: &str, w: i32, h: i32| {
            resource.post_error(
                xdg_toplevel::Error::InvalidSize,
                format!("{what}: {w}x{h} is not a valid size"),
            )
        };
        match &request {
            xdg_toplevel::Request::SetMinSize { width, height } if *width < 0 || *height < 0 => {
                return size_error("set_min_size", *width, *height);
            }
            xdg_toplevel::Request::SetMaxSize { width, height } if *width < 0 || *height < 0 => {
                return size_error("set_max_size", *width, *height);
            }
            xdg_toplevel::Request::Resize {
                edges: WEnum::Unknown(edge),
                ..
            } => {
                resource.post_error(
                    xdg_toplevel::Error::InvalidResizeEdge,
                    format!("resize: {edge} is not an xdg_toplevel.resize_edge"),
                );
                return;
            }
            _ => {}
        }
        <XdgShellState as Dispatch<xdg_toplevel::XdgToplevel, XdgShellSurfaceUserData, D>>::request(
            state, client, resource, request, data, dh, data_init,
        )
    }

    fn destroyed(
        state: &mut D,
        client: ClientId,
        resource: &xdg_toplevel::XdgToplevel,
        data: &XdgShellSurfaceUserData,
    ) {
        <XdgShellState as Dispatch<xdg_toplevel::XdgToplevel, XdgShellSurfaceUserData, D>>::destroyed(
            state, client, resource, data,
        )
    }
}

/// Like smithay's `delegate_xdg_shell!`, with xdg_surface and xdg_toplevel routed through [`XdgGuard`].
#[macro_export]
macro_rules! delegate_xdg_shell_guarded {
    ($ty: ty) => {
        smithay::reexports::wayland_server::delegate_global_dispatch!($ty: [
            smithay::reexports::wayland_protocols::xdg::shell::server::xdg_wm_base::XdgWmBase: ()
        ] => smithay::wayland::shell::xdg::XdgShellState);
        smithay::reexports::wayland_server::delegate_dispatch!($ty: [
            smithay::reexports::wayland_protocols::xdg::shell::server::xdg_wm_base::XdgWmBase: smithay::wayland::shell::xdg::XdgWmBaseUserData
        ] => smithay::wayland::shell::xdg::XdgShellState);
        smithay::reexports::wayland_server::delegate_dispatch!($ty: [
            smithay::reexports::wayland_protocols::xdg::shell::server::xdg_positioner::XdgPositioner: smithay::wayland::shell::xdg::XdgPositionerUserData
        ] => smithay::wayland::shell::xdg::XdgShellState);
        smithay::reexports::wayland_server::delegate_dispatch!($ty: [
            smithay::reexports::wayland_protocols::xdg::shell::server::xdg_popup::XdgPopup: smithay::wayland::shell::xdg::XdgShellSurfaceUserData
        ] => smithay::wayland::shell::xdg::XdgShellState);
        smithay::reexports::wayland_server::delegate_dispatch!($ty: [
            smithay::reexports::wayland_protocols::xdg::shell::server::xdg_surface::XdgSurface: smithay::wayland::shell::xdg::XdgSurfaceUserData
        ] => $crate::xdg_guard::XdgGuard);
        smithay::reexports::wayland_server::delegate_dispatch!($ty: [
            smithay::reexports::wayland_protocols::xdg::shell::server::xdg_toplevel::XdgToplevel: smithay::wayland::shell::xdg::XdgShellSurfaceUserData
        ] => $crate::xdg_guard::XdgGuard);
    };
}
