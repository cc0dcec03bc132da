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

use wayland_client::protocol::wl_buffer::WlBuffer;
use weft::{private_runtime_dir, HeadlessOptions, Request, Running};
use weft_backends::server::ServerOptions;
use weft_clients::dmabuf::{Layout, LinuxDmabuf, MemBuffer, NV12, XRGB8888};
use weft_clients::{Client, Toplevel};
use weft_compositor::OutputSpec;

const SIZES: [(u32, u32); 3] = [(640, 360), (1920, 1080), (3840, 2160)];
const FORMATS: [(u32, &str); 2] = [(XRGB8888, "XRGB8888"), (NV12, "NV12")];
/// Batches per row; the median batch mean is printed (robust against a frame render landing in
/// one batch).
const BATCHES: usize = 7;

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

/// One measured buffer: its client objects, the memcpy destination and the samples per round.
struct Row {
    title: String,
    fname: &'static str,
    size: (u32, u32),
    t: Toplevel,
    b: MemBuffer,
    wl: WlBuffer,
    dst: Vec<u8>,
    cpu: Vec<f64>,
    mem: Vec<f64>,
    bytes: u64,
}

/// Median of a non-empty sample.
fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// One plain `memcpy` of `bytes` bytes from the client's own mapping of the buffer (the same bytes
/// weft copies, in the same cache state: it runs right after each commit) into `dst`; nanoseconds.
fn memcpy_once(src: &[u8], dst: &mut [u8]) -> f64 {
    let t = Instant::now();
    std::hint::black_box(&mut *dst).copy_from_slice(std::hint::black_box(src));
    std::hint::black_box(&*dst);
    t.elapsed().as_nanos() as f64
}

fn main() -> anyhow::Result<()> {
    let commits: u32 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(20);
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
    if let Some(r) = weft_compositor::ipc::client::render_device(&devices) {
        println!("render device: {} ({})", r["id"], r["render_reason"]);
    }
    println!("dma-buf caps: {}", imports["caps"]);
    println!(
        "per row: {BATCHES} batches of {commits} commits of an already-imported buffer (full damage); \
         medians of the batch means. memcpy: the same bytes from the client's mapping, right after \
         each commit; ratio = copy ÷ memcpy throughput (goal ≥ 0.90)\n"
    );
    let mut rungs = vec![
        ("SampleLinear", vec!["Sample"]),
        ("StageOnSink", vec!["Sample", "SampleLinear"]),
        ("StageOnCpu", vec!["Sample", "SampleLinear", "StageOnSink"]),
    ];
    if imports["caps"]["modifiers"] == true {
        rungs.insert(0, ("Sample", vec![]));
    } else {
        println!("Sample: not measured — VK_EXT_image_drm_format_modifier is not available on this device\n");
    }
    println!(
        "{:<13} {:<9} {:>10} {:>14} {:>16} {:>10} {:>12} {:>7}",
        "rung", "format", "size", "cpu/commit", "copied/frame", "copy GB/s", "memcpy GB/s", "ratio"
    );
    let mut results = Vec::new();
    let mut c = Client::connect(&weft.wayland_path())?;
    let d = LinuxDmabuf::bind(&mut c, 5)?;
    for (rung, disabled) in &rungs {
        set_policy(&weft, disabled)?;
        // Every size and format of this rung is mapped at once and measured in interleaved rounds,
        // so drift (allocator growth, cache state, the frame clock) hits every row alike.
        let mut rows = Vec::new();
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
                let first = surface(&weft, &title)?;
                if first["rung"] != *rung {
                    println!(
                        "{title}: imported as {} instead ({})",
                        first["rung"], first["reason"]
                    );
                    continue;
                }
                // The bytes StageOnCpu copies per full-damage commit: every plane, laid out from
                // offset 0 in the first file (this layout has no gaps and no disjoint planes).
                let copied = (first["uploaded_bytes"].as_u64().unwrap_or(0) as usize)
                    .min(b.files[0].bytes_mut().len());
                rows.push(Row {
                    title,
                    fname,
                    size: (w, h),
                    t,
                    b,
                    wl,
                    dst: vec![0u8; copied],
                    cpu: Vec::new(),
                    mem: Vec::new(),
                    bytes: 0,
                });
            }
        }
        // Round 0 warms up and is not counted.
        for round in 0..=BATCHES {
            for row in &mut rows {
                let a = surface(&weft, &row.title)?;
                let mut mem_ns = 0.0;
                for _ in 0..commits {
                    c.show(&row.t.surface, &row.wl);
                    c.roundtrip()?;
                    if !row.dst.is_empty() {
                        let n = row.dst.len();
                        mem_ns += memcpy_once(&row.b.files[0].bytes_mut()[..n], &mut row.dst);
                    }
                }
                let z = surface(&weft, &row.title)?;
                if round == 0 {
                    continue;
                }
                let delta = |k: &str| {
                    z[k].as_u64()
                        .unwrap_or(0)
                        .saturating_sub(a[k].as_u64().unwrap_or(0))
                };
                let n = delta("commits").max(1);
                row.cpu.push(delta("commit_cpu_ns") as f64 / n as f64);
                row.mem.push(mem_ns / f64::from(commits));
                row.bytes = delta("uploaded_bytes") / n;
            }
        }
        for row in rows {
            let cpu = median(row.cpu);
            let (copy, memcpy, ratio) = if row.bytes > 0 {
                let m = median(row.mem);
                (
                    format!("{:.2}", row.bytes as f64 / cpu),
                    format!("{:.2}", row.bytes as f64 / m),
                    format!("{:.2}", m / cpu),
                )
            } else {
                ("-".into(), "-".into(), "-".into())
            };
            println!(
                "{:<13} {:<9} {:>10} {:>11.2} µs {:>14} B {:>10} {:>12} {:>7}",
                rung,
                row.fname,
                format!("{}x{}", row.size.0, row.size.1),
                cpu / 1000.0,
                row.bytes,
                copy,
                memcpy,
                ratio
            );
            results.push((*rung, row.fname, row.size, cpu, row.bytes));
            row.wl.destroy();
            row.t.toplevel.destroy();
            row.t.xdg_surface.destroy();
            row.t.surface.destroy();
            c.roundtrip()?;
        }
    }
    // Zero-copy rungs: the commit of an imported buffer must not grow with its size.
    println!("\nzero-copy scaling, cpu/commit 3840x2160 ÷ 640x360 (goal ≤ 1.10):");
    let at = |rung: &str, fname: &str, size: (u32, u32)| {
        results
            .iter()
            .find(|r| r.0 == rung && r.1 == fname && r.2 == size && r.4 == 0)
            .map(|r| r.3)
    };
    for (rung, _) in &rungs {
        for (_, fname) in FORMATS {
            if let (Some(big), Some(small)) =
                (at(rung, fname, (3840, 2160)), at(rung, fname, (640, 360)))
            {
                println!("  {rung:<13} {fname:<9} {:.2}", big / small);
            }
        }
    }
    drop(c);
    weft.stop()?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
