//! Output transforms: `weft msg output NAME --transform T` turns an output (a display on its
//! side) or mirrors it. The layout sees the turned size; a window is drawn turned into the
//! output's pixels; a client that draws its buffer turned as the output is
//! (wl_surface.set_buffer_transform) is shown pixel for pixel; a client's buffer transform on an
//! upright output is undone; an unknown transform is refused and the old one stays.

mod common;

use common::{Harness, Image};
use wayland_client::protocol::wl_output::Transform;
use weft::Request;
use weft_clients::{argb, Client, ShmBuffer, Toplevel};

const RED: [u8; 4] = [255, 0, 0, 255];
const GREEN: [u8; 4] = [0, 255, 0, 255];
const BLUE: [u8; 4] = [0, 0, 255, 255];
const WHITE: [u8; 4] = [255, 255, 255, 255];

fn transform(h: &Harness, t: &str) -> Result<serde_json::Value, String> {
    h.weft
        .msg(&Request::Output {
            output: "HEADLESS-1".into(),
            scale: None,
            transform: Some(t.into()),
            position: None,
            mode: None,
            enabled: None,
        })
        .map_err(|e| e.to_string())
}

/// The colour of quadrant (left?, top?) of the test pattern: red top-left, blue top-right,
/// green bottom-left, white bottom-right.
fn quadrant(left: bool, top: bool) -> [u8; 4] {
    match (left, top) {
        (true, true) => RED,
        (false, true) => BLUE,
        (true, false) => GREEN,
        (false, false) => WHITE,
    }
}

/// A `w`×`h` XRGB buffer of the quadrant pattern.
fn pattern(c: &Client, w: i32, h: i32) -> ShmBuffer {
    ShmBuffer::new(
        &c.shm,
        &c.qh,
        w,
        h,
        wayland_client::protocol::wl_shm::Format::Xrgb8888,
        |x, y| {
            let [r, g, b, _] = quadrant(x < w / 2, y < h / 2);
            argb(r, g, b, 0)
        },
    )
    .expect("shm buffer")
}

/// A window titled `title` showing `buffer` with `buffer_transform`; its logical place (x, y,
/// width, height), and the window (it lives as long as this).
fn show(
    h: &Harness,
    c: &mut Client,
    title: &str,
    buffer: &ShmBuffer,
    buffer_transform: Transform,
) -> ((i64, i64, i64, i64), Toplevel) {
    let t = c.toplevel(title, "weft.test").expect("toplevel");
    t.surface.set_buffer_transform(buffer_transform);
    t.surface.attach(Some(&buffer.buffer), 0, 0);
    t.surface.damage_buffer(0, 0, i32::MAX, i32::MAX);
    t.surface.commit();
    h.settle(c);
    let s = h.surface(title);
    let n = |k: &str| s[k].as_i64().unwrap_or_else(|| panic!("{k} of {s}"));
    ((n("x"), n("y"), n("width"), n("height")), t)
}

/// The quadrant centres of a window at logical (x, y) of `w`×`h`, each with the output pixel
/// that shows it through `to_pixel` and the colour it should have.
fn check_quadrants(
    shot: &Image,
    (x, y, w, h): (i64, i64, i64, i64),
    to_pixel: impl Fn(i64, i64) -> (i64, i64),
    colour_at: impl Fn(bool, bool) -> [u8; 4],
) {
    for (left, top) in [(true, true), (false, true), (true, false), (false, false)] {
        let lx = x + if left { w / 4 } else { 3 * w / 4 };
        let ly = y + if top { h / 4 } else { 3 * h / 4 };
        let (px, py) = to_pixel(lx, ly);
        shot.assert_pixel(px as u32, py as u32, colour_at(left, top), 2);
    }
}

