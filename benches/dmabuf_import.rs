//! dma-buf import benchmark: prints numbers, asserts nothing.
//!
//! For each rung weft can use here × size (640×360, 1920×1080, 3840×2160) × format (XRGB8888,
//! NV12, YUYV: the camera's packed 4:2:2): a client commits an already-imported buffer `COMMITS` times (full damage) to an in-process
//! headless weft, each commit after the frame callback of the one before (as a video client paces
//! itself). Weft's own accounting (`weft msg surfaces`) gives per commit the thread CPU time
//! (`commit_cpu_ns`, CLOCK_THREAD_CPUTIME_ID around the commit's import work), the wall time of the
//! same work (`commit_wall_ns`: for `StageOnSink` it includes waiting for the GPU copy) and the
//! bytes the commit copied (`copied_bytes_per_frame`).
//!
//! Printed:
//! - a table for 1920×1080 and 3840×2160: CPU and wall time per commit, bytes copied per frame,
//!   and for the copying rungs (`StageOnSink`, `StageOnCpu`) the copy throughput (bytes ÷ wall time
//!   per commit) next to a plain `memcpy` of the same bytes measured in the same run, and their
//!   ratio (goal ≥ 0.90); for `StageOnCpu` also that ratio by CPU time (its copy is the commit's
//!   CPU work; wall time adds any wait for a frame still reading the copy it rewrites);
//! - for the zero-copy rungs (`Sample`, `SampleLinear`), CPU per commit at 3840×2160 ÷ 640×360
//!   (goal ≤ 1.10: an import must not cost more for a bigger buffer);
//! - a summary of which ratios meet their goals, and a bar chart in `target/dmabuf_import.png`.
//!
//! Run: `cargo bench --bench dmabuf_import` (optionally `-- COMMITS`, default 20).

#[path = "support/chart.rs"]
mod chart;

use std::path::Path;
use std::time::Instant;

use wayland_client::protocol::wl_buffer::WlBuffer;
use weft::{private_runtime_dir, HeadlessOptions, Request, Running};
use weft_backends::server::ServerOptions;
use weft_clients::dmabuf::{is_yuv, Layout, LinuxDmabuf, MemBuffer, NV12, XRGB8888, YUYV};
use weft_clients::{Client, Toplevel};
use weft_compositor::OutputSpec;

const P360: (u32, u32) = (640, 360);
const P1080: (u32, u32) = (1920, 1080);
const P2160: (u32, u32) = (3840, 2160);
/// Every size measured; 640×360 is there for the zero-copy scaling ratio only.
const SIZES: [(u32, u32); 3] = [P360, P1080, P2160];
/// The sizes in the table and the plot.
const TABLE_SIZES: [(u32, u32); 2] = [P1080, P2160];
const FORMATS: [(u32, &str); 3] = [(XRGB8888, "XRGB8888"), (NV12, "NV12"), (YUYV, "YUYV")];
/// Batches per row; the median batch mean is printed (robust against a frame render landing in
/// one batch).
const BATCHES: usize = 7;
const DEFAULT_COMMITS: u32 = 20;
/// Goal for copy throughput ÷ memcpy throughput.
const COPY_GOAL: f64 = 0.90;
/// Goal for a zero-copy rung's CPU per commit at 3840×2160 ÷ 640×360.
const SCALING_GOAL: f64 = 1.10;

/// A rung and the import policy that forces it.
struct Rung {
    /// The row's label.
    name: &'static str,
    /// The rung weft must report for it.
    expect: &'static str,
    disabled: &'static [&'static str],
    zero_copy: bool,
    /// `import-policy --cpu-convert` (matters on a CPU render device only).
    cpu_convert: bool,
}

