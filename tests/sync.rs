//! Synchronisation on the host (no kernel fences here: memfd stand-ins for dma-bufs, lavapipe):
//! explicit sync is offered exactly where a device can carry it, a memfd "dma-buf" falls back
//! from EXPORT_SYNC_FILE to polling its planes, wl_shm needs no sync, and what weft uses for its
//! read fences is reported. The fence rules, the syncobj commit rules and the real-fence paths are
//! tested in the compositor crate's unit tests and in tests/vm (`explicit_sync`,
//! `implicit_sync_bridge`).

mod common;

use common::{solid_shm, Harness};
use weft::Request;
use weft_clients::dmabuf::{Layout, LinuxDmabuf, MemBuffer, XRGB8888};
use weft_clients::syncobj::Syncobj;

#[test]
fn explicit_sync_is_offered_only_with_a_timeline_syncobj_device() {
    let h = Harness::deterministic(320, 240, 60);
    let devices = h.msg(Request::Devices);
    let capable = devices
        .as_array()
        .expect("devices")
        .iter()
        .any(|d| d["caps"]["syncobj_timeline"] == true);
    let imports = h.msg(Request::Imports);
    let sync = &imports["sync"];
    println!("timeline syncobj device: {capable}; sync: {sync}");
    let c = h.client();
    assert_eq!(
        Syncobj::advertised(&c),
        capable,
        "wp_linux_drm_syncobj_manager_v1 advertised iff a device has timeline syncobjs: {devices}"
    );
    assert_eq!(sync["explicit_device"].is_string(), capable, "{sync}");
    assert_eq!(sync["fence_waits_active"], 0, "{sync}");
    assert!(
        ["sync_fd_export", "vgem", "vk_fence_polled"]
            .contains(&sync["read_fence"].as_str().unwrap_or("")),
        "{sync}"
    );
}

#[test]
fn each_buffer_says_how_it_was_synchronised() {
    let h = Harness::deterministic(320, 240, 60);
    let mut c = h.client();
    let d = LinuxDmabuf::bind(&mut c, 4).expect("linux-dmabuf");
    // A memfd stands in for a dma-buf: it has no fences to export, so its planes are polled.
    let mut b = MemBuffer::new(XRGB8888, 32, 32, Layout::default()).expect("memfd buffer");
    b.fill_rgb(|_, _| [255, 0, 0, 255]);
    let t = c.toplevel("memfd", "weft.test").expect("toplevel");
    let wl = b.create_immed(&c, &d);
    c.show(&t.surface, &wl);
    h.settle(&mut c);
    let s = h.surface("memfd");
    println!("{s}");
    assert_eq!(s["sync"], "implicit_poll", "{s}");
    assert_eq!(s["fence_waiting"], false, "{s}");
    assert_eq!(s["release_point"], serde_json::Value::Null, "{s}");

    let shm = solid_shm(&c, 32, 32, [0, 255, 0]);
    let t2 = c.toplevel("shm", "weft.test").expect("toplevel");
    c.show(&t2.surface, &shm.buffer);
    h.settle(&mut c);
    let s = h.surface("shm");
    assert_eq!(s["sync"], "none", "{s}");
    assert_eq!(s["fence_waits"], 0, "{s}");
    assert!(c.protocol_error().is_none());
}
