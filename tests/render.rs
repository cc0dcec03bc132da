//! What a user sees: toplevels, subsurfaces, viewports, single-pixel buffers, popups and damage,
//! checked on the pixels of a screenshot and against reference images in resources/reference/.

mod common;

use common::{Harness, BACKGROUND};
use wayland_client::protocol::wl_shm::Format;
use weft_clients::{argb, ShmBuffer};

const RED: [u8; 4] = [255, 0, 0, 255];
const GREEN: [u8; 4] = [0, 255, 0, 255];

#[test]
fn toplevel_with_subsurfaces_composites_in_stacking_order() {
    let h = Harness::new(640, 480, 60);
    let mut c = h.client();
    let top = c.toplevel("stack", "weft.test").unwrap();
    // XRGB with a zero alpha byte: the X format says alpha is ignored, so it must be opaque.
    let red = ShmBuffer::new(&c.shm, &c.qh, 200, 150, Format::Xrgb8888, |_, _| {
        argb(255, 0, 0, 0)
    })
    .unwrap();
    let green = ShmBuffer::new(&c.shm, &c.qh, 60, 60, Format::Argb8888, |_, _| {
        argb(0, 255, 0, 255)
    })
    .unwrap();
    // Premultiplied 50% blue.
    let blue = ShmBuffer::new(&c.shm, &c.qh, 80, 80, Format::Argb8888, |_, _| {
        argb(0, 0, 128, 128)
    })
    .unwrap();

    let (below, below_sub) = c.subsurface(&top.surface);
    below_sub.place_below(&top.surface);
    below_sub.set_position(-20, -20);
    c.show(&below, &green.buffer);
    let (above, above_sub) = c.subsurface(&top.surface);
    above_sub.set_position(150, 100);
    c.show(&above, &blue.buffer);
    c.show(&top.surface, &red.buffer);
    h.settle(&mut c);

    let s = h.surface("stack");
    // No window geometry was set, so it is the bounding box of the surface tree: (-20,-20) 250x200,
    // centred on 640x480 at (195,140); the parent surface's origin is then at (215,160).
    assert_eq!(
        (s["x"].as_i64(), s["y"].as_i64()),
        (Some(195), Some(140)),
        "{s}"
    );
    assert_eq!(
        (s["width"].as_i64(), s["height"].as_i64()),
        (Some(250), Some(200)),
        "{s}"
    );
    assert_eq!(s["subsurfaces"], 2);
    assert_eq!(s["buffer"]["format"], "XR24");
    assert_eq!(s["rung"], "ShmInPlace");

    let img = h.screenshot("HEADLESS-1");
    img.assert_pixel(10, 10, BACKGROUND, 0);
    img.assert_pixel(320, 240, RED, 0);
    // The green subsurface is below the parent: visible only where the parent is not.
    img.assert_pixel(200, 145, GREEN, 0);
    img.assert_pixel(230, 175, RED, 0);
    // The blue subsurface is above, blended over red where they overlap and over the background
    // beyond the parent's edge (premultiplied: out = src + dst * (1 - a)).
    img.assert_pixel(380, 275, [127, 0, 128, 255], 1);
    img.assert_pixel(440, 330, [10, 11, 142, 255], 1);
    img.assert_matches_reference("toplevel_subsurfaces", 2, 0);
}

