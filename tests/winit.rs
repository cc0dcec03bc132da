//! The winit backend, end to end under Xvfb with lavapipe: `weft --backend winit` opens an X window
//! and presents through a Vulkan swapchain; a Wayland client draws a known pattern, which must show
//! up in an X screenshot of that window (GetImage); a click and a key injected with XTest must reach
//! the client as wl_pointer.button and wl_keyboard.key, and leaving the window as wl_pointer.leave;
//! resizing the X window must change the wl_output mode and reconfigure a maximized toplevel;
//! WM_DELETE_WINDOW must end weft with status 0.
//!
//! Needs `Xvfb` (package xvfb) on PATH and a Vulkan driver with VK_KHR_xlib_surface (lavapipe from
//! mesa-vulkan-drivers). Without Xvfb the test fails, saying so; it never skips.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use wayland_client::protocol::{wl_seat, wl_shm};
use wayland_client::Proxy;
use wayland_protocols::xdg::shell::client::xdg_toplevel;
use weft::{private_runtime_dir, Request};
use weft_clients::seat_events::{Recorder, Seen};
use weft_clients::{argb, Client, ShmBuffer};
use x11rb::connection::Connection as _;
use x11rb::protocol::xproto::{
    self, AtomEnum, ClientMessageEvent, ConfigureWindowAux, ConnectionExt as _, EventMask,
    ImageFormat, InputFocus,
};
use x11rb::protocol::xtest::ConnectionExt as _;
use x11rb::rust_connection::RustConnection;
use x11rb::wrapper::ConnectionExt as _;

const SOCKET: &str = "weft-winit-test";
const OUT_W: u32 = 640;
const OUT_H: u32 = 480;
const WIN_W: i32 = 200;
const WIN_H: i32 = 150;
/// weft's background, as 8-bit sRGB-encoded values (state.rs: [0.08, 0.09, 0.11]).
const BACKGROUND: [u8; 3] = [20, 23, 28];
/// The client's four quadrants: top-left, top-right, bottom-left, bottom-right.
const QUADRANTS: [[u8; 3]; 4] = [[230, 20, 20], [20, 200, 40], [30, 40, 220], [240, 220, 30]];
/// X keycode of the key injected (the key labelled A on evdev keymaps); the client must see the
/// evdev code, keycode - 8.
const X_KEYCODE: u8 = 38;
const DEADLINE: Duration = Duration::from_secs(20);

/// A process killed (if still running) and reaped on drop.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A directory removed on drop, also when the test fails.
struct RemoveDir(PathBuf);

