//! xdg_wm_base v6: a toplevel hears its bounds (v4) and what weft does of its requests (v5:
//! fullscreen, maximize, minimize, no window menu); a minimized window leaves the screen, is
//! told it is suspended (v6) and comes back when it asks to be maximized; a window no output
//! that is on shows is suspended until one does again.

mod common;

use std::time::{Duration, Instant};

use common::{solid_shm, Harness};
use wayland_client::Proxy;
use weft::Request;
use weft_clients::{Client, Toplevel};

/// xdg_toplevel.state and .wm_capabilities values.
const MAXIMIZED: u32 = 1;
const SUSPENDED: u32 = 9;
const CAP_WINDOW_MENU: u32 = 1;
const CAP_MAXIMIZE: u32 = 2;
const CAP_FULLSCREEN: u32 = 3;
const CAP_MINIMIZE: u32 = 4;

fn states(c: &Client, t: &Toplevel) -> Vec<u32> {
    c.state
        .toplevel_configures
        .get(&t.toplevel.id())
        .map(|(_, _, s)| s.clone())
        .unwrap_or_default()
}

fn until(c: &mut Client, what: &str, done: impl Fn(&Client) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !done(c) {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        c.roundtrip().expect("roundtrip");
        std::thread::sleep(Duration::from_millis(15));
    }
}

/// A 100×80 red window titled `title`.
fn red_window(h: &Harness, c: &mut Client, title: &str) -> (Toplevel, weft_clients::ShmBuffer) {
    let t = c.toplevel(title, "weft.test").expect("toplevel");
    let px = solid_shm(c, 100, 80, [255, 0, 0]);
    c.show(&t.surface, &px.buffer);
    h.settle(c);
    (t, px)
}

#[test]
fn a_toplevel_hears_its_bounds_and_what_weft_does() {
    let h = Harness::new(640, 480, 60);
    let mut c = h.client();
    assert_eq!(c.wm_base.version(), 6, "xdg_wm_base is offered at v6");
    let t = c.toplevel("told", "weft.test").expect("toplevel");
    until(&mut c, "configure_bounds and wm_capabilities", |c| {
        c.state.toplevel_bounds.contains_key(&t.toplevel.id())
            && c.state.wm_capabilities.contains_key(&t.toplevel.id())
    });
    assert_eq!(
        c.state.toplevel_bounds[&t.toplevel.id()],
        (640, 480),
        "the output's usable area"
    );
    let mut caps = c.state.wm_capabilities[&t.toplevel.id()].clone();
    caps.sort_unstable();
    assert_eq!(caps, vec![CAP_MAXIMIZE, CAP_FULLSCREEN, CAP_MINIMIZE]);
    assert!(!caps.contains(&CAP_WINDOW_MENU), "weft has no window menu");

    // Bounds follow the output.
    h.msg(Request::Output {
        output: "HEADLESS-1".into(),
        scale: Some(2.0),
        transform: None,
        position: None,
        mode: None,
        enabled: None,
    });
    until(&mut c, "the new bounds", |c| {
        c.state.toplevel_bounds.get(&t.toplevel.id()) == Some(&(320, 240))
    });
}

#[test]
fn a_minimized_window_leaves_the_screen_is_suspended_and_comes_back() {
    let h = Harness::new(640, 480, 60);
    let mut c = h.client();
    let (t, _px) = red_window(&h, &mut c, "minimized");
    let s = h.surface("minimized");
    let (x, y) = (
        s["x"].as_i64().expect("x") as u32 + 50,
        s["y"].as_i64().expect("y") as u32 + 40,
    );
    h.screenshot("HEADLESS-1")
        .assert_pixel(x, y, [255, 0, 0, 255], 2);
    assert!(!states(&c, &t).contains(&SUSPENDED));

    t.toplevel.set_minimized();
    until(&mut c, "suspended", |c| states(c, &t).contains(&SUSPENDED));
    h.settle(&mut c);
    h.screenshot("HEADLESS-1")
        .assert_pixel(x, y, common::BACKGROUND, 2);
    let s = h.surface("minimized");
    assert_eq!(
        (s["minimized"].as_bool(), s["mapped"].as_bool()),
        (Some(true), Some(false)),
        "{s}"
    );

    // Asking to be maximized brings it back.
    t.toplevel.set_maximized();
    until(&mut c, "maximized and no longer suspended", |c| {
        let s = states(c, &t);
        s.contains(&MAXIMIZED) && !s.contains(&SUSPENDED)
    });
}

#[test]
fn a_window_no_output_shows_is_suspended_until_one_does() {
    let h = Harness::new(640, 480, 60);
    let mut c = h.client();
    let (t, _px) = red_window(&h, &mut c, "dark");
    let power = |on: bool| {
        h.msg(Request::Output {
            output: "HEADLESS-1".into(),
            scale: None,
            transform: None,
            position: None,
            mode: None,
            enabled: Some(on),
        })
    };
    power(false);
    until(&mut c, "suspended", |c| states(c, &t).contains(&SUSPENDED));
    power(true);
    until(&mut c, "shown again", |c| {
        !states(c, &t).contains(&SUSPENDED)
    });
}
