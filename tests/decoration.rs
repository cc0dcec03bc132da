//! zxdg_decoration_manager_v1: weft's stated policy is that clients draw their own decorations.
//! Every toplevel decoration is configured `client_side`, a request for `server_side` (or no
//! preference) is answered `client_side` with a new xdg_surface.configure, and every error of the
//! protocol is raised on the decoration object, each with a bystander still served.

mod common;

use common::{assert_ended_with, solid_shm, Harness};
use wayland_client::Proxy;
use wayland_protocols::xdg::decoration::zv1::client::{
    zxdg_decoration_manager_v1::ZxdgDecorationManagerV1,
    zxdg_toplevel_decoration_v1::{self, Mode, ZxdgToplevelDecorationV1},
};
use weft_clients::Client;

const CLIENT_SIDE: u32 = Mode::ClientSide as u32;

fn manager(c: &Client, version: u32) -> ZxdgDecorationManagerV1 {
    c.globals
        .bind(&c.qh, version..=version, ())
        .expect("zxdg_decoration_manager_v1")
}

/// The xdg_surface configures the client has seen so far for `t`.
fn xdg_configures(c: &Client, t: &weft_clients::client::Toplevel) -> usize {
    c.state
        .surface_configures
        .get(&t.xdg_surface.id())
        .map_or(0, Vec::len)
}

#[test]
fn every_toplevel_is_told_to_draw_its_own_decorations() {
    let h = Harness::new(640, 480, 60);
    let mut c = h.client();
    let m = manager(&c, 2);
    // Before the initial commit: the mode rides with the initial configure.
    let t = c.toplevel_unconfigured("decorated", "weft.decoration");
    let d: ZxdgToplevelDecorationV1 = m.get_toplevel_decoration(&t.toplevel, &c.qh, ());
    t.surface.commit();
    c.roundtrip().expect("roundtrip");
    assert_eq!(c.state.decoration_modes, [CLIENT_SIDE]);
    c.ack_latest(&t).expect("ack");
    let px = solid_shm(&c, 64, 64, [10, 200, 10]);
    c.show(&t.surface, &px.buffer);
    h.settle(&mut c);

    // Asking for server-side decorations: weft draws none, and says so with a new configure.
    let before = xdg_configures(&c, &t);
    d.set_mode(Mode::ServerSide);
    c.roundtrip().expect("roundtrip");
    assert_eq!(c.state.decoration_modes, [CLIENT_SIDE, CLIENT_SIDE]);
    assert_eq!(
        xdg_configures(&c, &t),
        before + 1,
        "the decoration configure is completed by an xdg_surface.configure"
    );
    d.unset_mode();
    c.roundtrip().expect("roundtrip");
    assert_eq!(
        c.state.decoration_modes,
        [CLIENT_SIDE, CLIENT_SIDE, CLIENT_SIDE]
    );

    // Destroyed in the right order (decoration first), a new one may be made; the window stays.
    d.destroy();
    let d2: ZxdgToplevelDecorationV1 = m.get_toplevel_decoration(&t.toplevel, &c.qh, ());
    c.roundtrip().expect("roundtrip");
    assert_eq!(c.state.decoration_modes.len(), 4);
    assert!(c.protocol_error().is_none());
    d2.destroy();
    t.toplevel.destroy();
    c.roundtrip().expect("roundtrip");
    assert!(c.protocol_error().is_none());
}

#[test]
fn a_second_decoration_object_is_already_constructed() {
    let h = Harness::new(640, 480, 60);
    h.with_bystander(|| {
        let mut c = h.client();
        let m = manager(&c, 2);
        let t = c.toplevel("twice", "weft.decoration").expect("toplevel");
        let _d1: ZxdgToplevelDecorationV1 = m.get_toplevel_decoration(&t.toplevel, &c.qh, ());
        let _d2: ZxdgToplevelDecorationV1 = m.get_toplevel_decoration(&t.toplevel, &c.qh, ());
        assert_ended_with(
            &mut c,
            "zxdg_toplevel_decoration_v1",
            zxdg_toplevel_decoration_v1::Error::AlreadyConstructed as u32,
        );
    });
}

