//! The scene of an output: every mapped window's surface tree (subsurfaces in stacking order) and
//! its popups, back to front, as renderer draw items.

use smithay::backend::renderer::utils::RendererSurfaceStateUserData;
use smithay::desktop::{PopupManager, Window};
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::utils::{Logical, Point, Rectangle};
use smithay::wayland::compositor::{with_surface_tree_upward, TraversalAction};

use crate::devices::DeviceId;
use crate::import::cache::Drawable;
use crate::render::{DrawItem, Fill, Rect, YuvParams};
use crate::state::Weft;
use crate::surface::with_content;

/// A surface drawn in a frame (for frame callbacks and presentation feedback).
pub struct Drawn {
    pub surface: WlSurface,
    pub zero_copy: bool,
}

impl Weft {
    /// Draw items for the output at `index`, plus every surface of every window shown on it.
    pub fn scene(&self, index: usize) -> (Vec<DrawItem>, Vec<WlSurface>) {
        let Some(slot) = self.outputs.get(index) else {
            return (Vec::new(), Vec::new());
        };
        let out_geo = self
            .space
            .output_geometry(&slot.output)
            .unwrap_or_else(|| Rectangle::from_size(slot.logical_size()));
        let mut items = Vec::new();
        let mut surfaces = Vec::new();
        let yuv = self.importer.policy.yuv;
        // The first render device's content is the surface's own; a secondary device's is its view.
        let device = slot
            .device
            .and_then(|i| self.secondaries.get(i))
            .map(|s| &s.id);
        for window in self.space.elements() {
            let Some(loc) = self.space.element_location(window) else {
                continue;
            };
            let Some(toplevel) = window.toplevel() else {
                continue;
            };
            // The surface tree's origin: the element location is that of the window geometry.
            let origin = loc - window.geometry().loc - out_geo.loc;
            push_tree(
                toplevel.wl_surface(),
                origin,
                (yuv, device),
                &mut items,
                &mut surfaces,
            );
            push_popups(
                window,
                toplevel.wl_surface(),
                origin,
                (yuv, device),
                &mut items,
                &mut surfaces,
            );
        }
        (items, surfaces)
    }
}

/// How content is drawn: the Y′CbCr conversion, and which render device's content (`None`: the
/// first device's).
type DrawWith<'a> = (YuvParams, Option<&'a DeviceId>);

fn push_popups(
    window: &Window,
    root: &WlSurface,
    origin: Point<i32, Logical>,
    with: DrawWith<'_>,
    items: &mut Vec<DrawItem>,
    surfaces: &mut Vec<WlSurface>,
) {
    for (popup, offset) in PopupManager::popups_for_surface(root) {
        let at = origin + window.geometry().loc + offset - popup.geometry().loc;
        push_tree(popup.wl_surface(), at, with, items, surfaces);
    }
}

/// Appends the quads of `root`'s tree, back to front, with `origin` as the root's top-left corner.
fn push_tree(
    root: &WlSurface,
    origin: Point<i32, Logical>,
    (yuv, device): DrawWith<'_>,
    items: &mut Vec<DrawItem>,
    surfaces: &mut Vec<WlSurface>,
) {
    // "upward" walks each level in stacking order, bottom first: back to front.
    with_surface_tree_upward(
        root,
        origin,
        |_, states, loc| {
            let Some(rs) = states.data_map.get::<RendererSurfaceStateUserData>() else {
                return TraversalAction::SkipChildren;
            };
            let rs = rs.lock().unwrap_or_else(|p| p.into_inner());
            match rs.view() {
                // A subsurface's offset is relative to its parent.
                Some(view) => TraversalAction::DoChildren(*loc + view.offset),
                // An unmapped parent hides its children.
                None => TraversalAction::SkipChildren,
            }
        },
        |surface, states, loc| {
            let Some(rs) = states.data_map.get::<RendererSurfaceStateUserData>() else {
                return;
            };
            let rs = rs.lock().unwrap_or_else(|p| p.into_inner());
            let Some(view) = rs.view() else { return };
            let pos = *loc + view.offset;
            let scale = f64::from(rs.buffer_scale().max(1));
            let dst = Rect {
                x: pos.x as f32,
                y: pos.y as f32,
                w: view.dst.w as f32,
                h: view.dst.h as f32,
            };
            let item = with_content(states, |c| {
                if let Some(color) = c.solid {
                    return Some(DrawItem {
                        dst,
                        fill: Fill::Solid(color),
                        alpha: 1.0,
                    });
                }
                let mut src = Rect {
                    x: (view.src.loc.x * scale) as f32,
                    y: (view.src.loc.y * scale) as f32,
                    w: (view.src.size.w * scale) as f32,
                    h: (view.src.size.h * scale) as f32,
                };
                let (texture, import) = match device {
                    None => (c.texture.clone(), c.import.clone()),
                    Some(id) => c
                        .others
                        .iter()
                        .find(|(d, _)| d == id)
                        .map(|(_, v)| (v.texture.clone(), v.import.clone()))?,
                };
                let fill = match &import {
                    Some(import) => {
                        if import.y_invert {
                            // linux-dmabuf y_invert: row 0 in memory is the bottom row of the image.
                            src.y = import.info.height as f32 - src.y;
                            src.h = -src.h;
                        }
                        match &import.draw {
                            Drawable::Texture(texture) => Fill::Texture {
                                texture: texture.clone(),
                                src,
                                opaque: c.opaque,
                            },
                            Drawable::Planar(source) => Fill::Planar {
                                source: source.clone(),
                                src,
                                yuv,
                            },
                        }
                    }
                    None => Fill::Texture {
                        texture: texture?,
                        src,
                        opaque: c.opaque,
                    },
                };
                Some(DrawItem {
                    dst,
                    fill,
                    alpha: 1.0,
                })
            });
            if let Some(item) = item {
                items.push(item);
            }
            surfaces.push(surface.clone());
        },
        |_, _, _| true,
    );
}
