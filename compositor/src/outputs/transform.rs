//! Output transforms (wl_output.transform): an output turned by 90° steps or mirrored, for a
//! display mounted on its side. The scene is built upright in logical pixels and scaled
//! ([`crate::outputs::scale`]); then every quad's place is turned into the output's pixels
//! ([`Scene::transform_to_pixels`]) and its source region turned with it, composed with the
//! client's own buffer transform ([`buffer_orient`], [`Orient`]); damage is turned likewise.
//! A client that draws its buffer already turned (wl_surface.set_buffer_transform with the
//! output's transform) is drawn unturned: a copy, or a scanout candidate.
//!
//! Directions are smithay's (`Transform::transform_point_in`), the ones its `to_buffer` uses for
//! buffer transforms: a logical point `p` of an output turned by `t` is the pixel
//! `t.transform_point_in(p, logical size in pixels)`.

use smithay::utils::{Logical, Physical, Point, Rectangle, Size, Transform};

use crate::outputs::scene::Scene;
use crate::render::{Orient, Rect};
use crate::Weft;

/// Why a transform is refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TransformError {
    #[error(
        "{0:?} is not a transform (normal, 90, 180, 270, flipped, flipped-90, flipped-180, flipped-270)"
    )]
    Unknown(String),
    #[error("no output {0}")]
    NoOutput(String),
}

/// The transforms by their names in configuration and `weft msg` (wlr-randr's spelling).
const NAMES: [(Transform, &str); 8] = [
    (Transform::Normal, "normal"),
    (Transform::_90, "90"),
    (Transform::_180, "180"),
    (Transform::_270, "270"),
    (Transform::Flipped, "flipped"),
    (Transform::Flipped90, "flipped-90"),
    (Transform::Flipped180, "flipped-180"),
    (Transform::Flipped270, "flipped-270"),
];

pub fn parse(name: &str) -> Result<Transform, TransformError> {
    NAMES
        .iter()
        .find(|(_, n)| *n == name)
        .map(|(t, _)| *t)
        .ok_or_else(|| TransformError::Unknown(name.to_string()))
}

pub fn name_of(transform: Transform) -> &'static str {
    NAMES
        .iter()
        .find(|(t, _)| *t == transform)
        .map_or("normal", |(_, n)| n)
}

type Unit = (f64, f64);

/// Where `orient` samples corner `c` of its quad, in 0..1 of the source region.
fn sample(orient: Orient, (x, y): Unit) -> Unit {
    let (mut x, mut y) = if orient.transpose { (y, x) } else { (x, y) };
    if orient.flip_x {
        x = 1.0 - x;
    }
    if orient.flip_y {
        y = 1.0 - y;
    }
    (x, y)
}

/// The orientation that samples as `map` does (a map of the unit square onto itself, one of the
/// eight symmetries), read from three corners.
fn orient_of(map: impl Fn(Unit) -> Unit) -> Orient {
    let origin = map((0.0, 0.0));
    let along_x = map((1.0, 0.0));
    Orient {
        transpose: along_x.1 != origin.1,
        flip_x: origin.0 == 1.0,
        flip_y: origin.1 == 1.0,
    }
}

/// Where `t` takes point (x, y) of an area of `w`×`h` (before the transform), as Weston's
/// `weston_transformed_coord` does and smithay's `Transform::transform_rect_in` (which weft uses
/// for rectangles) agrees. (smithay 0.7's `transform_point_in` and `invert` swap the two flipped
/// quarter turns, so weft does not use them.)
fn map(t: Transform, (x, y): Unit, (w, h): Unit) -> Unit {
    match t {
        Transform::Normal => (x, y),
        Transform::_90 => (h - y, x),
        Transform::_180 => (w - x, h - y),
        Transform::_270 => (y, w - x),
        Transform::Flipped => (w - x, y),
        Transform::Flipped90 => (h - y, w - x),
        Transform::Flipped180 => (x, h - y),
        Transform::Flipped270 => (y, x),
    }
}

/// The transform that undoes `t`: the quarter turns undo each other; every mirror is its own.
fn inverse(t: Transform) -> Transform {
    match t {
        Transform::_90 => Transform::_270,
        Transform::_270 => Transform::_90,
        other => other,
    }
}

/// `t` on the unit square.
fn on_unit(t: Transform, c: Unit) -> Unit {
    map(t, c, (1.0, 1.0))
}

/// How a buffer drawn with wl_surface.set_buffer_transform `t` lies on its surface's quad.
pub fn buffer_orient(t: Transform) -> Orient {
    orient_of(|c| on_unit(t, c))
}

/// `orient` (a quad's sampling, upright) once its quad is turned by the output's `t`.
fn turned(orient: Orient, t: Transform) -> Orient {
    let back = inverse(t);
    orient_of(|c| sample(orient, on_unit(back, c)))
}

