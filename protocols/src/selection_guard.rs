//! Data-transfer guard: wl_data_device, zwp_primary_selection_v1, zwlr_data_control_v1 and
//! ext_data_control_v1 in front of smithay's selection state machines.
//!
//! Rules enforced before smithay sees the request (smithay raises none of them):
//! - `wl_data_source.set_actions` with bits outside copy|move|ask: `invalid_action_mask` (smithay
//!   logs an ERROR line and carries on, which by weft's logging policy would be a weft bug).
//! - `wl_data_source.set_actions` a second time, or after the source was given to
//!   `set_selection`/`start_drag` ("must be made once only … before wl_data_device.start_drag"):
//!   `wl_data_source.invalid_source`.
//! - `wl_data_device.set_selection` with a source whose actions were set (a drag-and-drop source:
//!   "attempting to use the source other than for drag-and-drop will raise a protocol error"):
//!   `wl_data_source.invalid_source`.
//! - `wl_data_device.set_selection`/`start_drag` with a source already used by either:
//!   `wl_data_device.used_source` — except the current selection's source set again, which GTK 3
//!   does at every copy (the spec says a compositor "may" raise it).
//! - `zwlr_data_control_device_v1.set_selection`/`set_primary_selection` with a source already used
//!   (v2, where the error exists), and the same on `ext_data_control_device_v1`: `used_source`
//!   (with the same exception).
//! - `zwlr_data_control_source_v1.offer`/`ext_data_control_source_v1.offer` after the source was
//!   given to a device: `invalid_offer`.
//!
//! smithay raises `wl_data_device.role` for a drag icon that has another role, and of
//! wl_data_offer's errors `invalid_finish` and `invalid_action` on drag-and-drop offers. Not
//! raised today: `wl_data_offer.invalid_action_mask` (smithay reads a bad mask as no action) and
//! `wl_data_offer.invalid_offer` (a request on an offer no longer active is ignored); smithay also
//! sends no `wl_data_source.target`. Its offers are objects with private data that no guard can
//! stand in front of: closing that gap means weft's own drag-and-drop grab.
//!
//! The guard also follows which source is each selection and sees every source die. smithay clears
//! a selection whose source is gone only when it next announces the selection (a focus change), so
//! clipboard managers and the focused client would keep a selection no one can serve;
//! [`SelectionGuardData::take_gone`] tells the compositor to clear it at once.

use std::collections::HashMap;

use smithay::input::SeatHandler;
use smithay::reexports::wayland_protocols::ext::data_control::v1::server::{
    ext_data_control_device_v1::{self, ExtDataControlDeviceV1},
    ext_data_control_source_v1::{self, ExtDataControlSourceV1},
};
use smithay::reexports::wayland_protocols::wp::primary_selection::zv1::server::{
    zwp_primary_selection_device_v1::{self, ZwpPrimarySelectionDeviceV1},
    zwp_primary_selection_source_v1::ZwpPrimarySelectionSourceV1,
};
use smithay::reexports::wayland_protocols_wlr::data_control::v1::server::{
    zwlr_data_control_device_v1::{self, ZwlrDataControlDeviceV1},
    zwlr_data_control_source_v1::{self, ZwlrDataControlSourceV1},
};
use smithay::reexports::wayland_server::backend::{ClientId, ObjectId};
use smithay::reexports::wayland_server::protocol::wl_data_device::{self, WlDataDevice};
use smithay::reexports::wayland_server::protocol::wl_data_source::{self, WlDataSource};
use smithay::reexports::wayland_server::{
    Client, DataInit, Dispatch, DisplayHandle, Resource, WEnum,
};
use smithay::wayland::seat::WaylandFocus;
use smithay::wayland::selection::data_device::{
    DataDeviceHandler, DataDeviceState, DataDeviceUserData, DataSourceUserData,
};
use smithay::wayland::selection::ext_data_control::{
    DataControlHandler as ExtDataControlHandler, DataControlState as ExtDataControlState,
    ExtDataControlDeviceUserData, ExtDataControlSourceUserData,
};
use smithay::wayland::selection::primary_selection::{
    PrimaryDeviceUserData, PrimarySelectionHandler, PrimarySelectionState, PrimarySourceUserData,
};
use smithay::wayland::selection::wlr_data_control::{
    DataControlDeviceUserData, DataControlHandler, DataControlSourceUserData, DataControlState,
};
use smithay::wayland::selection::SelectionHandler;

