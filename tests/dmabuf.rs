//! linux-dmabuf end to end: an in-process headless weft, real Wayland clients over its socket with
//! memfd-backed dma-bufs, and assertions on what a user sees — protocol errors and events, pixels in
//! screenshots, the rung/reason/buffer each surface reports and the import cache's counters over IPC.

mod common;

use std::os::fd::AsFd;

use common::yuv::{yuv_to_rgb, YUV_QUADRANTS};
use common::Harness;
use weft::Request;
use weft_clients::dmabuf::{
    is_yuv, Layout, LinuxDmabuf, MemBuffer, MemFile, Outcome, ABGR8888, ALL_FORMATS, ARGB2101010,
    ARGB8888, MOD_INVALID, MOD_LINEAR, NV12, P010, XBGR8888, XRGB2101010, XRGB8888, YUV420,
    YUV8_FORMATS,
};
use weft_clients::{Client, Toplevel};

const W: u32 = 64;
const H: u32 = 48;

/// The shared harness (which fails the test on any ERROR weft logs, Vulkan validation included)
/// plus the linux-dmabuf helpers these tests use.
struct Fixture {
    h: Harness,
}

impl Fixture {
    fn start(_tag: &str) -> Self {
        Self {
            h: Harness::deterministic(640, 480, 60),
        }
    }

    fn client(&self) -> (Client, LinuxDmabuf) {
        let mut c = self.h.client();
        let d = LinuxDmabuf::bind(&mut c, 5).expect("bind linux-dmabuf v5");
        (c, d)
    }

    fn msg(&self, req: Request) -> serde_json::Value {
        self.h.msg(req)
    }

    fn policy(&self, disabled: &[&str], yuv: Option<serde_json::Value>) {
        let req = serde_json::json!({
            "command": "import_policy",
            "disabled": disabled,
            "yuv": yuv,
        });
        let req: Request = serde_json::from_value(req).expect("policy request");
        self.msg(req);
    }

    fn surface(&self, title: &str) -> serde_json::Value {
        self.h.surface(title)
    }

    fn cache(&self) -> serde_json::Value {
        self.msg(Request::Imports)["cache"].clone()
    }
}

/// Reads the pixel at (x, y) relative to the surface titled `title`.
fn pixel(f: &Fixture, title: &str, x: u32, y: u32) -> [u8; 4] {
    let s = f.surface(title);
    let (sx, sy) = (
        s["x"].as_i64().unwrap_or(0) as u32,
        s["y"].as_i64().unwrap_or(0) as u32,
    );
    f.h.screenshot("HEADLESS-1").pixel(sx + x, sy + y)
}

fn assert_close(got: [u8; 4], want: [u8; 3], tol: i32, what: &str) {
    for i in 0..3 {
        assert!(
            (i32::from(got[i]) - i32::from(want[i])).abs() <= tol,
            "{what}: got {got:?}, want {want:?} (±{tol})"
        );
    }
}

/// Quadrant colours of the RGB test pattern (premultiplied RGBA); the bottom-right one is
/// translucent for formats with a real alpha channel.
fn rgb_quadrant(q: usize, alpha: bool) -> [u8; 4] {
    match q {
        0 => [200, 40, 30, 255],
        1 => [20, 180, 220, 255],
        2 => [90, 200, 60, 255],
        _ if alpha => [100, 50, 0, 128],
        _ => [240, 240, 16, 255],
    }
}

fn quadrant(x: u32, y: u32) -> usize {
    usize::from(x >= W / 2) + 2 * usize::from(y >= H / 2)
}

/// Centres of the four quadrants.
const PROBES: [(u32, u32); 4] = [
    (W / 4, H / 4),
    (3 * W / 4, H / 4),
    (W / 4, 3 * H / 4),
    (3 * W / 4, 3 * H / 4),
];

/// What a premultiplied colour looks like over the background.
fn over_background(c: [u8; 4]) -> [u8; 3] {
    let a = f32::from(c[3]) / 255.0;
    std::array::from_fn(|i| {
        (f32::from(c[i]) + f32::from(common::BACKGROUND[i]) * (1.0 - a)).round() as u8
    })
}

/// A buffer of `fourcc` with the quadrant pattern.
fn pattern(fourcc: u32, layout: Layout) -> MemBuffer {
    let mut b = MemBuffer::new(fourcc, W, H, layout).expect("memfd buffer");
    fill_pattern(&mut b, 0);
    b
}

/// Paints the quadrant pattern into `b`, each quadrant `q` with the colours of `(q + rotate) % 4`.
fn fill_pattern(b: &mut MemBuffer, rotate: usize) {
    fill_pattern_by_row(b, |_| rotate);
}

/// [`fill_pattern`] with the rotation of each row `y` given by `rotate(y)`.
fn fill_pattern_by_row(b: &mut MemBuffer, rotate: impl Fn(u32) -> usize) {
    let fourcc = b.fourcc;
    let at = |x, y| (quadrant(x, y) + rotate(y)) % 4;
    if is_yuv(fourcc) {
        b.fill_yuv(|x, y| YUV_QUADRANTS[at(x, y)]);
    } else {
        let alpha = matches!(fourcc, ARGB8888 | ABGR8888);
        let padding = matches!(fourcc, XRGB8888 | XBGR8888);
        b.fill_rgb(|x, y| {
            let mut c = rgb_quadrant(at(x, y), alpha);
            if padding {
                // X formats: the padding byte must be ignored, so make it something alpha would not be.
                c[3] = 0;
            }
            c
        });
    }
}

