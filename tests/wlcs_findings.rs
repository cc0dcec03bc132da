//! weft bugs the WLCS conformance suite found (`scripts/wlcs`, docs/wlcs.md), each reproduced here
//! with weft's own test clients so it stays fixed without WLCS.

mod common;

use common::Harness;
use wayland_client::protocol::wl_shm;
use weft_clients::{argb, ShmBuffer};

/// A buffer attached and committed with no damage request must still be shown: smithay's commit
/// counter only advances with damage, and weft used it alone to tell commits apart, so a window
/// whose first buffer came undamaged (as all of WLCS's do) never mapped and never got a frame
/// callback.
#[test]
fn a_buffer_committed_without_damage_maps_the_window() {
    let h = Harness::new(320, 240, 60);
    let mut c = h.client();
    let top = c
        .toplevel("undamaged", "weft.wlcs-findings")
        .expect("toplevel");
    let buffer = ShmBuffer::new(&c.shm, &c.qh, 64, 48, wl_shm::Format::Xrgb8888, |_, _| {
        argb(30, 160, 220, 255)
    })
    .expect("shm buffer");
    c.frame(&top.surface, 7);
    top.surface.attach(Some(&buffer.buffer), 0, 0);
    top.surface.commit();
    // Frames tick at 60 Hz: two seconds are plenty, and a missing callback fails in bounded time.
    let called = (0..100).any(|_| {
        c.roundtrip().expect("roundtrip");
        std::thread::sleep(std::time::Duration::from_millis(20));
        c.state.frames_done.iter().any(|(tag, _)| *tag == 7)
    });
    assert!(called, "no frame callback for the undamaged commit");
    let record = h.surface("undamaged");
    assert_eq!(record["buffer"]["width"], 64);
    let (x, y) = (record["x"].as_u64().unwrap(), record["y"].as_u64().unwrap());
    h.screenshot("HEADLESS-1")
        .assert_pixel(x as u32 + 32, y as u32 + 24, [30, 160, 220, 255], 2);
}
