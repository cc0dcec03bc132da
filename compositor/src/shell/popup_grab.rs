//! Popup grabs (`xdg_popup.grab`): menus. A grabbing popup takes the keyboard, and the pointer goes
//! only to the client's popup chain; a click anywhere else dismisses the whole chain
//! (`xdg_popup.popup_done`, innermost first), and so does another window taking the focus. Nested
//! menus grab in turn: a child popup's grab keeps its parents' open.
//!
//! smithay's popup manager keeps the chain and its grabs; this file only says when a grab may
//! start: the serial must be that of a press (or key) the client's surface received, and while
//! another client holds the seat's pointer or keyboard grab, the request is refused by dismissing
//! the popup (xdg-shell: "the compositor … may dismiss the popup").

use smithay::desktop::{
    find_popup_root_surface, PopupKeyboardGrab, PopupKind, PopupManager, PopupPointerGrab,
    PopupUngrabStrategy,
};
use smithay::input::pointer::Focus;
use smithay::input::Seat;
use smithay::reexports::wayland_protocols::xdg::shell::server::xdg_popup;
use smithay::reexports::wayland_server::protocol::wl_seat::WlSeat;
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::reexports::wayland_server::Resource;
use smithay::utils::{Serial, SERIAL_COUNTER};
use smithay::wayland::compositor::with_states;
use smithay::wayland::shell::xdg::{PopupSurface, XdgPopupSurfaceData};

use crate::Weft;

impl Weft {
    /// `xdg_popup.grab` on `seat` with `serial`.
    pub(crate) fn grab_popup(&mut self, surface: PopupSurface, seat: &WlSeat, serial: Serial) {
        let Some(seat) = Seat::<Weft>::from_resource(seat) else {
            return;
        };
        // xdg_popup.invalid_grab: "this request must be used in response to some sort of user
        // action … before the popup is mapped". smithay raises it on the wl_surface; the spec's
        // object is the xdg_popup.
        let mapped = with_states(surface.wl_surface(), |states| {
            states
                .data_map
                .get::<XdgPopupSurfaceData>()
                .and_then(|d| d.lock().ok().map(|d| d.committed))
                .unwrap_or(false)
        });
        if mapped {
            surface.xdg_popup().post_error(
                xdg_popup::Error::InvalidGrab,
                "xdg_popup.grab after the popup was committed (mapped)",
            );
            return;
        }
        let kind = PopupKind::Xdg(surface.clone());
        let Ok(root) = find_popup_root_surface(&kind) else {
            tracing::debug!("popup grab on a popup with no toplevel: ignored");
            return;
        };
        let mut grab = match self
            .shell
            .popups
            .grab_popup::<Weft>(root.into(), kind, &seat, serial)
        {
            Ok(grab) => grab,
            Err(e) => {
                // smithay raised xdg_popup.invalid_grab where the spec says so; otherwise the
                // popup is dismissed (a serial that is no current press, or a dead parent).
                tracing::debug!(error = ?e, "popup grab refused");
                surface.send_popup_done();
                return;
            }
        };
        if let Some(keyboard) = seat.get_keyboard() {
            let previous = grab.previous_serial().unwrap_or(serial);
            if keyboard.is_grabbed() && !(keyboard.has_grab(serial) || keyboard.has_grab(previous))
            {
                grab.ungrab(PopupUngrabStrategy::All);
                return;
            }
            keyboard.set_focus(self, grab.current_grab(), serial);
            keyboard.set_grab(self, PopupKeyboardGrab::new(&grab), serial);
        }
        if let Some(pointer) = seat.get_pointer() {
            let previous = grab.previous_serial().unwrap_or_else(|| grab.serial());
            if pointer.is_grabbed() && !(pointer.has_grab(serial) || pointer.has_grab(previous)) {
                grab.ungrab(PopupUngrabStrategy::All);
                return;
            }
            pointer.set_grab(self, PopupPointerGrab::new(&grab), serial, Focus::Keep);
        }
    }

    /// The keyboard focus is about to move to `next` (a toplevel, or none): the popups of the
    /// toplevel that has it now are dismissed (menus close when another window takes the focus),
    /// which also ends their grab.
    pub(crate) fn dismiss_popups_leaving(&mut self, next: Option<&WlSurface>) {
        let Some(current) = self
            .input
            .seat
            .get_keyboard()
            .and_then(|k| k.current_focus())
            .map(crate::seat::focus::KeyboardFocus::into_surface)
        else {
            return;
        };
        let root = match self.shell.popups.find_popup(&current) {
            Some(popup) => match find_popup_root_surface(&popup) {
                Ok(root) => root,
                Err(_) => return,
            },
            None => current,
        };
        if Some(&root) == next {
            return;
        }
        let mut dismissed = false;
        for (popup, _) in PopupManager::popups_for_surface(&root) {
            dismissed |= PopupManager::dismiss_popup(&root, &popup).is_ok();
        }
        if !dismissed {
            return;
        }
        // smithay's popup grabs notice a dismissed chain only at their next event; the focus
        // change that follows must not be swallowed by them.
        if let Some(keyboard) = self.input.seat.get_keyboard() {
            let popup_grab = keyboard
                .with_grab(|_, grab| grab.is::<PopupKeyboardGrab<Weft>>())
                .unwrap_or(false);
            if popup_grab {
                keyboard.unset_grab(self);
            }
        }
        if let Some(pointer) = self.input.seat.get_pointer() {
            let popup_grab = pointer
                .with_grab(|_, grab| grab.is::<PopupPointerGrab<Weft>>())
                .unwrap_or(false);
            if popup_grab {
                let time = self.input_time_ms();
                pointer.unset_grab(self, SERIAL_COUNTER.next_serial(), time);
            }
        }
    }
}
