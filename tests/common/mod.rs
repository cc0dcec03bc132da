//! The in-process harness: a headless weft on its own thread with a private runtime directory, real
//! Wayland clients over its socket, screenshots read back through the IPC socket.

#![allow(dead_code)] // each test file uses a different part of the harness

use std::path::{Path, PathBuf};

use tracing_subscriber::Layer as _;

use weft::{private_runtime_dir, HeadlessOptions, Request, Running};
use weft_backends::server::ServerOptions;
use weft_clients::Client;
use weft_compositor::OutputSpec;

pub mod vgem;
pub mod yuv;

/// weft's default background, as the screenshot stores it (RGBA).
pub const BACKGROUND: [u8; 4] = [20, 23, 28, 255];

/// ERROR-level events seen in this test process. The logging policy says an ERROR is always a bug
/// in weft (Vulkan validation errors included: debug builds enable the layer when installed), so
/// every harness checks this count when it ends.
static ERRORS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

struct CountErrors;

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for CountErrors {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        // One exception, not weft's: smithay's X11 event thread logs its connection closing at
        // ERROR, which is what it does every time Xwayland exits (weft then logs why at INFO and
        // reserves the display again; tests/xwayland.rs stops an Xwayland on purpose).
        let xwayland_exit = event.metadata().target() == "smithay::utils::x11rb";
        if *event.metadata().level() == tracing::Level::ERROR && !xwayland_exit {
            ERRORS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }
}

fn install_log() {
    use tracing_subscriber::layer::SubscriberExt;
    let filter = tracing_subscriber::EnvFilter::try_from_env("WEFT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let subscriber = tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_test_writer()
                .with_filter(filter),
        )
        .with(CountErrors);
    // Once per test process; later calls find it installed.
    let _ = tracing::subscriber::set_global_default(subscriber);
}

pub struct Harness {
    pub weft: Running,
    pub runtime_dir: PathBuf,
}

impl Harness {
    /// weft with one output of `w`×`h` at `hz` Hz.
    pub fn new(w: u32, h: u32, hz: u32) -> Self {
        Self::with(
            vec![OutputSpec {
                width: w,
                height: h,
                refresh_mhz: hz * 1000,
            }],
            false,
        )
    }

    /// weft whose presentation clock advances exactly one refresh period per frame.
    pub fn deterministic(w: u32, h: u32, hz: u32) -> Self {
        Self::with(
            vec![OutputSpec {
                width: w,
                height: h,
                refresh_mhz: hz * 1000,
            }],
            true,
        )
    }

    pub fn with(outputs: Vec<OutputSpec>, deterministic_clock: bool) -> Self {
        Self::with_options(outputs, deterministic_clock, None)
    }

    pub fn with_options(
        outputs: Vec<OutputSpec>,
        deterministic_clock: bool,
        ping_timeout: Option<std::time::Duration>,
    ) -> Self {
        Self::start(outputs, deterministic_clock, ping_timeout, false)
    }

    /// weft with one output that accepts `weft msg inject-fault` (test hooks).
    pub fn with_fault_injection(w: u32, h: u32, hz: u32) -> Self {
        let output = OutputSpec {
            width: w,
            height: h,
            refresh_mhz: hz * 1000,
        };
        Self::start(vec![output], false, None, true)
    }

    fn start(
        outputs: Vec<OutputSpec>,
        deterministic_clock: bool,
        ping_timeout: Option<std::time::Duration>,
        fault_injection: bool,
    ) -> Self {
        let server = ServerOptions {
            fault_injection,
            ..Default::default()
        };
        Self::with_server(outputs, deterministic_clock, ping_timeout, server).expect("weft starts")
    }

    /// weft with `server` options (its runtime directory is the harness's own).
    pub fn with_server(
        outputs: Vec<OutputSpec>,
        deterministic_clock: bool,
        ping_timeout: Option<std::time::Duration>,
        server: ServerOptions,
    ) -> anyhow::Result<Self> {
        Self::with_headless(HeadlessOptions {
            outputs,
            server,
            deterministic_clock,
            ping_timeout,
            draw_cursor: false,
        })
    }

    /// A headless weft with `options`, its runtime directory private to the test.
    pub fn with_headless(options: HeadlessOptions) -> anyhow::Result<Self> {
        install_log();
        let runtime_dir = private_runtime_dir("test")?;
        let weft = Running::start(HeadlessOptions {
            server: ServerOptions {
                runtime_dir: Some(runtime_dir.clone()),
                ..options.server
            },
            ..options
        })?;
        Ok(Self { weft, runtime_dir })
    }

    pub fn client(&self) -> Client {
        Client::connect(&self.weft.wayland_path()).expect("client connects")
    }

    pub fn msg(&self, req: Request) -> serde_json::Value {
        self.weft.msg(&req).expect("IPC request")
    }

