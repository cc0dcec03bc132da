//! Ending a client with a `wl_display.error`, the protocol's way of saying why a connection ends
//! when no error of a more specific interface applies.

use smithay::reexports::wayland_server::backend::protocol::{Interface, ProtocolError};
use smithay::reexports::wayland_server::{Client, DisplayHandle};

/// wl_display's error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisplayError {
    /// "method doesn't exist on the specified interface or malformed request"
    InvalidMethod = 1,
    /// "server is out of memory"
    NoMemory = 2,
}

/// Sends `client` `wl_display.error(code, message)` on its display object and ends it.
pub fn display_error(dh: &DisplayHandle, client: &Client, code: DisplayError, message: &str) {
    // wayland-backend compares interfaces by name; the display is object 1 of every client.
    static WL_DISPLAY: Interface = Interface {
        name: "wl_display",
        version: 1,
        requests: &[],
        events: &[],
        c_ptr: None,
    };
    let handle = dh.backend_handle();
    match handle.object_for_protocol_id(client.id(), &WL_DISPLAY, 1) {
        Ok(display) => handle.post_error(
            display,
            code as u32,
            std::ffi::CString::new(message.replace('\0', " ")).unwrap_or_default(),
        ),
        // No display object (the client is already gone): end it all the same.
        Err(_) => client.kill(
            dh,
            ProtocolError {
                code: code as u32,
                object_id: 1,
                object_interface: "wl_display".into(),
                message: message.into(),
            },
        ),
    }
}