use crate::Violation;

/// Every drag-and-drop action wl_data_device_manager defines (copy | move | ask).
pub const DND_ACTIONS: u32 = 0b111;

/// What a source was given to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Use {
    /// A selection (clipboard or primary), by a client's device or a data-control device.
    Selection,
    /// wl_data_device.start_drag.
    Drag,
}

/// What the guard remembers. Lives in the compositor state (see [`SelectionGuardState`]).
#[derive(Debug, Default)]
pub struct SelectionGuardData {
    /// Sources of every kind given to a device, by object id.
    used: HashMap<ObjectId, Use>,
    /// wl_data_sources whose drag-and-drop actions were set.
    actions_set: HashMap<ObjectId, u32>,
    /// The source of the selection request being handled, until smithay accepts it
    /// ([`SelectionGuardData::selection_changed`]).
    pending: Option<ObjectId>,
    /// The client source of each selection ([`Target`]), as far as the guard saw it accepted.
    current: PerTarget<Option<ObjectId>>,
    /// Each selection's source was destroyed while it was the selection (since the last take).
    gone: PerTarget<bool>,
}

/// One value per selection.
#[derive(Debug, Default)]
struct PerTarget<T> {
    clipboard: T,
    primary: T,
}

impl<T> PerTarget<T> {
    fn get(&self, target: Target) -> &T {
        match target {
            Target::Clipboard => &self.clipboard,
            Target::Primary => &self.primary,
        }
    }

    fn get_mut(&mut self, target: Target) -> &mut T {
        match target {
            Target::Clipboard => &mut self.clipboard,
            Target::Primary => &mut self.primary,
        }
    }
}

/// Which selection: the clipboard or the primary selection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Clipboard,
    Primary,
}

/// Why a wl_data_device request with a source is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceRefusal {
    /// On the device: the source was used before.
    UsedSource(String),
    /// On the source: a drag-and-drop source given to set_selection.
    DndSourceAsSelection(String),
}

impl SelectionGuardData {
    /// `wl_data_source.set_actions(mask)` on `source` (`None`: a value outside the enum).
    pub fn set_actions(
        &mut self,
        source: ObjectId,
        mask: Option<u32>,
    ) -> Result<(), Violation<wl_data_source::Error>> {
        let mask = match mask {
            Some(mask) if mask & !DND_ACTIONS == 0 => mask,
            other => {
                return Err(Violation::new(
                    wl_data_source::Error::InvalidActionMask,
                    format!(
                        "dnd action mask {:#x} has bits outside copy|move|ask",
                        other.unwrap_or(u32::MAX)
                    ),
                ))
            }
        };
        if let Some(used) = self.used.get(&source) {
            return Err(Violation::new(
                wl_data_source::Error::InvalidSource,
                format!("set_actions after the source was used ({used:?}): it must come before start_drag"),
            ));
        }
        if self.actions_set.contains_key(&source) {
            return Err(Violation::new(
                wl_data_source::Error::InvalidSource,
                "set_actions may be made once only",
            ));
        }
        self.actions_set.insert(source, mask);
        Ok(())
    }

    /// A wl_data_device's `set_selection` or `start_drag` with `source`.
    pub fn data_device_use(&mut self, source: ObjectId, use_: Use) -> Result<(), DeviceRefusal> {
        if use_ == Use::Selection && self.is_current(&source, Target::Clipboard) {
            return Ok(());
        }
        if let Some(before) = self.used.get(&source) {
            return Err(DeviceRefusal::UsedSource(format!(
                "this wl_data_source was used before ({before:?}); each source serves one selection or drag"
            )));
        }
        if use_ == Use::Selection && self.actions_set.contains_key(&source) {
            return Err(DeviceRefusal::DndSourceAsSelection(
                "a source whose drag-and-drop actions were set cannot be the selection".into(),
            ));
        }
        self.used.insert(source, use_);
        Ok(())
    }

    /// A data-control device's `set_selection`/`set_primary_selection` (`target`) with `source`:
    /// whether it may be used (its first use, or `target`'s current source set again).
    pub fn control_use(&mut self, source: ObjectId, target: Target) -> bool {
        self.is_current(&source, target) || self.used.insert(source, Use::Selection).is_none()
    }

