//! zwp_relative_pointer_v1 and zwp_pointer_constraints_v1 with a real client and injected input:
//! relative motion for relative devices only, a lock holds the pointer while relative motion
//! still flows, a confinement clamps it to the surface, constraints follow the keyboard focus (a
//! persistent lock comes back with it), and the protocol's error with a bystander still served.

mod common;

use common::{assert_ended_with, solid_shm, Harness};
use wayland_client::protocol::{wl_pointer, wl_seat};
use wayland_protocols::wp::pointer_constraints::zv1::client::zwp_pointer_constraints_v1::{
    self, Lifetime, ZwpPointerConstraintsV1,
};
use wayland_protocols::wp::relative_pointer::zv1::client::zwp_relative_pointer_manager_v1::ZwpRelativePointerManagerV1;
use weft::InjectedInput;
use weft_clients::client::Toplevel;
use weft_clients::seat_events::{Recorder, Seen};
use weft_clients::{Client, ShmBuffer};
use weft_compositor::seat::input::buttons;

const W: i32 = 200;
const H: i32 = 150;

struct Game {
    c: Client,
    seen: Recorder,
    pointer: wl_pointer::WlPointer,
    constraints: ZwpPointerConstraintsV1,
    window: Toplevel,
    _buffer: ShmBuffer,
    x: f64,
    y: f64,
}

fn game(h: &Harness, title: &str) -> Game {
    let mut c = h.client();
    let seen = Recorder::default();
    let seat: wl_seat::WlSeat = c.globals.bind(&c.qh, 5..=7, seen.clone()).expect("seat");
    let pointer = seat.get_pointer(&c.qh, seen.clone());
    seat.get_keyboard(&c.qh, seen.clone());
    let relative: ZwpRelativePointerManagerV1 =
        c.globals.bind(&c.qh, 1..=1, ()).expect("relative pointer");
    relative.get_relative_pointer(&pointer, &c.qh, ());
    let constraints: ZwpPointerConstraintsV1 = c
        .globals
        .bind(&c.qh, 1..=1, ())
        .expect("pointer constraints");
    let window = c.toplevel(title, "weft.constraints").expect("toplevel");
    let buffer = solid_shm(&c, W, H, [90, 90, 200]);
    c.show(&window.surface, &buffer.buffer);
    h.settle(&mut c);
    let s = h.surface(title);
    Game {
        x: s["x"].as_f64().unwrap(),
        y: s["y"].as_f64().unwrap(),
        c,
        seen,
        pointer,
        constraints,
        window,
        _buffer: buffer,
    }
}

fn move_to(h: &Harness, x: f64, y: f64) {
    h.weft
        .inject(InjectedInput::PointerMotion { x, y })
        .expect("inject");
}

fn move_by(h: &Harness, dx: f64, dy: f64) {
    h.weft
        .inject(InjectedInput::PointerMotionRelative { dx, dy })
        .expect("inject");
}

/// The latest surface-local pointer position the client saw.
fn last_position(seen: &[Seen]) -> Option<(f64, f64)> {
    seen.iter().rev().find_map(|e| match e {
        Seen::PointerEnter { x, y } | Seen::PointerMotion { x, y } => Some((*x, *y)),
        _ => None,
    })
}

#[test]
fn relative_motion_comes_from_relative_devices_only() {
    let h = Harness::new(640, 480, 60);
    let mut g = game(&h, "relative");
    move_to(&h, g.x + 50.0, g.y + 50.0);
    g.c.roundtrip().expect("roundtrip");
    assert!(
        g.c.state.relative_motions.is_empty(),
        "an absolute move has no relative motion"
    );
    move_by(&h, 7.0, -3.0);
    g.c.roundtrip().expect("roundtrip");
    assert_eq!(g.c.state.relative_motions, [(7.0, -3.0)]);
}

#[test]
fn a_lock_holds_the_pointer_and_relative_motion_still_flows() {
    let h = Harness::new(640, 480, 60);
    let mut g = game(&h, "locked");
    move_to(&h, g.x + 50.0, g.y + 50.0);
    let _lock = g.constraints.lock_pointer(
        &g.window.surface,
        &g.pointer,
        None,
        Lifetime::Persistent,
        &g.c.qh,
        (),
    );
    g.c.roundtrip().expect("roundtrip");
    assert_eq!(g.c.state.constraint_events, ["locked"]);
    g.seen.take();
    move_by(&h, 30.0, 20.0);
    g.c.roundtrip().expect("roundtrip");
    assert_eq!(
        last_position(&g.seen.take()),
        None,
        "the locked pointer did not move"
    );
    assert_eq!(g.c.state.relative_motions, [(30.0, 20.0)]);

    // Another window takes the keyboard: unlocked; a click back on ours: locked again.
    let mut other = game(&h, "other");
    other.c.roundtrip().expect("roundtrip");
    g.c.roundtrip().expect("roundtrip");
    // (smithay 0.7 says `unlocked` again when the pointer then leaves for the new window, which
    // covers it: a repeated notification, not a state change.)
    assert_eq!(
        g.c.state.constraint_events.get(..2),
        Some(&["locked", "unlocked"][..])
    );
    assert!(g.c.state.constraint_events[2..]
        .iter()
        .all(|e| *e == "unlocked"));
    move_to(&h, g.x + 5.0, g.y + 5.0);
    for pressed in [true, false] {
        h.weft
            .inject(InjectedInput::PointerButton {
                button: buttons::LEFT,
                pressed,
            })
            .expect("inject");
    }
    g.c.roundtrip().expect("roundtrip");
    assert_eq!(
        g.c.state.constraint_events.last(),
        Some(&"locked"),
        "locked again with the focus"
    );
}

#[test]
fn a_confinement_keeps_the_pointer_on_the_surface() {
    let h = Harness::new(640, 480, 60);
    let mut g = game(&h, "confined");
    move_to(&h, g.x + 50.0, g.y + 50.0);
    let _confine = g.constraints.confine_pointer(
        &g.window.surface,
        &g.pointer,
        None,
        Lifetime::Oneshot,
        &g.c.qh,
        (),
    );
    g.c.roundtrip().expect("roundtrip");
    assert_eq!(g.c.state.constraint_events, ["confined"]);
    move_by(&h, 1000.0, 1000.0);
    g.c.roundtrip().expect("roundtrip");
    assert_eq!(
        last_position(&g.seen.take()),
        Some((f64::from(W - 1), f64::from(H - 1)))
    );
    move_by(&h, -5000.0, 10.0);
    g.c.roundtrip().expect("roundtrip");
    assert_eq!(last_position(&g.seen.take()), Some((0.0, f64::from(H - 1))));
}

#[test]
fn a_second_constraint_on_a_surface_is_already_constrained() {
    let h = Harness::new(640, 480, 60);
    h.with_bystander(|| {
        let mut g = game(&h, "twice");
        let _a = g.constraints.lock_pointer(
            &g.window.surface,
            &g.pointer,
            None,
            Lifetime::Oneshot,
            &g.c.qh,
            (),
        );
        let _b = g.constraints.confine_pointer(
            &g.window.surface,
            &g.pointer,
            None,
            Lifetime::Oneshot,
            &g.c.qh,
            (),
        );
        assert_ended_with(
            &mut g.c,
            "zwp_pointer_constraints_v1",
            zwp_pointer_constraints_v1::Error::AlreadyConstrained as u32,
        );
    });
}
