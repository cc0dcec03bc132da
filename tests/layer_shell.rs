//! zwlr_layer_shell_v1 with real clients: a panel's exclusive zone keeps new and maximized windows
//! out of its way, the four layers stack around the windows (read back from the screen and by
//! pointer input), keyboard interactivity, `closed` when the output goes, and every protocol error
//! of the v4 protocol, each with a bystander still served.

mod common;

use std::time::Duration;

use common::{assert_ended_with, solid_shm, Harness, BACKGROUND};
use wayland_client::protocol::{wl_seat, wl_surface};
use wayland_client::Proxy;
use wayland_protocols::xdg::shell::client::xdg_toplevel;
use wayland_protocols_wlr::layer_shell::v1::client::{
    zwlr_layer_shell_v1::{self, Layer, ZwlrLayerShellV1},
    zwlr_layer_surface_v1::{self, Anchor, KeyboardInteractivity, ZwlrLayerSurfaceV1},
};
use weft::InjectedInput;
use weft_clients::seat_events::{Recorder, Seen};
use weft_clients::wire::{Arg, ReadEnd, WireConn};
use weft_clients::{Client, ShmBuffer};
use weft_compositor::seat::input::buttons;

const W: u32 = 640;
const H: u32 = 480;

fn shell(c: &Client) -> ZwlrLayerShellV1 {
    c.globals
        .bind(&c.qh, 4..=4, ())
        .expect("zwlr_layer_shell_v1 v4")
}

/// A layer surface: its wl_surface, its role object and the buffer it shows.
struct LayerSurf {
    surface: wl_surface::WlSurface,
    layer: ZwlrLayerSurfaceV1,
    _buffer: Option<ShmBuffer>,
}

/// Makes a layer surface on `layer` (`set_up` sets anchors, size, …), answers its configure with a
/// buffer of the configured size in `rgb`.
fn layer_surface(
    h: &Harness,
    c: &mut Client,
    shell: &ZwlrLayerShellV1,
    layer: Layer,
    namespace: &str,
    rgb: [u8; 3],
    set_up: impl FnOnce(&ZwlrLayerSurfaceV1),
) -> LayerSurf {
    let surface = c.compositor.create_surface(&c.qh, ());
    let role = shell.get_layer_surface(&surface, None, layer, namespace.into(), &c.qh, ());
    set_up(&role);
    surface.commit();
    c.roundtrip().expect("roundtrip");
    let (serial, w, hgt) = *c
        .state
        .layer_configures
        .get(&role.id())
        .expect("the layer surface is configured");
    role.ack_configure(serial);
    let buffer = solid_shm(c, w as i32, hgt as i32, rgb);
    c.show(&surface, &buffer.buffer);
    h.settle(c);
    LayerSurf {
        surface,
        layer: role,
        _buffer: Some(buffer),
    }
}

/// A top panel 30 px high across the output, reserving its height.
fn panel(h: &Harness, c: &mut Client, shell: &ZwlrLayerShellV1) -> LayerSurf {
    layer_surface(h, c, shell, Layer::Top, "panel", [20, 20, 220], |l| {
        l.set_anchor(Anchor::Top | Anchor::Left | Anchor::Right);
        l.set_size(0, 30);
        l.set_exclusive_zone(30);
    })
}

#[test]
fn a_panel_keeps_new_and_maximized_windows_out_of_its_zone() {
    let h = Harness::new(W, H, 60);
    let mut c = h.client();
    let shell = shell(&c);
    let p = panel(&h, &mut c, &shell);
    assert_eq!(
        c.state
            .layer_configures
            .get(&p.layer.id())
            .map(|&(_, w, hgt)| (w, hgt)),
        Some((W, 30)),
        "stretched across the output at the height it asked for"
    );
    let record = h
        .surfaces()
        .into_iter()
        .find(|s| s["role"] == "layer_surface")
        .expect("weft msg surfaces lists the layer surface");
    assert_eq!(record["layer"], "top");
    assert_eq!(record["app_id"], "panel");
    assert_eq!(
        (record["x"].as_i64(), record["y"].as_i64()),
        (Some(0), Some(0))
    );

    // A new window is placed below the panel.
    let mut app = h.client();
    let t = app.toplevel("below-panel", "weft.layer").expect("toplevel");
    let px = solid_shm(&app, 600, 460, [200, 40, 40]);
    app.show(&t.surface, &px.buffer);
    h.settle(&mut app);
    let s = h.surface("below-panel");
    assert!(s["y"].as_i64().expect("y") >= 30, "{s}");

    // A maximized one gets the output minus the panel.
    let mut max = h.client();
    let m = max.toplevel_unconfigured("maximized", "weft.layer");
    m.toplevel.set_maximized();
    m.surface.commit();
    let (w, hgt) = max.ack_latest(&m).expect("configure");
    assert_eq!((w, hgt), (W as i32, H as i32 - 30));
    let px = solid_shm(&max, w, hgt, [40, 200, 40]);
    max.show(&m.surface, &px.buffer);
    h.settle(&mut max);
    let s = h.surface("maximized");
    assert_eq!((s["x"].as_i64(), s["y"].as_i64()), (Some(0), Some(30)));

    // The panel is drawn over the top 30 rows, the maximized window below it.
    c.roundtrip().expect("roundtrip");
    let shot = h.screenshot("HEADLESS-1");
    shot.assert_pixel(5, 5, [20, 20, 220, 255], 2);
    shot.assert_pixel(5, 40, [40, 200, 40, 255], 2);

    // The panel goes: the maximized window grows into its place.
    p.layer.destroy();
    p.surface.destroy();
    c.roundtrip().expect("roundtrip");
    max.roundtrip().expect("roundtrip");
    let (w, hgt) = max.ack_latest(&m).expect("configure");
    assert_eq!((w, hgt), (W as i32, H as i32));
}

