//! What holds the keyboard: a Wayland surface, or an X11 window (through Xwayland).
//!
//! An X11 window is more than its wl_surface: X routes keys to the window that has the X input
//! focus, so giving an X11 window the keyboard also sets that focus (or sends `WM_TAKE_FOCUS`, as
//! the window's hints ask) through smithay's X11 window manager, and taking the keyboard away
//! clears it. Everything else — wl_keyboard events, the data device, input methods — goes to the
//! wl_surface, which an X11 focus always carries: weft gives the keyboard only to X11 windows
//! whose surface Xwayland has associated ([`crate::xwayland`]).
//!
//! smithay's X11 window sends the wl_keyboard events itself only when it knows its surface
//! (Xwayland 23.1 and later, through xwayland_shell_v1); with an older Xwayland, which names the
//! surface in a `WL_SURFACE_ID` message weft resolves, they are sent to the surface here.

use std::borrow::Cow;

use smithay::backend::input::KeyState;
use smithay::desktop::PopupKind;
use smithay::input::keyboard::{KeyboardTarget, KeysymHandle, ModifiersState};
use smithay::input::Seat;
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::utils::{IsAlive, Serial};
use smithay::wayland::seat::WaylandFocus;
use smithay::xwayland::X11Surface;

use crate::Weft;

/// The keyboard focus of weft's seat.
#[derive(Debug, Clone, PartialEq)]
#[allow(
    clippy::large_enum_variant,
    reason = "one focus per seat, cloned per key event: boxing would allocate for every X11 key"
)]
pub enum KeyboardFocus {
    /// A Wayland surface: a toplevel, popup, layer or lock surface.
    Surface(WlSurface),
    /// An X11 window and the wl_surface Xwayland shows it with.
    X11 {
        window: X11Surface,
        surface: WlSurface,
    },
}

impl KeyboardFocus {
    /// The surface wl_keyboard events go to.
    pub fn surface(&self) -> &WlSurface {
        match self {
            Self::Surface(s) => s,
            Self::X11 { surface, .. } => surface,
        }
    }

    /// The surface, owned.
    pub fn into_surface(self) -> WlSurface {
        match self {
            Self::Surface(s) => s,
            Self::X11 { surface, .. } => surface,
        }
    }
}

impl From<WlSurface> for KeyboardFocus {
    fn from(surface: WlSurface) -> Self {
        Self::Surface(surface)
    }
}

impl From<PopupKind> for KeyboardFocus {
    fn from(popup: PopupKind) -> Self {
        Self::Surface(popup.wl_surface().clone())
    }
}

impl From<KeyboardFocus> for WlSurface {
    fn from(focus: KeyboardFocus) -> Self {
        focus.into_surface()
    }
}

impl IsAlive for KeyboardFocus {
    fn alive(&self) -> bool {
        match self {
            Self::Surface(s) => s.alive(),
            Self::X11 { window, surface } => window.alive() && surface.alive(),
        }
    }
}

impl WaylandFocus for KeyboardFocus {
    fn wl_surface(&self) -> Option<Cow<'_, WlSurface>> {
        Some(Cow::Borrowed(self.surface()))
    }
}

/// Whether smithay's X11 window forwards wl_keyboard events to its surface itself.
fn forwards(window: &X11Surface) -> bool {
    window.wl_surface().is_some()
}

impl KeyboardTarget<Weft> for KeyboardFocus {
    fn enter(
        &self,
        seat: &Seat<Weft>,
        data: &mut Weft,
        keys: Vec<KeysymHandle<'_>>,
        serial: Serial,
    ) {
        match self {
            Self::Surface(s) => KeyboardTarget::enter(s, seat, data, keys, serial),
            Self::X11 { window, surface } => {
                if forwards(window) {
                    KeyboardTarget::enter(window, seat, data, keys, serial);
                } else {
                    // The X input focus, then the surface's wl_keyboard.enter.
                    KeyboardTarget::enter(window, seat, data, Vec::new(), serial);
                    KeyboardTarget::enter(surface, seat, data, keys, serial);
                }
            }
        }
    }

    fn leave(&self, seat: &Seat<Weft>, data: &mut Weft, serial: Serial) {
        match self {
            Self::Surface(s) => KeyboardTarget::leave(s, seat, data, serial),
            Self::X11 { window, surface } => {
                KeyboardTarget::leave(window, seat, data, serial);
                if !forwards(window) {
                    KeyboardTarget::leave(surface, seat, data, serial);
                }
            }
        }
    }

    fn key(
        &self,
        seat: &Seat<Weft>,
        data: &mut Weft,
        key: KeysymHandle<'_>,
        state: KeyState,
        serial: Serial,
        time: u32,
    ) {
        match self {
            Self::X11 { window, .. } if forwards(window) => {
                KeyboardTarget::key(window, seat, data, key, state, serial, time)
            }
            _ => KeyboardTarget::key(self.surface(), seat, data, key, state, serial, time),
        }
    }

    fn modifiers(
        &self,
        seat: &Seat<Weft>,
        data: &mut Weft,
        modifiers: ModifiersState,
        serial: Serial,
    ) {
        match self {
            Self::X11 { window, .. } if forwards(window) => {
                KeyboardTarget::modifiers(window, seat, data, modifiers, serial)
            }
            _ => KeyboardTarget::modifiers(self.surface(), seat, data, modifiers, serial),
        }
    }
}