    /// Whether `source` is `target`'s current selection. Setting it again is no reuse: GTK 3 sets
    /// its source, offers one more type (SAVE_TARGETS) and sets the same source again, and a
    /// used_source error there would end every GTK 3 application at its first copy.
    fn is_current(&self, source: &ObjectId, target: Target) -> bool {
        self.current.get(target).as_ref() == Some(source)
    }

    /// Whether `source` was given to a device (a data-control source's offers must come before).
    pub fn is_used(&self, source: &ObjectId) -> bool {
        self.used.contains_key(source)
    }

    /// A selection request with `source` (`None`: unset) is about to be handed to smithay.
    pub fn selection_requested(&mut self, source: Option<ObjectId>) {
        self.pending = source;
    }

    /// smithay accepted the selection request being handled for `target` (call from
    /// `SelectionHandler::new_selection`); `client_source` is whether it names a source.
    pub fn selection_changed(&mut self, target: Target, client_source: bool) {
        let pending = self.pending.take();
        *self.current.get_mut(target) = if client_source { pending } else { None };
    }

    /// A source of any kind was destroyed (its client destroyed it or died).
    pub fn source_destroyed(&mut self, source: &ObjectId) {
        self.actions_set.remove(source);
        self.used.remove(source);
        for target in [Target::Clipboard, Target::Primary] {
            if self.current.get(target).as_ref() == Some(source) {
                *self.current.get_mut(target) = None;
                *self.gone.get_mut(target) = true;
            }
        }
    }

    /// Whether the source of `target` died while it was the selection (since the last call).
    pub fn take_gone(&mut self, target: Target) -> bool {
        std::mem::take(self.gone.get_mut(target))
    }
}

/// Gives the guard its data inside the compositor state.
pub trait SelectionGuardState {
    fn selection_guard(&mut self) -> &mut SelectionGuardData;
}

/// Dispatches the data-transfer objects that take a source or are one: validates, then delegates
/// to smithay.
pub struct SelectionGuard;

impl<D> Dispatch<WlDataSource, DataSourceUserData, D> for SelectionGuard
where
    D: Dispatch<WlDataSource, DataSourceUserData> + DataDeviceHandler + SelectionGuardState,
    D: 'static,
{
    fn request(
        state: &mut D,
        client: &Client,
        source: &WlDataSource,
        request: wl_data_source::Request,
        data: &DataSourceUserData,
        dh: &DisplayHandle,
        data_init: &mut DataInit<'_, D>,
    ) {
        if let wl_data_source::Request::SetActions { dnd_actions } = &request {
            let mask = match dnd_actions {
                WEnum::Value(actions) => Some(actions.bits()),
                WEnum::Unknown(_) => None,
            };
            if let Err(v) = state.selection_guard().set_actions(source.id(), mask) {
                source.post_error(v.error, v.message);
                return;
            }
        }
        <DataDeviceState as Dispatch<WlDataSource, DataSourceUserData, D>>::request(
            state, client, source, request, data, dh, data_init,
        )
    }

    fn destroyed(
        state: &mut D,
        client: ClientId,
        source: &WlDataSource,
        data: &DataSourceUserData,
    ) {
        state.selection_guard().source_destroyed(&source.id());
        <DataDeviceState as Dispatch<WlDataSource, DataSourceUserData, D>>::destroyed(
            state, client, source, data,
        )
    }
}