impl Scene {
    /// The scene, built upright in an output's pixels (`upright`: the output's size in them),
    /// turned into the pixels of the output transformed by `t`.
    pub(crate) fn transform_to_pixels(&mut self, t: Transform, upright: Size<i32, Physical>) {
        if t == Transform::Normal {
            return;
        }
        let area = upright.to_f64();
        for item in self.items.iter_mut().chain(self.cursor.iter_mut()) {
            let r = Rectangle::<f64, Physical>::new(
                (f64::from(item.dst.x), f64::from(item.dst.y)).into(),
                (f64::from(item.dst.w), f64::from(item.dst.h)).into(),
            );
            let r = t.transform_rect_in(r, &area);
            item.dst = Rect {
                x: r.loc.x as f32,
                y: r.loc.y as f32,
                w: r.size.w as f32,
                h: r.size.h as f32,
            };
            item.orient = turned(item.orient, t);
        }
        for element in self
            .elements
            .iter_mut()
            .chain(self.cursor_elements.iter_mut())
        {
            element.dst = t.transform_rect_in(element.dst, &upright);
            if let Some(content) = &mut element.content {
                for r in content.iter_mut() {
                    *r = t.transform_rect_in(*r, &upright);
                }
            }
        }
    }
}

impl Weft {
    /// Output `index`'s transform (normal where there is none).
    pub fn output_transform(&self, index: usize) -> Transform {
        self.outputs
            .slots
            .get(index)
            .map_or(Transform::Normal, |s| s.transform)
    }

    /// A point of output `index`'s pixels (as its display shows them: a nested window's) in the
    /// output's logical coordinates.
    pub fn output_pixel_to_logical(&self, index: usize, (x, y): (f64, f64)) -> Point<f64, Logical> {
        let Some(slot) = self.outputs.slots.get(index) else {
            return (x, y).into();
        };
        let pixels = (f64::from(slot.spec.width), f64::from(slot.spec.height));
        // The inverse maps the output's pixels back to upright ones (its area is the turned size).
        let upright = map(inverse(slot.transform), (x, y), pixels);
        (upright.0 / slot.scale, upright.1 / slot.scale).into()
    }

    /// Shows output `name` turned by `t`: its logical size, the layout and fullscreen or
    /// maximized windows follow, and it is drawn whole again.
    pub fn set_output_transform(&mut self, name: &str, t: Transform) -> Result<(), TransformError> {
        let (_, slot) = self
            .slot_named_mut(name)
            .ok_or_else(|| TransformError::NoOutput(name.to_string()))?;
        if slot.transform == t {
            return Ok(());
        }
        slot.transform = t;
        slot.output.change_current_state(None, Some(t), None, None);
        slot.damage_all();
        tracing::info!(output = %name, transform = name_of(t), "output transform set");
        self.relayout_outputs();
        self.refill_toplevels();
        self.damage();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Transform; 8] = [
        Transform::Normal,
        Transform::_90,
        Transform::_180,
        Transform::_270,
        Transform::Flipped,
        Transform::Flipped90,
        Transform::Flipped180,
        Transform::Flipped270,
    ];
    const CORNERS: [Unit; 4] = [(0.0, 0.0), (1.0, 0.0), (0.0, 1.0), (1.0, 1.0)];

    #[test]
    fn each_transform_is_one_orientation_sampling_as_it_maps() {
        let mut seen = Vec::new();
        for t in ALL {
            let o = buffer_orient(t);
            for c in CORNERS {
                assert_eq!(sample(o, c), on_unit(t, c), "{t:?} at {c:?}");
            }
            assert!(!seen.contains(&o), "{t:?} repeats {o:?}");
            seen.push(o);
        }
    }

    #[test]
    fn points_and_rectangles_turn_alike() {
        // weft turns quads with smithay's rectangles and samples them with its own points.
        let area = (40.0, 30.0);
        let r = Rectangle::<f64, Physical>::new((5.0, 7.0).into(), (10.0, 4.0).into());
        for t in ALL {
            let turned = t.transform_rect_in(r, &Size::from(area));
            let a = map(t, (5.0, 7.0), area);
            let b = map(t, (15.0, 11.0), area);
            let (x0, y0) = (a.0.min(b.0), a.1.min(b.1));
            assert_eq!((turned.loc.x, turned.loc.y), (x0, y0), "{t:?}");
            assert_eq!(
                (turned.size.w, turned.size.h),
                ((a.0 - b.0).abs(), (a.1 - b.1).abs()),
                "{t:?}"
            );
            let back = inverse(t);
            let turned_area = if t.degrees() % 180 == 90 {
                (30.0, 40.0)
            } else {
                area
            };
            assert_eq!(map(back, a, turned_area), (5.0, 7.0), "{t:?} undone");
        }
    }

    #[test]
    fn a_buffer_turned_as_its_output_is_drawn_unturned() {
        for t in ALL {
            assert!(turned(buffer_orient(t), t).is_identity(), "{t:?}");
        }
    }

    #[test]
    fn a_quarter_turn_moves_the_top_left_to_the_top_right() {
        // An 80×60 output turned by 90: upright it is 60×80 pixels; a 10×20 quad at its origin
        // lies along the top edge of the output's pixels, at their right end.
        let mut scene = Scene::default();
        scene.items.push(crate::render::DrawItem {
            dst: Rect {
                x: 0.0,
                y: 0.0,
                w: 10.0,
                h: 20.0,
            },
            fill: crate::render::Fill::Solid([1.0; 4]),
            alpha: 1.0,
            orient: Orient::default(),
            hold: None,
        });
        scene.transform_to_pixels(Transform::_90, (60, 80).into());
        let d = scene.items[0].dst;
        assert_eq!((d.x, d.y, d.w, d.h), (60.0, 0.0, 20.0, 10.0));
        assert!(scene.items[0].orient.transpose);
    }

    #[test]
    fn names_round_trip() {
        for t in ALL {
            assert_eq!(parse(name_of(t)), Ok(t));
        }
        assert!(parse("sideways").is_err());
    }
}
