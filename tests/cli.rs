//! The command-line contract: `weft --backend headless ... -- CMD`, `weft msg`, `weft demo`.

mod common;

use std::process::Command;

use common::Image;

fn weft() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_weft"));
    c.env_remove("WAYLAND_DISPLAY").env_remove("WEFT_SOCKET");
    c
}

#[test]
fn exit_with_client_returns_its_status_and_exports_the_sockets() {
    let runtime = weft::private_runtime_dir("cli").unwrap();
    let script = r#"
        [ "$WAYLAND_DISPLAY" = mine ] || exit 90
        [ "$WEFT_SOCKET" = "$XDG_RUNTIME_DIR/weft-mine.sock" ] || exit 91
        [ -S "$XDG_RUNTIME_DIR/mine" ] || exit 92
        "$WEFT" msg --json outputs > "$XDG_RUNTIME_DIR/outputs.json" || exit 93
        "$WEFT" msg --socket mine outputs > "$XDG_RUNTIME_DIR/outputs.txt" || exit 94
        exit 7
    "#;
    let status = weft()
        .args([
            "--backend",
            "headless",
            "--output",
            "640x480@30",
            "--output",
            "320x200@50",
        ])
        .args([
            "--socket",
            "mine",
            "--exit-with-client",
            "--",
            "sh",
            "-c",
            script,
        ])
        .env("XDG_RUNTIME_DIR", &runtime)
        .env("WEFT", env!("CARGO_BIN_EXE_weft"))
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(7));
    let outputs: serde_json::Value =
        serde_json::from_slice(&std::fs::read(runtime.join("outputs.json")).unwrap()).unwrap();
    let want = serde_json::json!([
        {"name": "HEADLESS-1", "width": 640, "height": 480, "refresh_mhz": 30000},
        {"name": "HEADLESS-2", "width": 320, "height": 200, "refresh_mhz": 50000},
    ]);
    for (got, want) in outputs
        .as_array()
        .unwrap()
        .iter()
        .zip(want.as_array().unwrap())
    {
        for key in ["name", "width", "height", "refresh_mhz"] {
            assert_eq!(got[key], want[key], "{key} in {got}");
        }
    }
    let table = std::fs::read_to_string(runtime.join("outputs.txt")).unwrap();
    assert!(table.starts_with("NAME"), "{table}");
    assert!(table.contains("HEADLESS-2  320"), "{table}");
    // Sockets are gone once weft exits.
    assert!(!runtime.join("weft-mine.sock").exists());
    let _ = std::fs::remove_dir_all(runtime);
}

#[test]
fn bad_arguments_are_refused_clearly() {
    let out = weft().args(["--output", "0x480@60"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("size must be 1..16384"));
    let out = weft()
        .args(["msg", "outputs"])
        .env_remove("XDG_RUNTIME_DIR")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("which weft?"));
}

#[test]
fn demo_reports_and_writes_a_screenshot() {
    let dir = weft::private_runtime_dir("demo-test").unwrap();
    let png = dir.join("demo.png");
    let out = weft()
        .args(["demo", "--seconds", "1", "--screenshot"])
        .arg(&png)
        .env("WEFT_LOG", "weft_compositor::surface=info")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for needle in [
        "render device:",
        "presentation:",
        "weft.demo",
        "Shm",
        "dma-buf imports",
        "screenshot:",
    ] {
        assert!(
            text.contains(needle),
            "demo output lacks {needle:?}:\n{text}"
        );
    }
    // Each surface's buffer path is logged once, not once per frame (the demo commits ~60 times).
    let log = String::from_utf8_lossy(&out.stderr);
    let changes: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("buffer path changed"))
        .filter_map(|l| l.split_whitespace().find(|w| w.starts_with("surface=")))
        .collect();
    assert!(
        !changes.is_empty() && log.contains("rung=\"SampleLinear\""),
        "no path decisions logged:\n{log}"
    );
    let mut distinct = changes.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), changes.len(), "a path logged twice:\n{log}");
    let img = Image::load(&png);
    assert_eq!((img.width, img.height), (1280, 720));
    // The demo's window is the 480-wide shm card plus, 16 px right of it, the same bars as an NV12
    // dma-buf subsurface: 976×320, centred at (152, 200). The first bar is light grey, the sixth red
    // (the NV12 copy within ±2: 8-bit Y′CbCr round trip).
    img.assert_pixel(152 + 30, 200 + 300, [235, 235, 235, 255], 0);
    img.assert_pixel(152 + 330, 200 + 100, [235, 16, 16, 255], 0);
    img.assert_pixel(648 + 30, 200 + 300, [235, 235, 235, 255], 2);
    img.assert_pixel(648 + 330, 200 + 100, [235, 16, 16, 255], 2);
    let _ = std::fs::remove_dir_all(dir);
}