impl<D> Dispatch<WlDataDevice, DataDeviceUserData, D> for SelectionGuard
where
    D: Dispatch<WlDataDevice, DataDeviceUserData> + DataDeviceHandler + SelectionGuardState,
    D: SeatHandler,
    <D as SeatHandler>::KeyboardFocus: WaylandFocus,
    <D as SeatHandler>::PointerFocus: WaylandFocus,
    <D as SeatHandler>::TouchFocus: WaylandFocus,
    D: 'static,
{
    fn request(
        state: &mut D,
        client: &Client,
        device: &WlDataDevice,
        request: wl_data_device::Request,
        data: &DataDeviceUserData,
        dh: &DisplayHandle,
        data_init: &mut DataInit<'_, D>,
    ) {
        let used = match &request {
            wl_data_device::Request::SetSelection {
                source: Some(source),
                ..
            } => Some((source, Use::Selection)),
            wl_data_device::Request::StartDrag {
                source: Some(source),
                ..
            } => Some((source, Use::Drag)),
            _ => None,
        };
        if let wl_data_device::Request::SetSelection { source, .. } = &request {
            state
                .selection_guard()
                .selection_requested(source.as_ref().map(Resource::id));
        }
        if let Some((source, use_)) = used {
            match state.selection_guard().data_device_use(source.id(), use_) {
                Ok(()) => {}
                Err(DeviceRefusal::UsedSource(message)) => {
                    device.post_error(wl_data_device::Error::UsedSource, message);
                    return;
                }
                Err(DeviceRefusal::DndSourceAsSelection(message)) => {
                    source.post_error(wl_data_source::Error::InvalidSource, message);
                    return;
                }
            }
        }
        <DataDeviceState as Dispatch<WlDataDevice, DataDeviceUserData, D>>::request(
            state, client, device, request, data, dh, data_init,
        )
    }

    fn destroyed(
        state: &mut D,
        client: ClientId,
        device: &WlDataDevice,
        data: &DataDeviceUserData,
    ) {
        <DataDeviceState as Dispatch<WlDataDevice, DataDeviceUserData, D>>::destroyed(
            state, client, device, data,
        )
    }
}

impl<D> Dispatch<ZwpPrimarySelectionDeviceV1, PrimaryDeviceUserData, D> for SelectionGuard
where
    D: Dispatch<ZwpPrimarySelectionDeviceV1, PrimaryDeviceUserData> + SelectionHandler,
    D: SeatHandler + SelectionGuardState,
    <D as SeatHandler>::KeyboardFocus: WaylandFocus,
    D: 'static,
{
    fn request(
        state: &mut D,
        client: &Client,
        device: &ZwpPrimarySelectionDeviceV1,
        request: zwp_primary_selection_device_v1::Request,
        data: &PrimaryDeviceUserData,
        dh: &DisplayHandle,
        data_init: &mut DataInit<'_, D>,
    ) {
        // The protocol defines no errors; the guard only notes the source, to follow its death.
        if let zwp_primary_selection_device_v1::Request::SetSelection { source, .. } = &request {
            let guard = state.selection_guard();
            guard.selection_requested(source.as_ref().map(Resource::id));
            if let Some(source) = source {
                guard.control_use(source.id(), Target::Primary);
            }
        }
        <PrimarySelectionState as Dispatch<ZwpPrimarySelectionDeviceV1, PrimaryDeviceUserData, D>>::request(
            state, client, device, request, data, dh, data_init,
        )
    }

    fn destroyed(
        state: &mut D,
        client: ClientId,
        device: &ZwpPrimarySelectionDeviceV1,
        data: &PrimaryDeviceUserData,
    ) {
        <PrimarySelectionState as Dispatch<ZwpPrimarySelectionDeviceV1, PrimaryDeviceUserData, D>>::destroyed(
            state, client, device, data,
        )
    }
}

impl<D> Dispatch<ZwpPrimarySelectionSourceV1, PrimarySourceUserData, D> for SelectionGuard
where
    D: Dispatch<ZwpPrimarySelectionSourceV1, PrimarySourceUserData> + PrimarySelectionHandler,
    D: SelectionGuardState + 'static,
{
    fn request(
        state: &mut D,
        client: &Client,
        source: &ZwpPrimarySelectionSourceV1,
        request: <ZwpPrimarySelectionSourceV1 as Resource>::Request,
        data: &PrimarySourceUserData,
        dh: &DisplayHandle,
        data_init: &mut DataInit<'_, D>,
    ) {
        <PrimarySelectionState as Dispatch<ZwpPrimarySelectionSourceV1, PrimarySourceUserData, D>>::request(
            state, client, source, request, data, dh, data_init,
        )
    }

    fn destroyed(
        state: &mut D,
        client: ClientId,
        source: &ZwpPrimarySelectionSourceV1,
        data: &PrimarySourceUserData,
    ) {
        state.selection_guard().source_destroyed(&source.id());
        <PrimarySelectionState as Dispatch<ZwpPrimarySelectionSourceV1, PrimarySourceUserData, D>>::destroyed(
            state, client, source, data,
        )
    }
}

