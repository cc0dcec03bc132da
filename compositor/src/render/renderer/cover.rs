//! What covers a damage rectangle: the topmost item that hides everything under it there, and how
//! that rectangle is then filled — copied from the item's texture, cleared to its colour, or drawn
//! with no clear — so that neither the items below nor the background cost anything. On a CPU
//! render device a copy of an unscaled opaque surface is a row-by-row memcpy where a draw is a
//! filtered shader invocation per pixel.

use std::sync::Arc;

use ash::vk;

use super::TARGET_FORMAT;
use crate::render::draw::{DrawItem, Fill, Rect};
use crate::render::planar::PlanarSource;
use crate::render::texture::Texture;

/// How a damage rectangle starts.
pub(super) enum Cover {
    /// Nothing covers it: cleared to the background, every overlapping item drawn.
    None,
    /// Item `index` is an opaque colour over all of it: cleared to that, items above drawn.
    Clear { index: usize, color: [f32; 4] },
    /// Item `index` is an unscaled opaque texture over all of it: its texels at `src` copied, items
    /// above drawn.
    Copy {
        index: usize,
        texture: Arc<Texture>,
        src: vk::Offset2D,
    },
    /// Item `index` is an unscaled opaque planar source whose memory is the target's own layout
    /// (XRGB8888 bytes are B8G8R8A8 texels): its rows copied from the buffer, items above drawn.
    CopyBuffer {
        index: usize,
        source: Arc<PlanarSource>,
        region: vk::BufferImageCopy,
    },
    /// Item `index` is opaque over all of it but must be drawn (scaled, another format): drawn
    /// with no clear, items above drawn.
    Draw { index: usize },
}

impl Cover {
    /// The first item drawn in the rectangle (the ones before are hidden).
    pub(super) fn first_drawn(&self) -> usize {
        match self {
            Cover::None => 0,
            Cover::Clear { index, .. }
            | Cover::Copy { index, .. }
            | Cover::CopyBuffer { index, .. } => index + 1,
            Cover::Draw { index } => *index,
        }
    }
}

/// The cover of `rect` among `items` (back to front).
pub(super) fn cover(items: &[DrawItem], rect: &vk::Rect2D) -> Cover {
    for (index, item) in items.iter().enumerate().rev() {
        if !overlaps(&item.dst, rect) {
            continue;
        }
        if !contains(&item.dst, rect) || item.alpha < 1.0 {
            // Drawn over whatever is below: keep looking for a cover under it.
            continue;
        }
        match &item.fill {
            Fill::Solid(c) if c[3] >= 1.0 => return Cover::Clear { index, color: *c },
            Fill::Texture {
                texture,
                src,
                opaque: true,
            } if texture.is_initialized() => {
                let unscaled = src.w == item.dst.w && src.h == item.dst.h;
                let whole = [src.x, src.y, item.dst.x, item.dst.y]
                    .iter()
                    .all(|v| v.fract() == 0.0);
                let x = src.x + (rect.offset.x as f32 - item.dst.x);
                let y = src.y + (rect.offset.y as f32 - item.dst.y);
                let inside = x >= 0.0
                    && y >= 0.0
                    && x + rect.extent.width as f32 <= texture.width() as f32
                    && y + rect.extent.height as f32 <= texture.height() as f32;
                if unscaled
                    && whole
                    && inside
                    && item.orient.is_identity()
                    && !texture.is_imported()
                    && texture.format() == TARGET_FORMAT
                {
                    return Cover::Copy {
                        index,
                        texture: texture.clone(),
                        src: vk::Offset2D {
                            x: x as i32,
                            y: y as i32,
                        },
                    };
                }
                return Cover::Draw { index };
            }
            Fill::Planar { source, src, .. } if source.layout.opaque => {
                let x = src.x + (rect.offset.x as f32 - item.dst.x);
                let y = src.y + (rect.offset.y as f32 - item.dst.y);
                let unscaled = src.w == item.dst.w && src.h == item.dst.h;
                let whole = [x, y].iter().all(|v| v.fract() == 0.0 && *v >= 0.0);
                let region = (unscaled && whole && item.orient.is_identity())
                    .then(|| source.copy_region(x as u32, y as u32, rect.extent))
                    .flatten();
                return match region {
                    Some(region) => Cover::CopyBuffer {
                        index,
                        source: source.clone(),
                        region: vk::BufferImageCopy {
                            image_offset: vk::Offset3D {
                                x: rect.offset.x,
                                y: rect.offset.y,
                                z: 0,
                            },
                            ..region
                        },
                    },
                    None => Cover::Draw { index },
                };
            }
            _ => {}
        }
    }
    Cover::None
}

/// Whether `r` (output pixels, fractional) touches the pixels of `rect`.
pub(super) fn overlaps(r: &Rect, rect: &vk::Rect2D) -> bool {
    let (x0, y0, x1, y1) = bounds(rect);
    r.x < x1 && r.x + r.w > x0 && r.y < y1 && r.y + r.h > y0
}

/// Whether `r` covers every pixel of `rect`.
fn contains(r: &Rect, rect: &vk::Rect2D) -> bool {
    let (x0, y0, x1, y1) = bounds(rect);
    r.w > 0.0 && r.h > 0.0 && r.x <= x0 && r.y <= y0 && r.x + r.w >= x1 && r.y + r.h >= y1
}

fn bounds(rect: &vk::Rect2D) -> (f32, f32, f32, f32) {
    let (x0, y0) = (rect.offset.x as f32, rect.offset.y as f32);
    (
        x0,
        y0,
        x0 + rect.extent.width as f32,
        y0 + rect.extent.height as f32,
    )
}
