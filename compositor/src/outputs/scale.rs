//! Output scale: an output of W×H pixels at scale s is W/s × H/s logical pixels. Windows are
//! placed and sized in logical pixels; the scene is built in them and drawn scaled by s into the
//! output's pixels, so a client that draws its buffers at the output's scale (wl_output.scale and
//! wl_surface.set_buffer_scale, or wp_fractional_scale_v1 with a viewport) is shown pixel for
//! pixel, and one that does not is magnified.

use smithay::output::Scale;
use smithay::utils::{Physical, Rectangle};
use smithay::wayland::fractional_scale::with_fractional_scale;

use crate::outputs::scene::Scene;
use crate::Weft;

/// The scales weft accepts (fractional scale speaks in 120ths).
const MIN: f64 = 0.25;
const MAX: f64 = 8.0;

/// Why a scale is refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ScaleError {
    #[error("scale {0} is outside {MIN}..={MAX}")]
    OutOfRange(f64),
    #[error("no output {0}")]
    NoOutput(String),
}

/// `scale` if weft can show an output at it, rounded to wp_fractional_scale_v1's 120ths.
pub fn check(scale: f64) -> Result<f64, ScaleError> {
    if !scale.is_finite() || !(MIN..=MAX).contains(&scale) {
        return Err(ScaleError::OutOfRange(scale));
    }
    Ok((scale * 120.0).round() / 120.0)
}

impl Scene {
    /// The scene built in logical pixels, in the output's pixels at `scale`.
    pub(crate) fn scale_to_pixels(&mut self, scale: f64) {
        if scale == 1.0 {
            return;
        }
        let s = scale as f32;
        for item in self.items.iter_mut().chain(self.cursor.iter_mut()) {
            item.dst.x *= s;
            item.dst.y *= s;
            item.dst.w *= s;
            item.dst.h *= s;
        }
        for element in self
            .elements
            .iter_mut()
            .chain(self.cursor_elements.iter_mut())
        {
            element.dst = scale_out(element.dst, scale);
            if let Some(content) = &mut element.content {
                for r in content.iter_mut() {
                    *r = scale_out(*r, scale);
                }
            }
        }
    }
}

/// `r` times `scale`, rounded out to whole pixels.
fn scale_out(r: Rectangle<i32, Physical>, scale: f64) -> Rectangle<i32, Physical> {
    let x0 = (f64::from(r.loc.x) * scale).floor() as i32;
    let y0 = (f64::from(r.loc.y) * scale).floor() as i32;
    let x1 = (f64::from(r.loc.x + r.size.w) * scale).ceil() as i32;
    let y1 = (f64::from(r.loc.y + r.size.h) * scale).ceil() as i32;
    Rectangle::new((x0, y0).into(), (x1 - x0, y1 - y0).into())
}

impl Weft {
    /// Output `index`'s scale (1 where there is none).
    pub fn output_scale(&self, index: usize) -> f64 {
        self.outputs.slots.get(index).map_or(1.0, |s| s.scale)
    }

    /// Shows output `name` at `scale`: its logical size, the layout and every client's preferred
    /// scale follow, and it is drawn whole again.
    pub fn set_output_scale(&mut self, name: &str, scale: f64) -> Result<(), ScaleError> {
        let scale = check(scale)?;
        let (_, slot) = self
            .slot_named_mut(name)
            .ok_or_else(|| ScaleError::NoOutput(name.to_string()))?;
        if slot.scale == scale {
            return Ok(());
        }
        slot.scale = scale;
        // wl_output.scale is an integer: clients that know only it draw at the next one up.
        slot.output.change_current_state(
            None,
            None,
            Some(Scale::Custom {
                advertised_integer: scale.ceil() as i32,
                fractional: scale,
            }),
            None,
        );
        slot.damage = Default::default();
        tracing::info!(output = %name, scale, "output scale set");
        self.relayout_outputs();
        self.refill_toplevels();
        self.refresh_preferred_scales();
        self.damage();
        Ok(())
    }

    /// Every surface with a wp_fractional_scale_v1 object is told its output's scale again.
    fn refresh_preferred_scales(&mut self) {
        let roots: Vec<_> = self
            .shell
            .space
            .elements()
            .filter_map(|w| self.window_surface(w))
            .collect();
        for root in roots {
            let scale = self.preferred_scale(&root);
            smithay::wayland::compositor::with_surface_tree_downward(
                &root,
                (),
                |_, _, _| smithay::wayland::compositor::TraversalAction::DoChildren(()),
                // The traversal holds each surface's state: it is handed in, not locked again.
                |_, states, _| with_fractional_scale(states, |fs| fs.set_preferred_scale(scale)),
                |_, _, _| true,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales_are_checked_and_kept_to_120ths() {
        assert_eq!(check(1.5), Ok(1.5));
        assert_eq!(check(1.3333), Ok(160.0 / 120.0));
        assert!(check(0.0).is_err());
        assert!(check(f64::NAN).is_err());
        assert!(check(9.0).is_err());
    }

    #[test]
    fn damage_rounds_out_to_whole_pixels() {
        let r = Rectangle::<i32, Physical>::new((1, 1).into(), (3, 3).into());
        let s = scale_out(r, 1.5);
        assert_eq!((s.loc.x, s.loc.y, s.size.w, s.size.h), (1, 1, 5, 5));
    }
}
