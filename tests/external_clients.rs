//! Clients nobody here wrote, from Debian (weston, wayland-utils), against the real `weft` binary:
//! `weft --backend headless ... --exit-with-client -- sh -c '...'`, the way a user runs them.
//! A missing client fails the test with the package to install; it is never skipped.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::Image;

fn need(tool: &str, package: &str) -> PathBuf {
    let path = Path::new("/usr/bin").join(tool);
    assert!(
        path.exists(),
        "{tool} is missing: install Debian's {package} (scripts/install-deps --test)"
    );
    path
}

/// One weft and its client at a time. weston-simple-shm has two buffers and gives up ("Both
/// buffers busy") when a frame callback comes while the frame that read its other buffer in place
/// is still running. weft does not hold frame callbacks back for the GPU, so on a machine busy with
/// a concurrent GStreamer pipeline lavapipe can lag a frame behind and the client quits.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Runs `script` as weft's client (sh -c) on a fresh headless weft; returns its output.
fn weft_with_client(output: &str, script: &str) -> (Output, PathBuf) {
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let runtime = weft::private_runtime_dir("ext").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_weft"))
        .args([
            "--backend",
            "headless",
            "--output",
            output,
            "--exit-with-client",
            "--",
            "sh",
            "-c",
            script,
        ])
        .env("XDG_RUNTIME_DIR", &runtime)
        .env("WEFT", env!("CARGO_BIN_EXE_weft"))
        .env_remove("WAYLAND_DISPLAY")
        .output()
        .expect("weft runs");
    (out, runtime)
}

#[test]
fn wayland_info_sees_every_global() {
    need("wayland-info", "wayland-utils");
    let (out, runtime) = weft_with_client("800x600@60", "wayland-info");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "wayland-info failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    for global in [
        "wl_compositor",
        "wl_subcompositor",
        "xdg_wm_base",
        "zxdg_decoration_manager_v1",
        "zwlr_layer_shell_v1",
        "ext_session_lock_manager_v1",
        "zwp_pointer_constraints_v1",
        "zwp_relative_pointer_manager_v1",
        "ext_idle_notifier_v1",
        "zwp_idle_inhibit_manager_v1",
        "wl_shm",
        "wl_seat",
        "wl_data_device_manager",
        "zwp_primary_selection_device_manager_v1",
        "zwlr_data_control_manager_v1",
        "ext_data_control_manager_v1",
        "wl_output",
        "zxdg_output_manager_v1",
        "wp_presentation",
        "wp_viewporter",
        "wp_single_pixel_buffer_manager_v1",
    ] {
        assert!(
            text.contains(&format!("'{global}'")),
            "wayland-info does not list {global}:\n{text}"
        );
    }
    // wl_compositor v6 and the output mode as configured.
    assert!(
        text.contains("'wl_compositor',                              version:  6"),
        "{text}"
    );
    assert!(
        text.contains("width: 800 px, height: 600 px, refresh: 60.000 Hz"),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(runtime);
}

#[test]
fn weston_simple_shm_pixels_reach_the_screen() {
    need("weston-simple-shm", "weston");
    // The client runs in the background; after 2 s the script asks weft (over `weft msg`) for the
    // surfaces and a screenshot, then stops the client.
    let script = r#"
        weston-simple-shm 2> "$XDG_RUNTIME_DIR/simple-shm.err" & pid=$!
        # Until its window is up (at most 30 s: a loaded machine is slow), then a moment more.
        for i in $(seq 60); do
            "$WEFT" msg --json surfaces | grep -q '"simple-shm"' && break
            sleep 0.5
        done
        sleep 1
        "$WEFT" msg --json surfaces > "$XDG_RUNTIME_DIR/surfaces.json" &&
        "$WEFT" msg screenshot HEADLESS-1 "$XDG_RUNTIME_DIR/shot.png" || exit 1
        kill $pid; wait $pid 2>/dev/null; exit 0
    "#;
    let (out, runtime) = weft_with_client("640x480@60", script);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let surfaces: serde_json::Value =
        serde_json::from_slice(&std::fs::read(runtime.join("surfaces.json")).unwrap()).unwrap();
    let s = surfaces
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["title"] == "simple-shm")
        .unwrap_or_else(|| {
            panic!(
                "no simple-shm surface: {surfaces}\nweston-simple-shm said: {}\nweft said: {}",
                std::fs::read_to_string(runtime.join("simple-shm.err")).unwrap_or_default(),
                String::from_utf8_lossy(&out.stderr)
            )
        })
        .clone();
    assert_eq!(s["buffer"]["kind"], "shm");
    assert_eq!(
        (s["width"].as_u64(), s["height"].as_u64()),
        (Some(250), Some(250))
    );
    let img = Image::load(&runtime.join("shot.png"));
    let (x, y) = (
        s["x"].as_u64().unwrap() as u32,
        s["y"].as_u64().unwrap() as u32,
    );
    // simple-shm animates a pattern of many colours; the background is one colour.
    let colors = img.distinct_colors(x, y, 250, 250);
    assert!(colors > 50, "only {colors} colours where simple-shm draws");
    assert_eq!(
        img.distinct_colors(0, 0, 100, 100),
        1,
        "the background outside the window"
    );
    let _ = std::fs::remove_dir_all(runtime);
}

