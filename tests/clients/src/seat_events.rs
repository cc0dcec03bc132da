//! What a client's seat objects receive, recorded in order: tests bind wl_pointer, wl_keyboard and
//! wl_touch with a [`Recorder`] as their user data and assert on the [`Seen`] events.

use std::sync::{Arc, Mutex};

use wayland_client::protocol::{wl_keyboard, wl_pointer, wl_seat, wl_touch};
use wayland_client::{Connection, Dispatch, Proxy, QueueHandle, WEnum};

use crate::client::State;

/// One seat event, with what tests look at.
#[derive(Debug, Clone, PartialEq)]
pub enum Seen {
    PointerEnter { x: f64, y: f64 },
    PointerLeave,
    PointerMotion { x: f64, y: f64 },
    Button { button: u32, pressed: bool },
    Axis { vertical: bool, value: f64 },
    KeyboardEnter,
    KeyboardLeave,
    Key { key: u32, pressed: bool },
    TouchDown { id: i32, x: f64, y: f64 },
    TouchMotion { id: i32, x: f64, y: f64 },
    TouchUp { id: i32 },
    TouchFrame,
}

/// The events seen so far (shared by every seat object bound with it).
#[derive(Clone, Default)]
pub struct Recorder(Arc<Mutex<Vec<Seen>>>);

impl Recorder {
    pub fn push(&self, seen: Seen) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(seen);
    }

    /// Everything seen so far, kept.
    pub fn snapshot(&self) -> Vec<Seen> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Everything seen so far, emptying the record.
    pub fn take(&self) -> Vec<Seen> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

impl Dispatch<wl_seat::WlSeat, Recorder> for State {
    fn event(
        _: &mut Self,
        _: &wl_seat::WlSeat,
        _: wl_seat::Event,
        _: &Recorder,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
    }
}

impl Dispatch<wl_pointer::WlPointer, Recorder> for State {
    fn event(
        state: &mut Self,
        _: &wl_pointer::WlPointer,
        event: wl_pointer::Event,
        rec: &Recorder,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        match event {
            wl_pointer::Event::Enter {
                serial,
                surface_x,
                surface_y,
                ..
            } => {
                state.pointer_enter_serial = Some(serial);
                rec.push(Seen::PointerEnter {
                    x: surface_x,
                    y: surface_y,
                })
            }
            wl_pointer::Event::Leave { .. } => rec.push(Seen::PointerLeave),
            wl_pointer::Event::Motion {
                surface_x,
                surface_y,
                ..
            } => rec.push(Seen::PointerMotion {
                x: surface_x,
                y: surface_y,
            }),
            wl_pointer::Event::Button { button, state, .. } => rec.push(Seen::Button {
                button,
                pressed: state == WEnum::Value(wl_pointer::ButtonState::Pressed),
            }),
            wl_pointer::Event::Axis { axis, value, .. } => rec.push(Seen::Axis {
                vertical: axis == WEnum::Value(wl_pointer::Axis::VerticalScroll),
                value,
            }),
            _ => {}
        }
    }
}

impl Dispatch<wl_keyboard::WlKeyboard, Recorder> for State {
    fn event(
        state: &mut Self,
        _: &wl_keyboard::WlKeyboard,
        event: wl_keyboard::Event,
        rec: &Recorder,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        match event {
            wl_keyboard::Event::Enter {
                surface, serial, ..
            } => {
                state.keyboard_focus = Some(surface.id());
                state.keyboard_enter_serial = Some(serial);
                rec.push(Seen::KeyboardEnter)
            }
            wl_keyboard::Event::Leave { .. } => {
                state.keyboard_focus = None;
                rec.push(Seen::KeyboardLeave)
            }
            wl_keyboard::Event::Keymap { fd, size, .. } => {
                use std::io::Read;
                let mut text = Vec::new();
                let _ = std::fs::File::from(fd)
                    .take(u64::from(size))
                    .read_to_end(&mut text);
                state.keymap = Some(
                    String::from_utf8_lossy(&text)
                        .trim_end_matches('\0')
                        .to_string(),
                );
            }
            wl_keyboard::Event::RepeatInfo { rate, delay } => {
                state.repeat_info = Some((rate, delay))
            }
            wl_keyboard::Event::Key { key, state, .. } => rec.push(Seen::Key {
                key,
                pressed: state == WEnum::Value(wl_keyboard::KeyState::Pressed),
            }),
            _ => {}
        }
    }
}

impl Dispatch<wl_touch::WlTouch, Recorder> for State {
    fn event(
        state: &mut Self,
        _: &wl_touch::WlTouch,
        event: wl_touch::Event,
        rec: &Recorder,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        match event {
            wl_touch::Event::Down {
                id, x, y, serial, ..
            } => {
                state.last_touch_down_serial = Some(serial);
                rec.push(Seen::TouchDown { id, x, y })
            }
            wl_touch::Event::Motion { id, x, y, .. } => rec.push(Seen::TouchMotion { id, x, y }),
            wl_touch::Event::Up { id, .. } => rec.push(Seen::TouchUp { id }),
            wl_touch::Event::Frame => rec.push(Seen::TouchFrame),
            _ => {}
        }
    }
}
