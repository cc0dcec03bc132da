//! Interactive move and resize (`xdg_toplevel.move` / `.resize`): a pointer or touch grab that the
//! client asks for with the serial of the press that started it (a title bar or border drag in
//! its own decorations).
//!
//! While the grab lasts no surface has the pointer (or the touch point): the client gets
//! `wl_pointer.leave`, as on every compositor that moves windows itself. A move follows the pointer
//! with the window; a resize asks the client for sizes (configure with the `resizing` state and the
//! size, within its min/max size) and, for the left and top edges, keeps the opposite edge in place
//! when the client's new size arrives ([`Weft::resize_commit`]). Releasing the button (lifting the
//! finger) ends the grab; a resize then sends a configure without `resizing`.
//! Maximized and fullscreen windows are not moved or resized.

use std::sync::Mutex;

use smithay::desktop::Window;
use smithay::input::pointer::{
    AxisFrame, ButtonEvent, GestureHoldBeginEvent, GestureHoldEndEvent, GesturePinchBeginEvent,
    GesturePinchEndEvent, GesturePinchUpdateEvent, GestureSwipeBeginEvent, GestureSwipeEndEvent,
    GestureSwipeUpdateEvent, GrabStartData as PointerGrabStartData, MotionEvent, PointerGrab,
    PointerInnerHandle, RelativeMotionEvent,
};
use smithay::input::touch::{
    DownEvent, GrabStartData as TouchGrabStartData, MotionEvent as TouchMotionEvent,
    OrientationEvent, ShapeEvent, TouchGrab, TouchInnerHandle, UpEvent,
};
use smithay::input::SeatHandler;
use smithay::reexports::wayland_protocols::xdg::shell::server::xdg_toplevel::{self, ResizeEdge};
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::utils::{IsAlive, Logical, Point, Rectangle, Serial, Size};
use smithay::wayland::compositor::with_states;
use smithay::wayland::shell::xdg::SurfaceCachedState;

use crate::Weft;

/// What a grab does to its window.
#[derive(Debug, Clone, Copy)]
enum Drag {
    Move,
    Resize {
        edges: ResizeEdge,
        size: Size<i32, Logical>,
    },
}

/// The part of a move or resize that does not depend on the input device.
struct WindowDrag {
    window: Window,
    drag: Drag,
    /// Where the pointer (touch point) was when the grab started, and the window then.
    start: Point<f64, Logical>,
    origin: Point<i32, Logical>,
}

/// A resize under way or just ended, kept in the toplevel's surface data: on each commit of a
/// resize from the left or top, the window moves so that the opposite edge stays where it was.
#[derive(Debug, Clone, Copy)]
struct ResizeAnchor {
    edges: ResizeEdge,
    origin: Point<i32, Logical>,
    size: Size<i32, Logical>,
    /// The grab ended: the anchor is dropped at the next commit.
    ended: bool,
}

#[derive(Default)]
struct ResizeAnchorData(Mutex<Option<ResizeAnchor>>);

fn has(edges: ResizeEdge, edge: ResizeEdge) -> bool {
    (edges as u32) & (edge as u32) != 0
}

fn set_anchor(surface: &WlSurface, anchor: Option<ResizeAnchor>) {
    with_states(surface, |states| {
        let data = states
            .data_map
            .get_or_insert_threadsafe(ResizeAnchorData::default);
        *data.0.lock().unwrap_or_else(|p| p.into_inner()) = anchor;
    });
}

fn anchor(surface: &WlSurface) -> Option<ResizeAnchor> {
    with_states(surface, |states| {
        states
            .data_map
            .get::<ResizeAnchorData>()
            .and_then(|d| *d.0.lock().unwrap_or_else(|p| p.into_inner()))
    })
}

/// The size a resize by `delta` from `edges` asks for, within the client's min and max size
/// (0: no bound) and at least 1×1.
pub fn resized(
    size: Size<i32, Logical>,
    edges: ResizeEdge,
    delta: Point<i32, Logical>,
    min: Size<i32, Logical>,
    max: Size<i32, Logical>,
) -> Size<i32, Logical> {
    let mut w = size.w;
    let mut h = size.h;
    if has(edges, ResizeEdge::Left) {
        w -= delta.x;
    } else if has(edges, ResizeEdge::Right) {
        w += delta.x;
    }
    if has(edges, ResizeEdge::Top) {
        h -= delta.y;
    } else if has(edges, ResizeEdge::Bottom) {
        h += delta.y;
    }
    let clamp = |v: i32, lo: i32, hi: i32| {
        let v = v.max(lo.max(1));
        if hi > 0 {
            v.min(hi.max(lo.max(1)))
        } else {
            v
        }
    };
    (clamp(w, min.w, max.w), clamp(h, min.h, max.h)).into()
}

