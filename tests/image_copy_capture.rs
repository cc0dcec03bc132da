//! ext-image-copy-capture with a real client: sessions on an output, on a window (through the
//! foreign-toplevel list) and on the pointer's cursor; frames into wl_shm and dma-buf buffers equal
//! to what weft shows; damage and waiting for it; constraints that follow the source; every error
//! of the protocol provoked with a bystander still served.

mod common;

use std::time::{Duration, Instant};

use common::{
    assert_ended_with, assert_same_pixels, memfd_pool, read_xrgb, solid_shm, Harness,
};
use wayland_client::protocol::{wl_buffer, wl_output, wl_pointer, wl_seat, wl_shm};
use wayland_protocols::ext::foreign_toplevel_list::v1::client::ext_foreign_toplevel_handle_v1::ExtForeignToplevelHandleV1;
use wayland_protocols::ext::foreign_toplevel_list::v1::client::ext_foreign_toplevel_list_v1::ExtForeignToplevelListV1;
use wayland_protocols::ext::image_capture_source::v1::client::ext_foreign_toplevel_image_capture_source_manager_v1::ExtForeignToplevelImageCaptureSourceManagerV1;
use wayland_protocols::ext::image_capture_source::v1::client::ext_image_capture_source_v1::ExtImageCaptureSourceV1;
use wayland_protocols::ext::image_capture_source::v1::client::ext_output_image_capture_source_manager_v1::ExtOutputImageCaptureSourceManagerV1;
use wayland_protocols::ext::image_copy_capture::v1::client::ext_image_copy_capture_frame_v1::ExtImageCopyCaptureFrameV1;
use wayland_protocols::ext::image_copy_capture::v1::client::ext_image_copy_capture_manager_v1::{
    ExtImageCopyCaptureManagerV1, Options,
};
use wayland_protocols::ext::image_copy_capture::v1::client::ext_image_copy_capture_session_v1::ExtImageCopyCaptureSessionV1;
use weft::{HeadlessOptions, InjectedInput};
use weft_clients::dmabuf::{Layout, LinuxDmabuf, MemBuffer, Outcome};
use weft_clients::session::Log;
use weft_clients::Client;
use weft_compositor::OutputSpec;

const W: u32 = 320;
const H: u32 = 240;

/// A capture client: the manager, the output source manager and wl_output.
struct Cap {
    c: Client,
    manager: ExtImageCopyCaptureManagerV1,
    outputs: ExtOutputImageCaptureSourceManagerV1,
    output: wl_output::WlOutput,
}

impl Cap {
    fn new(h: &Harness) -> Self {
        let mut c = h.client();
        let manager = c
            .globals
            .bind(&c.qh, 1..=1, Log::default())
            .expect("ext_image_copy_capture_manager_v1");
        let outputs = c
            .globals
            .bind(&c.qh, 1..=1, Log::default())
            .expect("ext_output_image_capture_source_manager_v1");
        let output: wl_output::WlOutput = c.globals.bind(&c.qh, 1..=4, ()).expect("wl_output");
        c.roundtrip().expect("roundtrip");
        Self {
            c,
            manager,
            outputs,
            output,
        }
    }

