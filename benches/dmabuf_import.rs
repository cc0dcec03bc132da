//! dma-buf import benchmark: prints numbers, asserts nothing.
//!
//! For each rung weft can use here × size (640×360, 1920×1080, 3840×2160) × format (XRGB8888,
//! NV12): a client commits an already-imported buffer `COMMITS` times (full damage) to an in-process
//! headless weft; weft's own accounting (`weft msg surfaces`: `commit_cpu_ns`, `uploaded_bytes`,
//! measured with CLOCK_THREAD_CPUTIME_ID around each commit's import work) gives the CPU time per
//! commit and the bytes copied per frame. For `StageOnCpu` the copy throughput is printed next to a
//! plain `memcpy` of the same number of bytes, measured in the same run.
//!
//! Run: `cargo bench --bench dmabuf_import` (optionally `-- COMMITS`).

use std::time::Instant;

use weft::{private_runtime_dir, HeadlessOptions, Request, Running};
use weft_backends::server::ServerOptions;
use weft_clients::dmabuf::{Layout, LinuxDmabuf, MemBuffer, NV12, XRGB8888};
use weft_clients::Client;
use weft_compositor::OutputSpec;

const SIZES: [(u32, u32); 3] = [(640, 360), (1920, 1080), (3840, 2160)];
const FORMATS: [(u32, &str); 2] = [(XRGB8888, "XRGB8888"), (NV12, "NV12")];

fn surface(weft: &Running, title: &str) -> anyhow::Result<serde_json::Value> {
    let all = weft.msg(&Request::Surfaces)?;
    all.as_array()
        .and_then(|a| a.iter().find(|s| s["title"] == title).cloned())
        .ok_or_else(|| anyhow::anyhow!("no surface {title}"))
}

fn set_policy(weft: &Running, disabled: &[&str]) -> anyhow::Result<()> {
    let req: Request = serde_json::from_value(
        serde_json::json!({ "command": "import_policy", "disabled": disabled }),
    )?;
    weft.msg(&req)?;
    Ok(())
}

/// Nanoseconds per copy of `bytes` with a plain memcpy between two fresh heap buffers (best of
/// three runs of `n` copies; the source goes through `black_box` so no copy can be elided).
fn memcpy_ns(bytes: usize, n: u32) -> f64 {
    let sources = [vec![0x5au8; bytes], vec![0xa5u8; bytes]];
    let mut dst = vec![1u8; bytes];
    let mut best = f64::MAX;
    for _ in 0..3 {
        let t = Instant::now();
        for i in 0..n {
            let src = std::hint::black_box(&sources[(i % 2) as usize][..]);
            std::hint::black_box(&mut dst[..]).copy_from_slice(src);
            std::hint::black_box(&dst[..]);
        }
        best = best.min(t.elapsed().as_nanos() as f64 / f64::from(n));
    }
    best
}

fn main() -> anyhow::Result<()> {
    let commits: u32 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(30);
    let dir = private_runtime_dir("bench")?;
    let weft = Running::start(HeadlessOptions {
        outputs: vec![OutputSpec {
            width: 1280,
            height: 720,
            refresh_mhz: 60_000,
        }],
        server: ServerOptions {
            runtime_dir: Some(dir.clone()),
            ..Default::default()
        },
        deterministic_clock: false,
        ..Default::default()
    })?;
    let devices = weft.msg(&Request::Devices)?;
    let imports = weft.msg(&Request::Imports)?;
    println!("render device: {}", devices[0]["name"]);
    println!("dma-buf caps: {}", imports["caps"]);
    println!("{commits} commits of an already-imported buffer per row, full damage\n");
    let mut rungs = vec![
        ("SampleLinear", vec!["Sample"]),
        ("StageOnCpu", vec!["Sample", "SampleLinear"]),
    ];
    if imports["caps"]["modifiers"] == true {
        rungs.insert(0, ("Sample", vec![]));
    } else {
        println!("Sample: not measured — VK_EXT_image_drm_format_modifier is not available on this device\n");
    }
    println!(
        "{:<13} {:<9} {:>10} {:>14} {:>16} {:>14} {:>14}",
        "rung", "format", "size", "cpu/commit", "copied/frame", "copy GB/s", "memcpy GB/s"
    );
    let mut c = Client::connect(&weft.wayland_path())?;
    let d = LinuxDmabuf::bind(&mut c, 5)?;
    for (rung, disabled) in &rungs {
        set_policy(&weft, disabled)?;
        for (w, h) in SIZES {
            for (fourcc, fname) in FORMATS {
                let title = format!("{rung} {fname} {w}x{h}");
                let t = c.toplevel(&title, "weft.bench")?;
                let mut b = MemBuffer::new(
                    fourcc,
                    w,
                    h,
                    Layout {
                        disjoint: false,
                        first_offset: 0,
                        row_padding: 0,
                    },
                )?;
                if fourcc == NV12 {
                    b.fill_yuv(|x, y| ((x + y) as u8, 128, 128));
                } else {
                    b.fill_rgb(|x, y| [x as u8, y as u8, 0, 255]);
                }
                let wl = b.create_immed(&c, &d);
                c.show(&t.surface, &wl);
                c.roundtrip()?;
                let before = surface(&weft, &title)?;
                if before["rung"] != *rung {
                    println!(
                        "{title}: imported as {} instead ({})",
                        before["rung"], before["reason"]
                    );
                    continue;
                }
                for _ in 0..commits {
                    c.show(&t.surface, &wl);
                    c.roundtrip()?;
                }
                let after = surface(&weft, &title)?;
                let delta = |k: &str| {
                    after[k]
                        .as_u64()
                        .unwrap_or(0)
                        .saturating_sub(before[k].as_u64().unwrap_or(0))
                };
                let n = delta("commits").max(1);
                let cpu = delta("commit_cpu_ns") as f64 / n as f64;
                let bytes = delta("uploaded_bytes") / n;
                let (copy, mem) = if bytes > 0 {
                    let m = memcpy_ns(bytes as usize, commits.min(20));
                    (
                        format!("{:.2}", bytes as f64 / cpu),
                        format!("{:.2}", bytes as f64 / m),
                    )
                } else {
                    ("-".into(), "-".into())
                };
                println!(
                    "{:<13} {:<9} {:>10} {:>11.1} µs {:>14} B {:>14} {:>14}",
                    rung,
                    fname,
                    format!("{w}x{h}"),
                    cpu / 1000.0,
                    bytes,
                    copy,
                    mem
                );
                wl.destroy();
                t.toplevel.destroy();
                t.xdg_surface.destroy();
                t.surface.destroy();
                c.roundtrip()?;
            }
        }
    }
    drop(c);
    weft.stop()?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
