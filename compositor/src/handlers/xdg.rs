//! xdg-shell: toplevels (placement, maximize, fullscreen) and popups.

use smithay::desktop::{PopupKind, Window};
use smithay::reexports::wayland_protocols::xdg::shell::server::{xdg_toplevel, xdg_wm_base};
use smithay::reexports::wayland_server::protocol::{wl_output, wl_seat, wl_surface::WlSurface};
use smithay::reexports::wayland_server::Resource;
use smithay::utils::{IsAlive, Serial};
use smithay::wayland::shell::xdg::{
    PopupSurface, PositionerState, ToplevelSurface, XdgShellHandler, XdgShellState,
};
use tracing::debug;
use weft_protocols::xdg_guard::{XdgGuardData, XdgGuardState};

use crate::Weft;

impl XdgGuardState for Weft {
    fn xdg_guard(&mut self) -> &mut XdgGuardData {
        &mut self.shell.xdg_guard
    }
}

impl XdgShellHandler for Weft {
    fn xdg_shell_state(&mut self) -> &mut XdgShellState {
        &mut self.shell.xdg_shell_state
    }

    fn client_pong(&mut self, client: smithay::wayland::shell::xdg::ShellClient) {
        self.shell.pings.pong(&client);
    }

    fn new_toplevel(&mut self, surface: ToplevelSurface) {
        self.shell
            .xdg_guard
            .role_object_created(surface.wl_surface());
        let bounds = self.toplevel_bounds();
        surface.with_pending_state(|s| s.bounds = bounds);
        self.shell
            .pending_windows
            .push(Window::new_wayland_window(surface));
    }

    fn new_popup(&mut self, surface: PopupSurface, positioner: PositionerState) {
        self.shell
            .xdg_guard
            .role_object_created(surface.wl_surface());
        surface.with_pending_state(|state| {
            state.geometry = positioner.get_geometry();
            state.positioner = positioner;
        });
        if let Err(e) = self.shell.popups.track_popup(PopupKind::Xdg(surface)) {
            debug!(error = ?e, "popup died before it was tracked");
        }
    }

    fn reposition_request(
        &mut self,
        surface: PopupSurface,
        positioner: PositionerState,
        token: u32,
    ) {
        surface.with_pending_state(|state| {
            state.geometry = positioner.get_geometry();
            state.positioner = positioner;
        });
        surface.send_repositioned(token);
        if let Ok(serial) = surface.send_configure() {
            self.shell
                .xdg_guard
                .configure_sent(surface.wl_surface(), serial.into());
        }
    }

    fn grab(&mut self, surface: PopupSurface, seat: wl_seat::WlSeat, serial: Serial) {
        self.grab_popup(surface, &seat, serial);
    }

    fn move_request(&mut self, surface: ToplevelSurface, _seat: wl_seat::WlSeat, serial: Serial) {
        self.start_window_drag(&surface.wl_surface().clone(), serial, None);
    }

    fn resize_request(
        &mut self,
        surface: ToplevelSurface,
        _seat: wl_seat::WlSeat,
        serial: Serial,
        edges: xdg_toplevel::ResizeEdge,
    ) {
        self.start_window_drag(&surface.wl_surface().clone(), serial, Some(edges));
    }

    fn maximize_request(&mut self, surface: ToplevelSurface) {
        self.unminimize_surface(surface.wl_surface());
        self.set_fill_state(&surface, xdg_toplevel::State::Maximized, true);
    }

    fn minimize_request(&mut self, surface: ToplevelSurface) {
        let window = self
            .shell
            .space
            .elements()
            .find(|w| w.toplevel().is_some_and(|t| t == &surface))
            .cloned();
        if let Some(window) = window {
            self.minimize(&window);
        }
    }

    fn unmaximize_request(&mut self, surface: ToplevelSurface) {
        self.set_fill_state(&surface, xdg_toplevel::State::Maximized, false);
    }

    fn fullscreen_request(
        &mut self,
        surface: ToplevelSurface,
        output: Option<wl_output::WlOutput>,
    ) {
        // The output it asks for, where weft has it ([`Weft::fill_area`]).
        surface.with_pending_state(|s| s.fullscreen_output = output);
        self.unminimize_surface(surface.wl_surface());
        self.set_fill_state(&surface, xdg_toplevel::State::Fullscreen, true);
    }

    fn unfullscreen_request(&mut self, surface: ToplevelSurface) {
        surface.with_pending_state(|s| s.fullscreen_output = None);
        self.set_fill_state(&surface, xdg_toplevel::State::Fullscreen, false);
    }

    fn toplevel_destroyed(&mut self, surface: ToplevelSurface) {
        self.shell
            .xdg_guard
            .role_object_destroyed(surface.wl_surface());
        self.shell
            .decorations
            .toplevel_destroyed(&surface.xdg_toplevel().id());
        self.shell
            .pending_windows
            .retain(|w| w.toplevel().is_some_and(|t| t != &surface));
        self.shell.minimized.prune();
        let gone: Vec<Window> = self
            .shell
            .space
            .elements()
            .filter(|w| w.toplevel().is_some_and(|t| t == &surface))
            .cloned()
            .collect();
        for w in gone {
            self.shell.space.unmap_elem(&w);
        }
        // The window that had the keyboard went: the topmost one left takes it.
        let focus_gone = self
            .input
            .seat
            .get_keyboard()
            .and_then(|k| k.current_focus())
            .map(crate::seat::focus::KeyboardFocus::into_surface)
            .is_some_and(|f| &f == surface.wl_surface() || !f.alive());
        if focus_gone {
            let top = self.shell.space.elements().last().cloned();
            self.focus_window(top);
        }
        self.damage();
        // As for popups: leave its wl_surface while it still exists.
        self.refresh_pointer_focus();
    }

