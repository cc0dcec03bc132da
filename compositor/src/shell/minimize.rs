//! Minimized windows (xdg_toplevel.set_minimized) and the suspended state (xdg_toplevel v6).
//!
//! A minimized window leaves the space: no output draws it and the keyboard goes to the window
//! under it. It stays in the window list (ext_foreign_toplevel_list_v1) and comes back where it
//! was, raised and focused, when it is activated (xdg_activation_v1), cycled to (the focus-next
//! and focus-previous bindings) or asks to be maximized or fullscreen.
//!
//! A toplevel is told it is `suspended` while nothing of it can be seen — minimized, on no
//! output that is on, or behind the lock screen — so it can stop drawing; the state goes as soon
//! as it can be seen again. Each change is one configure.

use smithay::desktop::Window;
use smithay::reexports::wayland_protocols::xdg::shell::server::xdg_toplevel;
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::utils::{IsAlive, Logical, Point};
use tracing::debug;

use crate::Weft;

/// The minimized windows, each with where it was.
#[derive(Default)]
pub struct Minimized {
    windows: Vec<(Window, Point<i32, Logical>)>,
}

impl Minimized {
    pub fn windows(&self) -> impl Iterator<Item = &Window> {
        self.windows.iter().map(|(w, _)| w)
    }

    /// The minimized window whose toplevel surface is `surface`.
    pub fn of_surface(&self, surface: &WlSurface) -> Option<Window> {
        self.windows()
            .find(|w| w.toplevel().is_some_and(|t| t.wl_surface() == surface))
            .cloned()
    }

    /// Forgets windows whose client destroyed them.
    pub fn prune(&mut self) {
        self.windows.retain(|(w, _)| w.alive());
    }
}

impl Weft {
    /// Minimizes `window`: out of the space, the keyboard to the topmost window left.
    pub(crate) fn minimize(&mut self, window: &Window) {
        let Some(at) = self.shell.space.element_location(window) else {
            return;
        };
        self.shell.space.unmap_elem(window);
        self.shell.minimized.windows.push((window.clone(), at));
        debug!("window minimized");
        let had_keyboard = self.window_surface(window).is_some_and(|s| {
            self.input
                .seat
                .get_keyboard()
                .and_then(|k| k.current_focus())
                .is_some_and(|f| f.surface() == &s)
        });
        if had_keyboard {
            let top = self.shell.space.elements().last().cloned();
            self.focus_window(top);
        }
        self.damage();
    }

    /// Brings minimized `window` back where it was, raised; `false` if it is not minimized.
    pub(crate) fn unminimize(&mut self, window: &Window) -> bool {
        let Some(i) = self
            .shell
            .minimized
            .windows
            .iter()
            .position(|(w, _)| w == window)
        else {
            return false;
        };
        let (window, at) = self.shell.minimized.windows.remove(i);
        self.shell.space.map_element(window, at, true);
        debug!("window restored");
        self.damage();
        true
    }

    /// Brings the minimized window of toplevel `surface` back, if it is one.
    pub(crate) fn unminimize_surface(&mut self, surface: &WlSurface) {
        if let Some(window) = self.shell.minimized.of_surface(surface) {
            self.unminimize(&window);
        }
    }

    /// Sets or clears `suspended` on every toplevel as whether any of it can be seen.
    pub(crate) fn refresh_suspended(&mut self) {
        let locked = self.lock.is_locked();
        let shown: Vec<_> = self
            .outputs
            .slots
            .iter()
            .filter(|s| s.enabled)
            .filter_map(|s| self.shell.space.output_geometry(&s.output))
            .collect();
        let visible = |w: &Window| {
            !locked
                && self
                    .shell
                    .space
                    .element_bbox(w)
                    .is_some_and(|b| shown.iter().any(|o| o.overlaps(b)))
        };
        let toplevels: Vec<_> = self
            .shell
            .space
            .elements()
            .map(|w| (w.clone(), visible(w)))
            .chain(self.shell.minimized.windows().map(|w| (w.clone(), false)))
            .filter_map(|(w, seen)| Some((w.toplevel()?.clone(), seen)))
            .collect();
        for (toplevel, seen) in toplevels {
            if !toplevel.is_initial_configure_sent() || !toplevel.alive() {
                continue;
            }
            let changed = toplevel.with_pending_state(|s| {
                if seen {
                    s.states.unset(xdg_toplevel::State::Suspended)
                } else {
                    s.states.set(xdg_toplevel::State::Suspended)
                }
            });
            // Only a client bound at v6 knows the state (smithay leaves it out for older ones).
            if changed && toplevel.version() >= 6 {
                debug!(suspended = !seen, "toplevel suspended state changed");
                self.shell.xdg_guard.send_configure(&toplevel);
            }
        }
    }
}
