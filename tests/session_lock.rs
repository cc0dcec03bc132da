//! ext_session_lock_v1 with real clients: while locked only the lock surface is shown (read back
//! from the screen) and gets input; unlocking gives the session back; a locker that dies leaves it
//! locked until a new locker takes over; a second locker is refused while the first lives; every
//! protocol error of the two lock interfaces, each with a bystander still served.

mod common;

use common::{assert_ended_with, solid_shm, Harness, BACKGROUND};
use wayland_client::protocol::{wl_output, wl_seat, wl_surface};
use wayland_client::Proxy;
use wayland_protocols::ext::session_lock::v1::client::{
    ext_session_lock_manager_v1::ExtSessionLockManagerV1,
    ext_session_lock_surface_v1::{self, ExtSessionLockSurfaceV1},
    ext_session_lock_v1::{self, ExtSessionLockV1},
};
use weft::InjectedInput;
use weft_clients::client::Toplevel;
use weft_clients::seat_events::{Recorder, Seen};
use weft_clients::{Client, ShmBuffer};
use weft_compositor::seat::input::buttons;

const W: u32 = 320;
const H: u32 = 240;
const KEY_A: u32 = 30;

/// A client with a seat (pointer and keyboard recorded) and a green window.
struct App {
    c: Client,
    seen: Recorder,
    window: Toplevel,
    _buffer: ShmBuffer,
}

fn app(h: &Harness) -> App {
    let mut c = h.client();
    let seen = Recorder::default();
    let seat: wl_seat::WlSeat = c.globals.bind(&c.qh, 5..=7, seen.clone()).expect("seat");
    seat.get_pointer(&c.qh, seen.clone());
    seat.get_keyboard(&c.qh, seen.clone());
    let window = c.toplevel("under-the-lock", "weft.lock").expect("toplevel");
    let buffer = solid_shm(&c, 100, 80, [0, 200, 0]);
    c.show(&window.surface, &buffer.buffer);
    h.settle(&mut c);
    App {
        c,
        seen,
        window,
        _buffer: buffer,
    }
}

/// A locker: its connection, lock object and (once made) its lock surface.
struct Locker {
    c: Client,
    seen: Recorder,
    manager: ExtSessionLockManagerV1,
    lock: ExtSessionLockV1,
    output: wl_output::WlOutput,
}

fn locker(h: &Harness) -> Locker {
    let mut c = h.client();
    let seen = Recorder::default();
    let seat: wl_seat::WlSeat = c.globals.bind(&c.qh, 5..=7, seen.clone()).expect("seat");
    seat.get_pointer(&c.qh, seen.clone());
    seat.get_keyboard(&c.qh, seen.clone());
    let manager: ExtSessionLockManagerV1 = c.globals.bind(&c.qh, 1..=1, ()).expect("lock manager");
    c.roundtrip().expect("roundtrip");
    let output = c
        .state
        .output_names
        .first()
        .map(|(o, _)| o.clone())
        .expect("an output");
    let lock = manager.lock(&c.qh, ());
    Locker {
        c,
        seen,
        manager,
        lock,
        output,
    }
}

impl Locker {
    /// Waits for `locked` (weft sends it once every output rendered a locked frame).
    fn wait_locked(&mut self) {
        self.c
            .wait_until("locked", 200, |s| s.lock_events.contains(&"locked"))
            .expect("the session is locked");
    }

    /// A lock surface on the output, configured, acked and showing `rgb` at the configured size.
    fn surface(
        &mut self,
        h: &Harness,
        rgb: [u8; 3],
    ) -> (wl_surface::WlSurface, ExtSessionLockSurfaceV1, ShmBuffer) {
        let surface = self.c.compositor.create_surface(&self.c.qh, ());
        let role = self
            .lock
            .get_lock_surface(&surface, &self.output, &self.c.qh, ());
        self.c.roundtrip().expect("roundtrip");
        let (serial, w, hgt) = *self
            .c
            .state
            .lock_surface_configures
            .get(&role.id())
            .expect("configured");
        assert_eq!((w, hgt), (W, H), "the lock surface gets the output's size");
        role.ack_configure(serial);
        let buffer = solid_shm(&self.c, w as i32, hgt as i32, rgb);
        self.c.show(&surface, &buffer.buffer);
        h.settle(&mut self.c);
        (surface, role, buffer)
    }
}

fn click_at(h: &Harness, x: f64, y: f64) {
    h.weft
        .inject(InjectedInput::PointerMotion { x, y })
        .expect("inject");
    for pressed in [true, false] {
        h.weft
            .inject(InjectedInput::PointerButton {
                button: buttons::LEFT,
                pressed,
            })
            .expect("inject");
    }
}

fn key(h: &Harness) {
    for pressed in [true, false] {
        h.weft
            .inject(InjectedInput::Key {
                code: KEY_A,
                pressed,
            })
            .expect("inject");
    }
}

