//! The device registry as a user sees it: `weft msg devices`, the render-device policy and its
//! override, source attribution, and simulated topologies (`--simulate-devices`) whose planner
//! decisions are checked with real pixels on lavapipe — every rung that runs here, a source device
//! removed while its buffer is on screen.

mod common;

use common::Harness;
use wayland_client::protocol::wl_shm::Format;
use weft::Request;
use weft_backends::server::ServerOptions;
use weft_clients::dmabuf::{is_yuv, Layout, LinuxDmabuf, MemBuffer, ALL_FORMATS, NV12};
use weft_clients::shm::{argb, ShmBuffer};
use weft_clients::{Client, Toplevel};
use weft_compositor::{DeviceOptions, OutputSpec};

const W: u32 = 64;
const H: u32 = 48;
/// BT.601 limited Y′CbCr of pure red, and what weft shows for it.
const RED_YUV: (u8, u8, u8) = (81, 90, 240);
const RED: [u8; 3] = [254, 0, 0];

fn output() -> Vec<OutputSpec> {
    vec![OutputSpec {
        width: 320,
        height: 240,
        refresh_mhz: 60_000,
    }]
}

fn start(devices: DeviceOptions, fault_injection: bool) -> anyhow::Result<Harness> {
    let h = Harness::with_server(
        output(),
        true,
        None,
        ServerOptions {
            devices,
            fault_injection,
            ..Default::default()
        },
    )?;
    keep_video_in_place(&h);
    Ok(h)
}

/// The render devices here are lavapipe, where NV12 is converted at commit (StageOnCpu goes first
/// on a CPU device); these tests are about which device reads a buffer in place and how, so that
/// rung is off.
fn keep_video_in_place(h: &Harness) {
    let policy: Request = serde_json::from_value(serde_json::json!({
        "command": "import_policy", "disabled": ["StageOnCpu"],
    }))
    .expect("request");
    h.msg(policy);
}

fn assert_close(got: [u8; 4], want: [u8; 3], what: &str) {
    for i in 0..3 {
        assert!(
            (i32::from(got[i]) - i32::from(want[i])).abs() <= 3,
            "{what}: got {got:?}, want {want:?}"
        );
    }
}

/// The pixel at the centre of the surface titled `title`.
fn centre(h: &Harness, title: &str) -> [u8; 4] {
    let s = h.surface(title);
    let (x, y) = (s["x"].as_u64().unwrap_or(0), s["y"].as_u64().unwrap_or(0));
    h.screenshot("HEADLESS-1")
        .pixel(x as u32 + W / 2, y as u32 + H / 2)
}

#[test]
fn every_device_is_listed_and_the_render_device_says_why() {
    let h = start(DeviceOptions::default(), false).expect("weft starts");
    let devices = h.msg(Request::Devices);
    let list = devices.as_array().expect("a list");
    for d in list {
        for key in ["id", "kind", "driver", "nodes", "caps"] {
            assert!(!d[key].is_null(), "{key} missing: {d}");
        }
        let kind = d["kind"].as_str().unwrap_or_default();
        assert!(
            [
                "display",
                "render",
                "render_only",
                "decoder",
                "capture",
                "allocator",
                "software"
            ]
            .contains(&kind),
            "{d}"
        );
    }
    let render = weft_compositor::ipc::client::render_device(&devices).expect("a render device");
    assert!(
        render["render_reason"]
            .as_str()
            .is_some_and(|r| !r.is_empty()),
        "{render}"
    );
    assert_eq!(render["caps"]["dmabuf_import"], true, "{render}");
    // Only one device renders.
    assert_eq!(
        list.iter().filter(|d| d["render"] == true).count(),
        1,
        "{devices}"
    );
    // The outputs name it.
    let outputs = h.msg(Request::Outputs);
    assert_eq!(outputs[0]["render_device"], render["id"], "{outputs}");
}