/// The colour expected at quadrant `q` of `fourcc`'s pattern.
fn expected(fourcc: u32, q: usize, bt709: bool, full: bool) -> ([u8; 3], i32) {
    if is_yuv(fourcc) {
        // 10-bit P010 carries the same codes ×4: the same colour.
        return (yuv_to_rgb(YUV_QUADRANTS[q], bt709, full), 2);
    }
    let alpha = matches!(fourcc, ARGB8888 | ABGR8888);
    let c = rgb_quadrant(q, alpha);
    // 10-bit formats round-trip through 10 bits: ±1.
    (
        over_background(c),
        if matches!(fourcc, ARGB2101010 | XRGB2101010) {
            2
        } else {
            1
        },
    )
}

fn name(fourcc: u32) -> String {
    fourcc.to_le_bytes().iter().map(|&b| b as char).collect()
}

/// Shows `buffer` on `t` and waits until weft processed the commit.
fn show(c: &mut Client, t: &Toplevel, buffer: &wayland_client::protocol::wl_buffer::WlBuffer) {
    c.show(&t.surface, buffer);
    c.roundtrip().expect("roundtrip after commit");
    assert!(
        c.protocol_error().is_none(),
        "protocol error: {:?}",
        c.protocol_error()
    );
}

/// Shows every format on one surface through `rung`, checking pixels and introspection; returns the
/// surface's last record (while the client is still connected).
fn check_formats(f: &Fixture, label: &str, layout: Layout, rung_of: impl Fn(u32) -> &'static str) {
    let (mut c, d) = f.client();
    let title = format!("formats {label}");
    let t = c.toplevel(&title, "weft.test").expect("toplevel");
    // Like a real client: allocate by what the surface's feedback prefers.
    let (_fb, feedback) = d
        .surface_feedback_done(&mut c, &t.surface)
        .expect("surface feedback");
    for fourcc in ALL_FORMATS {
        let rung = rung_of(fourcc);
        let buffer = pattern(fourcc, layout);
        let (wl, modifier) = buffer
            .create_by_feedback(&c, &d, &feedback)
            .unwrap_or_else(|| panic!("{} not offered for a memfd: {feedback:?}", name(fourcc)));
        show(&mut c, &t, &wl);
        let s = f.surface(&title);
        assert_eq!(s["rung"], rung, "{}: {s}", name(fourcc));
        assert_eq!(s["buffer"]["kind"], "dmabuf");
        assert_eq!(s["buffer"]["format"], name(fourcc));
        assert_eq!(s["buffer"]["modifier"], format!("0x{modifier:016x}"));
        assert_eq!(
            s["buffer"]["planes"].as_u64(),
            Some(buffer.planes.len() as u64)
        );
        assert!(
            s["reason"].as_str().is_some_and(|r| r.starts_with(rung)),
            "{s}"
        );
        for (q, (x, y)) in PROBES.into_iter().enumerate() {
            let (want, tol) = expected(fourcc, q, false, false);
            assert_close(
                pixel(f, &title, x, y),
                want,
                tol,
                &format!("{} quadrant {q} via {rung}", name(fourcc)),
            );
        }
        if rung.starts_with("Stage") {
            assert!(s["uploaded_bytes"].as_u64().is_some_and(|b| b > 0), "{s}");
            assert!(
                s["copied_bytes_per_frame"].as_u64().is_some_and(|b| b > 0),
                "{s}"
            );
        } else {
            assert_eq!(s["copied_bytes_per_frame"], 0, "{s}");
        }
        // A sealed memfd: system memory the client made, no device to name.
        assert_eq!(s["source_device"], "unknown", "{s}");
        assert!(
            s["source_evidence"]
                .as_str()
                .is_some_and(|e| e.contains("memfd")),
            "{s}"
        );
        assert!(
            s["import_cache"]["hits"].as_u64().is_some_and(|h| h >= 1),
            "{s}"
        );
        wl.destroy();
    }
}

/// Whether the render device imports `fourcc` LINEAR as a sampled image (rung `Sample`).
fn image_importable(f: &Fixture, fourcc: u32) -> bool {
    let imports = f.msg(Request::Imports);
    imports["caps"]["image_modifiers"]
        .as_array()
        .is_some_and(|a| {
            a.iter()
                .any(|m| m[0].as_u64() == Some(u64::from(fourcc)) && m[1] == 0)
        })
}

#[test]
fn feedback_advertises_what_the_device_imports() {
    let f = Fixture::start("dmabuf-feedback");
    let (mut c, d) = f.client();
    let fb = d.default_feedback.lock().expect("feedback").clone();
    use wayland_client::Proxy;
    assert_eq!(d.global.version(), 5);
    let main = fb.main_device.expect("main_device sent to a v5 client");
    assert!(!fb.tranches.is_empty());
    assert!(
        fb.tranches.iter().all(|t| t.target_device == Some(main)),
        "{fb:?}"
    );
    for fourcc in ALL_FORMATS {
        assert!(
            fb.offers(fourcc, MOD_LINEAR),
            "{} LINEAR not offered: {fb:?}",
            name(fourcc)
        );
    }
    let imports = f.msg(Request::Imports);
    assert_eq!(imports["main_device"].as_u64(), Some(main), "{imports}");
    if imports["caps"]["cpu_device"] == true {
        assert!(
            fb.offers(NV12, MOD_INVALID),
            "a CPU device's implicit layout is linear: {fb:?}"
        );
    }
    // Per-surface feedback: its own object, the same tranches (one render device, no scanout).
    let t = c.toplevel("fb", "weft.test").expect("toplevel");
    let sfb = d.surface_feedback(&c, &t.surface);
    c.roundtrip().expect("roundtrip");
    let sfb = sfb.lock().expect("feedback").clone();
    assert_eq!(sfb.done, 1);
    assert_eq!(sfb.tranches, fb.tranches);
    assert_eq!(sfb.main_device, Some(main));
}