const fn rung(name: &'static str, disabled: &'static [&'static str], zero_copy: bool) -> Rung {
    Rung {
        name,
        expect: name,
        disabled,
        zero_copy,
        cpu_convert: true,
    }
}

/// The rungs to measure: `Sample` only where the device imports modifiers; on a CPU render
/// device `StageOnCpu` twice: converting Y′CbCr at commit (weft's choice there) and copying the
/// planes as they are (`StageOnCpu/planes`, the copy the memcpy goal is about).
fn rungs(modifiers: bool, cpu_device: bool) -> Vec<Rung> {
    const ON_CPU: &[&str] = &["Sample", "SampleLinear", "StageOnSink"];
    let mut all = vec![
        rung("SampleLinear", &["Sample"], true),
        rung("StageOnSink", &["Sample", "SampleLinear"], false),
        rung("StageOnCpu", ON_CPU, false),
    ];
    if cpu_device {
        all.push(Rung {
            name: "StageOnCpu/planes",
            expect: "StageOnCpu",
            disabled: ON_CPU,
            zero_copy: false,
            cpu_convert: false,
        });
    }
    if modifiers {
        all.insert(0, rung("Sample", &[], true));
    }
    all
}

fn surface(weft: &Running, title: &str) -> anyhow::Result<serde_json::Value> {
    let all = weft.msg(&Request::Surfaces)?;
    all.as_array()
        .and_then(|a| a.iter().find(|s| s["title"] == title).cloned())
        .ok_or_else(|| anyhow::anyhow!("no surface {title}"))
}

fn set_policy(weft: &Running, disabled: &[&str], cpu_convert: bool) -> anyhow::Result<()> {
    let req: Request = serde_json::from_value(serde_json::json!({
        "command": "import_policy",
        "disabled": disabled,
        "cpu_convert": cpu_convert,
    }))?;
    weft.msg(&req)?;
    Ok(())
}

fn start_weft(dir: &Path) -> anyhow::Result<Running> {
    Running::start(HeadlessOptions {
        outputs: vec![OutputSpec {
            width: 1280,
            height: 720,
            refresh_mhz: 60_000,
        }],
        server: ServerOptions {
            runtime_dir: Some(dir.to_path_buf()),
            ..Default::default()
        },
        deterministic_clock: false,
        ..Default::default()
    })
}

/// The means of one batch of commits of one row, in nanoseconds per commit.
struct Batch {
    cpu_ns: f64,
    wall_ns: f64,
    memcpy_ns: f64,
    /// `copied_bytes_per_frame` after the batch's last commit.
    bytes: u64,
    /// `uploaded_bytes` grown over the batch ÷ its commits (should equal `bytes`: full damage).
    uploaded_per_commit: u64,
}

/// One measured buffer: its client objects, the memcpy destination and the batches so far.
struct Row {
    title: String,
    rung: &'static str,
    fname: &'static str,
    size: (u32, u32),
    t: Toplevel,
    b: MemBuffer,
    wl: WlBuffer,
    dst: Vec<u8>,
    batches: Vec<Batch>,
}

/// A row's result: medians over its batches.
struct Measured {
    rung: &'static str,
    fname: &'static str,
    size: (u32, u32),
    cpu_ns: f64,
    wall_ns: f64,
    bytes: u64,
    /// The memcpy of the same bytes, for rows that copy.
    memcpy_ns: Option<f64>,
}

impl Measured {
    /// Copy throughput in GB/s (bytes ÷ wall time per commit).
    fn copy_gbps(&self) -> Option<f64> {
        (self.bytes > 0).then(|| self.bytes as f64 / self.wall_ns)
    }

    fn memcpy_gbps(&self) -> Option<f64> {
        self.memcpy_ns.map(|m| self.bytes as f64 / m)
    }

    /// Copy throughput ÷ memcpy throughput of the same bytes.
    fn ratio(&self) -> Option<f64> {
        self.memcpy_ns.map(|m| m / self.wall_ns)
    }

    /// For `StageOnCpu`, whose copy is the commit's CPU work: the same ratio by CPU time, without
    /// a wait for the frame still reading the copy about to be rewritten.
    fn cpu_ratio(&self) -> Option<f64> {
        self.memcpy_ns
            .filter(|_| self.rung.starts_with("StageOnCpu"))
            .map(|m| m / self.cpu_ns)
    }
}

/// Median of a non-empty sample.
fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn size_name(size: (u32, u32)) -> String {
    format!("{}x{}", size.0, size.1)
}

/// One plain `memcpy` of `bytes` bytes from the client's own mapping of the buffer (the same bytes
/// weft copies, in the same cache state: it runs right after each commit) into `dst`; nanoseconds.
fn memcpy_once(src: &[u8], dst: &mut [u8]) -> f64 {
    let t = Instant::now();
    std::hint::black_box(&mut *dst).copy_from_slice(std::hint::black_box(src));
    std::hint::black_box(&*dst);
    t.elapsed().as_nanos() as f64
}

/// A mapped, filled buffer of `format` and `size`, shown on a new toplevel and imported once; `None`
/// (with a line saying why) when weft imported it on another rung than the one forced.
fn open_row(
    weft: &Running,
    c: &mut Client,
    d: &LinuxDmabuf,
    (rung, expect): (&'static str, &'static str),
    size: (u32, u32),
    (fourcc, fname): (u32, &'static str),
) -> anyhow::Result<Option<Row>> {
    let title = format!("{rung} {fname} {}", size_name(size));
    let t = c.toplevel(&title, "weft.bench")?;
    let layout = Layout {
        disjoint: false,
        first_offset: 0,
        row_padding: 0,
    };
    let mut b = MemBuffer::new(fourcc, size.0, size.1, layout)?;
    if is_yuv(fourcc) {
        b.fill_yuv(|x, y| ((x + y) as u8, 128, 128));
    } else {
        b.fill_rgb(|x, y| [x as u8, y as u8, 0, 255]);
    }
    let wl = b.create_immed(c, d);
    c.show(&t.surface, &wl);
    c.roundtrip()?;
    let first = surface(weft, &title)?;
    if first["rung"] != expect {
        println!(
            "{title}: imported as {} instead ({})",
            first["rung"], first["reason"]
        );
        return Ok(None);
    }
    // The bytes a copying rung copies per full-damage commit: every plane, laid out from offset 0
    // in the first file (this layout has no gaps and no disjoint planes).
    let copied = (first["copied_bytes_per_frame"].as_u64().unwrap_or(0) as usize)
        .min(b.files[0].bytes_mut().len());
    Ok(Some(Row {
        title,
        rung,
        fname,
        size,
        t,
        b,
        wl,
        dst: vec![0u8; copied],
        batches: Vec::new(),
    }))
}

/// `commits` commits of the row's buffer, each followed by a memcpy of the bytes weft copies.
fn measure_batch(
    weft: &Running,
    c: &mut Client,
    row: &mut Row,
    commits: u32,
) -> anyhow::Result<Batch> {
    let a = surface(weft, &row.title)?;
    let mut mem_ns = 0.0;
    for i in 0..commits {
        // Paced as a video client is: the next frame once weft drew the last one (its frame
        // callback), so a commit measures its copy, not a queue of frames it outran.
        let tag = 0x1000_0000 + i;
        c.state.frames_done.clear();
        c.frame(&row.t.surface, tag);
        c.show(&row.t.surface, &row.wl);
        c.wait_until("the frame callback", 200, |s| {
            s.frames_done.iter().any(|(t, _)| *t == tag)
        })?;
        if !row.dst.is_empty() {
            let n = row.dst.len();
            mem_ns += memcpy_once(&row.b.files[0].bytes_mut()[..n], &mut row.dst);
        }
    }
    let z = surface(weft, &row.title)?;
    let delta = |k: &str| {
        z[k].as_u64()
            .unwrap_or(0)
            .saturating_sub(a[k].as_u64().unwrap_or(0))
    };
    let n = delta("commits").max(1);
    Ok(Batch {
        cpu_ns: delta("commit_cpu_ns") as f64 / n as f64,
        wall_ns: delta("commit_wall_ns") as f64 / n as f64,
        memcpy_ns: mem_ns / f64::from(commits),
        bytes: z["copied_bytes_per_frame"].as_u64().unwrap_or(0),
        uploaded_per_commit: delta("uploaded_bytes") / n,
    })
}

fn summarize(row: Row) -> Measured {
    let bytes = row.batches.last().map_or(0, |b| b.bytes);
    if let Some(b) = row
        .batches
        .iter()
        .find(|b| b.uploaded_per_commit != b.bytes)
    {
        println!(
            "{}: uploaded_bytes grew {} B per commit, copied_bytes_per_frame says {} B",
            row.title, b.uploaded_per_commit, b.bytes
        );
    }
    let memcpy_ns = (!row.dst.is_empty() && bytes > 0)
        .then(|| median(row.batches.iter().map(|b| b.memcpy_ns).collect()));
    Measured {
        rung: row.rung,
        fname: row.fname,
        size: row.size,
        cpu_ns: median(row.batches.iter().map(|b| b.cpu_ns).collect()),
        wall_ns: median(row.batches.iter().map(|b| b.wall_ns).collect()),
        bytes,
        memcpy_ns,
    }
}

fn close_row(c: &mut Client, row: &Row) -> anyhow::Result<()> {
    row.wl.destroy();
    row.t.toplevel.destroy();
    row.t.xdg_surface.destroy();
    row.t.surface.destroy();
    c.roundtrip()?;
    Ok(())
}

/// Every size and format of one rung, mapped at once and measured in interleaved rounds, so drift
/// (allocator growth, cache state, the frame clock) hits every row alike. Round 0 warms up.
fn measure_rung(
    weft: &Running,
    c: &mut Client,
    d: &LinuxDmabuf,
    rung: &Rung,
    commits: u32,
) -> anyhow::Result<Vec<Measured>> {
    set_policy(weft, rung.disabled, rung.cpu_convert)?;
    let mut rows = Vec::new();
    for size in SIZES {
        for format in FORMATS {
            rows.extend(open_row(
                weft,
                c,
                d,
                (rung.name, rung.expect),
                size,
                format,
            )?);
        }
    }
    for round in 0..=BATCHES {
        for row in &mut rows {
            let batch = measure_batch(weft, c, row, commits)?;
            if round > 0 {
                row.batches.push(batch);
            }
        }
    }
    let mut out = Vec::new();
    for row in rows {
        close_row(c, &row)?;
        out.push(summarize(row));
    }
    Ok(out)
}

fn find<'a>(
    results: &'a [Measured],
    rung: &str,
    fname: &str,
    size: (u32, u32),
) -> Option<&'a Measured> {
    results
        .iter()
        .find(|r| r.rung == rung && r.fname == fname && r.size == size)
}

