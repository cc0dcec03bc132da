//! The scene of an output: every mapped window's surface tree (subsurfaces in stacking order) and
//! its popups, back to front, between the layers below and above them (layer shell), then a
//! drag's icon at the pointer, as renderer draw items.

use smithay::backend::renderer::utils::RendererSurfaceStateUserData;
use smithay::desktop::{PopupManager, Window};
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::utils::{Logical, Point, Rectangle};
use smithay::wayland::compositor::{with_surface_tree_upward, TraversalAction};

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use smithay::backend::renderer::utils::{RendererSurfaceState, SurfaceView};
use smithay::utils::Buffer as BufferCoord;

use crate::damage::tracker::{Element, OutputDamage};
use crate::damage::OutputRect;
use crate::devices::DeviceId;
use crate::import::cache::Drawable;
use crate::render::{DrawItem, Fill, Rect, YuvParams};
use crate::seat::cursor::CursorDraw;
use crate::surface::{with_content, SurfaceContent};
use crate::Weft;

/// What an output shows: draw items back to front, each with its damage-tracking element, and
/// every surface of every window on it (for frame callbacks and presentation feedback).
#[derive(Default)]
pub struct Scene {
    pub items: Vec<DrawItem>,
    pub elements: Vec<Element>,
    /// The surface each item draws (parallel to `items`).
    pub item_surfaces: Vec<WlSurface>,
    pub surfaces: Vec<WlSurface>,
    /// The cursor, drawn over the rest (its items and their damage elements), kept apart so a
    /// display plane's candidate is what lies under it.
    pub cursor: Vec<DrawItem>,
    pub cursor_elements: Vec<Element>,
}

impl Scene {
    /// What is drawn of the scene without `surface`'s item (a display plane shows that surface
    /// instead): its items and elements, the rest shared.
    pub fn drawn_without(&self, surface: &WlSurface) -> Self {
        let keep = |i: &usize| self.item_surfaces.get(*i) != Some(surface);
        let indices: Vec<usize> = (0..self.items.len()).filter(keep).collect();
        Self {
            items: indices
                .iter()
                .filter_map(|i| self.items.get(*i).cloned())
                .collect(),
            elements: indices
                .iter()
                .filter_map(|i| self.elements.get(*i).cloned())
                .collect(),
            item_surfaces: indices
                .iter()
                .filter_map(|i| self.item_surfaces.get(*i).cloned())
                .collect(),
            surfaces: Vec::new(),
            cursor: self.cursor.clone(),
            cursor_elements: self.cursor_elements.clone(),
        }
    }

    /// Every item to draw, back to front, the cursor last; and their damage elements.
    pub fn drawn(&self) -> (Vec<DrawItem>, Vec<Element>) {
        if self.cursor.is_empty() {
            return (self.items.clone(), self.elements.clone());
        }
        let items = self.items.iter().chain(&self.cursor).cloned().collect();
        let elements = self
            .elements
            .iter()
            .chain(&self.cursor_elements)
            .cloned()
            .collect();
        (items, elements)
    }
}

/// The damage key of a themed cursor image (surface ids count up from 0 and never reach it).
const CURSOR_KEY: u64 = u64::MAX;

