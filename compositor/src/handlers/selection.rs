//! smithay's selection handlers for weft: clipboard, drag-and-drop, primary selection and data
//! control (policy in [`crate::seat::data_transfer`]).

use smithay::input::Seat;
use smithay::reexports::wayland_server::protocol::wl_data_source::WlDataSource;
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::wayland::selection::data_device::{
    ClientDndGrabHandler, DataDeviceHandler, DataDeviceState, ServerDndGrabHandler,
};
use smithay::wayland::selection::ext_data_control::{
    DataControlHandler as ExtDataControlHandler, DataControlState as ExtDataControlState,
};
use smithay::wayland::selection::primary_selection::{
    PrimarySelectionHandler, PrimarySelectionState,
};
use smithay::wayland::selection::wlr_data_control::{DataControlHandler, DataControlState};
use smithay::wayland::selection::{SelectionHandler, SelectionSource, SelectionTarget};
use weft_protocols::selection_guard::{SelectionGuardData, SelectionGuardState, Target};

use crate::Weft;

impl SelectionHandler for Weft {
    /// Set only for the selections of X11 clients, which weft holds for them.
    type SelectionUserData = ();

    fn new_selection(
        &mut self,
        ty: SelectionTarget,
        source: Option<SelectionSource>,
        _seat: Seat<Self>,
    ) {
        let target = match ty {
            SelectionTarget::Clipboard => Target::Clipboard,
            SelectionTarget::Primary => Target::Primary,
        };
        tracing::debug!(
            ?target,
            mime_types = ?source.as_ref().map(SelectionSource::mime_types),
            "selection set"
        );
        self.input
            .data_transfer
            .guard
            .selection_changed(target, source.is_some());
        *self.input.data_transfer.wayland_offer_mut(target) =
            source.as_ref().map(SelectionSource::mime_types);
        // X11 clients see the Wayland selection through the X11 window manager.
        if let Some(wm) = self.xwayland.wm() {
            if let Err(e) = wm.new_selection(ty, source.map(|s| s.mime_types())) {
                tracing::warn!(error = %e, "the X11 clients could not be told of a new selection");
            }
        }
    }

    /// A Wayland client reads a selection weft set for an X11 client ([`crate::xwayland`]).
    fn send_selection(
        &mut self,
        ty: SelectionTarget,
        mime_type: String,
        fd: std::os::fd::OwnedFd,
        _seat: Seat<Self>,
        _user_data: &(),
    ) {
        let handle = self.runtime.loop_handle().clone();
        match self.xwayland.wm() {
            Some(wm) => {
                if let Err(e) = wm.send_selection(ty, mime_type, fd, handle) {
                    tracing::warn!(error = %e, "an X11 selection could not be read");
                }
            }
            None => tracing::debug!("an X11 selection was asked for after Xwayland went"),
        }
    }
}

impl DataDeviceHandler for Weft {
    fn data_device_state(&self) -> &DataDeviceState {
        &self.input.data_transfer.data_device
    }
}

impl ClientDndGrabHandler for Weft {
    fn started(
        &mut self,
        _source: Option<WlDataSource>,
        icon: Option<WlSurface>,
        _seat: Seat<Self>,
    ) {
        tracing::debug!(icon = icon.is_some(), "drag started");
        self.input.data_transfer.drag_started(icon);
        self.damage();
    }

    fn dropped(&mut self, target: Option<WlSurface>, validated: bool, _seat: Seat<Self>) {
        tracing::debug!(target = target.is_some(), validated, "drag ended");
        if self.input.data_transfer.drag_ended() {
            self.damage();
        }
    }
}

/// weft starts no drags of its own.
impl ServerDndGrabHandler for Weft {}

impl PrimarySelectionHandler for Weft {
    fn primary_selection_state(&self) -> &PrimarySelectionState {
        &self.input.data_transfer.primary
    }
}

impl DataControlHandler for Weft {
    fn data_control_state(&self) -> &DataControlState {
        &self.input.data_transfer.wlr_control
    }
}

impl ExtDataControlHandler for Weft {
    fn data_control_state(&self) -> &ExtDataControlState {
        &self.input.data_transfer.ext_control
    }
}

impl SelectionGuardState for Weft {
    fn selection_guard(&mut self) -> &mut SelectionGuardData {
        &mut self.input.data_transfer.guard
    }
}

weft_protocols::delegate_selection_guarded!(Weft);