/// The guards of the two data-control protocols, which have the same shape: a device whose
/// set_selection/set_primary_selection may not reuse a source (`used_source`, where the device's
/// version has it), a source that may not offer after it was given to a device (`invalid_offer`).
macro_rules! data_control_guard {
    (
        $device:ident, $device_data:ident, $device_mod:ident,
        $source:ident, $source_data:ident, $source_mod:ident,
        $state:ident, $handler:ident, used_source_since: $since:expr
    ) => {
        impl<D> Dispatch<$device, $device_data, D> for SelectionGuard
        where
            D: Dispatch<$device, $device_data> + $handler,
            D: SelectionGuardState + 'static,
        {
            fn request(
                state: &mut D,
                client: &Client,
                device: &$device,
                request: $device_mod::Request,
                data: &$device_data,
                dh: &DisplayHandle,
                data_init: &mut DataInit<'_, D>,
            ) {
                let (source, target) = match &request {
                    $device_mod::Request::SetSelection { source } => {
                        (source.as_ref(), Target::Clipboard)
                    }
                    $device_mod::Request::SetPrimarySelection { source } => {
                        (source.as_ref(), Target::Primary)
                    }
                    _ => (None, Target::Clipboard),
                };
                state
                    .selection_guard()
                    .selection_requested(source.map(Resource::id));
                if let Some(source) = source {
                    // Before the version with used_source, reusing a source just sets it again.
                    if !state.selection_guard().control_use(source.id(), target)
                        && device.version() >= $since
                    {
                        device.post_error(
                            $device_mod::Error::UsedSource,
                            "this source was given to a selection before",
                        );
                        return;
                    }
                }
                <$state as Dispatch<$device, $device_data, D>>::request(
                    state, client, device, request, data, dh, data_init,
                )
            }

            fn destroyed(state: &mut D, client: ClientId, device: &$device, data: &$device_data) {
                <$state as Dispatch<$device, $device_data, D>>::destroyed(
                    state, client, device, data,
                )
            }
        }

        impl<D> Dispatch<$source, $source_data, D> for SelectionGuard
        where
            D: Dispatch<$source, $source_data> + $handler,
            D: SelectionGuardState + 'static,
        {
            fn request(
                state: &mut D,
                client: &Client,
                source: &$source,
                request: $source_mod::Request,
                data: &$source_data,
                dh: &DisplayHandle,
                data_init: &mut DataInit<'_, D>,
            ) {
                if matches!(request, $source_mod::Request::Offer { .. })
                    && state.selection_guard().is_used(&source.id())
                {
                    source.post_error(
                        $source_mod::Error::InvalidOffer,
                        "offer after the source was given to set_selection",
                    );
                    return;
                }
                <$state as Dispatch<$source, $source_data, D>>::request(
                    state, client, source, request, data, dh, data_init,
                )
            }

            fn destroyed(state: &mut D, client: ClientId, source: &$source, data: &$source_data) {
                state.selection_guard().source_destroyed(&source.id());
                <$state as Dispatch<$source, $source_data, D>>::destroyed(
                    state, client, source, data,
                )
            }
        }
    };
}

data_control_guard!(
    ZwlrDataControlDeviceV1, DataControlDeviceUserData, zwlr_data_control_device_v1,
    ZwlrDataControlSourceV1, DataControlSourceUserData, zwlr_data_control_source_v1,
    DataControlState, DataControlHandler, used_source_since: 2
);
data_control_guard!(
    ExtDataControlDeviceV1, ExtDataControlDeviceUserData, ext_data_control_device_v1,
    ExtDataControlSourceV1, ExtDataControlSourceUserData, ext_data_control_source_v1,
    ExtDataControlState, ExtDataControlHandler, used_source_since: 1
);

