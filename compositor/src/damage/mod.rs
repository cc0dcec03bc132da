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
        // The pair whose bounding box adds the least area.
        let best = pairs(&rects)
            .min_by_key(|(a, b)| area(&a.1.merge(*b.1)) - area(a.1) - area(b.1))
            .map(|(a, b)| (a.0, b.0));
        let Some((i, j)) = best else {
            return rects;
        };
        let b = rects.swap_remove(j);
        if let Some(a) = rects.get_mut(i) {
            *a = a.merge(b);
        }
    }
}

/// Every pair (i < j) of `rects`, with their indices.
fn pairs(
    rects: &[OutputRect],
) -> impl Iterator<Item = ((usize, &OutputRect), (usize, &OutputRect))> {
    rects
        .iter()
        .enumerate()
        .flat_map(move |a| rects.iter().enumerate().skip(a.0 + 1).map(move |b| (a, b)))
}

/// Replaces overlapping rectangles by their bounding box until none overlap.
fn merge_overlapping(rects: &mut Vec<OutputRect>) {
    loop {
        let overlapping = pairs(rects)
            .find(|(a, b)| a.1.overlaps(*b.1))
            .map(|(a, b)| (a.0, b.0));
        let Some((i, j)) = overlapping else {
            return;
        };
        // j > i, so removing j leaves i where it was.
        let b = rects.swap_remove(j);
        if let Some(a) = rects.get_mut(i) {
            *a = a.merge(b);
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
