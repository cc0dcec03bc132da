//! Faults of the render device, injected through weft's test hooks into the real device paths: a
//! lost device is rebuilt and every surface shown again without any client action; an import whose
//! allocation fails answers `failed` and nothing else changes.

mod common;

use std::time::Duration;

use common::Harness;
use wayland_client::protocol::wl_shm::Format;
use weft::Request;
use weft_clients::dmabuf::{Layout, LinuxDmabuf, MemBuffer, Outcome, XRGB8888};
use weft_clients::{argb, ShmBuffer};

fn inject(h: &Harness, fault: &str, count: Option<u32>) {
    let req: Request = serde_json::from_value(serde_json::json!({
        "command": "inject_fault", "fault": fault, "count": count,
    }))
    .unwrap();
    h.msg(req);
}

fn generation(h: &Harness) -> u64 {
    let devices = h.msg(Request::Devices);
    weft_compositor::ipc::client::render_device(&devices).expect("a render device")["generation"]
        .as_u64()
        .unwrap()
}

/// A point 4 pixels into a surface from its top-left corner (new windows cascade down and right,
/// so an older window's corner is not under a newer one).
fn corner(h: &Harness, title: &str) -> (u32, u32) {
    let s = h.surface(title);
    let at = |k: &str| s[k].as_u64().unwrap() as u32;
    (at("x") + 4, at("y") + 4)
}

#[test]
fn a_lost_device_is_rebuilt_and_every_surface_shown_again() {
    let h = Harness::with_fault_injection(640, 480, 60);
    let mut c = h.client();
    // A wl_shm window and a dma-buf window.
    let shm_top = c.toplevel("shm", "weft.shm").unwrap();
    let green = ShmBuffer::new(&c.shm, &c.qh, 100, 80, Format::Xrgb8888, |_, _| {
        argb(0, 255, 0, 255)
    })
    .unwrap();
    c.show(&shm_top.surface, &green.buffer);
    let dmabuf = LinuxDmabuf::bind(&mut c, 4).unwrap();
    let dma_top = c.toplevel("dmabuf", "weft.dmabuf").unwrap();
    let mut mem = MemBuffer::new(XRGB8888, 90, 70, Layout::default()).unwrap();
    mem.fill_rgb(|_, _| [255, 0, 255, 255]);
    let buffer = mem.create_immed(&c, &dmabuf);
    c.show(&dma_top.surface, &buffer);
    c.roundtrip().unwrap();
    h.settle(&mut c);
    let (gx, gy) = corner(&h, "shm");
    let (mx, my) = corner(&h, "dmabuf");
    let before = h.screenshot("HEADLESS-1");
    before.assert_pixel(gx, gy, [0, 255, 0, 255], 0);
    before.assert_pixel(mx, my, [255, 0, 255, 255], 2);
    assert_eq!(generation(&h), 0);

    inject(&h, "device-lost", None);
    // The device is found lost at its next submission: the next frame, which a third client's
    // commit causes (the two windows above never commit again).
    let mut other = h.client();
    let other_top = other.toplevel("other", "weft.other").unwrap();
    let blue = ShmBuffer::new(&other.shm, &other.qh, 30, 30, Format::Xrgb8888, |_, _| {
        argb(0, 0, 255, 255)
    })
    .unwrap();
    other.show(&other_top.surface, &blue.buffer);
    other.roundtrip().unwrap();
    let mut rebuilt = false;
    for _ in 0..200 {
        if generation(&h) == 1 {
            rebuilt = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(rebuilt, "the renderer was not rebuilt");
    // No client action: both surfaces are shown again from the buffers weft still holds.
    let after = h.screenshot("HEADLESS-1");
    after.assert_pixel(gx, gy, [0, 255, 0, 255], 0);
    after.assert_pixel(mx, my, [255, 0, 255, 255], 2);
    // And clients keep being served on the new device.
    c.frame(&shm_top.surface, 7);
    c.show(&shm_top.surface, &green.buffer);
    c.wait_until("frame after the rebuild", 500, |s| {
        s.frames_done.iter().any(|(t, _)| *t == 7)
    })
    .unwrap();
    let cache = h.msg(Request::Imports);
    assert!(cache["cache"]["misses"].as_u64().unwrap() >= 2, "{cache}");
}

#[test]
fn an_import_whose_allocation_fails_is_failed_and_nothing_else() {
    let h = Harness::with_fault_injection(320, 240, 60);
    let mut c = h.client();
    let dmabuf = LinuxDmabuf::bind(&mut c, 4).unwrap();
    let mem = MemBuffer::new(XRGB8888, 64, 64, Layout::default()).unwrap();
    // Every rung that imports memory fails once: SampleLinear imports once per distinct file;
    // StageOnSink imports too; StageOnCpu allocates from gpu-allocator, not an import, so disable
    // it to see `failed`.
    h.msg(
        serde_json::from_value(serde_json::json!({
            "command": "import_policy", "disabled": ["StageOnCpu"],
        }))
        .unwrap(),
    );
    inject(&h, "import-allocation", Some(8));
    let outcome = mem.create(&mut c, &dmabuf, 0).unwrap();
    assert!(matches!(outcome, Outcome::Failed), "{outcome:?}");
    // The failure was temporary (out of memory), not a property of the buffer: once the armed
    // failures are used up, the same buffer imports.
    inject(&h, "import-allocation", Some(0));
    let mut created = false;
    for _ in 0..10 {
        if let Outcome::Created(_) = mem.create(&mut c, &dmabuf, 0).unwrap() {
            created = true;
            break;
        }
    }
    assert!(created, "imports work again after the injected failures");
    c.roundtrip().expect("the client was never disconnected");
}

#[test]
fn fault_injection_is_refused_unless_enabled() {
    let h = Harness::new(320, 240, 60);
    let req: Request = serde_json::from_value(serde_json::json!({
        "command": "inject_fault", "fault": "device-lost",
    }))
    .unwrap();
    let err = h.weft.msg(&req).unwrap_err().to_string();
    assert!(err.contains("--fault-injection"), "{err}");
    assert_eq!(generation(&h), 0);
}