#[test]
fn the_render_device_override_is_obeyed_or_refused_with_what_exists() {
    let by_name = start(
        DeviceOptions {
            render_device: Some("llvmpipe".into()),
            simulate: None,
            ..Default::default()
        },
        false,
    )
    .expect("weft starts on the named device");
    let devices = by_name.msg(Request::Devices);
    let render = weft_compositor::ipc::client::render_device(&devices).expect("render device");
    assert!(
        render["render_reason"]
            .as_str()
            .is_some_and(|r| r.contains("override")),
        "{render}"
    );
    drop(by_name);
    let err = start(
        DeviceOptions {
            render_device: Some("no-such-gpu".into()),
            simulate: None,
            ..Default::default()
        },
        false,
    )
    .err()
    .expect("weft refuses a render device that does not exist");
    let msg = format!("{err:#}");
    assert!(
        msg.contains("no-such-gpu") && msg.contains("llvmpipe"),
        "{msg}"
    );
}

/// A made-up machine: a V4L2 decoder producing the clients' buffers, a display device whose planes
/// take NV12, and a render device the real lavapipe stands for; `access` is how the render device
/// reaches the decoder's memory.
fn topology(dir: &std::path::Path, name: &str, access: &str) -> std::path::PathBuf {
    let t = serde_json::json!({
        "devices": [
            {"id": "v4l2:video9", "kind": "decoder", "driver": "simdec",
             "nodes": [{"path": "/dev/video9", "dev": {"major": 81, "minor": 9}}],
             "caps": {"v4l2": ["m2m", "mplane", "streaming"], "expbuf": true, "formats": ["NV12"]}},
            {"id": "drm:card1", "kind": "display", "driver": "simkms",
             "nodes": [{"path": "/dev/dri/card1", "dev": null}],
             "caps": {"kms": true, "prime_import": true, "planes": [
                {"id": 31, "type": "primary", "formats": [["XR24", ["0x0000000000000000"]], ["NV12", ["0x0000000000000000"]]]}
             ]}},
            {"id": "drm:card0", "kind": "render", "driver": "simgpu",
             "nodes": [{"path": "/dev/dri/renderD128", "dev": null}],
             "caps": {"vulkan": "simulated", "dmabuf_import": true}},
        ],
        "access": [
            {"source": "v4l2:video9", "sink": "drm:card0", "access": access},
            {"source": "v4l2:video9", "sink": "drm:card1", "access": "shared"},
        ],
        "render_as": "drm:card0",
        "memfd_source": "v4l2:video9",
        "display": "drm:card1",
    });
    let path = dir.join(format!("{name}.json"));
    std::fs::write(&path, t.to_string()).expect("write topology");
    path
}

