//! The session protocols' client side, recorded as text: security contexts, activation, the
//! foreign-toplevel list, shortcut inhibitors, text input and input methods, virtual keyboards,
//! fractional scale, cursor shapes and ext image-copy capture. Each object is made with a [`Log`] as its user data and
//! every event it receives is appended as `"<interface> <event as Debug>"`, so tests assert on
//! what a real client of these protocols would see.

use std::sync::{Arc, Mutex};

use wayland_client::{Connection, Dispatch, Proxy, QueueHandle};
use wayland_protocols::ext::foreign_toplevel_list::v1::client::{
    ext_foreign_toplevel_handle_v1, ext_foreign_toplevel_list_v1,
};
use wayland_protocols::ext::image_capture_source::v1::client::{
    ext_foreign_toplevel_image_capture_source_manager_v1, ext_image_capture_source_v1,
    ext_output_image_capture_source_manager_v1,
};
use wayland_protocols::ext::image_copy_capture::v1::client::{
    ext_image_copy_capture_cursor_session_v1, ext_image_copy_capture_frame_v1,
    ext_image_copy_capture_manager_v1, ext_image_copy_capture_session_v1,
};
use wayland_protocols::wp::cursor_shape::v1::client::{
    wp_cursor_shape_device_v1, wp_cursor_shape_manager_v1,
};
use wayland_protocols::wp::fractional_scale::v1::client::{
    wp_fractional_scale_manager_v1, wp_fractional_scale_v1,
};
use wayland_protocols::wp::keyboard_shortcuts_inhibit::zv1::client::{
    zwp_keyboard_shortcuts_inhibit_manager_v1, zwp_keyboard_shortcuts_inhibitor_v1,
};
use wayland_protocols::wp::security_context::v1::client::{
    wp_security_context_manager_v1, wp_security_context_v1,
};
use wayland_protocols::wp::text_input::zv3::client::{
    zwp_text_input_manager_v3, zwp_text_input_v3,
};
use wayland_protocols::xdg::activation::v1::client::{xdg_activation_token_v1, xdg_activation_v1};
use wayland_protocols_misc::zwp_input_method_v2::client::{
    zwp_input_method_manager_v2, zwp_input_method_v2, zwp_input_popup_surface_v2,
};
use wayland_protocols_misc::zwp_virtual_keyboard_v1::client::{
    zwp_virtual_keyboard_manager_v1, zwp_virtual_keyboard_v1,
};

use crate::client::State;

/// The events a client's session objects received, in order (shared by the objects made with it),
/// and the logs of the objects the compositor made for them (foreign-toplevel handles).
#[derive(Clone, Default)]
pub struct Log {
    lines: Arc<Mutex<Vec<String>>>,
    children: Arc<Mutex<Vec<Log>>>,
    /// The foreign-toplevel handles a list announced, in order (parallel to `children`).
    toplevels: Arc<Mutex<Vec<ext_foreign_toplevel_handle_v1::ExtForeignToplevelHandleV1>>>,
}

impl Log {
    pub fn push(&self, line: String) {
        self.lines
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(line);
    }

