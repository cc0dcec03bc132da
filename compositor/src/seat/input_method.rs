//! Text typed through a program: `zwp_text_input_manager_v3` (applications say where text goes),
//! `zwp_input_method_manager_v2` (an input method, e.g. for Chinese or Japanese, composes it) and
//! `zwp_virtual_keyboard_manager_v1` (on-screen keyboards, remote input).
//!
//! smithay's state machines route between them: the text input of the focused surface is enabled
//! when the keyboard enters it, and the input method's commits reach it. Weft's part: the input
//! method's candidate popups are tracked with the other popups, so they are drawn beside the text
//! cursor of the window they belong to (over it, in `crate::outputs::scene`), and go when
//! dismissed. Input methods and virtual keyboards see or drive other clients' input: sandboxed
//! clients are not offered them ([`crate::runtime::security`]).

use smithay::desktop::{PopupKind, PopupManager};
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::reexports::wayland_server::DisplayHandle;
use smithay::utils::{Logical, Rectangle};
use smithay::wayland::input_method::{InputMethodHandler, InputMethodManagerState, PopupSurface};
use smithay::wayland::text_input::TextInputManagerState;
use smithay::wayland::virtual_keyboard::VirtualKeyboardManagerState;

use crate::runtime::security::may_see_others;
use crate::Weft;

/// Creates the three globals (their state lives in smithay's seat data).
pub(crate) fn create_globals(dh: &DisplayHandle) {
    TextInputManagerState::new::<Weft>(dh);
    InputMethodManagerState::new::<Weft, _>(dh, may_see_others);
    VirtualKeyboardManagerState::new::<Weft, _>(dh, may_see_others);
}

impl InputMethodHandler for Weft {
    fn new_popup(&mut self, surface: PopupSurface) {
        if let Err(e) = self.shell.popups.track_popup(PopupKind::from(surface)) {
            tracing::debug!(error = %e, "input-method popup without a parent: not shown");
        }
        self.damage();
    }

    fn dismiss_popup(&mut self, surface: PopupSurface) {
        if let Some(parent) = surface.get_parent().map(|p| p.surface.clone()) {
            let _ = PopupManager::dismiss_popup(&parent, &PopupKind::from(surface));
        }
        self.damage();
    }

    fn popup_repositioned(&mut self, _surface: PopupSurface) {
        self.damage();
    }

    /// The window geometry of the toplevel whose text the popup is for (its text cursor rectangle
    /// is relative to it).
    fn parent_geometry(&self, parent: &WlSurface) -> Rectangle<i32, Logical> {
        self.window_for_surface(parent)
            .map(|w| w.geometry())
            .unwrap_or_default()
    }
}

weft_protocols::delegate_text_input_guarded!(Weft);
smithay::delegate_input_method_manager!(Weft);
impl weft_protocols::virtual_keyboard_guard::VirtualKeymaps for Weft {
    fn virtual_keymaps(
        &mut self,
    ) -> &mut std::collections::HashSet<smithay::reexports::wayland_server::backend::ObjectId> {
        &mut self.input.virtual_keymaps
    }
}

weft_protocols::delegate_virtual_keyboard_guarded!(Weft);