impl Weft {
    /// The scene of the output at `index`; elements carry their content damage since that output's
    /// last frame.
    pub fn scene(&self, index: usize) -> Scene {
        let Some(slot) = self.outputs.slots.get(index).filter(|s| s.enabled) else {
            return Scene::default();
        };
        let out_geo = self
            .shell
            .space
            .output_geometry(&slot.output)
            .unwrap_or_else(|| Rectangle::from_size(slot.logical_size()));
        let mut scene = Scene::default();
        let yuv = self.gpu.first().importer.policy.yuv;
        // The first render device's content is the surface's own; another device's is its view.
        let device = (slot.device != self.gpu.first().id).then_some(&slot.device);
        let with = (yuv, device, &slot.damage);
        // Locked: the locker's surface for this output and nothing else (crate::shell::session_lock).
        if self.lock.is_locked() {
            if let Some(lock) = self.lock.surface_on(&slot.output) {
                push_tree(lock.wl_surface(), Point::default(), with, &mut scene);
            }
            return scene;
        }
        // Background and bottom layers under the windows.
        for (layer, at) in self.layers_on(&slot.output, &crate::shell::layers::BELOW) {
            push_layer(&layer, at, with, &mut scene);
        }
        for window in self.shell.space.elements() {
            let Some(loc) = self.shell.space.element_location(window) else {
                continue;
            };
            // Only what this output shows: a window elsewhere gets its frame callbacks and
            // presentation feedback from the outputs it is on (with their clocks and flags).
            if self
                .shell
                .space
                .element_bbox(window)
                .is_some_and(|bbox| !bbox.overlaps(out_geo))
            {
                continue;
            }
            // An xdg toplevel's surface, or the one Xwayland shows an X11 window with.
            let Some(surface) = self.window_surface(window) else {
                continue;
            };
            // The surface tree's origin: the element location is that of the window geometry.
            let origin = loc - window.geometry().loc - out_geo.loc;
            push_tree(&surface, origin, (yuv, device, &slot.damage), &mut scene);
            push_popups(
                window,
                &surface,
                origin,
                (yuv, device, &slot.damage),
                &mut scene,
            );
        }
        // Top and overlay layers over them (overlay over fullscreen windows too).
        for (layer, at) in self.layers_on(&slot.output, &crate::shell::layers::ABOVE) {
            push_layer(&layer, at, with, &mut scene);
        }
        // A drag's icon, over everything, at the pointer.
        if let (Some((icon, offset)), Some(pointer)) = (
            self.input.data_transfer.drag_icon(),
            self.input.seat.get_pointer(),
        ) {
            let at = pointer.current_location().to_i32_round() + offset - out_geo.loc;
            push_tree(icon, at, (yuv, device, &slot.damage), &mut scene);
        }
        // The cursor, over everything, where this output shows one.
        if self.cursor_shown_on(index) {
            let address =
                std::sync::Arc::as_ptr(self.gpu.or_first(&slot.device).renderer.device()) as usize;
            if let Some((draw, at)) = self.cursor_drawable(address) {
                push_cursor(draw, at - out_geo.loc, with, &mut scene);
            }
        }
        scene.scale_to_pixels(slot.scale);
        scene.transform_to_pixels(slot.transform, slot.upright_pixels());
        scene
    }
}

impl Weft {
    /// `window` alone, its geometry's top-left at (0, 0), drawn by the first render device (a
    /// window capture, [`crate::capture::window`]).
    pub(crate) fn window_scene(&self, window: &Window) -> Scene {
        let mut scene = Scene::default();
        let Some(surface) = self.window_surface(window) else {
            return scene;
        };
        let tracker = OutputDamage::default();
        let with = (self.gpu.first().importer.policy.yuv, None, &tracker);
        let origin = Point::default() - window.geometry().loc;
        push_tree(&surface, origin, with, &mut scene);
        push_popups(window, &surface, origin, with, &mut scene);
        scene
    }

    /// The cursor image alone, its top-left at (0, 0), for the device at `device` (its address).
    pub(crate) fn cursor_scene(&self, device: usize) -> Option<Scene> {
        let (draw, _) = self.cursor_drawable(device)?;
        let tracker = OutputDamage::default();
        let with = (self.gpu.first().importer.policy.yuv, None, &tracker);
        let mut scene = Scene::default();
        push_cursor(draw, Point::default(), with, &mut scene);
        Some(scene)
    }
}

/// The cursor at `at` (output-local top-left) into `scene`'s cursor items: a client's surface
/// tree (which gets its frame callbacks like any shown surface), or a theme image.
fn push_cursor(draw: CursorDraw, at: Point<i32, Logical>, with: DrawWith<'_>, scene: &mut Scene) {
    match draw {
        CursorDraw::Surface(surface) => {
            let mut own = Scene::default();
            push_tree(&surface, at, with, &mut own);
            scene.cursor.extend(own.items);
            scene.cursor_elements.extend(own.elements);
            scene.surfaces.extend(own.surfaces);
        }
        CursorDraw::Texture {
            texture,
            image,
            icon,
        } => {
            let (w, h) = (image.width as i32, image.height as i32);
            let item = DrawItem {
                dst: Rect {
                    x: at.x as f32,
                    y: at.y as f32,
                    w: w as f32,
                    h: h as f32,
                },
                fill: Fill::Texture {
                    texture,
                    src: Rect {
                        x: 0.0,
                        y: 0.0,
                        w: w as f32,
                        h: h as f32,
                    },
                    opaque: false,
                },
                alpha: 1.0,
                orient: Default::default(),
                hold: None,
            };
            let mut shape = std::hash::DefaultHasher::new();
            icon.name().hash(&mut shape);
            let element = Element {
                key: CURSOR_KEY,
                dst: Rectangle::new((at.x, at.y).into(), (w, h).into()),
                look: look(&item) ^ shape.finish(),
                serial: 0,
                content: None,
            };
            scene.cursor.push(item);
            scene.cursor_elements.push(element);
        }
    }
}

