//! Damage: what changed on an output since its target's last frame, so that only that is redrawn.
//!
//! - [`log`]: each surface's content changes, numbered, with their damage in buffer coordinates
//!   (a wl_shm upload, a new dma-buf, a staged upload finishing, a re-plan)
//! - [`tracker`]: per output, the elements of the last frame; the next frame's damage is the
//!   difference — elements that appeared, went, moved, changed stacking or look, and the content
//!   damage of those that stayed

pub mod log;
pub mod tracker;

use smithay::utils::{Physical, Rectangle};

/// A rectangle in output pixels.
pub type OutputRect = Rectangle<i32, Physical>;

/// At most this many rectangles are redrawn separately; more are merged (see [`simplify`]).
pub const MAX_RECTS: usize = 8;

/// Merges overlapping rectangles, then, while more than [`MAX_RECTS`] remain, the pair
/// whose union adds the least area. Never loses a pixel; may add some.
pub fn simplify(mut rects: Vec<OutputRect>, within: OutputRect) -> Vec<OutputRect> {
    rects.retain_mut(|r| match r.intersection(within) {
        Some(i) if !i.is_empty() => {
            *r = i;
            true
        }
        _ => false,
    });
    loop {
        merge_overlapping(&mut rects);
        if rects.len() <= MAX_RECTS {
            return rects;
        }
        let area = |r: &OutputRect| i64::from(r.size.w) * i64::from(r.size.h);
        let mut best = (0, 1, i64::MAX);
        for i in 0..rects.len() {
            for j in i + 1..rects.len() {
                let u = rects[i].merge(rects[j]);
                let extra = area(&u) - area(&rects[i]) - area(&rects[j]);
                if extra < best.2 {
                    best = (i, j, extra);
                }
            }
        }
        let b = rects.swap_remove(best.1);
        rects[best.0] = rects[best.0].merge(b);
    }
}

/// Replaces overlapping rectangles by their bounding box until none overlap.
fn merge_overlapping(rects: &mut Vec<OutputRect>) {
    let mut merged = true;
    while merged {
        merged = false;
        'outer: for i in 0..rects.len() {
            for j in i + 1..rects.len() {
                if rects[i].overlaps(rects[j]) {
                    let b = rects.swap_remove(j);
                    rects[i] = rects[i].merge(b);
                    merged = true;
                    break 'outer;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(x: i32, y: i32, w: i32, h: i32) -> OutputRect {
        Rectangle::new((x, y).into(), (w, h).into())
    }

    fn covers(rects: &[OutputRect], x: i32, y: i32) -> bool {
        rects.iter().any(|r| r.contains((x, y)))
    }

    #[test]
    fn simplify_clips_merges_and_never_loses_a_pixel() {
        let within = r(0, 0, 100, 100);
        let cases: Vec<Vec<OutputRect>> = vec![
            vec![],
            vec![r(-10, -10, 20, 20)],
            vec![r(0, 0, 10, 10), r(5, 5, 10, 10)],
            vec![r(200, 200, 5, 5)],
            (0..20).map(|i| r(i * 5, i * 5, 3, 3)).collect(),
        ];
        for input in cases {
            let out = simplify(input.clone(), within);
            assert!(out.len() <= MAX_RECTS);
            for o in &out {
                assert!(within.contains_rect(*o), "{o:?} leaves the output");
            }
            for i in 0..out.len() {
                for j in i + 1..out.len() {
                    assert!(!out[i].overlaps(out[j]), "{out:?} overlap");
                }
            }
            for x in 0..100 {
                for y in 0..100 {
                    if covers(&input, x, y) {
                        assert!(covers(&out, x, y), "({x},{y}) lost from {input:?}: {out:?}");
                    }
                }
            }
        }
    }
}
