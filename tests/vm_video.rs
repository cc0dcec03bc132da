//! V4L2 capture buffers shown as they are (tests/vm guest only: `--features vm-guest`, run by
//! tests/vm/check): vivid's frames, exported with `VIDIOC_EXPBUF` read-write and read-only as
//! capture code does, in YUYV, UYVY, NV12, NV16, YU12 and XR24 through the single-planar API
//! (one fd, planes at offsets), sent as dma-bufs and compared pixel by pixel with what the
//! application reads from its own mapping of the same buffer (converted with weft's default
//! BT.601 limited-range matrix). The record must be honest — `source_device` names vivid, the rung
//! and its reason are there — and a rung that cannot import vivid's memory is an expected
//! fallback: the harness fails the test on any ERROR line weft logs.

mod common;

use std::os::fd::AsFd;

use common::Harness;
use wayland_protocols::wp::linux_dmabuf::zv1::client::zwp_linux_buffer_params_v1::Flags;
use weft::Request;
use weft_clients::dmabuf::{LinuxDmabuf, MOD_LINEAR};
use weft_guest::v4l2::{find_capture, Capture, Export};

const W: u32 = 320;
const H: u32 = 240;

fn fourcc(code: &[u8; 4]) -> u32 {
    u32::from_le_bytes(*code)
}

/// BT.601 limited range, as planar.frag computes it.
fn yuv_to_rgb(y: u8, u: u8, v: u8) -> [u8; 3] {
    let (kr, kb) = (0.299f64, 0.114f64);
    let l = (f64::from(y) - 16.0) / 219.0;
    let cb = (f64::from(u) - 128.0) / 224.0;
    let cr = (f64::from(v) - 128.0) / 224.0;
    let r = l + 2.0 * (1.0 - kr) * cr;
    let b = l + 2.0 * (1.0 - kb) * cb;
    let g = (l - kr * r - kb * b) / (1.0 - kr - kb);
    [r, g, b].map(|c| (c.clamp(0.0, 1.0) * 255.0).round() as u8)
}

/// How one V4L2 single-planar format lays out its planes: (offset, stride) of each, from
/// `bytesperline` and the height, as the V4L2 pixel-format documentation defines them.
fn planes(code: &[u8; 4], bpl: u32, h: u32) -> Vec<(u32, u32)> {
    match code {
        b"NV12" | b"NV16" => vec![(0, bpl), (bpl * h, bpl)],
        b"YU12" => vec![
            (0, bpl),
            (bpl * h, bpl / 2),
            (bpl * h + bpl / 2 * h.div_ceil(2), bpl / 2),
        ],
        _ => vec![(0, bpl)],
    }
}

/// What the application reads at (x, y) from its own copy of the buffer, as RGB.
fn reference(code: &[u8; 4], bytes: &[u8], p: &[(u32, u32)], x: u32, y: u32) -> [u8; 3] {
    let at = |plane: usize, off: u32| bytes[(p[plane].0 + off) as usize];
    match code {
        b"XR24" => {
            let o = y * p[0].1 + x * 4;
            [at(0, o + 2), at(0, o + 1), at(0, o)]
        }
        b"YUYV" | b"UYVY" => {
            let g = y * p[0].1 + (x / 2) * 4;
            let [y0, u, y1, v] = if code == b"YUYV" {
                [0, 1, 2, 3]
            } else {
                [1, 0, 3, 2]
            };
            let l = at(0, g + if x.is_multiple_of(2) { y0 } else { y1 });
            yuv_to_rgb(l, at(0, g + u), at(0, g + v))
        }
        b"NV12" | b"NV16" => {
            let cy = if code == b"NV12" { y / 2 } else { y };
            let c = cy * p[1].1 + (x / 2) * 2;
            yuv_to_rgb(at(0, y * p[0].1 + x), at(1, c), at(1, c + 1))
        }
        b"YU12" => {
            let c = (y / 2) * p[1].1 + x / 2;
            yuv_to_rgb(at(0, y * p[0].1 + x), at(1, c), at(2, c))
        }
        other => panic!("no reference for {other:?}"),
    }
}

