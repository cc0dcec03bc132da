//! X11 applications through XWayland, as a user meets them: weft reserves an X11 display at
//! start (DISPLAY), and the first X11 client starts Xwayland. Debian's xev (x11-utils) maps a
//! window that appears in `weft msg surfaces` with role `x11`, takes the keyboard, and prints the
//! keys and pointer motion weft's seat injects; xclip and wl-clipboard round-trip the clipboard
//! between X11 and Wayland; when Xwayland goes, weft keeps serving and starts it again at the next
//! X11 client. A missing tool fails the test with the package to install.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::Harness;
use weft::{HeadlessOptions, InjectedInput, Request, ServerOptions};
use weft_compositor::OutputSpec;

/// Linux input event codes (linux/input-event-codes.h).
const KEY_A: u32 = 30;
const KEY_Q: u32 = 16;

fn need(tool: &str, package: &str) {
    assert!(
        Path::new("/usr/bin").join(tool).exists(),
        "{tool} is missing: install Debian's {package} (scripts/install-deps)"
    );
}

fn harness(xwayland: bool) -> Harness {
    Harness::with_headless(HeadlessOptions {
        outputs: vec![OutputSpec {
            width: 800,
            height: 600,
            refresh_mhz: 60_000,
        }],
        server: ServerOptions {
            xwayland,
            ..Default::default()
        },
        deterministic_clock: false,
        ping_timeout: None,
        draw_cursor: false,
    })
    .expect("weft starts")
}

/// `DISPLAY` as weft reports it.
fn display(h: &Harness) -> String {
    let status = h.msg(Request::Xwayland);
    status["display"]
        .as_str()
        .unwrap_or_else(|| panic!("no X11 display: {status}"))
        .to_string()
}

/// `program args…` as an X11 client of `h`'s Xwayland, with nothing of the session it runs in.
fn x11_client(h: &Harness, program: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(program);
    cmd.args(args)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", &h.runtime_dir)
        .env("DISPLAY", display(h))
        .env("LANG", "C.UTF-8");
    cmd
}

fn wayland_client(h: &Harness, program: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(program);
    cmd.args(args)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("XDG_RUNTIME_DIR", &h.runtime_dir)
        .env("WAYLAND_DISPLAY", h.weft.wayland_path());
    cmd
}

/// xev, line-buffered into a file the test reads while it runs.
struct Xev {
    child: Child,
    log: PathBuf,
}

impl Xev {
    fn start(h: &Harness, name: &str) -> Self {
        need("xev", "x11-utils");
        let log = h.runtime_dir.join(format!("{name}.log"));
        let file = std::fs::File::create(&log).expect("xev log");
        let child = x11_client(h, "stdbuf", &["-oL", "xev", "-name", name])
            .stdout(file)
            .stderr(Stdio::inherit())
            .spawn()
            .expect("xev starts");
        Self { child, log }
    }

    fn text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until xev printed `what` (at most 20 s).
    fn wait_for(&mut self, what: &str) {
        eventually(
            &format!("xev prints {what:?}"),
            Duration::from_secs(20),
            || {
                if let Ok(Some(status)) = self.child.try_wait() {
                    panic!("xev exited ({status}): {}", self.text());
                }
                self.text().contains(what)
            },
        );
    }
}