fn opt(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |v| format!("{v:.2}"))
}

fn print_table(rungs: &[Rung], results: &[Measured]) {
    println!(
        "{:<17} {:<9} {:>10} {:>13} {:>14} {:>14} {:>10} {:>12} {:>8} {:>10}",
        "rung",
        "format",
        "size",
        "cpu/commit",
        "wall/commit",
        "copied/frame",
        "copy GB/s",
        "memcpy GB/s",
        "ratio",
        "cpu ratio"
    );
    for rung in rungs {
        for (_, fname) in FORMATS {
            for size in TABLE_SIZES {
                let Some(r) = find(results, rung.name, fname, size) else {
                    continue;
                };
                println!(
                    "{:<17} {:<9} {:>10} {:>10.2} µs {:>11.2} µs {:>12} B {:>10} {:>12} {:>8} {:>10}",
                    r.rung,
                    r.fname,
                    size_name(r.size),
                    r.cpu_ns / 1000.0,
                    r.wall_ns / 1000.0,
                    r.bytes,
                    opt(r.copy_gbps()),
                    opt(r.memcpy_gbps()),
                    opt(r.ratio()),
                    opt(r.cpu_ratio())
                );
            }
        }
    }
}

/// A ratio against its goal, for the summary.
struct Verdict {
    what: String,
    value: f64,
    goal: String,
    met: bool,
}

