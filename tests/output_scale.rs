//! Output scale: `weft msg output NAME --scale S` (and the configuration file's `scale`) makes an
//! output of W×H pixels W/S × H/S logical pixels. A client that draws at the output's scale
//! (wl_surface.set_buffer_scale) is shown pixel for pixel at twice the size; fractional-scale
//! clients are told the new scale; a scale weft cannot show is refused and the old one stays.

mod common;

use std::time::{Duration, Instant};

use common::Harness;
use wayland_protocols::wp::fractional_scale::v1::client::wp_fractional_scale_manager_v1::WpFractionalScaleManagerV1;
use weft::Request;
use weft_clients::session::Log;
use weft_clients::{Client, ShmBuffer};

const RED: [u8; 4] = [255, 0, 0, 255];
const BLUE: [u8; 4] = [0, 0, 255, 255];

fn scale(h: &Harness, s: f64) -> serde_json::Value {
    h.weft
        .msg(&Request::Output {
            output: "HEADLESS-1".into(),
            scale: Some(s),
            transform: None,
            position: None,
            mode: None,
            enabled: None,
        })
        .expect("IPC")
}

fn until(c: &mut Client, what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        c.roundtrip().expect("roundtrip");
        std::thread::sleep(Duration::from_millis(15));
    }
}

#[test]
fn a_scaled_output_shows_a_buffer_scale_2_window_pixel_for_pixel_and_tells_clients() {
    let h = Harness::new(800, 600, 60);
    let outputs = scale(&h, 2.0);
    let out = &outputs[0];
    assert_eq!(out["scale"], 2.0, "{out}");
    assert_eq!(
        (
            out["logical_width"].as_i64(),
            out["logical_height"].as_i64()
        ),
        (Some(400), Some(300)),
        "{out}"
    );
    assert_eq!(
        (out["width"].as_u64(), out["height"].as_u64()),
        (Some(800), Some(600))
    );

    // A 100×100 window drawn at scale 2: a 200×200 buffer, red left half, blue right half.
    let mut c = h.client();
    let t = c.toplevel("scaled", "weft.test").expect("toplevel");
    let log = Log::default();
    let manager: WpFractionalScaleManagerV1 = c
        .globals
        .bind(&c.qh, 1..=1, log.clone())
        .expect("wp_fractional_scale_manager_v1");
    let _fractional = manager.get_fractional_scale(&t.surface, &c.qh, log.clone());
    let buffer = ShmBuffer::new(
        &c.shm,
        &c.qh,
        200,
        200,
        wayland_client::protocol::wl_shm::Format::Xrgb8888,
        |x, _| {
            if x < 100 {
                weft_clients::argb(255, 0, 0, 0)
            } else {
                weft_clients::argb(0, 0, 255, 0)
            }
        },
    )
    .expect("shm buffer");
    t.surface.set_buffer_scale(2);
    t.surface.attach(Some(&buffer.buffer), 0, 0);
    t.surface.damage_buffer(0, 0, 200, 200);
    t.surface.commit();
    h.settle(&mut c);
    until(&mut c, "the preferred scale", || {
        log.has("wp_fractional_scale_v1 PreferredScale { scale: 240 }")
    });

    let window = h.surface("scaled");
    assert_eq!(
        (window["width"].as_i64(), window["height"].as_i64()),
        (Some(100), Some(100)),
        "logical size: {window}"
    );
    let (x, y) = (
        window["x"].as_i64().unwrap_or_default() as u32,
        window["y"].as_i64().unwrap_or_default() as u32,
    );
    assert_eq!((x, y), (150, 100), "centred on the 400×300 logical output");
    let shot = h.screenshot("HEADLESS-1");
    assert_eq!((shot.width, shot.height), (800, 600), "the output's pixels");
    // The window covers 200×200 output pixels from (300, 200): every buffer pixel is one output pixel.
    shot.assert_pixel(2 * x + 1, 2 * y + 1, RED, 2);
    shot.assert_pixel(2 * x + 99, 2 * y + 100, RED, 2);
    shot.assert_pixel(2 * x + 100, 2 * y + 100, BLUE, 2);
    shot.assert_pixel(2 * x + 198, 2 * y + 198, BLUE, 2);
    shot.assert_pixel(2 * x - 2, 2 * y + 100, common::BACKGROUND, 2);
    shot.assert_pixel(2 * x + 201, 2 * y + 100, common::BACKGROUND, 2);

    // A fractional scale: the client hears it, the logical output shrinks to 533×400.
    let outputs = scale(&h, 1.5);
    assert_eq!(outputs[0]["logical_width"], 533, "{}", outputs[0]);
    until(&mut c, "the new preferred scale", || {
        log.has("wp_fractional_scale_v1 PreferredScale { scale: 180 }")
    });
}

#[test]
fn a_scale_weft_cannot_show_is_refused_and_the_old_one_stays() {
    let h = Harness::new(640, 480, 60);
    scale(&h, 2.0);
    // (JSON has no NaN or infinity: those reach weft as no scale at all.)
    for bad in [0.0, -1.0, 100.0, 0.1] {
        let reply = h.weft.msg(&Request::Output {
            output: "HEADLESS-1".into(),
            scale: Some(bad),
            transform: None,
            position: None,
            mode: None,
            enabled: None,
        });
        assert!(reply.is_err(), "scale {bad} accepted: {reply:?}");
    }
    let unknown = h.weft.msg(&Request::Output {
        output: "NOPE-1".into(),
        scale: Some(1.0),
        transform: None,
        position: None,
        mode: None,
        enabled: None,
    });
    assert!(unknown.is_err(), "{unknown:?}");
    let outputs = h.msg(Request::Outputs);
    assert_eq!(outputs[0]["scale"], 2.0, "{}", outputs[0]);
}
