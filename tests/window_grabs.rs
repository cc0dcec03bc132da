//! The grabs of xdg-shell, driven by injected input like a user's hand: interactive move and
//! resize (a client's title bar and border drags), and popup grabs (menus: the keyboard goes to the
//! menu, a click outside or another window closes the chain, nested menus close innermost first).

mod common;

use common::{assert_ended_with, solid_shm, Harness};
use wayland_client::protocol::{wl_seat, wl_surface};
use wayland_client::Proxy;
use wayland_protocols::xdg::shell::client::{xdg_popup, xdg_positioner, xdg_toplevel};
use weft::InjectedInput;
use weft_clients::client::Toplevel;
use weft_clients::data_transfer::{Log, Transfer};
use weft_clients::seat_events::{Recorder, Seen};
use weft_clients::{Client, ShmBuffer};
use weft_compositor::seat::input::buttons;

const W: i32 = 200;
const H: i32 = 150;

/// A client with a mapped W×H window, a pointer (presses logged with serials) and a keyboard.
struct App {
    c: Client,
    seat: wl_seat::WlSeat,
    seen: Recorder,
    window: Toplevel,
    buffers: Vec<ShmBuffer>,
    title: String,
}

impl App {
    fn new(h: &Harness, title: &str) -> Self {
        let mut c = h.client();
        let seen = Recorder::default();
        let seat: wl_seat::WlSeat = c.globals.bind(&c.qh, 5..=7, seen.clone()).expect("wl_seat");
        seat.get_pointer(&c.qh, seen.clone());
        seat.get_pointer(&c.qh, Transfer);
        seat.get_keyboard(&c.qh, seen.clone());
        seat.get_touch(&c.qh, seen.clone());
        let window = c.toplevel(title, "weft.grabs").expect("toplevel");
        let buffer = solid_shm(&c, W, H, [200, 40, 40]);
        c.show(&window.surface, &buffer.buffer);
        h.settle(&mut c);
        Self {
            c,
            seat,
            seen,
            window,
            buffers: vec![buffer],
            title: title.into(),
        }
    }

    fn log(&self) -> Log {
        self.c.state.transfer.clone()
    }

    fn place(&self, h: &Harness) -> (i32, i32) {
        let s = h.surface(&self.title);
        (
            s["x"].as_i64().expect("x") as i32,
            s["y"].as_i64().expect("y") as i32,
        )
    }

    /// The size and states of the latest configure of the window.
    fn configured(&self) -> (i32, i32, Vec<u32>) {
        self.c
            .state
            .toplevel_configures
            .get(&self.window.toplevel.id())
            .cloned()
            .expect("a configure")
    }

    /// Acknowledges the latest configure and draws at its size.
    fn follow_configure(&mut self, h: &Harness) {
        self.c.roundtrip().expect("roundtrip");
        let (w, hgt) = self.c.ack_latest(&self.window).expect("ack");
        let (w, hgt) = (if w > 0 { w } else { W }, if hgt > 0 { hgt } else { H });
        let buffer = solid_shm(&self.c, w, hgt, [200, 40, 40]);
        self.c.show(&self.window.surface, &buffer.buffer);
        self.buffers.push(buffer);
        h.settle(&mut self.c);
    }
}

fn move_to(h: &Harness, x: i32, y: i32) {
    h.weft
        .inject(InjectedInput::PointerMotion {
            x: f64::from(x),
            y: f64::from(y),
        })
        .expect("inject");
}

fn button(h: &Harness, pressed: bool) {
    h.weft
        .inject(InjectedInput::PointerButton {
            button: buttons::LEFT,
            pressed,
        })
        .expect("inject");
}

/// Presses on the window at (dx, dy) from its corner; returns the press's serial.
fn press_on(h: &Harness, app: &mut App, dx: i32, dy: i32) -> u32 {
    let (x, y) = app.place(h);
    move_to(h, x + dx, y + dy);
    button(h, true);
    app.c.roundtrip().expect("roundtrip");
    app.log()
        .press_serial()
        .expect("the press reached the client")
}

const RESIZING: u32 = xdg_toplevel::State::Resizing as u32;