impl WindowDrag {
    fn update(&self, weft: &mut Weft, location: Point<f64, Logical>) {
        if !self.window.alive() {
            return;
        }
        let delta = (location - self.start).to_i32_round();
        match self.drag {
            Drag::Move => {
                let at = self.origin + delta;
                weft.shell.space.map_element(self.window.clone(), at, true);
                if let Some(x11) = self.window.x11_surface() {
                    // X11 windows are told where they are (their menus open relative to it).
                    let _ = x11.configure(Rectangle::new(at, x11.geometry().size));
                }
                weft.damage();
            }
            Drag::Resize { edges, size } if self.window.is_x11() => {
                let Some(x11) = self.window.x11_surface() else {
                    return;
                };
                let min = x11.min_size().unwrap_or_default();
                let max = x11.max_size().unwrap_or_default();
                let new = resized(size, edges, delta, min, max);
                // The edge opposite the dragged one stays put.
                let mut at = self.origin;
                if has(edges, ResizeEdge::Left) {
                    at.x += size.w - new.w;
                }
                if has(edges, ResizeEdge::Top) {
                    at.y += size.h - new.h;
                }
                let _ = x11.configure(Rectangle::new(at, new));
                weft.shell.space.map_element(self.window.clone(), at, true);
                weft.damage();
            }
            Drag::Resize { edges, size } => {
                let Some(toplevel) = self.window.toplevel() else {
                    return;
                };
                let (min, max) = with_states(toplevel.wl_surface(), |states| {
                    let mut cached = states.cached_state.get::<SurfaceCachedState>();
                    let current = cached.current();
                    (current.min_size, current.max_size)
                });
                let new = resized(size, edges, delta, min, max);
                toplevel.with_pending_state(|state| {
                    state.states.set(xdg_toplevel::State::Resizing);
                    state.size = Some(new);
                });
                weft.shell.xdg_guard.send_configure(toplevel);
            }
        }
    }

    fn end(&self, weft: &mut Weft) {
        let Drag::Resize { .. } = self.drag else {
            return;
        };
        let Some(toplevel) = self.window.toplevel() else {
            return;
        };
        if !toplevel.alive() {
            return;
        }
        if let Some(mut a) = anchor(toplevel.wl_surface()) {
            a.ended = true;
            set_anchor(toplevel.wl_surface(), Some(a));
        }
        toplevel.with_pending_state(|state| state.states.unset(xdg_toplevel::State::Resizing));
        weft.shell.xdg_guard.send_configure(toplevel);
    }
}

impl Weft {
    /// `xdg_toplevel.move` or `.resize` (`edges`) with the serial of a press: starts the grab of
    /// the pointer or touch point that made that press; anything else is ignored (the spec lets a
    /// compositor ignore a request whose serial is not a current press).
    pub(crate) fn start_window_drag(
        &mut self,
        surface: &WlSurface,
        serial: Serial,
        edges: Option<ResizeEdge>,
    ) {
        let Some(window) = self
            .shell
            .space
            .elements()
            .find(|w| w.toplevel().is_some_and(|t| t.wl_surface() == surface))
            .cloned()
        else {
            return;
        };
        self.start_drag(window, Some(serial), edges);
    }

    /// Starts moving (`edges` none) or resizing `window` with the pointer or touch point whose
    /// press has `serial` (`None`: the pointer, while a button is held — X11 windows name no
    /// serial).
    pub(crate) fn start_drag(
        &mut self,
        window: Window,
        press: Option<Serial>,
        edges: Option<ResizeEdge>,
    ) {
        let Some(origin) = self.shell.space.element_location(&window) else {
            return;
        };
        let filled = window.toplevel().is_some_and(|t| {
            t.with_pending_state(|s| {
                s.states.contains(xdg_toplevel::State::Maximized)
                    || s.states.contains(xdg_toplevel::State::Fullscreen)
            })
        });
        if filled {
            tracing::debug!("move/resize of a maximized or fullscreen window ignored");
            return;
        }
        let drag = match edges {
            None | Some(ResizeEdge::None) => Drag::Move,
            Some(edges) => {
                let size = window.geometry().size;
                if let Some(toplevel) = window.toplevel() {
                    set_anchor(
                        toplevel.wl_surface(),
                        Some(ResizeAnchor {
                            edges,
                            origin,
                            size,
                            ended: false,
                        }),
                    );
                }
                Drag::Resize { edges, size }
            }
        };
        let seat = self.input.seat.clone();
        let serial = press.unwrap_or_else(|| smithay::utils::SERIAL_COUNTER.next_serial());
        let pressed = |p: &smithay::input::pointer::PointerHandle<Weft>| match press {
            Some(serial) => p.has_grab(serial),
            None => p.is_grabbed(),
        };
        if let Some(pointer) = seat.get_pointer().filter(pressed) {
            let Some(start) = pointer.grab_start_data() else {
                return;
            };
            let grab = PointerWindowGrab {
                core: WindowDrag {
                    window,
                    drag,
                    start: start.location,
                    origin,
                },
                start,
            };
            pointer.set_grab(self, grab, serial, smithay::input::pointer::Focus::Clear);
        } else if let Some(touch) = seat
            .get_touch()
            .filter(|t| press.is_some_and(|s| t.has_grab(s)))
        {
            let Some(start) = touch.grab_start_data() else {
                return;
            };
            let grab = TouchWindowGrab {
                core: WindowDrag {
                    window,
                    drag,
                    start: start.location,
                    origin,
                },
                start,
            };
            touch.set_grab(self, grab, serial);
        } else {
            tracing::debug!(?serial, "move/resize without a current press: ignored");
        }
    }