#[test]
fn only_the_lock_surface_is_shown_and_gets_input_until_unlocked() {
    let h = Harness::new(W, H, 60);
    let mut a = app(&h);
    let s = h.surface("under-the-lock");
    let (wx, wy) = (
        s["x"].as_f64().unwrap() + 5.0,
        s["y"].as_f64().unwrap() + 5.0,
    );

    let mut l = locker(&h);
    l.wait_locked();
    // Blank before the lock surface arrives: the window is gone from the screen.
    let shot = h.screenshot("HEADLESS-1");
    shot.assert_pixel(wx as u32, wy as u32, BACKGROUND, 2);
    let (lock_surface, _role, _buffer) = l.surface(&h, [30, 30, 200]);
    let shot = h.screenshot("HEADLESS-1");
    shot.assert_pixel(wx as u32, wy as u32, [30, 30, 200, 255], 2);
    shot.assert_pixel(0, 0, [30, 30, 200, 255], 2);

    // Input goes to the lock surface only.
    a.c.roundtrip().expect("roundtrip");
    a.seen.take();
    click_at(&h, wx, wy);
    key(&h);
    a.c.roundtrip().expect("roundtrip");
    l.c.roundtrip().expect("roundtrip");
    let app_saw = a.seen.take();
    assert!(
        !app_saw.iter().any(|e| matches!(
            e,
            Seen::Button { .. } | Seen::Key { .. } | Seen::PointerEnter { .. }
        )),
        "the window under the lock got input: {app_saw:?}"
    );
    let locker_saw = l.seen.take();
    assert!(
        locker_saw
            .iter()
            .any(|e| matches!(e, Seen::Button { pressed: true, .. })),
        "{locker_saw:?}"
    );
    assert!(
        locker_saw.contains(&Seen::Key {
            key: KEY_A,
            pressed: true
        }),
        "{locker_saw:?}"
    );
    assert_eq!(l.c.state.keyboard_focus, Some(lock_surface.id()));

    // Unlock: the window is back, with the keyboard.
    l.lock.unlock_and_destroy();
    l.c.roundtrip().expect("roundtrip");
    h.settle(&mut a.c);
    let shot = h.screenshot("HEADLESS-1");
    shot.assert_pixel(wx as u32, wy as u32, [0, 200, 0, 255], 2);
    a.c.roundtrip().expect("roundtrip");
    assert_eq!(a.c.state.keyboard_focus, Some(a.window.surface.id()));
}

#[test]
fn a_locker_that_dies_leaves_the_session_locked_until_another_takes_over() {
    let h = Harness::new(W, H, 60);
    let mut a = app(&h);
    let s = h.surface("under-the-lock");
    let (wx, wy) = (
        s["x"].as_f64().unwrap() + 5.0,
        s["y"].as_f64().unwrap() + 5.0,
    );
    let mut l = locker(&h);
    l.wait_locked();
    let _s = l.surface(&h, [30, 30, 200]);
    drop(_s);
    drop(l);

    // Still locked: blank, and the window unreachable.
    h.settle(&mut a.c);
    let shot = h.screenshot("HEADLESS-1");
    shot.assert_pixel(wx as u32, wy as u32, BACKGROUND, 2);
    a.seen.take();
    click_at(&h, wx, wy);
    a.c.roundtrip().expect("roundtrip");
    assert!(!a
        .seen
        .take()
        .iter()
        .any(|e| matches!(e, Seen::Button { .. })));

    // A new locker is told `locked` at once and can unlock.
    let mut again = locker(&h);
    again.wait_locked();
    again.lock.unlock_and_destroy();
    again.c.roundtrip().expect("roundtrip");
    h.settle(&mut a.c);
    h.screenshot("HEADLESS-1")
        .assert_pixel(wx as u32, wy as u32, [0, 200, 0, 255], 2);
}

#[test]
fn a_second_locker_is_refused_while_the_first_lives() {
    let h = Harness::new(W, H, 60);
    let mut first = locker(&h);
    first.wait_locked();
    let mut second = locker(&h);
    second.c.roundtrip().expect("roundtrip");
    second.c.roundtrip().expect("roundtrip");
    assert_eq!(second.c.state.lock_events, ["finished"]);
    // Destroying a lock that was never granted is allowed.
    second.lock.destroy();
    second.c.roundtrip().expect("roundtrip");
    assert!(second.c.protocol_error().is_none());
    first.lock.unlock_and_destroy();
    first.c.roundtrip().expect("roundtrip");
}

// Protocol errors. A locker ended by one leaves the session locked; each test unlocks it with a
// new locker before the bystander (hidden while locked: no frame callbacks) is checked.

#[test]
fn destroying_a_held_lock_is_invalid_destroy() {
    let h = Harness::new(W, H, 60);
    h.with_bystander(|| {
        let mut l = locker(&h);
        l.wait_locked();
        l.lock.destroy();
        assert_ended_with(
            &mut l.c,
            "ext_session_lock_v1",
            ext_session_lock_v1::Error::InvalidDestroy as u32,
        );
        unlock_after(&h);
    });
}