#[test]
fn viewport_crops_and_scales_and_single_pixel_buffers_fill() {
    let h = Harness::new(640, 480, 60);
    let mut c = h.client();
    let top = c.toplevel("viewport", "weft.test").unwrap();
    // Four 50x50 quadrants: red, green / blue, white.
    let quads = ShmBuffer::new(&c.shm, &c.qh, 100, 100, Format::Argb8888, |x, y| {
        match (x < 50, y < 50) {
            (true, true) => argb(255, 0, 0, 255),
            (false, true) => argb(0, 255, 0, 255),
            (true, false) => argb(0, 0, 255, 255),
            (false, false) => argb(255, 255, 255, 255),
        }
    })
    .unwrap();
    let vp = c.viewport(&top.surface);
    // The green quadrant, scaled to 200x120.
    vp.set_source(50.0, 0.0, 50.0, 50.0);
    vp.set_destination(200, 120);
    c.show(&top.surface, &quads.buffer);

    // A single-pixel yellow buffer stretched to 100x20 as a subsurface.
    let (bar, bar_sub) = c.subsurface(&top.surface);
    bar_sub.set_position(50, 50);
    let pixel = c.single_pixel([255, 255, 0, 255]);
    let bar_vp = c.viewport(&bar);
    bar_vp.set_destination(100, 20);
    c.show(&bar, &pixel);
    top.surface.commit();
    h.settle(&mut c);

    let s = h.surface("viewport");
    assert_eq!(
        (s["width"].as_i64(), s["height"].as_i64()),
        (Some(200), Some(120)),
        "{s}"
    );
    let (x0, y0) = (220u32, 180u32);
    let img = h.screenshot("HEADLESS-1");
    // Corners and edges included: the crop must not bleed the neighbouring quadrants in.
    for (dx, dy) in [
        (0, 0),
        (100, 20),
        (199, 119),
        (100, 119),
        (199, 60),
        (0, 119),
    ] {
        img.assert_pixel(x0 + dx, y0 + dy, GREEN, 0);
    }
    img.assert_pixel(x0 + 100, y0 + 60, [255, 255, 0, 255], 0);
    img.assert_pixel(x0 + 49, y0 + 60, GREEN, 0);
    img.assert_pixel(x0 + 149, y0 + 69, [255, 255, 0, 255], 0);
    img.assert_pixel(x0 + 150, y0 + 60, GREEN, 0);
    img.assert_pixel(x0 + 100, y0 + 70, GREEN, 0);
    img.assert_matches_reference("viewport_single_pixel", 2, 0);
}

#[test]
fn new_toplevels_are_centred_then_cascaded() {
    let h = Harness::new(800, 600, 60);
    let mut c = h.client();
    let mut keep = Vec::new();
    for i in 0..3 {
        let t = c.toplevel(&format!("w{i}"), "weft.test").unwrap();
        let b = ShmBuffer::new(&c.shm, &c.qh, 100, 80, Format::Xrgb8888, |_, _| {
            argb(40 * i as u8, 0, 0, 255)
        })
        .unwrap();
        c.show(&t.surface, &b.buffer);
        c.roundtrip().unwrap();
        keep.push((t, b));
    }
    h.settle(&mut c);
    for i in 0..3i64 {
        let s = h.surface(&format!("w{i}"));
        assert_eq!(s["x"].as_i64(), Some(350 + 32 * i), "{s}");
        assert_eq!(s["y"].as_i64(), Some(260 + 32 * i), "{s}");
        assert_eq!(s["output"], "HEADLESS-1");
        assert_eq!(s["app_id"], "weft.test");
    }
}

#[test]
fn maximize_and_fullscreen_fill_the_output() {
    let h = Harness::new(640, 480, 60);
    let mut c = h.client();
    for (title, full) in [("max", false), ("full", true)] {
        let t = c.toplevel_unconfigured(title, "weft.test");
        if full {
            t.toplevel.set_fullscreen(None);
        } else {
            t.toplevel.set_maximized();
        }
        t.surface.commit();
        let (w, h_) = c.ack_latest(&t).unwrap();
        assert_eq!((w, h_), (640, 480), "{title}: configure size");
        let states = c.state.toplevel_configures[&wayland_client::Proxy::id(&t.toplevel)]
            .2
            .clone();
        let want = if full { 2 } else { 1 }; // xdg_toplevel.state: maximized = 1, fullscreen = 2
        assert!(states.contains(&want), "{title}: states {states:?}");
        let b = ShmBuffer::new(&c.shm, &c.qh, w, h_, Format::Xrgb8888, |_, _| {
            argb(0, 0, 255, 255)
        })
        .unwrap();
        c.show(&t.surface, &b.buffer);
        h.settle(&mut c);
        let s = h.surface(title);
        assert_eq!(
            (s["x"].as_i64(), s["y"].as_i64()),
            (Some(0), Some(0)),
            "{s}"
        );
        assert_eq!(s[if full { "fullscreen" } else { "maximized" }], true);
        h.screenshot("HEADLESS-1")
            .assert_pixel(1, 1, [0, 0, 255, 255], 0);

        // Leaving the state: a configure with an unset size lets the client choose again.
        if full {
            t.toplevel.unset_fullscreen();
        } else {
            t.toplevel.unset_maximized();
        }
        c.roundtrip().unwrap();
        let (w, h_) = c.ack_latest(&t).unwrap();
        assert_eq!((w, h_), (0, 0), "{title}: size after leaving the state");
        t.toplevel.destroy();
        t.xdg_surface.destroy();
        t.surface.destroy();
        c.roundtrip().unwrap();
    }
}