/// A linear dma-buf `wl_buffer` of `fourcc` from its planes: (fd, offset, stride) each.
fn send_planes(
    c: &weft_clients::Client,
    d: &LinuxDmabuf,
    planes: &[(std::os::fd::OwnedFd, u32, u32)],
    (width, height, fourcc): (u32, u32, u32),
) -> wayland_client::protocol::wl_buffer::WlBuffer {
    let (params, _) = d.params(c);
    for (i, (fd, offset, stride)) in planes.iter().enumerate() {
        params.add(
            fd.as_fd(),
            i as u32,
            *offset,
            *stride,
            (MOD_LINEAR >> 32) as u32,
            MOD_LINEAR as u32,
        );
    }
    let wl = params.create_immed(
        width as i32,
        height as i32,
        fourcc,
        Flags::empty(),
        &c.qh,
        (),
    );
    params.destroy();
    wl
}

fn vivid_id(h: &Harness) -> serde_json::Value {
    h.msg(Request::Devices)
        .as_array()
        .and_then(|all| all.iter().find(|d| d["driver"] == "vivid").cloned())
        .expect("vivid registered")["id"]
        .clone()
}

#[test]
fn vivid_frames_show_as_the_application_reads_them() {
    let h = Harness::deterministic(640, 480, 60);
    let vivid = vivid_id(&h);
    let node = find_capture("vivid").expect("vivid capture node");
    let mut c = h.client();
    let d = LinuxDmabuf::bind(&mut c, 4).expect("linux-dmabuf");
    let mut rows = Vec::new();
    for code in [b"YUYV", b"UYVY", b"NV12", b"NV16", b"YU12", b"XR24"] {
        for (access, access_name) in [
            (Export::ReadWrite, "read-write"),
            (Export::ReadOnly, "read-only"),
        ] {
            let what = format!("{} {access_name}", String::from_utf8_lossy(code));
            let capture = Capture::start_exporting(&node, W, H, fourcc(code), 2, access)
                .unwrap_or_else(|e| panic!("{what}: {e}"));
            let fmt = capture.format;
            assert_eq!(
                fmt.pixelformat,
                fourcc(code),
                "{what}: vivid chose another format"
            );
            let frame = capture.dequeue().expect("a frame");
            let buf = &capture.buffers[frame.index];
            let bytes = buf.read_all().expect("the application reads its buffer");
            let p = planes(code, fmt.bytesperline, fmt.height);

            let t = c.toplevel(&what, "weft.test").expect("toplevel");
            let fds: Vec<_> = p
                .iter()
                .map(|&(offset, stride)| (buf.try_clone_fd().expect("dup"), offset, stride))
                .collect();
            let wl = send_planes(&c, &d, &fds, (fmt.width, fmt.height, fourcc(code)));
            c.show(&t.surface, &wl);
            h.settle(&mut c);
            assert!(
                c.protocol_error().is_none(),
                "{what}: {:?}",
                c.protocol_error()
            );
            let s = h.surface(&what);
            assert_eq!(s["buffer"]["kind"], "dmabuf", "{what}: {s}");
            assert_eq!(s["source_device"], vivid, "{what}: {s}");
            assert!(
                s["rung"].is_string() && s["reason"].is_string(),
                "{what}: {s}"
            );

            let shot = h.screenshot("HEADLESS-1");
            let (sx, sy) = (
                s["x"].as_u64().unwrap_or(0) as u32,
                s["y"].as_u64().unwrap_or(0) as u32,
            );
            let mut worst = 0;
            for gy in 0..12 {
                for gx in 0..16 {
                    let (x, y) = (gx * fmt.width / 16 + 3, gy * fmt.height / 12 + 3);
                    let want = reference(code, &bytes, &p, x, y);
                    let got = shot.pixel(sx + x, sy + y);
                    for i in 0..3 {
                        let d = (i32::from(got[i]) - i32::from(want[i])).abs();
                        worst = worst.max(d);
                        assert!(
                            d <= 3,
                            "{what} at ({x}, {y}): weft shows {got:?}, the application reads {want:?}; {s}"
                        );
                    }
                }
            }
            rows.push(format!(
                "{what:<22} rung {:<12} copied/frame {:>8}  worst difference {worst}",
                s["rung"].as_str().unwrap_or("?"),
                s["copied_bytes_per_frame"]
            ));
            wl.destroy();
            t.toplevel.destroy();
            t.xdg_surface.destroy();
            t.surface.destroy();
            c.roundtrip().expect("roundtrip");
            capture.requeue(frame).expect("requeue");
        }
    }
    for r in rows {
        println!("{r}");
    }
}

