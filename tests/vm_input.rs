//! `weft --backend drm` reading real input devices through libinput in the tests/vm guest: uinput
//! devices (a keyboard made before weft starts, a mouse and a touchscreen plugged in while it
//! runs) reach a client's window as wl_keyboard, wl_pointer and wl_touch events with the evdev
//! codes and the surface-local positions the devices imply; a device unplugged while weft runs is
//! released and weft keeps serving.

#[allow(dead_code, reason = "shared with another target that uses the rest")]
mod kms_session {
    include!("support/kms_session.rs");
}

use std::path::Path;
use std::time::{Duration, Instant};

use kms_session::{kms_to_myself, Session};
use wayland_client::protocol::{wl_seat, wl_shm};
use weft_clients::seat_events::{Recorder, Seen};
use weft_clients::soak::dispatch_timeout;
use weft_clients::{argb, Client, ShmBuffer};
use weft_guest::uinput::{codes, VirtualDevice};

/// The window's size: small, so the pointer can leave it on the first output.
const W: i32 = 200;
const H: i32 = 150;
/// How long an event may take to go from a device through weft to the client (TCG is slow).
const EVENT_TIMEOUT: Duration = Duration::from_secs(30);

/// Dispatches until what the client recorded satisfies `done`; panics after [`EVENT_TIMEOUT`].
fn wait_for(c: &mut Client, seen: &Recorder, what: &str, done: impl Fn(&[Seen]) -> bool) {
    let deadline = Instant::now() + EVENT_TIMEOUT;
    while !done(&seen.snapshot()) {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(
            !left.is_zero(),
            "{what}: not seen in {EVENT_TIMEOUT:?}; seen {:?}",
            seen.snapshot()
        );
        dispatch_timeout(c, left.min(Duration::from_millis(200))).expect("dispatch");
    }
}

/// Whether process `pid` has `node` open.
fn holds(pid: u32, node: &Path) -> bool {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|fds| {
            fds.flatten()
                .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|p| p == node))
        })
        .unwrap_or(false)
}

