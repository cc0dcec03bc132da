//! Video sources: a V4L2 capture device (vivid) streamed through weft on each rung, at 1080p in
//! YUYV and NV12 — prints numbers, asserts nothing. Runs where vivid exists (tests/vm: run it with
//! `scripts/bench-video`); on a machine without it, it says so and stops. The host stand-ins
//! (memfd buffers at 1080p and 4K, YUYV and NV12, StageOnCpu's throughput against memcpy) are
//! `cargo bench --bench dmabuf_import`.
//!
//! Per (format, rung): `FRAMES` frames (default 60; `-- N` sets it) played by the project's camera
//! viewer (`weft_clients::v4l2_player`), and from weft's own accounting: CPU per commit (the
//! commit's import work, thread CPU time), wall time per commit and bytes copied per frame.

use weft::{private_runtime_dir, HeadlessOptions, Request, Running};
use weft_backends::server::ServerOptions;
use weft_clients::dmabuf::LinuxDmabuf;
use weft_clients::v4l2_player::play;
use weft_clients::Client;
use weft_compositor::OutputSpec;
use weft_guest::v4l2::{find_capture, Export};

fn main() -> anyhow::Result<()> {
    let frames: u32 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(60);
    let Ok(node) = find_capture("vivid") else {
        println!("no vivid capture device here: run scripts/bench-video (tests/vm)");
        return Ok(());
    };
    let dir = private_runtime_dir("bench-video")?;
    let weft = Running::start(HeadlessOptions {
        outputs: vec![OutputSpec {
            width: 1920,
            height: 1080,
            refresh_mhz: 60_000,
        }],
        server: ServerOptions {
            runtime_dir: Some(dir),
            ..Default::default()
        },
        ..Default::default()
    })?;
    let rungs: [(&str, &[&str]); 3] = [
        ("SampleLinear", &["Sample", "StageOnCpu"]),
        ("StageOnSink", &["Sample", "SampleLinear", "StageOnCpu"]),
        ("StageOnCpu", &["Sample", "SampleLinear", "StageOnSink"]),
    ];
    let mut rows = Vec::new();
    for code in [b"YUYV", b"NV12"] {
        for (rung, disabled) in rungs {
            let req: Request = serde_json::from_value(
                serde_json::json!({"command": "import_policy", "disabled": disabled}),
            )?;
            weft.msg(&req)?;
            let mut c = Client::connect(&weft.wayland_path())?;
            let d = LinuxDmabuf::bind(&mut c, 4)?;
            let title = format!("{} {rung}", String::from_utf8_lossy(code));
            let t = c.toplevel(&title, "weft.bench")?;
            let (shown, fmt) = play(
                &mut c,
                &d,
                &node,
                (1920, 1080, u32::from_le_bytes(*code)),
                Export::ReadWrite,
                &t.surface,
                frames,
                0,
            )?;
            let surfaces = weft.msg(&Request::Surfaces)?;
            let s = surfaces
                .as_array()
                .and_then(|a| a.iter().find(|s| s["title"] == title.as_str()).cloned())
                .unwrap_or_default();
            let commits = s["commits"].as_u64().unwrap_or(1).max(1) as f64;
            rows.push(format!(
                "{:<6} {}x{:<5} {:<13} {:>10.1} µs {:>10.1} µs {:>10} B  {:>4}/{} shown",
                String::from_utf8_lossy(code),
                fmt.width,
                fmt.height,
                s["rung"].as_str().unwrap_or("?"),
                s["commit_cpu_ns"].as_f64().unwrap_or(0.0) / commits / 1e3,
                s["commit_wall_ns"].as_f64().unwrap_or(0.0) / commits / 1e3,
                s["copied_bytes_per_frame"],
                shown.iter().filter(|f| f.presented_ns.is_some()).count(),
                frames,
            ));
        }
    }
    println!("\nvivid through weft, {frames} frames per row (rung asked for; the row says the one taken)");
    println!(
        "{:<6} {:<10} {:<13} {:>13} {:>13} {:>12}",
        "format", "size", "rung", "cpu/commit", "wall/commit", "copied/frame"
    );
    for r in rows {
        println!("{r}");
    }
    weft.stop()?;
    Ok(())
}