#[test]
fn only_the_damaged_region_is_uploaded() {
    let h = Harness::new(320, 240, 60);
    // The copy path (`ShmInPlace` has no upload to measure).
    h.copy_shm();
    let mut c = h.client();
    let top = c.toplevel("damage", "weft.test").unwrap();
    let first = ShmBuffer::new(&c.shm, &c.qh, 100, 100, Format::Xrgb8888, |_, _| {
        argb(255, 0, 0, 255)
    })
    .unwrap();
    c.show(&top.surface, &first.buffer);
    h.settle(&mut c);
    let before = h.surface("damage")["uploaded_bytes"].as_u64().unwrap();
    assert_eq!(before, 100 * 100 * 4);

    // The second buffer is all green, but only a 10x10 square is declared damaged: weft must copy
    // just that (a compositor may assume undamaged content did not change).
    let second = ShmBuffer::new(&c.shm, &c.qh, 100, 100, Format::Xrgb8888, |_, _| {
        argb(0, 255, 0, 255)
    })
    .unwrap();
    top.surface.attach(Some(&second.buffer), 0, 0);
    top.surface.damage_buffer(20, 30, 10, 10);
    top.surface.commit();
    h.settle(&mut c);
    let after = h.surface("damage")["uploaded_bytes"].as_u64().unwrap();
    assert_eq!(
        after - before,
        10 * 10 * 4,
        "bytes uploaded for a 10x10 damage"
    );
    let img = h.screenshot("HEADLESS-1");
    let (x0, y0) = (110, 70);
    img.assert_pixel(x0 + 25, y0 + 35, GREEN, 0);
    img.assert_pixel(x0 + 5, y0 + 5, RED, 0);
    // The first buffer was released when the second replaced it.
    assert!(c
        .state
        .released
        .contains(&wayland_client::Proxy::id(&first.buffer)));
}

#[test]
fn popups_are_placed_by_their_positioner() {
    let h = Harness::new(640, 480, 60);
    let mut c = h.client();
    let top = c.toplevel("popup-parent", "weft.test").unwrap();
    let parent = ShmBuffer::new(&c.shm, &c.qh, 200, 200, Format::Xrgb8888, |_, _| {
        argb(0, 0, 255, 255)
    })
    .unwrap();
    c.show(&top.surface, &parent.buffer);
    h.settle(&mut c);

    let pos = c.positioner();
    pos.set_size(50, 40);
    pos.set_anchor_rect(10, 20, 1, 1);
    pos.set_anchor(wayland_protocols::xdg::shell::client::xdg_positioner::Anchor::TopLeft);
    pos.set_gravity(wayland_protocols::xdg::shell::client::xdg_positioner::Gravity::BottomRight);
    let (psurf, pxdg, _popup) = c.popup(&top.xdg_surface, &pos);
    psurf.commit();
    c.roundtrip().unwrap();
    let serial = c.state.surface_configures[&wayland_client::Proxy::id(&pxdg)][0];
    pxdg.ack_configure(serial);
    let menu = ShmBuffer::new(&c.shm, &c.qh, 50, 40, Format::Xrgb8888, |_, _| {
        argb(255, 255, 0, 255)
    })
    .unwrap();
    c.show(&psurf, &menu.buffer);
    h.settle(&mut c);
    assert_eq!(h.surface("popup-parent")["popups"], 1);
    let img = h.screenshot("HEADLESS-1");
    // Parent at (220,140); the popup's top-left at the anchor point (10,20) relative to it.
    img.assert_pixel(220 + 10 + 1, 140 + 20 + 1, [255, 255, 0, 255], 0);
    img.assert_pixel(220 + 10 + 48, 140 + 20 + 38, [255, 255, 0, 255], 0);
    img.assert_pixel(220 + 9, 140 + 19, [0, 0, 255, 255], 0);
    img.assert_pixel(220 + 61, 140 + 61, [0, 0, 255, 255], 0);
}
