//! Data transfer between clients: the clipboard and drag-and-drop (`wl_data_device_manager` v3), the
//! primary selection (`zwp_primary_selection_device_manager_v1`) and, for clipboard managers and
//! command-line tools, data control (`zwlr_data_control_manager_v1` v2 and
//! `ext_data_control_manager_v1`).
//!
//! smithay's state machines do the protocol; weft-protocols' selection guard raises the errors
//! smithay does not. Policy here:
//! - the selection follows the keyboard focus: only the focused client may set the clipboard or
//!   primary selection (smithay refuses others), and only it is offered them; data-control clients
//!   see and set both whatever has the focus;
//! - a source that dies while it is the selection is dropped at once and the selection announced
//!   empty, to the focused client and to every data-control client (smithay would notice only at
//!   the next focus change), so no one asks a dead client for data;
//! - a drag's icon surface is drawn over everything at the pointer, moved by its
//!   `wl_surface.offset`, and goes away when the drag ends.

use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::reexports::wayland_server::{Client, DisplayHandle, Resource};
use smithay::utils::{Logical, Point};
use smithay::wayland::compositor::{with_states, SurfaceAttributes};
use smithay::wayland::selection::data_device::{
    clear_data_device_selection, set_data_device_focus, DataDeviceState,
};
use smithay::wayland::selection::ext_data_control::DataControlState as ExtDataControlState;
use smithay::wayland::selection::primary_selection::{
    clear_primary_selection, set_primary_focus, PrimarySelectionState,
};
use smithay::wayland::selection::wlr_data_control::DataControlState;
use weft_protocols::selection_guard::{SelectionGuardData, Target};

use crate::Weft;

/// The data-transfer globals and what weft tracks of them.
pub struct DataTransfer {
    pub(crate) data_device: DataDeviceState,
    pub(crate) primary: PrimarySelectionState,
    pub(crate) wlr_control: DataControlState,
    pub(crate) ext_control: ExtDataControlState,
    pub(crate) guard: SelectionGuardData,
    /// The icon of the drag under way, if it has one.
    drag_icon: Option<DragIcon>,
    /// The MIME types of the selections Wayland clients hold (clipboard, primary), for an X11
    /// window manager that starts after they were set ([`crate::xwayland`]).
    wayland_offers: [Option<Vec<String>>; 2],
}

/// A drag's icon: its surface and where its top-left corner is from the pointer's hotspot.
#[derive(Debug, Clone)]
struct DragIcon {
    surface: WlSurface,
    offset: Point<i32, Logical>,
}

impl DataTransfer {
    /// Creates the four globals on `dh`.
    pub fn new(dh: &DisplayHandle) -> Self {
        let data_device = DataDeviceState::new::<Weft>(dh);
        let primary = PrimarySelectionState::new::<Weft>(dh);
        let wlr_control = DataControlState::new::<Weft, _>(
            dh,
            Some(&primary),
            crate::runtime::security::may_see_others,
        );
        let ext_control = ExtDataControlState::new::<Weft, _>(
            dh,
            Some(&primary),
            crate::runtime::security::may_see_others,
        );
        Self {
            data_device,
            primary,
            wlr_control,
            ext_control,
            guard: SelectionGuardData::default(),
            drag_icon: None,
            wayland_offers: [None, None],
        }
    }

    /// What a Wayland client offers as `target` (`None`: nothing, or an X11 client holds it).
    pub(crate) fn wayland_offer_mut(&mut self, target: Target) -> &mut Option<Vec<String>> {
        let [clipboard, primary] = &mut self.wayland_offers;
        match target {
            Target::Clipboard => clipboard,
            Target::Primary => primary,
        }
    }

    /// A drag began with `icon` (or none).
    pub(crate) fn drag_started(&mut self, icon: Option<WlSurface>) {
        self.drag_icon = icon.map(|surface| DragIcon {
            surface,
            offset: Point::default(),
        });
    }

    /// The drag ended (dropped or cancelled): its icon is no longer drawn.
    pub(crate) fn drag_ended(&mut self) -> bool {
        self.drag_icon.take().is_some()
    }

    /// The drag icon's surface and its top-left corner relative to the pointer, while a drag with
    /// an icon is under way.
    pub fn drag_icon(&self) -> Option<(&WlSurface, Point<i32, Logical>)> {
        self.drag_icon
            .as_ref()
            .filter(|icon| icon.surface.is_alive())
            .map(|icon| (&icon.surface, icon.offset))
    }

    /// `surface` committed: if it is the drag icon, its `wl_surface.offset` moves it. Returns
    /// whether it is the drag icon.
    pub(crate) fn icon_committed(&mut self, surface: &WlSurface) -> bool {
        let Some(icon) = self.drag_icon.as_mut().filter(|i| &i.surface == surface) else {
            return false;
        };
        let delta = with_states(surface, |states| {
            states
                .cached_state
                .get::<SurfaceAttributes>()
                .current()
                .buffer_delta
                .take()
        });
        if let Some(delta) = delta {
            icon.offset += delta;
        }
        true
    }
}

impl Weft {
    /// The keyboard focus moved to `client`'s surface (or to none): the clipboard and the primary
    /// selection follow it.
    pub(crate) fn selection_focus(&mut self, client: Option<Client>) {
        set_data_device_focus(
            self.runtime.display_handle(),
            &self.input.seat,
            client.clone(),
        );
        set_primary_focus(self.runtime.display_handle(), &self.input.seat, client);
    }

    /// Per-iteration: a selection whose source died is cleared now, and the focused client and
    /// every data-control client are told it is empty (smithay would drop a dead source only when
    /// it next announces the selection, at a focus change).
    pub(crate) fn refresh_selection(&mut self) {
        let guard = &mut self.input.data_transfer.guard;
        if guard.take_gone(Target::Clipboard) {
            tracing::debug!("the clipboard's source died: the clipboard is now empty");
            *self
                .input
                .data_transfer
                .wayland_offer_mut(Target::Clipboard) = None;
            clear_data_device_selection(self.runtime.display_handle(), &self.input.seat);
        }
        if self.input.data_transfer.guard.take_gone(Target::Primary) {
            tracing::debug!("the primary selection's source died: it is now empty");
            *self.input.data_transfer.wayland_offer_mut(Target::Primary) = None;
            clear_primary_selection(self.runtime.display_handle(), &self.input.seat);
        }
    }
}
