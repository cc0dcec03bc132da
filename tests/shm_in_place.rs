//! wl_shm buffers read in place (rung `ShmInPlace`): no copy at commit, the release rules exact,
//! a truncated pool contained to its own client, and the copy (with its reason) where in-place
//! reads are refused.

mod common;

use common::{Harness, BACKGROUND};
use wayland_client::protocol::wl_shm::Format;
use wayland_client::Proxy;
use weft::Request;
use weft_clients::{argb, ShmBuffer};

const OUTPUT: &str = "HEADLESS-1";
const RED: [u8; 4] = [255, 0, 0, 255];
const GREEN: [u8; 4] = [0, 255, 0, 255];

fn full_redraw(h: &Harness) {
    h.msg(Request::Redraw {
        output: Some(OUTPUT.into()),
    });
}

#[test]
fn shm_is_read_in_place_and_released_only_when_replaced() {
    let h = Harness::new(320, 240, 60);
    let mut c = h.client();
    let top = c.toplevel("in-place", "weft.test").unwrap();
    let mut a = ShmBuffer::new(&c.shm, &c.qh, 100, 80, Format::Xrgb8888, |_, _| {
        argb(255, 0, 0, 0)
    })
    .unwrap();
    let b = ShmBuffer::new(&c.shm, &c.qh, 100, 80, Format::Xrgb8888, |_, _| {
        argb(0, 255, 0, 0)
    })
    .unwrap();
    c.show(&top.surface, &a.buffer);
    h.settle(&mut c);
    let s = h.surface("in-place");
    assert_eq!(s["rung"], "ShmInPlace", "{s}");
    assert_eq!(s["copied_bytes_per_frame"], 0, "{s}");
    assert_eq!(s["uploaded_bytes"], 0, "nothing was ever copied: {s}");
    assert!(
        s["reason"].as_str().is_some_and(|r| r.contains("in place")),
        "{s}"
    );
    h.screenshot(OUTPUT).assert_pixel(160, 120, RED, 0);
    // Still attached: the surface reads it, so it is not released, even across frames.
    h.settle(&mut c);
    assert!(
        !c.state.released.contains(&a.buffer.id()),
        "released while attached"
    );

    // Re-committing the same buffer with damage keeps it (it stays the current one) and shows
    // what the client wrote.
    a.fill(|x, _| {
        if x < 50 {
            argb(0, 0, 255, 0)
        } else {
            argb(255, 0, 0, 0)
        }
    });
    top.surface.attach(Some(&a.buffer), 0, 0);
    top.surface.damage_buffer(0, 0, 50, 80);
    top.surface.commit();
    h.settle(&mut c);
    let img = h.screenshot(OUTPUT);
    img.assert_pixel(115, 120, [0, 0, 255, 255], 0);
    img.assert_pixel(200, 120, RED, 0);
    assert!(!c.state.released.contains(&a.buffer.id()));

    // Another buffer replaces it: then, and only then, it is released.
    c.show(&top.surface, &b.buffer);
    let id = a.buffer.id();
    c.wait_until("release of the replaced buffer", 50, |s| {
        s.released.contains(&id)
    })
    .unwrap();
    assert!(!c.state.released.contains(&b.buffer.id()));
    // The client may now rewrite the released buffer: what is on screen never changes, even on
    // a full redraw (weft no longer reads it).
    a.fill(|_, _| argb(255, 255, 255, 0));
    full_redraw(&h);
    h.settle(&mut c);
    let img = h.screenshot(OUTPUT);
    img.assert_pixel(160, 120, GREEN, 0);
    img.assert_pixel(115, 120, GREEN, 0);
    img.assert_pixel(5, 5, BACKGROUND, 0);
}

#[test]
fn a_pool_truncated_under_an_in_place_read_hurts_only_its_client() {
    let h = Harness::new(320, 240, 60);
    let mut victim = h.client();
    let top = victim.toplevel("truncated", "weft.test").unwrap();
    let buf = ShmBuffer::new(&victim.shm, &victim.qh, 64, 64, Format::Xrgb8888, |_, _| {
        argb(255, 0, 0, 0)
    })
    .unwrap();
    victim.show(&top.surface, &buf.buffer);
    h.settle(&mut victim);
    assert_eq!(h.surface("truncated")["rung"], "ShmInPlace");

    // The client takes the pages away while weft reads them in place (unsealed memfd: legal for
    // wl_shm, fatal for a compositor that does not contain the SIGBUS).
    rustix::fs::ftruncate(&buf.fd, 0).unwrap();
    full_redraw(&h);

    // weft is alive and serves another client at its rate.
    let mut bystander = h.client();
    let other = bystander.toplevel("bystander", "weft.test").unwrap();
    let green = ShmBuffer::new(
        &bystander.shm,
        &bystander.qh,
        40,
        40,
        Format::Xrgb8888,
        |_, _| argb(0, 255, 0, 0),
    )
    .unwrap();
    bystander.show(&other.surface, &green.buffer);
    for tag in 0..5 {
        bystander.frame(&other.surface, tag);
        other.surface.commit();
        bystander
            .wait_until("frame callback", 100, |s| {
                s.frames_done.iter().any(|(t, _)| *t == tag)
            })
            .unwrap();
    }
    let s = h.surface("bystander");
    let (x, y) = (
        s["x"].as_u64().unwrap() as u32,
        s["y"].as_u64().unwrap() as u32,
    );
    let img = h.screenshot(OUTPUT);
    img.assert_pixel(x + 20, y + 20, GREEN, 0);
    // The lost pages read as zeros: the truncated surface is black where it is not covered.
    let t = h.surface("truncated");
    let (tx, ty) = (
        t["x"].as_u64().unwrap() as u32,
        t["y"].as_u64().unwrap() as u32,
    );
    let covered = |px: u32, py: u32| px >= x && px < x + 40 && py >= y && py < y + 40;
    let probe = [(tx + 2, ty + 2), (tx + 61, ty + 61), (tx + 2, ty + 61)]
        .into_iter()
        .find(|&(px, py)| !covered(px, py))
        .unwrap();
    img.assert_pixel(probe.0, probe.1, [0, 0, 0, 255], 0);
}

#[test]
fn refused_in_place_reads_copy_the_damage_and_say_why() {
    let h = Harness::new(320, 240, 60);
    h.msg(Request::ImportPolicy {
        disabled: Some(vec!["ShmInPlace".into()]),
        yuv: None,
    });
    let mut c = h.client();
    let top = c.toplevel("copied", "weft.test").unwrap();
    let buf = ShmBuffer::new(&c.shm, &c.qh, 100, 80, Format::Xrgb8888, |_, _| {
        argb(255, 0, 0, 0)
    })
    .unwrap();
    c.show(&top.surface, &buf.buffer);
    h.settle(&mut c);
    let s = h.surface("copied");
    assert_eq!(s["rung"], "Shm", "{s}");
    assert_eq!(s["copied_bytes_per_frame"], 100 * 80 * 4, "{s}");
    assert!(
        s["reason"]
            .as_str()
            .is_some_and(|r| r.contains("disabled by the import policy")),
        "{s}"
    );
    h.screenshot(OUTPUT).assert_pixel(160, 120, RED, 0);

    // Enabled again: the next commit of the same buffer is read in place.
    h.msg(Request::ImportPolicy {
        disabled: Some(vec![]),
        yuv: None,
    });
    c.show(&top.surface, &buf.buffer);
    h.settle(&mut c);
    let s = h.surface("copied");
    assert_eq!(s["rung"], "ShmInPlace", "{s}");
    assert_eq!(s["copied_bytes_per_frame"], 0, "{s}");
}