#[test]
fn a_title_bar_drag_moves_the_window_and_the_pointer_leaves_it_meanwhile() {
    let h = Harness::new(800, 600, 60);
    let mut app = App::new(&h, "moved");
    let (x, y) = app.place(&h);
    let serial = press_on(&h, &mut app, 20, 10);
    app.seen.take();
    app.window.toplevel._move(&app.seat, serial);
    app.c.roundtrip().expect("roundtrip");
    move_to(&h, x + 20 + 70, y + 10 + 45);
    app.c.roundtrip().expect("roundtrip");
    assert!(
        app.seen.take().contains(&Seen::PointerLeave),
        "the pointer left the window while moving it"
    );
    assert_eq!(
        app.place(&h),
        (x + 70, y + 45),
        "the window follows the pointer"
    );
    button(&h, false);
    move_to(&h, x + 70 + 5, y + 45 + 5);
    app.c.roundtrip().expect("roundtrip");
    let seen = app.seen.take();
    assert!(
        seen.iter().any(|e| matches!(e, Seen::PointerEnter { .. })),
        "after the release the pointer is back on the moved window: {seen:?}"
    );
    assert!(
        matches!(seen.last(), Some(Seen::PointerEnter { x, y } | Seen::PointerMotion { x, y }) if (*x, *y) == (5.0, 5.0)),
        "{seen:?}"
    );
    assert_eq!(
        app.place(&h),
        (x + 70, y + 45),
        "the window stays where it was dropped"
    );
    // The pixels moved too.
    app.c.roundtrip().expect("roundtrip");
    h.settle(&mut app.c);
    let shot = h.screenshot("HEADLESS-1");
    shot.assert_pixel(
        (x + 70 + W - 2) as u32,
        (y + 45 + H - 2) as u32,
        [200, 40, 40, 255],
        2,
    );
}

#[test]
fn a_top_left_resize_asks_for_sizes_and_keeps_the_bottom_right_corner() {
    let h = Harness::new(800, 600, 60);
    let mut app = App::new(&h, "resized");
    let (x, y) = app.place(&h);
    let serial = press_on(&h, &mut app, 2, 2);
    app.window
        .toplevel
        .resize(&app.seat, serial, xdg_toplevel::ResizeEdge::TopLeft);
    app.c.roundtrip().expect("roundtrip");
    // 30 px left and 20 px up: the window is asked to grow by as much.
    move_to(&h, x + 2 - 30, y + 2 - 20);
    app.c.roundtrip().expect("roundtrip");
    let (w, hgt, states) = app.configured();
    assert_eq!((w, hgt), (W + 30, H + 20));
    assert!(states.contains(&RESIZING), "{states:?}");
    app.follow_configure(&h);
    let s = h.surface("resized");
    assert_eq!(
        (
            s["x"].as_i64(),
            s["y"].as_i64(),
            s["width"].as_i64(),
            s["height"].as_i64()
        ),
        (
            Some(i64::from(x - 30)),
            Some(i64::from(y - 20)),
            Some(i64::from(W + 30)),
            Some(i64::from(H + 20))
        ),
        "the bottom-right corner stays where it was"
    );
    button(&h, false);
    app.c.roundtrip().expect("roundtrip");
    let (_, _, states) = app.configured();
    assert!(
        !states.contains(&RESIZING),
        "the last configure ends the resize: {states:?}"
    );
    app.follow_configure(&h);
    assert_eq!(app.place(&h), (x - 30, y - 20));
}

#[test]
fn a_resize_stays_within_the_min_and_max_size() {
    let h = Harness::new(800, 600, 60);
    let mut app = App::new(&h, "bounded");
    app.window.toplevel.set_min_size(150, 120);
    app.window.toplevel.set_max_size(260, 0);
    app.window.surface.commit();
    let (x, y) = app.place(&h);
    let serial = press_on(&h, &mut app, W - 2, H - 2);
    app.window
        .toplevel
        .resize(&app.seat, serial, xdg_toplevel::ResizeEdge::BottomRight);
    app.c.roundtrip().expect("roundtrip");
    move_to(&h, x + W - 2 - 120, y + H - 2 - 100);
    app.c.roundtrip().expect("roundtrip");
    assert_eq!(
        (app.configured().0, app.configured().1),
        (150, 120),
        "the min size"
    );
    move_to(&h, x + W - 2 + 300, y + H - 2 + 100);
    app.c.roundtrip().expect("roundtrip");
    assert_eq!(
        (app.configured().0, app.configured().1),
        (260, H + 100),
        "the max width, no max height"
    );
    button(&h, false);
}

#[test]
fn a_move_without_a_press_is_ignored_and_a_touch_drag_moves() {
    let h = Harness::new(800, 600, 60);
    let mut app = App::new(&h, "touched");
    let (x, y) = app.place(&h);
    // A serial that is no press: nothing happens.
    app.window.toplevel._move(&app.seat, 4242);
    app.c.roundtrip().expect("roundtrip");
    move_to(&h, x + 300, y + 200);
    assert_eq!(app.place(&h), (x, y));

    h.weft
        .inject(InjectedInput::TouchDown {
            slot: 0,
            x: f64::from(x + 10),
            y: f64::from(y + 10),
        })
        .expect("inject");
    app.c.roundtrip().expect("roundtrip");
    let touch_serial = app
        .c
        .state
        .last_touch_down_serial
        .expect("the touch down reached the client");
    app.window.toplevel._move(&app.seat, touch_serial);
    app.c.roundtrip().expect("roundtrip");
    h.weft
        .inject(InjectedInput::TouchMotion {
            slot: 0,
            x: f64::from(x + 10 - 40),
            y: f64::from(y + 10 + 25),
        })
        .expect("inject");
    h.weft
        .inject(InjectedInput::TouchUp { slot: 0 })
        .expect("inject");
    app.c.roundtrip().expect("roundtrip");
    assert_eq!(app.place(&h), (x - 40, y + 25));
}