#[test]
fn a_turned_output_swaps_its_logical_sides_and_draws_windows_turned() {
    let h = Harness::new(320, 240, 60);
    let outputs = transform(&h, "90").expect("IPC");
    let out = &outputs[0];
    assert_eq!(out["transform"], "90", "{out}");
    assert_eq!(
        (
            out["logical_width"].as_i64(),
            out["logical_height"].as_i64()
        ),
        (Some(240), Some(320)),
        "{out}"
    );
    assert_eq!(
        (out["width"].as_u64(), out["height"].as_u64()),
        (Some(320), Some(240)),
        "the mode stays: {out}"
    );

    let mut c = h.client();
    let buffer = pattern(&c, 100, 60);
    let (place, _window) = show(&h, &mut c, "upright", &buffer, Transform::Normal);
    assert_eq!((place.2, place.3), (100, 60), "{place:?}");
    assert!(
        place.0 + place.2 <= 240 && place.1 + place.3 <= 320,
        "placed inside the turned 240×320 output: {place:?}"
    );
    let shot = h.screenshot("HEADLESS-1");
    assert_eq!((shot.width, shot.height), (320, 240), "the output's pixels");
    // A quarter turn: logical pixel (x, y) is output pixel (319 - y, x): the window's top edge
    // runs down the output's right side.
    check_quadrants(&shot, place, |x, y| (319 - y, x), quadrant);
}

#[test]
fn a_buffer_turned_as_its_output_is_shown_pixel_for_pixel() {
    let h = Harness::new(320, 240, 60);
    transform(&h, "90").expect("IPC");
    let mut c = h.client();
    // Drawn already turned: a 60×100 buffer is a 100×60 window.
    let buffer = pattern(&c, 60, 100);
    let ((x, y, w, hh), _window) = show(&h, &mut c, "turned", &buffer, Transform::_90);
    assert_eq!(
        (w, hh),
        (100, 60),
        "the surface's size is the buffer's turned"
    );
    let shot = h.screenshot("HEADLESS-1");
    // The window's pixels are the buffer's, unturned: buffer pixel (bx, by) is output pixel
    // (320 - y - 60 + bx, x + by).
    for (bx, by) in [(15, 25), (45, 25), (15, 75), (45, 75), (0, 0), (59, 99)] {
        let (px, py) = (320 - y - 60 + bx, x + by);
        shot.assert_pixel(px as u32, py as u32, quadrant(bx < 30, by < 50), 2);
    }
}

#[test]
fn a_buffer_transform_on_an_upright_output_is_undone() {
    let h = Harness::new(320, 240, 60);
    let mut c = h.client();
    // A 60×100 buffer drawn turned by 90: upright it is 100×60 (wl_surface.set_buffer_transform:
    // the client turned its content; surface point (u, v) is buffer point (60 - v, u), as in
    // Weston's weston_transformed_coord).
    let buffer = pattern(&c, 60, 100);
    let (place, _window) = show(&h, &mut c, "client-turned", &buffer, Transform::_90);
    assert_eq!((place.2, place.3), (100, 60), "{place:?}");
    let shot = h.screenshot("HEADLESS-1");
    // The window's top-left quadrant shows the buffer's top-right one (blue), and so on round.
    check_quadrants(
        &shot,
        place,
        |x, y| (x, y),
        |left, top| match (left, top) {
            (true, true) => BLUE,
            (false, true) => WHITE,
            (true, false) => RED,
            (false, false) => GREEN,
        },
    );
}

#[test]
fn a_flipped_output_mirrors_and_an_unknown_transform_is_refused() {
    let h = Harness::new(320, 240, 60);
    let mut c = h.client();
    let buffer = pattern(&c, 100, 60);
    let (place, _window) = show(&h, &mut c, "mirrored", &buffer, Transform::Normal);
    let outputs = transform(&h, "flipped").expect("IPC");
    assert_eq!(outputs[0]["logical_width"], 320, "{}", outputs[0]);
    let shot = h.screenshot("HEADLESS-1");
    check_quadrants(&shot, place, |x, y| (319 - x, y), quadrant);

    // Mirrored across the other diagonal: logical (x, y) of the upright 240×320 output is
    // output pixel (319 - y, 239 - x).
    transform(&h, "flipped-90").expect("IPC");
    let shot = h.screenshot("HEADLESS-1");
    check_quadrants(&shot, place, |x, y| (319 - y, 239 - x), quadrant);
    transform(&h, "flipped").expect("IPC");

    let refused = transform(&h, "sideways");
    assert!(refused.is_err(), "{refused:?}");
    assert_eq!(h.msg(Request::Outputs)[0]["transform"], "flipped");
    // Back upright: drawn as it was.
    transform(&h, "normal").expect("IPC");
    let shot = h.screenshot("HEADLESS-1");
    check_quadrants(&shot, place, |x, y| (x, y), quadrant);
}