#[test]
fn unlocking_a_lock_never_granted_is_invalid_unlock() {
    let h = Harness::new(W, H, 60);
    h.with_bystander(|| {
        let mut first = locker(&h);
        first.wait_locked();
        let mut second = locker(&h);
        second.c.roundtrip().expect("roundtrip");
        second.lock.unlock_and_destroy();
        assert_ended_with(
            &mut second.c,
            "ext_session_lock_v1",
            ext_session_lock_v1::Error::InvalidUnlock as u32,
        );
        first.lock.unlock_and_destroy();
        first.c.roundtrip().expect("roundtrip");
    });
}

/// A held lock and a fresh surface on its connection, for the lock-surface errors.
fn held(h: &Harness) -> (Locker, wl_surface::WlSurface) {
    let mut l = locker(h);
    l.wait_locked();
    let surface = l.c.compositor.create_surface(&l.c.qh, ());
    (l, surface)
}

/// Unlocks the session a test's dead locker left locked (so the bystander is shown again).
fn unlock_after(h: &Harness) {
    let mut again = locker(h);
    again.wait_locked();
    again.lock.unlock_and_destroy();
    again.c.roundtrip().expect("roundtrip");
}

#[test]
fn a_lock_surface_with_another_role_is_role() {
    let h = Harness::new(W, H, 60);
    h.with_bystander(|| {
        let (mut l, _) = held(&h);
        let t = l.c.toplevel_unconfigured("has-a-role", "weft.lock");
        let _s = l.lock.get_lock_surface(&t.surface, &l.output, &l.c.qh, ());
        assert_ended_with(
            &mut l.c,
            "ext_session_lock_v1",
            ext_session_lock_v1::Error::Role as u32,
        );
        unlock_after(&h);
    });
}

#[test]
fn two_lock_surfaces_on_one_output_is_duplicate_output() {
    let h = Harness::new(W, H, 60);
    h.with_bystander(|| {
        let (mut l, s1) = held(&h);
        let s2 = l.c.compositor.create_surface(&l.c.qh, ());
        let _a = l.lock.get_lock_surface(&s1, &l.output, &l.c.qh, ());
        let _b = l.lock.get_lock_surface(&s2, &l.output, &l.c.qh, ());
        assert_ended_with(
            &mut l.c,
            "ext_session_lock_v1",
            ext_session_lock_v1::Error::DuplicateOutput as u32,
        );
        unlock_after(&h);
    });
}

#[test]
fn a_surface_with_a_buffer_is_already_constructed() {
    let h = Harness::new(W, H, 60);
    h.with_bystander(|| {
        let (mut l, s) = held(&h);
        let px = solid_shm(&l.c, 8, 8, [1, 2, 3]);
        s.attach(Some(&px.buffer), 0, 0);
        let _a = l.lock.get_lock_surface(&s, &l.output, &l.c.qh, ());
        assert_ended_with(
            &mut l.c,
            "ext_session_lock_v1",
            ext_session_lock_v1::Error::AlreadyConstructed as u32,
        );
        unlock_after(&h);
    });
}

#[test]
fn the_lock_surface_errors() {
    let h = Harness::new(W, H, 60);
    h.with_bystander(|| {
        // commit_before_first_ack
        let (mut l, s) = held(&h);
        let _r = l.lock.get_lock_surface(&s, &l.output, &l.c.qh, ());
        s.commit();
        assert_ended_with(
            &mut l.c,
            "ext_session_lock_surface_v1",
            ext_session_lock_surface_v1::Error::CommitBeforeFirstAck as u32,
        );
        unlock_after(&h);

        // null_buffer
        let (mut l, s) = held(&h);
        let r = l.lock.get_lock_surface(&s, &l.output, &l.c.qh, ());
        l.c.roundtrip().expect("roundtrip");
        let (serial, _, _) = l.c.state.lock_surface_configures[&r.id()];
        r.ack_configure(serial);
        s.attach(None, 0, 0);
        s.commit();
        assert_ended_with(
            &mut l.c,
            "ext_session_lock_surface_v1",
            ext_session_lock_surface_v1::Error::NullBuffer as u32,
        );
        unlock_after(&h);

        // dimensions_mismatch
        let (mut l, s) = held(&h);
        let r = l.lock.get_lock_surface(&s, &l.output, &l.c.qh, ());
        l.c.roundtrip().expect("roundtrip");
        let (serial, _, _) = l.c.state.lock_surface_configures[&r.id()];
        r.ack_configure(serial);
        let px = solid_shm(&l.c, 10, 10, [1, 2, 3]);
        l.c.show(&s, &px.buffer);
        assert_ended_with(
            &mut l.c,
            "ext_session_lock_surface_v1",
            ext_session_lock_surface_v1::Error::DimensionsMismatch as u32,
        );
        unlock_after(&h);

        // invalid_serial
        let (mut l, s) = held(&h);
        let r = l.lock.get_lock_surface(&s, &l.output, &l.c.qh, ());
        l.c.roundtrip().expect("roundtrip");
        r.ack_configure(0xdead);
        assert_ended_with(
            &mut l.c,
            "ext_session_lock_surface_v1",
            ext_session_lock_surface_v1::Error::InvalidSerial as u32,
        );
        unlock_after(&h);
    });
}

#[test]
fn the_manager_is_advertised() {
    let h = Harness::new(W, H, 60);
    let l = locker(&h);
    assert!(l.manager.is_alive());
}
