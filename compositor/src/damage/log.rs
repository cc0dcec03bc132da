//! A surface's content changes, numbered, each with the damage it brought in buffer coordinates.
//!
//! smithay's surface state counts damaged commits, but weft's content also changes without one: a
//! new buffer attached with no damage, an upload in slices finishing, a buffer refused, a re-plan
//! onto another rung. Every such change is logged here, so an output that last drew the surface at
//! change `n` redraws exactly what changed since.

use std::collections::VecDeque;

use smithay::utils::{Buffer, Rectangle};

/// Damage in buffer coordinates; `None`: the whole buffer.
pub type BufferDamage = Option<Vec<Rectangle<i32, Buffer>>>;

/// Changes older than this many are forgotten (an output that last drew before them redraws the
/// whole surface).
const KEEP: usize = 8;

#[derive(Debug, Default)]
pub struct DamageLog {
    serial: u64,
    changes: VecDeque<(u64, BufferDamage)>,
}

impl DamageLog {
    /// The number of the last change (0: none yet).
    pub fn serial(&self) -> u64 {
        self.serial
    }

    /// Records a change of the content with `damage`.
    pub fn changed(&mut self, damage: BufferDamage) {
        self.serial += 1;
        self.changes.push_back((self.serial, damage));
        while self.changes.len() > KEEP {
            self.changes.pop_front();
        }
    }

    /// What changed after change `since` (`None`: never drawn): `Some(rects)`, or `None` for the
    /// whole buffer.
    pub fn since(&self, since: Option<u64>) -> BufferDamage {
        let since = since?;
        if since >= self.serial {
            return Some(Vec::new());
        }
        // Is change since+1 still kept?
        if self.changes.front().is_none_or(|(n, _)| *n > since + 1) {
            return None;
        }
        let mut out = Vec::new();
        for (_, d) in self.changes.iter().filter(|(n, _)| *n > since) {
            out.extend(d.as_ref()?.iter().copied());
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(x: i32) -> Rectangle<i32, Buffer> {
        Rectangle::new((x, 0).into(), (1, 1).into())
    }

    #[test]
    fn damage_since_a_change_is_the_union_of_the_later_ones() {
        let mut log = DamageLog::default();
        assert_eq!(log.since(None), None);
        assert_eq!(log.since(Some(0)), Some(vec![]));
        log.changed(Some(vec![r(1)]));
        log.changed(Some(vec![r(2)]));
        assert_eq!(log.since(Some(0)), Some(vec![r(1), r(2)]));
        assert_eq!(log.since(Some(1)), Some(vec![r(2)]));
        assert_eq!(log.since(Some(2)), Some(vec![]));
        log.changed(None);
        assert_eq!(log.since(Some(2)), None, "a whole-buffer change");
        log.changed(Some(vec![r(4)]));
        assert_eq!(log.since(Some(3)), Some(vec![r(4)]));
        for i in 0..KEEP as i32 {
            log.changed(Some(vec![r(10 + i)]));
        }
        assert_eq!(
            log.since(Some(3)),
            None,
            "forgotten changes are the whole buffer"
        );
        assert_eq!(log.since(Some(log.serial() - 1)).map(|v| v.len()), Some(1));
    }
}