/// Like smithay's `delegate_data_device!`, `delegate_primary_selection!`,
/// `delegate_data_control!` and `delegate_ext_data_control!` together, with every source and
/// device routed through [`SelectionGuard`].
#[macro_export]
macro_rules! delegate_selection_guarded {
    ($ty: ty) => {
        smithay::reexports::wayland_server::delegate_global_dispatch!($ty: [
            smithay::reexports::wayland_server::protocol::wl_data_device_manager::WlDataDeviceManager: ()
        ] => smithay::wayland::selection::data_device::DataDeviceState);
        smithay::reexports::wayland_server::delegate_dispatch!($ty: [
            smithay::reexports::wayland_server::protocol::wl_data_device_manager::WlDataDeviceManager: ()
        ] => smithay::wayland::selection::data_device::DataDeviceState);
        smithay::reexports::wayland_server::delegate_dispatch!($ty: [
            smithay::reexports::wayland_server::protocol::wl_data_device::WlDataDevice: smithay::wayland::selection::data_device::DataDeviceUserData
        ] => $crate::selection_guard::SelectionGuard);
        smithay::reexports::wayland_server::delegate_dispatch!($ty: [
            smithay::reexports::wayland_server::protocol::wl_data_source::WlDataSource: smithay::wayland::selection::data_device::DataSourceUserData
        ] => $crate::selection_guard::SelectionGuard);

        smithay::reexports::wayland_server::delegate_global_dispatch!($ty: [
            smithay::reexports::wayland_protocols::wp::primary_selection::zv1::server::zwp_primary_selection_device_manager_v1::ZwpPrimarySelectionDeviceManagerV1: smithay::wayland::selection::primary_selection::PrimaryDeviceManagerGlobalData
        ] => smithay::wayland::selection::primary_selection::PrimarySelectionState);
        smithay::reexports::wayland_server::delegate_dispatch!($ty: [
            smithay::reexports::wayland_protocols::wp::primary_selection::zv1::server::zwp_primary_selection_device_manager_v1::ZwpPrimarySelectionDeviceManagerV1: ()
        ] => smithay::wayland::selection::primary_selection::PrimarySelectionState);
        smithay::reexports::wayland_server::delegate_dispatch!($ty: [
            smithay::reexports::wayland_protocols::wp::primary_selection::zv1::server::zwp_primary_selection_device_v1::ZwpPrimarySelectionDeviceV1: smithay::wayland::selection::primary_selection::PrimaryDeviceUserData
        ] => $crate::selection_guard::SelectionGuard);
        smithay::reexports::wayland_server::delegate_dispatch!($ty: [
            smithay::reexports::wayland_protocols::wp::primary_selection::zv1::server::zwp_primary_selection_source_v1::ZwpPrimarySelectionSourceV1: smithay::wayland::selection::primary_selection::PrimarySourceUserData
        ] => $crate::selection_guard::SelectionGuard);

        smithay::reexports::wayland_server::delegate_global_dispatch!($ty: [
            smithay::reexports::wayland_protocols_wlr::data_control::v1::server::zwlr_data_control_manager_v1::ZwlrDataControlManagerV1: smithay::wayland::selection::wlr_data_control::DataControlManagerGlobalData
        ] => smithay::wayland::selection::wlr_data_control::DataControlState);
        smithay::reexports::wayland_server::delegate_dispatch!($ty: [
            smithay::reexports::wayland_protocols_wlr::data_control::v1::server::zwlr_data_control_manager_v1::ZwlrDataControlManagerV1: smithay::wayland::selection::wlr_data_control::DataControlManagerUserData
        ] => smithay::wayland::selection::wlr_data_control::DataControlState);
        smithay::reexports::wayland_server::delegate_dispatch!($ty: [
            smithay::reexports::wayland_protocols_wlr::data_control::v1::server::zwlr_data_control_device_v1::ZwlrDataControlDeviceV1: smithay::wayland::selection::wlr_data_control::DataControlDeviceUserData
        ] => $crate::selection_guard::SelectionGuard);
        smithay::reexports::wayland_server::delegate_dispatch!($ty: [
            smithay::reexports::wayland_protocols_wlr::data_control::v1::server::zwlr_data_control_source_v1::ZwlrDataControlSourceV1: smithay::wayland::selection::wlr_data_control::DataControlSourceUserData
        ] => $crate::selection_guard::SelectionGuard);

        smithay::reexports::wayland_server::delegate_global_dispatch!($ty: [
            smithay::reexports::wayland_protocols::ext::data_control::v1::server::ext_data_control_manager_v1::ExtDataControlManagerV1: smithay::wayland::selection::ext_data_control::ExtDataControlManagerGlobalData
        ] => smithay::wayland::selection::ext_data_control::DataControlState);
        smithay::reexports::wayland_server::delegate_dispatch!($ty: [
            smithay::reexports::wayland_protocols::ext::data_control::v1::server::ext_data_control_manager_v1::ExtDataControlManagerV1: smithay::wayland::selection::ext_data_control::ExtDataControlManagerUserData
        ] => smithay::wayland::selection::ext_data_control::DataControlState);
        smithay::reexports::wayland_server::delegate_dispatch!($ty: [
            smithay::reexports::wayland_protocols::ext::data_control::v1::server::ext_data_control_device_v1::ExtDataControlDeviceV1: smithay::wayland::selection::ext_data_control::ExtDataControlDeviceUserData
        ] => $crate::selection_guard::SelectionGuard);
        smithay::reexports::wayland_server::delegate_dispatch!($ty: [
            smithay::reexports::wayland_protocols::ext::data_control::v1::server::ext_data_control_source_v1::ExtDataControlSourceV1: smithay::wayland::selection::ext_data_control::ExtDataControlSourceUserData
        ] => $crate::selection_guard::SelectionGuard);
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use smithay::reexports::wayland_server::backend::ObjectId;

    fn id() -> ObjectId {
        // Null ids compare equal; the guard's tables are keyed by id, so each test uses one source.
        ObjectId::null()
    }

    #[test]
    fn actions_outside_the_enum_are_an_invalid_mask() {
        let mut g = SelectionGuardData::default();
        let e = g.set_actions(id(), Some(0b1000)).unwrap_err();
        assert_eq!(e.error, wl_data_source::Error::InvalidActionMask);
        let e = g.set_actions(id(), None).unwrap_err();
        assert_eq!(e.error, wl_data_source::Error::InvalidActionMask);
    }

    #[test]
    fn actions_once_and_before_use() {
        let mut g = SelectionGuardData::default();
        assert!(g.set_actions(id(), Some(1)).is_ok());
        let e = g.set_actions(id(), Some(1)).unwrap_err();
        assert_eq!(e.error, wl_data_source::Error::InvalidSource);

        let mut g = SelectionGuardData::default();
        assert!(g.data_device_use(id(), Use::Drag).is_ok());
        let e = g.set_actions(id(), Some(1)).unwrap_err();
        assert_eq!(e.error, wl_data_source::Error::InvalidSource);
    }

    #[test]
    fn a_source_serves_once_and_a_dnd_source_is_no_selection() {
        let mut g = SelectionGuardData::default();
        assert!(g.data_device_use(id(), Use::Selection).is_ok());
        assert!(matches!(
            g.data_device_use(id(), Use::Drag),
            Err(DeviceRefusal::UsedSource(_))
        ));

        let mut g = SelectionGuardData::default();
        assert!(g.set_actions(id(), Some(1)).is_ok());
        assert!(matches!(
            g.data_device_use(id(), Use::Selection),
            Err(DeviceRefusal::DndSourceAsSelection(_))
        ));
        assert!(g.data_device_use(id(), Use::Drag).is_ok());
    }

    #[test]
    fn the_current_selection_set_again_is_no_reuse() {
        let mut g = SelectionGuardData::default();
        g.selection_requested(Some(id()));
        assert!(g.data_device_use(id(), Use::Selection).is_ok());
        g.selection_changed(Target::Clipboard, true);
        assert!(g.data_device_use(id(), Use::Selection).is_ok());
        assert!(g.data_device_use(id(), Use::Drag).is_err());
        assert!(g.control_use(id(), Target::Clipboard));
        assert!(!g.control_use(id(), Target::Primary));
    }

    #[test]
    fn only_the_current_selection_source_dying_is_reported() {
        let mut g = SelectionGuardData::default();
        // A drag source, and a selection request smithay refused (no new_selection): not current.
        assert!(g.data_device_use(id(), Use::Drag).is_ok());
        g.selection_requested(Some(id()));
        g.source_destroyed(&id());
        assert!(!g.take_gone(Target::Clipboard));

        g.selection_requested(Some(id()));
        g.selection_changed(Target::Primary, true);
        g.source_destroyed(&id());
        assert!(g.take_gone(Target::Primary));
        assert!(!g.take_gone(Target::Primary));
        assert!(!g.take_gone(Target::Clipboard));

        // Replaced by an unset: its death no longer matters.
        g.selection_requested(Some(id()));
        g.selection_changed(Target::Clipboard, true);
        g.selection_requested(None);
        g.selection_changed(Target::Clipboard, false);
        g.source_destroyed(&id());
        assert!(!g.take_gone(Target::Clipboard));
    }
}
