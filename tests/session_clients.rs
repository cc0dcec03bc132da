//! Everyday applications from Debian against a headless weft, the way a user meets them: a
//! terminal (foot), a GTK3 application (zenity), a browser (firefox-esr), the clipboard tools
//! (wl-clipboard), a wallpaper (swaybg, layer shell) and a screen locker (swaylock); and the other
//! toolkits, through Debian's own bindings (tests/apps: a text field in GTK 4, and in Qt 5 on
//! Wayland and on X11 through XWayland). Each starts,
//! maps its window, takes typed input injected into weft's seat, and the clipboard round-trips
//! between them. A missing client fails the test with the package to install; it is never skipped.

mod common;

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::Harness;
use weft::{InjectedInput, Request, ServerOptions};
use weft_compositor::OutputSpec;

/// Linux input event codes (linux/input-event-codes.h).
mod key {
    pub const A: u32 = 30;
    pub const C: u32 = 46;
    pub const E: u32 = 18;
    pub const F: u32 = 33;
    pub const T: u32 = 20;
    pub const V: u32 = 47;
    pub const W: u32 = 17;
    pub const SPACE: u32 = 57;
    pub const ENTER: u32 = 28;
    pub const LEFTCTRL: u32 = 29;
}

fn need(tool: &str, package: &str) {
    assert!(
        Path::new("/usr/bin").join(tool).exists(),
        "{tool} is missing: install Debian's {package} (scripts/install-deps --test)"
    );
}

/// `program args…` as a client of `h`, with nothing of the session it runs in.
fn client(h: &Harness, program: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(program);
    cmd.args(args)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", &h.runtime_dir)
        .env("XDG_RUNTIME_DIR", &h.runtime_dir)
        .env("WAYLAND_DISPLAY", h.weft.wayland_path())
        .env("GDK_BACKEND", "wayland")
        // No accessibility bus or dconf on a test machine.
        .env("NO_AT_BRIDGE", "1")
        .env("GSETTINGS_BACKEND", "memory")
        .env("LANG", "C.UTF-8")
        // CLIENT_DEBUG=1 cargo test … shows the clients' protocol traffic (libwayland's log).
        .env(
            "WAYLAND_DEBUG",
            std::env::var("CLIENT_DEBUG").unwrap_or_default(),
        );
    cmd
}