#[test]
fn layers_stack_around_the_windows() {
    let h = Harness::new(W, H, 60);
    let mut c = h.client();
    let shell = shell(&c);
    let seen = Recorder::default();
    let seat: wl_seat::WlSeat = c.globals.bind(&c.qh, 5..=7, seen.clone()).expect("seat");
    seat.get_pointer(&c.qh, seen.clone());
    // A red wallpaper, a window, a yellow 40×40 overlay in the middle of the output.
    let _bg = layer_surface(
        &h,
        &mut c,
        &shell,
        Layer::Background,
        "wallpaper",
        [200, 0, 0],
        |l| {
            l.set_anchor(Anchor::Top | Anchor::Bottom | Anchor::Left | Anchor::Right);
        },
    );
    let mut app = h.client();
    let t = app.toplevel("between", "weft.layer").expect("toplevel");
    let px = solid_shm(&app, 300, 200, [0, 200, 0]);
    app.show(&t.surface, &px.buffer);
    h.settle(&mut app);
    let osd = layer_surface(
        &h,
        &mut c,
        &shell,
        Layer::Overlay,
        "osd",
        [230, 230, 0],
        |l| {
            l.set_size(40, 40);
        },
    );
    let s = h.surface("between");
    let (x, y) = (
        s["x"].as_i64().unwrap() as u32,
        s["y"].as_i64().unwrap() as u32,
    );
    h.settle(&mut c);
    let shot = h.screenshot("HEADLESS-1");
    shot.assert_pixel(2, 2, [200, 0, 0, 255], 2);
    shot.assert_pixel(x + 2, y + 2, [0, 200, 0, 255], 2);
    shot.assert_pixel(W / 2, H / 2, [230, 230, 0, 255], 2);
    assert_ne!(shot.pixel(2, 2), BACKGROUND);

    // Input goes to the overlay over the window, to the wallpaper outside the window.
    c.roundtrip().expect("roundtrip");
    seen.take();
    h.weft
        .inject(InjectedInput::PointerMotion {
            x: f64::from(W / 2),
            y: f64::from(H / 2),
        })
        .expect("inject");
    c.roundtrip().expect("roundtrip");
    let got = seen.take();
    assert!(
        got.contains(&Seen::PointerEnter { x: 20.0, y: 20.0 }),
        "the overlay's centre (the wallpaper would be entered at 320,240): {got:?}"
    );
    h.weft
        .inject(InjectedInput::PointerMotion { x: 3.0, y: 4.0 })
        .expect("inject");
    c.roundtrip().expect("roundtrip");
    let got = seen.take();
    assert!(
        got.contains(&Seen::PointerEnter { x: 3.0, y: 4.0 }),
        "the wallpaper: {got:?}"
    );
    drop(osd);
}

