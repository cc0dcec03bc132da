//! wp_color_representation_v1: a video player says which matrix and range its Y′CbCr buffers use,
//! and weft decodes them so on every rung that reads Y′CbCr — beside a surface that says nothing
//! (the default, BT.601 limited). What weft supports is advertised; every protocol error the
//! spec defines is provoked, with a bystander still served.

mod common;

use common::yuv::{yuv_to_rgb_with, BT601, BT709};

use std::time::Duration;

use common::{assert_ended_with, solid_shm, Harness};
use wayland_client::Proxy;
use wayland_protocols::wp::color_representation::v1::client::wp_color_representation_surface_v1::{
    AlphaMode, ChromaLocation, Coefficients, Range,
};
use weft::Request;
use weft_clients::color_representation::ColorRepresentation;
use weft_clients::dmabuf::{Layout, LinuxDmabuf, MemBuffer, NV12, XRGB8888};
use weft_clients::wire::{Arg, ReadEnd, WireConn};
use weft_clients::Client;

const W: u32 = 64;
const H: u32 = 48;
/// A saturated colour, where matrices and ranges differ the most.
const YUV: (u8, u8, u8) = (120, 70, 200);

const BT2020: (f64, f64) = (0.2627, 0.0593);

fn policy(h: &Harness, disabled: &[&str]) {
    let req: Request = serde_json::from_value(
        serde_json::json!({"command": "import_policy", "disabled": disabled}),
    )
    .expect("request");
    h.msg(req);
}

fn centre(h: &Harness, title: &str) -> [u8; 3] {
    let s = h.surface(title);
    let (x, y) = (s["x"].as_u64().expect("x"), s["y"].as_u64().expect("y"));
    let p = h
        .screenshot("HEADLESS-1")
        .pixel(x as u32 + W / 2, y as u32 + H / 2);
    [p[0], p[1], p[2]]
}

fn assert_close(got: [u8; 3], want: [u8; 3], what: &str) {
    for i in 0..3 {
        assert!(
            (i32::from(got[i]) - i32::from(want[i])).abs() <= 2,
            "{what}: got {got:?}, want {want:?}"
        );
    }
}

#[test]
fn weft_advertises_what_its_decode_supports() {
    let h = Harness::deterministic(320, 240, 60);
    let mut c = h.client();
    let cr = ColorRepresentation::bind(&mut c).expect("wp_color_representation_manager_v1");
    let s = cr.supported.lock().expect("supported").clone();
    assert!(s.done, "{s:?}");
    assert_eq!(s.alpha_modes, vec![AlphaMode::PremultipliedElectrical]);
    for pair in [
        (Coefficients::Identity, Range::Full),
        (Coefficients::Bt601, Range::Limited),
        (Coefficients::Bt601, Range::Full),
        (Coefficients::Bt709, Range::Limited),
        (Coefficients::Bt709, Range::Full),
        (Coefficients::Bt2020, Range::Limited),
        (Coefficients::Bt2020, Range::Full),
    ] {
        assert!(s.coefficients.contains(&pair), "{pair:?} in {s:?}");
    }
    assert!(!s.coefficients.contains(&(Coefficients::Ictcp, Range::Full)));
}

/// (title, what the client says, the reference matrix (Kr, Kb), full range).
type Case = (
    &'static str,
    Option<(Coefficients, Range)>,
    (f64, f64),
    bool,
);