#[test]
fn a_version_1_decoration_after_a_buffer_is_unconfigured_buffer() {
    let h = Harness::new(640, 480, 60);
    h.with_bystander(|| {
        let mut c = h.client();
        let m = manager(&c, 1);
        let t = c.toplevel("late", "weft.decoration").expect("toplevel");
        let px = solid_shm(&c, 32, 32, [200, 10, 10]);
        c.show(&t.surface, &px.buffer);
        c.roundtrip().expect("roundtrip");
        let _d: ZxdgToplevelDecorationV1 = m.get_toplevel_decoration(&t.toplevel, &c.qh, ());
        assert_ended_with(
            &mut c,
            "zxdg_toplevel_decoration_v1",
            zxdg_toplevel_decoration_v1::Error::UnconfiguredBuffer as u32,
        );
    });
    // Version 2 allows it.
    let mut c = h.client();
    let m = manager(&c, 2);
    let t = c.toplevel("late-v2", "weft.decoration").expect("toplevel");
    let px = solid_shm(&c, 32, 32, [200, 10, 10]);
    c.show(&t.surface, &px.buffer);
    c.roundtrip().expect("roundtrip");
    let _d: ZxdgToplevelDecorationV1 = m.get_toplevel_decoration(&t.toplevel, &c.qh, ());
    c.roundtrip().expect("roundtrip");
    assert_eq!(c.state.decoration_modes, [CLIENT_SIDE]);
}

#[test]
fn a_mode_outside_the_enum_is_invalid_mode() {
    let h = Harness::new(640, 480, 60);
    h.with_bystander(|| {
        let mut c = h.client();
        let m = manager(&c, 2);
        let t = c.toplevel("bad-mode", "weft.decoration").expect("toplevel");
        let d: ZxdgToplevelDecorationV1 = m.get_toplevel_decoration(&t.toplevel, &c.qh, ());
        c.roundtrip().expect("roundtrip");
        // set_mode (opcode 1) with 7: wayland-client's typed request cannot carry it.
        let msg = wayland_backend::protocol::Message {
            sender_id: d.id(),
            opcode: 1,
            args: smallvec::SmallVec::from_vec(vec![wayland_backend::protocol::Argument::Uint(7)]),
        };
        c.conn
            .backend()
            .send_request(msg, None, None)
            .expect("send");
        assert_ended_with(
            &mut c,
            "zxdg_toplevel_decoration_v1",
            zxdg_toplevel_decoration_v1::Error::InvalidMode as u32,
        );
    });
}

#[test]
fn a_toplevel_destroyed_before_its_decoration_is_orphaned() {
    let h = Harness::new(640, 480, 60);
    h.with_bystander(|| {
        let mut c = h.client();
        let m = manager(&c, 2);
        let t = c.toplevel("orphan", "weft.decoration").expect("toplevel");
        let _d: ZxdgToplevelDecorationV1 = m.get_toplevel_decoration(&t.toplevel, &c.qh, ());
        c.roundtrip().expect("roundtrip");
        t.toplevel.destroy();
        assert_ended_with(
            &mut c,
            "zxdg_toplevel_decoration_v1",
            zxdg_toplevel_decoration_v1::Error::Orphaned as u32,
        );
    });
    // A client that dies with a decorated window harms no one (its objects go in any order).
    let mut c = h.client();
    let m = manager(&c, 2);
    let t = c
        .toplevel("dies-decorated", "weft.decoration")
        .expect("toplevel");
    let _d: ZxdgToplevelDecorationV1 = m.get_toplevel_decoration(&t.toplevel, &c.qh, ());
    c.roundtrip().expect("roundtrip");
    drop((t, c));
    let mut other = h.client();
    other.roundtrip().expect("weft still serves");
}