/// The project's own camera viewer (`weft_clients::v4l2_player`) streams vivid through weft: on a
/// toplevel (YUYV, exported read-write) and as a viewported subsurface (NV12, exported
/// read-only), each dequeued frame attached with presentation feedback, each buffer
/// queued back to V4L2 only after weft released it. Every frame is presented, none before its
/// capture completed; the record names vivid, its rung and the bytes a frame copies; the last
/// frame on screen is what the viewer read from its buffer.
#[test]
fn the_camera_viewer_streams_vivid_through_weft() {
    use weft_clients::v4l2_player::{planes, play};
    const FRAMES: u32 = 24;
    let h = Harness::new(640, 480, 60);
    let vivid = vivid_id(&h);
    let node = find_capture("vivid").expect("vivid capture node");
    for (code, export, subsurface) in [
        (b"YUYV", Export::ReadWrite, false),
        (b"NV12", Export::ReadOnly, true),
    ] {
        let what = format!(
            "{} {export:?} {}",
            String::from_utf8_lossy(code),
            if subsurface { "subsurface" } else { "toplevel" }
        );
        let mut c = h.client();
        let d = LinuxDmabuf::bind(&mut c, 4).expect("linux-dmabuf");
        let t = c.toplevel(&what, "weft.test").expect("toplevel");
        let (surface, _sub, _vp) = if subsurface {
            // A black parent, the picture on it through a viewport (cropped to the frame vivid
            // makes at this size, 320×180, and shown at that size).
            let black = c.single_pixel([0, 0, 0, 255]);
            let pvp = c.viewport(&t.surface);
            pvp.set_destination(W as i32 + 40, H as i32 + 40);
            c.show(&t.surface, &black);
            let (s, sub) = c.subsurface(&t.surface);
            sub.set_position(20, 20);
            // Players commit the picture on its own, not with the window.
            sub.set_desync();
            t.surface.commit();
            let vp = c.viewport(&s);
            vp.set_source(0.0, 0.0, f64::from(W), 180.0);
            vp.set_destination(W as i32, 180);
            (s, Some((sub, pvp)), Some(vp))
        } else {
            (t.surface.clone(), None, None)
        };
        let (shown, fmt) = play(
            &mut c,
            &d,
            &node,
            (W, H, fourcc(code)),
            export,
            &surface,
            FRAMES,
            1,
        )
        .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert!(
            c.protocol_error().is_none(),
            "{what}: {:?}",
            c.protocol_error()
        );
        assert_eq!(shown.len(), FRAMES as usize);
        for s in &shown {
            let presented = s
                .presented_ns
                .unwrap_or_else(|| panic!("{what}: frame {} discarded", s.sequence));
            assert!(
                presented >= s.dequeued_ns,
                "{what}: frame {} presented at {presented} ns, before its capture completed (dequeued at {} ns)",
                s.sequence,
                s.dequeued_ns
            );
        }
        let requeued = shown.iter().filter(|s| s.requeued_after_release).count();
        assert!(
            requeued + 4 >= FRAMES as usize,
            "{what}: {requeued} buffers went back to V4L2 after their release"
        );
        assert!(
            shown.windows(2).all(|w| w[1].sequence > w[0].sequence),
            "{what}: in capture order"
        );

        let record = h
            .surfaces()
            .into_iter()
            .find(|s| {
                if subsurface {
                    s["role"] == "subsurface" && s["buffer"]["kind"] == "dmabuf"
                } else {
                    s["title"] == what.as_str()
                }
            })
            .unwrap_or_else(|| panic!("{what}: no record in {:?}", h.surfaces()));
        println!("{what}: {record}");
        assert_eq!(record["source_device"], vivid, "{record}");
        assert!(record["rung"].is_string(), "{record}");
        assert!(record["copied_bytes_per_frame"].is_u64(), "{record}");
        assert!(
            record["frames"]["shown"].as_u64() >= Some(u64::from(FRAMES) - 1),
            "{record}"
        );

        // The last frame on screen, against the viewer's own reading of that buffer, at points
        // whose neighbourhood is flat in that buffer (so scaling and filtering change nothing).
        let last = shown
            .last()
            .and_then(|s| s.bytes.clone())
            .expect("bytes kept");
        let p = planes(fmt.pixelformat, fmt.bytesperline, fmt.height);
        let shot = h.screenshot("HEADLESS-1");
        let (sx, sy) = (
            record["x"].as_u64().unwrap_or(0) as u32,
            record["y"].as_u64().unwrap_or(0) as u32,
        );
        // The surface's size on screen (a viewport scales the subsurface).
        let (rw, rh) = (
            record["width"].as_u64().unwrap_or(0) as u32,
            record["height"].as_u64().unwrap_or(0) as u32,
        );
        let mut compared = 0;
        for gy in 1..12 {
            for gx in 1..16 {
                let (x, y) = (gx * fmt.width / 16, gy * fmt.height / 12);
                let want = reference(code, &last, &p, x, y);
                let flat = [
                    (-6, -6),
                    (6, -6),
                    (-6, 6),
                    (6, 6),
                    (0, 6),
                    (6, 0),
                    (-6, 0),
                    (0, -6),
                ]
                .iter()
                .all(|(dx, dy)| {
                    let n = reference(
                        code,
                        &last,
                        &p,
                        (x as i32 + dx) as u32,
                        (y as i32 + dy) as u32,
                    );
                    (0..3).all(|i| (i32::from(n[i]) - i32::from(want[i])).abs() <= 1)
                });
                if !flat {
                    continue;
                }
                compared += 1;
                let got = shot.pixel(sx + x * rw / fmt.width, sy + y * rh / fmt.height);
                for i in 0..3 {
                    assert!(
                        (i32::from(got[i]) - i32::from(want[i])).abs() <= 3,
                        "{what} at ({x}, {y}): weft shows {got:?}, the viewer read {want:?}"
                    );
                }
            }
        }
        assert!(
            compared >= 8,
            "{what}: only {compared} flat points to compare"
        );
        drop(t);
    }
}