/// The copy ÷ memcpy verdicts. On a CPU render device `StageOnCpu` converts Y′CbCr (4 bytes out
/// per pixel, arithmetic per pixel): not a copy of the same bytes, so not held to the goal; its
/// plane copy is `StageOnCpu/planes`.
fn copy_verdicts(results: &[Measured], cpu_device: bool) -> Vec<Verdict> {
    let converts = |r: &Measured| cpu_device && r.rung == "StageOnCpu" && r.fname != "XRGB8888";
    results
        .iter()
        .filter(|r| TABLE_SIZES.contains(&r.size))
        .filter(|r| !converts(r))
        .filter_map(|r| {
            r.ratio().map(|value| Verdict {
                what: format!("{} {} {} copy ÷ memcpy", r.rung, r.fname, size_name(r.size)),
                value,
                goal: format!("≥ {COPY_GOAL:.2}"),
                met: value >= COPY_GOAL,
            })
        })
        .collect()
}

/// Prints the zero-copy rungs' CPU per commit at 3840×2160 ÷ 640×360 and returns the verdicts.
fn print_scaling(rungs: &[Rung], results: &[Measured]) -> Vec<Verdict> {
    println!(
        "\nzero-copy scaling, cpu/commit {} ÷ {} (goal ≤ {SCALING_GOAL:.2}):",
        size_name(P2160),
        size_name(P360)
    );
    let mut out = Vec::new();
    for rung in rungs.iter().filter(|r| r.zero_copy) {
        for (_, fname) in FORMATS {
            let (Some(big), Some(small)) = (
                find(results, rung.name, fname, P2160),
                find(results, rung.name, fname, P360),
            ) else {
                println!("  {:<13} {fname:<9} not measured", rung.name);
                continue;
            };
            let value = big.cpu_ns / small.cpu_ns;
            println!(
                "  {:<13} {fname:<9} {:>8.2} µs ÷ {:>8.2} µs = {value:.2}",
                rung.name,
                big.cpu_ns / 1000.0,
                small.cpu_ns / 1000.0
            );
            out.push(Verdict {
                what: format!("{} {fname} 4K ÷ 360p cpu/commit", rung.name),
                value,
                goal: format!("≤ {SCALING_GOAL:.2}"),
                met: value <= SCALING_GOAL,
            });
        }
    }
    out
}

