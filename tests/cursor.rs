//! The cursor drawn: the theme's arrow where no client asked for another, a client's cursor
//! surface with its hotspot at the pointer (and its frame callbacks, for animated cursors), a
//! named shape (wp_cursor_shape_v1) from the XCursor theme, nothing when hidden or before any
//! pointer moved; a headless output draws it only with `--draw-cursor`, and a screen capture
//! asks for it with `overlay_cursor`.

mod common;

use std::time::{Duration, Instant};

use common::{solid_shm, Harness, Image, BACKGROUND};
use wayland_client::protocol::{wl_output, wl_pointer, wl_seat, wl_shm};
use wayland_protocols::wp::cursor_shape::v1::client::wp_cursor_shape_device_v1::Shape;
use wayland_protocols::wp::cursor_shape::v1::client::wp_cursor_shape_manager_v1::WpCursorShapeManagerV1;
use wayland_protocols_wlr::screencopy::v1::client::zwlr_screencopy_manager_v1::ZwlrScreencopyManagerV1;
use weft::{HeadlessOptions, InjectedInput, Request};
use weft_clients::capture::{snapshot, FrameLog};
use weft_clients::seat_events::Recorder;
use weft_clients::session::Log;
use weft_clients::Client;
use weft_compositor::OutputSpec;

const W: u32 = 320;
const H: u32 = 240;

fn harness(draw_cursor: bool) -> Harness {
    Harness::with_headless(HeadlessOptions {
        outputs: vec![OutputSpec {
            width: W,
            height: H,
            refresh_mhz: 60_000,
        }],
        draw_cursor,
        ..Default::default()
    })
    .expect("weft starts")
}

/// The theme image weft loads for `name` (the same lookup: XCURSOR_THEME or `default`, 24 px).
fn theme_image(name: &str) -> xcursor::parser::Image {
    let theme = xcursor::CursorTheme::load(
        &std::env::var("XCURSOR_THEME").unwrap_or_else(|_| "default".into()),
    );
    let path = theme
        .load_icon(name)
        .unwrap_or_else(|| panic!("no {name} cursor: install Debian's adwaita-icon-theme"));
    let images =
        xcursor::parser::parse_xcursor(&std::fs::read(path).expect("read")).expect("parse");
    images
        .into_iter()
        .min_by_key(|i| (i64::from(i.size) - 24).abs())
        .expect("an image")
}

/// Checks that `shot` shows `image` with its hotspot at (`px`, `py`), blended over `under`.
fn assert_cursor_at(
    shot: &Image,
    image: &xcursor::parser::Image,
    (px, py): (u32, u32),
    under: [u8; 4],
) {
    let (x0, y0) = (px - image.xhot, py - image.yhot);
    let mut bad = 0;
    for y in 0..image.height {
        for x in 0..image.width {
            let i = ((y * image.width + x) * 4) as usize;
            // Premultiplied B, G, R, A over an opaque colour.
            let [b, g, r, a] = [
                image.pixels_rgba[i],
                image.pixels_rgba[i + 1],
                image.pixels_rgba[i + 2],
                image.pixels_rgba[i + 3],
            ];
            let over = |c: u8, d: u8| c as f32 + d as f32 * (1.0 - a as f32 / 255.0);
            let want = [over(r, under[0]), over(g, under[1]), over(b, under[2])];
            let got = shot.pixel(x0 + x, y0 + y);
            if (0..3).any(|k| (got[k] as f32 - want[k]).abs() > 3.0) {
                bad += 1;
            }
        }
    }
    assert_eq!(
        bad, 0,
        "{bad} pixels of the cursor differ from the theme's image"
    );
}

fn nothing_but_background(shot: &Image) -> bool {
    shot.rgba.chunks_exact(4).all(|p| p == BACKGROUND)
}

fn move_to(h: &Harness, x: f64, y: f64) {
    h.weft
        .inject(InjectedInput::PointerMotion { x, y })
        .expect("inject");
}

