//! Input from a backend to clients, through smithay's seat: the pointer goes to the surface under it
//! (`Space::element_under`, then the window's own surface tree and popups), the keyboard to the
//! focused toplevel. Every event gets a fresh serial from smithay's counter.
//!
//! Touch points go to the surface under them when they go down and stay with it until they go up
//! (smithay's default touch grab), each event followed by wl_touch.frame.
//!
//! Focus policy: a toplevel takes the keyboard focus when it is mapped and when it is clicked or
//! touched (and is raised); a click or touch on the background clears the focus. The focused
//! toplevel, and only it, is in xdg_toplevel's `activated` state. Backends translate
//! their events into these calls and know nothing of surfaces.
//!
//! [`InjectedInput`] is input with no device behind it: the headless backend feeds it in for tests
//! and the WLCS conformance shim, through the same calls a device backend makes.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use smithay::backend::input::{Axis, AxisSource, ButtonState, KeyState, Keycode, TouchSlot};
use smithay::desktop::{Window, WindowSurfaceType};
use smithay::input::pointer::{AxisFrame, ButtonEvent, MotionEvent};
use smithay::input::touch::{DownEvent, MotionEvent as TouchMotionEvent, UpEvent};
use smithay::reexports::wayland_protocols::xdg::shell::server::xdg_toplevel;
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::utils::{IsAlive, Logical, Point, SERIAL_COUNTER};

use crate::Weft;

/// Linux input event codes of the pointer buttons (linux/input-event-codes.h), as wl_pointer sends.
pub mod buttons {
    pub const LEFT: u32 = 0x110;
    pub const RIGHT: u32 = 0x111;
    pub const MIDDLE: u32 = 0x112;
    pub const SIDE: u32 = 0x113;
    pub const EXTRA: u32 = 0x114;
}

/// A scroll: continuous (touchpads: logical pixels) or in wheel detents.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scroll {
    Pixels { dx: f64, dy: f64 },
    Lines { dx: f64, dy: f64 },
}

/// One input event with no device behind it (tests, the WLCS shim). Positions are global logical
/// coordinates, keys evdev codes (linux/input-event-codes.h), buttons as in [`buttons`], touch
/// points by slot (any number the caller keeps stable from down to up).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum InjectedInput {
    /// The pointer moves to (x, y).
    PointerMotion {
        x: f64,
        y: f64,
    },
    /// The pointer moves by (dx, dy) from where it is.
    PointerMotionRelative {
        dx: f64,
        dy: f64,
    },
    PointerButton {
        button: u32,
        pressed: bool,
    },
    PointerAxis(Scroll),
    Key {
        code: u32,
        pressed: bool,
    },
    TouchDown {
        slot: u32,
        x: f64,
        y: f64,
    },
    TouchMotion {
        slot: u32,
        x: f64,
        y: f64,
    },
    TouchUp {
        slot: u32,
    },
    /// Every touch point is taken back (wl_touch.cancel).
    TouchCancel,
}

/// Seat user data: the pointer is outside weft's area (see `Weft::pointer_outside`).
struct PointerOutside(AtomicBool);

/// Seat user data: the toplevel surface the last `focus_window` gave the keyboard to.
struct FocusedWindow(Mutex<Option<WlSurface>>);

/// Seat user data: where the last pointer event went (surface, its origin in global coordinates),
/// so that a scene change that moves the surface under a resting pointer is noticed.
struct PointerTarget(Mutex<Option<(WlSurface, Point<f64, Logical>)>>);

/// Seat user data: the surface each touch point went down on, by slot, so a point whose surface
/// is destroyed can be lifted (wl_touch.up) rather than left down forever.
struct TouchPoints(Mutex<std::collections::HashMap<u32, WlSurface>>);

/// evdev key codes are XKB keycodes minus 8 (the X11 offset xkbcommon keeps).
const XKB_KEYCODE_OFFSET: u32 = 8;

/// How far one wheel detent scrolls, in logical pixels (what libinput reports for a click).
const WHEEL_STEP: f64 = 15.0;

