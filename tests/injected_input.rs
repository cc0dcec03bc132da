//! Injected input (headless weft has no devices): pointer motion and clicks, keys and touch points
//! injected through `Running::inject` must reach a real Wayland client over the socket as the
//! wl_pointer, wl_keyboard and wl_touch events a device would produce, at surface-local
//! coordinates, with the focus rules of `weft_compositor::seat::input`; a toplevel placed through the
//! controller moves there and the pointer resting on it enters it.

mod common;

use common::Harness;
use wayland_client::protocol::{wl_seat, wl_shm};
use wayland_client::Proxy;
use wayland_protocols::xdg::shell::client::xdg_toplevel;
use weft::InjectedInput;
use weft_clients::client::Toplevel;
use weft_clients::seat_events::{Recorder, Seen};
use weft_clients::{argb, Client, ShmBuffer};
use weft_compositor::seat::input::buttons;

const W: i32 = 200;
const H: i32 = 150;
/// KEY_A in linux/input-event-codes.h.
const KEY_A: u32 = 30;

/// A client with a pointer, a keyboard and a touch device, and one mapped W×H toplevel titled
/// `title`; returns where weft placed it.
struct Scene {
    client: Client,
    seen: Recorder,
    toplevel: Toplevel,
    buffer: ShmBuffer,
    x: f64,
    y: f64,
}

impl Scene {
    fn new(h: &Harness, title: &str) -> Self {
        let mut client = h.client();
        let seen = Recorder::default();
        let seat: wl_seat::WlSeat = client
            .globals
            .bind(&client.qh, 5..=7, seen.clone())
            .expect("wl_seat");
        seat.get_pointer(&client.qh, seen.clone());
        seat.get_keyboard(&client.qh, seen.clone());
        seat.get_touch(&client.qh, seen.clone());
        let toplevel = client
            .toplevel(title, "weft.injected-input")
            .expect("toplevel");
        let buffer = ShmBuffer::new(
            &client.shm,
            &client.qh,
            W,
            H,
            wl_shm::Format::Xrgb8888,
            |_, _| argb(200, 40, 40, 255),
        )
        .expect("shm buffer");
        client.show(&toplevel.surface, &buffer.buffer);
        h.settle(&mut client);
        let record = h.surface(title);
        let x = record["x"].as_f64().expect("x");
        let y = record["y"].as_f64().expect("y");
        Self {
            client,
            seen,
            toplevel,
            buffer,
            x,
            y,
        }
    }

    /// Whether the toplevel's latest configure has the `activated` state.
    fn activated(&self) -> bool {
        let activated = xdg_toplevel::State::Activated as u32;
        self.client
            .state
            .toplevel_configures
            .get(&self.toplevel.toplevel.id())
            .is_some_and(|(_, _, states)| states.contains(&activated))
    }

    /// What arrived since the last call, after a roundtrip (injection returns once weft flushed
    /// the events, so one roundtrip is enough to have them all).
    fn seen(&mut self) -> Vec<Seen> {
        self.client.roundtrip().expect("roundtrip");
        self.seen.take()
    }
}

#[test]
fn an_injected_click_reaches_the_surface_under_the_pointer() {
    let h = Harness::new(640, 480, 60);
    let mut s = Scene::new(&h, "click");
    s.seen();

    // Outside the window: nothing for the client.
    h.weft
        .inject(InjectedInput::PointerMotion { x: 2.0, y: 2.0 })
        .expect("inject");
    assert_eq!(s.seen(), [], "the pointer over the background");

    // Onto the window: enter at surface-local coordinates, then motion within it.
    h.weft
        .inject(InjectedInput::PointerMotion {
            x: s.x + 10.0,
            y: s.y + 20.0,
        })
        .expect("inject");
    h.weft
        .inject(InjectedInput::PointerMotionRelative { dx: 5.0, dy: 5.0 })
        .expect("inject");
    assert_eq!(
        s.seen(),
        [
            Seen::PointerEnter { x: 10.0, y: 20.0 },
            Seen::PointerMotion { x: 15.0, y: 25.0 }
        ]
    );

    for pressed in [true, false] {
        h.weft
            .inject(InjectedInput::PointerButton {
                button: buttons::LEFT,
                pressed,
            })
            .expect("inject");
    }
    assert_eq!(
        s.seen(),
        [
            Seen::Button {
                button: buttons::LEFT,
                pressed: true
            },
            Seen::Button {
                button: buttons::LEFT,
                pressed: false
            },
        ]
    );

    // Leaving the window is wl_pointer.leave.
    h.weft
        .inject(InjectedInput::PointerMotion { x: 2.0, y: 2.0 })
        .expect("inject");
    assert_eq!(s.seen(), [Seen::PointerLeave]);
}