impl Drop for Xev {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn eventually(what: &str, within: Duration, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits for xev's window (titled with its `-name`) shown with a buffer; returns its record.
fn wait_for_x11_window(h: &Harness, name: &str) -> serde_json::Value {
    let mut found = None;
    eventually("xev's window is shown", Duration::from_secs(30), || {
        found = h.surfaces().into_iter().find(|s| {
            s["role"] == "x11"
                && s["mapped"] == true
                && s["title"] == name
                && s["buffer"].is_object()
        });
        found.is_some()
    });
    found.unwrap_or_default()
}

fn tap(h: &Harness, code: u32) {
    for pressed in [true, false] {
        h.weft
            .inject(InjectedInput::Key { code, pressed })
            .expect("inject");
        std::thread::sleep(Duration::from_millis(30));
    }
}

#[test]
fn without_xwayland_no_display_is_reserved() {
    let h = harness(false);
    let status = h.msg(Request::Xwayland);
    assert_eq!(status["state"], "off", "{status}");
    assert!(status["display"].is_null(), "{status}");
    let outputs = h.msg(Request::Outputs);
    assert!(outputs[0]["x11_display"].is_null(), "{outputs}");
}

#[test]
fn an_x11_client_starts_xwayland_maps_and_takes_keys_and_the_pointer() {
    let h = harness(true);
    let status = h.msg(Request::Xwayland);
    assert_eq!(
        status["state"], "listening",
        "no X server before a client: {status}"
    );
    let outputs = h.msg(Request::Outputs);
    assert_eq!(outputs[0]["x11_display"], status["display"], "{outputs}");

    let mut xev = Xev::start(&h, "weft-xev");
    let window = wait_for_x11_window(&h, "weft-xev");
    let status = h.msg(Request::Xwayland);
    assert_eq!(status["state"], "running", "{status}");
    assert_eq!(status["starts"], 1, "{status}");

    // Shown, it has the keyboard: weft's seat says so, and xev sees the keys.
    let seat = h.msg(Request::Seat);
    assert_eq!(seat["keyboard_focus"], window["id"], "{seat}");
    tap(&h, KEY_A);
    xev.wait_for("(keysym 0x61, a)");

    // The pointer over the window: X motion events in window coordinates.
    let (x, y) = (
        window["x"].as_f64().unwrap_or_default(),
        window["y"].as_f64().unwrap_or_default(),
    );
    h.weft
        .inject(InjectedInput::PointerMotion {
            x: x + 20.0,
            y: y + 30.0,
        })
        .expect("inject");
    xev.wait_for("MotionNotify");
    assert!(
        xev.text().contains("(20,30)"),
        "xev got the motion elsewhere: {}",
        xev.text()
    );

    // The surface is drawn: a screenshot at the window is not weft's background.
    let shot = h.screenshot("HEADLESS-1");
    let inside = shot.pixel((x + 5.0) as u32, (y + 5.0) as u32);
    let background = shot.pixel(2, 2);
    assert_ne!(inside, background, "xev's window is not drawn");
    drop(xev);
    eventually("xev's window goes", Duration::from_secs(10), || {
        !h.surfaces().iter().any(|s| s["role"] == "x11")
    });
}

#[test]
fn the_clipboard_crosses_between_x11_and_wayland_clients() {
    need("xclip", "xclip");
    need("wl-copy", "wl-clipboard");
    let h = harness(true);
    // X11 clients may read the clipboard while an X11 window has the keyboard.
    let _xev = Xev::start(&h, "weft-clipboard");
    wait_for_x11_window(&h, "weft-clipboard");

    // Wayland → X11.
    let status = wayland_client(&h, "wl-copy", &["from wayland"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("wl-copy runs");
    assert!(status.success());
    let mut pasted = String::new();
    eventually(
        "xclip reads the Wayland clipboard",
        Duration::from_secs(10),
        || {
            let out = x11_client(&h, "xclip", &["-selection", "clipboard", "-o"])
                .output()
                .expect("xclip runs");
            pasted = String::from_utf8_lossy(&out.stdout).into_owned();
            pasted == "from wayland"
        },
    );

    // X11 → Wayland: xclip serves the selection from the background until it is replaced.
    let mut xclip = x11_client(&h, "xclip", &["-selection", "clipboard", "-i"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("xclip runs");
    {
        use std::io::Write;
        let mut stdin = xclip.stdin.take().expect("stdin");
        stdin.write_all(b"from x11").expect("write");
    }
    assert!(xclip.wait().expect("xclip").success());
    eventually(
        "wl-paste reads the X11 clipboard",
        Duration::from_secs(10),
        || {
            let out = wayland_client(&h, "wl-paste", &["--no-newline"])
                .output()
                .expect("wl-paste runs");
            pasted = String::from_utf8_lossy(&out.stdout).into_owned();
            if !out.stderr.is_empty() {
                eprintln!("wl-paste: {}", String::from_utf8_lossy(&out.stderr));
            }
            pasted == "from x11"
        },
    );
}

#[test]
fn when_xwayland_goes_weft_keeps_serving_and_starts_it_again() {
    need("pkill", "procps");
    let h = harness(true);
    let display = display(&h);
    {
        let _xev = Xev::start(&h, "weft-first");
        wait_for_x11_window(&h, "weft-first");
        // Xwayland is stopped from outside (as a crash or an admin would).
        let pattern = format!("^Xwayland {display} ");
        let killed = Command::new("pkill")
            .args(["-TERM", "-f", &pattern])
            .status()
            .expect("pkill runs");
        assert!(killed.success(), "no Xwayland on {display}");
        eventually("weft listens again", Duration::from_secs(10), || {
            h.msg(Request::Xwayland)["state"] == "listening"
        });
    }
    assert!(
        !h.surfaces().iter().any(|s| s["role"] == "x11"),
        "the dead server's windows stay: {:?}",
        h.surfaces()
    );
    // Wayland clients are still served.
    let mut c = h.client();
    c.roundtrip().expect("weft still serves Wayland clients");
    // The same DISPLAY starts a new Xwayland.
    assert_eq!(self::display(&h), display, "DISPLAY changed");
    let mut xev = Xev::start(&h, "weft-second");
    wait_for_x11_window(&h, "weft-second");
    let status = h.msg(Request::Xwayland);
    assert_eq!(status["starts"], 2, "{status}");
    assert!(status["last_exit"].is_string(), "{status}");
    tap(&h, KEY_Q);
    xev.wait_for("(keysym 0x71, q)");
}

#[test]
fn x11_windows_are_in_the_window_list_and_a_close_binding_closes_them() {
    use weft_clients::session::Log;
    const KEY_LEFTMETA: u32 = 125;
    let config = std::env::temp_dir().join(format!("weft-xwayland-{}.toml", std::process::id()));
    std::fs::write(&config, "[bindings]\n\"Super+Q\" = \"close\"\n").expect("config");
    let h = Harness::with_headless(HeadlessOptions {
        outputs: vec![OutputSpec {
            width: 800,
            height: 600,
            refresh_mhz: 60_000,
        }],
        server: ServerOptions {
            xwayland: true,
            config: Some(config.clone()),
            ..Default::default()
        },
        deterministic_clock: false,
        ping_timeout: None,
        draw_cursor: false,
    })
    .expect("weft starts");
    let _ = std::fs::remove_file(&config);
    let mut xev = Xev::start(&h, "weft-listed");
    wait_for_x11_window(&h, "weft-listed");

    // A task bar sees the X11 window, titled and classed.
    let mut c = h.client();
    let log = Log::default();
    let _list: wayland_protocols::ext::foreign_toplevel_list::v1::client::ext_foreign_toplevel_list_v1::ExtForeignToplevelListV1 =
        c.globals
            .bind(&c.qh, 1..=1, log.clone())
            .expect("ext_foreign_toplevel_list_v1");
    let listed = |log: &Log| {
        log.children()
            .iter()
            .any(|t| t.has("ext_foreign_toplevel_handle_v1 Title { title: \"weft-listed\" }"))
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    while !listed(&log) {
        assert!(Instant::now() < deadline, "the X11 window is not listed");
        c.roundtrip().expect("roundtrip");
        std::thread::sleep(Duration::from_millis(20));
    }

    // The close binding asks the X11 window to close (WM_DELETE_WINDOW): xev exits.
    for (code, pressed) in [
        (KEY_LEFTMETA, true),
        (KEY_Q, true),
        (KEY_Q, false),
        (KEY_LEFTMETA, false),
    ] {
        h.weft
            .inject(InjectedInput::Key { code, pressed })
            .expect("inject");
    }
    eventually("xev exits", Duration::from_secs(10), || {
        matches!(xev.child.try_wait(), Ok(Some(_)))
    });
    let deadline = Instant::now() + Duration::from_secs(5);
    while !log
        .children()
        .iter()
        .any(|t| t.has("ext_foreign_toplevel_handle_v1 Closed"))
    {
        assert!(
            Instant::now() < deadline,
            "the list did not hear the window close"
        );
        c.roundtrip().expect("roundtrip");
        std::thread::sleep(Duration::from_millis(20));
    }
}