fn print_summary(verdicts: &[Verdict]) {
    let met = verdicts.iter().filter(|v| v.met).count();
    println!(
        "\nsummary: {met} of {} ratios meet their goals (medians of this run)",
        verdicts.len()
    );
    for (label, want) in [("meets ", true), ("misses", false)] {
        for v in verdicts.iter().filter(|v| v.met == want) {
            println!(
                "  {label} {:<48} {:>6.2} (goal {})",
                v.what, v.value, v.goal
            );
        }
    }
}

fn main() -> anyhow::Result<()> {
    let commits: u32 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(DEFAULT_COMMITS);
    let dir = private_runtime_dir("bench")?;
    let weft = start_weft(&dir)?;
    let devices = weft.msg(&Request::Devices)?;
    let imports = weft.msg(&Request::Imports)?;
    if let Some(r) = weft_compositor::ipc::client::render_device(&devices) {
        println!("render device: {} ({})", r["id"], r["render_reason"]);
    }
    println!("dma-buf caps: {}", imports["caps"]);
    println!(
        "per row: {BATCHES} batches of {commits} commits of an already-imported buffer (full damage); \
         medians of the batch means. cpu = thread CPU time of the commit's work in weft, wall = its \
         wall time (StageOnSink: includes waiting for the GPU copy). copy GB/s = copied bytes ÷ \
         wall/commit; memcpy: the same bytes from the client's mapping, right after each commit; \
         ratio = copy ÷ memcpy throughput (goal ≥ {COPY_GOAL:.2})\n"
    );
    let cpu_device = imports["caps"]["cpu_device"] == true;
    let rungs = rungs(imports["caps"]["modifiers"] == true, cpu_device);
    if !rungs.iter().any(|r| r.name == "Sample") {
        println!("Sample: not measured — VK_EXT_image_drm_format_modifier is not available on this device\n");
    }
    let mut c = Client::connect(&weft.wayland_path())?;
    let d = LinuxDmabuf::bind(&mut c, 5)?;
    let mut results = Vec::new();
    for rung in &rungs {
        results.extend(measure_rung(&weft, &mut c, &d, rung, commits)?);
    }
    drop(c);
    weft.stop()?;
    let _ = std::fs::remove_dir_all(&dir);

    print_table(&rungs, &results);
    if cpu_device {
        println!(
            "\nStageOnCpu converts NV12 and YUYV to XRGB8888 on this CPU render device (once per \
             commit rather than per pixel per frame in the shader): its ratio above compares a \
             conversion with a copy and is not held to the goal; StageOnCpu/planes is the copy."
        );
    }
    let mut verdicts = copy_verdicts(&results, cpu_device);
    verdicts.extend(print_scaling(&rungs, &results));
    print_summary(&verdicts);
    let png = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/dmabuf_import.png");
    plot::write(&png, &rungs, &results)?;
    println!("\nplot: {}", png.display());
    Ok(())
}