/// Polls screenshots until `ok` holds (frames are rendered on the output's ticks).
fn shot_until(h: &Harness, what: &str, ok: impl Fn(&Image) -> bool) -> Image {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let shot = h.screenshot("HEADLESS-1");
        if ok(&shot) {
            return shot;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn the_theme_arrow_follows_the_pointer_once_it_moves() {
    let h = harness(true);
    let mut c = h.client();
    h.settle(&mut c);
    assert!(
        nothing_but_background(&h.screenshot("HEADLESS-1")),
        "a cursor before any pointer moved"
    );
    move_to(&h, 100.0, 80.0);
    let arrow = theme_image("default");
    let shot = shot_until(&h, "the arrow", |s| !nothing_but_background(s));
    assert_cursor_at(&shot, &arrow, (100, 80), BACKGROUND);
    assert_eq!(h.msg(Request::Seat)["cursor"], "default");
    move_to(&h, 200.0, 150.0);
    let shot = shot_until(&h, "the arrow moved", |s| s.pixel(100, 80) == BACKGROUND);
    assert_cursor_at(&shot, &arrow, (200, 150), BACKGROUND);
}

#[test]
fn a_headless_output_draws_no_cursor_unless_asked_and_a_capture_can_ask() {
    let h = harness(false);
    let mut c = h.client();
    h.settle(&mut c);
    move_to(&h, 100.0, 80.0);
    h.settle(&mut c);
    assert!(
        nothing_but_background(&h.screenshot("HEADLESS-1")),
        "a headless output drew a cursor"
    );

    let manager: ZwlrScreencopyManagerV1 = c.globals.bind(&c.qh, 3..=3, ()).expect("screencopy");
    let output: wl_output::WlOutput = c.globals.bind(&c.qh, 1..=4, ()).expect("wl_output");
    let capture = |c: &mut Client, overlay: i32| {
        let log = FrameLog::default();
        let frame = manager.capture_output(overlay, &output, &c.qh, log.clone());
        let deadline = Instant::now() + Duration::from_secs(5);
        while !snapshot(&log).buffer_done {
            assert!(Instant::now() < deadline);
            c.roundtrip().expect("roundtrip");
        }
        let (fd, pool) = common::memfd_pool(c, (W * H * 4) as usize);
        let buffer = pool.create_buffer(
            0,
            W as i32,
            H as i32,
            (W * 4) as i32,
            wl_shm::Format::Xrgb8888,
            &c.qh,
            (),
        );
        frame.copy(&buffer);
        while snapshot(&log).ready.is_none() {
            assert!(!snapshot(&log).failed, "capture failed");
            assert!(Instant::now() < deadline, "no ready");
            c.roundtrip().expect("roundtrip");
            std::thread::sleep(Duration::from_millis(10));
        }
        Image {
            width: W,
            height: H,
            rgba: common::read_xrgb(&fd, (W, H), W * 4, 0),
        }
    };
    let plain = capture(&mut c, 0);
    assert!(
        nothing_but_background(&plain),
        "overlay_cursor 0 captured a cursor"
    );
    let with = capture(&mut c, 1);
    assert_cursor_at(&with, &theme_image("default"), (100, 80), BACKGROUND);
}

#[test]
fn a_client_cursor_surface_and_a_named_shape_are_drawn_and_hidden_hides() {
    let h = harness(true);
    let mut c = h.client();
    let seen = Recorder::default();
    let seat: wl_seat::WlSeat = c.globals.bind(&c.qh, 5..=9, ()).expect("seat");
    let pointer: wl_pointer::WlPointer = seat.get_pointer(&c.qh, seen.clone());
    let t = c.toplevel("pointed at", "weft.cursor").expect("toplevel");
    let grey = [90, 90, 90];
    let px = solid_shm(&c, 200, 150, grey);
    c.show(&t.surface, &px.buffer);
    h.settle(&mut c);
    let rec = h.surface("pointed at");
    let (wx, wy) = (
        rec["x"].as_i64().expect("x") as u32,
        rec["y"].as_i64().expect("y") as u32,
    );
    let (px_, py_) = (wx + 50, wy + 40);
    move_to(&h, px_ as f64, py_ as f64);
    let deadline = Instant::now() + Duration::from_secs(5);
    while c.state.pointer_enter_serial.is_none() {
        assert!(Instant::now() < deadline, "no pointer enter");
        c.roundtrip().expect("roundtrip");
    }
    let serial = c.state.pointer_enter_serial.expect("serial");

    // A red 8×8 cursor surface, hotspot (3, 4), with a frame callback.
    let cursor = c.compositor.create_surface(&c.qh, ());
    let red = solid_shm(&c, 8, 8, [255, 0, 0]);
    pointer.set_cursor(serial, Some(&cursor), 3, 4);
    c.frame(&cursor, 77);
    c.show(&cursor, &red.buffer);
    c.roundtrip().expect("roundtrip");
    let shot = shot_until(&h, "the cursor surface", |s| {
        s.pixel(px_ - 3, py_ - 4)[0] == 255
    });
    for (x, y) in [(px_ - 3, py_ - 4), (px_ + 4, py_ + 3)] {
        assert_eq!(
            shot.pixel(x, y),
            [255, 0, 0, 255],
            "cursor surface at ({x}, {y})"
        );
    }
    assert_eq!(
        shot.pixel(px_ + 5, py_ + 4),
        [grey[0], grey[1], grey[2], 255],
        "past the cursor"
    );
    c.wait_until("the cursor surface's frame callback", 200, |s| {
        s.frames_done.iter().any(|(t, _)| *t == 77)
    })
    .expect("frame callback");
    assert_eq!(h.msg(Request::Seat)["cursor"], "surface");

    // A named shape.
    let manager: WpCursorShapeManagerV1 = c
        .globals
        .bind(&c.qh, 1..=1, Log::default())
        .expect("cursor shape");
    let device = manager.get_pointer(&pointer, &c.qh, Log::default());
    device.set_shape(serial, Shape::Text);
    c.roundtrip().expect("roundtrip");
    let text = theme_image("text");
    let shot = shot_until(&h, "the text cursor", |s| {
        s.pixel(px_ - 3, py_ - 4)[0] != 255
    });
    assert_cursor_at(&shot, &text, (px_, py_), [grey[0], grey[1], grey[2], 255]);

    // Hidden.
    pointer.set_cursor(serial, None, 0, 0);
    c.roundtrip().expect("roundtrip");
    shot_until(&h, "no cursor", |s| {
        (wy..wy + 150)
            .all(|y| (wx..wx + 200).all(|x| s.pixel(x, y) == [grey[0], grey[1], grey[2], 255]))
    });
}
