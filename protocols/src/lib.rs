//! Protocol glue on smithay.
//!
//! smithay's protocol state machines do the work; where one of them deviates from the protocol text
//! (a request that would panic the compositor, an error raised with another code than the spec's),
//! a *guard* here sees the request first, raises the spec's error, and otherwise hands the request
//! to smithay unchanged. Each guard documents the rule it enforces. Where smithay's state is too
//! private for a guard (wp_viewporter), the protocol is implemented here on smithay's public
//! double-buffered state.

pub mod cursor_shape_guard;
pub mod decoration;
pub mod dmabuf_guard;
pub mod drm_format;
pub mod fractional_scale_guard;
pub mod in_formats;
pub mod layer_shell_guard;
pub mod security_context_guard;
pub mod selection_guard;
pub mod shm_guard;
pub mod shm_layout;
pub mod subsurface_guard;
pub mod surface_guard;
pub mod text_input_guard;
pub mod v4l2_abi;
pub mod viewporter;
pub mod virtual_keyboard_guard;
pub mod xdg_guard;

/// A spec error a guard raises: the error code (the interface's `Error` enum) and its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation<E> {
    pub error: E,
    pub message: String,
}

impl<E> Violation<E> {
    pub fn new(error: E, message: impl Into<String>) -> Self {
        Self {
            error,
            message: message.into(),
        }
    }
}