/// The bar chart: two panels (CPU and wall µs per commit), a group of bars per format × size, one
/// bar per rung ([`chart`]).
mod plot {
    use super::chart::{encode, legend, panel, Canvas, Group, Rgb, Series, BLACK, HEIGHT, LEFT};
    use super::{find, size_name, Measured, Rung, FORMATS, TABLE_SIZES};
    use std::path::Path;

    fn rung_colour(name: &str) -> Rgb {
        match name {
            "Sample" => [128, 60, 170],
            "SampleLinear" => [46, 160, 67],
            "StageOnSink" => [31, 119, 180],
            "StageOnCpu" => [255, 127, 14],
            "StageOnCpu/planes" => [214, 39, 40],
            _ => [128, 128, 128],
        }
    }

    fn groups(rungs: &[Rung], results: &[Measured], value: fn(&Measured) -> f64) -> Vec<Group> {
        let mut out = Vec::new();
        for (_, fname) in FORMATS {
            for size in TABLE_SIZES {
                out.push(Group {
                    label: format!("{fname} {}", size_name(size)),
                    values: rungs
                        .iter()
                        .map(|r| find(results, r.name, fname, size).map(value))
                        .collect(),
                });
            }
        }
        out
    }

    /// Draws the chart and writes it to `path` (creating its folder).
    pub fn write(path: &Path, rungs: &[Rung], results: &[Measured]) -> anyhow::Result<()> {
        let series: Vec<Series> = rungs
            .iter()
            .map(|r| Series {
                name: r.name.to_string(),
                colour: rung_colour(r.name),
            })
            .collect();
        let mut cv = Canvas::new();
        cv.text(LEFT, 12, 3, "DMA-BUF IMPORT: US PER COMMIT", BLACK);
        legend(&mut cv, 44, &series);
        let cpu = groups(rungs, results, |m| m.cpu_ns / 1000.0);
        let wall = groups(rungs, results, |m| m.wall_ns / 1000.0);
        let h = (HEIGHT as i32 - 80) / 2;
        panel(&mut cv, 80, h, "CPU US PER COMMIT", &series, &cpu);
        panel(&mut cv, 80 + h, h, "WALL US PER COMMIT", &series, &wall);
        encode(path, &cv)
    }
}