fn simulated(name: &str, access: &str) -> Harness {
    let dir = std::env::temp_dir().join(format!("weft-topology-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    start(
        DeviceOptions {
            render_device: None,
            simulate: Some(topology(&dir, name, access)),
            ..Default::default()
        },
        true,
    )
    .expect("weft starts on a simulated topology")
}

#[test]
fn simulated_topologies_take_the_planned_rung_with_right_pixels() {
    // (access from the render device to the decoder's memory, rung expected)
    for (access, rung) in [
        ("shared", "SampleLinear"),
        ("peer_to_peer", "SampleLinear"),
        ("copy_only", "StageOnSink"),
        ("none", "StageOnCpu"),
    ] {
        let h = simulated(access, access);
        if rung == "StageOnCpu" {
            // Nothing else reaches the decoder's memory: the last rung, back on for this one.
            h.msg(
                serde_json::from_value(
                    serde_json::json!({"command": "import_policy", "disabled": []}),
                )
                .expect("request"),
            );
        }
        let devices = h.msg(Request::Devices);
        let render = weft_compositor::ipc::client::render_device(&devices).expect("render");
        assert_eq!(render["id"], "drm:card0", "{devices}");
        let mut c = h.client();
        let d = LinuxDmabuf::bind(&mut c, 4).expect("linux-dmabuf");
        let title = format!("video {access}");
        let t = c.toplevel(&title, "weft.test").expect("toplevel");
        let mut b = MemBuffer::new(NV12, W, H, Layout::default()).expect("nv12");
        b.fill_yuv(|_, _| RED_YUV);
        let wl = b.create_immed(&c, &d);
        c.show(&t.surface, &wl);
        h.settle(&mut c);
        let s = h.surface(&title);
        assert_eq!(s["rung"], rung, "{access}: {s}");
        assert_eq!(s["source_device"], "v4l2:video9", "{s}");
        let reason = s["reason"].as_str().unwrap_or_default();
        // The display could take NV12 on a plane, but headless weft has no KMS backend: the
        // planner says so instead of pretending.
        assert!(
            reason.contains("Scanout skipped: a plane would take it; only the KMS backend"),
            "{reason}"
        );
        let copied = s["copied_bytes_per_frame"].as_u64().unwrap_or(0);
        if rung.starts_with("Stage") {
            // Whole rows of both planes, with their strides (the copy keeps the layout).
            let rows = b.planes[0].stride * H + b.planes[1].stride * (H / 2);
            assert_eq!(copied, u64::from(rows), "{s}");
        } else {
            assert_eq!(copied, 0, "{s}");
        }
        assert_close(centre(&h, &title), RED, &format!("NV12 via {rung}"));
        let imports = h.msg(Request::Imports);
        if access == "none" {
            // Remembered per class: source, sink, format, modifier.
            assert!(
                imports["failed_classes"]
                    .as_array()
                    .is_none_or(|a| a.iter().all(|f| f["source"] == "v4l2:video9")),
                "{imports}"
            );
        }
    }
}

#[test]
fn a_source_device_removed_mid_stream_leaves_weft_serving() {
    let h = simulated("removal", "copy_only");
    let mut c = h.client();
    let d = LinuxDmabuf::bind(&mut c, 4).expect("linux-dmabuf");
    let t = c.toplevel("video", "weft.test").expect("toplevel");
    let mut b = MemBuffer::new(NV12, W, H, Layout::default()).expect("nv12");
    b.fill_yuv(|_, _| RED_YUV);
    let wl = b.create_immed(&c, &d);
    c.show(&t.surface, &wl);
    h.settle(&mut c);
    assert_eq!(h.surface("video")["rung"], "StageOnSink");
    let req: Request = serde_json::from_value(
        serde_json::json!({"command": "simulate_removal", "device": "v4l2:video9"}),
    )
    .expect("request");
    h.msg(req);
    // The decoder is gone from the registry; its buffer is planned again: now it is memory nobody
    // can name (the memfd it was), read in place.
    let devices = h.msg(Request::Devices);
    assert!(
        devices
            .as_array()
            .is_some_and(|a| a.iter().all(|d| d["id"] != "v4l2:video9")),
        "{devices}"
    );
    let s = h.surface("video");
    assert_eq!(s["rung"], "SampleLinear", "{s}");
    assert_eq!(s["source_device"], "unknown", "{s}");
    assert_close(centre(&h, "video"), RED, "after the removal");
    // The same client keeps committing, and a new client is served.
    c.show(&t.surface, &wl);
    let mut other = h.client();
    let t2 = other.toplevel("bystander", "weft.test").expect("toplevel");
    let shm = ShmBuffer::new(
        &other.shm,
        &other.qh,
        W as i32,
        H as i32,
        Format::Xrgb8888,
        |_, _| argb(0, 0, 255, 255),
    )
    .expect("shm");
    other.show(&t2.surface, &shm.buffer);
    h.settle(&mut other);
    h.settle(&mut c);
    assert_close(centre(&h, "bystander"), [0, 0, 255], "bystander");
    assert!(c.protocol_error().is_none());
}

#[test]
fn a_video_in_a_subsurface_is_listed_with_its_parent() {
    let h = start(DeviceOptions::default(), false).expect("weft starts");
    let mut c = h.client();
    let d = LinuxDmabuf::bind(&mut c, 4).expect("linux-dmabuf");
    let t = c.toplevel("player", "weft.test").expect("toplevel");
    let frame = ShmBuffer::new(
        &c.shm,
        &c.qh,
        2 * W as i32,
        2 * H as i32,
        Format::Xrgb8888,
        |_, _| argb(40, 40, 40, 255),
    )
    .expect("shm");
    let (video, sub) = c.subsurface(&t.surface);
    sub.set_position(8, 6);
    let mut b = MemBuffer::new(NV12, W, H, Layout::default()).expect("nv12");
    b.fill_yuv(|_, _| RED_YUV);
    let wl = b.create_immed(&c, &d);
    c.show(&video, &wl);
    c.show(&t.surface, &frame.buffer);
    h.settle(&mut c);
    let all = h.surfaces();
    let player = all.iter().find(|s| s["title"] == "player").expect("player");
    let picture = all
        .iter()
        .find(|s| s["parent"] == player["id"])
        .unwrap_or_else(|| panic!("the video subsurface is listed: {all:?}"));
    assert_eq!(picture["role"], "subsurface", "{picture}");
    assert_eq!(player["role"], "xdg_toplevel", "{player}");
    assert_eq!(picture["buffer"]["format"], "NV12", "{picture}");
    assert_eq!(picture["source_device"], "unknown", "{picture}");
    assert_eq!(
        picture["x"].as_i64(),
        player["x"].as_i64().map(|x| x + 8),
        "{picture}"
    );
    assert_eq!(
        (picture["width"].as_u64(), picture["height"].as_u64()),
        (Some(u64::from(W)), Some(u64::from(H)))
    );
    let shot = h.screenshot("HEADLESS-1");
    let (x, y) = (
        picture["x"].as_u64().unwrap_or(0),
        picture["y"].as_u64().unwrap_or(0),
    );
    assert_close(
        shot.pixel(x as u32 + W / 2, y as u32 + H / 2),
        RED,
        "the video",
    );
}

#[test]
fn feedback_steers_to_the_source_device_and_away_when_it_goes() {
    let h = simulated("steering", "shared");
    let mut c = h.client();
    let d = LinuxDmabuf::bind(&mut c, 4).expect("linux-dmabuf");
    let t = c.toplevel("steered", "weft.test").expect("toplevel");
    let (fb, first) = d
        .surface_feedback_done(&mut c, &t.surface)
        .expect("surface feedback");
    let decoder = rustix::fs::makedev(81, 9);
    let targets = |f: &weft_clients::dmabuf::Feedback| -> Vec<Option<u64>> {
        f.tranches.iter().map(|t| t.target_device).collect()
    };
    assert!(!targets(&first).contains(&Some(decoder)), "{first:?}");
    let mut b = MemBuffer::new(NV12, W, H, Layout::default()).expect("nv12");
    b.fill_yuv(|_, _| RED_YUV);
    let wl = b.create_immed(&c, &d);
    c.show(&t.surface, &wl);
    h.settle(&mut c);
    // The decoder's memory is read in place: the surface is told to keep allocating there.
    let steered = fb.lock().map(|f| f.clone()).expect("feedback");
    assert_eq!(steered.done, 2, "{steered:?}");
    let tranche = steered
        .tranches
        .iter()
        .find(|t| t.target_device == Some(decoder))
        .unwrap_or_else(|| panic!("a tranche for the decoder: {steered:?}"));
    assert!(tranche.formats.contains(&(NV12, 0)), "{tranche:?}");
    let s = h.surface("steered");
    assert_eq!(s["feedback"]["sent"], 1, "{s}");
    assert_eq!(s["feedback"]["resent"], 0, "{s}");
    // The same buffer again: nothing new to say, nothing sent.
    c.show(&t.surface, &wl);
    h.settle(&mut c);
    assert_eq!(fb.lock().map(|f| f.done).unwrap_or(0), 2);
    // The decoder goes: the tranche is stale, the feedback is sent again without it.
    let req: Request = serde_json::from_value(
        serde_json::json!({"command": "simulate_removal", "device": "v4l2:video9"}),
    )
    .expect("request");
    h.msg(req);
    h.settle(&mut c);
    let after = fb.lock().map(|f| f.clone()).expect("feedback");
    assert_eq!(after.done, 3, "{after:?}");
    assert!(!targets(&after).contains(&Some(decoder)), "{after:?}");
    let s = h.surface("steered");
    assert_eq!(s["feedback"]["resent"], 1, "{s}");
    assert_eq!(s["feedback"]["followed"], 0, "{s}");
    // The client reallocates as told: a new buffer on a zero-copy rung counts as followed.
    let mut b2 = MemBuffer::new(NV12, W, H, Layout::default()).expect("nv12");
    b2.fill_yuv(|_, _| RED_YUV);
    let wl2 = b2.create_immed(&c, &d);
    c.show(&t.surface, &wl2);
    h.settle(&mut c);
    let s = h.surface("steered");
    assert_eq!(s["rung"], "SampleLinear", "{s}");
    assert_eq!(s["feedback"]["followed"], 1, "{s}");
    assert_eq!(fb.lock().map(|f| f.done).unwrap_or(0), 3);
}

/// weft with two 160×120 outputs, each composed on its own render device (and test hooks on).
fn two_outputs_on_two_devices(simulate: Option<std::path::PathBuf>) -> anyhow::Result<Harness> {
    let small = OutputSpec {
        width: 160,
        height: 120,
        refresh_mhz: 60_000,
    };
    Harness::with_server(
        vec![small, small],
        true,
        None,
        ServerOptions {
            devices: DeviceOptions {
                simulate,
                render_devices: 2,
                ..Default::default()
            },
            fault_injection: true,
            ..Default::default()
        },
    )
    .inspect(keep_video_in_place)
}

/// A 300×100 window titled "wide", red in its left half and green in its right, shown: wider
/// than one 160-pixel output, so it spans both.
fn wide_window(h: &Harness) -> (Client, Toplevel, ShmBuffer) {
    let mut c = h.client();
    let t = c.toplevel("wide", "weft.test").expect("toplevel");
    let shm = ShmBuffer::new(&c.shm, &c.qh, 300, 100, Format::Xrgb8888, |x, _| {
        if x < 150 {
            argb(255, 0, 0, 255)
        } else {
            argb(0, 255, 0, 255)
        }
    })
    .expect("shm");
    c.show(&t.surface, &shm.buffer);
    h.settle(&mut c);
    (c, t, shm)
}

/// BT.601 limited Y′CbCr of pure blue.
const BLUE_YUV: (u8, u8, u8) = (41, 240, 110);

#[test]
fn two_render_devices_compose_an_output_each() {
    let h = two_outputs_on_two_devices(None).expect("weft starts with two render devices");
    let outputs = h.msg(Request::Outputs);
    let (first, second) = (
        outputs[0]["render_device"].clone(),
        outputs[1]["render_device"].clone(),
    );
    assert_ne!(first, second, "{outputs}");
    // Headless outputs are their render targets: no copy after drawing, on either device.
    for o in outputs.as_array().into_iter().flatten() {
        assert_eq!(o["composed_copies_per_frame"], 0, "{o}");
    }
    let devices = h.msg(Request::Devices);
    let extra = devices
        .as_array()
        .and_then(|a| a.iter().find(|d| d["id"] == second))
        .unwrap_or_else(|| panic!("{second} is registered: {devices}"));
    assert_eq!(extra["logical_of"], first, "{extra}");

    // A window wider than the first output spans both (new windows start at its left edge): its
    // left half on the first device's output, its right half on the second's.
    let (mut c, t, _shm) = wide_window(&h);
    let s = h.surface("wide");
    let (x, y) = (s["x"].as_i64().unwrap_or(0), s["y"].as_i64().unwrap_or(0));
    assert_eq!(x, 0, "{s}");
    let row = (y + 50) as u32;
    assert_close(
        h.screenshot("HEADLESS-1").pixel(40, row),
        [255, 0, 0],
        "left half, first device",
    );
    assert_close(
        h.screenshot("HEADLESS-2").pixel(100, row),
        [0, 255, 0],
        "right half, second device",
    );
    assert_eq!(s["on_devices"][0]["device"], second, "{s}");
    assert_eq!(s["on_devices"][0]["rung"], "Shm", "{s}");

    // A buffer too large for one event-loop turn is copied in slices on the first device; the
    // second copies it once the first shows it.
    let big = ShmBuffer::new(&c.shm, &c.qh, 4096, 2048, Format::Xrgb8888, |x, _| {
        if x < 150 {
            argb(0, 0, 255, 255)
        } else {
            argb(255, 255, 0, 255)
        }
    })
    .expect("shm");
    c.show(&t.surface, &big.buffer);
    let start = std::time::Instant::now();
    loop {
        h.settle(&mut c);
        let s = h.surface("wide");
        if s["buffer"]["width"] == 4096 && s["on_devices"][0]["rung"] == "Shm" {
            break;
        }
        assert!(
            start.elapsed().as_secs() < 30,
            "the sliced upload never finished: {s}"
        );
    }
    assert_close(
        h.screenshot("HEADLESS-1").pixel(40, row),
        [0, 0, 255],
        "sliced, first device",
    );
    assert_close(
        h.screenshot("HEADLESS-2").pixel(100, row),
        [255, 255, 0],
        "sliced, second device",
    );

    // A video as wide: imported on each device, on the cheapest rung there, once per commit each.
    let d = LinuxDmabuf::bind(&mut c, 4).expect("linux-dmabuf");
    let v = c.toplevel("video", "weft.test").expect("toplevel");
    let mut b = MemBuffer::new(NV12, 300, 80, Layout::default()).expect("nv12");
    b.fill_yuv(|x, _| if x < 150 { RED_YUV } else { BLUE_YUV });
    let wl = b.create_immed(&c, &d);
    c.show(&v.surface, &wl);
    h.settle(&mut c);
    let s = h.surface("video");
    let row = (s["y"].as_i64().unwrap_or(0) + 40) as u32;
    assert_close(
        h.screenshot("HEADLESS-1").pixel(40, row),
        RED,
        "video, first device",
    );
    assert_close(
        h.screenshot("HEADLESS-2").pixel(100, row),
        [0, 0, 255],
        "video, second device",
    );
    assert_eq!(s["rung"], "SampleLinear", "{s}");
    assert_eq!(s["on_devices"][0]["rung"], "SampleLinear", "{s}");
    assert_eq!(s["on_devices"][0]["copied_bytes_per_frame"], 0, "{s}");
    // Forced to copy: each device copies the commit once, into its own memory.
    let policy: Request = serde_json::from_value(serde_json::json!({
        "command": "import_policy", "disabled": ["Sample", "SampleLinear", "StageOnCpu"],
    }))
    .expect("request");
    h.msg(policy);
    let wl2 = b.create_immed(&c, &d);
    c.show(&v.surface, &wl2);
    h.settle(&mut c);
    let s = h.surface("video");
    let bytes = u64::from(b.planes[0].stride * 80 + b.planes[1].stride * 40);
    assert_eq!(s["rung"], "StageOnSink", "{s}");
    assert_eq!(s["copied_bytes_per_frame"].as_u64(), Some(bytes), "{s}");
    assert_eq!(s["on_devices"][0]["rung"], "StageOnSink", "{s}");
    assert_eq!(
        s["on_devices"][0]["copied_bytes_per_frame"].as_u64(),
        Some(bytes),
        "{s}"
    );
    assert_close(
        h.screenshot("HEADLESS-2").pixel(100, row),
        [0, 0, 255],
        "copied video, second device",
    );
    assert!(c.protocol_error().is_none());
}

/// A hybrid machine: video is made on the discrete GPU (card1), which cannot lend its memory to
/// the integrated one (card0); weft drives both (two render devices, an output each).
fn hybrid_topology(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("weft-topology-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let node = |minor: u32| serde_json::json!({"path": format!("/dev/dri/renderD{minor}"), "dev": {"major": 226, "minor": minor}});
    let t = serde_json::json!({
        "devices": [
            {"id": "drm:card0", "kind": "render", "driver": "simigpu", "nodes": [node(128)],
             "caps": {"vulkan": "simulated iGPU", "dmabuf_import": true}},
            {"id": "drm:card1", "kind": "render", "driver": "simdgpu", "nodes": [node(129)],
             "caps": {"vulkan": "simulated dGPU", "dmabuf_import": true}},
        ],
        "access": [{"source": "drm:card1", "sink": "drm:card0", "access": "none"}],
        "render_as": "drm:card0",
        "further_render_as": ["drm:card1"],
        "memfd_source": "drm:card1",
    });
    let path = dir.join(format!("{name}.json"));
    std::fs::write(&path, t.to_string()).expect("write topology");
    path
}

#[test]
fn a_removed_render_device_hands_its_outputs_to_the_first() {
    let h =
        two_outputs_on_two_devices(Some(hybrid_topology("hybrid-removal"))).expect("weft starts");
    let (mut c, t, shm) = wide_window(&h);
    let row = (h.surface("wide")["y"].as_i64().unwrap_or(0) + 50) as u32;
    assert_close(
        h.screenshot("HEADLESS-2").pixel(100, row),
        [0, 255, 0],
        "second output, composed by card1",
    );
    let req: Request = serde_json::from_value(
        serde_json::json!({"command": "simulate_removal", "device": "drm:card1"}),
    )
    .expect("request");
    h.msg(req);
    // Its output is composed by the first device now, by id, and shows the same pixels.
    let outputs = h.msg(Request::Outputs);
    assert_eq!(outputs[1]["render_device"], "drm:card0", "{outputs}");
    assert_eq!(outputs[0]["render_device"], "drm:card0", "{outputs}");
    let s = h.surface("wide");
    assert!(
        s["on_devices"].as_array().is_none_or(|a| a.is_empty()),
        "nothing is kept for a removed device: {s}"
    );
    assert_close(
        h.screenshot("HEADLESS-2").pixel(100, row),
        [0, 255, 0],
        "second output, composed by card0 after the removal",
    );
    assert_close(
        h.screenshot("HEADLESS-1").pixel(40, row),
        [255, 0, 0],
        "first output",
    );
    // The client goes on committing and is shown on both outputs.
    c.show(&t.surface, &shm.buffer);
    h.settle(&mut c);
    assert_close(
        h.screenshot("HEADLESS-2").pixel(100, row),
        [0, 255, 0],
        "second output after a new commit",
    );
    assert!(c.protocol_error().is_none());
}

#[test]
fn a_buffer_made_on_one_gpu_is_staged_there_for_the_other() {
    let h = two_outputs_on_two_devices(Some(hybrid_topology("hybrid"))).expect("weft starts");
    let outputs = h.msg(Request::Outputs);
    assert_eq!(outputs[0]["render_device"], "drm:card0", "{outputs}");
    assert_eq!(outputs[1]["render_device"], "drm:card1", "{outputs}");
    let mut c = h.client();
    let d = LinuxDmabuf::bind(&mut c, 4).expect("linux-dmabuf");
    let v = c.toplevel("dgpu video", "weft.test").expect("toplevel");
    let mut b = MemBuffer::new(NV12, 300, 80, Layout::default()).expect("nv12");
    b.fill_yuv(|x, _| if x < 150 { RED_YUV } else { BLUE_YUV });
    let wl = b.create_immed(&c, &d);
    c.show(&v.surface, &wl);
    h.settle(&mut c);
    let s = h.surface("dgpu video");
    // On the iGPU: copied by the dGPU into memory it exports, which the iGPU reads in place.
    assert_eq!(s["rung"], "StageOnSource", "{s}");
    assert_eq!(s["source_device"], "drm:card1", "{s}");
    let bytes = u64::from(b.planes[0].stride * 80 + b.planes[1].stride * 40);
    assert_eq!(s["copied_bytes_per_frame"].as_u64(), Some(bytes), "{s}");
    // On the dGPU itself: its own memory, zero copies.
    assert_eq!(s["on_devices"][0]["device"], "drm:card1", "{s}");
    assert_eq!(s["on_devices"][0]["rung"], "SampleLinear", "{s}");
    assert_eq!(s["on_devices"][0]["copied_bytes_per_frame"], 0, "{s}");
    let row = (s["y"].as_i64().unwrap_or(0) + 40) as u32;
    assert_close(
        h.screenshot("HEADLESS-1").pixel(40, row),
        RED,
        "iGPU output",
    );
    assert_close(
        h.screenshot("HEADLESS-2").pixel(100, row),
        [0, 0, 255],
        "dGPU output",
    );
    // A new frame written into the same buffer: staged again (damage only), shown on both.
    b.fill_yuv(|x, _| if x < 150 { BLUE_YUV } else { RED_YUV });
    c.show(&v.surface, &wl);
    h.settle(&mut c);
    assert_close(
        h.screenshot("HEADLESS-1").pixel(40, row),
        [0, 0, 255],
        "iGPU output, frame 2",
    );
    assert_close(
        h.screenshot("HEADLESS-2").pixel(100, row),
        RED,
        "dGPU output, frame 2",
    );
    // Every format weft reads goes through the stage (RGB, 10-bit RGB, Y′CbCr).
    for fourcc in ALL_FORMATS {
        let mut b = MemBuffer::new(fourcc, 300, 80, Layout::default()).expect("buffer");
        if is_yuv(fourcc) {
            b.fill_yuv(|_, _| RED_YUV);
        } else {
            b.fill_rgb(|_, _| [255, 0, 0, 255]);
        }
        let wl = b.create_immed(&c, &d);
        c.show(&v.surface, &wl);
        h.settle(&mut c);
        let s = h.surface("dgpu video");
        assert_eq!(s["rung"], "StageOnSource", "{fourcc:#x}: {s}");
        let what = format!("{fourcc:#x}");
        assert_close(h.screenshot("HEADLESS-1").pixel(40, row), RED, &what);
        assert_close(h.screenshot("HEADLESS-2").pixel(100, row), RED, &what);
    }
    // The dGPU goes away: its output moves to the iGPU, and the video (now memory nobody names)
    // is read in place there.
    let req: Request = serde_json::from_value(
        serde_json::json!({"command": "simulate_removal", "device": "drm:card1"}),
    )
    .expect("request");
    h.msg(req);
    let outputs = h.msg(Request::Outputs);
    assert_eq!(outputs[1]["render_device"], "drm:card0", "{outputs}");
    c.show(&v.surface, &wl);
    h.settle(&mut c);
    let s = h.surface("dgpu video");
    assert_eq!(s["rung"], "SampleLinear", "{s}");
    assert_eq!(s["source_device"], "unknown", "{s}");
    assert_close(
        h.screenshot("HEADLESS-1").pixel(40, row),
        [0, 0, 255],
        "after the removal",
    );
    assert_close(
        h.screenshot("HEADLESS-2").pixel(100, row),
        RED,
        "moved output",
    );
    // The iGPU goes too: weft rebuilds its renderer on what is left (the real lavapipe, as itself)
    // and keeps showing the video.
    let req: Request = serde_json::from_value(
        serde_json::json!({"command": "simulate_removal", "device": "drm:card0"}),
    )
    .expect("request");
    h.msg(req);
    let devices = h.msg(Request::Devices);
    let render = weft_compositor::ipc::client::render_device(&devices).expect("a render device");
    assert_eq!(render["kind"], "software", "{devices}");
    c.show(&v.surface, &wl);
    h.settle(&mut c);
    assert_close(
        h.screenshot("HEADLESS-1").pixel(40, row),
        [0, 0, 255],
        "after both GPUs went",
    );
    assert_close(
        h.screenshot("HEADLESS-2").pixel(100, row),
        RED,
        "after both GPUs went",
    );
    assert!(c.protocol_error().is_none());
}
