//! What a frame draws: quads with their fill, back to front (built by the scene, read by the
//! renderer and by [`super::foreign`]).

use std::sync::Arc;

use super::planar::{PlanarSource, YuvParams};
use super::texture::Texture;

/// A rectangle in output pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rect {
    pub x: f32,
    pub y: f32,
    pub w: f32,
    pub h: f32,
}

/// What a quad is filled with.
#[derive(Clone)]
pub enum Fill {
    /// A texture; `src` is the sampled region in texels, `opaque` ignores the texture's alpha.
    Texture {
        texture: Arc<Texture>,
        src: Rect,
        opaque: bool,
    },
    /// A premultiplied RGBA colour.
    Solid([f32; 4]),
    /// A buffer the planar shader reads in place; `src` is in texels (`h < 0` flips vertically).
    Planar {
        source: Arc<PlanarSource>,
        src: Rect,
        yuv: YuvParams,
    },
}

/// One quad of a frame, drawn in list order (back to front).
#[derive(Clone)]
pub struct DrawItem {
    pub dst: Rect,
    pub fill: Fill,
    pub alpha: f32,
    /// Kept alive while a frame that draws the item is in flight: the client buffer a zero-copy
    /// fill reads in place, whose wl_buffer.release must wait until the GPU no longer reads it.
    pub hold: Option<Arc<dyn HeldBuffer>>,
}

/// A client buffer a frame reads, and how that frame synchronises with the buffer's producer
/// (`crate::sync`): the GPU waits for the acquire fence, and learns weft's read fence.
pub trait HeldBuffer {
    /// The acquire fence as a sync_file for the GPU to wait on, taken by the first frame that
    /// reads this commit's buffer (later frames are ordered after that one on the queue).
    fn take_acquire(&self) -> Option<std::os::fd::OwnedFd> {
        None
    }
    /// Whether the buffer takes weft's read fence (an implicitly synced dma-buf).
    fn wants_read_fence(&self) -> bool {
        false
    }
    /// The submission reading the buffer signals `done` (a sync_file) when it completes.
    fn read_by(&self, _done: std::os::fd::BorrowedFd<'_>) {}
}

/// Read fences for a device that exports none (`crate::sync::soft_fence`): a sync_file, and a
/// token that signals it when dropped (the ring drops it once the submission completed).
pub trait ReadFenceSource {
    fn make(&self) -> Option<(std::os::fd::OwnedFd, Box<dyn std::any::Any>)>;
}