/// Sends what `bad` sends on a fresh connection and checks the params error it gets.
fn expect_error(f: &Fixture, what: &str, code: u32, bad: impl FnOnce(&Client, &LinuxDmabuf)) {
    let (mut c, d) = f.client();
    bad(&c, &d);
    let _ = c.roundtrip();
    let (got, iface, msg) = c
        .protocol_error()
        .unwrap_or_else(|| panic!("{what}: no protocol error"));
    assert_eq!(iface, "zwp_linux_buffer_params_v1", "{what}: {msg}");
    assert_eq!(got, code, "{what}: {msg}");
}

fn argb(layout: Layout) -> MemBuffer {
    pattern(ARGB8888, layout)
}

fn flags(
    bits: u32,
) -> wayland_protocols::wp::linux_dmabuf::zv1::client::zwp_linux_buffer_params_v1::Flags {
    wayland_protocols::wp::linux_dmabuf::zv1::client::zwp_linux_buffer_params_v1::Flags::from_bits_retain(bits)
}

#[test]
fn every_params_error_is_raised() {
    const ALREADY_USED: u32 = 0;
    const PLANE_IDX: u32 = 1;
    const PLANE_SET: u32 = 2;
    const INCOMPLETE: u32 = 3;
    const INVALID_FORMAT: u32 = 4;
    const INVALID_DIMENSIONS: u32 = 5;
    const OUT_OF_BOUNDS: u32 = 6;
    const INVALID_WL_BUFFER: u32 = 7;
    let f = Fixture::start("dmabuf-errors");
    let b = argb(Layout::default());
    let nv12 = pattern(NV12, Layout::default());
    let fd = || b.files[0].fd.as_fd();
    let p0 = b.planes[0];
    let create = |c: &Client, p: &wayland_protocols::wp::linux_dmabuf::zv1::client::zwp_linux_buffer_params_v1::ZwpLinuxBufferParamsV1, w: i32, h: i32, fourcc: u32| {
        let _ = p.create_immed(w, h, fourcc, flags(0), &c.qh, ());
    };

    expect_error(&f, "add after create_immed", ALREADY_USED, |c, d| {
        let (p, _) = d.params(c);
        b.add_planes(&p, MOD_LINEAR);
        create(c, &p, W as i32, H as i32, ARGB8888);
        p.add(fd(), 1, 0, 256, 0, 0);
    });
    expect_error(&f, "second create", ALREADY_USED, |c, d| {
        let (p, _) = d.params(c);
        b.add_planes(&p, MOD_LINEAR);
        p.create(W as i32, H as i32, ARGB8888, flags(0));
        p.create(W as i32, H as i32, ARGB8888, flags(0));
    });
    expect_error(&f, "plane index 4", PLANE_IDX, |c, d| {
        let (p, _) = d.params(c);
        p.add(fd(), 4, 0, 256, 0, 0);
    });
    expect_error(&f, "plane 0 twice", PLANE_SET, |c, d| {
        let (p, _) = d.params(c);
        p.add(fd(), 0, p0.offset, p0.stride, 0, 0);
        p.add(fd(), 0, p0.offset, p0.stride, 0, 0);
    });
    expect_error(&f, "no planes", INCOMPLETE, |c, d| {
        let (p, _) = d.params(c);
        create(c, &p, W as i32, H as i32, ARGB8888);
    });
    expect_error(&f, "NV12 with only its luma plane", INCOMPLETE, |c, d| {
        let (p, _) = d.params(c);
        let y = nv12.planes[0];
        p.add(nv12.files[0].fd.as_fd(), 0, y.offset, y.stride, 0, 0);
        create(c, &p, W as i32, H as i32, NV12);
    });
    expect_error(&f, "NV12 with plane 0 missing", INCOMPLETE, |c, d| {
        let (p, _) = d.params(c);
        let uv = nv12.planes[1];
        p.add(nv12.files[0].fd.as_fd(), 1, uv.offset, uv.stride, 0, 0);
        create(c, &p, W as i32, H as i32, NV12);
    });
    expect_error(&f, "ARGB8888 with two planes", INCOMPLETE, |c, d| {
        let (p, _) = d.params(c);
        b.add_planes(&p, MOD_LINEAR);
        p.add(fd(), 1, p0.offset, p0.stride, 0, 0);
        create(c, &p, W as i32, H as i32, ARGB8888);
    });
    expect_error(&f, "unknown fourcc", INVALID_FORMAT, |c, d| {
        let (p, _) = d.params(c);
        b.add_planes(&p, MOD_LINEAR);
        create(c, &p, W as i32, H as i32, u32::from_le_bytes(*b"ZZZZ"));
    });
    expect_error(
        &f,
        "modifier never advertised (v4)",
        INVALID_FORMAT,
        |c, d| {
            let (p, _) = d.params(c);
            b.add_planes(&p, 0x0100_0000_0000_0001);
            create(c, &p, W as i32, H as i32, ARGB8888);
        },
    );
    expect_error(&f, "mixed modifiers (v5)", INVALID_FORMAT, |c, d| {
        let (p, _) = d.params(c);
        let (y, uv) = (nv12.planes[0], nv12.planes[1]);
        p.add(nv12.files[0].fd.as_fd(), 0, y.offset, y.stride, 0, 0);
        p.add(
            nv12.files[0].fd.as_fd(),
            1,
            uv.offset,
            uv.stride,
            (MOD_INVALID >> 32) as u32,
            MOD_INVALID as u32,
        );
    });
    expect_error(&f, "unknown flag bits", INVALID_FORMAT, |c, d| {
        let (p, _) = d.params(c);
        b.add_planes(&p, MOD_LINEAR);
        let _ = p.create_immed(W as i32, H as i32, ARGB8888, flags(8), &c.qh, ());
    });
    expect_error(&f, "zero width", INVALID_DIMENSIONS, |c, d| {
        let (p, _) = d.params(c);
        b.add_planes(&p, MOD_LINEAR);
        create(c, &p, 0, H as i32, ARGB8888);
    });
    expect_error(&f, "negative height", INVALID_DIMENSIONS, |c, d| {
        let (p, _) = d.params(c);
        b.add_planes(&p, MOD_LINEAR);
        create(c, &p, W as i32, -5, ARGB8888);
    });
    expect_error(&f, "stride 0", OUT_OF_BOUNDS, |c, d| {
        let (p, _) = d.params(c);
        p.add(fd(), 0, 0, 0, 0, 0);
        create(c, &p, W as i32, H as i32, ARGB8888);
    });
    expect_error(&f, "offset past the end", OUT_OF_BOUNDS, |c, d| {
        let (p, _) = d.params(c);
        p.add(fd(), 0, 1 << 20, p0.stride, 0, 0);
        create(c, &p, W as i32, H as i32, ARGB8888);
    });
    expect_error(&f, "rows past the end", OUT_OF_BOUNDS, |c, d| {
        let (p, _) = d.params(c);
        p.add(fd(), 0, p0.offset, p0.stride, 0, 0);
        create(c, &p, W as i32, 1000, ARGB8888);
    });
    expect_error(
        &f,
        "32-bit overflow of offset + stride × height",
        OUT_OF_BOUNDS,
        |c, d| {
            let (p, _) = d.params(c);
            p.add(fd(), 0, u32::MAX - 64, 256, 0, 0);
            create(c, &p, W as i32, H as i32, ARGB8888);
        },
    );
    expect_error(
        &f,
        "subsampled chroma plane past the end",
        OUT_OF_BOUNDS,
        |c, d| {
            let (p, _) = d.params(c);
            let (y, uv) = (nv12.planes[0], nv12.planes[1]);
            let size = nv12.files[0].fd.as_fd();
            let len = rustix::fs::fstat(size).expect("fstat").st_size as u32;
            p.add(nv12.files[0].fd.as_fd(), 0, y.offset, y.stride, 0, 0);
            // One chroma row fits, its H/2 rows do not.
            p.add(
                nv12.files[0].fd.as_fd(),
                1,
                len - uv.stride * 2,
                uv.stride,
                0,
                0,
            );
            create(c, &p, W as i32, H as i32, NV12);
        },
    );
    expect_error(
        &f,
        "create_immed of a buffer no rung imports",
        INVALID_WL_BUFFER,
        |c, d| {
            let (r, _w) = rustix::pipe::pipe().expect("pipe");
            let (p, _) = d.params(c);
            p.add(r.as_fd(), 0, 0, W * 4, 0, 0);
            create(c, &p, W as i32, H as i32, ARGB8888);
        },
    );
    expect_error(
        &f,
        "create_immed of an interlaced buffer",
        INVALID_WL_BUFFER,
        |c, d| {
            let (p, _) = d.params(c);
            b.add_planes(&p, MOD_LINEAR);
            let _ = p.create_immed(W as i32, H as i32, ARGB8888, flags(2), &c.qh, ());
        },
    );
    // The compositor survived every client it killed.
    let (mut c, d) = f.client();
    let t = c.toplevel("survivor", "weft.test").expect("toplevel");
    let wl = b.create_immed(&c, &d);
    show(&mut c, &t, &wl);
}