#[test]
fn injected_keys_reach_the_focused_toplevel_and_a_background_click_takes_the_focus_away() {
    let h = Harness::new(640, 480, 60);
    let mut s = Scene::new(&h, "keys");
    assert!(
        s.seen().contains(&Seen::KeyboardEnter),
        "a new toplevel takes the keyboard focus"
    );
    assert!(
        s.activated(),
        "the focused toplevel is configured activated"
    );

    for pressed in [true, false] {
        h.weft
            .inject(InjectedInput::Key {
                code: KEY_A,
                pressed,
            })
            .expect("inject");
    }
    let keys: Vec<_> = s
        .seen()
        .into_iter()
        .filter(|e| matches!(e, Seen::Key { .. }))
        .collect();
    assert_eq!(
        keys,
        [
            Seen::Key {
                key: KEY_A,
                pressed: true
            },
            Seen::Key {
                key: KEY_A,
                pressed: false
            }
        ],
        "the evdev code, as wl_keyboard.key carries it"
    );

    // A click on the background clears the focus: the next key goes nowhere.
    h.weft
        .inject(InjectedInput::PointerMotion { x: 2.0, y: 2.0 })
        .expect("inject");
    h.weft
        .inject(InjectedInput::PointerButton {
            button: buttons::LEFT,
            pressed: true,
        })
        .expect("inject");
    h.weft
        .inject(InjectedInput::PointerButton {
            button: buttons::LEFT,
            pressed: false,
        })
        .expect("inject");
    assert_eq!(s.seen(), [Seen::KeyboardLeave]);
    assert!(!s.activated(), "without the focus, no longer activated");
    h.weft
        .inject(InjectedInput::Key {
            code: KEY_A,
            pressed: true,
        })
        .expect("inject");
    assert_eq!(s.seen(), [], "no focus, no key");
}

#[test]
fn an_injected_touch_point_stays_with_the_surface_it_went_down_on() {
    let h = Harness::new(640, 480, 60);
    let mut s = Scene::new(&h, "touch");
    s.seen();

    // Down on the background: nobody's; like a click there, it takes the keyboard focus away.
    h.weft
        .inject(InjectedInput::TouchDown {
            slot: 3,
            x: 2.0,
            y: 2.0,
        })
        .expect("inject");
    h.weft
        .inject(InjectedInput::TouchUp { slot: 3 })
        .expect("inject");
    assert_eq!(s.seen(), [Seen::KeyboardLeave]);

    // Down on the window (which takes the focus back), moved off it, up: all of it goes to the
    // window, each with a frame.
    h.weft
        .inject(InjectedInput::TouchDown {
            slot: 1,
            x: s.x + 30.0,
            y: s.y + 40.0,
        })
        .expect("inject");
    h.weft
        .inject(InjectedInput::TouchMotion {
            slot: 1,
            x: s.x - 10.0,
            y: s.y + 50.0,
        })
        .expect("inject");
    h.weft
        .inject(InjectedInput::TouchUp { slot: 1 })
        .expect("inject");
    let seen = s.seen();
    assert_eq!(
        seen,
        [
            Seen::KeyboardEnter,
            Seen::TouchDown {
                id: 1,
                x: 30.0,
                y: 40.0
            },
            Seen::TouchFrame,
            Seen::TouchMotion {
                id: 1,
                x: -10.0,
                y: 50.0
            },
            Seen::TouchFrame,
            Seen::TouchUp { id: 1 },
            Seen::TouchFrame,
        ]
    );
}

#[test]
fn a_placed_toplevel_moves_and_the_pointer_resting_there_enters_it() {
    let h = Harness::new(640, 480, 60);
    let mut s = Scene::new(&h, "placed");
    s.seen();
    h.weft
        .inject(InjectedInput::PointerMotion { x: 5.0, y: 5.0 })
        .expect("inject");
    assert_eq!(s.seen(), [], "the window is not at the origin yet");

    // The controller places by (client, wl_surface protocol id); this client's id comes from a
    // client inserted on a socket pair, as the WLCS shim does.
    let (ours, theirs) = std::os::unix::net::UnixStream::pair().expect("socket pair");
    let client_id = h
        .weft
        .controller
        .insert_client(theirs)
        .expect("weft serves the socket");
    let mut c = Client::from_stream(ours).expect("client on the socket pair");
    let seen = Recorder::default();
    let seat: wl_seat::WlSeat = c.globals.bind(&c.qh, 5..=7, seen.clone()).expect("wl_seat");
    seat.get_pointer(&c.qh, seen.clone());
    let toplevel = c
        .toplevel("placed-2", "weft.injected-input")
        .expect("toplevel");
    let buffer = ShmBuffer::new(&c.shm, &c.qh, W, H, wl_shm::Format::Xrgb8888, |_, _| {
        argb(40, 200, 40, 255)
    })
    .expect("shm buffer");
    c.show(&toplevel.surface, &buffer.buffer);
    h.settle(&mut c);
    let placed = h
        .weft
        .controller
        .place_toplevel(
            client_id.clone(),
            toplevel.surface.id().protocol_id(),
            (0, 0).into(),
        )
        .expect("weft runs");
    assert!(placed, "place_toplevel finds the mapped toplevel");
    let record = h.surface("placed-2");
    assert_eq!(
        (record["x"].as_i64(), record["y"].as_i64()),
        (Some(0), Some(0))
    );
    c.roundtrip().expect("roundtrip");
    assert_eq!(
        seen.take(),
        [Seen::PointerEnter { x: 5.0, y: 5.0 }],
        "the pointer did not move, the window came to it"
    );

    // An unknown surface id is refused, not guessed.
    let unknown = h
        .weft
        .controller
        .place_toplevel(client_id, 999, (0, 0).into())
        .expect("weft runs");
    assert!(!unknown);
    // The first client saw nothing of the other's window, and lost the keyboard to it.
    assert_eq!(s.seen(), [Seen::KeyboardLeave]);
}

