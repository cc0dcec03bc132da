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

/// How a quad's source region lies on it: as is, or turned and mirrored (an output transform, a
/// client's buffer transform). For a corner `c` of the quad in 0..1 (x right, y down), the
/// source point sampled there is `src.xy + src.wh * q`, where `q` is `c` with x and y swapped
/// when `transpose`, then mirrored (`1 - q`) in x and y by `flip_x` and `flip_y`. The eight
/// combinations are the eight wl_output transforms.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Orient {
    pub transpose: bool,
    pub flip_x: bool,
    pub flip_y: bool,
}

impl Orient {
    /// The source region as the two corners the shaders interpolate between (`u0, v0, u1,
    /// v1`), the mirrors applied; [`Self::transpose`] goes to the shader.
    pub fn corners(self, src: &Rect) -> [f32; 4] {
        let (mut x0, mut x1) = (src.x, src.x + src.w);
        let (mut y0, mut y1) = (src.y, src.y + src.h);
        if self.flip_x {
            std::mem::swap(&mut x0, &mut x1);
        }
        if self.flip_y {
            std::mem::swap(&mut y0, &mut y1);
        }
        [x0, y0, x1, y1]
    }

    pub fn is_identity(self) -> bool {
        self == Self::default()
    }
}

/// One quad of a frame, drawn in list order (back to front).
#[derive(Clone)]
pub struct DrawItem {
    pub dst: Rect,
    pub fill: Fill,
    pub alpha: f32,
    /// How `fill`'s source region lies on `dst`.
    pub orient: Orient,
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