#[test]
fn import_failures_that_are_not_client_bugs_send_failed() {
    let f = Fixture::start("dmabuf-failed");
    let (mut c, d) = f.client();
    // An fd no rung can read (a pipe: no size, no mapping, no Vulkan import).
    let (r, _w) = rustix::pipe::pipe().expect("pipe");
    let (p, outcome) = d.params(&c);
    p.add(r.as_fd(), 0, 0, W * 4, 0, 0);
    p.create(W as i32, H as i32, ARGB8888, flags(0));
    c.roundtrip().expect("roundtrip");
    assert!(matches!(*outcome.lock().expect("outcome"), Outcome::Failed));
    // Interlaced buffers: weft does not deinterlace, which linux-dmabuf says to answer with failed.
    let b = argb(Layout::default());
    assert!(matches!(
        b.create(&mut c, &d, 2).expect("answer"),
        Outcome::Failed
    ));
    // A memfd that is not sealed against shrinking could be truncated under weft's reads.
    let unsealed =
        MemBuffer::with_files(ARGB8888, W, H, Layout::default(), MemFile::unsealed).expect("memfd");
    assert!(matches!(
        unsealed.create(&mut c, &d, 0).expect("answer"),
        Outcome::Failed
    ));
    // Nor is any other file: a regular file can shrink, and F_SEAL_SHRINK cannot be set on it.
    let plain = MemBuffer::with_files(ARGB8888, W, H, Layout::default(), MemFile::plain_file)
        .expect("tmpfile");
    assert!(matches!(
        plain.create(&mut c, &d, 0).expect("answer"),
        Outcome::Failed
    ));
    // None of it was a protocol error, and a good buffer still gets `created`.
    assert!(c.protocol_error().is_none());
    assert!(matches!(
        b.create(&mut c, &d, 0).expect("answer"),
        Outcome::Created(_)
    ));
    // The pipe, the unsealed memfd and the plain file were import attempts that failed on every
    // rung; the interlaced buffer was refused before any import.
    let imports = f.msg(Request::Imports);
    assert_eq!(imports["cache"]["failures"].as_u64(), Some(3), "{imports}");
}

