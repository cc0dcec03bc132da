//! The device registry on real devices (tests/vm guest only: `--features vm-guest`, run by
//! tests/vm/check): vgem, virtio-gpu, two bochs-drm, vivid, the system dma-heap, udmabuf and
//! lavapipe are registered with the right kinds; NV12 buffers allocated on vgem, udmabuf and the
//! heap are shown with correct pixels, their rung, their source device and the bytes copied; vivid
//! unbound through sysfs while its frame is on screen leaves weft serving every client.

mod common;

use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use common::vgem::{centre, H, W};
use common::Harness;
use wayland_client::protocol::wl_buffer::WlBuffer;
use wayland_protocols::wp::linux_dmabuf::zv1::client::zwp_linux_buffer_params_v1::Flags;
use weft::Request;
use weft_clients::dmabuf::{LinuxDmabuf, MOD_LINEAR, NV12};
use weft_clients::Client;
use weft_guest::dmabuf::DmaBuf;

/// BT.601 limited Y′CbCr of pure red, and what weft shows for it.
const RED_YUV: (u8, u8, u8) = (81, 90, 240);
const RED: [u8; 3] = [254, 0, 0];

fn devices(h: &Harness) -> Vec<serde_json::Value> {
    h.msg(Request::Devices)
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn by_driver<'a>(all: &'a [serde_json::Value], driver: &str) -> Vec<&'a serde_json::Value> {
    all.iter().filter(|d| d["driver"] == driver).collect()
}

