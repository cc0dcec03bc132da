//! wl_shm buffers read in place (rung `ShmInPlace`): no copy at commit, the release rules exact,
//! only pools sealed against shrinking, and the copy (with its reason) where in-place reads are
//! refused.

mod common;

use common::{solid_shm, Harness, BACKGROUND};
use wayland_client::Proxy;
use weft::Request;
use weft_clients::argb;

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
    let mut a = solid_shm(&c, 100, 80, [255, 0, 0]);
    let b = solid_shm(&c, 100, 80, [0, 255, 0]);
    c.show(&top.surface, &a.buffer);
    h.settle(&mut c);
    let s = h.surface("in-place");
    assert_eq!(s["rung"], "ShmInPlace", "{s}");
    assert_eq!(s["copied_bytes_per_frame"], 0, "{s}");
    assert_eq!(s["uploaded_bytes"], 0, "nothing was ever copied: {s}");
    assert_eq!(s["reason_code"], "shm_in_place.best", "{s}");
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
fn only_pools_sealed_against_shrinking_are_read_in_place() {
    let h = Harness::new(320, 240, 60);
    let mut c = h.client();
    // A sealed pool (ShmBuffer seals F_SEAL_SHRINK, as libwayland and most toolkits do): read in
    // place, and the client cannot take the pages away under weft's reads.
    let sealed = c.toplevel("sealed", "weft.test").unwrap();
    let buf = solid_shm(&c, 64, 64, [255, 0, 0]);
    c.show(&sealed.surface, &buf.buffer);
    h.settle(&mut c);
    assert_eq!(h.surface("sealed")["rung"], "ShmInPlace");
    h.screenshot(OUTPUT).assert_pixel(160, 120, RED, 0);
    assert!(
        rustix::fs::ftruncate(&buf.fd, 0).is_err(),
        "a sealed pool shrank"
    );

    // A pool that may shrink: a truncation would fault the device's reads (SIGBUS in a render
    // thread, uncatchable there), so it is copied at commit, under smithay's guard, and says why.
    let plain = c.toplevel("plain", "weft.test").unwrap();
    let (fd, buffer) = weft_clients::shm::sparse_buffer(&c.shm, &c.qh, 64, 64).unwrap();
    c.show(&plain.surface, &buffer);
    h.settle(&mut c);
    let s = h.surface("plain");
    assert_eq!(s["rung"], "Shm", "{s}");
    assert!(
        s["reason"]
            .as_str()
            .is_some_and(|r| r.contains("F_SEAL_SHRINK")),
        "{s}"
    );
    assert_eq!(s["copied_bytes_per_frame"], 64 * 64 * 4, "{s}");
    // The sparse pool reads as zeros: black, on top of the sealed one (both are centred).
    h.screenshot(OUTPUT)
        .assert_pixel(160, 120, [0, 0, 0, 255], 0);
    drop(fd);
}

#[test]
fn refused_in_place_reads_copy_the_damage_and_say_why() {
    let h = Harness::new(320, 240, 60);
    h.msg(Request::ImportPolicy {
        disabled: Some(vec!["ShmInPlace".into()]),
        yuv: None,
        cpu_convert: None,
    });
    let mut c = h.client();
    let top = c.toplevel("copied", "weft.test").unwrap();
    let buf = solid_shm(&c, 100, 80, [255, 0, 0]);
    c.show(&top.surface, &buf.buffer);
    h.settle(&mut c);
    let s = h.surface("copied");
    assert_eq!(s["rung"], "Shm", "{s}");
    assert_eq!(s["copied_bytes_per_frame"], 100 * 80 * 4, "{s}");
    assert_eq!(s["reason_code"], "shm_in_place.disabled_by_policy", "{s}");
    // The copy itself is the last resort of every wl_shm buffer: it cannot be switched off.
    let refused = h
        .weft
        .msg(&Request::ImportPolicy {
            disabled: Some(vec!["Shm".into()]),
            yuv: None,
            cpu_convert: None,
        })
        .expect_err("Shm cannot be disabled");
    assert!(
        refused.to_string().contains("cannot be disabled"),
        "{refused}"
    );
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
        cpu_convert: None,
    });
    c.show(&top.surface, &buf.buffer);
    h.settle(&mut c);
    let s = h.surface("copied");
    assert_eq!(s["rung"], "ShmInPlace", "{s}");
    assert_eq!(s["copied_bytes_per_frame"], 0, "{s}");
}

#[test]
fn one_client_reads_at_most_its_share_in_place() {
    // Each buffer read in place is a device memory import, of which GPUs allow a few thousand in
    // all: past its share (256) a client's buffers are copied, and say why.
    let h = Harness::new(320, 240, 60);
    let mut c = h.client();
    let top = c.toplevel("greedy", "weft.test").unwrap();
    let buffers: Vec<_> = (0..257).map(|_| solid_shm(&c, 8, 8, [0, 0, 255])).collect();
    for b in &buffers {
        c.show(&top.surface, &b.buffer);
    }
    h.settle(&mut c);
    let s = h.surface("greedy");
    assert_eq!(s["rung"], "Shm", "{s}");
    assert!(
        s["reason"]
            .as_str()
            .is_some_and(|r| r.contains("wl_shm buffers read in place")),
        "{s}"
    );
    let clients = h.msg(Request::Clients);
    let usage = clients[0]["budget"]
        .as_array()
        .and_then(|u| u.iter().find(|r| r["resource"] == "shm_in_place").cloned())
        .unwrap_or_default();
    assert_eq!(usage["used"], 256, "{clients}");
    // Freed buffers give their share back: a new buffer is read in place again.
    drop(buffers);
    c.roundtrip().unwrap();
    let fresh = solid_shm(&c, 8, 8, [0, 255, 0]);
    c.show(&top.surface, &fresh.buffer);
    h.settle(&mut c);
    assert_eq!(h.surface("greedy")["rung"], "ShmInPlace");
}