/// How content is drawn: the Y′CbCr conversion, which render device's content (`None`: the
/// first device's), and the output's damage tracker (what it drew last).
type DrawWith<'a> = (YuvParams, Option<&'a DeviceId>, &'a OutputDamage);

fn push_popups(
    window: &Window,
    root: &WlSurface,
    origin: Point<i32, Logical>,
    with: DrawWith<'_>,
    scene: &mut Scene,
) {
    for (popup, offset) in PopupManager::popups_for_surface(root) {
        let at = origin + window.geometry().loc + offset - popup.geometry().loc;
        push_tree(popup.wl_surface(), at, with, scene);
    }
}

/// A layer surface at `at` (output-local) and its popups.
fn push_layer(
    layer: &smithay::desktop::LayerSurface,
    at: Point<i32, Logical>,
    with: DrawWith<'_>,
    scene: &mut Scene,
) {
    push_tree(layer.wl_surface(), at, with, scene);
    for (popup, offset) in PopupManager::popups_for_surface(layer.wl_surface()) {
        push_tree(
            popup.wl_surface(),
            at + offset - popup.geometry().loc,
            with,
            scene,
        );
    }
}

/// Appends the quads of `root`'s tree, back to front, with `origin` as the root's top-left corner.
fn push_tree(
    root: &WlSurface,
    origin: Point<i32, Logical>,
    (yuv, device, tracker): DrawWith<'_>,
    scene: &mut Scene,
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
                let yuv = c.yuv(yuv);
                if let Some(color) = c.solid {
                    let item = DrawItem {
                        dst,
                        fill: Fill::Solid(color),
                        alpha: 1.0,
                        orient: Default::default(),
                        hold: None,
                    };
                    return Some((item, element(c, &rs, &view, pos, true, tracker)));
                }
                // The region shown, in the buffer's texels: wl_surface.set_buffer_transform turns
                // the buffer on the surface, and the quad samples it turned back.
                let transform = rs.buffer_transform();
                let area = rs.buffer_size().unwrap_or_default().to_f64();
                let texels = view.src.to_buffer(scale, transform, &area);
                let mut src = Rect {
                    x: texels.loc.x as f32,
                    y: texels.loc.y as f32,
                    w: texels.size.w as f32,
                    h: texels.size.h as f32,
                };
                let orient = crate::outputs::transform::buffer_orient(transform);
                let (texture, import) = match device {
                    None => (c.texture.clone(), c.import.clone()),
                    Some(id) => c
                        .others
                        .iter()
                        .find(|(d, _)| d == id)
                        .map(|(_, v)| (v.texture.clone(), v.import.clone()))?,
                };
                // wl_shm read in place is the primary render device's only.
                let shm = c.shm_source.clone().filter(|_| device.is_none());
                let fill = match &import {
                    None if shm.is_some() => Fill::Planar {
                        source: shm.clone()?,
                        src,
                        yuv,
                    },
                    Some(import) => {
                        if import.y_invert {
                            // linux-dmabuf y_invert: row 0 in memory is the bottom row of the image.
                            src.y = import.info.height as f32 - src.y;
                            src.h = -src.h;
                        }
                        match import.drawable() {
                            Drawable::Texture(texture) => Fill::Texture {
                                texture,
                                src,
                                opaque: c.opaque,
                            },
                            Drawable::Planar(source) => Fill::Planar { source, src, yuv },
                        }
                    }
                    None => Fill::Texture {
                        texture: texture?,
                        src,
                        opaque: c.opaque,
                    },
                };
                // A zero-copy rung reads the client's buffer while the frame runs: its release
                // waits for the frame (the ring keeps this until then).
                let zero_copy =
                    import.as_ref().is_some_and(|i| i.rung.copies() == 0) || shm.is_some();
                let hold = zero_copy
                    .then(|| rs.buffer().cloned())
                    .flatten()
                    .map(|buffer| {
                        Arc::new(crate::sync::commit::Held {
                            buffer,
                            sync: c.sync.clone(),
                        }) as Arc<dyn crate::render::HeldBuffer>
                    });
                let item = DrawItem {
                    dst,
                    fill,
                    alpha: 1.0,
                    orient,
                    hold,
                };
                let whole = import.as_ref().is_some_and(|i| i.y_invert);
                Some((item, element(c, &rs, &view, pos, whole, tracker)))
            });
            if let Some((item, mut element)) = item {
                element.look = look(&item);
                scene.items.push(item);
                scene.elements.push(element);
                scene.item_surfaces.push(surface.clone());
            }
            scene.surfaces.push(surface.clone());
        },
        |_, _, _| true,
    );
}