    /// Runs `f` while a bystander client shows a window, then checks that the bystander still
    /// gets frame callbacks (what one client does must not harm the others).
    pub fn with_bystander(&self, f: impl FnOnce()) {
        let mut bystander = self.client();
        let bt = bystander
            .toplevel("bystander", "weft.test")
            .expect("toplevel");
        let px = solid_shm(&bystander, 16, 16, [0, 255, 0]);
        bystander.show(&bt.surface, &px.buffer);
        self.settle(&mut bystander);
        f();
        bystander.frame(&bt.surface, 7);
        bystander.show(&bt.surface, &px.buffer);
        bystander
            .wait_until("the bystander is served", 500, |s| {
                s.frames_done.iter().any(|(t, _)| *t == 7)
            })
            .expect("bystander frame callback");
    }

    /// `weft msg inject-fault NAME` (a harness made `with_fault_injection`).
    pub fn inject_fault(&self, name: &str) {
        let req: Request =
            serde_json::from_value(serde_json::json!({ "command": "inject_fault", "fault": name }))
                .expect("request");
        self.msg(req);
    }

    /// wl_shm buffers copied at commit from now on, not read in place (for the tests of the copy
    /// path: damage, slices, budgets).
    pub fn copy_shm(&self) {
        self.msg(Request::ImportPolicy {
            disabled: Some(vec!["ShmInPlace".into()]),
            yuv: None,
            cpu_convert: None,
        });
    }

