//! Requests wayland-server cannot parse end only the client that sent them: a null string where the
//! protocol requires one panics wayland-scanner 0.31's generated parser, before any guard of weft's
//! can look; weft dispatches each client behind a panic boundary (backends/src/dispatch.rs).

mod common;

use std::time::Duration;

use common::Harness;
use wayland_client::protocol::wl_shm::Format;
use wayland_client::Proxy;
use wayland_protocols::xdg::shell::client::{xdg_surface, xdg_toplevel, xdg_wm_base};
use weft::Request;
use weft_clients::wire::{Arg, ReadEnd, WireConn};
use weft_clients::{argb, ShmBuffer};

const T: Duration = Duration::from_secs(10);

/// Binds `interface` from the registry `reg` on a raw connection; returns the new object's id.
fn bind(
    c: &mut WireConn,
    reg: u32,
    interface: &'static wayland_backend::protocol::Interface,
) -> u32 {
    let g = c
        .globals
        .iter()
        .find(|g| g.interface == interface.name)
        .cloned()
        .unwrap_or_else(|| panic!("no {} global", interface.name));
    let version = g.version.min(interface.version);
    let id = c.new_id(interface, version);
    c.request(
        reg,
        0,
        vec![
            Arg::Uint(g.name),
            Arg::Str(Some(interface.name.as_bytes().to_vec())),
            Arg::Uint(version),
            Arg::NewId(id),
        ],
    )
    .unwrap();
    id
}

#[test]
fn a_null_title_ends_only_its_client() {
    let h = Harness::new(320, 240, 60);
    // A bystander showing a window before and after.
    let mut bystander = h.client();
    let top = bystander.toplevel("bystander", "weft.bystander").unwrap();
    let green = ShmBuffer::new(
        &bystander.shm,
        &bystander.qh,
        32,
        32,
        Format::Xrgb8888,
        |_, _| argb(0, 255, 0, 255),
    )
    .unwrap();
    bystander.show(&top.surface, &green.buffer);
    bystander.roundtrip().unwrap();

    let mut c = WireConn::connect(&h.weft.wayland_path()).unwrap();
    let (reg, end) = c.get_registry(T).unwrap();
    assert_eq!(end, ReadEnd::Done);
    let compositor = bind(
        &mut c,
        reg,
        wayland_client::protocol::wl_compositor::WlCompositor::interface(),
    );
    let wm_base = bind(&mut c, reg, xdg_wm_base::XdgWmBase::interface());
    let surface = c.new_id(
        wayland_client::protocol::wl_surface::WlSurface::interface(),
        6,
    );
    c.request(compositor, 0, vec![Arg::NewId(surface)]).unwrap();
    let xdg = c.new_id(xdg_surface::XdgSurface::interface(), 3);
    c.request(wm_base, 2, vec![Arg::NewId(xdg), Arg::Object(surface)])
        .unwrap();
    let toplevel = c.new_id(xdg_toplevel::XdgToplevel::interface(), 3);
    c.request(xdg, 1, vec![Arg::NewId(toplevel)]).unwrap();
    assert_eq!(c.roundtrip(T).unwrap(), ReadEnd::Done, "{:?}", c.error);
    // xdg_toplevel.set_title(null): `title` is not nullable.
    c.request(toplevel, 2, vec![Arg::Str(None)]).unwrap();
    let end = c.roundtrip(T).unwrap();
    assert_eq!(end, ReadEnd::Closed, "weft ends the client: {:?}", c.error);
    let error = c.error.clone().expect("a wl_display.error first");
    assert_eq!((error.object, error.code), (1, 1), "{error:?}");

    // Everyone else is served: a new frame of the bystander, and weft answers IPC.
    bystander.frame(&top.surface, 5);
    bystander.show(&top.surface, &green.buffer);
    bystander
        .wait_until("bystander frame", 500, |s| {
            s.frames_done.iter().any(|(t, _)| *t == 5)
        })
        .expect("the bystander keeps getting frame callbacks");
    assert_eq!(h.msg(Request::Outputs).as_array().map(|a| a.len()), Some(1));
}