#[test]
fn an_exclusive_layer_holds_the_keyboard_until_it_goes() {
    let h = Harness::new(W, H, 60);
    let mut app = h.client();
    let app_seen = Recorder::default();
    let seat: wl_seat::WlSeat = app
        .globals
        .bind(&app.qh, 5..=7, app_seen.clone())
        .expect("seat");
    seat.get_keyboard(&app.qh, app_seen.clone());
    let t = app.toplevel("typing", "weft.layer").expect("toplevel");
    let px = solid_shm(&app, 200, 150, [0, 200, 0]);
    app.show(&t.surface, &px.buffer);
    h.settle(&mut app);
    assert_eq!(app.state.keyboard_focus, Some(t.surface.id()));

    let mut c = h.client();
    let shell = shell(&c);
    let seen = Recorder::default();
    let lseat: wl_seat::WlSeat = c.globals.bind(&c.qh, 5..=7, seen.clone()).expect("seat");
    lseat.get_keyboard(&c.qh, seen.clone());
    let lock_like = layer_surface(
        &h,
        &mut c,
        &shell,
        Layer::Overlay,
        "launcher",
        [50, 50, 50],
        |l| {
            l.set_size(200, 50);
            l.set_keyboard_interactivity(KeyboardInteractivity::Exclusive);
        },
    );
    c.roundtrip().expect("roundtrip");
    app.roundtrip().expect("roundtrip");
    assert_eq!(
        c.state.keyboard_focus,
        Some(lock_like.surface.id()),
        "the layer took the keyboard"
    );
    assert_eq!(app.state.keyboard_focus, None);

    // A click on the window does not take it back.
    let s = h.surface("typing");
    h.weft
        .inject(InjectedInput::PointerMotion {
            x: s["x"].as_f64().unwrap() + 5.0,
            y: s["y"].as_f64().unwrap() + 5.0,
        })
        .expect("inject");
    for pressed in [true, false] {
        h.weft
            .inject(InjectedInput::PointerButton {
                button: buttons::LEFT,
                pressed,
            })
            .expect("inject");
    }
    c.roundtrip().expect("roundtrip");
    assert_eq!(c.state.keyboard_focus, Some(lock_like.surface.id()));

    // The layer goes: the window has the keyboard again.
    lock_like.layer.destroy();
    lock_like.surface.destroy();
    c.roundtrip().expect("roundtrip");
    app.roundtrip().expect("roundtrip");
    assert_eq!(app.state.keyboard_focus, Some(t.surface.id()));
    let _ = xdg_toplevel::State::Activated;
}

// Protocol errors.

#[test]
fn a_surface_with_another_role_is_role() {
    let h = Harness::new(W, H, 60);
    h.with_bystander(|| {
        let mut c = h.client();
        let shell = shell(&c);
        let t = c.toplevel("has-a-role", "weft.layer").expect("toplevel");
        let _l = shell.get_layer_surface(&t.surface, None, Layer::Top, "x".into(), &c.qh, ());
        assert_ended_with(
            &mut c,
            "zwlr_layer_shell_v1",
            zwlr_layer_shell_v1::Error::Role as u32,
        );
    });
}

#[test]
fn a_layer_surface_for_a_surface_with_a_buffer_is_already_constructed() {
    let h = Harness::new(W, H, 60);
    h.with_bystander(|| {
        let mut c = h.client();
        let shell = shell(&c);
        let surface = c.compositor.create_surface(&c.qh, ());
        let px = solid_shm(&c, 10, 10, [1, 2, 3]);
        surface.attach(Some(&px.buffer), 0, 0);
        let _l =
            shell.get_layer_surface(&surface, None, Layer::Top, "has-buffer".into(), &c.qh, ());
        assert_ended_with(
            &mut c,
            "zwlr_layer_shell_v1",
            zwlr_layer_shell_v1::Error::AlreadyConstructed as u32,
        );
    });
}

#[test]
fn a_buffer_before_the_first_configure_is_invalid_surface_state() {
    let h = Harness::new(W, H, 60);
    h.with_bystander(|| {
        let mut c = h.client();
        let shell = shell(&c);
        let surface = c.compositor.create_surface(&c.qh, ());
        let l = shell.get_layer_surface(&surface, None, Layer::Top, "early".into(), &c.qh, ());
        l.set_size(10, 10);
        let px = solid_shm(&c, 10, 10, [1, 2, 3]);
        c.show(&surface, &px.buffer);
        assert_ended_with(
            &mut c,
            "zwlr_layer_surface_v1",
            zwlr_layer_surface_v1::Error::InvalidSurfaceState as u32,
        );
    });
}

#[test]
fn a_zero_size_without_both_anchors_is_invalid_size() {
    let h = Harness::new(W, H, 60);
    h.with_bystander(|| {
        let mut c = h.client();
        let shell = shell(&c);
        let surface = c.compositor.create_surface(&c.qh, ());
        let l = shell.get_layer_surface(&surface, None, Layer::Top, "zero".into(), &c.qh, ());
        l.set_anchor(Anchor::Top);
        l.set_size(0, 20);
        surface.commit();
        assert_ended_with(
            &mut c,
            "zwlr_layer_surface_v1",
            zwlr_layer_surface_v1::Error::InvalidSize as u32,
        );
    });
}