impl Weft {
    /// The surface under `pos` (global logical coordinates) and that surface's origin, topmost first.
    pub fn surface_under(
        &self,
        pos: Point<f64, Logical>,
    ) -> Option<(WlSurface, Point<f64, Logical>)> {
        // smithay returns the render location: where the toplevel's surface origin is, its window
        // geometry offset already taken off (subtracting it again put the pointer off by that
        // offset on every window with client-side shadows; found by WLCS).
        if self.lock.is_locked() {
            return self.lock_surface_under(pos);
        }
        // Front to back: the top and overlay layers, the windows, the bottom and background.
        if let Some((surface, at, _)) = self.layer_surface_under(pos, &crate::shell::layers::ABOVE)
        {
            return Some((surface, at));
        }
        if let Some((window, origin)) = self.window_under(pos) {
            if window.is_x11() {
                return self
                    .window_surface(&window)
                    .map(|surface| (surface, origin.to_f64()));
            }
            if let Some((surface, offset)) =
                window.surface_under(pos - origin.to_f64(), WindowSurfaceType::ALL)
            {
                return Some((surface, (origin + offset).to_f64()));
            }
        }
        self.layer_surface_under(pos, &crate::shell::layers::BELOW)
            .map(|(surface, at, _)| (surface, at))
    }

    /// Gives the keyboard to `window`'s toplevel and raises it; `None` clears the focus.
    pub fn focus_window(&mut self, window: Option<Window>) {
        if window
            .as_ref()
            .and_then(Window::x11_surface)
            .is_some_and(smithay::xwayland::X11Surface::is_override_redirect)
        {
            // X11 menus and tooltips never take the keyboard from their window.
            return;
        }
        // A minimized window given the keyboard (cycled to, activated) comes back first.
        if let Some(w) = &window {
            self.unminimize(w);
        }
        let focus = window.as_ref().and_then(|w| {
            let surface = self.window_surface(w)?;
            Some(match w.x11_surface() {
                Some(x11) => crate::seat::focus::KeyboardFocus::X11 {
                    window: x11.clone(),
                    surface,
                },
                None => surface.into(),
            })
        });
        let surface = focus.as_ref().map(|f| f.surface().clone());
        if let Some(w) = &window {
            self.shell.space.raise_element(w, true);
            self.damage();
        }
        if self.lock.is_locked() || self.exclusive_layer().is_some() {
            // A panel, launcher or lock with exclusive keyboard interactivity keeps it.
            return;
        }
        self.dismiss_popups_leaving(surface.as_ref());
        self.set_activated(surface.as_ref());
        *self
            .input
            .seat
            .user_data()
            .get_or_insert_threadsafe(|| FocusedWindow(Mutex::new(None)))
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = surface.clone();
        if let Some(keyboard) = self.input.seat.get_keyboard() {
            keyboard.set_focus(self, focus, SERIAL_COUNTER.next_serial());
        }
    }

    /// Per iteration: when the window that was given the keyboard is gone (its surface destroyed,
    /// whatever became of its role object), the topmost window left takes the keyboard.
    pub(crate) fn refresh_keyboard_focus(&mut self) {
        let gone = self
            .input
            .seat
            .user_data()
            .get::<FocusedWindow>()
            .and_then(|f| {
                f.0.lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .as_ref()
                    .map(|s| !s.alive())
            })
            .unwrap_or(false);
        if gone {
            self.focus_topmost_except(None);
        }
    }

    /// `surface` is being destroyed: if it is the window with the keyboard, the topmost other
    /// window takes it now (not at the end of the loop iteration: the client that destroyed it may
    /// be waiting on a roundtrip to see the focus move).
    pub(crate) fn keyboard_surface_destroyed(&mut self, surface: &WlSurface) {
        let was_focused = self
            .input
            .seat
            .user_data()
            .get::<FocusedWindow>()
            .is_some_and(|f| {
                f.0.lock().unwrap_or_else(|p| p.into_inner()).as_ref() == Some(surface)
            });
        if was_focused {
            self.focus_topmost_except(Some(surface));
        }
    }

    /// Gives the keyboard to the topmost live window other than `except`.
    fn focus_topmost_except(&mut self, except: Option<&WlSurface>) {
        let top = self
            .shell
            .space
            .elements()
            .rev()
            .find(|w| {
                w.toplevel().is_some_and(|t| {
                    t.alive() && t.wl_surface().alive() && Some(t.wl_surface()) != except
                })
            })
            .cloned();
        self.focus_window(top);
    }

    /// xdg_toplevel's `activated` state follows the keyboard focus: the focused toplevel has it,
    /// no other does. A toplevel whose state changes is reconfigured (once its initial configure
    /// went out; before that the state rides along with it).
    pub(crate) fn set_activated(&mut self, focused: Option<&WlSurface>) {
        let toplevels = self.toplevels();
        for toplevel in toplevels {
            let want = Some(toplevel.wl_surface()) == focused;
            toplevel.with_pending_state(|s| {
                if want {
                    s.states.set(xdg_toplevel::State::Activated);
                } else {
                    s.states.unset(xdg_toplevel::State::Activated);
                }
            });
            // Compared with the last configure sent, not the pending state: smithay's
            // `Space::raise_element(_, true)` already changes the pending state, sending nothing.
            if toplevel.is_initial_configure_sent() && toplevel.has_pending_changes() {
                self.shell.xdg_guard.send_configure(&toplevel);
            }
        }
        self.activate_x11(focused);
    }