    pub fn surfaces(&self) -> Vec<serde_json::Value> {
        self.msg(Request::Surfaces)
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// The surface record whose title is `title`.
    pub fn surface(&self, title: &str) -> serde_json::Value {
        self.surfaces()
            .into_iter()
            .find(|s| s["title"] == title)
            .unwrap_or_else(|| panic!("no surface titled {title}: {:?}", self.surfaces()))
    }

    /// A screenshot of `output` (e.g. "HEADLESS-1").
    pub fn screenshot(&self, output: &str) -> Image {
        let path = self.runtime_dir.join(format!("shot-{}.png", unique()));
        self.msg(Request::Screenshot {
            output: output.into(),
            path: path.to_string_lossy().into_owned(),
        });
        let img = Image::load(&path);
        let _ = std::fs::remove_file(&path);
        img
    }

    /// Lets a few output frames pass (the scene is rendered on frame ticks).
    pub fn settle(&self, client: &mut Client) {
        client.roundtrip().expect("roundtrip");
        std::thread::sleep(std::time::Duration::from_millis(60));
        client.roundtrip().expect("roundtrip");
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        // weft stops first: how it ends, and what it logs while stopping, count too.
        let stopped = self.weft.stop_now();
        let _ = std::fs::remove_dir_all(&self.runtime_dir);
        if std::thread::panicking() {
            return;
        }
        if let Err(e) = stopped {
            panic!("weft did not stop cleanly: {e:#}");
        }
        let errors = ERRORS.load(std::sync::atomic::Ordering::SeqCst);
        if errors > 0 {
            panic!("{errors} ERROR events were logged (see the test output): each is a weft bug");
        }
    }
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// Checks that `c` was ended with the protocol error `interface`.`code` (after what it sent).
pub fn assert_ended_with(c: &mut Client, interface: &str, code: u32) {
    let ended = c.roundtrip().and_then(|_| c.roundtrip());
    assert!(ended.is_err(), "{interface}.{code} was not raised");
    let (got, iface, message) = c.protocol_error().expect("a protocol error");
    println!("{iface}.{got}: {message}");
    assert_eq!((iface.as_str(), got), (interface, code), "{message}");
}

/// XRGB8888 pixels (a capture) read from `fd`: `h` rows of `stride` bytes from byte `offset`, as
/// opaque RGBA.
pub fn read_xrgb(
    fd: &std::os::fd::OwnedFd,
    (w, h): (u32, u32),
    stride: u32,
    offset: usize,
) -> Vec<u8> {
    let mut bytes = vec![0u8; offset + (stride * h) as usize];
    rustix::io::pread(fd, &mut bytes, 0).expect("read the capture");
    let mut out = Vec::with_capacity((w * h * 4) as usize);
    for y in 0..h {
        for x in 0..w {
            let i = offset + (y * stride + x * 4) as usize;
            out.extend_from_slice(&[bytes[i + 2], bytes[i + 1], bytes[i], 255]);
        }
    }
    out
}

/// Checks two RGBA images are the same pixel for pixel, naming the first that differs.
pub fn assert_same_pixels(what: &str, got: &[u8], want: &[u8]) {
    assert_eq!(got.len(), want.len(), "{what}: sizes differ");
    let bad = got
        .chunks_exact(4)
        .zip(want.chunks_exact(4))
        .position(|(a, b)| a != b);
    assert!(bad.is_none(), "{what}: first differing pixel #{bad:?}");
}

/// A wl_shm pool of `size` bytes in an unsealed memfd.
pub fn memfd_pool(
    c: &Client,
    size: usize,
) -> (
    std::os::fd::OwnedFd,
    wayland_client::protocol::wl_shm_pool::WlShmPool,
) {
    let fd = rustix::fs::memfd_create("weft-test", rustix::fs::MemfdFlags::CLOEXEC).expect("memfd");
    rustix::fs::ftruncate(&fd, size as u64).expect("ftruncate");
    let pool = c
        .shm
        .create_pool(std::os::fd::AsFd::as_fd(&fd), size as i32, &c.qh, ());
    (fd, pool)
}

/// A `w`×`h` XRGB8888 wl_shm buffer of one colour (`rgb`).
pub fn solid_shm(
    c: &weft_clients::Client,
    w: i32,
    h: i32,
    rgb: [u8; 3],
) -> weft_clients::ShmBuffer {
    weft_clients::ShmBuffer::new(
        &c.shm,
        &c.qh,
        w,
        h,
        wayland_client::protocol::wl_shm::Format::Xrgb8888,
        |_, _| weft_clients::argb(rgb[0], rgb[1], rgb[2], 0),
    )
    .expect("shm buffer")
}

/// An 8-bit RGBA image.
#[derive(Clone)]
pub struct Image {
    pub width: u32,
    pub height: u32,
    pub rgba: Vec<u8>,
}

impl Image {
    pub fn load(path: &Path) -> Self {
        let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let decoder = png::Decoder::new(std::io::BufReader::new(file));
        let mut reader = decoder.read_info().expect("PNG header");
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).expect("PNG data");
        assert_eq!(
            info.bit_depth,
            png::BitDepth::Eight,
            "{}: not 8-bit",
            path.display()
        );
        buf.truncate(info.buffer_size());
        // RGB (a screenshot tool's PNG) is read as opaque RGBA.
        let buf = match info.color_type {
            png::ColorType::Rgba => buf,
            png::ColorType::Rgb => buf
                .chunks_exact(3)
                .flat_map(|p| [p[0], p[1], p[2], 255])
                .collect(),
            other => panic!("{}: {other:?}, not RGB or RGBA", path.display()),
        };
        Self {
            width: info.width,
            height: info.height,
            rgba: buf,
        }
    }

    pub fn save(&self, path: &Path) {
        let file = std::fs::File::create(path).expect("create PNG");
        let mut enc = png::Encoder::new(std::io::BufWriter::new(file), self.width, self.height);
        enc.set_color(png::ColorType::Rgba);
        enc.set_depth(png::BitDepth::Eight);
        enc.write_header()
            .expect("header")
            .write_image_data(&self.rgba)
            .expect("data");
    }

    pub fn pixel(&self, x: u32, y: u32) -> [u8; 4] {
        let o = ((y * self.width + x) * 4) as usize;
        [
            self.rgba[o],
            self.rgba[o + 1],
            self.rgba[o + 2],
            self.rgba[o + 3],
        ]
    }

    /// Asserts the pixel at (x, y) is `want` within `tol` per channel.
    #[track_caller]
    pub fn assert_pixel(&self, x: u32, y: u32, want: [u8; 4], tol: u8) {
        let got = self.pixel(x, y);
        let ok = got.iter().zip(want).all(|(g, w)| g.abs_diff(w) <= tol);
        assert!(ok, "pixel ({x},{y}) is {got:?}, want {want:?} ±{tol}");
    }

    /// Compares with the reference image `resources/reference/NAME.png` (per channel within `tol`;
    /// at most `max_bad` pixels may differ). `WEFT_BLESS=1` writes the reference instead.
    #[track_caller]
    pub fn assert_matches_reference(&self, name: &str, tol: u8, max_bad: usize) {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("resources/reference")
            .join(format!("{name}.png"));
        if std::env::var_os("WEFT_BLESS").is_some() {
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            self.save(&path);
            return;
        }
        let reference = Image::load(&path);
        assert_eq!(
            (self.width, self.height),
            (reference.width, reference.height),
            "{name}: size differs"
        );
        let bad = self
            .rgba
            .chunks_exact(4)
            .zip(reference.rgba.chunks_exact(4))
            .filter(|(a, b)| a.iter().zip(b.iter()).any(|(x, y)| x.abs_diff(*y) > tol))
            .count();
        if bad > max_bad {
            let out = std::env::temp_dir().join(format!("weft-{name}-actual.png"));
            self.save(&out);
            panic!("{name}: {bad} pixels differ from the reference by more than {tol}; actual saved to {}", out.display());
        }
    }

    /// Number of distinct colours inside a rectangle.
    pub fn distinct_colors(&self, x: u32, y: u32, w: u32, h: u32) -> usize {
        let mut seen = std::collections::HashSet::new();
        for yy in y..(y + h).min(self.height) {
            for xx in x..(x + w).min(self.width) {
                seen.insert(self.pixel(xx, yy));
            }
        }
        seen.len()
    }
}
