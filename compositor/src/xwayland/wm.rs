//! The X11 window manager's policy (smithay's `X11Wm` runs the X protocol): X11 windows are
//! windows of weft's space like xdg toplevels — placed in the cascade, shown once Xwayland's
//! surface for them has a buffer, given the keyboard when shown or clicked, moved and resized
//! with the pointer — and override-redirect windows (menus, tooltips) are shown where the client
//! put them and never take the keyboard. The clipboard and the primary selection are bridged both
//! ways: an X11 client reads a Wayland selection through the window manager, and a Wayland client
//! an X11 one through weft's own data source.

use std::os::fd::OwnedFd;

use smithay::desktop::Window;
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::utils::{Logical, Rectangle};
use smithay::wayland::selection::data_device::{
    clear_data_device_selection, current_data_device_selection_userdata,
    request_data_device_client_selection, set_data_device_selection,
};
use smithay::wayland::selection::primary_selection::{
    clear_primary_selection, current_primary_selection_userdata, request_primary_client_selection,
    set_primary_selection,
};
use smithay::wayland::selection::SelectionTarget;
use smithay::wayland::xwayland_shell::{XWaylandShellHandler, XWaylandShellState};
use smithay::xwayland::xwm::{Reorder, ResizeEdge, XwmId};
use smithay::xwayland::{X11Surface, X11Wm, XwmHandler};
use tracing::{debug, warn};

use crate::Weft;