    /// The pointer moved to `pos` (global logical coordinates) by an absolute device (a nested
    /// window's pointer, a tablet, a touchscreen-like pointer): enter/leave/motion to the surface
    /// under it, then a frame.
    pub fn pointer_motion(&mut self, pos: Point<f64, Logical>, time_ms: u32) {
        self.pointer_moved(pos, None, time_ms);
        self.cursor_moved();
    }

    /// A relative pointer device moved by `delta` (`unaccel` before the device's acceleration) to
    /// `pos`: the motion, and the relative motion clients of zwp_relative_pointer_v1 are told of.
    pub fn pointer_motion_relative(
        &mut self,
        pos: Point<f64, Logical>,
        delta: Point<f64, Logical>,
        unaccel: Point<f64, Logical>,
        time_ms: u32,
    ) {
        self.pointer_moved(pos, Some((delta, unaccel)), time_ms);
        self.cursor_moved();
    }

    fn pointer_moved(
        &mut self,
        pos: Point<f64, Logical>,
        relative: Option<(Point<f64, Logical>, Point<f64, Logical>)>,
        time_ms: u32,
    ) {
        self.idle_activity();
        let Some(pointer) = self.input.seat.get_pointer() else {
            return;
        };
        self.pointer_outside().store(false, Ordering::Relaxed);
        // Where the pointer goes depends on an active lock or confinement
        // (crate::seat::pointer_constraints); the relative motion is the device's, whatever it is.
        let focus = self.pointer_focus();
        let wanted = pos;
        let pos = self.constrained(&pointer, focus.as_ref(), pos);
        let under = self.surface_under(pos);
        // A relative device held by a lock (or at a confinement's edge) moves nothing: only the
        // relative motion is told. (A motion that stays put for another reason — clamped to the
        // outputs' edge — is still a motion event, as it always was.)
        let held = relative.is_some()
            && pos != wanted
            && pos == pointer.current_location()
            && under == focus;
        if !held {
            *self
                .pointer_target()
                .0
                .lock()
                .unwrap_or_else(|p| p.into_inner()) = under.clone();
            pointer.motion(
                self,
                under.clone(),
                &MotionEvent {
                    location: pos,
                    serial: SERIAL_COUNTER.next_serial(),
                    time: time_ms,
                },
            );
        }
        self.after_motion(&pointer, under, relative, time_ms);
        pointer.frame(self);
        if self.input.data_transfer.drag_icon().is_some() {
            // The drag icon follows the pointer.
            self.damage();
        }
    }

    /// The scene changed under a resting pointer (a surface mapped, grew, shrank, moved or went
    /// away): if another surface is under it now, or the same one moved, enter/leave/motion as if
    /// the pointer had moved there. A held button keeps its surface (the implicit grab).
    pub fn refresh_pointer_focus(&mut self) {
        let Some(pointer) = self.input.seat.get_pointer() else {
            return;
        };
        if pointer.is_grabbed() || self.pointer_outside().load(Ordering::Relaxed) {
            return;
        }
        let pos = pointer.current_location();
        let under = self.surface_under(pos);
        if under
            == *self
                .pointer_target()
                .0
                .lock()
                .unwrap_or_else(|p| p.into_inner())
        {
            return;
        }
        let time = self.input_time_ms();
        // Not the user moving a pointer: the cursor does not show for this.
        self.pointer_moved(pos, None, time);
    }

