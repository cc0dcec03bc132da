//! `xdg_activation_v1`: a client passes focus on to another window (a link opened in the running
//! browser, a launcher starting an app, a notification's "show" button).
//!
//! Focus-stealing policy: a token is honoured when it was made by the client that had the keyboard
//! when it asked, naming a serial (the click or key that started it), or by weft itself
//! ([`XdgActivationState::create_external_token`], for the commands weft starts), and is used
//! within [`TOKEN_LIFETIME`]. An honoured request raises the window and gives it the keyboard;
//! any other is refused (debug log): a background client cannot steal the keyboard. A window
//! still waiting for its first buffer needs no token: every new window is focused when it maps.

use std::time::Duration;

use smithay::input::Seat;
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::reexports::wayland_server::Resource;
use smithay::wayland::xdg_activation::{
    XdgActivationHandler, XdgActivationState, XdgActivationToken, XdgActivationTokenData,
};

use crate::Weft;

/// How long a token may wait before its activation is refused.
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(10);

impl Weft {
    /// Whether the client holding the keyboard is `client` (what a token's maker must be).
    fn has_keyboard(&self, client: &smithay::reexports::wayland_server::backend::ClientId) -> bool {
        self.input
            .seat
            .get_keyboard()
            .and_then(|k| k.current_focus())
            .map(crate::seat::focus::KeyboardFocus::into_surface)
            .and_then(|s| s.client())
            .is_some_and(|c| &c.id() == client)
    }
}

impl XdgActivationHandler for Weft {
    fn activation_state(&mut self) -> &mut XdgActivationState {
        &mut self.shell.activation
    }

    fn token_created(&mut self, _token: XdgActivationToken, data: XdgActivationTokenData) -> bool {
        let Some(client) = data.client_id.as_ref() else {
            // Made by weft itself.
            return true;
        };
        let from_seat = data
            .serial
            .as_ref()
            .and_then(|(_, seat)| Seat::<Weft>::from_resource(seat))
            .is_some_and(|seat| seat == self.input.seat);
        let valid = from_seat && self.has_keyboard(client);
        if !valid {
            tracing::debug!(
                ?client,
                serial = data.serial.is_some(),
                "xdg_activation token refused: its maker does not have the keyboard or named no input serial"
            );
        }
        valid
    }

    fn request_activation(
        &mut self,
        token: XdgActivationToken,
        data: XdgActivationTokenData,
        surface: WlSurface,
    ) {
        self.shell.activation.remove_token(&token);
        if data.timestamp.elapsed() > TOKEN_LIFETIME {
            tracing::debug!("xdg_activation: token expired, window not activated");
            return;
        }
        let window = self
            .shell
            .space
            .elements()
            .find(|w| w.toplevel().is_some_and(|t| t.wl_surface() == &surface))
            .cloned()
            .or_else(|| self.shell.minimized.of_surface(&surface));
        match window {
            Some(window) => {
                tracing::debug!(surface = ?surface.id(), "xdg_activation: window activated");
                self.focus_window(Some(window));
            }
            None => tracing::debug!(
                surface = ?surface.id(),
                "xdg_activation: not a mapped toplevel (a new window is focused when it maps)"
            ),
        }
    }
}

smithay::delegate_xdg_activation!(Weft);