/// Waits until weft shows a toplevel whose title contains `title` (at most 60 s: a loaded
/// machine is slow to start GTK); returns its record.
fn wait_for_window(h: &Harness, title: &str, child: &mut Child) -> serde_json::Value {
    let start = Instant::now();
    loop {
        if let Some(s) = h.surfaces().into_iter().find(|s| {
            s["title"].as_str().is_some_and(|t| t.contains(title)) && s["buffer"].is_object()
        }) {
            // A moment for the first frames and the keyboard focus to settle.
            std::thread::sleep(Duration::from_millis(500));
            return s;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the client exited ({status}) before its window {title:?} mapped");
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no window titled {title:?}: {:?}",
            h.surfaces()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn press(h: &Harness, code: u32, pressed: bool) {
    h.weft
        .inject(InjectedInput::Key { code, pressed })
        .expect("inject");
    // Clients read keys through their own event loops: a little time between keys keeps
    // autorepeat out of the way and the order obvious.
    std::thread::sleep(Duration::from_millis(30));
}

fn tap(h: &Harness, code: u32) {
    press(h, code, true);
    press(h, code, false);
}

/// Ctrl + `code`.
fn chord(h: &Harness, code: u32) {
    press(h, key::LEFTCTRL, true);
    tap(h, code);
    press(h, key::LEFTCTRL, false);
}

fn type_weft(h: &Harness) {
    for code in [key::W, key::E, key::F, key::T] {
        tap(h, code);
    }
}

/// Waits for `child` (at most 30 s, then it is killed and the test fails).
fn finish(mut child: Child, what: &str) -> Output {
    let start = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if start.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!(
                "{what} did not finish: {}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().expect("output")
}

/// wl-copy with `args`: it forks a process that serves the selection until another replaces it,
/// which must not hold the test's pipes.
fn wl_copy(h: &Harness, args: &[&str]) {
    need("wl-copy", "wl-clipboard");
    let status = client(h, "wl-copy", args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("wl-copy runs");
    assert!(status.success(), "wl-copy {args:?} failed");
}

/// zenity's entry dialog: a GTK3 window with a text field; it prints what the field holds when
/// Enter is pressed.
fn zenity_entry(h: &Harness) -> Child {
    need("zenity", "zenity");
    client(
        h,
        "zenity",
        &["--entry", "--title=weft-entry", "--text=type here"],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .expect("zenity starts")
}

#[test]
fn a_gtk3_application_gets_a_seat_and_typed_text() {
    let h = Harness::new(1024, 768, 60);
    let mut zenity = zenity_entry(&h);
    wait_for_window(&h, "weft-entry", &mut zenity);
    type_weft(&h);
    tap(&h, key::ENTER);
    let out = finish(zenity, "zenity");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "zenity failed: {stderr}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "weft",
        "{stderr}"
    );
    assert!(
        !stderr.contains("GDK_IS_SEAT"),
        "GTK found no seat: {stderr}"
    );
}

#[test]
fn foot_starts_and_its_shell_reads_what_is_typed() {
    need("foot", "foot");
    let h = Harness::new(1024, 768, 60);
    let out_file = h.runtime_dir.join("typed");
    let script = format!(
        "read line && printf '%s' \"$line\" > '{}'",
        out_file.display()
    );
    let mut foot = client(&h, "foot", &["--title=weft-foot", "sh", "-c", &script])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("foot starts");
    let window = wait_for_window(&h, "weft-foot", &mut foot);
    assert_eq!(window["app_id"], "foot", "{window}");
    type_weft(&h);
    tap(&h, key::ENTER);
    let out = finish(foot, "foot");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "foot failed: {stderr}");
    assert!(!stderr.contains("no clipboard available"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(&out_file).unwrap_or_default(),
        "weft",
        "{stderr}"
    );
}

#[test]
fn the_clipboard_tools_round_trip_both_selections() {
    need("wl-copy", "wl-clipboard");
    let h = Harness::new(640, 480, 60);
    for (flag, text) in [("", "clipboard text"), ("--primary", "primary text")] {
        let args: Vec<&str> = [flag, text].into_iter().filter(|a| !a.is_empty()).collect();
        wl_copy(&h, &args);
        let args: Vec<&str> = [flag, "--no-newline"]
            .into_iter()
            .filter(|a| !a.is_empty())
            .collect();
        let pasted = client(&h, "wl-paste", &args)
            .output()
            .expect("wl-paste runs");
        assert!(
            pasted.status.success(),
            "wl-paste {flag}: {}",
            String::from_utf8_lossy(&pasted.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&pasted.stdout), text, "{flag}");
    }
    // `wl-copy --clear` empties the clipboard: wl-paste then says so and fails.
    wl_copy(&h, &["--clear"]);
    let pasted = client(&h, "wl-paste", &[]).output().expect("wl-paste runs");
    assert!(!pasted.status.success(), "{:?}", pasted);
}

#[test]
fn the_clipboard_round_trips_between_a_gtk3_application_and_the_command_line() {
    need("wl-copy", "wl-clipboard");
    let h = Harness::new(1024, 768, 60);
    // Command line → GTK: wl-copy sets the clipboard (data control), zenity pastes it (Ctrl+V).
    wl_copy(&h, &["from the command line"]);
    let mut zenity = zenity_entry(&h);
    wait_for_window(&h, "weft-entry", &mut zenity);
    chord(&h, key::V);
    // GTK → command line: select all that is in the field, copy it (Ctrl+A, Ctrl+C); wl-paste
    // reads it from zenity while zenity runs.
    chord(&h, key::A);
    chord(&h, key::C);
    std::thread::sleep(Duration::from_millis(300));
    let pasted = client(&h, "wl-paste", &["--no-newline"])
        .output()
        .expect("wl-paste runs");
    tap(&h, key::ENTER);
    let out = finish(zenity, "zenity");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "from the command line",
        "zenity did not paste: {stderr}"
    );
    assert_eq!(
        String::from_utf8_lossy(&pasted.stdout),
        "from the command line",
        "wl-paste did not read zenity's copy: {}",
        String::from_utf8_lossy(&pasted.stderr)
    );
}

/// The GTK 3 browser that segfaulted 0.3 s after its first configure while weft had no data
/// device: it maps its window and keeps running through input.
#[test]
fn firefox_maps_and_keeps_running() {
    need("firefox-esr", "firefox-esr");
    let h = Harness::new(1280, 720, 60);
    let profile = h.runtime_dir.join("firefox-profile");
    std::fs::create_dir_all(&profile).expect("profile directory");
    let mut firefox = client(
        &h,
        "firefox-esr",
        &[
            "--no-remote",
            "--profile",
            &profile.to_string_lossy(),
            "about:blank",
        ],
    )
    .env("MOZ_ENABLE_WAYLAND", "1")
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .spawn()
    .expect("firefox starts");
    let window = wait_for_window(&h, "Mozilla Firefox", &mut firefox);
    assert_eq!(window["app_id"], "firefox-esr", "{window}");
    // A click into the page and a key: it must still be running afterwards.
    let (x, y) = (
        window["x"].as_f64().unwrap_or(0.0) + 200.0,
        window["y"].as_f64().unwrap_or(0.0) + 300.0,
    );
    h.weft
        .inject(InjectedInput::PointerMotion { x, y })
        .expect("inject");
    for pressed in [true, false] {
        h.weft
            .inject(InjectedInput::PointerButton {
                button: weft_compositor::seat::input::buttons::LEFT,
                pressed,
            })
            .expect("inject");
    }
    tap(&h, key::W);
    std::thread::sleep(Duration::from_secs(3));
    let alive = firefox.try_wait().expect("wait").is_none();
    let _ = firefox.kill();
    let out = firefox.wait_with_output().expect("output");
    assert!(
        alive,
        "firefox exited: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// swaybg, the wallpaper of wlroots sessions: a background layer surface across the output,
/// drawn under everything.
#[test]
fn swaybg_paints_the_background_layer() {
    need("swaybg", "swaybg");
    let h = Harness::new(640, 480, 60);
    let mut swaybg = client(&h, "swaybg", &["-c", "#cc3311"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("swaybg starts");
    let start = Instant::now();
    let record = loop {
        if let Some(s) = h
            .surfaces()
            .into_iter()
            .find(|s| s["role"] == "layer_surface" && s["buffer"].is_object())
        {
            break s;
        }
        if let Ok(Some(status)) = swaybg.try_wait() {
            panic!("swaybg exited ({status}) before its surface mapped");
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no wallpaper: {:?}",
            h.surfaces()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(record["layer"], "background", "{record}");
    assert_eq!(record["app_id"], "wallpaper", "{record}");
    assert_eq!(
        (record["width"].as_i64(), record["height"].as_i64()),
        (Some(640), Some(480))
    );
    std::thread::sleep(Duration::from_millis(200));
    let shot = h.screenshot("HEADLESS-1");
    for (x, y) in [(0, 0), (320, 240), (639, 479)] {
        shot.assert_pixel(x, y, [0xcc, 0x33, 0x11, 255], 2);
    }
    let _ = swaybg.kill();
    let _ = swaybg.wait();
}

/// swaylock, the screen locker of wlroots sessions: the session locks (only its colour on the
/// screen, the window under it hidden), and killing it leaves the session locked.
#[test]
fn swaylock_locks_and_its_death_leaves_the_session_locked() {
    need("swaylock", "swaylock");
    let h = Harness::new(640, 480, 60);
    let mut app = h.client();
    let t = app.toplevel("private", "weft.session").expect("toplevel");
    let px = common::solid_shm(&app, 200, 150, [0, 220, 0]);
    app.show(&t.surface, &px.buffer);
    h.settle(&mut app);
    let s = h.surface("private");
    let (x, y) = (
        s["x"].as_u64().unwrap() as u32 + 10,
        s["y"].as_u64().unwrap() as u32 + 10,
    );

    let mut swaylock = client(
        &h,
        "swaylock",
        &["--color", "3355aa", "--no-unlock-indicator"],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .spawn()
    .expect("swaylock starts");
    let start = Instant::now();
    loop {
        let shot = h.screenshot("HEADLESS-1");
        if shot.pixel(x, y) == [0x33, 0x55, 0xaa, 255] {
            break;
        }
        if let Ok(Some(status)) = swaylock.try_wait() {
            let out = swaylock.wait_with_output().expect("output");
            panic!(
                "swaylock exited ({status}): {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the screen never showed swaylock"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let shot = h.screenshot("HEADLESS-1");
    shot.assert_pixel(0, 0, [0x33, 0x55, 0xaa, 255], 2);

    // SIGKILL: the session stays locked; the window stays hidden.
    let _ = swaylock.kill();
    let _ = swaylock.wait();
    std::thread::sleep(Duration::from_millis(200));
    let shot = h.screenshot("HEADLESS-1");
    assert_ne!(
        shot.pixel(x, y),
        [0, 220, 0, 255],
        "the window showed after the locker died"
    );
    shot.assert_pixel(x, y, common::BACKGROUND, 2);
}

/// tests/apps/`script` with `title`: a toolkit window with one focused text field that prints
/// what it holds at Enter.
fn toolkit_entry(mut cmd: Command) -> Child {
    cmd.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the toolkit application starts")
}

fn app(name: &str) -> String {
    format!("{}/tests/apps/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// Types "weft", a space, pastes (Ctrl+V) and presses Enter in the window titled `title`; the
/// application must print "weft " and the clipboard, which wl-copy set to `clipboard` first.
fn type_and_paste(h: &Harness, mut child: Child, title: &str, clipboard: &str) {
    wait_for_window(h, title, &mut child);
    type_weft(h);
    tap(h, key::SPACE);
    chord(h, key::V);
    tap(h, key::ENTER);
    let out = finish(child, title);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{title} failed: {stderr}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim_end(),
        format!("weft {clipboard}"),
        "{title}: {stderr}"
    );
}

#[test]
fn a_gtk4_application_takes_typed_text_and_pastes_the_clipboard() {
    need("python3", "python3");
    assert!(
        Path::new("/usr/lib/x86_64-linux-gnu/girepository-1.0/Gtk-4.0.typelib").exists(),
        "GTK 4's bindings are missing: install Debian's gir1.2-gtk-4.0 and python3-gi"
    );
    let h = Harness::new(1024, 768, 60);
    wl_copy(&h, &["to gtk4"]);
    let child = toolkit_entry({
        let mut c = client(&h, "python3", &[&app("entry_gtk4.py"), "weft-gtk4"]);
        c.env("GDK_DEBUG", "");
        c
    });
    type_and_paste(&h, child, "weft-gtk4", "to gtk4");
}

fn need_pyqt5() {
    need("python3", "python3");
    assert!(
        Path::new("/usr/lib/python3/dist-packages/PyQt5").exists(),
        "Qt 5's bindings are missing: install Debian's python3-pyqt5 and qtwayland5"
    );
}

#[test]
fn a_qt_application_on_wayland_takes_typed_text_and_pastes_the_clipboard() {
    need_pyqt5();
    let h = Harness::new(1024, 768, 60);
    wl_copy(&h, &["to qt"]);
    let child = toolkit_entry({
        let mut c = client(&h, "python3", &[&app("entry_qt5.py"), "weft-qt-wayland"]);
        c.env("QT_QPA_PLATFORM", "wayland");
        c
    });
    type_and_paste(&h, child, "weft-qt-wayland", "to qt");
}

#[test]
fn a_qt_application_on_x11_through_xwayland_takes_typed_text_and_the_wayland_clipboard() {
    need_pyqt5();
    let h = Harness::with_server(
        vec![OutputSpec {
            width: 1024,
            height: 768,
            refresh_mhz: 60_000,
        }],
        false,
        None,
        ServerOptions {
            xwayland: true,
            ..Default::default()
        },
    )
    .expect("weft starts");
    let display = h.msg(Request::Xwayland)["display"]
        .as_str()
        .expect("an X11 display")
        .to_string();
    wl_copy(&h, &["to x11"]);
    let child = toolkit_entry({
        let mut c = client(&h, "python3", &[&app("entry_qt5.py"), "weft-qt-x11"]);
        c.env("QT_QPA_PLATFORM", "xcb").env("DISPLAY", display);
        c
    });
    type_and_paste(&h, child, "weft-qt-x11", "to x11");
    let x11 = h
        .surfaces()
        .into_iter()
        .filter(|s| s["role"] == "x11")
        .count();
    assert_eq!(x11, 0, "the X11 window is gone with its application");
}
