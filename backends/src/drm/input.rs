//! The seat's input devices, through libinput: keyboards, pointers and touchscreens that udev
//! assigns to the session's seat, present at start or plugged in later, opened through the
//! session (libseat) and translated into weft's seat calls ([`weft_compositor::seat::input`]).
//!
//! - **Keys**: evdev codes + 8 (XKB keycodes), as the winit backend passes them. A key held on two
//!   keyboards at once is pressed once and released when the last one lets go (libinput's seat
//!   key count).
//! - **Pointer**: relative motion (libinput's accelerated deltas) from where the seat's pointer
//!   is, kept on the outputs: a position outside every output is clamped into the nearest one.
//!   Absolute motion (tablets in mouse mode, a VM's tablet) is mapped onto the first output.
//! - **Scroll**: wheels in detents (v120 / 120), fingers and continuous scrolling in pixels.
//! - **Touch**: points by libinput's seat slot (unique across the seat's touchscreens), their
//!   positions mapped onto the first output.
//!
//! On a VT switch the session pauses libinput ([`Input::pause`], which releases the devices) and
//! resumes it ([`Input::resume`], which opens them again).

use std::os::fd::OwnedFd;
use std::path::Path;

use calloop::LoopHandle;
use rustix::fs::{fcntl_getfl, fcntl_setfl, OFlags};
use smithay::backend::input::{
    AbsolutePositionEvent, Axis, AxisSource, ButtonState, Device, DeviceCapability, Event,
    InputEvent, KeyState, KeyboardKeyEvent, PointerAxisEvent, PointerButtonEvent,
    PointerMotionEvent,
};
use smithay::backend::libinput::{LibinputInputBackend, LibinputSessionInterface};
use smithay::backend::session::libseat::LibSeatSession;
use smithay::backend::session::Session;
use smithay::reexports::input::event::touch::TouchEventSlot;
use smithay::reexports::input::{Libinput, LibinputInterface};
use smithay::utils::{Logical, Point, Rectangle};
use tracing::{debug, info, warn};
use weft_compositor::seat::input::Scroll;
use weft_compositor::Weft;

#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("libinput could not take the devices of seat {0:?} from udev")]
    Seat(String),
    #[error("libinput's event source: {0}")]
    EventLoop(String),
}

/// The libinput context reading the seat's devices, its event source in the event loop.
pub struct Input {
    context: Libinput,
}

impl Input {
    /// Opens the devices of `session`'s seat (and those udev adds later) and feeds their events to
    /// the `Weft` of `handle`'s loop.
    pub fn insert(
        session: &LibSeatSession,
        handle: &LoopHandle<'static, Weft>,
    ) -> Result<Self, InputError> {
        let seat = udev_seat(&session.seat());
        let mut context = Libinput::new_with_udev(SessionInterface(
            LibinputSessionInterface::from(session.clone()),
        ));
        // udev_assign_seat panics on an interior NUL; no seat name has one, but say so if one did.
        if seat.contains('\0') || context.udev_assign_seat(&seat).is_err() {
            return Err(InputError::Seat(seat));
        }
        let backend = LibinputInputBackend::new(context.clone());
        handle
            .insert_source(backend, |event, _, state| handle_event(state, event))
            .map_err(|e| InputError::EventLoop(e.to_string()))?;
        info!(seat = %seat, "libinput reads the seat's input devices");
        Ok(Self { context })
    }

    /// The session is paused (VT switched away): libinput closes every device.
    pub fn pause(&mut self) {
        self.context.suspend();
    }

    /// The session is active again: libinput opens the seat's devices again.
    pub fn resume(&mut self) {
        if self.context.resume().is_err() {
            warn!("libinput could not resume: no input until the next session switch");
        }
    }
}

/// Opens devices for libinput through the session, with the status flags libinput asks for:
/// libseat opens with flags of its own, and its noop backend leaves out O_NONBLOCK, on which
/// libinput relies (it drains a device until EAGAIN: on a blocking fd the first device it opens
/// blocks the event loop until that device next sends an event).
struct SessionInterface(LibinputSessionInterface<LibSeatSession>);

impl LibinputInterface for SessionInterface {
    fn open_restricted(&mut self, path: &Path, flags: i32) -> Result<OwnedFd, i32> {
        let fd = self.0.open_restricted(path, flags)?;
        let wanted = OFlags::from_bits_truncate(flags as u32) & OFlags::NONBLOCK;
        if !wanted.is_empty() {
            let set = fcntl_getfl(&fd).and_then(|now| fcntl_setfl(&fd, now | wanted));
            if let Err(e) = set {
                warn!(path = %path.display(), error = %e, "input device not made non-blocking: passed over");
                self.0.close_restricted(fd);
                return Err(e.raw_os_error());
            }
        }
        Ok(fd)
    }

    fn close_restricted(&mut self, fd: OwnedFd) {
        self.0.close_restricted(fd);
    }
}

/// The udev seat whose devices are the session's: its own, except for libseat's noop backend
/// (root, no seat manager), whose seat "noop" udev does not know; it has the whole machine, which
/// udev calls "seat0" (every device without an ID_SEAT).
pub(crate) fn udev_seat(session_seat: &str) -> String {
    match session_seat {
        "noop" => "seat0".to_owned(),
        seat => seat.to_owned(),
    }
}

