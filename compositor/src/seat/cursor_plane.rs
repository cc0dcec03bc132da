//! The cursor on a display's cursor plane (`--backend drm`). The scene carries the cursor as
//! its last items ([`Scene::cursor`]); a display backend with a cursor plane asks
//! [`Weft::plane_cursor`] whether it may take it off the composed frame and show it on the plane
//! instead. It may when the cursor is drawn unscaled and unturned and no capture of the output
//! wants it in the frame; then the composed frame no longer changes when the pointer moves, and
//! a client buffer under the cursor can still be scanned out. The image is rendered once per
//! look ([`Weft::plane_cursor_pixels`]).

use std::hash::{Hash, Hasher};

use crate::outputs::scene::Scene;
use crate::render::Fill;
use crate::Weft;

/// The cursor as a cursor plane shows it on one output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlaneCursor {
    /// Changes exactly when the image does (a new shape, a client's new cursor buffer).
    pub key: u64,
    /// Its top-left corner in the output's pixels (may be negative at the edges).
    pub at: (i32, i32),
    pub width: u32,
    pub height: u32,
    /// Where in the image the pointer is.
    pub hotspot: (i32, i32),
}

impl Weft {
    /// The cursor of output `index`'s `scene`, if a cursor plane may show it instead of the
    /// composed frame (see the module).
    pub fn plane_cursor(&self, index: usize, scene: &Scene) -> Option<PlaneCursor> {
        let slot = self.outputs.slots.get(index)?;
        if scene.cursor.is_empty()
            || slot.scale != 1.0
            || slot.transform != smithay::utils::Transform::Normal
            || self.capture.cursor_wanted(&slot.name())
        {
            return None;
        }
        let mut bounds: Option<smithay::utils::Rectangle<i32, smithay::utils::Physical>> = None;
        for element in &scene.cursor_elements {
            bounds = Some(bounds.map_or(element.dst, |b| b.merge(element.dst)));
        }
        let bounds = bounds.filter(|b| !b.is_empty())?;
        let hotspot = self.cursor_hotspot()?;
        // What is drawn, where in the image: not where the image is (it moves with the pointer).
        let mut key = std::hash::DefaultHasher::new();
        (bounds.size.w, bounds.size.h).hash(&mut key);
        for element in &scene.cursor_elements {
            let at = element.dst.loc - bounds.loc;
            (element.key, element.serial, at.x, at.y).hash(&mut key);
        }
        for item in &scene.cursor {
            let source = match &item.fill {
                Fill::Texture { texture, .. } => std::sync::Arc::as_ptr(texture) as usize,
                Fill::Planar { source, .. } => std::sync::Arc::as_ptr(source) as usize,
                Fill::Solid(c) => c.iter().map(|v| v.to_bits() as usize).sum(),
            };
            source.hash(&mut key);
        }
        Some(PlaneCursor {
            key: key.finish(),
            at: (bounds.loc.x, bounds.loc.y),
            width: bounds.size.w as u32,
            height: bounds.size.h as u32,
            hotspot: (hotspot.x, hotspot.y),
        })
    }

    /// The cursor's image: `width`×`height` premultiplied BGRA (ARGB8888 in memory), rows of
    /// `width * 4` bytes, drawn by the first render device; `None` while there is none.
    pub fn plane_cursor_pixels(&mut self) -> Option<(u32, u32, Vec<u8>)> {
        let size = self.cursor_size()?;
        let address = std::sync::Arc::as_ptr(self.gpu.first().renderer.device()) as usize;
        let scene = self.cursor_scene(address)?;
        let (w, h) = (size.w.max(1) as u32, size.h.max(1) as u32);
        let renderer = &mut self.gpu.first_mut().renderer;
        let target = renderer.create_target(w, h).ok()?;
        let (items, _) = scene.drawn();
        let (_, rgba) = renderer
            .render(&target, [0.0; 4], &items, &[target.area()], true)
            .ok()?;
        let mut pixels = rgba?;
        for px in pixels.chunks_exact_mut(4) {
            px.swap(0, 2);
        }
        Some((w, h, pixels))
    }
}