    /// A toplevel committed: during or just after a resize from the left or top edge, the window
    /// moves so that the opposite edge stays in place.
    pub(crate) fn resize_commit(&mut self, window: &Window, surface: &WlSurface) {
        let Some(a) = anchor(surface) else {
            return;
        };
        let size = window.geometry().size;
        let mut location = self
            .shell
            .space
            .element_location(window)
            .unwrap_or(a.origin);
        if has(a.edges, ResizeEdge::Left) {
            location.x = a.origin.x + a.size.w - size.w;
        }
        if has(a.edges, ResizeEdge::Top) {
            location.y = a.origin.y + a.size.h - size.h;
        }
        if self.shell.space.element_location(window) != Some(location) {
            self.shell
                .space
                .map_element(window.clone(), location, false);
            self.damage();
        }
        if a.ended {
            set_anchor(surface, None);
        }
    }
}

/// A move or resize driven by the pointer.
struct PointerWindowGrab {
    core: WindowDrag,
    start: PointerGrabStartData<Weft>,
}

impl PointerGrab<Weft> for PointerWindowGrab {
    fn motion(
        &mut self,
        data: &mut Weft,
        handle: &mut PointerInnerHandle<'_, Weft>,
        _focus: Option<(<Weft as SeatHandler>::PointerFocus, Point<f64, Logical>)>,
        event: &MotionEvent,
    ) {
        // No client has the pointer while it moves or resizes a window.
        handle.motion(data, None, event);
        self.core.update(data, event.location);
    }

    fn relative_motion(
        &mut self,
        data: &mut Weft,
        handle: &mut PointerInnerHandle<'_, Weft>,
        _focus: Option<(<Weft as SeatHandler>::PointerFocus, Point<f64, Logical>)>,
        event: &RelativeMotionEvent,
    ) {
        handle.relative_motion(data, None, event);
    }

    fn button(
        &mut self,
        data: &mut Weft,
        handle: &mut PointerInnerHandle<'_, Weft>,
        event: &ButtonEvent,
    ) {
        handle.button(data, event);
        if handle.current_pressed().is_empty() {
            handle.unset_grab(self, data, event.serial, event.time, true);
        }
    }

    fn axis(
        &mut self,
        data: &mut Weft,
        handle: &mut PointerInnerHandle<'_, Weft>,
        details: AxisFrame,
    ) {
        handle.axis(data, details);
    }

    fn frame(&mut self, data: &mut Weft, handle: &mut PointerInnerHandle<'_, Weft>) {
        handle.frame(data);
    }

    fn gesture_swipe_begin(
        &mut self,
        data: &mut Weft,
        handle: &mut PointerInnerHandle<'_, Weft>,
        event: &GestureSwipeBeginEvent,
    ) {
        handle.gesture_swipe_begin(data, event);
    }

    fn gesture_swipe_update(
        &mut self,
        data: &mut Weft,
        handle: &mut PointerInnerHandle<'_, Weft>,
        event: &GestureSwipeUpdateEvent,
    ) {
        handle.gesture_swipe_update(data, event);
    }

    fn gesture_swipe_end(
        &mut self,
        data: &mut Weft,
        handle: &mut PointerInnerHandle<'_, Weft>,
        event: &GestureSwipeEndEvent,
    ) {
        handle.gesture_swipe_end(data, event);
    }

    fn gesture_pinch_begin(
        &mut self,
        data: &mut Weft,
        handle: &mut PointerInnerHandle<'_, Weft>,
        event: &GesturePinchBeginEvent,
    ) {
        handle.gesture_pinch_begin(data, event);
    }