fn handle_event(state: &mut Weft, event: InputEvent<LibinputInputBackend>) {
    match event {
        InputEvent::DeviceAdded { device } => {
            let caps: Vec<&str> = [
                (DeviceCapability::Keyboard, "keyboard"),
                (DeviceCapability::Pointer, "pointer"),
                (DeviceCapability::Touch, "touch"),
                (DeviceCapability::TabletTool, "tablet"),
                (DeviceCapability::Gesture, "gestures"),
                (DeviceCapability::Switch, "switch"),
            ]
            .into_iter()
            .filter(|(c, _)| Device::has_capability(&device, *c))
            .map(|(_, name)| name)
            .collect();
            info!(
                device = %Device::id(&device),
                name = %Device::name(&device),
                capabilities = %caps.join(","),
                "input device added"
            );
        }
        InputEvent::DeviceRemoved { device } => {
            info!(
                device = %Device::id(&device),
                name = %Device::name(&device),
                "input device removed"
            );
        }
        InputEvent::Keyboard { event } => {
            let pressed = event.state() == KeyState::Pressed;
            // Only the first press and the last release of a key held on several keyboards.
            if event.count() != u32::from(pressed) {
                return;
            }
            state.keyboard_key(event.key_code().raw(), pressed, event.time_msec());
        }
        InputEvent::PointerMotion { event } => {
            let Some(pointer) = state.pointer() else {
                return;
            };
            let to = clamp_to_outputs(state, pointer.current_location() + event.delta());
            state.pointer_motion_relative(
                to,
                event.delta(),
                event.delta_unaccel(),
                event.time_msec(),
            );
        }
        InputEvent::PointerMotionAbsolute { event } => {
            let Some(area) = first_output(state) else {
                return;
            };
            let to = area.loc.to_f64() + event.position_transformed(area.size);
            state.pointer_motion(to, event.time_msec());
        }
        InputEvent::PointerButton { event } => {
            state.pointer_button(
                event.button_code(),
                event.state() == ButtonState::Pressed,
                event.time_msec(),
            );
        }
        InputEvent::PointerAxis { event } => {
            let h = event.amount(Axis::Horizontal);
            let v = event.amount(Axis::Vertical);
            if h.is_none() && v.is_none() {
                return;
            }
            let scroll = match event.source() {
                AxisSource::Wheel | AxisSource::WheelTilt => {
                    let detents = |axis| event.amount_v120(axis).unwrap_or(0.0) / 120.0;
                    Scroll::Lines {
                        dx: detents(Axis::Horizontal),
                        dy: detents(Axis::Vertical),
                    }
                }
                AxisSource::Finger | AxisSource::Continuous => Scroll::Pixels {
                    dx: h.unwrap_or(0.0),
                    dy: v.unwrap_or(0.0),
                },
            };
            state.pointer_axis(scroll, event.time_msec());
        }
        InputEvent::TouchDown { event } => {
            let Some(area) = first_output(state) else {
                return;
            };
            let at = area.loc.to_f64() + event.position_transformed(area.size);
            state.touch_down(event.seat_slot(), at, event.time_msec());
        }
        InputEvent::TouchMotion { event } => {
            let Some(area) = first_output(state) else {
                return;
            };
            let at = area.loc.to_f64() + event.position_transformed(area.size);
            state.touch_motion(event.seat_slot(), at, event.time_msec());
        }
        InputEvent::TouchUp { event } => {
            state.touch_up(event.seat_slot(), event.time_msec());
        }
        InputEvent::TouchCancel { .. } => state.touch_cancel(),
        // weft ends every touch event with wl_touch.frame already.
        InputEvent::TouchFrame { .. } => {}
        other => debug!(event = ?other, "input event weft does not handle yet"),
    }
}

/// The first output's rectangle: where absolute pointers and touchscreens map to.
fn first_output(state: &Weft) -> Option<Rectangle<i32, Logical>> {
    state.output_areas().into_iter().next()
}

/// `pos` if it is on an output, else the nearest point of the nearest output (so the pointer never
/// rests where nothing is shown, even where outputs of different sizes leave gaps in their
/// bounding box). Without outputs, `pos` as it is.
fn clamp_to_outputs(state: &Weft, pos: Point<f64, Logical>) -> Point<f64, Logical> {
    state
        .output_areas()
        .into_iter()
        .map(|area| clamp_into(area, pos))
        .min_by(|a, b| distance2(*a, pos).total_cmp(&distance2(*b, pos)))
        .unwrap_or(pos)
}

/// The point of `area` nearest to `pos` (its last pixel column and row included, not beyond).
fn clamp_into(area: Rectangle<i32, Logical>, pos: Point<f64, Logical>) -> Point<f64, Logical> {
    let x0 = f64::from(area.loc.x);
    let y0 = f64::from(area.loc.y);
    let x1 = x0 + f64::from((area.size.w - 1).max(0));
    let y1 = y0 + f64::from((area.size.h - 1).max(0));
    (pos.x.clamp(x0, x1), pos.y.clamp(y0, y1)).into()
}

fn distance2(a: Point<f64, Logical>, b: Point<f64, Logical>) -> f64 {
    let d = a - b;
    d.x * d.x + d.y * d.y
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rect(x: i32, y: i32, w: i32, h: i32) -> Rectangle<i32, Logical> {
        Rectangle::new((x, y).into(), (w, h).into())
    }

    #[test]
    fn the_noop_session_takes_udev_seat0() {
        assert_eq!(udev_seat("noop"), "seat0");
        assert_eq!(udev_seat("seat1"), "seat1");
    }

    #[test]
    fn a_point_is_clamped_into_an_output() {
        let r = rect(100, 0, 800, 600);
        assert_eq!(
            clamp_into(r, (50.0, -5.0).into()),
            Point::from((100.0, 0.0))
        );
        assert_eq!(
            clamp_into(r, (2000.0, 900.0).into()),
            Point::from((899.0, 599.0))
        );
        assert_eq!(
            clamp_into(r, (300.5, 200.25).into()),
            Point::from((300.5, 200.25))
        );
    }
}
