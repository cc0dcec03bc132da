//! wl_compositor commits: buffer import, xdg initial configure and mapping, popups.

use smithay::backend::renderer::utils::on_commit_buffer_handler;
use smithay::desktop::{find_popup_root_surface, PopupKind};
use smithay::reexports::wayland_protocols::xdg::shell::server::{xdg_surface, xdg_wm_base};
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::reexports::wayland_server::{Client, Resource};
use smithay::wayland::compositor::{
    get_parent, is_sync_subsurface, with_states, BufferAssignment, CompositorClientState,
    CompositorHandler, CompositorState, SurfaceAttributes,
};
use smithay::wayland::shell::xdg::{XdgPopupSurfaceData, XdgToplevelSurfaceData};

use crate::runtime::client::ClientState;
use crate::Weft;

impl CompositorHandler for Weft {
    fn compositor_state(&mut self) -> &mut CompositorState {
        &mut self.shell.compositor_state
    }

    #[allow(
        clippy::expect_used,
        reason = "weft inserts every client with ClientState (backends' accept, the WLCS shim); smithay inserts Xwayland with XWaylandClientData"
    )]
    fn client_compositor_state<'a>(&self, client: &'a Client) -> &'a CompositorClientState {
        if let Some(xwayland) = client.get_data::<smithay::xwayland::XWaylandClientData>() {
            return &xwayland.compositor_state;
        }
        &client
            .get_data::<ClientState>()
            .expect(
                "every client is inserted with ClientState (Xwayland, by smithay, with its own)",
            )
            .compositor_state
    }

    fn new_surface(&mut self, surface: &WlSurface) {
        if let Some(client) = surface.client() {
            if let Some(budget) = crate::runtime::client::budget_of(&client) {
                match budget.charge(crate::budget::Resource::Surfaces, 1) {
                    // Given back when the surface's data is dropped with it.
                    Ok(charge) => with_states(surface, |states| {
                        states
                            .data_map
                            .insert_if_missing_threadsafe(|| SurfaceCharge { _charge: charge });
                    }),
                    Err(over) => {
                        crate::budget::end_client(self.runtime.display_handle(), &client, &over);
                        return;
                    }
                }
            }
        }
        self.shell.next_surface_id += 1;
        let id = crate::surface::SurfaceId(self.shell.next_surface_id);
        with_states(surface, |states| {
            states.data_map.insert_if_missing(|| id);
        });
        super::sync::install(surface);
        smithay::wayland::compositor::add_destruction_hook(surface, |state: &mut Weft, surface| {
            state.shell.xdg_guard.surface_destroyed(surface);
            state.touch_surface_destroyed(surface);
            state.damage();
        });
    }

    fn destroyed(&mut self, surface: &WlSurface) {
        // A handle kept elsewhere (a seat's last focus, say) keeps the surface's data alive: what
        // it shows — client memory read in place above all — goes now, with the surface.
        crate::surface::forget_content(surface);
        self.keyboard_surface_destroyed(surface);
    }

    fn commit(&mut self, surface: &WlSurface) {
        if self.reject_unconfigured_buffer(surface) {
            return;
        }
        on_commit_buffer_handler::<Self>(surface);
        super::sync::applied(surface);
        super::color_representation::applied(surface);
        if is_sync_subsurface(surface) {
            // Applied with its parent's next commit.
            return;
        }
        let mut root = surface.clone();
        while let Some(parent) = get_parent(&root) {
            root = parent;
        }
        let driven = self.driven();
        let mut changed = self.import_on_every_device(&root, &driven);
        if self.input.data_transfer.icon_committed(&root)
            || self.layer_commit(&root)
            || self.lock_surface_commit(&root)
        {
            changed = true;
        }
        if changed {
            self.damage();
            self.capture_surface_damaged(&root);
        } else {
            // A frame callback or presentation feedback alone still wants a frame.
            self.outputs.waker.wake();
        }
        if let Some(lost) = self.gpu.first_mut().importer.take_device_lost() {
            // An import found the device gone: rebuild now (it re-imports this tree too).
            self.rebuild_renderer(&format!("dma-buf import: {lost}"));
        }
        self.schedule_uploads();
        if let Some(window) = self.window_for_surface(&root) {
            window.on_commit();
        }
        self.xdg_commit(&root);
        if self.reject_parentless_popup(surface) {
            return;
        }
        self.shell.popups.commit(surface);
        if let Some(popup) = self.shell.popups.find_popup(surface) {
            self.popup_commit(&popup);
        }
    }
}

/// The surface's share of its client's surface budget.
struct SurfaceCharge {
    _charge: crate::budget::Charge,
}

impl Weft {
    /// xdg_surface.unconfigured_buffer: a buffer attached to an xdg surface before its first
    /// configure was acknowledged. Returns whether the error was raised.
    fn reject_unconfigured_buffer(&mut self, surface: &WlSurface) -> bool {
        let Some(xdg) = self.shell.xdg_guard.xdg_surface_of(surface).cloned() else {
            return false;
        };
        let (has_new_buffer, configured) = with_states(surface, |states| {
            let has_new_buffer = matches!(
                states
                    .cached_state
                    .get::<SurfaceAttributes>()
                    .current()
                    .buffer,
                Some(BufferAssignment::NewBuffer(_))
            );
            let configured = if let Some(d) = states.data_map.get::<XdgToplevelSurfaceData>() {
                d.lock().map(|d| d.configured).unwrap_or(true)
            } else if let Some(d) = states.data_map.get::<XdgPopupSurfaceData>() {
                d.lock().map(|d| d.configured).unwrap_or(true)
            } else {
                true
            };
            (has_new_buffer, configured)
        });
        if has_new_buffer && !configured {
            if self.shell.accept_unconfigured_buffers {
                tracing::debug!("a buffer before the first ack_configure, accepted (WLCS 1.5.0)");
                return false;
            }
            xdg.post_error(
                xdg_surface::Error::UnconfiguredBuffer,
                "a buffer was committed before the first configure was acknowledged",
            );
            return true;
        }
        false
    }

    /// xdg_wm_base.invalid_popup_parent: a popup created with a null parent must get one through
    /// another protocol before its initial commit; weft implements none that could.
    fn reject_parentless_popup(&mut self, surface: &WlSurface) -> bool {
        let parentless = with_states(surface, |states| {
            states
                .data_map
                .get::<XdgPopupSurfaceData>()
                .and_then(|d| {
                    d.lock()
                        .ok()
                        .map(|d| d.parent.is_none() && !d.initial_configure_sent)
                })
                .unwrap_or(false)
        });
        if !parentless {
            return false;
        }
        if let Some(wm_base) = surface
            .client()
            .and_then(|c| self.shell.xdg_guard.wm_base_of(&c).cloned())
        {
            wm_base.post_error(
                xdg_wm_base::Error::InvalidPopupParent,
                "xdg_popup committed without a parent surface",
            );
        }
        true
    }

    fn popup_commit(&mut self, popup: &PopupKind) {
        if let PopupKind::Xdg(xdg) = popup {
            if !xdg.is_initial_configure_sent() {
                match xdg.send_configure() {
                    Ok(serial) => self
                        .shell
                        .xdg_guard
                        .configure_sent(xdg.wl_surface(), serial.into()),
                    Err(e) => tracing::debug!(error = ?e, "initial popup configure failed"),
                }
            }
        }
        if find_popup_root_surface(popup).is_ok() {
            self.damage();
        }
    }
}