    /// The surface that has the pointer and its origin (global), as the last pointer event left it.
    pub(crate) fn pointer_focus(&self) -> Option<(WlSurface, Point<f64, Logical>)> {
        self.pointer_target()
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The surface and its origin that the last pointer event went to. Kept in the seat's user
    /// data.
    fn pointer_target(&self) -> &PointerTarget {
        self.input
            .seat
            .user_data()
            .get_or_insert_threadsafe(|| PointerTarget(Mutex::new(None)))
    }

    /// Set while the pointer is outside weft's area (a nested window's pointer went elsewhere):
    /// then nothing is under it, whatever the scene does. Kept in the seat's user data.
    fn pointer_outside(&self) -> &AtomicBool {
        &self
            .input
            .seat
            .user_data()
            .get_or_insert_threadsafe(|| PointerOutside(AtomicBool::new(false)))
            .0
    }

    /// The pointer left weft's area (a nested window's pointer went elsewhere): wl_pointer.leave.
    pub fn pointer_leave(&mut self, time_ms: u32) {
        let Some(pointer) = self.input.seat.get_pointer() else {
            return;
        };
        self.pointer_outside().store(true, Ordering::Relaxed);
        *self
            .pointer_target()
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = None;
        let location = pointer.current_location();
        pointer.motion(
            self,
            None,
            &MotionEvent {
                location,
                serial: SERIAL_COUNTER.next_serial(),
                time: time_ms,
            },
        );
        pointer.frame(self);
    }

    /// A pointer button (a Linux event code, see [`buttons`]). A press focuses the window under the
    /// pointer, or clears the focus over the background.
    pub fn pointer_button(&mut self, button: u32, pressed: bool, time_ms: u32) {
        self.idle_activity();
        let Some(pointer) = self.input.seat.get_pointer() else {
            return;
        };
        if pressed && !pointer.is_grabbed() && self.lock.is_locked() {
            // Locked: a click gives the keyboard to the lock surface under it.
            let pos = pointer.current_location();
            if let Some((surface, _)) = self.lock_surface_under(pos) {
                if let Some(keyboard) = self.input.seat.get_keyboard() {
                    keyboard.set_focus(self, Some(surface.into()), SERIAL_COUNTER.next_serial());
                }
            }
        } else if pressed && !pointer.is_grabbed() {
            let pos = pointer.current_location();
            let above = self.layer_surface_under(pos, &crate::shell::layers::ABOVE);
            let below = || self.layer_surface_under(pos, &crate::shell::layers::BELOW);
            match above {
                // A click on a layer that takes the keyboard on demand gives it the keyboard.
                Some((_, _, layer)) => {
                    if layer.can_receive_keyboard_focus() && self.exclusive_layer().is_none() {
                        self.focus_surface(Some(layer.wl_surface().clone()));
                    }
                }
                None => match self.window_under(pos).map(|(w, _)| w) {
                    Some(window) => self.focus_window(Some(window)),
                    None => match below() {
                        Some((_, _, layer)) if layer.can_receive_keyboard_focus() => {
                            if self.exclusive_layer().is_none() {
                                self.focus_surface(Some(layer.wl_surface().clone()));
                            }
                        }
                        _ => self.focus_window(None),
                    },
                },
            }
        }
        pointer.button(
            self,
            &ButtonEvent {
                serial: SERIAL_COUNTER.next_serial(),
                time: time_ms,
                button,
                state: if pressed {
                    ButtonState::Pressed
                } else {
                    ButtonState::Released
                },
            },
        );
        pointer.frame(self);
    }

    /// A scroll, as one axis frame.
    pub fn pointer_axis(&mut self, scroll: Scroll, time_ms: u32) {
        self.idle_activity();
        let Some(pointer) = self.input.seat.get_pointer() else {
            return;
        };
        let mut frame = AxisFrame::new(time_ms);
        match scroll {
            Scroll::Pixels { dx, dy } => {
                frame = frame.source(AxisSource::Finger);
                if dx != 0.0 {
                    frame = frame.value(Axis::Horizontal, dx);
                }
                if dy != 0.0 {
                    frame = frame.value(Axis::Vertical, dy);
                }
            }
            Scroll::Lines { dx, dy } => {
                frame = frame.source(AxisSource::Wheel);
                if dx != 0.0 {
                    frame = frame
                        .value(Axis::Horizontal, dx * WHEEL_STEP)
                        .v120(Axis::Horizontal, (dx * 120.0) as i32);
                }
                if dy != 0.0 {
                    frame = frame
                        .value(Axis::Vertical, dy * WHEEL_STEP)
                        .v120(Axis::Vertical, (dy * 120.0) as i32);
                }
            }
        }
        pointer.axis(self, frame);
        pointer.frame(self);
    }

    /// A key, by its XKB keycode (evdev code + 8), to the focused surface. Modifiers are tracked by
    /// smithay's keymap state and sent as wl_keyboard.modifiers.
    pub fn keyboard_key(&mut self, keycode: u32, pressed: bool, time_ms: u32) {
        self.idle_activity();
        let Some(keyboard) = self.input.seat.get_keyboard() else {
            return;
        };
        let state = if pressed {
            KeyState::Pressed
        } else {
            KeyState::Released
        };
        // Key bindings see the key first ([`crate::config::apply`]).
        let action = keyboard.input::<Option<crate::config::bindings::Action>, _>(
            self,
            Keycode::new(keycode),
            state,
            SERIAL_COUNTER.next_serial(),
            time_ms,
            |weft, mods, handle| weft.binding_filter(keycode, pressed, mods, &handle),
        );
        if let Some(Some(action)) = action {
            self.run_action(action);
        }
    }

    /// Delivers one injected event as a device backend would, timestamped now.
    pub fn inject(&mut self, input: InjectedInput) {
        let time = self.input_time_ms();
        match input {
            InjectedInput::PointerMotion { x, y } => self.pointer_motion((x, y).into(), time),
            InjectedInput::PointerMotionRelative { dx, dy } => {
                let Some(pointer) = self.input.seat.get_pointer() else {
                    return;
                };
                let delta = Point::from((dx, dy));
                let to = pointer.current_location() + delta;
                self.pointer_motion_relative(to, delta, delta, time);
            }
            InjectedInput::PointerButton { button, pressed } => {
                self.pointer_button(button, pressed, time)
            }
            InjectedInput::PointerAxis(scroll) => self.pointer_axis(scroll, time),
            InjectedInput::Key { code, pressed } => {
                self.keyboard_key(code + XKB_KEYCODE_OFFSET, pressed, time)
            }
            InjectedInput::TouchDown { slot, x, y } => self.touch_down(slot, (x, y).into(), time),
            InjectedInput::TouchMotion { slot, x, y } => {
                self.touch_motion(slot, (x, y).into(), time)
            }
            InjectedInput::TouchUp { slot } => self.touch_up(slot, time),
            InjectedInput::TouchCancel => self.touch_cancel(),
        }
    }

    /// A touch point goes down at `pos`: it belongs to the surface under it until it goes up. Like a
    /// click, it focuses and raises the window under it (or clears the focus over the background).
    pub fn touch_down(&mut self, slot: u32, pos: Point<f64, Logical>, time_ms: u32) {
        self.idle_activity();
        let Some(touch) = self.input.seat.get_touch() else {
            return;
        };
        if !touch.is_grabbed() {
            let window = self.window_under(pos).map(|(w, _)| w);
            self.focus_window(window);
        }
        let under = self.surface_under(pos);
        if let Some((surface, _)) = &under {
            self.touch_points()
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(slot, surface.clone());
        }
        touch.down(
            self,
            under,
            &DownEvent {
                slot: TouchSlot::from(Some(slot)),
                location: pos,
                serial: SERIAL_COUNTER.next_serial(),
                time: time_ms,
            },
        );
        touch.frame(self);
    }

    /// A touch point moves to `pos`; the surface it went down on receives the motion.
    pub fn touch_motion(&mut self, slot: u32, pos: Point<f64, Logical>, time_ms: u32) {
        self.idle_activity();
        let Some(touch) = self.input.seat.get_touch() else {
            return;
        };
        let under = self.surface_under(pos);
        touch.motion(
            self,
            under,
            &TouchMotionEvent {
                slot: TouchSlot::from(Some(slot)),
                location: pos,
                time: time_ms,
            },
        );
        touch.frame(self);
    }

    /// A touch point lifts.
    pub fn touch_up(&mut self, slot: u32, time_ms: u32) {
        self.idle_activity();
        let Some(touch) = self.input.seat.get_touch() else {
            return;
        };
        self.touch_points()
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&slot);
        touch.up(
            self,
            &UpEvent {
                slot: TouchSlot::from(Some(slot)),
                serial: SERIAL_COUNTER.next_serial(),
                time: time_ms,
            },
        );
        touch.frame(self);
    }

    /// Every touch point is taken back from its client (wl_touch.cancel).
    pub fn touch_cancel(&mut self) {
        self.touch_points()
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        if let Some(touch) = self.input.seat.get_touch() {
            touch.cancel(self);
        }
    }

    /// `surface` is being destroyed: every touch point that went down on it lifts (wl_touch.up),
    /// as if the finger had left, so its client does not wait for an up that never comes.
    pub fn touch_surface_destroyed(&mut self, surface: &WlSurface) {
        let slots: Vec<u32> = self
            .touch_points()
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter(|(_, s)| *s == surface)
            .map(|(slot, _)| *slot)
            .collect();
        let time = self.input_time_ms();
        for slot in slots {
            self.touch_up(slot, time);
        }
    }

    fn touch_points(&self) -> &Mutex<std::collections::HashMap<u32, WlSurface>> {
        &self
            .input
            .seat
            .user_data()
            .get_or_insert_threadsafe(|| TouchPoints(Mutex::new(Default::default())))
            .0
    }

    /// Milliseconds for input event timestamps (the presentation clock, truncated as wl_pointer and
    /// wl_keyboard want).
    pub fn input_time_ms(&self) -> u32 {
        self.outputs.clock.now().as_millis() as u32
    }
}