#[test]
fn each_surface_is_decoded_with_its_own_matrix_and_range_on_every_rung() {
    let h = Harness::deterministic(640, 480, 60);
    let rungs: [(&str, &[&str]); 3] = [
        // StageOnCpu is tried first for Y′CbCr on a CPU device: off for the in-place rungs.
        ("SampleLinear", &["Sample", "StageOnCpu"]),
        ("StageOnSink", &["Sample", "SampleLinear", "StageOnCpu"]),
        ("StageOnCpu", &["Sample", "SampleLinear", "StageOnSink"]),
    ];
    for (rung, disabled) in rungs {
        policy(&h, disabled);
        let mut c = h.client();
        let d = LinuxDmabuf::bind(&mut c, 4).expect("linux-dmabuf");
        let cr = ColorRepresentation::bind(&mut c).expect("color representation");
        let cases: [Case; 3] = [
            ("default", None, BT601, false),
            (
                "bt709 full",
                Some((Coefficients::Bt709, Range::Full)),
                BT709,
                true,
            ),
            (
                "bt2020 limited",
                Some((Coefficients::Bt2020, Range::Limited)),
                BT2020,
                false,
            ),
        ];
        let mut keep = Vec::new();
        for (name, said, _, _) in &cases {
            let title = format!("{name} {rung}");
            let t = c.toplevel(&title, "weft.test").expect("toplevel");
            if let Some((coefficients, range)) = said {
                let obj = cr.surface(&c, &t.surface);
                obj.set_coefficients_and_range(*coefficients, *range);
                obj.set_chroma_location(ChromaLocation::Type0);
                keep.push(obj);
            }
            let mut b = MemBuffer::new(NV12, W, H, Layout::default()).expect("memfd NV12");
            b.fill_yuv(|_, _| YUV);
            let wl = b.create_immed(&c, &d);
            c.show(&t.surface, &wl);
            std::mem::forget((t, b, wl));
        }
        h.settle(&mut c);
        assert!(c.protocol_error().is_none(), "{:?}", c.protocol_error());
        for (name, said, k, full) in cases {
            let title = format!("{name} {rung}");
            let s = h.surface(&title);
            assert_eq!(s["rung"], rung, "{s}");
            let rec = &s["color_representation"];
            match said {
                Some(_) => {
                    assert_eq!(
                        rec["coefficients"],
                        name.split(' ').next().unwrap_or(""),
                        "{rec}"
                    );
                    assert_eq!(rec["range"], if full { "full" } else { "limited" }, "{rec}");
                    assert_eq!(rec["chroma_location"], "type0", "{rec}");
                }
                None => assert_eq!(rec["coefficients"], serde_json::Value::Null, "{rec}"),
            }
            assert_eq!(
                rec["yuv"]["range"],
                if full { "full" } else { "limited" },
                "{rec}"
            );
            assert_close(centre(&h, &title), yuv_to_rgb_with(YUV, k, full), &title);
        }
        drop(keep);
    }
}

/// Runs `provoke` in a fresh client and checks it ends with `(interface, code)`, while a bystander
/// keeps getting frame callbacks.
fn expect_error(h: &Harness, interface: &str, code: u32, provoke: impl FnOnce(&mut Client)) {
    h.with_bystander(|| {
        let mut c = h.client();
        provoke(&mut c);
        assert_ended_with(&mut c, interface, code);
    });
}

const MANAGER: &str = "wp_color_representation_manager_v1";
const SURFACE: &str = "wp_color_representation_surface_v1";