/// `weft --backend drm` where it cannot be the session compositor says which, and exits non-zero
/// without a panic: no seat (a libseat backend that does not exist), and, on a machine without a
/// display (CI's), no KMS device. (tests/vm runs it where it can: tests/vm_drm.rs.)
#[test]
fn the_drm_backend_says_why_it_cannot_start() {
    let runtime = weft::private_runtime_dir("cli-drm").unwrap();
    let has_kms = std::fs::read_dir("/dev/dri")
        .map(|d| {
            d.filter_map(Result::ok)
                .any(|e| e.file_name().to_string_lossy().starts_with("card"))
        })
        .unwrap_or(false);
    let mut cases = vec![(Some("no-such-seat-backend"), "no seat:")];
    if !has_kms {
        cases.push((Some("noop"), "no KMS device:"));
    }
    for (seat_backend, why) in cases {
        let mut c = weft();
        c.args(["--backend", "drm"])
            .env("XDG_RUNTIME_DIR", &runtime);
        if let Some(b) = seat_backend {
            c.env("LIBSEAT_BACKEND", b);
        }
        let out = c.output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{seat_backend:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
        assert!(
            err.contains(why),
            "{seat_backend:?}: want {why:?}, got: {err}"
        );
    }
    let _ = std::fs::remove_dir_all(runtime);
}

/// SIGTERM, SIGINT and SIGHUP stop weft cleanly, as a session manager or Ctrl+C in a terminal
/// stops it: it exits with status 0, and its Wayland and IPC sockets and its X11 display's lock
/// and sockets are gone.
#[test]
fn a_stop_signal_stops_weft_cleanly() {
    for signal in ["TERM", "INT", "HUP"] {
        let runtime = weft::private_runtime_dir("cli-signal").unwrap();
        let mut child = weft()
            .args([
                "--backend",
                "headless",
                "--output",
                "320x240@60",
                "--socket",
                "sig",
            ])
            .env("XDG_RUNTIME_DIR", &runtime)
            .spawn()
            .expect("weft starts");
        let socket = runtime.join("sig");
        let ipc = runtime.join("weft-sig.sock");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while !ipc.exists() {
            assert!(std::time::Instant::now() < deadline, "weft did not start");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let outputs = weft()
            .args(["msg", "--socket", "sig", "--json", "outputs"])
            .env("XDG_RUNTIME_DIR", &runtime)
            .output()
            .expect("weft msg");
        assert!(outputs.status.success(), "{outputs:?}");
        let outputs: serde_json::Value = serde_json::from_slice(&outputs.stdout).expect("json");
        let display = outputs[0]["x11_display"].as_str().map(str::to_string);
        let lock = display.as_deref().map(|d| {
            std::path::PathBuf::from(format!("/tmp/.X{}-lock", d.trim_start_matches(':')))
        });
        if let Some(lock) = &lock {
            assert!(lock.exists(), "{} reserved", lock.display());
        }
        let killed = Command::new("kill")
            .args([format!("-{signal}"), child.id().to_string()])
            .status()
            .expect("kill");
        assert!(killed.success());
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait") {
                break status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "SIG{signal}: weft did not stop"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        };
        assert!(status.success(), "SIG{signal}: weft ended with {status}");
        assert!(!socket.exists(), "SIG{signal}: the Wayland socket is left");
        assert!(!ipc.exists(), "SIG{signal}: the IPC socket is left");
        if let Some(lock) = &lock {
            assert!(!lock.exists(), "SIG{signal}: {} is left", lock.display());
        }
        let _ = std::fs::remove_dir_all(&runtime);
    }
}
