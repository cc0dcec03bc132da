//! What introspection says of the buffer a surface shows (wl_shm, single-pixel or dma-buf).

use serde::Serialize;

/// The buffer a surface currently shows, as introspection reports it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct BufferInfo {
    pub kind: &'static str,
    pub width: i32,
    pub height: i32,
    /// DRM fourcc as four characters ("AR24", "XR24", ...).
    pub format: String,
    pub modifier: Option<String>,
    pub planes: u32,
}