#[test]
fn every_format_takes_the_best_rung() {
    // Sample where the device imports the format as an image (tests/vm guest: RGB formats), else
    // SampleLinear, with the skipped Sample rung's reason recorded.
    let f = Fixture::start("dmabuf-best");
    let sample: Vec<u32> = ALL_FORMATS
        .into_iter()
        .filter(|&x| image_importable(&f, x))
        .collect();
    // tests/vm/check sets this in the guest, whose lavapipe has the modifier extension: there the
    // Sample rung must really be taken for every single-plane 8-bit RGB format, not skipped.
    if std::env::var_os("WEFT_EXPECT_SAMPLE").is_some() {
        for fourcc in [ARGB8888, XRGB8888, ABGR8888, XBGR8888] {
            assert!(
                sample.contains(&fourcc),
                "{} does not import as an image here: {}",
                name(fourcc),
                f.msg(Request::Imports)
            );
        }
    }
    // On a CPU render device (lavapipe, here and in the guest) 8-bit Y′CbCr is converted once per
    // commit by StageOnCpu, tried before the rungs that would decode it per pixel per frame.
    let cpu = f.msg(Request::Imports)["caps"]["cpu_device"] == true;
    check_formats(&f, "best", Layout::default(), |fourcc| {
        if sample.contains(&fourcc) {
            "Sample"
        } else if cpu && YUV8_FORMATS.contains(&fourcc) {
            "StageOnCpu"
        } else {
            "SampleLinear"
        }
    });
    let (mut c, d) = f.client();
    let t = c.toplevel("nv12 reason", "weft.test").expect("toplevel");
    let wl = pattern(NV12, Layout::default()).create_immed(&c, &d);
    show(&mut c, &t, &wl);
    let s = f.surface("nv12 reason");
    let why = if f.msg(Request::Imports)["caps"]["modifiers"] == true {
        "Sample skipped: multi-planar"
    } else {
        "Sample skipped: VK_EXT_image_drm_format_modifier"
    };
    assert!(
        s["reason"].as_str().is_some_and(|r| r.contains(why)),
        "the skipped Sample rung is recorded: {s}"
    );
}

#[test]
fn every_format_reads_linear_memory_in_place() {
    let f = Fixture::start("dmabuf-linear");
    // StageOnCpu too: on a CPU device it is tried before the rungs that leave Y′CbCr to the shader.
    f.policy(&["Sample", "StageOnCpu"], None);
    check_formats(&f, "SampleLinear", Layout::default(), |_| "SampleLinear");
}

#[test]
fn every_format_stages_on_sink() {
    let f = Fixture::start("dmabuf-sink");
    f.policy(&["Sample", "SampleLinear", "StageOnCpu"], None);
    check_formats(&f, "StageOnSink", Layout::default(), |_| "StageOnSink");
}

#[test]
fn every_format_stages_on_cpu() {
    let f = Fixture::start("dmabuf-cpu");
    f.policy(&["Sample", "SampleLinear", "StageOnSink"], None);
    check_formats(&f, "StageOnCpu", Layout::default(), |_| "StageOnCpu");
}

/// `StageOnCpu` with its planes copied as they are (`import-policy --cpu-convert off`): on a CPU
/// render device the planar shader then decodes them; elsewhere this is the only way it copies.
#[test]
fn every_format_stages_on_cpu_as_planes() {
    let f = Fixture::start("dmabuf-cpu-planes");
    let req = serde_json::json!({ "command": "import_policy", "cpu_convert": false });
    let policy = f.msg(serde_json::from_value(req).expect("policy request"));
    assert_eq!(policy["cpu_convert"], false, "{policy}");
    f.policy(&["Sample", "SampleLinear", "StageOnSink"], None);
    check_formats(&f, "StageOnCpu planes", Layout::default(), |_| "StageOnCpu");
    let s = f.msg(Request::Imports);
    assert_eq!(s["policy"]["cpu_convert"], false, "{s}");
}

#[test]
fn disjoint_planes_work_on_both_rungs() {
    let f = Fixture::start("dmabuf-disjoint");
    let layout = Layout {
        disjoint: true,
        first_offset: 128,
        row_padding: 32,
    };
    for rung in ["SampleLinear", "StageOnSink", "StageOnCpu"] {
        let disabled: &[&str] = match rung {
            "StageOnCpu" => &["SampleLinear", "StageOnSink"],
            "StageOnSink" => &["SampleLinear", "StageOnCpu"],
            _ => &["StageOnCpu"],
        };
        f.policy(disabled, None);
        let (mut c, d) = f.client();
        let title = format!("disjoint {rung}");
        let t = c.toplevel(&title, "weft.test").expect("toplevel");
        for fourcc in [NV12, P010, YUV420] {
            let b = pattern(fourcc, layout);
            assert_eq!(b.files.len(), b.planes.len(), "one fd per plane");
            let wl = b.create_immed(&c, &d);
            show(&mut c, &t, &wl);
            assert_eq!(f.surface(&title)["rung"], rung);
            for (q, (x, y)) in PROBES.into_iter().enumerate() {
                let (want, tol) = expected(fourcc, q, false, false);
                assert_close(
                    pixel(&f, &title, x, y),
                    want,
                    tol,
                    &format!("disjoint {} quadrant {q}", name(fourcc)),
                );
            }
        }
    }
}

#[test]
fn yuv_matrices_and_ranges() {
    let f = Fixture::start("dmabuf-yuv");
    let (mut c, d) = f.client();
    let t = c.toplevel("yuv", "weft.test").expect("toplevel");
    let b = pattern(NV12, Layout::default());
    let wl = b.create_immed(&c, &d);
    show(&mut c, &t, &wl);
    // The default, with nothing saying otherwise: BT.601 limited range.
    let policy = f.msg(Request::Imports)["policy"]["yuv"].clone();
    assert_eq!(
        policy,
        serde_json::json!({ "matrix": "bt601", "range": "limited" })
    );
    for (matrix, range) in [
        ("bt601", "limited"),
        ("bt709", "limited"),
        ("bt601", "full"),
        ("bt709", "full"),
    ] {
        f.policy(
            &[],
            Some(serde_json::json!({ "matrix": matrix, "range": range })),
        );
        for (q, (x, y)) in PROBES.into_iter().enumerate() {
            let want = yuv_to_rgb(YUV_QUADRANTS[q], matrix == "bt709", range == "full");
            assert_close(
                pixel(&f, "yuv", x, y),
                want,
                2,
                &format!("{matrix} {range} quadrant {q}"),
            );
        }
    }
}

