//! The seat and what rides on it: keyboard, pointer and touch, the selections and drag-and-drop,
//! idle notification. What input does is [`crate::seat::input`]'s.

pub mod cursor;
pub mod cursor_plane;
pub mod cursor_theme;
pub mod data_transfer;
pub mod focus;
pub mod idle;
pub mod input;
pub mod input_method;
pub mod pointer_constraints;
pub mod shortcuts_inhibit;

use smithay::input::{Seat, SeatState};
use smithay::reexports::calloop::LoopHandle;
use smithay::reexports::wayland_server::DisplayHandle;

use crate::Weft;

/// seat0 and the protocols that follow its focus.
pub struct Input {
    pub(crate) seat_state: SeatState<Weft>,
    pub(crate) seat: Seat<Weft>,
    /// Clipboard, drag-and-drop, primary selection, data control ([`crate::seat::data_transfer`]).
    pub(crate) data_transfer: crate::seat::data_transfer::DataTransfer,
    /// ext_idle_notifier_v1 and idle inhibitors ([`crate::seat::idle`]).
    pub(crate) idle: crate::seat::idle::Idle,
    /// Keyboard-shortcut inhibitors ([`crate::seat::shortcuts_inhibit`]).
    pub(crate) shortcuts: crate::seat::shortcuts_inhibit::ShortcutsInhibit,
    /// The pointer's image ([`crate::seat::cursor`]).
    pub(crate) cursor: crate::seat::cursor::Cursor,
    /// The virtual keyboards that sent their keymap (weft-protocols' virtual-keyboard guard).
    pub(crate) virtual_keymaps:
        std::collections::HashSet<smithay::reexports::wayland_server::backend::ObjectId>,
}

impl Input {
    /// Creates wl_seat (keyboard, pointer and touch), the data-transfer globals, idle
    /// notification, pointer constraints and relative pointers, text input, input methods,
    /// virtual keyboards and shortcut inhibitors.
    pub(crate) fn new(dh: &DisplayHandle, loop_handle: LoopHandle<'static, Weft>) -> Self {
        let mut seat_state = SeatState::new();
        let mut seat = seat_state.new_wl_seat(dh, "seat0");
        // A seat with no capabilities would make clients skip input entirely; keyboard, pointer and
        // touch are advertised even headless: their input comes from a device backend or is
        // injected (`crate::seat::input::InjectedInput`: tests, the WLCS shim).
        let _ = seat.add_keyboard(Default::default(), 200, 25);
        seat.add_pointer();
        seat.add_touch();
        smithay::wayland::pointer_constraints::PointerConstraintsState::new::<Weft>(dh);
        smithay::wayland::relative_pointer::RelativePointerManagerState::new::<Weft>(dh);
        crate::seat::input_method::create_globals(dh);
        Self {
            seat_state,
            seat,
            data_transfer: crate::seat::data_transfer::DataTransfer::new(dh),
            idle: crate::seat::idle::Idle::new(dh, loop_handle),
            shortcuts: crate::seat::shortcuts_inhibit::ShortcutsInhibit::new(dh),
            cursor: crate::seat::cursor::Cursor::new(dh),
            virtual_keymaps: Default::default(),
        }
    }
}