/// vivid loaded again with `multiplanar=2` while this test runs (the single-planar instance is
/// restored on drop, for the tests after it).
struct Multiplanar;

fn modprobe(args: &[&str]) {
    let root = std::env::var("WEFT_VM_MODROOT").expect("WEFT_VM_MODROOT (run inside tests/vm)");
    let status = std::process::Command::new("modprobe")
        .arg("-d")
        .arg(root)
        .args(args)
        .status()
        .expect("modprobe runs");
    assert!(status.success(), "modprobe {args:?}: {status}");
}

fn wait_for_node(mplane: bool) {
    for _ in 0..100 {
        let found = if mplane {
            weft_guest::v4l2::find_capture_mplane("vivid").is_ok()
        } else {
            find_capture("vivid").is_ok()
        };
        if found {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("vivid's capture node did not appear (multi-planar: {mplane})");
}

impl Multiplanar {
    fn load() -> Self {
        modprobe(&["-r", "vivid"]);
        modprobe(&["vivid", "multiplanar=2"]);
        wait_for_node(true);
        Self
    }
}

impl Drop for Multiplanar {
    fn drop(&mut self) {
        modprobe(&["-r", "vivid"]);
        modprobe(&["vivid"]);
        wait_for_node(false);
    }
}

/// The multi-planar API (`vivid multiplanar=2`): NV12M's luma and chroma in two dma-bufs (one fd
/// per plane, as linux-dmabuf allows), and YUYV as a one-plane multi-planar buffer, shown as the
/// application reads its planes, with vivid named as the source.
#[test]
fn vivid_multiplanar_frames_show_as_the_application_reads_them() {
    use weft_guest::v4l2::{find_capture_mplane, CaptureMplane};
    let _vivid = Multiplanar::load();
    let h = Harness::deterministic(640, 480, 60);
    let vivid = vivid_id(&h);
    let node = find_capture_mplane("vivid").expect("vivid multi-planar node");
    let mut c = h.client();
    let d = LinuxDmabuf::bind(&mut c, 4).expect("linux-dmabuf");
    // (V4L2 fourcc, DRM fourcc, the single-buffer layout `reference` decodes)
    for (v4l2, drm, code) in [(b"NM12", b"NV12", b"NV12"), (b"YUYV", b"YUYV", b"YUYV")] {
        let what = format!("{} multi-planar", String::from_utf8_lossy(v4l2));
        let capture = CaptureMplane::start(&node, W, H, fourcc(v4l2), 2, Export::ReadWrite)
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        let fmt = capture.format;
        assert_eq!(
            fmt.pixelformat,
            fourcc(v4l2),
            "{what}: vivid chose another format"
        );
        let frame = capture.dequeue().expect("a frame");
        let planes = &capture.buffers[frame.index];
        assert_eq!(planes.len(), usize::from(fmt.num_planes), "{what}");
        // The planes one after the other, as `reference` reads a single buffer.
        let mut bytes = Vec::new();
        let mut layout = Vec::new();
        for (i, plane) in planes.iter().enumerate() {
            layout.push((bytes.len() as u32, fmt.plane_fmt[i].bytesperline));
            bytes.extend(plane.read_all().expect("read the plane"));
        }
        let t = c.toplevel(&what, "weft.test").expect("toplevel");
        let fds: Vec<_> = planes
            .iter()
            .zip(fmt.plane_fmt)
            .map(|(plane, f)| (plane.try_clone_fd().expect("dup"), 0, f.bytesperline))
            .collect();
        let wl = send_planes(&c, &d, &fds, (fmt.width, fmt.height, fourcc(drm)));
        c.show(&t.surface, &wl);
        h.settle(&mut c);
        assert!(
            c.protocol_error().is_none(),
            "{what}: {:?}",
            c.protocol_error()
        );
        let s = h.surface(&what);
        println!("{what}: {s}");
        assert_eq!(s["buffer"]["planes"], u64::from(fmt.num_planes), "{s}");
        assert_eq!(s["source_device"], vivid, "{what}: {s}");
        let shot = h.screenshot("HEADLESS-1");
        let (sx, sy) = (
            s["x"].as_u64().unwrap_or(0) as u32,
            s["y"].as_u64().unwrap_or(0) as u32,
        );
        for gy in 0..12 {
            for gx in 0..16 {
                let (x, y) = (gx * fmt.width / 16 + 3, gy * fmt.height / 12 + 3);
                let want = reference(code, &bytes, &layout, x, y);
                let got = shot.pixel(sx + x, sy + y);
                for i in 0..3 {
                    assert!(
                        (i32::from(got[i]) - i32::from(want[i])).abs() <= 3,
                        "{what} at ({x}, {y}): weft shows {got:?}, the application reads {want:?}"
                    );
                }
            }
        }
        wl.destroy();
        t.toplevel.destroy();
        t.xdg_surface.destroy();
        t.surface.destroy();
        c.roundtrip().expect("roundtrip");
        capture.requeue(frame).expect("requeue");
        drop(capture);
    }
    drop(c);
    drop(h);
}
