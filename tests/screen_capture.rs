//! Screen capture with real clients: Debian's grim (a screenshot tool on zwlr_screencopy_v1) and
//! our own capture client. What is captured equals `weft msg screenshot` pixel for pixel, whole or
//! a region, into a wl_shm buffer or a dma-buf (written by the render device); a capture with
//! damage waits for a change and names it; each protocol error is provoked with a bystander.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{
    assert_ended_with, assert_same_pixels, memfd_pool, read_xrgb, solid_shm, Harness, Image,
};
use wayland_client::protocol::{wl_buffer, wl_output, wl_shm};
use wayland_protocols_wlr::screencopy::v1::client::zwlr_screencopy_frame_v1::ZwlrScreencopyFrameV1;
use wayland_protocols_wlr::screencopy::v1::client::zwlr_screencopy_manager_v1::ZwlrScreencopyManagerV1;
use weft::Request;
use weft_clients::capture::{snapshot, FrameEvents, FrameLog};
use weft_clients::dmabuf::{Layout, LinuxDmabuf, MemBuffer, Outcome, XRGB8888};
use weft_clients::Client;

const W: u32 = 320;
const H: u32 = 240;

/// Two windows over the background: something to capture.
fn scene(h: &Harness) -> Client {
    let mut c = h.client();
    let a = c.toplevel("left", "weft.capture").expect("toplevel");
    let pa =
        weft_clients::ShmBuffer::new(&c.shm, &c.qh, 120, 90, wl_shm::Format::Xrgb8888, |x, y| {
            weft_clients::argb((x * 2) as u8, (y * 2) as u8, 90, 0)
        })
        .expect("buffer");
    c.show(&a.surface, &pa.buffer);
    let b = c.toplevel("right", "weft.capture").expect("toplevel");
    let pb = solid_shm(&c, 60, 60, [250, 200, 10]);
    c.show(&b.surface, &pb.buffer);
    h.settle(&mut c);
    std::mem::forget((pa, pb, a, b));
    c
}

struct Capturer {
    c: Client,
    manager: ZwlrScreencopyManagerV1,
    output: wl_output::WlOutput,
}

impl Capturer {
    fn new(h: &Harness) -> Self {
        let mut c = h.client();
        let manager: ZwlrScreencopyManagerV1 = c
            .globals
            .bind(&c.qh, 3..=3, ())
            .expect("zwlr_screencopy_manager_v1 v3");
        let output: wl_output::WlOutput = c.globals.bind(&c.qh, 1..=4, ()).expect("wl_output");
        c.roundtrip().expect("roundtrip");
        Self { c, manager, output }
    }

    /// A frame object, after `buffer_done`.
    fn frame(&mut self, region: Option<(i32, i32, i32, i32)>) -> (ZwlrScreencopyFrameV1, FrameLog) {
        let log = FrameLog::default();
        let frame = match region {
            None => self
                .manager
                .capture_output(0, &self.output, &self.c.qh, log.clone()),
            Some((x, y, w, h)) => self.manager.capture_output_region(
                0,
                &self.output,
                x,
                y,
                w,
                h,
                &self.c.qh,
                log.clone(),
            ),
        };
        self.wait(&log, "buffer_done", |e| e.buffer_done || e.failed);
        (frame, log)
    }