#[test]
fn rewritten_buffers_show_their_new_contents() {
    // A producer with a ring of buffers (a decoder): show A, show B (A is released), write new
    // bytes into A, show A again. Every rung must show A's new bytes, not what it imported: on a GPU
    // that is the per-frame acquire from the foreign queue family; StageOnCpu copies again.
    let f = Fixture::start("dmabuf-rewrite");
    let rungs: [(&str, &[&str]); 4] = [
        ("best", &[]),
        ("SampleLinear", &["Sample", "StageOnCpu"]),
        ("StageOnSink", &["Sample", "SampleLinear", "StageOnCpu"]),
        ("StageOnCpu", &["Sample", "SampleLinear", "StageOnSink"]),
    ];
    for (label, disabled) in rungs {
        f.policy(disabled, None);
        let (mut c, d) = f.client();
        for fourcc in [XRGB8888, NV12] {
            let title = format!("rewrite {label} {}", name(fourcc));
            let t = c.toplevel(&title, "weft.test").expect("toplevel");
            let mut a = pattern(fourcc, Layout::default());
            let b = pattern(fourcc, Layout::default());
            let (wa, wb) = (a.create_immed(&c, &d), b.create_immed(&c, &d));
            let check = |rotate: usize, when: &str| {
                for (q, (x, y)) in PROBES.into_iter().enumerate() {
                    let (want, tol) = expected(fourcc, (q + rotate) % 4, false, false);
                    assert_close(
                        pixel(&f, &title, x, y),
                        want,
                        tol,
                        &format!("{title} {when}, quadrant {q}"),
                    );
                }
            };
            show(&mut c, &t, &wa);
            check(0, "first");
            show(&mut c, &t, &wb);
            use wayland_client::Proxy;
            c.wait_until("wl_buffer.release of A", 100, |s| {
                s.released.contains(&wa.id())
            })
            .expect("release");
            fill_pattern(&mut a, 1);
            let misses = f.cache()["misses"].as_u64();
            show(&mut c, &t, &wa);
            check(1, "rewritten");
            // The same import, read again: a cache hit, not a re-import.
            assert_eq!(f.cache()["misses"].as_u64(), misses);
            let s = f.surface(&title);
            if label != "best" {
                assert_eq!(s["rung"], label, "{s}");
            }
            t.toplevel.destroy();
            t.xdg_surface.destroy();
            t.surface.destroy();
            wa.destroy();
            wb.destroy();
            c.roundtrip().expect("roundtrip");
        }
    }
}

/// `StageOnCpu` keeps two copies (a commit writes the one no frame reads and makes it the one
/// shown): partial damage committed to one copy must reach the other at the next commit, or the
/// picture would flip between old and new rows.
#[test]
fn stage_on_cpu_partial_damage_reaches_both_copies() {
    let f = Fixture::start("dmabuf-cpu-damage");
    f.policy(&["Sample", "SampleLinear", "StageOnSink"], None);
    let (mut c, d) = f.client();
    for (fourcc, convert) in [(XRGB8888, true), (NV12, true), (NV12, false)] {
        let req = serde_json::json!({ "command": "import_policy", "cpu_convert": convert });
        f.msg(serde_json::from_value(req).expect("policy request"));
        let title = format!("cpu damage {} {convert}", name(fourcc));
        let t = c.toplevel(&title, "weft.test").expect("toplevel");
        let mut a = pattern(fourcc, Layout::default());
        let wa = a.create_immed(&c, &d);
        let check = |top: usize, bottom: usize, when: &str| {
            // Drawn whole from the copy shown (damage tracking would keep the last frame's pixels
            // where nothing was damaged, hiding a copy that lacks them).
            f.msg(Request::Redraw { output: None });
            for (q, (x, y)) in PROBES.into_iter().enumerate() {
                let rotate = if q < 2 { top } else { bottom };
                let (want, tol) = expected(fourcc, (q + rotate) % 4, false, false);
                assert_close(
                    pixel(&f, &title, x, y),
                    want,
                    tol,
                    &format!("{title} {when}, quadrant {q}"),
                );
            }
        };
        let commit = |c: &mut Client, rows: (i32, i32)| {
            t.surface.attach(Some(&wa), 0, 0);
            t.surface
                .damage_buffer(0, rows.0, W as i32, rows.1 - rows.0);
            t.surface.commit();
            c.roundtrip().expect("roundtrip");
        };
        let halves = |top, bottom| move |y: u32| if y < H / 2 { top } else { bottom };
        show(&mut c, &t, &wa);
        check(0, 0, "first");
        // The top half rewritten and damaged.
        fill_pattern_by_row(&mut a, halves(1, 0));
        commit(&mut c, (0, H as i32 / 2));
        check(1, 0, "top damaged");
        // The bottom half rewritten and damaged, into the other copy: the top must be there too.
        fill_pattern_by_row(&mut a, halves(1, 2));
        commit(&mut c, (H as i32 / 2, H as i32));
        check(1, 2, "bottom damaged");
        // One row damaged, into the first copy again: it lacks the bottom half, copied now.
        commit(&mut c, (0, 1));
        check(1, 2, "one row damaged");
        let s = f.surface(&title);
        assert_eq!(s["rung"], "StageOnCpu", "{s}");
        t.toplevel.destroy();
        t.xdg_surface.destroy();
        t.surface.destroy();
        wa.destroy();
        c.roundtrip().expect("roundtrip");
    }
}