#[test]
fn every_protocol_error_is_raised() {
    let h = Harness::deterministic(320, 240, 60);
    // surface_exists (manager 1).
    expect_error(&h, MANAGER, 1, |c| {
        let cr = ColorRepresentation::bind(c).expect("bind");
        let s = c.compositor.create_surface(&c.qh, ());
        let _a = cr.surface(c, &s);
        let _b = cr.surface(c, &s);
    });
    // alpha_mode (1): straight alpha is not advertised.
    expect_error(&h, SURFACE, 1, |c| {
        let cr = ColorRepresentation::bind(c).expect("bind");
        let s = c.compositor.create_surface(&c.qh, ());
        cr.surface(c, &s).set_alpha_mode(AlphaMode::Straight);
    });
    // coefficients (2): FCC is not advertised, nor identity with limited range.
    for (coefficients, range) in [
        (Coefficients::Fcc, Range::Full),
        (Coefficients::Identity, Range::Limited),
    ] {
        expect_error(&h, SURFACE, 2, |c| {
            let cr = ColorRepresentation::bind(c).expect("bind");
            let s = c.compositor.create_surface(&c.qh, ());
            cr.surface(c, &s)
                .set_coefficients_and_range(coefficients, range);
        });
    }
    // pixel_format (3): identity with Y′CbCr, a Y′CbCr matrix with RGB, a chroma location with RGB.
    expect_error(&h, SURFACE, 3, |c| {
        let d = LinuxDmabuf::bind(c, 4).expect("linux-dmabuf");
        let cr = ColorRepresentation::bind(c).expect("bind");
        let t = c.toplevel("identity nv12", "weft.test").expect("toplevel");
        cr.surface(c, &t.surface)
            .set_coefficients_and_range(Coefficients::Identity, Range::Full);
        let mut b = MemBuffer::new(NV12, W, H, Layout::default()).expect("memfd");
        b.fill_yuv(|_, _| YUV);
        let wl = b.create_immed(c, &d);
        c.show(&t.surface, &wl);
        std::mem::forget(b);
    });
    expect_error(&h, SURFACE, 3, |c| {
        let cr = ColorRepresentation::bind(c).expect("bind");
        let t = c.toplevel("bt709 rgb", "weft.test").expect("toplevel");
        cr.surface(c, &t.surface)
            .set_coefficients_and_range(Coefficients::Bt709, Range::Limited);
        let b = solid_shm(c, 8, 8, [1, 2, 3]);
        c.show(&t.surface, &b.buffer);
        std::mem::forget(b);
    });
    expect_error(&h, SURFACE, 3, |c| {
        let d = LinuxDmabuf::bind(c, 4).expect("linux-dmabuf");
        let cr = ColorRepresentation::bind(c).expect("bind");
        let t = c.toplevel("chroma rgb", "weft.test").expect("toplevel");
        cr.surface(c, &t.surface)
            .set_chroma_location(ChromaLocation::Type2);
        let mut b = MemBuffer::new(XRGB8888, W, H, Layout::default()).expect("memfd");
        b.fill_rgb(|_, _| [10, 20, 30, 255]);
        let wl = b.create_immed(c, &d);
        c.show(&t.surface, &wl);
        std::mem::forget(b);
    });
    // inert (4): a request after the wl_surface was destroyed.
    expect_error(&h, SURFACE, 4, |c| {
        let cr = ColorRepresentation::bind(c).expect("bind");
        let s = c.compositor.create_surface(&c.qh, ());
        let obj = cr.surface(c, &s);
        s.destroy();
        obj.set_alpha_mode(AlphaMode::PremultipliedElectrical);
    });
}

/// chroma_location (5): a value the enum does not define, sent raw (a typed client cannot).
#[test]
fn an_undefined_chroma_location_is_an_error() {
    use wayland_protocols::wp::color_representation::v1::client::wp_color_representation_manager_v1::WpColorRepresentationManagerV1;
    const T: Duration = Duration::from_secs(10);
    let h = Harness::deterministic(320, 240, 60);
    let mut c = WireConn::connect(&h.weft.wayland_path()).expect("connect");
    let (reg, end) = c.get_registry(T).expect("registry");
    assert_eq!(end, ReadEnd::Done);
    let bind = |c: &mut WireConn, interface: &'static wayland_backend::protocol::Interface| {
        let g = c
            .globals
            .iter()
            .find(|g| g.interface == interface.name)
            .cloned()
            .unwrap_or_else(|| panic!("no {} global", interface.name));
        let id = c.new_id(interface, 1);
        c.request(
            reg,
            0,
            vec![
                Arg::Uint(g.name),
                Arg::Str(Some(interface.name.as_bytes().to_vec())),
                Arg::Uint(1),
                Arg::NewId(id),
            ],
        )
        .expect("bind");
        id
    };
    let compositor = bind(
        &mut c,
        wayland_client::protocol::wl_compositor::WlCompositor::interface(),
    );
    let manager = bind(&mut c, WpColorRepresentationManagerV1::interface());
    let surface = c.new_id(
        wayland_client::protocol::wl_surface::WlSurface::interface(),
        1,
    );
    c.request(compositor, 0, vec![Arg::NewId(surface)])
        .expect("create_surface");
    let obj = c.new_id(
        wayland_protocols::wp::color_representation::v1::client::wp_color_representation_surface_v1::WpColorRepresentationSurfaceV1::interface(),
        1,
    );
    // get_surface is the manager's request 1; set_chroma_location the surface's request 3.
    c.request(manager, 1, vec![Arg::NewId(obj), Arg::Object(surface)])
        .expect("get_surface");
    c.request(obj, 3, vec![Arg::Uint(0)])
        .expect("set_chroma_location");
    let end = c.roundtrip(T).expect("roundtrip");
    assert_eq!(end, ReadEnd::Closed, "{:?}", c.error);
    let error = c.error.clone().expect("a protocol error");
    assert_eq!((error.object, error.code), (obj, 5), "{error:?}");
}
