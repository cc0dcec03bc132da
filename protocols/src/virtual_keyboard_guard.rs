//! zwp_virtual_keyboard_v1.no_keymap for each virtual keyboard on its own.
//!
//! smithay keeps one keymap per seat for every virtual keyboard of every client, so a keyboard
//! that never sent a keymap types with another client's, and `no_keymap` is raised only before
//! the first keymap anyone sent. The guard remembers which virtual keyboards sent a keymap and
//! raises `no_keymap` for a `key` or `modifiers` from one that did not, before smithay sees it.
//! (Two virtual keyboards with different keymaps still share smithay's per-seat state: the last
//! keymap sent is the one both type with.)

use std::collections::HashSet;

use smithay::input::SeatHandler;
use smithay::reexports::wayland_protocols_misc::zwp_virtual_keyboard_v1::server::zwp_virtual_keyboard_v1::{
    self, ZwpVirtualKeyboardV1,
};
use smithay::reexports::wayland_server::backend::ObjectId;
use smithay::reexports::wayland_server::{Client, DataInit, Dispatch, DisplayHandle, Resource};
use smithay::wayland::virtual_keyboard::{VirtualKeyboardManagerState, VirtualKeyboardUserData};

/// The virtual keyboards that sent a keymap (kept by the compositor state).
pub trait VirtualKeymaps {
    fn virtual_keymaps(&mut self) -> &mut HashSet<ObjectId>;
}

/// The guard: sees the requests first, then hands them to smithay.
pub struct VirtualKeyboardGuard;

impl<D> Dispatch<ZwpVirtualKeyboardV1, VirtualKeyboardUserData<D>, D> for VirtualKeyboardGuard
where
    D: Dispatch<ZwpVirtualKeyboardV1, VirtualKeyboardUserData<D>>
        + SeatHandler
        + VirtualKeymaps
        + 'static,
    VirtualKeyboardManagerState: Dispatch<ZwpVirtualKeyboardV1, VirtualKeyboardUserData<D>, D>,
{
    fn request(
        state: &mut D,
        client: &Client,
        keyboard: &ZwpVirtualKeyboardV1,
        request: zwp_virtual_keyboard_v1::Request,
        data: &VirtualKeyboardUserData<D>,
        dh: &DisplayHandle,
        data_init: &mut DataInit<'_, D>,
    ) {
        let id = keyboard.id();
        match &request {
            zwp_virtual_keyboard_v1::Request::Keymap { .. } => {
                state.virtual_keymaps().insert(id);
            }
            zwp_virtual_keyboard_v1::Request::Key { .. }
            | zwp_virtual_keyboard_v1::Request::Modifiers { .. }
                if !state.virtual_keymaps().contains(&id) =>
            {
                keyboard.post_error(
                    zwp_virtual_keyboard_v1::Error::NoKeymap,
                    "key or modifiers sent before this virtual keyboard's keymap",
                );
                return;
            }
            zwp_virtual_keyboard_v1::Request::Destroy => {
                state.virtual_keymaps().remove(&id);
            }
            _ => {}
        }
        <VirtualKeyboardManagerState as Dispatch<
            ZwpVirtualKeyboardV1,
            VirtualKeyboardUserData<D>,
            D,
        >>::request(state, client, keyboard, request, data, dh, data_init);
    }

    fn destroyed(
        state: &mut D,
        _client: smithay::reexports::wayland_server::backend::ClientId,
        keyboard: &ZwpVirtualKeyboardV1,
        _data: &VirtualKeyboardUserData<D>,
    ) {
        state.virtual_keymaps().remove(&keyboard.id());
    }
}

/// Delegates zwp_virtual_keyboard_v1 to smithay, the keyboards' requests through
/// [`VirtualKeyboardGuard`].
#[macro_export]
macro_rules! delegate_virtual_keyboard_guarded {
    ($ty: ty) => {
        smithay::reexports::wayland_server::delegate_global_dispatch!($ty: [
            smithay::reexports::wayland_protocols_misc::zwp_virtual_keyboard_v1::server::zwp_virtual_keyboard_manager_v1::ZwpVirtualKeyboardManagerV1: smithay::wayland::virtual_keyboard::VirtualKeyboardManagerGlobalData
        ] => smithay::wayland::virtual_keyboard::VirtualKeyboardManagerState);
        smithay::reexports::wayland_server::delegate_dispatch!($ty: [
            smithay::reexports::wayland_protocols_misc::zwp_virtual_keyboard_v1::server::zwp_virtual_keyboard_manager_v1::ZwpVirtualKeyboardManagerV1: ()
        ] => smithay::wayland::virtual_keyboard::VirtualKeyboardManagerState);
        smithay::reexports::wayland_server::delegate_dispatch!($ty: [
            smithay::reexports::wayland_protocols_misc::zwp_virtual_keyboard_v1::server::zwp_virtual_keyboard_v1::ZwpVirtualKeyboardV1: smithay::wayland::virtual_keyboard::VirtualKeyboardUserData<$ty>
        ] => $crate::virtual_keyboard_guard::VirtualKeyboardGuard);
    };
}