impl Weft {
    /// The wl_surface Xwayland shows `x11` with. Xwayland 23.1 and later name it through
    /// xwayland_shell_v1 and smithay records it; older ones (Debian bookworm's 22.1) send the
    /// surface's protocol id in a `WL_SURFACE_ID` message, which is looked up here among
    /// Xwayland's objects.
    #[allow(
        deprecated,
        reason = "WL_SURFACE_ID is what Xwayland before 23.1 (Debian bookworm's) sends"
    )]
    pub(crate) fn x11_surface_of(&self, x11: &X11Surface) -> Option<WlSurface> {
        if let Some(surface) = x11.wl_surface() {
            return Some(surface);
        }
        let id = x11.wl_surface_id()?;
        let client = self.xwayland.client()?;
        client
            .object_from_protocol_id::<WlSurface>(self.runtime.display_handle(), id)
            .ok()
    }

    /// The surface a window is drawn and hit with: an xdg toplevel's, or its X11 window's.
    pub(crate) fn window_surface(&self, window: &Window) -> Option<WlSurface> {
        match window.x11_surface() {
            Some(x11) => self.x11_surface_of(x11),
            None => window.toplevel().map(|t| t.wl_surface().clone()),
        }
    }

    /// The topmost window under `pos` and its location: smithay's hit test for xdg windows, the
    /// X11 window's rectangle for X11 windows (smithay cannot test a surface it was not told of).
    pub(crate) fn window_under(
        &self,
        pos: smithay::utils::Point<f64, Logical>,
    ) -> Option<(Window, smithay::utils::Point<i32, Logical>)> {
        let wayland = self
            .shell
            .space
            .element_under(pos)
            .map(|(w, at)| (w.clone(), at));
        for window in self.shell.space.elements().rev() {
            if wayland.as_ref().is_some_and(|(w, _)| w == window) {
                return wayland;
            }
            let Some(x11) = window.x11_surface() else {
                continue;
            };
            let Some(at) = self.shell.space.element_location(window) else {
                continue;
            };
            let rect = Rectangle::new(at, x11.geometry().size);
            if self.x11_surface_of(x11).is_some() && rect.to_f64().contains(pos) {
                return Some((window.clone(), at));
            }
        }
        wayland
    }

    /// The window of `x11` in the space, if it is shown.
    fn x11_window(&self, x11: &X11Surface) -> Option<Window> {
        self.shell
            .space
            .elements()
            .find(|w| w.x11_surface() == Some(x11))
            .cloned()
    }

    /// Per iteration: X11 windows waiting to be shown whose surface is known and has a buffer are
    /// shown (with Xwayland before 23.1 the surface may be named after its first commit).
    pub(crate) fn refresh_x11(&mut self) {
        let ready: Vec<_> = self
            .xwayland
            .pending
            .iter()
            .filter(|x| {
                self.x11_surface_of(x)
                    .is_some_and(|s| crate::surface::content_snapshot(&s, |c| c.has_content()))
            })
            .cloned()
            .collect();
        for x11 in ready {
            self.show_x11(x11);
        }
    }

    fn show_x11(&mut self, x11: X11Surface) {
        self.xwayland.pending.retain(|p| p != &x11);
        let window = Window::new_x11_window(x11.clone());
        let at = x11.geometry().loc;
        let managed = !x11.is_override_redirect();
        self.shell.space.map_element(window.clone(), at, managed);
        debug!(title = %x11.title(), class = %x11.class(), ?at, managed, "X11 window shown");
        if managed {
            if let Some(wm) = self.xwayland.wm() {
                let _ = wm.raise_window(&x11);
            }
            self.focus_window(Some(window));
        }
        self.damage();
    }

    /// Activation follows the keyboard: `_NET_WM_STATE_FOCUSED` on the X11 window that has it.
    pub(crate) fn activate_x11(&mut self, focused: Option<&WlSurface>) {
        for window in self.shell.space.elements() {
            if let Some(x11) = window.x11_surface() {
                let want = focused.is_some() && self.x11_surface_of(x11).as_ref() == focused;
                if x11.is_activated() != want {
                    let _ = x11.set_activated(want);
                }
            }
        }
    }

    /// Xwayland went: its windows go with it.
    pub(crate) fn forget_x11_windows(&mut self) {
        self.xwayland.pending.clear();
        let gone: Vec<_> = self
            .shell
            .space
            .elements()
            .filter(|w| w.is_x11())
            .cloned()
            .collect();
        for window in gone {
            self.shell.space.unmap_elem(&window);
        }
        self.damage();
    }

    fn remove_x11(&mut self, x11: &X11Surface) {
        self.xwayland.pending.retain(|p| p != x11);
        let Some(window) = self.x11_window(x11) else {
            return;
        };
        self.shell.space.unmap_elem(&window);
        let had_keyboard = self
            .input
            .seat
            .get_keyboard()
            .and_then(|k| k.current_focus())
            .is_some_and(|f| matches!(f, crate::seat::focus::KeyboardFocus::X11 { window, .. } if &window == x11));
        if had_keyboard {
            let top = self
                .shell
                .space
                .elements()
                .rfind(|w| {
                    !w.x11_surface()
                        .is_some_and(X11Surface::is_override_redirect)
                })
                .cloned();
            self.focus_window(top);
        }
        self.damage();
    }

    /// The first output's area, for fullscreen (whole) and maximized (what panels leave).
    fn x11_fill(&self, fullscreen: bool) -> Option<Rectangle<i32, Logical>> {
        let slot = self.outputs.slots.iter().find(|s| s.enabled)?;
        if fullscreen {
            self.shell.space.output_geometry(&slot.output)
        } else {
            Some(self.usable_area(&slot.output))
        }
    }

    /// Fullscreen or maximized on, or back to `restore` (where it was before).
    fn x11_fill_state(&mut self, x11: &X11Surface, fullscreen: bool, on: bool) {
        let set = if fullscreen {
            x11.set_fullscreen(on)
        } else {
            x11.set_maximized(on)
        };
        if let Err(e) = set {
            warn!(error = %e, "an X11 window's state could not be set");
            return;
        }
        let target = if on {
            let before = x11.geometry();
            x11.user_data()
                .insert_if_missing(|| std::cell::Cell::new(before));
            if let Some(cell) = x11
                .user_data()
                .get::<std::cell::Cell<Rectangle<i32, Logical>>>()
            {
                cell.set(before);
            }
            self.x11_fill(fullscreen)
        } else {
            x11.user_data()
                .get::<std::cell::Cell<Rectangle<i32, Logical>>>()
                .map(std::cell::Cell::get)
        };
        let Some(target) = target else {
            return;
        };
        let _ = x11.configure(target);
        if let Some(window) = self.x11_window(x11) {
            self.shell.space.map_element(window, target.loc, true);
        }
        self.damage();
    }

    fn selection_target_owned_by_x11(&self, target: SelectionTarget) -> bool {
        let seat = &self.input.seat;
        match target {
            SelectionTarget::Clipboard => current_data_device_selection_userdata(seat).is_some(),
            SelectionTarget::Primary => current_primary_selection_userdata(seat).is_some(),
        }
    }
}