/// A positioner for a 80×60 menu at (x, y) of its parent.
fn menu_positioner(c: &Client, x: i32, y: i32) -> xdg_positioner::XdgPositioner {
    let p = c.positioner();
    p.set_size(80, 60);
    p.set_anchor_rect(x, y, 1, 1);
    p.set_anchor(xdg_positioner::Anchor::TopLeft);
    p.set_gravity(xdg_positioner::Gravity::BottomRight);
    p
}

/// Opens a grabbing menu on `parent` (an xdg_surface) with the press `serial`.
fn open_menu(
    h: &Harness,
    app: &mut App,
    parent: &wayland_protocols::xdg::shell::client::xdg_surface::XdgSurface,
    at: (i32, i32),
    serial: u32,
) -> (
    wl_surface::WlSurface,
    wayland_protocols::xdg::shell::client::xdg_surface::XdgSurface,
    xdg_popup::XdgPopup,
    ShmBuffer,
) {
    let positioner = menu_positioner(&app.c, at.0, at.1);
    let (surface, xdg, popup) = app.c.popup(parent, &positioner);
    popup.grab(&app.seat, serial);
    surface.commit();
    app.c.roundtrip().expect("roundtrip");
    let serial = *app
        .c
        .state
        .surface_configures
        .get(&xdg.id())
        .and_then(|v| v.last())
        .expect("the popup is configured");
    xdg.ack_configure(serial);
    let pixels = solid_shm(&app.c, 80, 60, [40, 200, 40]);
    app.c.show(&surface, &pixels.buffer);
    h.settle(&mut app.c);
    (surface, xdg, popup, pixels)
}

#[test]
fn a_grabbing_menu_takes_the_keyboard_and_an_outside_click_closes_the_chain() {
    let h = Harness::new(800, 600, 60);
    let mut app = App::new(&h, "menus");
    let (x, y) = app.place(&h);
    let serial = press_on(&h, &mut app, 10, 10);
    button(&h, false);
    let parent = app.window.xdg_surface.clone();
    let (menu, menu_xdg, menu_popup, _p1) = open_menu(&h, &mut app, &parent, (10, 10), serial);
    assert_eq!(
        app.c.state.keyboard_focus,
        Some(menu.id()),
        "the menu has the keyboard"
    );

    // A nested menu, opened by a press on the first.
    move_to(&h, x + 10 + 20, y + 10 + 20);
    button(&h, true);
    app.c.roundtrip().expect("roundtrip");
    let serial = app.log().press_serial().expect("press on the menu");
    button(&h, false);
    let (sub, _, sub_popup, _p2) = open_menu(&h, &mut app, &menu_xdg, (20, 20), serial);
    assert_eq!(
        app.c.state.keyboard_focus,
        Some(sub.id()),
        "the nested menu has the keyboard"
    );
    assert!(app.c.state.popups_done.is_empty());

    // A click on the background closes both, innermost first; the keyboard returns to the window.
    move_to(&h, 790, 590);
    button(&h, true);
    button(&h, false);
    app.c.roundtrip().expect("roundtrip");
    assert_eq!(app.c.state.popups_done, [sub_popup.id(), menu_popup.id()]);
}

#[test]
fn a_new_window_closes_the_open_menu() {
    let h = Harness::new(800, 600, 60);
    let mut app = App::new(&h, "menu-owner");
    let serial = press_on(&h, &mut app, 10, 10);
    button(&h, false);
    let parent = app.window.xdg_surface.clone();
    let (_menu, _, popup, _p) = open_menu(&h, &mut app, &parent, (10, 10), serial);
    let other = App::new(&h, "newcomer");
    app.c.roundtrip().expect("roundtrip");
    assert_eq!(app.c.state.popups_done, [popup.id()]);
    assert_eq!(
        other.c.state.keyboard_focus,
        Some(other.window.surface.id())
    );
}

#[test]
fn a_grab_after_the_popup_is_mapped_is_invalid_grab() {
    let h = Harness::new(800, 600, 60);
    h.with_bystander(|| {
        let mut app = App::new(&h, "late-grab");
        let serial = press_on(&h, &mut app, 10, 10);
        button(&h, false);
        let parent = app.window.xdg_surface.clone();
        let positioner = menu_positioner(&app.c, 10, 10);
        let (surface, xdg, popup) = app.c.popup(&parent, &positioner);
        surface.commit();
        app.c.roundtrip().expect("roundtrip");
        let cfg = *app
            .c
            .state
            .surface_configures
            .get(&xdg.id())
            .and_then(|v| v.last())
            .expect("configured");
        xdg.ack_configure(cfg);
        let pixels = solid_shm(&app.c, 80, 60, [40, 200, 40]);
        app.c.show(&surface, &pixels.buffer);
        app.c.roundtrip().expect("roundtrip");
        popup.grab(&app.seat, serial);
        assert_ended_with(
            &mut app.c,
            "xdg_popup",
            xdg_popup::Error::InvalidGrab as u32,
        );
    });
}