#[test]
fn every_guest_device_is_registered_with_its_kind() {
    let h = Harness::deterministic(320, 240, 60);
    let all = devices(&h);
    println!("{}", serde_json::to_string_pretty(&all).unwrap_or_default());
    let kind = |driver: &str| -> Vec<String> {
        by_driver(&all, driver)
            .iter()
            .map(|d| d["kind"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    assert_eq!(kind("vgem"), ["render_only"], "{all:?}");
    assert_eq!(kind("virtio_gpu"), ["display"], "{all:?}");
    assert_eq!(kind("bochs-drm"), ["display", "display"], "{all:?}");
    assert_eq!(kind("vivid"), ["capture"], "{all:?}");
    assert_eq!(kind("udmabuf"), ["allocator"], "{all:?}");
    assert!(
        all.iter()
            .any(|d| d["id"] == "heap:system" && d["kind"] == "allocator"),
        "{all:?}"
    );
    let render = all
        .iter()
        .find(|d| d["render"] == true)
        .expect("a render device");
    assert_eq!(render["kind"], "software", "{render}");
    assert_eq!(render["driver"], "llvmpipe", "{render}");
    // KMS facts from the probe (docs/vm-facts.md): virtio-gpu has timeline syncobjs and planes.
    let virtio = by_driver(&all, "virtio_gpu")[0];
    assert_eq!(virtio["caps"]["syncobj_timeline"], true, "{virtio}");
    assert!(
        virtio["caps"]["planes"]
            .as_array()
            .is_some_and(|p| p.iter().any(|p| p["type"] == "primary")),
        "{virtio}"
    );
    assert!(
        by_driver(&all, "vivid")[0]["caps"]["formats"]
            .as_array()
            .is_some_and(|f| f.iter().any(|f| f == "NV12")),
        "{all:?}"
    );
    // main_device: lavapipe has no DRM node; clients are sent vgem's primary node, where dumb
    // buffers are allocated and whose memory lavapipe imports.
    let imports = h.msg(Request::Imports);
    let vgem = by_driver(&all, "vgem")[0];
    assert_eq!(imports["main_device_id"], vgem["id"], "{imports}");
    assert_ne!(imports["main_device"], 0, "{imports}");
}

/// Writes a red NV12 image (Y plane at 0, CbCr at `W * H`, both with stride `W`) into `buf`.
fn fill_nv12(buf: &DmaBuf) {
    let mut map = buf.map().expect("mmap");
    let bytes = map.as_mut_slice();
    let (y, u, v) = RED_YUV;
    bytes[..(W * H) as usize].fill(y);
    for px in bytes[(W * H) as usize..(W * H * 3 / 2) as usize].chunks_exact_mut(2) {
        px[0] = u;
        px[1] = v;
    }
}

/// `buf` as a linear NV12 wl_buffer (both planes in the one dma-buf).
fn send_nv12(c: &Client, d: &LinuxDmabuf, buf: &DmaBuf) -> WlBuffer {
    let (params, _) = d.params(c);
    for (plane, offset) in [(0, 0), (1, W * H)] {
        let fd = buf.try_clone_fd().expect("dup");
        params.add(
            fd.as_fd(),
            plane,
            offset,
            W,
            (MOD_LINEAR >> 32) as u32,
            MOD_LINEAR as u32,
        );
    }
    let wl = params.create_immed(W as i32, H as i32, NV12, Flags::empty(), &c.qh, ());
    params.destroy();
    wl
}

fn assert_close(got: [u8; 3], want: [u8; 3], what: &str) {
    for i in 0..3 {
        assert!(
            (i32::from(got[i]) - i32::from(want[i])).abs() <= 3,
            "{what}: got {got:?}, want {want:?}"
        );
    }
}

fn policy(h: &Harness, disabled: &[&str]) {
    let req: Request = serde_json::from_value(
        serde_json::json!({"command": "import_policy", "disabled": disabled}),
    )
    .expect("request");
    h.msg(req);
}

#[test]
fn nv12_from_vgem_udmabuf_and_the_heap_shows_with_an_honest_record() {
    let h = Harness::deterministic(320, 240, 60);
    let all = devices(&h);
    let vgem_id = by_driver(&all, "vgem")[0]["id"].clone();
    let vgem = weft_guest::vgem::Vgem::open().expect("vgem");
    let sources: Vec<(&str, DmaBuf, serde_json::Value)> = vec![
        (
            "vgem",
            // 32 bpp × W × H holds the W × H × 1.5 bytes of NV12.
            vgem.alloc(W, H).expect("vgem dumb buffer").dmabuf,
            vgem_id,
        ),
        (
            "udmabuf",
            weft_guest::udmabuf::alloc(u64::from(W * H * 2).next_multiple_of(4096))
                .expect("udmabuf"),
            "udmabuf".into(),
        ),
        (
            "heap",
            weft_guest::heap::alloc_system(u64::from(W * H * 2)).expect("system heap"),
            "heap:system".into(),
        ),
    ];
    let mut c = h.client();
    let d = LinuxDmabuf::bind(&mut c, 4).expect("linux-dmabuf");
    // (rung, rungs disabled to get it, bytes a full-damage commit copies)
    let rungs: [(&str, &[&str], u64); 3] = [
        // StageOnCpu goes before the in-place rungs for Y′CbCr on lavapipe: off for theirs.
        ("SampleLinear", &["StageOnCpu"], 0),
        (
            "StageOnSink",
            &["Sample", "SampleLinear", "StageOnCpu"],
            u64::from(W * H * 3 / 2),
        ),
        (
            "StageOnCpu",
            &["Sample", "SampleLinear", "StageOnSink"],
            u64::from(W * H * 3 / 2),
        ),
    ];
    for (name, buf, id) in &sources {
        fill_nv12(buf);
        for (rung, disabled, copied) in rungs {
            policy(&h, disabled);
            let title = format!("{name} {rung}");
            let t = c.toplevel(&title, "weft.test").expect("toplevel");
            let wl = send_nv12(&c, &d, buf);
            c.show(&t.surface, &wl);
            h.settle(&mut c);
            let s = h.surface(&title);
            println!("{name} via {rung}: {s}");
            assert_eq!(s["rung"], rung, "{s}");
            assert_eq!(&s["source_device"], id, "{s}");
            assert_eq!(s["copied_bytes_per_frame"].as_u64(), Some(copied), "{s}");
            assert_close(centre(&h, &title), RED, &format!("{name} via {rung}"));
            wl.destroy();
        }
    }
    assert!(c.protocol_error().is_none());
}

/// Waits until `weft msg devices` satisfies `done` (hotplug events arrive asynchronously).
fn wait_devices(h: &Harness, what: &str, done: impl Fn(&[serde_json::Value]) -> bool) {
    let start = Instant::now();
    while !done(&devices(h)) {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{what}: {:?}",
            devices(h)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Unbinds vivid through sysfs on creation and binds it again on drop (later tests use it).
struct Unbound;

const VIVID: &str = "/sys/bus/platform/drivers/vivid";

impl Unbound {
    fn vivid() -> Self {
        std::fs::write(format!("{VIVID}/unbind"), "vivid.0").expect("unbind vivid.0");
        Self
    }
}

impl Drop for Unbound {
    fn drop(&mut self) {
        let _ = std::fs::write(format!("{VIVID}/bind"), "vivid.0");
    }
}

#[test]
fn vivid_unbound_while_its_frame_is_shown_leaves_weft_serving() {
    let h = Harness::deterministic(320, 240, 60);
    let node = weft_guest::v4l2::find_capture("vivid").expect("vivid capture node");
    let nv12 = u32::from_le_bytes(*b"NV12");
    let capture = weft_guest::v4l2::Capture::start(&node, W, H, nv12, 2).expect("vivid NV12");
    assert_eq!(capture.format.pixelformat, nv12, "vivid captures NV12");
    let (w, hgt, stride) = (
        capture.format.width,
        capture.format.height,
        capture.format.bytesperline,
    );
    let frame = capture.dequeue().expect("a frame");
    let buf = &capture.buffers[frame.index];
    let mut c = h.client();
    let d = LinuxDmabuf::bind(&mut c, 4).expect("linux-dmabuf");
    let t = c.toplevel("camera", "weft.test").expect("toplevel");
    let (params, _) = d.params(&c);
    for (plane, offset) in [(0, 0), (1, stride * hgt)] {
        let fd = buf.try_clone_fd().expect("dup");
        params.add(
            fd.as_fd(),
            plane,
            offset,
            stride,
            (MOD_LINEAR >> 32) as u32,
            MOD_LINEAR as u32,
        );
    }
    let wl = params.create_immed(w as i32, hgt as i32, NV12, Flags::empty(), &c.qh, ());
    params.destroy();
    c.show(&t.surface, &wl);
    h.settle(&mut c);
    let before = h.surface("camera");
    println!("vivid frame: {before}");
    let vivid_id = by_driver(&devices(&h), "vivid")[0]["id"].clone();
    assert_eq!(before["source_device"], vivid_id, "{before}");
    let shown = centre(&h, "camera");

    let _unbound = Unbound::vivid();
    wait_devices(&h, "vivid leaves the registry", |all| {
        by_driver(all, "vivid").is_empty()
    });
    // Planned again: the memory still exists (the dma-buf holds it); nothing names its device now.
    let after = h.surface("camera");
    println!("after the unbind: {after}");
    assert_eq!(after["source_device"], "unknown", "{after}");
    assert!(after["rung"].is_string(), "{after}");
    assert_eq!(centre(&h, "camera"), shown, "the frame is still shown");
    // Everyone is still served: the same client commits again, a new client maps a window.
    c.show(&t.surface, &wl);
    h.settle(&mut c);
    let mut other = h.client();
    let t2 = other.toplevel("bystander", "weft.test").expect("toplevel");
    let px = other.single_pixel([0, 0, 255, 255]);
    let vp = other.viewport(&t2.surface);
    vp.set_destination(W as i32, H as i32);
    other.show(&t2.surface, &px);
    h.settle(&mut other);
    assert_close(centre(&h, "bystander"), [0, 0, 255], "bystander");
    assert!(c.protocol_error().is_none());
    drop(capture);
}

#[test]
fn the_demo_plays_its_video_from_vgem_on_every_rung() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_weft"))
        .args(["demo", "--seconds", "3", "--screenshot"])
        .arg(std::env::temp_dir().join("weft-vm-demo.png"))
        .env("XDG_RUNTIME_DIR", std::env::temp_dir())
        .output()
        .expect("weft demo runs");
    let text = String::from_utf8_lossy(&out.stdout);
    println!("{text}");
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("NV12 from vgem dumb buffer"), "{text}");
    for rung in ["SampleLinear", "StageOnSink", "StageOnCpu"] {
        let row = text
            .lines()
            .find(|l| l.trim_start().starts_with(rung))
            .unwrap_or_else(|| panic!("no {rung} row: {text}"));
        assert!(row.contains("drm:card0"), "the source is vgem: {row}");
        assert!(row.contains("vk:llvmpipe"), "the render device: {row}");
    }
}