impl Drop for RemoveDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Starts Xvfb on the first free display number from 70; returns it with its display number.
fn start_xvfb() -> (Reaped, u32) {
    for n in 70..200u32 {
        if Path::new(&format!("/tmp/.X{n}-lock")).exists()
            || Path::new(&format!("/tmp/.X11-unix/X{n}")).exists()
        {
            continue;
        }
        let child = match Command::new("Xvfb")
            .args([
                &format!(":{n}"),
                "-screen",
                "0",
                "1024x768x24",
                "-nolisten",
                "tcp",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
        {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
                "Xvfb is not installed (or not on PATH): the winit backend test needs it. \
                 Install the xvfb package (scripts/install-deps --test)."
            ),
            Err(e) => panic!("cannot start Xvfb: {e}"),
        };
        let mut xvfb = Reaped(child);
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(_)) = xvfb.0.try_wait() {
                // Lost a race for this display number: try the next one.
                break;
            }
            if RustConnection::connect(Some(&format!(":{n}"))).is_ok() {
                return (xvfb, n);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let mut err = String::new();
        if let Some(mut e) = xvfb.0.stderr.take() {
            let _ = xvfb.0.kill();
            let _ = e.read_to_string(&mut err);
        }
        eprintln!("Xvfb :{n} did not come up: {err}");
    }
    panic!("no free X display number in 70..200");
}

/// How many of the recorded seat events `rec` holds satisfy `f`.
fn count(rec: &Recorder, f: impl Fn(&Seen) -> bool) -> usize {
    rec.snapshot().iter().filter(|e| f(e)).count()
}

/// The recorded buttons (code, pressed), in order.
fn buttons(rec: &Recorder) -> Vec<(u32, bool)> {
    rec.snapshot()
        .into_iter()
        .filter_map(|e| match e {
            Seen::Button { button, pressed } => Some((button, pressed)),
            _ => None,
        })
        .collect()
}

/// The recorded keys (evdev code, pressed), in order.
fn keys(rec: &Recorder) -> Vec<(u32, bool)> {
    rec.snapshot()
        .into_iter()
        .filter_map(|e| match e {
            Seen::Key { key, pressed } => Some((key, pressed)),
            _ => None,
        })
        .collect()
}

/// The X side: a connection to Xvfb and weft's window.
struct X {
    conn: RustConnection,
    root: xproto::Window,
    window: xproto::Window,
}

impl X {
    /// Connects and finds the top-level window named "weft".
    fn find_weft(display: u32) -> Self {
        let (conn, screen) =
            RustConnection::connect(Some(&format!(":{display}"))).expect("connect to Xvfb");
        let root = conn.setup().roots[screen].root;
        let tree = conn
            .query_tree(root)
            .expect("query_tree")
            .reply()
            .expect("query_tree reply");
        let window = tree
            .children
            .iter()
            .copied()
            .find(|&w| {
                conn.get_property(false, w, AtomEnum::WM_NAME, AtomEnum::STRING, 0, 64)
                    .ok()
                    .and_then(|c| c.reply().ok())
                    .is_some_and(|p| p.value == b"weft")
            })
            .expect("weft's X window (WM_NAME \"weft\") is not there");
        Self { conn, root, window }
    }

    fn geometry(&self) -> (i16, i16, u16, u16) {
        let g = self
            .conn
            .get_geometry(self.window)
            .expect("get_geometry")
            .reply()
            .expect("geometry reply");
        let t = self
            .conn
            .translate_coordinates(self.window, self.root, 0, 0)
            .expect("translate_coordinates")
            .reply()
            .expect("translate reply");
        (t.dst_x, t.dst_y, g.width, g.height)
    }

    /// The window's pixels as (width, height, RGB rows).
    fn screenshot(&self) -> (u32, u32, Vec<[u8; 3]>) {
        let (_, _, w, h) = self.geometry();
        let image = self
            .conn
            .get_image(ImageFormat::Z_PIXMAP, self.window, 0, 0, w, h, !0)
            .expect("get_image")
            .reply()
            .expect("get_image reply");
        let setup = self.conn.setup();
        assert_eq!(image.depth, 24, "the test reads 24-bit TrueColor windows");
        assert_eq!(
            setup.image_byte_order,
            xproto::ImageOrder::LSB_FIRST,
            "the test reads LSB-first images"
        );
        let bpp = setup
            .pixmap_formats
            .iter()
            .find(|f| f.depth == 24)
            .map(|f| f.bits_per_pixel)
            .expect("a pixmap format for depth 24");
        assert_eq!(bpp, 32, "the test reads 32 bits per pixel");
        let pixels = image
            .data
            .chunks_exact(4)
            .map(|p| [p[2], p[1], p[0]])
            .collect();
        (u32::from(w), u32::from(h), pixels)
    }

    fn fake(&self, kind: u8, detail: u8, x: i16, y: i16) {
        self.conn
            .xtest_fake_input(kind, detail, 0, self.root, x, y, 0)
            .expect("xtest_fake_input");
        self.conn.sync().expect("sync");
    }
}

fn close(a: [u8; 3], b: [u8; 3]) -> bool {
    a.iter().zip(b).all(|(x, y)| x.abs_diff(y) <= 2)
}

/// Runs `client` dispatching until `done` or the deadline; panics with `what` and weft's log.
fn wait_for(c: &mut Client, log: &Path, what: &str, mut done: impl FnMut(&mut Client) -> bool) {
    let start = Instant::now();
    while !done(c) {
        if start.elapsed() > DEADLINE {
            panic!(
                "timed out waiting for {what}\n--- weft's log ---\n{}",
                read_log(log)
            );
        }
        c.roundtrip().expect("roundtrip");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn read_log(log: &Path) -> String {
    std::fs::read_to_string(log).unwrap_or_else(|e| format!("(cannot read {}: {e})", log.display()))
}

fn surface_position(ipc: &Path) -> Option<(i32, i32)> {
    let surfaces = weft_compositor::ipc::client::request(ipc, &Request::Surfaces).ok()?;
    let s = surfaces
        .as_array()?
        .iter()
        .find(|s| s["app_id"] == "weft.winit-test")?;
    Some((s["x"].as_i64()? as i32, s["y"].as_i64()? as i32))
}

#[test]
fn winit_backend_shows_clients_and_forwards_input() {
    let started = Instant::now();
    let (_xvfb, display) = start_xvfb();
    let runtime = private_runtime_dir("winit-test").expect("runtime dir");
    let _cleanup = RemoveDir(runtime.clone());
    let log: PathBuf = runtime.join("weft.log");
    let weft = Command::new(env!("CARGO_BIN_EXE_weft"))
        .args([
            "--backend",
            "winit",
            "--output",
            &format!("{OUT_W}x{OUT_H}@60"),
            "--socket",
            SOCKET,
            "--fault-injection",
        ])
        .env("DISPLAY", format!(":{display}"))
        // winit would pick a parent session's Wayland display over Xvfb.
        .env_remove("WAYLAND_DISPLAY")
        .env("XDG_RUNTIME_DIR", &runtime)
        .env("WEFT_LOG", "info")
        // Plain text, so the log can be searched for levels.
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log file"))
        .spawn()
        .expect("spawn weft");
    let mut weft = Reaped(weft);

    // weft listens once its window and swapchain exist.
    let socket = runtime.join(SOCKET);
    let ipc = weft_compositor::ipc::client::socket_path(&runtime, SOCKET);
    let start = Instant::now();
    while !(socket.exists() && ipc.exists()) {
        if let Ok(Some(status)) = weft.0.try_wait() {
            panic!(
                "weft exited early with {status}\n--- weft's log ---\n{}",
                read_log(&log)
            );
        }
        assert!(
            start.elapsed() < DEADLINE,
            "weft never listened\n--- weft's log ---\n{}",
            read_log(&log)
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    let mut c = Client::connect(&socket).expect("connect to weft");
    let outputs =
        weft_compositor::ipc::client::request(&ipc, &Request::Outputs).expect("IPC outputs");
    assert_eq!(outputs[0]["name"], "WINIT-1");
    // Today every composed frame is copied once into the swapchain image, and says so.
    assert_eq!(outputs[0]["composed_copies_per_frame"], 1, "{outputs}");
    assert!(
        outputs[0]["composed_copies_why"]
            .as_str()
            .is_some_and(|w| w.contains("swapchain image")),
        "{outputs}"
    );
    assert_eq!(
        (outputs[0]["width"].as_u64(), outputs[0]["height"].as_u64()),
        (Some(OUT_W.into()), Some(OUT_H.into()))
    );

    // The seat, on the same connection as the surface: input goes to the focused client only.
    let rec = Recorder::default();
    let seat: wl_seat::WlSeat = c.globals.bind(&c.qh, 1..=7, rec.clone()).expect("wl_seat");
    let _keyboard = seat.get_keyboard(&c.qh, rec.clone());
    let _pointer = seat.get_pointer(&c.qh, rec.clone());

    // A toplevel with four coloured quadrants.
    let top = c
        .toplevel("winit test", "weft.winit-test")
        .expect("toplevel");
    let mut buffer = ShmBuffer::new(
        &c.shm,
        &c.qh,
        WIN_W,
        WIN_H,
        wl_shm::Format::Xrgb8888,
        |x, y| {
            let q = QUADRANTS[usize::from(x >= WIN_W / 2) + 2 * usize::from(y >= WIN_H / 2)];
            argb(q[0], q[1], q[2], 255)
        },
    )
    .expect("shm buffer");
    c.frame(&top.surface, 1);
    c.show(&top.surface, &buffer.buffer);
    // The backend sends frame callbacks only after a frame reached the window.
    wait_for(&mut c, &log, "the first frame callback", |c| {
        c.state.frames_done.iter().any(|(t, _)| *t == 1)
    });
    let (sx, sy) = surface_position(&ipc).expect("the surface over IPC");

    // The pattern, composited over the background, in the X window.
    let x = X::find_weft(display);
    let (wx, wy, ww, wh) = x.geometry();
    assert_eq!(
        (u32::from(ww), u32::from(wh)),
        (OUT_W, OUT_H),
        "weft's window has the output's size"
    );
    let probes = [
        (sx + WIN_W / 4, sy + WIN_H / 4, QUADRANTS[0]),
        (sx + 3 * WIN_W / 4, sy + WIN_H / 4, QUADRANTS[1]),
        (sx + WIN_W / 4, sy + 3 * WIN_H / 4, QUADRANTS[2]),
        (sx + 3 * WIN_W / 4, sy + 3 * WIN_H / 4, QUADRANTS[3]),
        (5, 5, BACKGROUND),
        (OUT_W as i32 - 5, OUT_H as i32 - 5, BACKGROUND),
    ];
    let start = Instant::now();
    loop {
        let (w, _, pixels) = x.screenshot();
        let seen: Vec<_> = probes
            .iter()
            .map(|&(px, py, _)| pixels[(py as u32 * w + px as u32) as usize])
            .collect();
        if probes.iter().zip(&seen).all(|(p, s)| close(p.2, *s)) {
            break;
        }
        if start.elapsed() > DEADLINE {
            let want: Vec<_> = probes.iter().map(|p| (p.0, p.1, p.2)).collect();
            panic!("the X window does not show the client's pattern\nwant {want:?}\nseen {seen:?}\n--- weft's log ---\n{}", read_log(&log));
        }
        std::thread::sleep(Duration::from_millis(100));
    }

    // The render device is lost (test hook): at the next frame weft finds out, rebuilds its
    // renderer and the window's swapchain on a new device, and the client's pattern is in the
    // window again.
    let fault: Request = serde_json::from_value(
        serde_json::json!({ "command": "inject_fault", "fault": "device-lost" }),
    )
    .expect("request");
    weft_compositor::ipc::client::request(&ipc, &fault).expect("fault injected");
    c.frame(&top.surface, 2);
    c.show(&top.surface, &buffer.buffer);
    wait_for(&mut c, &log, "a frame callback after the rebuild", |c| {
        c.state.frames_done.iter().any(|(t, _)| *t == 2)
    });
    let devices =
        weft_compositor::ipc::client::request(&ipc, &Request::Devices).expect("IPC devices");
    let render = weft_compositor::ipc::client::render_device(&devices).expect("a render device");
    assert_eq!(render["generation"], 1, "{devices}");
    let start = Instant::now();
    loop {
        let (w, _, pixels) = x.screenshot();
        let (px, py, want) = probes[0];
        let seen = pixels[(py as u32 * w + px as u32) as usize];
        if close(want, seen) {
            break;
        }
        assert!(
            start.elapsed() < DEADLINE,
            "after the rebuild the window shows {seen:?} at ({px}, {py}), not {want:?}\n--- weft's log ---\n{}",
            read_log(&log)
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    // Buffer age: six small damages in a row, one frame each, more frames than the swapchain has
    // images, so every image is brought up to date from an older frame by the changes since. The
    // window must end up with all six squares and the rest of the pattern intact.
    let square = |i: i32| (10 + i * 30, 10 + (i % 2) * 40);
    let colour = |i: i32| [(40 * i) as u8, (250 - 35 * i) as u8, 128];
    for i in 0..6 {
        let (bx, by) = square(i);
        let c_ = colour(i);
        let stride = buffer.stride as usize;
        let bytes = buffer.bytes_mut();
        for y in by..by + 20 {
            for x in bx..bx + 20 {
                let o = y as usize * stride + x as usize * 4;
                bytes[o..o + 4].copy_from_slice(&argb(c_[0], c_[1], c_[2], 255));
            }
        }
        let tag = 10 + i as u32;
        c.frame(&top.surface, tag);
        top.surface.attach(Some(&buffer.buffer), 0, 0);
        top.surface.damage_buffer(bx, by, 20, 20);
        top.surface.commit();
        wait_for(&mut c, &log, "a frame callback after a small damage", |c| {
            c.state.frames_done.iter().any(|(t, _)| *t == tag)
        });
    }
    let mut age_probes: Vec<(i32, i32, [u8; 3])> = (0..6)
        .map(|i| {
            let (bx, by) = square(i);
            (sx + bx + 10, sy + by + 10, colour(i))
        })
        .collect();
    age_probes.extend_from_slice(&probes[1..]);
    let start = Instant::now();
    loop {
        let (w, _, pixels) = x.screenshot();
        let seen: Vec<_> = age_probes
            .iter()
            .map(|&(px, py, _)| pixels[(py as u32 * w + px as u32) as usize])
            .collect();
        if age_probes.iter().zip(&seen).all(|(p, s)| close(p.2, *s)) {
            break;
        }
        assert!(
            start.elapsed() < DEADLINE,
            "after small damages the window is stale
want {age_probes:?}
seen {seen:?}
--- weft's log ---
{}",
            read_log(&log)
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    // The new toplevel has the keyboard. A click on it reaches it as wl_pointer.button.
    wait_for(
        &mut c,
        &log,
        "wl_keyboard.enter on the new toplevel",
        |_| count(&rec, |e| *e == Seen::KeyboardEnter) >= 1,
    );
    let (cx, cy) = (wx + (sx + WIN_W / 2) as i16, wy + (sy + WIN_H / 2) as i16);
    x.fake(xproto::MOTION_NOTIFY_EVENT, 0, cx, cy);
    x.fake(xproto::BUTTON_PRESS_EVENT, 1, cx, cy);
    x.fake(xproto::BUTTON_RELEASE_EVENT, 1, cx, cy);
    wait_for(&mut c, &log, "wl_pointer.button press and release", |_| {
        count(&rec, |e| matches!(e, Seen::PointerEnter { .. })) >= 1
            && buttons(&rec) == [(0x110, true), (0x110, false)]
    });

    // Leaving weft's window leaves the surface; coming back enters it again.
    x.fake(xproto::MOTION_NOTIFY_EVENT, 0, 1000, 750);
    wait_for(
        &mut c,
        &log,
        "wl_pointer.leave when the pointer leaves the window",
        |_| count(&rec, |e| *e == Seen::PointerLeave) >= 1,
    );
    x.fake(xproto::MOTION_NOTIFY_EVENT, 0, cx, cy);
    wait_for(
        &mut c,
        &log,
        "wl_pointer.enter when the pointer comes back",
        |_| count(&rec, |e| matches!(e, Seen::PointerEnter { .. })) >= 2,
    );

    // A key typed into weft's window reaches the focused client as its evdev code.
    x.conn
        .set_input_focus(InputFocus::POINTER_ROOT, x.window, x11rb::CURRENT_TIME)
        .expect("set_input_focus");
    x.fake(xproto::KEY_PRESS_EVENT, X_KEYCODE, cx, cy);
    x.fake(xproto::KEY_RELEASE_EVENT, X_KEYCODE, cx, cy);
    let code = u32::from(X_KEYCODE) - 8;
    wait_for(&mut c, &log, "wl_keyboard.key press and release", |_| {
        keys(&rec) == [(code, true), (code, false)]
    });

    // A maximized toplevel fills the output, and follows the window when it is resized.
    top.toplevel.set_maximized();
    wait_for(
        &mut c,
        &log,
        "a maximized configure of the output's size",
        |c| {
            c.state
                .toplevel_configures
                .get(&top.toplevel.id())
                .is_some_and(|(w, h, states)| {
                    (*w, *h) == (OUT_W as i32, OUT_H as i32)
                        && states.contains(&(xdg_toplevel::State::Maximized as u32))
                })
        },
    );
    let (new_w, new_h) = (720u32, 540u32);
    x.conn
        .configure_window(
            x.window,
            &ConfigureWindowAux::new().width(new_w).height(new_h),
        )
        .expect("configure_window");
    x.conn.sync().expect("sync");
    wait_for(
        &mut c,
        &log,
        "wl_output.mode and a maximized configure of the new size",
        |c| {
            let mode = c
                .state
                .outputs
                .iter()
                .any(|o| (o.1, o.2) == (new_w as i32, new_h as i32));
            let configured = c
                .state
                .toplevel_configures
                .get(&top.toplevel.id())
                .is_some_and(|(w, h, _)| (*w, *h) == (new_w as i32, new_h as i32));
            mode && configured
        },
    );
    // The swapchain followed: the new corner of the window shows weft's background.
    let start = Instant::now();
    loop {
        let (w, h, pixels) = x.screenshot();
        let corner = pixels[((h - 5) * w + (w - 5)) as usize];
        if (w, h) == (new_w, new_h) && close(corner, BACKGROUND) {
            break;
        }
        assert!(
            start.elapsed() < DEADLINE,
            "after the resize the window is {w}x{h} and its corner shows {corner:?}\n--- weft's log ---\n{}",
            read_log(&log)
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    // Closing the window (what a window manager sends) ends weft cleanly.
    let atom = |name: &[u8]| {
        x.conn
            .intern_atom(false, name)
            .expect("intern_atom")
            .reply()
            .expect("atom")
            .atom
    };
    let (protocols, delete) = (atom(b"WM_PROTOCOLS"), atom(b"WM_DELETE_WINDOW"));
    let message = ClientMessageEvent::new(
        32,
        x.window,
        protocols,
        [delete, x11rb::CURRENT_TIME, 0, 0, 0],
    );
    x.conn
        .send_event(false, x.window, EventMask::NO_EVENT, message)
        .expect("send_event");
    x.conn.sync().expect("sync");
    let start = Instant::now();
    let status = loop {
        if let Some(status) = weft.0.try_wait().expect("wait for weft") {
            break status;
        }
        assert!(
            start.elapsed() < DEADLINE,
            "weft did not exit after WM_DELETE_WINDOW\n--- weft's log ---\n{}",
            read_log(&log)
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        status.success(),
        "weft exited with {status}\n--- weft's log ---\n{}",
        read_log(&log)
    );
    // An ERROR in weft's log is a bug in weft (Vulkan validation errors included, in debug builds
    // where the Khronos layer is installed).
    let text = read_log(&log);
    assert!(
        !text.contains(" ERROR "),
        "weft logged an error\n--- weft's log ---\n{text}"
    );
    drop(buffer);
    eprintln!(
        "winit backend test took {:.1}s",
        started.elapsed().as_secs_f64()
    );
}

/// Runs weft with neither WAYLAND_DISPLAY nor DISPLAY; returns its status and stderr.
fn weft_without_session(args: &[&str]) -> (std::process::ExitStatus, String) {
    let runtime = private_runtime_dir("no-session").expect("runtime dir");
    let out = Command::new(env!("CARGO_BIN_EXE_weft"))
        .args(args)
        .env_remove("WAYLAND_DISPLAY")
        .env_remove("DISPLAY")
        .env("XDG_RUNTIME_DIR", &runtime)
        .stdin(Stdio::null())
        .output()
        .expect("run weft");
    let _ = std::fs::remove_dir_all(&runtime);
    (
        out.status,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn default_backend_without_a_session_is_drm_which_says_why_it_cannot_start() {
    // No DISPLAY, no WAYLAND_DISPLAY: the session backend. Here (no seat weft may use, or no KMS
    // device) it says which and exits 1; tests/vm_drm.rs runs it where it can start.
    let (status, stderr) = weft_without_session(&[]);
    assert_eq!(status.code(), Some(1), "stderr: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        ["no seat:", "no KMS device:", "no output:"]
            .iter()
            .any(|why| stderr.contains(why)),
        "the error says why the drm backend cannot start: {stderr}"
    );
}

#[test]
fn winit_backend_without_a_session_fails_clearly() {
    let (status, stderr) = weft_without_session(&["--backend", "winit"]);
    assert!(!status.success(), "stderr: {stderr}");
    assert!(
        stderr.contains("cannot open a window"),
        "the error says there is no window system: {stderr}"
    );
}