    /// Everything received so far: this log's lines, then each child's in the order they came.
    pub fn lines(&self) -> Vec<String> {
        let mut all = self.lines.lock().unwrap_or_else(|p| p.into_inner()).clone();
        for child in self
            .children
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            all.extend(child.lines());
        }
        all
    }

    /// The foreign-toplevel handles a list announced, in order (each with its log among
    /// [`Self::children`], at the same index).
    pub fn toplevels(&self) -> Vec<ext_foreign_toplevel_handle_v1::ExtForeignToplevelHandleV1> {
        self.toplevels
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The logs of the objects the compositor made (one per foreign toplevel), in order.
    pub fn children(&self) -> Vec<Log> {
        self.children
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Whether any line starts with `prefix`.
    pub fn has(&self, prefix: &str) -> bool {
        self.lines().iter().any(|l| l.starts_with(prefix))
    }

    /// How many lines start with `prefix`.
    pub fn count(&self, prefix: &str) -> usize {
        self.lines()
            .iter()
            .filter(|l| l.starts_with(prefix))
            .count()
    }
}

macro_rules! record {
    ($($module:ident :: $iface:ident),* $(,)?) => {$(
        impl Dispatch<$module::$iface, Log> for State {
            fn event(
                _: &mut Self,
                proxy: &$module::$iface,
                event: $module::Event,
                log: &Log,
                _: &Connection,
                _: &QueueHandle<Self>,
            ) {
                log.push(format!("{} {:?}", proxy.id().interface().name, event));
            }
        }
    )*};
}

record!(
    wp_security_context_manager_v1::WpSecurityContextManagerV1,
    wp_security_context_v1::WpSecurityContextV1,
    xdg_activation_v1::XdgActivationV1,
    xdg_activation_token_v1::XdgActivationTokenV1,
    ext_foreign_toplevel_handle_v1::ExtForeignToplevelHandleV1,
    zwp_keyboard_shortcuts_inhibit_manager_v1::ZwpKeyboardShortcutsInhibitManagerV1,
    zwp_keyboard_shortcuts_inhibitor_v1::ZwpKeyboardShortcutsInhibitorV1,
    zwp_text_input_manager_v3::ZwpTextInputManagerV3,
    zwp_text_input_v3::ZwpTextInputV3,
    zwp_input_method_manager_v2::ZwpInputMethodManagerV2,
    zwp_input_method_v2::ZwpInputMethodV2,
    zwp_input_popup_surface_v2::ZwpInputPopupSurfaceV2,
    zwp_virtual_keyboard_manager_v1::ZwpVirtualKeyboardManagerV1,
    zwp_virtual_keyboard_v1::ZwpVirtualKeyboardV1,
    wp_fractional_scale_manager_v1::WpFractionalScaleManagerV1,
    wp_fractional_scale_v1::WpFractionalScaleV1,
    wp_cursor_shape_manager_v1::WpCursorShapeManagerV1,
    wp_cursor_shape_device_v1::WpCursorShapeDeviceV1,
    ext_image_copy_capture_manager_v1::ExtImageCopyCaptureManagerV1,
    ext_image_copy_capture_session_v1::ExtImageCopyCaptureSessionV1,
    ext_image_copy_capture_frame_v1::ExtImageCopyCaptureFrameV1,
    ext_image_copy_capture_cursor_session_v1::ExtImageCopyCaptureCursorSessionV1,
    ext_output_image_capture_source_manager_v1::ExtOutputImageCaptureSourceManagerV1,
    ext_foreign_toplevel_image_capture_source_manager_v1::ExtForeignToplevelImageCaptureSourceManagerV1,
    ext_image_capture_source_v1::ExtImageCaptureSourceV1,
);

impl Dispatch<ext_foreign_toplevel_list_v1::ExtForeignToplevelListV1, Log> for State {
    fn event(
        _: &mut Self,
        proxy: &ext_foreign_toplevel_list_v1::ExtForeignToplevelListV1,
        event: ext_foreign_toplevel_list_v1::Event,
        log: &Log,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let ext_foreign_toplevel_list_v1::Event::Toplevel { toplevel } = &event {
            if let Some(child) = toplevel.data::<Log>() {
                log.children
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(child.clone());
                log.toplevels
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(toplevel.clone());
            }
        }
        log.push(format!("{} {:?}", proxy.id().interface().name, event));
    }

    wayland_client::event_created_child!(State, ext_foreign_toplevel_list_v1::ExtForeignToplevelListV1, [
        ext_foreign_toplevel_list_v1::EVT_TOPLEVEL_OPCODE => (ext_foreign_toplevel_handle_v1::ExtForeignToplevelHandleV1, Log::default()),
    ]);
}