#[test]
fn weston_presentation_shm_gets_presented_events() {
    need("weston-presentation-shm", "weston");
    // -p: low-latency mode; it prints one line per presented frame with the MSC ("seq").
    let (out, runtime) = weft_with_client(
        "640x480@60",
        "timeout 2 weston-presentation-shm -p; [ $? = 124 ]",
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "weston-presentation-shm failed: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = text.lines().filter(|l| l.contains(" seq ")).collect();
    assert!(
        lines.len() >= 20,
        "only {} presented lines:\n{text}",
        lines.len()
    );
    // "[s___]": the vsync flag, no hw clock/completion, no zero-copy (Vulkan composition).
    assert!(lines.iter().all(|l| l.contains("[s___]")), "{text}");
    let _ = std::fs::remove_dir_all(runtime);
}

/// GStreamer's waylandsink (Debian's gstreamer1.0-plugins-bad) with raw video and no converter in
/// the pipeline: it can only play if weft offers the format on wl_shm (the media-pipeline case of
/// Y′CbCr on wl_shm). Its SMPTE bars must come out in the right colours, frame after frame.
#[test]
fn gstreamer_waylandsink_plays_ycbcr_through_wl_shm() {
    need("gst-launch-1.0", "gstreamer1.0-tools");
    assert!(
        Path::new("/usr/lib/x86_64-linux-gnu/gstreamer-1.0/libgstwaylandsink.so").exists(),
        "waylandsink is missing: install Debian's gstreamer1.0-plugins-bad (scripts/install-deps --test)"
    );
    // GStreamer's names, and the fourcc weft reports.
    for (caps, fourcc) in [("NV12", "NV12"), ("YUY2", "YUYV"), ("I420", "YU12")] {
        let script = format!(
            r#"
            gst-launch-1.0 -q videotestsrc pattern=smpte num-buffers=900 \
                ! video/x-raw,format={caps},width=320,height=240,framerate=30/1 \
                ! waylandsink > "$XDG_RUNTIME_DIR/gst.log" 2>&1 & pid=$!
            # Until 30 frames of its video were shown (at most 30 s: a loaded machine is slow).
            for i in $(seq 60); do
                "$WEFT" msg --json surfaces | tr -d ' \n' | grep -Eq '"shown":([3-9][0-9]|[1-9][0-9]{{2,}})' && break
                sleep 0.5
            done
            "$WEFT" msg --json surfaces > "$XDG_RUNTIME_DIR/surfaces.json" &&
            "$WEFT" msg screenshot HEADLESS-1 "$XDG_RUNTIME_DIR/shot.png" || exit 1
            kill $pid; wait $pid 2>/dev/null; exit 0
        "#
        );
        let (out, runtime) = weft_with_client("640x480@60", &script);
        let log = std::fs::read_to_string(runtime.join("gst.log")).unwrap_or_default();
        assert!(
            out.status.success(),
            "{caps}: {}\n{log}",
            String::from_utf8_lossy(&out.stderr)
        );
        let surfaces: serde_json::Value =
            serde_json::from_slice(&std::fs::read(runtime.join("surfaces.json")).unwrap()).unwrap();
        // waylandsink shows the video in a subsurface of its window.
        let video = surfaces
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["buffer"]["format"] == fourcc)
            .unwrap_or_else(|| panic!("{caps}: no {fourcc} surface: {surfaces}\n{log}"))
            .clone();
        assert_eq!(video["buffer"]["kind"], "shm", "{video}");
        assert_eq!(video["buffer"]["width"], 320, "{video}");
        assert!(
            video["frames"]["shown"].as_u64().is_some_and(|n| n >= 30),
            "{caps}: {video}"
        );
        // The seven top bars: white, yellow, cyan, green, magenta, red, blue (75% or 100%).
        let img = Image::load(&runtime.join("shot.png"));
        let (x, y) = (
            video["x"].as_u64().unwrap() as u32,
            video["y"].as_u64().unwrap() as u32,
        );
        let bars = [
            [1, 1, 1],
            [1, 1, 0],
            [0, 1, 1],
            [0, 1, 0],
            [1, 0, 1],
            [1, 0, 0],
            [0, 0, 1],
        ];
        for (i, want) in bars.iter().enumerate() {
            let px = img.pixel(x + (2 * i as u32 + 1) * 320 / 14, y + 60);
            for c in 0..3 {
                let ok = if want[c] == 1 {
                    px[c] > 150
                } else {
                    px[c] < 40
                };
                assert!(ok, "{caps}: bar {i} is {px:?}, want channels {want:?}");
            }
        }
        let _ = std::fs::remove_dir_all(runtime);
    }
}