/// The damage-tracking element of a surface drawn at `pos` (its `look` is filled in by the
/// caller): its content damage since the tracker's last frame, mapped from buffer coordinates
/// through scale, transform and viewport into output pixels (`whole`: the whole surface).
fn element(
    c: &SurfaceContent,
    rs: &RendererSurfaceState,
    view: &SurfaceView,
    pos: Point<i32, Logical>,
    whole: bool,
    tracker: &OutputDamage,
) -> Element {
    let dst = Rectangle::<f64, Logical>::new(pos.to_f64(), view.dst.to_f64());
    let out = |r: Rectangle<f64, Logical>| -> OutputRect {
        let x0 = r.loc.x.floor() as i32;
        let y0 = r.loc.y.floor() as i32;
        let x1 = (r.loc.x + r.size.w).ceil() as i32;
        let y1 = (r.loc.y + r.size.h).ceil() as i32;
        Rectangle::new((x0, y0).into(), (x1 - x0, y1 - y0).into())
    };
    let content = if whole {
        None
    } else {
        c.damage
            .since(tracker.last_serial(c.id()))
            .map(|rects| buffer_to_output(&rects, rs, view, dst).map(out).collect())
    };
    Element {
        key: c.id(),
        dst: out(dst),
        look: 0,
        serial: c.damage.serial(),
        content,
    }
}

/// Buffer-coordinate damage as rectangles of the output, for a surface whose viewport destination
/// is `dst` there.
fn buffer_to_output<'a>(
    rects: &'a [Rectangle<i32, BufferCoord>],
    rs: &RendererSurfaceState,
    view: &'a SurfaceView,
    dst: Rectangle<f64, Logical>,
) -> impl Iterator<Item = Rectangle<f64, Logical>> + 'a {
    let scale = rs.buffer_scale().max(1);
    let transform = rs.buffer_transform();
    let size = rs
        .buffer_size()
        .unwrap_or_default()
        .to_buffer(scale, transform)
        .to_f64();
    let src = view.src;
    let (sx, sy) = (dst.size.w / src.size.w, dst.size.h / src.size.h);
    // Scaled content is filtered: a changed texel also changes the output pixels its neighbours'
    // samples reach, so the damage grows by a texel on each side.
    let pad = if (sx, sy, scale) == (1.0, 1.0, 1) {
        0.0
    } else {
        1.0 / f64::from(scale)
    };
    rects.iter().filter_map(move |r| {
        let mut local = r.to_f64().to_logical(f64::from(scale), transform, &size);
        local.loc -= (pad, pad).into();
        local.size += (2.0 * pad, 2.0 * pad).into();
        let i = local.intersection(src)?;
        Some(Rectangle::new(
            (
                dst.loc.x + (i.loc.x - src.loc.x) * sx,
                dst.loc.y + (i.loc.y - src.loc.y) * sy,
            )
                .into(),
            (i.size.w * sx, i.size.h * sy).into(),
        ))
    })
}

/// A hash of how `item` is drawn beyond its content: what it samples, from where, to where, how.
fn look(item: &DrawItem) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    let rect = |h: &mut std::hash::DefaultHasher, r: &Rect| {
        for v in [r.x, r.y, r.w, r.h] {
            v.to_bits().hash(h);
        }
    };
    rect(&mut h, &item.dst);
    item.alpha.to_bits().hash(&mut h);
    item.orient.hash(&mut h);
    match &item.fill {
        // What a fill is, not which memory holds it: a new buffer in place of the last one
        // changes only what its commit damaged (linux-dmabuf and wl_surface.damage_buffer say what
        // differs from the buffer before), so identity must not damage the whole surface.
        Fill::Texture {
            texture,
            src,
            opaque,
        } => {
            let format = texture.format().as_raw();
            (0u8, format, texture.width(), texture.height(), *opaque).hash(&mut h);
            rect(&mut h, src);
        }
        Fill::Solid(c) => {
            1u8.hash(&mut h);
            for v in c {
                v.to_bits().hash(&mut h);
            }
        }
        Fill::Planar { source, src, yuv } => {
            let l = &source.layout;
            (2u8, l.format as i32, l.opaque, l.width, l.height, yuv).hash(&mut h);
            rect(&mut h, src);
        }
    }
    h.finish()
}
