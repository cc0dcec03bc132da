//! One frame of one output: render the scene (when something changed), then tell every shown
//! surface that its content was presented — frame callbacks and wp_presentation feedback with the
//! backend's clock, refresh period and frame counter.

use std::time::Duration;

use smithay::reexports::wayland_protocols::wp::presentation_time::server::wp_presentation_feedback;
use smithay::reexports::wayland_server::Resource as _;
use smithay::utils::Rectangle;
use smithay::wayland::compositor::{with_states, SurfaceAttributes};
use smithay::wayland::presentation::{PresentationFeedbackCachedState, Refresh};
use tracing::warn;

use crate::render::{vk, FrameStats, RenderError};
use crate::Weft;

/// What a frame composes: the whole scene, all of it but a surface a display plane shows, or
/// nothing (the display shows a client buffer on its own).
#[derive(Debug, Clone)]
pub enum Compose {
    All,
    Without(smithay::reexports::wayland_server::protocol::wl_surface::WlSurface),
    Nothing,
}

/// What one frame did.
#[derive(Debug, Clone, Copy, Default)]
pub struct FrameReport {
    pub rendered: bool,
    pub stats: FrameStats,
    pub surfaces: usize,
    pub feedbacks: usize,
}

impl Weft {
    /// Renders output `index` into its target: redraws what changed since its last frame (its
    /// damage). With `readback`, returns its RGBA pixels.
    pub fn render_output(
        &mut self,
        index: usize,
        readback: bool,
    ) -> Result<(FrameStats, Option<Vec<u8>>), RenderError> {
        let scene = self.scene(index);
        self.render_scene(index, &scene, readback)
    }

    /// Renders `scene` (built for output `index` just before) into that output's target.
    fn render_scene(
        &mut self,
        index: usize,
        scene: &crate::outputs::scene::Scene,
        readback: bool,
    ) -> Result<(FrameStats, Option<Vec<u8>>), RenderError> {
        let clear = self.outputs.background;
        let (items, elements) = scene.drawn();
        let slot = self
            .outputs
            .slots
            .get_mut(index)
            .ok_or(RenderError::NoOutput(index))?;
        let size = Rectangle::from_size((slot.spec.width as i32, slot.spec.height as i32).into());
        let damage: Vec<vk::Rect2D> = slot
            .damage
            .frame(&elements, size)
            .iter()
            .map(|r| vk::Rect2D {
                offset: vk::Offset2D {
                    x: r.loc.x,
                    y: r.loc.y,
                },
                extent: vk::Extent2D {
                    width: r.size.w as u32,
                    height: r.size.h as u32,
                },
            })
            .collect();
        let (renderer, slot) = self
            .renderer_and_slot(index)
            .ok_or(RenderError::NoOutput(index))?;
        let whole = !slot.target.is_drawn();
        let result = renderer.render(&slot.target, clear, &items, &damage, readback);
        if let Some(slot) = self.outputs.slots.get_mut(index) {
            match &result {
                // A target never drawn was drawn whole.
                Ok(_) if whole => {
                    slot.record_changed(&[slot.target.area()]);
                    self.capture.note_damage(&slot.name(), None);
                }
                Ok(_) => {
                    slot.record_changed(&damage);
                    let rects: Vec<_> = damage
                        .iter()
                        .map(|r| {
                            smithay::utils::Rectangle::new(
                                (r.offset.x, r.offset.y).into(),
                                (r.extent.width as i32, r.extent.height as i32).into(),
                            )
                        })
                        .collect();
                    self.capture.note_damage(&slot.name(), Some(&rects));
                }
                Err(_) => {
                    // What the target shows is unknown now: the next frame redraws it whole.
                    slot.damage_all();
                    slot.record_changed(&[slot.target.area()]);
                }
            }
        }
        result
    }

    /// Runs the frame of output `index` at presentation time `now`: renders if the scene changed,
    /// then sends frame callbacks and presentation feedback for every surface shown.
    pub fn frame(&mut self, index: usize, now: Duration) -> FrameReport {
        self.frame_with(index, now, Compose::All)
    }

    /// [`Weft::frame`], composing only with `compose` (a display scanning a client buffer out
    /// needs no composed frame; the next composed one redraws what changed meanwhile).
    pub fn frame_with(&mut self, index: usize, now: Duration, compose: Compose) -> FrameReport {
        let scene = self.scene(index);
        self.frame_with_scene(index, now, compose, scene)
    }