#[test]
fn dmabufs_larger_than_their_image_and_images_larger_than_a_buffer_binding() {
    let f = Fixture::start("dmabuf-size");
    let caps = f.msg(Request::Imports)["caps"].clone();
    let limit = caps["max_storage_buffer_range"].as_u64().expect("limit");
    // A dma-buf far larger than one storage-buffer binding (a pool, say), holding a small image at
    // its start: only the bytes the planes reach are bound, so it is read in place.
    f.policy(&["Sample", "StageOnCpu"], None);
    let (mut c, d) = f.client();
    let pad = (limit as usize + (64 << 20)).next_multiple_of(4096);
    let mut big =
        MemBuffer::with_files(NV12, W, H, Layout::default(), |len| MemFile::new(len + pad))
            .expect("sparse memfd");
    fill_pattern(&mut big, 0);
    let t = c.toplevel("big file", "weft.test").expect("toplevel");
    let wl = big.create_immed(&c, &d);
    show(&mut c, &t, &wl);
    let s = f.surface("big file");
    assert_eq!(s["rung"], "SampleLinear", "{s}");
    // An image whose planes span more than one binding can cover: neither buffer rung can take it
    // (the client gets `failed`, nothing else happens); a device with a larger limit would.
    let (w, h) = (8192u32, (limit / (8192 * 4)) as u32 + 8);
    let huge = MemBuffer::new(XRGB8888, w, h, Layout::default()).expect("sparse memfd");
    let before = f.cache()["failures"].as_u64();
    assert!(matches!(
        huge.create(&mut c, &d, 0).expect("answer"),
        Outcome::Failed
    ));
    assert_eq!(f.cache()["failures"].as_u64(), before.map(|n| n + 1));
    assert!(c.protocol_error().is_none());
    // Wider than any image the device makes: not `Sample` (where it exists, the reason says why),
    // but a buffer rung reads it.
    f.policy(&[], None);
    let wide_w = caps["max_image_dimension"].as_u64().expect("max dimension") as u32 + 16;
    let mut wide = MemBuffer::new(XRGB8888, wide_w, 4, Layout::default()).expect("memfd");
    wide.fill_rgb(|_, _| [0, 0, 255, 255]);
    let tw = c.toplevel("wide", "weft.test").expect("toplevel");
    let ww = wide.create_immed(&c, &d);
    show(&mut c, &tw, &ww);
    let s = f.surface("wide");
    assert_eq!(s["rung"], "SampleLinear", "{s}");
    if caps["modifiers"] == true {
        assert!(
            s["reason"]
                .as_str()
                .is_some_and(|r| r.contains("maxImageDimension2D")),
            "{s}"
        );
    }
    // Everyone else is still served, the same client included.
    show(&mut c, &t, &wl);
    let (want, tol) = expected(NV12, 0, false, false);
    assert_close(
        pixel(&f, "big file", W / 4, H / 4),
        want,
        tol,
        "after the refusal",
    );
}

#[test]
fn y_invert_flips_the_image() {
    let f = Fixture::start("dmabuf-yinvert");
    let (mut c, d) = f.client();
    let t = c.toplevel("flip", "weft.test").expect("toplevel");
    let b = pattern(XRGB8888, Layout::default());
    let wl = b.create_immed_with(&c, &d, MOD_LINEAR, 1);
    show(&mut c, &t, &wl);
    // Memory row 0 is the bottom of the image: the top-left probe shows the bottom-left quadrant.
    let (want_top, _) = expected(XRGB8888, 2, false, false);
    let (want_bottom, _) = expected(XRGB8888, 0, false, false);
    assert_close(
        pixel(&f, "flip", W / 4, H / 4),
        want_top,
        1,
        "top after y_invert",
    );
    assert_close(
        pixel(&f, "flip", W / 4, 3 * H / 4),
        want_bottom,
        1,
        "bottom after y_invert",
    );
}

#[test]
fn buffers_are_imported_once_and_released_when_replaced() {
    let f = Fixture::start("dmabuf-cache");
    let (mut c, d) = f.client();
    let t = c.toplevel("cache", "weft.test").expect("toplevel");
    let a = pattern(NV12, Layout::default());
    let b = pattern(NV12, Layout::default());
    let (wa, wb) = (a.create_immed(&c, &d), b.create_immed(&c, &d));
    c.roundtrip().expect("roundtrip");
    let before = f.cache();
    assert_eq!(
        before["misses"].as_u64(),
        Some(2),
        "each wl_buffer imported at create: {before}"
    );
    for _ in 0..5 {
        show(&mut c, &t, &wa);
    }
    let after = f.cache();
    assert_eq!(
        after["misses"].as_u64(),
        Some(2),
        "no re-import per commit: {after}"
    );
    assert_eq!(after["hits"].as_u64(), Some(5), "{after}");
    assert_eq!(after["entries"].as_u64(), Some(2));
    // Replacing A with B releases A (weft reads A in place until then).
    use wayland_client::Proxy;
    assert!(!c.state.released.contains(&wa.id()));
    show(&mut c, &t, &wb);
    c.wait_until("wl_buffer.release of A", 100, |s| {
        s.released.contains(&wa.id())
    })
    .expect("release");
    assert!(!c.state.released.contains(&wb.id()), "B is still shown");
    // A's import dies with its wl_buffer.
    wa.destroy();
    c.roundtrip().expect("roundtrip");
    assert_eq!(f.cache()["entries"].as_u64(), Some(1));
    let s = f.surface("cache");
    assert_eq!(
        s["commits"].as_u64(),
        Some(7),
        "the initial commit plus six"
    );
    assert_eq!(
        s["path_changes"].as_u64(),
        Some(1),
        "one decision for seven commits of same-class buffers: {s}"
    );
}