    fn wait(&mut self, log: &FrameLog, what: &str, done: impl Fn(&FrameEvents) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while !done(&snapshot(log)) {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            self.c.roundtrip().expect("roundtrip");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Whether `log` gets `ready` or `failed` within `within`.
    fn finishes_within(&mut self, log: &FrameLog, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            self.c.roundtrip().expect("roundtrip");
            let e = snapshot(log);
            if e.ready.is_some() || e.failed {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    }

    /// A wl_shm buffer as `log`'s frame asked for, in a memfd this test reads.
    fn shm_buffer(
        &self,
        log: &FrameLog,
    ) -> (std::os::fd::OwnedFd, wl_buffer::WlBuffer, (u32, u32, u32)) {
        let (format, w, h, stride) = snapshot(log).shm.expect("a wl_shm buffer offered");
        assert_eq!(format, wl_shm::Format::Xrgb8888 as u32);
        let (fd, pool) = memfd_pool(&self.c, (stride * h) as usize);
        let buffer = pool.create_buffer(
            0,
            w as i32,
            h as i32,
            stride as i32,
            wl_shm::Format::Xrgb8888,
            &self.c.qh,
            (),
        );
        (fd, buffer, (w, h, stride))
    }
}

/// `shot` cropped to (x, y, w, h), RGBA.
fn crop(shot: &Image, (x0, y0, w, h): (u32, u32, u32, u32)) -> Vec<u8> {
    let mut out = Vec::new();
    for y in y0..y0 + h {
        for x in x0..x0 + w {
            out.extend_from_slice(&shot.pixel(x, y));
        }
    }
    out
}

/// Runs Debian's grim with `args` against `h`, writing `out`.
fn grim(h: &Harness, args: &[&str], out: &std::path::Path) {
    let run = Command::new("/usr/bin/grim")
        .args(args)
        .arg(out)
        .env_clear()
        .env("XDG_RUNTIME_DIR", &h.runtime_dir)
        .env("WAYLAND_DISPLAY", h.weft.wayland_path())
        .output()
        .expect("grim runs");
    assert!(
        run.status.success(),
        "grim {args:?} failed: {}",
        String::from_utf8_lossy(&run.stderr)
    );
}

#[test]
fn grim_takes_the_screenshot_weft_shows() {
    let h = Harness::new(W, H, 60);
    let _scene = scene(&h);
    assert!(
        std::path::Path::new("/usr/bin/grim").exists(),
        "grim is missing: install Debian's grim (scripts/install-deps --test)"
    );
    let out = h.runtime_dir.join("grim.png");
    grim(&h, &[], &out);
    let grim_shot = Image::load(&out);
    let shot = h.screenshot("HEADLESS-1");
    assert_eq!((grim_shot.width, grim_shot.height), (W, H));
    assert_same_pixels("grim vs weft msg screenshot", &grim_shot.rgba, &shot.rgba);

    // A region (-g "x,y wxh").
    let region = h.runtime_dir.join("grim-region.png");
    grim(&h, &["-g", "50,40 100x70"], &region);
    let part = Image::load(&region);
    assert_eq!((part.width, part.height), (100, 70));
    assert_same_pixels(
        "grim -g vs the screenshot's region",
        &part.rgba,
        &crop(&shot, (50, 40, 100, 70)),
    );
}

#[test]
fn a_capture_into_wl_shm_equals_the_screenshot_whole_and_in_part() {
    let h = Harness::new(W, H, 60);
    let _scene = scene(&h);
    let mut cap = Capturer::new(&h);
    let (frame, log) = cap.frame(None);
    let offered = snapshot(&log);
    assert_eq!(
        offered.shm,
        Some((wl_shm::Format::Xrgb8888 as u32, W, H, W * 4))
    );
    assert_eq!(offered.dmabuf, Some((XRGB8888, W, H)));
    let (fd, buffer, dims) = cap.shm_buffer(&log);
    frame.copy(&buffer);
    cap.wait(&log, "ready", |e| e.ready.is_some() || e.failed);
    let done = snapshot(&log);
    assert!(!done.failed, "the capture failed");
    assert_eq!(done.flags, Some(0), "not y-inverted");
    let shot = h.screenshot("HEADLESS-1");
    assert_same_pixels(
        "capture vs screenshot",
        &read_xrgb(&fd, (dims.0, dims.1), dims.2, 0),
        &shot.rgba,
    );

    let (frame, log) = cap.frame(Some((30, 20, 150, 100)));
    assert_eq!(
        snapshot(&log).shm,
        Some((wl_shm::Format::Xrgb8888 as u32, 150, 100, 600))
    );
    let (fd, buffer, dims) = cap.shm_buffer(&log);
    frame.copy(&buffer);
    cap.wait(&log, "ready", |e| e.ready.is_some() || e.failed);
    assert!(!snapshot(&log).failed);
    assert_same_pixels(
        "region capture",
        &read_xrgb(&fd, (dims.0, dims.1), dims.2, 0),
        &crop(&shot, (30, 20, 150, 100)),
    );

    // A region partly off the output is clipped to it; one wholly off it fails.
    let (_, log) = cap.frame(Some((300, 200, 100, 100)));
    assert_eq!(
        snapshot(&log).shm,
        Some((wl_shm::Format::Xrgb8888 as u32, 20, 40, 80))
    );
    let (_, log) = cap.frame(Some((1000, 1000, 10, 10)));
    assert!(snapshot(&log).failed, "a region off the output");
    let shm = h.msg(Request::Outputs)[0]["captures"]["shm"].as_u64();
    assert_eq!(shm, Some(2));
}

#[test]
fn a_capture_into_a_dmabuf_is_written_by_the_render_device() {
    let h = Harness::new(W, H, 60);
    let _scene = scene(&h);
    let mut cap = Capturer::new(&h);
    let dmabuf = LinuxDmabuf::bind(&mut cap.c, 4).expect("linux-dmabuf");
    let (frame, log) = cap.frame(None);
    let (fourcc, w, hgt) = snapshot(&log).dmabuf.expect("a dma-buf offered");
    let mem = MemBuffer::new(fourcc, w, hgt, Layout::default()).expect("memfd dma-buf");
    let buffer = match mem.create(&mut cap.c, &dmabuf, 0).expect("create") {
        Outcome::Created(b) => b,
        other => panic!("the dma-buf was refused: {other:?}"),
    };
    frame.copy(&buffer);
    cap.wait(&log, "ready", |e| e.ready.is_some() || e.failed);
    assert!(!snapshot(&log).failed, "the dma-buf capture failed");
    let stride = mem.planes[0].stride;
    // The plane starts past an offset and its rows are padded (Layout::default): both honoured.
    let offset = mem.planes[0].offset as usize;
    let shot = h.screenshot("HEADLESS-1");
    assert_same_pixels(
        "dma-buf capture vs screenshot",
        &read_xrgb(&mem.files[0].fd, (w, hgt), stride, offset),
        &shot.rgba,
    );
    let counts = &h.msg(Request::Outputs)[0]["captures"];
    assert_eq!(counts["dmabuf"], 1, "{counts}");
    assert_eq!(counts["shm"], 0, "{counts}");
}

#[test]
fn a_capture_with_damage_waits_for_a_change_and_names_it() {
    let h = Harness::new(W, H, 60);
    let mut scene = scene(&h);
    let mut cap = Capturer::new(&h);
    // The first capture is all damage.
    let (frame, log) = cap.frame(None);
    let (_fd, buffer, _) = cap.shm_buffer(&log);
    frame.copy_with_damage(&buffer);
    cap.wait(&log, "ready", |e| e.ready.is_some() || e.failed);
    assert_eq!(snapshot(&log).damage, vec![(0, 0, W, H)]);

    // Nothing changes: the next one waits.
    let (frame, log) = cap.frame(None);
    frame.copy_with_damage(&buffer);
    assert!(
        !cap.finishes_within(&log, Duration::from_millis(400)),
        "ready without damage"
    );

    // A small window appears: the capture is taken, its damage covers the window and not the
    // whole output.
    let t = scene.toplevel("new", "weft.capture").expect("toplevel");
    let px = solid_shm(&scene, 30, 20, [0, 0, 255]);
    scene.show(&t.surface, &px.buffer);
    h.settle(&mut scene);
    assert!(
        cap.finishes_within(&log, Duration::from_secs(5)),
        "no ready after damage"
    );
    let e = snapshot(&log);
    assert!(!e.failed);
    let area: u64 = e
        .damage
        .iter()
        .map(|d| u64::from(d.2) * u64::from(d.3))
        .sum();
    assert!(
        area >= 30 * 20,
        "damage {:?} misses the new window",
        e.damage
    );
    assert!(
        area < u64::from(W * H),
        "damage {:?} is the whole output",
        e.damage
    );
    let rec = h.surface("new");
    let (x, y) = (
        rec["x"].as_i64().unwrap_or(-1) as u32,
        rec["y"].as_i64().unwrap_or(-1) as u32,
    );
    assert!(
        e.damage
            .iter()
            .any(|d| d.0 <= x && d.1 <= y && d.0 + d.2 >= x + 30 && d.1 + d.3 >= y + 20),
        "no damage rectangle covers the new window at {x},{y}: {:?}",
        e.damage
    );
}

#[test]
fn every_screencopy_error_is_raised() {
    let h = Harness::new(W, H, 60);
    // already_used: a second copy on one frame.
    h.with_bystander(|| {
        let mut cap = Capturer::new(&h);
        let (frame, log) = cap.frame(None);
        let (_fd, buffer, _) = cap.shm_buffer(&log);
        frame.copy(&buffer);
        frame.copy(&buffer);
        assert_ended_with(&mut cap.c, "zwlr_screencopy_frame_v1", 0);
    });
    // invalid_buffer: a buffer of another size than offered.
    h.with_bystander(|| {
        let mut cap = Capturer::new(&h);
        let (frame, _) = cap.frame(None);
        let small = solid_shm(&cap.c, 16, 16, [1, 2, 3]);
        frame.copy(&small.buffer);
        assert_ended_with(&mut cap.c, "zwlr_screencopy_frame_v1", 1);
    });
    // invalid_buffer: a format not offered.
    h.with_bystander(|| {
        let mut cap = Capturer::new(&h);
        let (frame, _) = cap.frame(None);
        let (_fd, pool) = memfd_pool(&cap.c, (W * H * 4) as usize);
        let wrong = pool.create_buffer(
            0,
            W as i32,
            H as i32,
            (W * 4) as i32,
            wl_shm::Format::Abgr8888,
            &cap.c.qh,
            (),
        );
        frame.copy(&wrong);
        assert_ended_with(&mut cap.c, "zwlr_screencopy_frame_v1", 1);
    });
}