    fn popup_destroyed(&mut self, surface: PopupSurface) {
        self.shell
            .xdg_guard
            .role_object_destroyed(surface.wl_surface());
        // xdg_popup.destroy: only the topmost popup of a chain may go; its children must go first.
        let has_live_child =
            self.shell.xdg_shell_state.popup_surfaces().iter().any(|p| {
                p.alive() && p.get_parent_surface().as_ref() == Some(surface.wl_surface())
            });
        if has_live_child {
            if let Some(client) = surface.wl_surface().client() {
                if let Some(wm_base) = self.shell.xdg_guard.wm_base_of(&client) {
                    wm_base.post_error(
                        xdg_wm_base::Error::NotTheTopmostPopup,
                        "xdg_popup destroyed while a child popup is still mapped",
                    );
                }
            }
        }
        self.damage();
        // Now, while its wl_surface still exists to be left: a client usually destroys that next,
        // in the same batch, and after that no wl_pointer.leave can name it.
        self.refresh_pointer_focus();
    }

    fn title_changed(&mut self, _surface: ToplevelSurface) {
        self.damage();
    }
}

impl Weft {
    /// The window (mapped or waiting for its first buffer) whose toplevel is `surface`.
    pub fn window_for_surface(&self, surface: &WlSurface) -> Option<Window> {
        self.shell
            .space
            .elements()
            .chain(self.shell.pending_windows.iter())
            .find(|w| match w.toplevel() {
                Some(t) => t.wl_surface() == surface,
                // An X11 window, by the surface Xwayland shows it with.
                None => self.window_surface(w).as_ref() == Some(surface),
            })
            .cloned()
    }

    /// Maximized and fullscreen toplevels fill the output; leaving the state restores the size the
    /// client chooses (an unset size in the configure).
    pub(crate) fn set_fill_state(
        &mut self,
        surface: &ToplevelSurface,
        which: xdg_toplevel::State,
        on: bool,
    ) {
        if on {
            surface.with_pending_state(|state| state.states.set(which));
        }
        let size = self.fill_area(surface).1;
        surface.with_pending_state(|state| {
            if on {
                state.size = size;
            } else {
                state.states.unset(which);
                let still_filled = state.states.contains(xdg_toplevel::State::Maximized)
                    || state.states.contains(xdg_toplevel::State::Fullscreen);
                if !still_filled {
                    state.size = None;
                }
            }
        });
        // Before the initial configure the state rides along with it (xdg-shell: a configure is
        // only sent in reply to the initial commit).
        if surface.is_initial_configure_sent() {
            self.shell.xdg_guard.send_configure(surface);
        }
    }

    /// On a toplevel's commit: answer the initial commit with a configure, and map the window on its
    /// first buffer.
    pub(crate) fn xdg_commit(&mut self, root: &WlSurface) {
        let Some(window) = self.window_for_surface(root) else {
            return;
        };
        let Some(toplevel) = window.toplevel().cloned() else {
            return;
        };
        if !toplevel.is_initial_configure_sent() {
            self.shell.xdg_guard.send_configure(&toplevel);
            // Under WLCS 1.5.0 only (see `Weft::accept_unconfigured_buffers`) the initial commit
            // may carry the first buffer, which then maps the window as a later commit would.
            if !self.shell.accept_unconfigured_buffers {
                return;
            }
        }
        let has_content = crate::surface::content_snapshot(root, |c| c.has_content());
        let mapped = self.shell.space.elements().any(|w| w == &window);
        if has_content && !mapped {
            self.shell.pending_windows.retain(|w| w != &window);
            let location = self.place_new_window(&window, &toplevel);
            self.shell.space.map_element(window.clone(), location, true);
            // A new toplevel takes the keyboard focus (crate::seat::input's focus policy).
            self.focus_window(Some(window));
            self.damage();
        } else if !has_content && mapped {
            // A null buffer unmaps; the next buffer maps it again, placed anew.
            self.shell.space.unmap_elem(&window);
            self.shell.pending_windows.push(window);
            self.damage();
        } else if mapped {
            self.resize_commit(&window, root);
            // Keep filled windows at their output's origin when their state changes.
            let filled = toplevel.with_pending_state(|s| {
                s.states.contains(xdg_toplevel::State::Maximized)
                    || s.states.contains(xdg_toplevel::State::Fullscreen)
            });
            let origin = self.fill_area(&toplevel).0;
            if filled && self.shell.space.element_location(&window) != Some(origin) {
                self.shell.space.map_element(window, origin, false);
                self.damage();
            }
        }
    }
}

impl weft_protocols::decoration::DecorationState for Weft {
    fn decorations(&mut self) -> &mut weft_protocols::decoration::DecorationData {
        &mut self.shell.decorations
    }

    fn toplevel_surface(&self, toplevel: &xdg_toplevel::XdgToplevel) -> Option<WlSurface> {
        self.shell
            .xdg_shell_state
            .get_toplevel(toplevel)
            .map(|t| t.wl_surface().clone())
    }

    fn decoration_configured(&mut self, toplevel: &xdg_toplevel::XdgToplevel) {
        if let Some(toplevel) = self.shell.xdg_shell_state.get_toplevel(toplevel) {
            if toplevel.is_initial_configure_sent() {
                self.shell.xdg_guard.send_configure(&toplevel);
            }
        }
    }
}

// zxdg_decoration_manager_v1: weft-protocols implements it (fixed policy: clients draw their own).
weft_protocols::delegate_decoration!(Weft);
