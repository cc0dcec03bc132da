//! The shell: surfaces with roles (xdg toplevels and popups, layer surfaces, decorations), the
//! space windows are placed in, and the guards that raise what smithay does not.

pub mod activation;
pub mod foreign_toplevels;
pub mod grabs;
pub mod layers;
pub mod layout;
pub mod minimize;
pub mod ping;
pub mod popup_grab;
pub mod quirks;
pub mod session_lock;

use smithay::desktop::{PopupManager, Space, Window};
use smithay::reexports::wayland_protocols::xdg::shell::server::xdg_toplevel;
use smithay::reexports::wayland_server::DisplayHandle;
use smithay::wayland::compositor::CompositorState;
use smithay::wayland::shell::wlr_layer::WlrLayerShellState;
use smithay::wayland::shell::xdg::XdgShellState;
use weft_protocols::decoration::DecorationData;
use weft_protocols::xdg_guard::XdgGuardData;

use crate::Weft;

pub use quirks::XDG_WM_BASE_VERSION;

/// Every role-bearing surface and where it is placed.
pub struct Shell {
    pub(crate) compositor_state: CompositorState,
    pub(crate) xdg_shell_state: XdgShellState,
    pub(crate) xdg_guard: XdgGuardData,
    /// Toplevel decoration objects (zxdg_decoration_manager_v1: clients draw their own).
    pub(crate) decorations: DecorationData,
    /// zwlr_layer_shell_v1 ([`crate::shell::layers`]; the layers themselves live in each output's map).
    pub(crate) layer_shell: WlrLayerShellState,
    /// xdg_activation_v1 tokens ([`crate::shell::activation`]).
    pub(crate) activation: smithay::wayland::xdg_activation::XdgActivationState,
    /// ext_foreign_toplevel_list_v1: task bars' list of windows ([`crate::shell::foreign_toplevels`]).
    pub(crate) foreign_toplevels: crate::shell::foreign_toplevels::ForeignToplevels,
    pub(crate) space: Space<Window>,
    pub(crate) popups: PopupManager,
    /// Toplevels that exist but have not committed a buffer yet (not in `space`).
    pub(crate) pending_windows: Vec<Window>,
    /// Minimized windows, out of the space ([`minimize`]).
    pub(crate) minimized: minimize::Minimized,
    /// Windows placed so far, for the cascade of new toplevels.
    pub(crate) placed: u32,
    pub(crate) pings: crate::shell::ping::PingTracker,
    pub(crate) next_surface_id: u64,
    /// Off everywhere but under WLCS 1.5.0 (Debian bookworm's conformance suite), whose helper that
    /// makes a toplevel commits its buffer without ever acknowledging a configure (fixed upstream in
    /// wlcs 2a5bfbc): when set, such a commit is applied instead of raising
    /// xdg_surface.unconfigured_buffer (and its layer-surface helper's likewise is not
    /// zwlr_layer_surface_v1.invalid_surface_state), so the suite's other tests can run. Set through
    /// [`Weft::accept_unconfigured_buffers`].
    pub(crate) accept_unconfigured_buffers: bool,
}

impl Shell {
    /// Creates wl_compositor, xdg_wm_base, xdg-decoration and the layer shell.
    pub(crate) fn new(dh: &DisplayHandle) -> Self {
        let compositor_state = CompositorState::new_v6::<Weft>(dh);
        // What weft does of xdg_toplevel's requests (wm_capabilities, v5): fullscreen, maximize
        // and minimize; it has no window menu.
        let xdg_shell_state = XdgShellState::new_with_capabilities::<Weft>(
            dh,
            [
                xdg_toplevel::WmCapabilities::Fullscreen,
                xdg_toplevel::WmCapabilities::Maximize,
                xdg_toplevel::WmCapabilities::Minimize,
            ],
        );
        // smithay's global is one for all; weft's two are v6 for most clients and v3 for the few
        // known to abort on v4's configure_bounds ([`quirks`]).
        dh.remove_global::<Weft>(xdg_shell_state.global());
        quirks::create_wm_base_globals(dh);
        dh.create_global::<Weft, smithay::reexports::wayland_protocols::xdg::decoration::zv1::server::zxdg_decoration_manager_v1::ZxdgDecorationManagerV1, _>(2, ());
        Self {
            compositor_state,
            xdg_shell_state,
            xdg_guard: XdgGuardData::default(),
            decorations: Default::default(),
            layer_shell: WlrLayerShellState::new::<Weft>(dh),
            activation: smithay::wayland::xdg_activation::XdgActivationState::new::<Weft>(dh),
            foreign_toplevels: crate::shell::foreign_toplevels::ForeignToplevels::new(dh),
            space: Space::default(),
            popups: PopupManager::default(),
            pending_windows: Vec::new(),
            minimized: Default::default(),
            placed: 0,
            pings: Default::default(),
            next_surface_id: 0,
            accept_unconfigured_buffers: false,
        }
    }
}