#[test]
fn a_surface_that_grows_under_the_resting_pointer_is_entered_and_left_when_it_shrinks() {
    let h = Harness::new(640, 480, 60);
    let mut s = Scene::new(&h, "grows");
    s.seen();
    // Just right of the window, over the background.
    let (px, py) = (s.x + W as f64 + 10.0, s.y + 10.0);
    h.weft
        .inject(InjectedInput::PointerMotion { x: px, y: py })
        .expect("inject");
    assert_eq!(s.seen(), []);

    // The client doubles its width: the pointer did not move, yet it is over the surface now.
    let wide = ShmBuffer::new(
        &s.client.shm,
        &s.client.qh,
        2 * W,
        H,
        wl_shm::Format::Xrgb8888,
        |_, _| argb(40, 40, 200, 255),
    )
    .expect("shm buffer");
    s.client.show(&s.toplevel.surface, &wide.buffer);
    h.settle(&mut s.client);
    assert_eq!(
        s.seen(),
        [Seen::PointerEnter {
            x: W as f64 + 10.0,
            y: 10.0
        }]
    );

    // Back to its old width: the pointer is over the background again.
    s.client.show(&s.toplevel.surface, &s.buffer.buffer);
    h.settle(&mut s.client);
    assert_eq!(s.seen(), [Seen::PointerLeave]);
}

#[test]
fn pointer_coordinates_are_surface_local_on_a_window_with_a_geometry_offset() {
    // A window whose geometry leaves out a 10×20 margin (client-side shadows): weft places the
    // geometry, and the surface starts that margin further up and left.
    let h = Harness::new(640, 480, 60);
    let mut client = h.client();
    let seen = Recorder::default();
    let seat: wl_seat::WlSeat = client
        .globals
        .bind(&client.qh, 5..=7, seen.clone())
        .expect("wl_seat");
    seat.get_pointer(&client.qh, seen.clone());
    let top = client.toplevel_unconfigured("shadowed", "weft.injected-input");
    top.xdg_surface.set_window_geometry(10, 20, W - 20, H - 40);
    top.surface.commit();
    client.ack_latest(&top).expect("configure");
    let buffer = ShmBuffer::new(
        &client.shm,
        &client.qh,
        W,
        H,
        wl_shm::Format::Xrgb8888,
        |_, _| argb(200, 200, 40, 255),
    )
    .expect("shm buffer");
    client.show(&top.surface, &buffer.buffer);
    h.settle(&mut client);
    let record = h.surface("shadowed");
    let (gx, gy) = (
        record["x"].as_f64().expect("x"),
        record["y"].as_f64().expect("y"),
    );
    seen.take();
    h.weft
        .inject(InjectedInput::PointerMotion {
            x: gx + 5.0,
            y: gy + 5.0,
        })
        .expect("inject");
    client.roundtrip().expect("roundtrip");
    assert_eq!(seen.take(), [Seen::PointerEnter { x: 15.0, y: 25.0 }]);
}

#[test]
fn a_touch_point_lifts_when_its_surface_is_destroyed() {
    let h = Harness::new(640, 480, 60);
    let mut s = Scene::new(&h, "touched");
    s.seen();
    h.weft
        .inject(InjectedInput::TouchDown {
            slot: 2,
            x: s.x + 10.0,
            y: s.y + 10.0,
        })
        .expect("inject");
    // The client destroys the touched window while the finger is still down: weft lifts the point
    // (a client has no other way to learn that the touch sequence is over).
    s.toplevel.toplevel.destroy();
    s.toplevel.xdg_surface.destroy();
    s.toplevel.surface.destroy();
    s.client.roundtrip().expect("roundtrip");
    let seen = s.seen();
    assert!(
        seen.contains(&Seen::TouchUp { id: 2 }),
        "no wl_touch.up after the surface was destroyed: {seen:?}"
    );
    // The slot is free again: a new point on it is an ordinary down, on the background now.
    h.weft
        .inject(InjectedInput::TouchDown {
            slot: 2,
            x: s.x + 10.0,
            y: s.y + 10.0,
        })
        .expect("inject");
    h.weft
        .inject(InjectedInput::TouchUp { slot: 2 })
        .expect("inject");
    s.client.roundtrip().expect("the client is still fine");
}
