//! Direct scanout: which client buffer an output could show with no composition at all, and the
//! record of whether it does (rung `Scanout` in `weft msg surfaces`).
//!
//! An overlay candidate ([`Weft::overlay_candidate`]) is the topmost surface over the rest, a
//! client dma-buf: a plane above the primary may show it while the rest is composed without it.
//!
//! A primary candidate is the one surface an output shows, whose dma-buf covers the output exactly:
//! nothing else drawn, opaque to the output's edges, not flipped. A viewport may crop and scale
//! it: the candidate carries the buffer region shown ([`Candidate::src`]), which the display
//! backend gives the plane as its source rectangle. The display backend decides whether its
//! display device takes it (import, framebuffer, an atomic TEST_ONLY, which refuses a scale the
//! plane cannot do) and reports back with [`Weft::record_scanout`].

use std::sync::Arc;

use smithay::backend::allocator::dmabuf::Dmabuf;
use smithay::backend::allocator::Buffer as _;
use smithay::backend::renderer::utils::RendererSurfaceStateUserData;
use smithay::reexports::wayland_server::backend::ObjectId;
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::reexports::wayland_server::Resource as _;
use smithay::wayland::compositor::with_states;
use smithay::wayland::dmabuf::get_dmabuf;

use crate::import::planner::Rung;
use crate::outputs::scene::Scene;
use crate::render::{Fill, HeldBuffer};
use crate::surface::with_content;
use crate::surface::Reason;
use crate::Weft;

/// A client buffer an output could scan out.
pub struct Candidate {
    pub surface: WlSurface,
    /// The wl_buffer (what a display backend caches its framebuffer by).
    pub buffer: ObjectId,
    pub dmabuf: Dmabuf,
    /// The region of the buffer the output shows, in buffer pixels (x, y, w, h): the whole
    /// buffer, or a viewport's source rectangle.
    pub src: [f32; 4],
    /// Where the output shows it, in output pixels (x, y, w, h).
    pub dst: [i32; 4],
    /// Keeps the buffer unreleased (and its fences) while the display reads it.
    pub hold: Arc<dyn HeldBuffer>,
}

/// What the display did with a surface's buffer at one flip.
#[derive(Debug, Clone)]
pub enum ScanoutOutcome {
    /// Scanned out, no copy; the text says how (which plane).
    ScannedOut(String),
    /// Composed: its import's rung stands, and the text joins its reason.
    Composed(String),
}

impl Weft {
    /// Output `index`'s scanout candidate for its primary plane in `scene` (the output's, built
    /// this turn), or why it has none.
    pub fn scanout_candidate(
        &self,
        index: usize,
        scene: &Scene,
    ) -> Result<Candidate, &'static str> {
        let slot = self.outputs.slots.get(index).ok_or("no such output")?;
        if !scene.cursor.is_empty() {
            return Err("the cursor is drawn over it (no cursor plane yet)");
        }
        let ([item], [surface]) = (scene.items.as_slice(), scene.surfaces.as_slice()) else {
            return Err("the output shows more (or less) than one surface");
        };
        let (w, h) = (slot.spec.width as f32, slot.spec.height as f32);
        let d = item.dst;
        if (d.x, d.y, d.w, d.h) != (0.0, 0.0, w, h) || item.alpha < 1.0 {
            return Err("the surface does not cover the output exactly");
        }
        candidate_of(surface, item)
    }

    /// The candidate of an output's `scene` for an overlay or cursor plane: the topmost surface, when it
    /// is a client dma-buf over something else. The plane shows it at its place (`dst`) over
    /// the composed rest, which is drawn without it ([`crate::outputs::frame::Compose::Without`]).
    pub fn overlay_candidate(scene: &Scene) -> Result<Candidate, &'static str> {
        if scene.items.len() < 2 {
            return Err("nothing is drawn under the topmost surface");
        }
        if !scene.cursor.is_empty() {
            return Err("the cursor is drawn over it (no cursor plane yet)");
        }
        let (Some(item), Some(surface)) = (scene.items.last(), scene.item_surfaces.last()) else {
            return Err("nothing drawn");
        };
        if item.alpha < 1.0 {
            return Err("the surface is blended with an alpha");
        }
        candidate_of(surface, item)
    }

    /// Records what the display did with `surface`'s buffer.
    pub fn record_scanout(&mut self, surface: &WlSurface, outcome: ScanoutOutcome) {
        with_states(surface, |states| {
            with_content(states, |c| match outcome {
                ScanoutOutcome::ScannedOut(why) => {
                    c.scanned_out = true;
                    c.scanout_refused = None;
                    c.set_path(Some(Rung::Scanout), Some(Reason::new("scanout.best", why)));
                }
                ScanoutOutcome::Composed(why) => {
                    c.scanned_out = false;
                    // The import's rung stands; the display's refusal joins its reason (the
                    // planner's own scanout note does not know the display backend decides).
                    c.scanout_refused = Some(why);
                    if let Some(import) = c.import.clone() {
                        let reason = c.import_reason(&import);
                        c.set_path(
                            Some(import.rung),
                            Some(Reason::new("scanout.display_refused", reason)),
                        );
                    }
                }
            })
        });
    }
}

/// The candidate `item` (drawing `surface`) makes: its dma-buf, the region of it shown and where.
fn candidate_of(
    surface: &WlSurface,
    item: &crate::render::DrawItem,
) -> Result<Candidate, &'static str> {
    let src = match &item.fill {
        Fill::Texture { src, .. } | Fill::Planar { src, .. } => *src,
        Fill::Solid(_) => return Err("a solid colour, not a buffer"),
    };
    if src.w <= 0.0 || src.h <= 0.0 || src.x < 0.0 || src.y < 0.0 {
        return Err("the buffer is flipped");
    }
    if !item.orient.is_identity() {
        return Err("the buffer is turned on the output (its transform differs from the output's)");
    }
    let d = item.dst;
    let dst = [
        d.x.round() as i32,
        d.y.round() as i32,
        d.w.round() as i32,
        d.h.round() as i32,
    ];
    with_states(surface, |states| {
        let rs = states
            .data_map
            .get::<RendererSurfaceStateUserData>()
            .ok_or("no buffer")?;
        let rs = rs.lock().map_err(|_| "surface state poisoned")?;
        let buffer = rs.buffer().ok_or("no buffer")?;
        let dmabuf = get_dmabuf(buffer).map_err(|_| "not a dma-buf")?.clone();
        let size = dmabuf.size();
        if src.x + src.w > size.w as f32 + 0.01 || src.y + src.h > size.h as f32 + 0.01 {
            return Err("the region shown is outside the buffer");
        }
        let sync = with_content(states, |c| c.sync.clone());
        let hold: Arc<dyn HeldBuffer> = Arc::new(crate::sync::commit::Held {
            buffer: buffer.clone(),
            sync,
        });
        Ok(Candidate {
            surface: surface.clone(),
            buffer: buffer.id(),
            dmabuf,
            src: [src.x, src.y, src.w, src.h],
            dst,
            hold,
        })
    })
}