    fn gesture_pinch_update(
        &mut self,
        data: &mut Weft,
        handle: &mut PointerInnerHandle<'_, Weft>,
        event: &GesturePinchUpdateEvent,
    ) {
        handle.gesture_pinch_update(data, event);
    }

    fn gesture_pinch_end(
        &mut self,
        data: &mut Weft,
        handle: &mut PointerInnerHandle<'_, Weft>,
        event: &GesturePinchEndEvent,
    ) {
        handle.gesture_pinch_end(data, event);
    }

    fn gesture_hold_begin(
        &mut self,
        data: &mut Weft,
        handle: &mut PointerInnerHandle<'_, Weft>,
        event: &GestureHoldBeginEvent,
    ) {
        handle.gesture_hold_begin(data, event);
    }

    fn gesture_hold_end(
        &mut self,
        data: &mut Weft,
        handle: &mut PointerInnerHandle<'_, Weft>,
        event: &GestureHoldEndEvent,
    ) {
        handle.gesture_hold_end(data, event);
    }

    fn start_data(&self) -> &PointerGrabStartData<Weft> {
        &self.start
    }

    fn unset(&mut self, data: &mut Weft) {
        self.core.end(data);
    }
}

/// A move or resize driven by a touch point (its slot is the grab's; other points pass through).
struct TouchWindowGrab {
    core: WindowDrag,
    start: TouchGrabStartData<Weft>,
}

impl TouchGrab<Weft> for TouchWindowGrab {
    fn down(
        &mut self,
        data: &mut Weft,
        handle: &mut TouchInnerHandle<'_, Weft>,
        _focus: Option<(<Weft as SeatHandler>::TouchFocus, Point<f64, Logical>)>,
        event: &DownEvent,
        seq: Serial,
    ) {
        handle.down(data, None, event, seq);
    }

    fn up(
        &mut self,
        data: &mut Weft,
        handle: &mut TouchInnerHandle<'_, Weft>,
        event: &UpEvent,
        seq: Serial,
    ) {
        handle.up(data, event, seq);
        if event.slot == self.start.slot {
            handle.unset_grab(self, data);
        }
    }

    fn motion(
        &mut self,
        data: &mut Weft,
        handle: &mut TouchInnerHandle<'_, Weft>,
        _focus: Option<(<Weft as SeatHandler>::TouchFocus, Point<f64, Logical>)>,
        event: &TouchMotionEvent,
        seq: Serial,
    ) {
        if event.slot == self.start.slot {
            self.core.update(data, event.location);
        } else {
            handle.motion(data, None, event, seq);
        }
    }

    fn frame(&mut self, data: &mut Weft, handle: &mut TouchInnerHandle<'_, Weft>, seq: Serial) {
        handle.frame(data, seq);
    }

    fn cancel(&mut self, data: &mut Weft, handle: &mut TouchInnerHandle<'_, Weft>, seq: Serial) {
        handle.cancel(data, seq);
        handle.unset_grab(self, data);
    }

    fn shape(
        &mut self,
        data: &mut Weft,
        handle: &mut TouchInnerHandle<'_, Weft>,
        event: &ShapeEvent,
        seq: Serial,
    ) {
        handle.shape(data, event, seq);
    }

    fn orientation(
        &mut self,
        data: &mut Weft,
        handle: &mut TouchInnerHandle<'_, Weft>,
        event: &OrientationEvent,
        seq: Serial,
    ) {
        handle.orientation(data, event, seq);
    }

    fn start_data(&self) -> &TouchGrabStartData<Weft> {
        &self.start
    }

    fn unset(&mut self, data: &mut Weft) {
        self.core.end(data);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resize_grows_and_shrinks_from_the_dragged_edge_within_min_and_max() {
        let size: Size<i32, Logical> = (200, 100).into();
        let none: Size<i32, Logical> = (0, 0).into();
        assert_eq!(
            resized(size, ResizeEdge::BottomRight, (30, 20).into(), none, none),
            (230, 120).into()
        );
        assert_eq!(
            resized(size, ResizeEdge::TopLeft, (30, 20).into(), none, none),
            (170, 80).into()
        );
        assert_eq!(
            resized(size, ResizeEdge::Right, (-500, 0).into(), none, none),
            (1, 100).into()
        );
        assert_eq!(
            resized(
                size,
                ResizeEdge::Right,
                (-150, 0).into(),
                (100, 50).into(),
                none
            ),
            (100, 100).into()
        );
        assert_eq!(
            resized(
                size,
                ResizeEdge::Bottom,
                (0, 500).into(),
                none,
                (300, 150).into()
            ),
            (200, 150).into()
        );
    }
}