/// Waits until weft has (or, with `open` false, no longer has) `device`'s node open: libinput
/// took the device from udev (or let it go), so what the device emits now reaches weft.
fn wait_held(weft: &Session, device: &Path, open: bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while holds(weft.child.id(), device) != open {
        assert!(
            Instant::now() < deadline,
            "weft {} {} within 60 s",
            if open { "did not open" } else { "still holds" },
            device.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn close(a: f64, b: f64) -> bool {
    // wl_fixed: 1/256.
    (a - b).abs() <= 1.0 / 128.0
}

#[test]
fn devices_plugged_before_and_after_weft_starts_reach_the_client() {
    let _kms = kms_to_myself();
    // Present before weft starts: libinput finds it when it takes the seat's devices.
    let keyboard = VirtualDevice::keyboard("weft-test keyboard").expect("uinput keyboard");
    let mut weft = Session::start();
    let outputs = weft.msg(&["outputs"]);
    let outputs = outputs.as_array().expect("outputs").clone();
    assert!(!outputs.is_empty());
    let first = &outputs[0];
    let (ox, oy) = (first["x"].as_i64().unwrap(), first["y"].as_i64().unwrap());
    let (ow, oh) = (
        first["width"].as_i64().unwrap(),
        first["height"].as_i64().unwrap(),
    );

    // A client with a pointer, a keyboard and a touch device, and a maximized W×H window: weft puts
    // it at the first output's origin, where a pointer pushed past the top-left corner stops.
    let mut c = weft.client();
    let seen = Recorder::default();
    let seat: wl_seat::WlSeat = c.globals.bind(&c.qh, 5..=7, seen.clone()).expect("wl_seat");
    seat.get_pointer(&c.qh, seen.clone());
    seat.get_keyboard(&c.qh, seen.clone());
    seat.get_touch(&c.qh, seen.clone());
    let t = c.toplevel_unconfigured("input", "weft.vm-input");
    t.toplevel.set_maximized();
    t.surface.commit();
    c.ack_latest(&t).expect("configure");
    let buffer = ShmBuffer::new(&c.shm, &c.qh, W, H, wl_shm::Format::Xrgb8888, |_, _| {
        argb(40, 120, 200, 255)
    })
    .expect("shm buffer");
    c.show(&t.surface, &buffer.buffer);
    c.roundtrip().expect("roundtrip");
    let deadline = Instant::now() + Duration::from_secs(30);
    let (wx, wy) = loop {
        let s = weft
            .msg(&["surfaces"])
            .as_array()
            .and_then(|a| a.iter().find(|s| s["title"] == "input").cloned());
        if let Some((x, y)) = s.and_then(|s| Some((s["x"].as_i64()?, s["y"].as_i64()?))) {
            break (x, y);
        }
        assert!(Instant::now() < deadline, "the window was not mapped");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(
        (wx, wy),
        (ox, oy),
        "a maximized window at the first output's origin"
    );
    wait_for(&mut c, &seen, "keyboard focus", |s| {
        s.contains(&Seen::KeyboardEnter)
    });

    // Keys from the keyboard that was there first: the evdev code, pressed then released.
    wait_held(&weft, keyboard.node(), true);
    seen.take();
    keyboard.key(codes::KEY_A, true).expect("key");
    keyboard.key(codes::KEY_A, false).expect("key");
    wait_for(&mut c, &seen, "KEY_A press and release", |s| {
        s.iter().filter(|e| matches!(e, Seen::Key { .. })).count() >= 2
    });
    let keys: Vec<Seen> = seen
        .take()
        .into_iter()
        .filter(|e| matches!(e, Seen::Key { .. }))
        .collect();
    assert_eq!(
        keys,
        [
            Seen::Key {
                key: u32::from(codes::KEY_A),
                pressed: true
            },
            Seen::Key {
                key: u32::from(codes::KEY_A),
                pressed: false
            }
        ]
    );

    // A mouse plugged in while weft runs.
    let mouse = VirtualDevice::mouse("weft-test mouse").expect("uinput mouse");
    wait_held(&weft, mouse.node(), true);
    // Past the top-left corner, the pointer stops at the first output's origin: the window's
    // (0, 0). Whether weft already sent it there (it rests at the origin from the start) or not,
    // it is on the window now.
    let to_origin = |mouse: &VirtualDevice| {
        for _ in 0..4 {
            mouse.move_by(-8000, -8000).expect("motion");
        }
    };
    to_origin(&mouse);
    wait_for(&mut c, &seen, "the pointer on the window", |s| {
        s.iter()
            .any(|e| matches!(e, Seen::PointerEnter { .. } | Seen::PointerMotion { .. }))
    });
    // Off the window (clamped to the outputs), then back: leave, then enter at (0, 0).
    for _ in 0..4 {
        mouse.move_by(8000, 8000).expect("motion");
    }
    wait_for(&mut c, &seen, "wl_pointer.leave", |s| {
        s.contains(&Seen::PointerLeave)
    });
    seen.take();
    to_origin(&mouse);
    wait_for(&mut c, &seen, "wl_pointer.enter", |s| {
        s.iter().any(|e| matches!(e, Seen::PointerEnter { .. }))
    });
    dispatch_timeout(&mut c, Duration::from_millis(500)).expect("dispatch");
    let entered = seen.take();
    assert_eq!(
        entered.first(),
        Some(&Seen::PointerEnter { x: 0.0, y: 0.0 }),
        "the pointer enters at the window's top-left corner: {entered:?}"
    );
    // A small diagonal step (accelerated, by how much is libinput's business): motion inside.
    mouse.move_by(10, 10).expect("motion");
    let off_origin = |e: &Seen| matches!(e, Seen::PointerMotion { x, y } if (*x, *y) != (0.0, 0.0));
    wait_for(&mut c, &seen, "wl_pointer.motion off the corner", |s| {
        s.iter().any(off_origin)
    });
    let moved = seen.take();
    let Some(Seen::PointerMotion { x, y }) = moved.iter().find(|e| off_origin(e)).cloned() else {
        panic!("expected motion, got {moved:?}");
    };
    assert!(
        x > 0.0 && x < f64::from(W) && close(x, y),
        "a diagonal step from the corner stays on the window: ({x}, {y})"
    );
    for pressed in [true, false] {
        mouse.button(codes::BTN_RIGHT, pressed).expect("button");
    }
    wait_for(&mut c, &seen, "button press and release", |s| {
        s.iter()
            .filter(|e| matches!(e, Seen::Button { .. }))
            .count()
            >= 2
    });
    assert_eq!(
        seen.take(),
        [
            Seen::Button {
                button: u32::from(codes::BTN_RIGHT),
                pressed: true
            },
            Seen::Button {
                button: u32::from(codes::BTN_RIGHT),
                pressed: false
            },
        ]
    );
    // One wheel detent towards the user: scrolling down, 15 logical pixels.
    mouse.wheel(-1).expect("wheel");
    wait_for(&mut c, &seen, "wl_pointer.axis", |s| {
        s.iter().any(|e| matches!(e, Seen::Axis { .. }))
    });
    assert_eq!(
        seen.take(),
        [Seen::Axis {
            vertical: true,
            value: 15.0
        }]
    );

    // A touchscreen plugged in while weft runs, its axes one unit per pixel of the first output.
    let mut screen =
        VirtualDevice::touchscreen("weft-test touchscreen", (ow - 1) as i32, (oh - 1) as i32)
            .expect("uinput touchscreen");
    wait_held(&weft, screen.node(), true);
    let (tx, ty) = ((wx - ox) as i32 + 50, (wy - oy) as i32 + 40);
    screen.touch_down(0, tx, ty).expect("touch down");
    screen
        .touch_move(0, tx + 10, ty + 20)
        .expect("touch motion");
    screen.touch_up(0).expect("touch up");
    wait_for(&mut c, &seen, "touch down, motion, up", |s| {
        s.iter().any(|e| matches!(e, Seen::TouchUp { .. }))
    });
    let touched: Vec<Seen> = seen
        .take()
        .into_iter()
        .filter(|e| {
            matches!(
                e,
                Seen::TouchDown { .. } | Seen::TouchMotion { .. } | Seen::TouchUp { .. }
            )
        })
        .collect();
    match touched.as_slice() {
        [Seen::TouchDown { id, x, y }, Seen::TouchMotion {
            id: id2,
            x: x2,
            y: y2,
        }, Seen::TouchUp { id: id3 }] => {
            assert!(close(*x, 50.0) && close(*y, 40.0), "down at ({x}, {y})");
            assert!(
                close(*x2, 60.0) && close(*y2, 60.0),
                "moved to ({x2}, {y2})"
            );
            assert!(id == id2 && id == id3, "one touch point: {touched:?}");
        }
        other => panic!("expected down, motion, up: {other:?}"),
    }

    // Unplugged while weft runs: libinput lets the node go, weft keeps serving, the other devices
    // keep working.
    let mouse_node = mouse.node().to_path_buf();
    mouse.destroy().expect("UI_DEV_DESTROY");
    wait_held(&weft, &mouse_node, false);
    let again = weft.msg(&["outputs"]);
    assert_eq!(again.as_array().map(Vec::len), Some(outputs.len()));
    keyboard.key(codes::KEY_B, true).expect("key");
    keyboard.key(codes::KEY_B, false).expect("key");
    wait_for(&mut c, &seen, "KEY_B after the mouse left", |s| {
        s.contains(&Seen::Key {
            key: u32::from(codes::KEY_B),
            pressed: false,
        })
    });
    let screen_node = screen.node().to_path_buf();
    screen.destroy().expect("UI_DEV_DESTROY");
    wait_held(&weft, &screen_node, false);
    assert!(
        matches!(weft.child.try_wait(), Ok(None)),
        "weft still runs after its devices went away"
    );
    assert_eq!(
        weft.msg(&["outputs"]).as_array().map(Vec::len),
        Some(outputs.len())
    );
}