#[test]
fn an_anchor_outside_the_edges_is_invalid_anchor() {
    let h = Harness::new(W, H, 60);
    h.with_bystander(|| {
        let mut c = h.client();
        let shell = shell(&c);
        let surface = c.compositor.create_surface(&c.qh, ());
        let l = shell.get_layer_surface(&surface, None, Layer::Top, "anchor".into(), &c.qh, ());
        l.set_anchor(Anchor::from_bits_retain(0x40));
        assert_ended_with(
            &mut c,
            "zwlr_layer_surface_v1",
            zwlr_layer_surface_v1::Error::InvalidAnchor as u32,
        );
    });
}

#[test]
fn an_unknown_configure_serial_is_invalid_surface_state() {
    let h = Harness::new(W, H, 60);
    h.with_bystander(|| {
        let mut c = h.client();
        let shell = shell(&c);
        let surface = c.compositor.create_surface(&c.qh, ());
        let l = shell.get_layer_surface(&surface, None, Layer::Top, "serial".into(), &c.qh, ());
        l.set_size(10, 10);
        surface.commit();
        c.roundtrip().expect("roundtrip");
        l.ack_configure(0xdead);
        assert_ended_with(
            &mut c,
            "zwlr_layer_surface_v1",
            zwlr_layer_surface_v1::Error::InvalidSurfaceState as u32,
        );
    });
}

const T: Duration = Duration::from_secs(10);

/// A raw connection with wl_compositor and zwlr_layer_shell_v1 bound and one wl_surface: (conn,
/// compositor, shell, surface).
fn raw(h: &Harness) -> (WireConn, u32, u32) {
    let mut c = WireConn::connect(&h.weft.wayland_path()).expect("connect");
    let (reg, end) = c.get_registry(T).expect("registry");
    assert_eq!(end, ReadEnd::Done);
    let bind =
        |c: &mut WireConn, iface: &'static wayland_backend::protocol::Interface, version: u32| {
            let g = c
                .globals
                .iter()
                .find(|g| g.interface == iface.name)
                .cloned()
                .expect("global");
            let id = c.new_id(iface, version);
            c.request(
                reg,
                0,
                vec![
                    Arg::Uint(g.name),
                    Arg::Str(Some(iface.name.as_bytes().to_vec())),
                    Arg::Uint(version),
                    Arg::NewId(id),
                ],
            )
            .expect("bind");
            id
        };
    let compositor = bind(
        &mut c,
        wayland_client::protocol::wl_compositor::WlCompositor::interface(),
        6,
    );
    let shell = bind(&mut c, ZwlrLayerShellV1::interface(), 4);
    let surface = c.new_id(wl_surface::WlSurface::interface(), 6);
    c.request(compositor, 0, vec![Arg::NewId(surface)])
        .expect("create_surface");
    (c, shell, surface)
}

/// `(object, code)` of the error that ended `c`.
fn ended(c: &mut WireConn) -> (String, u32) {
    let end = c.roundtrip(T).expect("roundtrip");
    assert_eq!(end, ReadEnd::Closed, "weft ends the client: {:?}", c.error);
    let e = c.error.clone().expect("a wl_display.error");
    println!("{}.{}: {}", e.interface, e.code, e.message);
    (e.interface, e.code)
}

#[test]
fn a_layer_outside_the_enum_is_invalid_layer() {
    let h = Harness::new(W, H, 60);
    h.with_bystander(|| {
        let (mut c, shell, surface) = raw(&h);
        let layer = c.new_id(ZwlrLayerSurfaceV1::interface(), 4);
        c.request(
            shell,
            0,
            vec![
                Arg::NewId(layer),
                Arg::Object(surface),
                Arg::Object(0),
                Arg::Uint(9),
                Arg::Str(Some(b"bad-layer".to_vec())),
            ],
        )
        .expect("send");
        assert_eq!(
            ended(&mut c),
            (
                "zwlr_layer_shell_v1".into(),
                zwlr_layer_shell_v1::Error::InvalidLayer as u32
            )
        );
    });
}

#[test]
fn an_interactivity_outside_the_enum_is_invalid_keyboard_interactivity() {
    let h = Harness::new(W, H, 60);
    h.with_bystander(|| {
        let (mut c, shell, surface) = raw(&h);
        let layer = c.new_id(ZwlrLayerSurfaceV1::interface(), 4);
        c.request(
            shell,
            0,
            vec![
                Arg::NewId(layer),
                Arg::Object(surface),
                Arg::Object(0),
                Arg::Uint(Layer::Top as u32),
                Arg::Str(Some(b"bad-keyboard".to_vec())),
            ],
        )
        .expect("send");
        // set_keyboard_interactivity (opcode 4) with 5: v4 knows none, exclusive and on_demand.
        c.request(layer, 4, vec![Arg::Uint(5)]).expect("send");
        assert_eq!(
            ended(&mut c),
            (
                "zwlr_layer_surface_v1".into(),
                zwlr_layer_surface_v1::Error::InvalidKeyboardInteractivity as u32
            )
        );
    });
}