#[test]
fn a_failure_after_the_wl_buffer_exists_is_no_protocol_error() {
    let f = Fixture::start("dmabuf-late-failure");
    let (mut c, d) = f.client();
    let t = c.toplevel("late", "weft.test").expect("toplevel");
    let a = pattern(XRGB8888, Layout::default());
    let wa = a.create_immed(&c, &d);
    show(&mut c, &t, &wa);
    let (good, _) = expected(XRGB8888, 0, false, false);
    assert_close(pixel(&f, "late", W / 4, H / 4), good, 1, "before");
    // The device "loses" every rung and its imports: the next commit must re-import, and fails.
    f.policy(
        &["Sample", "SampleLinear", "StageOnSink", "StageOnCpu"],
        None,
    );
    assert_eq!(
        f.msg(Request::InvalidateImports)["dropped"].as_u64(),
        Some(1)
    );
    show(&mut c, &t, &wa);
    let s = f.surface("late");
    assert!(
        s["reason"]
            .as_str()
            .is_some_and(|r| r.starts_with("import failed")),
        "{s}"
    );
    // The surface keeps its last good frame, and the failure is remembered, not retried per commit.
    assert_close(pixel(&f, "late", W / 4, H / 4), good, 1, "last good frame");
    let misses = f.cache()["misses"].as_u64();
    show(&mut c, &t, &wa);
    assert_eq!(f.cache()["misses"].as_u64(), misses);
    assert_eq!(f.cache()["failures"].as_u64(), Some(1));
    // Two decisions (the import, then its failure), each recorded once however often it is committed.
    assert_eq!(f.surface("late")["path_changes"].as_u64(), Some(2));
    assert!(c.protocol_error().is_none());
}

#[test]
fn create_with_planes_added_out_of_order() {
    let f = Fixture::start("dmabuf-order");
    let (mut c, d) = f.client();
    let t = c.toplevel("order", "weft.test").expect("toplevel");
    let b = pattern(YUV420, Layout::default());
    let (p, outcome) = d.params(&c);
    for i in [2usize, 0, 1] {
        let pl = b.planes[i];
        p.add(
            b.files[pl.file].fd.as_fd(),
            i as u32,
            pl.offset,
            pl.stride,
            0,
            0,
        );
    }
    p.create(W as i32, H as i32, YUV420, flags(0));
    c.roundtrip().expect("roundtrip");
    let buffer = match outcome.lock().expect("outcome").clone() {
        Outcome::Created(b) => b,
        other => panic!("expected created, got {other:?}"),
    };
    show(&mut c, &t, &buffer);
    for (q, (x, y)) in PROBES.into_iter().enumerate() {
        let (want, tol) = expected(YUV420, q, false, false);
        assert_close(
            pixel(&f, "order", x, y),
            want,
            tol,
            &format!("out-of-order planes quadrant {q}"),
        );
    }
}

#[test]
fn viewport_crop_and_scale_do_not_bleed() {
    let f = Fixture::start("dmabuf-viewport");
    let (mut c, d) = f.client();
    let t = c.toplevel("crop", "weft.test").expect("toplevel");
    let b = pattern(NV12, Layout::default());
    let wl = b.create_immed(&c, &d);
    // Show only the left half (quadrants 0 and 2), stretched to twice its width.
    let vp = c.viewport(&t.surface);
    vp.set_source(0.0, 0.0, f64::from(W / 2), f64::from(H));
    vp.set_destination(W as i32, H as i32);
    show(&mut c, &t, &wl);
    let (top, tol) = expected(NV12, 0, false, false);
    let (bottom, _) = expected(NV12, 2, false, false);
    for x in [W / 4, W / 2, W - 1] {
        // The right edge samples the crop's last column, never the right half beyond it.
        assert_close(
            pixel(&f, "crop", x, H / 4),
            top,
            tol,
            &format!("top row at x={x}"),
        );
        assert_close(
            pixel(&f, "crop", x, 3 * H / 4),
            bottom,
            tol,
            &format!("bottom row at x={x}"),
        );
    }
}

/// Every surface's reason comes with a stable code naming the nearest better rung and why it was
/// not taken (or what happened): tools read the code, people read the text.
#[test]
fn reason_codes_name_the_rung_above_and_why() {
    let f = Fixture::start("reason-codes");
    let (mut c, d) = f.client();
    let t = c.toplevel("coded", "weft.test").expect("toplevel");
    let b = pattern(XRGB8888, Layout::default());
    let wl = b.create_immed(&c, &d);
    show(&mut c, &t, &wl);
    f.h.settle(&mut c);
    let s = f.surface("coded");
    let (rung, code) = (
        s["rung"].as_str().unwrap_or(""),
        s["reason_code"].as_str().unwrap_or(""),
    );
    let taken = match rung {
        "Sample" => "sample",
        "SampleLinear" => "sample_linear",
        "StageOnSink" => "stage_on_sink",
        "StageOnCpu" => "stage_on_cpu",
        other => panic!("unexpected rung {other}: {s}"),
    };
    assert!(
        !code.starts_with(taken),
        "the code names a rung above {rung}: {s}"
    );
    // Headless there is no display device: only where the buffer is sampled as an image (the
    // best sampling rung, guest lavapipe) is Scanout the nearest better rung.
    if rung == "Sample" {
        assert_eq!(code, "scanout.no_display_device", "{s}");
    } else {
        assert!(!code.starts_with("scanout."), "{s}");
    }
    assert!(
        code.contains('.')
            && code
                .chars()
                .all(|ch| ch.is_ascii_lowercase() || ch == '_' || ch == '.'),
        "{s}"
    );
    // Only the CPU is left: the code says which rung above was switched off.
    f.policy(&["Sample", "SampleLinear", "StageOnSink"], None);
    let b2 = pattern(XRGB8888, Layout::default());
    let wl2 = b2.create_immed(&c, &d);
    show(&mut c, &t, &wl2);
    f.h.settle(&mut c);
    let s = f.surface("coded");
    assert_eq!(s["rung"], "StageOnCpu", "{s}");
    assert_eq!(s["reason_code"], "stage_on_sink.disabled_by_policy", "{s}");
    assert!(
        s["reason"]
            .as_str()
            .is_some_and(|r| r.contains("StageOnSink skipped: disabled by the import policy")),
        "{s}"
    );
}