    /// As [`Weft::frame_with`], on `scene`, built for output `index` this turn of the event loop
    /// (a display backend that looked at it to choose planes passes it on).
    pub fn frame_with_scene(
        &mut self,
        index: usize,
        now: Duration,
        compose: Compose,
        scene: crate::outputs::scene::Scene,
    ) -> FrameReport {
        let mut report = FrameReport::default();
        // An output turned off shows nothing and presents nothing.
        let Some(name) = self
            .outputs
            .slots
            .get(index)
            .filter(|o| o.enabled)
            .map(|o| o.name())
        else {
            return report;
        };
        // What completed frames kept goes (client buffers they read are released now).
        if let Some((renderer, _)) = self.renderer_and_slot(index) {
            renderer.retire();
        }
        // A capture waiting on this output takes every surface: composed whole this tick.
        let compose = if self.capture.waiting_on(&name) {
            Compose::All
        } else {
            compose
        };
        let generation = self.outputs.scene_generation;
        let rendered_generation = self
            .outputs
            .slots
            .get(index)
            .and_then(|o| o.rendered_generation);
        // One scene a tick: rendered when it changed, and its surfaces get their callbacks.
        let lifted = match &compose {
            Compose::Without(surface) => Some(surface.id()),
            _ => None,
        };
        let rendered_lifted = self
            .outputs
            .slots
            .get(index)
            .and_then(|o| o.rendered_lifted.clone());
        let stale = rendered_generation != Some(generation) || rendered_lifted != lifted;
        let drawn = match &compose {
            Compose::Nothing => None,
            Compose::All => Some(None),
            Compose::Without(surface) => Some(Some(surface)),
        };
        if let (Some(without), true) = (drawn, stale) {
            // Every surface still gets its frame callbacks and feedback (`scene`, below); a
            // surface a display plane shows is left out of what is drawn.
            let lifted_scene = without.map(|surface| scene.drawn_without(surface));
            let drawn_scene = lifted_scene.as_ref().unwrap_or(&scene);
            match self.render_scene(index, drawn_scene, false) {
                Ok((stats, _)) => {
                    report.rendered = stats.damaged_pixels > 0;
                    report.stats = stats;
                    if let Some(slot) = self.outputs.slots.get_mut(index) {
                        if report.rendered {
                            slot.rendered += 1;
                            slot.damaged_pixels = stats.damaged_pixels;
                        }
                        slot.rendered_generation = Some(generation);
                        slot.rendered_lifted = lifted.clone();
                    }
                }
                Err(e) if e.class() == crate::render::ErrorClass::DeviceLost => {
                    // Shown again from the next frame on (the rebuild damages every output).
                    self.rebuild_renderer(&e);
                }
                Err(e) => warn!(error = %e, output = %name, "frame failed"),
            }
        }
        self.capture_tick(index, now);
        // Client buffers that frames completed meanwhile read in place are released before the
        // callbacks below invite their clients to draw again (a double-buffered client then
        // finds its other buffer free). Frames still running are not waited for.
        if let Some((renderer, _)) = self.renderer_and_slot(index) {
            renderer.retire();
        }
        let Some(slot) = self.outputs.slots.get_mut(index) else {
            return report;
        };
        slot.shown_generation = Some(generation);
        let hold = slot.held_feedback.is_some();
        let mut held = Vec::new();
        slot.seq += 1;
        slot.last_present = Some(now);
        let seq = slot.seq;
        let refresh = Refresh::Fixed(slot.refresh_period());
        let output = slot.output.clone();

        let surfaces = scene.surfaces;
        report.surfaces = surfaces.len();
        let time_ms = now.as_millis() as u32;
        for surface in &surfaces {
            with_states(surface, |states| {
                crate::surface::with_content(states, |c| c.frames.presented());
                let callbacks = std::mem::take(
                    &mut states
                        .cached_state
                        .get::<SurfaceAttributes>()
                        .current()
                        .frame_callbacks,
                );
                for cb in callbacks {
                    cb.done(time_ms);
                }
                let feedbacks = std::mem::take(
                    &mut states
                        .cached_state
                        .get::<PresentationFeedbackCachedState>()
                        .current()
                        .callbacks,
                );
                for fb in feedbacks {
                    report.feedbacks += 1;
                    if hold {
                        held.push(fb);
                        continue;
                    }
                    // Composited with Vulkan: a copy, so never ZERO_COPY; the headless clock is
                    // software, so neither HW_CLOCK nor HW_COMPLETION. Frames are paced at the
                    // output's refresh, like vsync.
                    fb.presented(
                        &output,
                        now,
                        refresh,
                        seq,
                        wp_presentation_feedback::Kind::Vsync,
                    );
                }
            });
        }
        if let Some(list) = self
            .outputs
            .slots
            .get_mut(index)
            .and_then(|s| s.held_feedback.as_mut())
        {
            list.extend(held);
        }
        report
    }

    /// The display showed output `index`'s last frame at `time` (its `seq`-th vblank): the
    /// feedback held for it ([`crate::outputs::output::OutputSlot::held_feedback`]) is sent with `flags`.
    pub fn presented(
        &mut self,
        index: usize,
        time: Duration,
        seq: u64,
        flags: wp_presentation_feedback::Kind,
    ) -> usize {
        let Some(slot) = self.outputs.slots.get_mut(index) else {
            return 0;
        };
        let Some(held) = slot.held_feedback.as_mut().map(std::mem::take) else {
            return 0;
        };
        let refresh = Refresh::Fixed(slot.refresh_period());
        let n = held.len();
        for fb in held {
            fb.presented(&slot.output, time, refresh, seq, flags);
        }
        n
    }
}
