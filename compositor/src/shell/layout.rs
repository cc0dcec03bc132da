//! Where new toplevels go: centred on the first output, then cascaded so that each new window
//! stays visible; maximized and fullscreen windows fill an output from its origin (a fullscreen
//! one the output it asked for, while that output exists; otherwise the first).

use smithay::desktop::Window;
use smithay::output::Output;
use smithay::reexports::wayland_protocols::xdg::shell::server::xdg_toplevel;
use smithay::utils::{Logical, Point, Rectangle, Size};
use smithay::wayland::shell::xdg::ToplevelSurface;

use crate::Weft;

/// Offset between cascaded windows, in logical pixels.
pub const CASCADE_STEP: i32 = 32;

/// The location of the `index`-th window of `size` on an output of `output` size: centred, then
/// stepped down and right, wrapping back to the centre before leaving the output.
pub fn cascade_position(
    output: Size<i32, Logical>,
    size: Size<i32, Logical>,
    index: u32,
) -> Point<i32, Logical> {
    let cx = (output.w - size.w) / 2;
    let cy = (output.h - size.h) / 2;
    let room_x = (output.w - size.w - cx).max(0) / CASCADE_STEP;
    let room_y = (output.h - size.h - cy).max(0) / CASCADE_STEP;
    let steps = room_x.min(room_y) + 1;
    let k = (index as i32) % steps.max(1);
    Point::from((cx.max(0) + k * CASCADE_STEP, cy.max(0) + k * CASCADE_STEP))
}

impl Weft {
    /// Where a maximized or fullscreen `toplevel` goes, and the size it is given: the output it
    /// asked to be fullscreen on, while weft has that output, else the first output.
    pub(crate) fn fill_area(
        &self,
        toplevel: &ToplevelSurface,
    ) -> (Point<i32, Logical>, Option<Size<i32, Logical>>) {
        let wanted = toplevel.with_pending_state(|s| {
            s.fullscreen_output
                .clone()
                .filter(|_| s.states.contains(xdg_toplevel::State::Fullscreen))
        });
        let slot = wanted
            .and_then(|wl| Output::from_resource(&wl))
            .and_then(|o| {
                self.outputs
                    .slots
                    .iter()
                    .find(|s| s.output == o && s.enabled)
            })
            .or_else(|| self.outputs.slots.iter().find(|s| s.enabled));
        let fullscreen =
            toplevel.with_pending_state(|s| s.states.contains(xdg_toplevel::State::Fullscreen));
        match slot {
            // Fullscreen covers the whole output; maximized, what the layers' exclusive zones
            // leave (crate::shell::layers).
            Some(slot) if fullscreen => (
                self.shell
                    .space
                    .output_geometry(&slot.output)
                    .map(|g| g.loc)
                    .unwrap_or_default(),
                Some(slot.logical_size()),
            ),
            Some(slot) => {
                let area = self.usable_area(&slot.output);
                (area.loc, Some(area.size))
            }
            None => ((0, 0).into(), None),
        }
    }

    pub(crate) fn place_new_window(
        &mut self,
        window: &Window,
        toplevel: &ToplevelSurface,
    ) -> Point<i32, Logical> {
        let filled = toplevel.with_pending_state(|s| {
            s.states.contains(xdg_toplevel::State::Maximized)
                || s.states.contains(xdg_toplevel::State::Fullscreen)
        });
        if filled {
            return self.fill_area(toplevel).0;
        }
        self.next_cascade_position(window.geometry().size)
    }

    /// The largest a window should make itself (xdg_toplevel.configure_bounds): what the panels
    /// of the output new windows open on leave.
    pub(crate) fn toplevel_bounds(&self) -> Option<Size<i32, Logical>> {
        self.outputs
            .slots
            .iter()
            .find(|s| s.enabled)
            .map(|o| self.usable_area(&o.output).size)
    }

    /// Where the next new window of `size` goes in the cascade, within what the panels of the
    /// first output that is on leave (xdg toplevels and X11 windows alike).
    pub(crate) fn next_cascade_position(
        &mut self,
        size: Size<i32, Logical>,
    ) -> Point<i32, Logical> {
        let area = self
            .outputs
            .slots
            .iter()
            .find(|s| s.enabled)
            .map(|o| self.usable_area(&o.output))
            .unwrap_or_else(|| Rectangle::from_size((1280, 720).into()));
        let position = area.loc + cascade_position(area.size, size, self.shell.placed);
        self.shell.placed += 1;
        position
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_window_is_centred() {
        let p = cascade_position((1280, 720).into(), (200, 100).into(), 0);
        assert_eq!((p.x, p.y), (540, 310));
    }

    #[test]
    fn later_windows_cascade() {
        let p = cascade_position((1280, 720).into(), (200, 100).into(), 2);
        assert_eq!((p.x, p.y), (540 + 64, 310 + 64));
    }

    #[test]
    fn cascade_wraps_before_leaving_the_output() {
        let out: Size<i32, Logical> = (400, 400).into();
        let size: Size<i32, Logical> = (300, 300).into();
        for i in 0..10 {
            let p = cascade_position(out, size, i);
            assert!(
                p.x + size.w <= out.w && p.y + size.h <= out.h,
                "window {i} at {p:?}"
            );
        }
    }

    #[test]
    fn oversized_window_starts_at_origin() {
        let p = cascade_position((100, 100).into(), (300, 300).into(), 0);
        assert_eq!((p.x, p.y), (0, 0));
    }
}