impl XwmHandler for Weft {
    #[allow(
        clippy::expect_used,
        reason = "smithay asks only from the window manager's own callbacks, which exist only while it runs"
    )]
    fn xwm_state(&mut self, _xwm: XwmId) -> &mut X11Wm {
        self.xwayland.wm().expect("the X11 window manager runs")
    }

    fn new_window(&mut self, _xwm: XwmId, _window: X11Surface) {}

    fn new_override_redirect_window(&mut self, _xwm: XwmId, _window: X11Surface) {}

    fn map_window_request(&mut self, _xwm: XwmId, window: X11Surface) {
        debug!(title = %window.title(), "X11 window asks to be mapped");
        if let Err(e) = window.set_mapped(true) {
            warn!(error = %e, "an X11 window could not be mapped");
            return;
        }
        let size = window.geometry().size;
        let at = self.next_cascade_position(size);
        let _ = window.configure(Rectangle::new(at, size));
        // Shown once its surface has a buffer (x11_committed).
        if !self.xwayland.pending.contains(&window) {
            self.xwayland.pending.push(window);
        }
    }

    fn mapped_override_redirect_window(&mut self, _xwm: XwmId, window: X11Surface) {
        if !self.xwayland.pending.contains(&window) {
            self.xwayland.pending.push(window);
        }
    }

    fn unmapped_window(&mut self, _xwm: XwmId, window: X11Surface) {
        self.remove_x11(&window);
        if !window.is_override_redirect() {
            let _ = window.set_mapped(false);
        }
    }

    fn destroyed_window(&mut self, _xwm: XwmId, window: X11Surface) {
        self.remove_x11(&window);
    }

    fn configure_request(
        &mut self,
        _xwm: XwmId,
        window: X11Surface,
        x: Option<i32>,
        y: Option<i32>,
        w: Option<u32>,
        h: Option<u32>,
        _reorder: Option<Reorder>,
    ) {
        // Windows float: the size asked for is granted; where a shown window is stays weft's
        // (moves go through the pointer), an unshown one may still choose.
        let mut geo = window.geometry();
        if let Some(w) = w {
            geo.size.w = i32::try_from(w).unwrap_or(i32::MAX);
        }
        if let Some(h) = h {
            geo.size.h = i32::try_from(h).unwrap_or(i32::MAX);
        }
        if self.x11_window(&window).is_none() {
            geo.loc.x = x.unwrap_or(geo.loc.x);
            geo.loc.y = y.unwrap_or(geo.loc.y);
        }
        let _ = window.configure(geo);
    }

    fn configure_notify(
        &mut self,
        _xwm: XwmId,
        window: X11Surface,
        geometry: Rectangle<i32, Logical>,
        _above: Option<u32>,
    ) {
        // Override-redirect windows move themselves; the space follows them.
        let Some(element) = self.x11_window(&window) else {
            return;
        };
        if self.shell.space.element_location(&element) != Some(geometry.loc) {
            self.shell.space.map_element(element, geometry.loc, false);
        }
        self.damage();
    }

    fn maximize_request(&mut self, _xwm: XwmId, window: X11Surface) {
        self.x11_fill_state(&window, false, true);
    }

    fn unmaximize_request(&mut self, _xwm: XwmId, window: X11Surface) {
        self.x11_fill_state(&window, false, false);
    }

    fn fullscreen_request(&mut self, _xwm: XwmId, window: X11Surface) {
        self.x11_fill_state(&window, true, true);
    }

    fn unfullscreen_request(&mut self, _xwm: XwmId, window: X11Surface) {
        self.x11_fill_state(&window, true, false);
    }

    fn resize_request(&mut self, _xwm: XwmId, window: X11Surface, _button: u32, edge: ResizeEdge) {
        use smithay::reexports::wayland_protocols::xdg::shell::server::xdg_toplevel::ResizeEdge as Edge;
        let edges = match edge {
            ResizeEdge::Top => Edge::Top,
            ResizeEdge::Bottom => Edge::Bottom,
            ResizeEdge::Left => Edge::Left,
            ResizeEdge::Right => Edge::Right,
            ResizeEdge::TopLeft => Edge::TopLeft,
            ResizeEdge::TopRight => Edge::TopRight,
            ResizeEdge::BottomLeft => Edge::BottomLeft,
            ResizeEdge::BottomRight => Edge::BottomRight,
        };
        self.x11_drag(&window, Some(edges));
    }

    fn move_request(&mut self, _xwm: XwmId, window: X11Surface, _button: u32) {
        self.x11_drag(&window, None);
    }

    fn allow_selection_access(&mut self, _xwm: XwmId, _selection: SelectionTarget) -> bool {
        // As for Wayland clients: only while an X11 window has the keyboard.
        self.input
            .seat
            .get_keyboard()
            .and_then(|k| k.current_focus())
            .is_some_and(|f| matches!(f, crate::seat::focus::KeyboardFocus::X11 { .. }))
    }

    fn send_selection(
        &mut self,
        _xwm: XwmId,
        selection: SelectionTarget,
        mime_type: String,
        fd: OwnedFd,
    ) {
        let seat = &self.input.seat;
        let sent = match selection {
            SelectionTarget::Clipboard => {
                request_data_device_client_selection(seat, mime_type, fd).map_err(|e| e.to_string())
            }
            SelectionTarget::Primary => {
                request_primary_client_selection(seat, mime_type, fd).map_err(|e| e.to_string())
            }
        };
        if let Err(e) = sent {
            debug!(error = %e, "an X11 client asked for a selection no Wayland client holds");
        }
    }

    fn new_selection(&mut self, _xwm: XwmId, selection: SelectionTarget, mime_types: Vec<String>) {
        debug!(?selection, ?mime_types, "X11 selection set");
        // No Wayland source holds it now: the one it replaces may die without clearing it.
        let target = match selection {
            SelectionTarget::Clipboard => weft_protocols::selection_guard::Target::Clipboard,
            SelectionTarget::Primary => weft_protocols::selection_guard::Target::Primary,
        };
        self.input
            .data_transfer
            .guard
            .selection_changed(target, false);
        *self.input.data_transfer.wayland_offer_mut(target) = None;
        let dh = self.runtime.display_handle().clone();
        let seat = self.input.seat.clone();
        match selection {
            SelectionTarget::Clipboard => set_data_device_selection(&dh, &seat, mime_types, ()),
            SelectionTarget::Primary => set_primary_selection(&dh, &seat, mime_types, ()),
        }
    }

    fn cleared_selection(&mut self, _xwm: XwmId, selection: SelectionTarget) {
        // Only an X11 selection is cleared: a Wayland client's set since then stays.
        if !self.selection_target_owned_by_x11(selection) {
            return;
        }
        let dh = self.runtime.display_handle().clone();
        let seat = self.input.seat.clone();
        match selection {
            SelectionTarget::Clipboard => clear_data_device_selection(&dh, &seat),
            SelectionTarget::Primary => clear_primary_selection(&dh, &seat),
        }
    }

    fn disconnected(&mut self, _xwm: XwmId) {
        // Torn down after this callback (the window manager's source cannot drop itself).
        self.runtime
            .loop_handle()
            .insert_idle(|weft| weft.xwayland_gone());
    }
}

impl Weft {
    /// `_NET_WM_MOVERESIZE` from an X11 window, while a button is held: the same drag as an xdg
    /// toplevel's, started from the pointer's press.
    fn x11_drag(
        &mut self,
        x11: &X11Surface,
        edges: Option<
            smithay::reexports::wayland_protocols::xdg::shell::server::xdg_toplevel::ResizeEdge,
        >,
    ) {
        let Some(window) = self.x11_window(x11) else {
            return;
        };
        self.start_drag(window, None, edges);
    }
}

impl XWaylandShellHandler for Weft {
    fn xwayland_shell_state(&mut self) -> &mut XWaylandShellState {
        &mut self.xwayland.shell
    }
}

smithay::delegate_xwayland_shell!(Weft);