    fn until(&mut self, what: &str, done: impl Fn() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while !done() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            self.c.roundtrip().expect("roundtrip");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn output_session(&mut self, options: Options) -> (ExtImageCopyCaptureSessionV1, Log) {
        let source = self
            .outputs
            .create_source(&self.output, &self.c.qh, Log::default());
        self.session(&source, options)
    }

    fn session(
        &mut self,
        source: &ExtImageCaptureSourceV1,
        options: Options,
    ) -> (ExtImageCopyCaptureSessionV1, Log) {
        let log = Log::default();
        let session = self
            .manager
            .create_session(source, options, &self.c.qh, log.clone());
        let l = log.clone();
        self.until("the session's constraints", || {
            l.has("ext_image_copy_capture_session_v1 Done")
                || l.has("ext_image_copy_capture_session_v1 Stopped")
        });
        (session, log)
    }

    /// A wl_shm XRGB8888 buffer of `w`×`h` in a memfd the test reads.
    fn shm(&self, w: u32, h: u32) -> (std::os::fd::OwnedFd, wl_buffer::WlBuffer) {
        let (fd, pool) = memfd_pool(&self.c, (w * h * 4) as usize);
        let buffer = pool.create_buffer(
            0,
            w as i32,
            h as i32,
            (w * 4) as i32,
            wl_shm::Format::Xrgb8888,
            &self.c.qh,
            (),
        );
        (fd, buffer)
    }

    /// One frame of `session` into `buffer`: its log once ready or failed.
    fn capture(
        &mut self,
        session: &ExtImageCopyCaptureSessionV1,
        buffer: &wl_buffer::WlBuffer,
    ) -> (ExtImageCopyCaptureFrameV1, Log) {
        let log = Log::default();
        let frame = session.create_frame(&self.c.qh, log.clone());
        frame.attach_buffer(buffer);
        frame.damage_buffer(0, 0, i32::MAX, i32::MAX);
        frame.capture();
        (frame, log)
    }

    fn finished(&mut self, log: &Log, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            self.c.roundtrip().expect("roundtrip");
            if log.has("ext_image_copy_capture_frame_v1 Ready")
                || log.has("ext_image_copy_capture_frame_v1 Failed")
            {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    }
}

/// The integers of a logged event, in order (`BufferSize { width: 320, height: 240 }` → [320, 240]).
fn numbers(line: &str) -> Vec<i64> {
    let line = line.split_once('{').map_or("", |(_, rest)| rest);
    line.split(|c: char| !(c.is_ascii_digit() || c == '-'))
        .filter_map(|t| t.parse().ok())
        .collect()
}

fn lines(log: &Log, prefix: &str) -> Vec<String> {
    log.lines()
        .into_iter()
        .filter(|l| l.starts_with(prefix))
        .collect()
}

/// A window with a gradient (something exact to compare), and its client.
fn gradient_window(
    h: &Harness,
    title: &str,
) -> (Client, weft_clients::Toplevel, weft_clients::ShmBuffer) {
    let mut c = h.client();
    let t = c.toplevel(title, "weft.capture").expect("toplevel");
    let px =
        weft_clients::ShmBuffer::new(&c.shm, &c.qh, 120, 90, wl_shm::Format::Xrgb8888, |x, y| {
            weft_clients::argb((x * 2) as u8, (y * 2) as u8, 77, 0)
        })
        .expect("buffer");
    c.show(&t.surface, &px.buffer);
    h.settle(&mut c);
    (c, t, px)
}

#[test]
fn an_output_session_captures_what_weft_shows_then_waits_for_damage() {
    let h = Harness::new(W, H, 60);
    let (_app, _t, _px) = gradient_window(&h, "shown");
    let mut cap = Cap::new(&h);
    let (session, log) = cap.output_session(Options::empty());
    let size = lines(&log, "ext_image_copy_capture_session_v1 BufferSize");
    assert_eq!(numbers(&size[0]), vec![W as i64, H as i64], "{size:?}");
    assert!(
        log.lines()
            .iter()
            .any(|l| l.contains("ShmFormat") && l.contains("Xrgb8888")),
        "{:?}",
        log.lines()
    );
    assert!(log.has("ext_image_copy_capture_session_v1 DmabufDevice"));
    assert!(log.has("ext_image_copy_capture_session_v1 DmabufFormat"));

    let (fd, buffer) = cap.shm(W, H);
    let (frame, flog) = cap.capture(&session, &buffer);
    assert!(cap.finished(&flog, Duration::from_secs(5)), "no ready");
    assert!(
        flog.has("ext_image_copy_capture_frame_v1 Ready"),
        "{:?}",
        flog.lines()
    );
    assert!(flog.has("ext_image_copy_capture_frame_v1 Transform"));
    assert!(flog.has("ext_image_copy_capture_frame_v1 PresentationTime"));
    let damage = lines(&flog, "ext_image_copy_capture_frame_v1 Damage");
    assert_eq!(damage.len(), 1);
    assert_eq!(
        numbers(&damage[0]),
        vec![0, 0, W as i64, H as i64],
        "the first frame is all damage"
    );
    let shot = h.screenshot("HEADLESS-1");
    assert_same_pixels(
        "ext capture vs screenshot",
        &read_xrgb(&fd, (W, H), W * 4, 0),
        &shot.rgba,
    );
    frame.destroy();

    // Nothing changed: the next frame waits; a new window damages and it is taken.
    let (frame, flog) = cap.capture(&session, &buffer);
    assert!(
        !cap.finished(&flog, Duration::from_millis(400)),
        "ready without damage"
    );
    let mut other = h.client();
    let t = other.toplevel("new", "weft.capture").expect("toplevel");
    let px = solid_shm(&other, 30, 20, [0, 0, 255]);
    other.show(&t.surface, &px.buffer);
    h.settle(&mut other);
    assert!(
        cap.finished(&flog, Duration::from_secs(5)),
        "no ready after damage"
    );
    let damage: Vec<Vec<i64>> = lines(&flog, "ext_image_copy_capture_frame_v1 Damage")
        .iter()
        .map(|l| numbers(l))
        .collect();
    let area: i64 = damage.iter().map(|d| d[2] * d[3]).sum();
    assert!(area >= 600 && area < (W * H) as i64, "damage {damage:?}");
    frame.destroy();

    // A dma-buf frame, written by the render device.
    let dmabuf = LinuxDmabuf::bind(&mut cap.c, 4).expect("linux-dmabuf");
    let mem =
        MemBuffer::new(weft_clients::dmabuf::XRGB8888, W, H, Layout::default()).expect("memfd");
    let buffer = match mem.create(&mut cap.c, &dmabuf, 0).expect("create") {
        Outcome::Created(b) => b,
        other => panic!("refused: {other:?}"),
    };
    other.show(&t.surface, &solid_shm(&other, 30, 20, [0, 255, 255]).buffer);
    h.settle(&mut other);
    let (_frame, flog) = cap.capture(&session, &buffer);
    assert!(cap.finished(&flog, Duration::from_secs(5)));
    assert!(
        flog.has("ext_image_copy_capture_frame_v1 Ready"),
        "{:?}",
        flog.lines()
    );
    let shot = h.screenshot("HEADLESS-1");
    let p = mem.planes[0];
    assert_same_pixels(
        "ext dma-buf capture vs screenshot",
        &read_xrgb(&mem.files[0].fd, (W, H), p.stride, p.offset as usize),
        &shot.rgba,
    );
}

#[test]
fn a_window_is_captured_alone_and_its_session_stops_when_it_closes() {
    let h = Harness::new(W, H, 60);
    let (mut app, t, _px) = gradient_window(&h, "alone");
    // Another window over it: a window capture shows the window itself, not what covers it.
    let (_cover, _ct, _cpx) = {
        let mut c = h.client();
        let t2 = c.toplevel("cover", "weft.capture").expect("toplevel");
        let px = solid_shm(&c, 300, 220, [200, 0, 0]);
        c.show(&t2.surface, &px.buffer);
        h.settle(&mut c);
        (c, t2, px)
    };
    let mut cap = Cap::new(&h);
    let list_log = Log::default();
    let _list: ExtForeignToplevelListV1 = cap
        .c
        .globals
        .bind(&cap.c.qh, 1..=1, list_log.clone())
        .expect("list");
    let l = list_log.clone();
    cap.until("two windows listed", || l.children().len() == 2);
    // The handle whose title is "alone".
    let handles: Vec<_> = list_log.children();
    let index = handles
        .iter()
        .position(|h| {
            h.lines()
                .iter()
                .any(|l| l.contains("Title") && l.contains("\"alone\""))
        })
        .expect("the window's handle");
    let handle: ExtForeignToplevelHandleV1 = list_log.toplevels()[index].clone();
    let windows: ExtForeignToplevelImageCaptureSourceManagerV1 = cap
        .c
        .globals
        .bind(&cap.c.qh, 1..=1, Log::default())
        .expect("toplevel source manager");
    let source = windows.create_source(&handle, &cap.c.qh, Log::default());
    let (session, log) = cap.session(&source, Options::empty());
    let size = lines(&log, "ext_image_copy_capture_session_v1 BufferSize");
    assert_eq!(numbers(&size[0]), vec![120, 90], "the window's size");
    let (fd, buffer) = cap.shm(120, 90);
    let (frame, flog) = cap.capture(&session, &buffer);
    assert!(cap.finished(&flog, Duration::from_secs(5)));
    assert!(
        flog.has("ext_image_copy_capture_frame_v1 Ready"),
        "{:?}",
        flog.lines()
    );
    let want: Vec<u8> = (0..90u32)
        .flat_map(|y| (0..120u32).flat_map(move |x| [(x * 2) as u8, (y * 2) as u8, 77, 255]))
        .collect();
    assert_same_pixels(
        "the window alone",
        &read_xrgb(&fd, (120, 90), 480, 0),
        &want,
    );
    frame.destroy();

    // A buffer of another size than the constraints: failed (buffer_constraints).
    let (_fd, small) = cap.shm(60, 45);
    let (frame, flog) = cap.capture(&session, &small);
    assert!(cap.finished(&flog, Duration::from_secs(5)));
    assert!(
        flog.lines()
            .iter()
            .any(|l| l.contains("Failed") && l.contains("BufferConstraints")),
        "{:?}",
        flog.lines()
    );
    frame.destroy();

    // The window closes: the session stops.
    t.toplevel.destroy();
    t.surface.destroy();
    app.roundtrip().expect("roundtrip");
    let l = log.clone();
    cap.until("stopped", || {
        l.has("ext_image_copy_capture_session_v1 Stopped")
    });
}

#[test]
fn a_cursor_session_follows_the_pointer_and_captures_the_cursor_image() {
    let h = Harness::with_headless(HeadlessOptions {
        outputs: vec![OutputSpec {
            width: W,
            height: H,
            refresh_mhz: 60_000,
        }],
        ..Default::default()
    })
    .expect("weft");
    let mut cap = Cap::new(&h);
    let seat: wl_seat::WlSeat = cap.c.globals.bind(&cap.c.qh, 5..=9, ()).expect("seat");
    let pointer: wl_pointer::WlPointer =
        seat.get_pointer(&cap.c.qh, weft_clients::seat_events::Recorder::default());
    let source = cap
        .outputs
        .create_source(&cap.output, &cap.c.qh, Log::default());
    let clog = Log::default();
    let cursor =
        cap.manager
            .create_pointer_cursor_session(&source, &pointer, &cap.c.qh, clog.clone());
    h.weft
        .inject(InjectedInput::PointerMotion { x: 100.0, y: 80.0 })
        .expect("inject");
    let l = clog.clone();
    cap.until("enter", || {
        l.has("ext_image_copy_capture_cursor_session_v1 Enter")
    });
    let l = clog.clone();
    cap.until("position", || {
        l.has("ext_image_copy_capture_cursor_session_v1 Position")
    });
    let pos = lines(&clog, "ext_image_copy_capture_cursor_session_v1 Position");
    assert_eq!(numbers(pos.last().expect("position")), vec![100, 80]);
    let hot = numbers(&lines(&clog, "ext_image_copy_capture_cursor_session_v1 Hotspot")[0]);

    let slog = Log::default();
    let session = cursor.get_capture_session(&cap.c.qh, slog.clone());
    let l = slog.clone();
    cap.until("constraints", || {
        l.has("ext_image_copy_capture_session_v1 Done")
    });
    let size = numbers(&lines(&slog, "ext_image_copy_capture_session_v1 BufferSize")[0]);
    let (w, hgt) = (size[0] as u32, size[1] as u32);
    let (fd, buffer) = cap.shm(w, hgt);
    let (_frame, flog) = cap.capture(&session, &buffer);
    assert!(cap.finished(&flog, Duration::from_secs(5)));
    assert!(
        flog.has("ext_image_copy_capture_frame_v1 Ready"),
        "{:?}",
        flog.lines()
    );
    // The theme's arrow, premultiplied, over nothing.
    let theme = xcursor::CursorTheme::load(
        &std::env::var("XCURSOR_THEME").unwrap_or_else(|_| "default".into()),
    );
    let images = xcursor::parser::parse_xcursor(
        &std::fs::read(theme.load_icon("default").expect("theme")).expect("read"),
    )
    .expect("parse");
    let image = images
        .into_iter()
        .min_by_key(|i| (i64::from(i.size) - 24).abs())
        .expect("image");
    assert_eq!((image.width, image.height), (w, hgt));
    assert_eq!(vec![image.xhot as i64, image.yhot as i64], hot);
    let want: Vec<u8> = image
        .pixels_rgba
        .chunks_exact(4)
        .flat_map(|p| [p[2], p[1], p[0], 255])
        .collect();
    let got = read_xrgb(&fd, (w, hgt), w * 4, 0);
    let bad = got
        .chunks_exact(4)
        .zip(want.chunks_exact(4))
        .filter(|(a, b)| (0..3).any(|k| a[k].abs_diff(b[k]) > 3))
        .count();
    assert_eq!(bad, 0, "{bad} cursor pixels differ from the theme's");

    // Off the output: leave.
    h.weft
        .inject(InjectedInput::PointerMotion {
            x: 10_000.0,
            y: 80.0,
        })
        .expect("inject");
    let l = clog.clone();
    cap.until("leave", || {
        l.has("ext_image_copy_capture_cursor_session_v1 Leave")
    });

    // duplicate_session.
    h.with_bystander(|| {
        let _again = cursor.get_capture_session(&cap.c.qh, Log::default());
        assert_ended_with(&mut cap.c, "ext_image_copy_capture_cursor_session_v1", 1);
    });
}

#[test]
fn every_image_copy_capture_error_is_raised() {
    let h = Harness::new(W, H, 60);
    // invalid_option: an option bit the protocol does not define.
    h.with_bystander(|| {
        let mut cap = Cap::new(&h);
        let source = cap
            .outputs
            .create_source(&cap.output, &cap.c.qh, Log::default());
        // Options::from_bits_retain carries a bit the protocol does not define.
        let _bad = cap.manager.create_session(
            &source,
            Options::from_bits_retain(6),
            &cap.c.qh,
            Log::default(),
        );
        assert_ended_with(&mut cap.c, "ext_image_copy_capture_manager_v1", 1);
    });
    // duplicate_frame: a second frame while the first exists.
    h.with_bystander(|| {
        let mut cap = Cap::new(&h);
        let (session, _) = cap.output_session(Options::empty());
        let _one = session.create_frame(&cap.c.qh, Log::default());
        let _two = session.create_frame(&cap.c.qh, Log::default());
        assert_ended_with(&mut cap.c, "ext_image_copy_capture_session_v1", 1);
    });
    // no_buffer: capture without attach_buffer.
    h.with_bystander(|| {
        let mut cap = Cap::new(&h);
        let (session, _) = cap.output_session(Options::empty());
        let frame = session.create_frame(&cap.c.qh, Log::default());
        frame.capture();
        assert_ended_with(&mut cap.c, "ext_image_copy_capture_frame_v1", 1);
    });
    // invalid_buffer_damage: a negative rectangle.
    h.with_bystander(|| {
        let mut cap = Cap::new(&h);
        let (session, _) = cap.output_session(Options::empty());
        let frame = session.create_frame(&cap.c.qh, Log::default());
        frame.damage_buffer(-1, 0, 10, 10);
        assert_ended_with(&mut cap.c, "ext_image_copy_capture_frame_v1", 2);
    });
    // already_captured: attach_buffer after capture.
    h.with_bystander(|| {
        let mut cap = Cap::new(&h);
        let (session, _) = cap.output_session(Options::empty());
        let (_fd, buffer) = cap.shm(W, H);
        let frame = session.create_frame(&cap.c.qh, Log::default());
        frame.attach_buffer(&buffer);
        frame.capture();
        frame.attach_buffer(&buffer);
        assert_ended_with(&mut cap.c, "ext_image_copy_capture_frame_v1", 3);
    });
}
