//! Per output target: the elements its last frame drew, and the damage of the next frame.

use std::collections::HashMap;

use super::{simplify, OutputRect};

/// One element of a frame, as the damage tracker compares it with the last frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Element {
    /// weft's surface id.
    pub key: u64,
    /// Where it is drawn, rounded out to whole output pixels.
    pub dst: OutputRect,
    /// Everything else about how it is drawn (what is sampled, source rectangle, exact position,
    /// alpha, colour conversion), hashed: a change redraws the whole element.
    pub look: u64,
    /// The content change shown ([`super::log::DamageLog::serial`]).
    pub serial: u64,
    /// What changed in it since this output last drew it, in output pixels (`None`: all of it).
    /// Read only when `serial` differs from the last frame's.
    pub content: Option<Vec<OutputRect>>,
}

#[derive(Debug, Clone)]
struct Drawn {
    dst: OutputRect,
    look: u64,
    serial: u64,
}

/// The damage of one output target.
#[derive(Debug)]
pub struct OutputDamage {
    last: HashMap<u64, Drawn>,
    /// Keys in the order the last frame drew them (back to front).
    order: Vec<u64>,
    full: bool,
}

impl Default for OutputDamage {
    fn default() -> Self {
        Self {
            last: HashMap::new(),
            order: Vec::new(),
            full: true,
        }
    }
}

impl OutputDamage {
    /// The next frame redraws everything (a new target, a new device, a new background).
    pub fn reset(&mut self) {
        *self = Self::default();
    }

    /// The content change of `key` the last frame drew.
    pub fn last_serial(&self, key: u64) -> Option<u64> {
        self.last.get(&key).map(|d| d.serial)
    }

    /// The damage of a frame drawing `elements` (back to front) on an output of `size`, which
    /// becomes the last frame. Empty: nothing to redraw.
    pub fn frame(&mut self, elements: &[Element], size: OutputRect) -> Vec<OutputRect> {
        let mut damage = Vec::new();
        if self.full {
            damage.push(size);
        } else {
            let shown: HashMap<u64, &Element> = elements.iter().map(|e| (e.key, e)).collect();
            // Stacking: among the elements in both frames, one whose place in that common order
            // changed is redrawn whole (of any two that swapped, at least one moved place, and
            // redrawing it redraws where they overlap).
            let before: Vec<u64> = self
                .order
                .iter()
                .copied()
                .filter(|k| shown.contains_key(k))
                .collect();
            let now = elements
                .iter()
                .map(|e| e.key)
                .filter(|k| self.last.contains_key(k));
            let restacked: Vec<u64> = now
                .zip(before.iter())
                .filter(|(a, b)| a != *b)
                .map(|(a, _)| a)
                .collect();
            for e in elements {
                match self.last.get(&e.key) {
                    None => damage.push(e.dst),
                    Some(d) if d.dst != e.dst || d.look != e.look || restacked.contains(&e.key) => {
                        damage.push(d.dst);
                        damage.push(e.dst);
                    }
                    Some(d) if d.serial != e.serial => match &e.content {
                        None => damage.push(e.dst),
                        Some(rects) => {
                            damage.extend(rects.iter().filter_map(|r| r.intersection(e.dst)))
                        }
                    },
                    Some(_) => {}
                }
            }
            for (key, d) in &self.last {
                if !shown.contains_key(key) {
                    damage.push(d.dst);
                }
            }
        }
        self.full = false;
        self.order = elements.iter().map(|e| e.key).collect();
        self.last = elements
            .iter()
            .map(|e| {
                (
                    e.key,
                    Drawn {
                        dst: e.dst,
                        look: e.look,
                        serial: e.serial,
                    },
                )
            })
            .collect();
        simplify(damage, size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smithay::utils::Rectangle;

    fn r(x: i32, y: i32, w: i32, h: i32) -> OutputRect {
        Rectangle::new((x, y).into(), (w, h).into())
    }

    fn el(key: u64, dst: OutputRect) -> Element {
        Element {
            key,
            dst,
            look: 0,
            serial: 1,
            content: Some(Vec::new()),
        }
    }

    fn area(rects: &[OutputRect]) -> i64 {
        rects
            .iter()
            .map(|r| i64::from(r.size.w) * i64::from(r.size.h))
            .sum()
    }

    #[test]
    fn each_change_damages_what_it_should() {
        let out = r(0, 0, 100, 100);
        let a = el(1, r(0, 0, 20, 20));
        let b = el(2, r(10, 10, 20, 20));
        let mut t = OutputDamage::default();
        assert_eq!(
            t.frame(&[a.clone(), b.clone()], out),
            vec![out],
            "first frame"
        );
        assert!(
            t.frame(&[a.clone(), b.clone()], out).is_empty(),
            "nothing new"
        );

        // Content damage of one element, clipped to it.
        let mut b2 = b.clone();
        b2.serial = 2;
        b2.content = Some(vec![r(12, 12, 4, 4), r(25, 25, 50, 50)]);
        assert_eq!(
            t.frame(&[a.clone(), b2.clone()], out),
            vec![r(12, 12, 4, 4), r(25, 25, 5, 5)]
        );
        // A change whose damage is unknown redraws the element.
        let mut b3 = b2.clone();
        b3.serial = 3;
        b3.content = None;
        assert_eq!(t.frame(&[a.clone(), b3.clone()], out), vec![b.dst]);

        // A move damages where it was and where it is.
        let mut a2 = a.clone();
        a2.dst = r(60, 60, 20, 20);
        let d = t.frame(&[a2.clone(), b3.clone()], out);
        assert_eq!(area(&d), 800);
        // Stacking: raising a redraws (at least) one of them whole.
        let d = t.frame(&[b3.clone(), a2.clone()], out);
        assert!(!d.is_empty());
        // A look change (new buffer drawn in place) redraws it.
        let mut b4 = b3.clone();
        b4.look = 9;
        assert_eq!(t.frame(&[b4.clone(), a2.clone()], out), vec![b.dst]);
        // Unmapping damages where it was.
        assert_eq!(t.frame(&[a2.clone()], out), vec![b.dst]);
        // A reset redraws everything.
        t.reset();
        assert_eq!(t.frame(&[a2.clone()], out), vec![out]);
    }

    #[test]
    fn swapping_overlapping_elements_redraws_their_overlap() {
        let out = r(0, 0, 100, 100);
        let a = el(1, r(0, 0, 30, 30));
        let b = el(2, r(20, 20, 30, 30));
        let c = el(3, r(80, 80, 5, 5));
        let mut t = OutputDamage::default();
        t.frame(&[c.clone(), a.clone(), b.clone()], out);
        let d = t.frame(&[c.clone(), b.clone(), a.clone()], out);
        assert!(
            d.iter().any(|x| x.contains_rect(r(20, 20, 10, 10))),
            "{d:?}"
        );
        assert!(
            !d.iter().any(|x| x.overlaps(c.dst)),
            "c stayed in place: {d:?}"
        );
    }
}
