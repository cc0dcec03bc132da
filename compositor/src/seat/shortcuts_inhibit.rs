//! `zwp_keyboard_shortcuts_inhibit_manager_v1`: a remote desktop viewer, a virtual machine's window
//! or a game asks for every key, weft's own bindings included.
//!
//! Policy: an inhibitor is active exactly while its surface has the keyboard (the protocol's
//! `active`/`inactive` events tell the client); weft's key bindings check
//! [`Weft::shortcuts_inhibited`] before acting. No request is refused: the user takes the keyboard
//! back by clicking another window.

use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::reexports::wayland_server::DisplayHandle;
use smithay::utils::IsAlive;
use smithay::wayland::keyboard_shortcuts_inhibit::{
    KeyboardShortcutsInhibitHandler, KeyboardShortcutsInhibitState, KeyboardShortcutsInhibitor,
};

use crate::Weft;

/// The manager and every inhibitor clients made.
pub struct ShortcutsInhibit {
    state: KeyboardShortcutsInhibitState,
    inhibitors: Vec<KeyboardShortcutsInhibitor>,
}

impl ShortcutsInhibit {
    pub(crate) fn new(dh: &DisplayHandle) -> Self {
        Self {
            state: KeyboardShortcutsInhibitState::new::<Weft>(dh),
            inhibitors: Vec::new(),
        }
    }
}

impl Weft {
    /// Whether the window with the keyboard has inhibited weft's shortcuts.
    pub fn shortcuts_inhibited(&self) -> bool {
        self.input
            .shortcuts
            .inhibitors
            .iter()
            .any(KeyboardShortcutsInhibitor::is_active)
    }

    /// The keyboard moved to `focused`: its inhibitor (if any) becomes active, every other one
    /// inactive.
    pub(crate) fn shortcuts_follow_focus(&mut self, focused: Option<&WlSurface>) {
        let inhibitors = &mut self.input.shortcuts.inhibitors;
        inhibitors.retain(|i| i.wl_surface().alive());
        for inhibitor in inhibitors.iter() {
            let want = Some(inhibitor.wl_surface()) == focused;
            if want && !inhibitor.is_active() {
                inhibitor.activate();
            } else if !want && inhibitor.is_active() {
                inhibitor.inactivate();
            }
        }
    }
}

impl KeyboardShortcutsInhibitHandler for Weft {
    fn keyboard_shortcuts_inhibit_state(&mut self) -> &mut KeyboardShortcutsInhibitState {
        &mut self.input.shortcuts.state
    }

    fn new_inhibitor(&mut self, inhibitor: KeyboardShortcutsInhibitor) {
        self.input.shortcuts.inhibitors.push(inhibitor);
        let focused = self
            .input
            .seat
            .get_keyboard()
            .and_then(|k| k.current_focus())
            .map(crate::seat::focus::KeyboardFocus::into_surface);
        self.shortcuts_follow_focus(focused.as_ref());
    }

    fn inhibitor_destroyed(&mut self, inhibitor: KeyboardShortcutsInhibitor) {
        self.input.shortcuts.inhibitors.retain(|i| i != &inhibitor);
    }
}

smithay::delegate_keyboard_shortcuts_inhibit!(Weft);
