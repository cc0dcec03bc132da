//! The side-by-side benchmark: the same full-damage wl_shm client (`weft-bench-client`) against
//! weft, weston (headless, pixman) and sway (headless, pixman) on a 1920×1080 output — 640×360 and
//! 1920×1080 windows, a 64×64-damage case on a 1080p window, and an idle output — then weft alone
//! with dma-buf clients (XRGB8888 and NV12, 720p and 1080p, memfd stand-ins) on each rung, beside
//! FFmpeg's swscale NV12→BGRA conversion of the same frame size as the floor. CPU per frame is
//! the compositor process's own (every thread: lavapipe's work counts), measured in the same run.
//!
//! Prints a table (CPU/frame, fps, peak RSS) and plots it to `target/compositors.png`. Asserts
//! nothing. Run it with `scripts/bench-compositors` (installs weston, sway and ffmpeg, builds, runs
//! this); `WEFT_BENCH_FRAMES` sets the frames per case (default 300). As root, every compositor
//! and client runs as the unprivileged user `weft-bench` (sway refuses root); a compositor that is
//! not installed or does not start is reported and skipped.

#[path = "support/chart.rs"]
mod chart;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};

const USER: &str = "weft-bench";
const OUTPUT: (u32, u32) = (1920, 1080);

#[derive(Clone, Copy, PartialEq, Debug)]
enum Compositor {
    Weft,
    Weston,
    Sway,
}

impl Compositor {
    fn name(self) -> &'static str {
        match self {
            Compositor::Weft => "weft",
            Compositor::Weston => "weston",
            Compositor::Sway => "sway",
        }
    }
}

/// One measured row.
#[derive(Clone, Debug)]
struct Row {
    case: String,
    who: String,
    cpu_ms: f64,
    fps: Option<f64>,
    rss_mib: Option<f64>,
}

/// Who runs the processes: the unprivileged user when we are root.
#[derive(Clone)]
struct Runner {
    ids: Option<(u32, u32)>,
}

impl Runner {
    fn new() -> anyhow::Result<Self> {
        if !rustix::process::geteuid().is_root() {
            return Ok(Self { ids: None });
        }
        let id = |flag: &str| -> anyhow::Result<Option<u32>> {
            let out = Command::new("id").args([flag, USER]).output()?;
            Ok(out
                .status
                .success()
                .then(|| String::from_utf8_lossy(&out.stdout).trim().parse().ok())
                .flatten())
        };
        if id("-u")?.is_none() {
            let ok = Command::new("useradd")
                .args([
                    "--system",
                    "--no-create-home",
                    "--shell",
                    "/usr/sbin/nologin",
                    USER,
                ])
                .status()?
                .success();
            if !ok {
                bail!("useradd {USER} failed");
            }
        }
        let uid = id("-u")?.ok_or_else(|| anyhow!("no uid for {USER}"))?;
        let gid = id("-g")?.ok_or_else(|| anyhow!("no gid for {USER}"))?;
        Ok(Self {
            ids: Some((uid, gid)),
        })
    }

    /// A command running `program` as the runner's user, in `runtime` (its XDG_RUNTIME_DIR).
    fn command(&self, program: &str, runtime: &Path) -> Command {
        let mut c = match self.ids {
            Some((uid, gid)) => {
                let mut c = Command::new("setpriv");
                c.args([
                    format!("--reuid={uid}"),
                    format!("--regid={gid}"),
                    "--clear-groups".into(),
                    "--".into(),
                    program.into(),
                ]);
                c
            }
            None => Command::new(program),
        };
        c.env("XDG_RUNTIME_DIR", runtime)
            .env("HOME", runtime)
            .env_remove("WAYLAND_DISPLAY")
            .env_remove("DISPLAY");
        c
    }

    /// A fresh runtime directory the runner's user owns.
    fn runtime_dir(&self, name: &str) -> anyhow::Result<PathBuf> {
        let dir = std::env::temp_dir().join(format!("weft-bench-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        if let Some((uid, gid)) = self.ids {
            rustix::fs::chown(
                &dir,
                Some(rustix::process::Uid::from_raw(uid)),
                Some(rustix::process::Gid::from_raw(gid)),
            )?;
        }
        rustix::fs::chmod(&dir, rustix::fs::Mode::from_raw_mode(0o700))?;
        Ok(dir)
    }
}

/// A running compositor: its process, runtime directory and Wayland socket name.
struct Running {
    who: Compositor,
    child: Child,
    runtime: PathBuf,
    socket: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.runtime);
    }
}

fn which(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn start(who: Compositor, runner: &Runner, bins: &Bins) -> anyhow::Result<Running> {
    let runtime = runner.runtime_dir(who.name())?;
    let (w, h) = OUTPUT;
    let log = std::fs::File::create(runtime.join("log"))?;
    let mut cmd = match who {
        Compositor::Weft => {
            let mut c = runner.command(&bins.weft.to_string_lossy(), &runtime);
            c.args([
                "--backend",
                "headless",
                "--output",
                &format!("{w}x{h}@60"),
                "--socket",
                "wayland-bench",
            ]);
            c
        }
        Compositor::Weston => {
            let mut c = runner.command("weston", &runtime);
            c.args([
                "--backend=headless-backend.so",
                "--use-pixman",
                &format!("--width={w}"),
                &format!("--height={h}"),
                "--socket=wayland-bench",
                "--idle-time=0",
            ]);
            c
        }
        Compositor::Sway => {
            let config = runtime.join("sway.config");
            std::fs::write(
                &config,
                format!(
                    "output HEADLESS-1 resolution {w}x{h}@60Hz\n\
                     for_window [app_id=\"weft-bench\"] floating enable\n\
                     default_border none\n"
                ),
            )?;
            let mut c = runner.command("sway", &runtime);
            c.args(["-c", &config.to_string_lossy()])
                .env("WLR_BACKENDS", "headless")
                .env("WLR_RENDERER", "pixman")
                .env("WLR_HEADLESS_OUTPUTS", "1")
                .env("WLR_LIBINPUT_NO_DEVICES", "1");
            c
        }
    };
    let child = cmd
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .with_context(|| format!("starting {}", who.name()))?;
    let mut running = Running {
        who,
        child,
        runtime,
        socket: String::new(),
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Some(status) = running.child.try_wait()? {
            let log = std::fs::read_to_string(running.runtime.join("log")).unwrap_or_default();
            bail!("{} exited ({status}): {}", who.name(), tail(&log));
        }
        let socket = std::fs::read_dir(&running.runtime)?
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .find(|n| n.starts_with("wayland-") && !n.ends_with(".lock"));
        if let Some(socket) = socket {
            running.socket = socket;
            // Let it finish starting (weston's shell client, sway's config).
            std::thread::sleep(Duration::from_millis(1500));
            return Ok(running);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    bail!("{} made no Wayland socket in 20 s", who.name())
}

fn tail(s: &str) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(5)..].join(" | ")
}

/// CPU time of process `pid` and all its threads, in nanoseconds: the sum of every thread's
/// scheduler run time (ns precision), or utime+stime in clock ticks when that is unavailable.
fn cpu_ns(pid: u32) -> anyhow::Result<u64> {
    let mut total = 0u64;
    let mut found = false;
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))? {
        let path = task?.path().join("schedstat");
        if let Ok(s) = std::fs::read_to_string(path) {
            if let Some(ns) = s
                .split_whitespace()
                .next()
                .and_then(|v| v.parse::<u64>().ok())
            {
                total += ns;
                found = true;
            }
        }
    }
    if found {
        return Ok(total);
    }
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<u64> = after
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    let ticks = fields.get(11).copied().unwrap_or(0) + fields.get(12).copied().unwrap_or(0);
    Ok(ticks * 10_000_000)
}

fn peak_rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

struct Bins {
    weft: PathBuf,
    client: PathBuf,
}

/// Runs the bench client against `c` with `args`; returns (frames, fps, compositor CPU ms/frame).
fn client_case(
    c: &Running,
    runner: &Runner,
    bins: &Bins,
    frames: u32,
    args: &[&str],
) -> anyhow::Result<(f64, f64)> {
    let pid = c.child.id();
    let before = cpu_ns(pid)?;
    let out = runner
        .command(&bins.client.to_string_lossy(), &c.runtime)
        .env("WAYLAND_DISPLAY", &c.socket)
        .args(["--frames", &frames.to_string(), "--warmup", "0"])
        .args(args)
        .output()?;
    let after = cpu_ns(pid)?;
    if !out.status.success() {
        bail!(
            "weft-bench-client {args:?} on {}: {}",
            c.who.name(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let json: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    let fps = json["fps"].as_f64().unwrap_or(0.0);
    Ok((fps, (after - before) as f64 / 1e6 / f64::from(frames)))
}

/// The wl_shm cases on `who`, labelled `label`; `disable`: rungs weft is told not to use.
fn shm_cases(
    (who, label, disable): (Compositor, &str, Option<&str>),
    runner: &Runner,
    bins: &Bins,
    frames: u32,
    rows: &mut Vec<Row>,
) -> anyhow::Result<()> {
    let c = start(who, runner, bins)?;
    if let Some(disable) = disable {
        let policy = runner
            .command(&bins.weft.to_string_lossy(), &c.runtime)
            .args([
                "msg",
                "--socket",
                &c.socket,
                "import-policy",
                "--disable",
                disable,
            ])
            .output()?;
        if !policy.status.success() {
            bail!("import-policy --disable {disable} failed");
        }
    }
    let cases: [(&str, &[&str]); 3] = [
        ("shm 640x360 full", &["--size", "640x360"]),
        ("shm 1920x1080 full", &["--size", "1920x1080"]),
        (
            "shm 1920x1080 64x64",
            &["--size", "1920x1080", "--damage", "square"],
        ),
    ];
    for (case, args) in cases {
        match client_case(&c, runner, bins, frames, args) {
            Ok((fps, cpu_ms)) => rows.push(Row {
                case: case.into(),
                who: label.into(),
                cpu_ms,
                fps: Some(fps),
                rss_mib: None,
            }),
            Err(e) => eprintln!("  {case} on {}: {e}", who.name()),
        }
    }
    // Idle: the output with nothing new, over as long as the cases' frames take at 60 Hz.
    let pid = c.child.id();
    let before = cpu_ns(pid)?;
    std::thread::sleep(Duration::from_secs_f64(f64::from(frames) / 60.0));
    let after = cpu_ns(pid)?;
    rows.push(Row {
        case: "idle output".into(),
        who: label.into(),
        cpu_ms: (after - before) as f64 / 1e6 / f64::from(frames),
        fps: None,
        rss_mib: None,
    });
    let rss = peak_rss_mib(pid);
    for r in rows.iter_mut().filter(|r| r.who == label) {
        r.rss_mib = rss;
    }
    Ok(())
}

/// "planner": weft's own choice (no policy); the others force one rung.
const RUNGS: [&str; 5] = [
    "planner",
    "Sample",
    "SampleLinear",
    "StageOnSink",
    "StageOnCpu",
];
const ALL_RUNGS: [&str; 6] = [
    "Scanout",
    "Sample",
    "SampleLinear",
    "StageOnSource",
    "StageOnSink",
    "StageOnCpu",
];

fn dmabuf_cases(runner: &Runner, bins: &Bins, frames: u32, rows: &mut Vec<Row>) {
    for rung in RUNGS {
        let c = match start(Compositor::Weft, runner, bins) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("  weft for {rung}: {e}");
                continue;
            }
        };
        if rung != "planner" {
            let disabled: Vec<&str> = ALL_RUNGS.iter().copied().filter(|r| *r != rung).collect();
            let policy = runner
                .command(&bins.weft.to_string_lossy(), &c.runtime)
                .args(["msg", "--socket", &c.socket, "import-policy", "--disable"])
                .arg(disabled.join(","))
                .output();
            if !policy.as_ref().is_ok_and(|o| o.status.success()) {
                eprintln!("  import-policy for {rung} failed: {policy:?}");
                continue;
            }
        }
        for (fmt, arg) in [("XRGB8888", "dmabuf-xrgb8888"), ("NV12", "dmabuf-nv12")] {
            for size in ["1280x720", "1920x1080"] {
                let case = format!("dmabuf {fmt} {size}");
                match client_case(
                    &c,
                    runner,
                    bins,
                    frames,
                    &["--size", size, "--buffers", arg],
                ) {
                    Ok((fps, cpu_ms)) => rows.push(Row {
                        case,
                        who: format!("weft {rung}"),
                        cpu_ms,
                        fps: Some(fps),
                        rss_mib: peak_rss_mib(c.child.id()),
                    }),
                    Err(e) => eprintln!("  {case} on {rung}: {e}"),
                }
            }
        }
    }
}

/// FFmpeg's swscale NV12→BGRA on one core: CPU of a run converting `frames` frames minus that of
/// the same run without the conversion, per frame.
fn swscale_cases(frames: u32, rows: &mut Vec<Row>) {
    if !which("ffmpeg") {
        eprintln!("  ffmpeg is not installed: no swscale floor");
        return;
    }
    let utime = |size: &str, convert: bool| -> anyhow::Result<f64> {
        let mut c = Command::new("ffmpeg");
        c.args(["-hide_banner", "-nostdin", "-benchmark", "-threads", "1"])
            .args(["-filter_threads", "1", "-f", "lavfi", "-i"])
            .arg(format!("color=c=gray:s={size}:r=60,format=nv12"))
            .args(["-frames:v", &frames.to_string()]);
        if convert {
            c.args(["-vf", "format=bgra"]);
        }
        let out = c.args(["-f", "null", "-"]).output()?;
        let err = String::from_utf8_lossy(&out.stderr);
        let line = err
            .lines()
            .find(|l| l.starts_with("bench:"))
            .ok_or_else(|| anyhow!("no bench line from ffmpeg"))?;
        let field = |name: &str| -> f64 {
            line.split_whitespace()
                .find_map(|f| f.strip_prefix(name))
                .and_then(|v| v.trim_end_matches('s').parse().ok())
                .unwrap_or(0.0)
        };
        Ok(field("utime=") + field("stime="))
    };
    for (fmt_size, size) in [("1280x720", "1280x720"), ("1920x1080", "1920x1080")] {
        match (utime(size, true), utime(size, false)) {
            (Ok(with), Ok(without)) => rows.push(Row {
                case: format!("dmabuf NV12 {fmt_size}"),
                who: "swscale NV12->BGRA".into(),
                cpu_ms: ((with - without).max(0.0) * 1000.0) / f64::from(frames),
                fps: None,
                rss_mib: None,
            }),
            (a, b) => eprintln!("  swscale {size}: {:?} {:?}", a.err(), b.err()),
        }
    }
}

fn print_table(rows: &[Row]) {
    println!(
        "\n| case | compositor | CPU/frame (ms) | fps | peak RSS (MiB) |\n|---|---|---|---|---|"
    );
    for r in rows {
        println!(
            "| {} | {} | {:.2} | {} | {} |",
            r.case,
            r.who,
            r.cpu_ms,
            r.fps.map_or("-".into(), |f| format!("{f:.1}")),
            r.rss_mib.map_or("-".into(), |m| format!("{m:.0}")),
        );
    }
}

/// The goals of the renderer issue, each judged from this run's numbers.
fn print_goals(rows: &[Row]) {
    let get = |case: &str, who: &str| {
        rows.iter()
            .find(|r| r.case == case && r.who == who)
            .map(|r| r.cpu_ms)
    };
    let fps = |case: &str, who: &str| {
        rows.iter()
            .find(|r| r.case == case && r.who == who)
            .and_then(|r| r.fps)
    };
    println!("\ngoals (this run):");
    for case in ["shm 640x360 full", "shm 1920x1080 full"] {
        if let (Some(w), Some(s)) = (get(case, "weft"), get(case, "sway")) {
            println!(
                "  {case}: weft {w:.2} ms vs sway {s:.2} ms per frame → {}",
                if w <= s { "met" } else { "missed" }
            );
        }
    }
    if let Some(f) = fps("shm 1920x1080 full", "weft") {
        println!("  1080p full damage at 60 fps: {f:.1} fps");
    }
    if let (Some(sq), Some(idle)) = (
        get("shm 1920x1080 64x64", "weft"),
        get("idle output", "weft"),
    ) {
        println!(
            "  64x64 damage vs idle output: {sq:.3} vs {idle:.3} ms → {:.2}× (goal ≤ 1.2×)",
            sq / idle.max(1e-6)
        );
    }
    let floor = get("dmabuf NV12 1920x1080", "swscale NV12->BGRA");
    for rung in RUNGS {
        let who = format!("weft {rung}");
        if let (Some(cpu), Some(f)) = (
            get("dmabuf NV12 1920x1080", &who),
            fps("dmabuf NV12 1920x1080", &who),
        ) {
            let ratio = floor.map_or(String::from("?"), |fl| format!("{:.2}", cpu / fl.max(1e-6)));
            println!(
                "  NV12 1080p on {rung}: {f:.1} fps (goal ≥ 55), {cpu:.2} ms = {ratio}× swscale (goal ≤ 2×)"
            );
        }
    }
}

fn plot(path: &Path, rows: &[Row]) -> anyhow::Result<()> {
    use chart::{encode, legend, panel, Canvas, Group, Series, BLACK, HEIGHT, LEFT};
    let palette = [
        [46, 160, 67],
        [31, 119, 180],
        [255, 127, 14],
        [128, 60, 170],
        [214, 39, 40],
        [140, 86, 75],
    ];
    let mut cv = Canvas::new();
    cv.text(LEFT, 12, 3, "COMPOSITOR CPU MS PER FRAME", BLACK);
    let panel_of = |prefix: &str| -> (Vec<Series>, Vec<Group>) {
        let mut whos: Vec<String> = Vec::new();
        let mut cases: Vec<String> = Vec::new();
        for r in rows.iter().filter(|r| r.case.starts_with(prefix)) {
            if !whos.contains(&r.who) {
                whos.push(r.who.clone());
            }
            if !cases.contains(&r.case) {
                cases.push(r.case.clone());
            }
        }
        let series = whos
            .iter()
            .enumerate()
            .map(|(i, w)| Series {
                name: w.to_uppercase(),
                colour: palette[i % palette.len()],
            })
            .collect();
        let groups = cases
            .iter()
            .map(|c| Group {
                label: c.trim_start_matches(prefix).trim().to_uppercase(),
                values: whos
                    .iter()
                    .map(|w| {
                        rows.iter()
                            .find(|r| &r.case == c && &r.who == w)
                            .map(|r| r.cpu_ms)
                    })
                    .collect(),
            })
            .collect();
        (series, groups)
    };
    let h = (HEIGHT as i32 - 60) / 2;
    let (series, mut groups) = panel_of("shm");
    if let Some(mut idle) = panel_of("idle").1.pop() {
        idle.label = "IDLE OUTPUT".into();
        groups.push(idle);
    }
    legend(&mut cv, 44, &series);
    panel(&mut cv, 70, h - 10, "WL_SHM CLIENT", &series, &groups);
    let (series, groups) = panel_of("dmabuf");
    legend(&mut cv, 70 + h, &series);
    panel(
        &mut cv,
        90 + h,
        h - 30,
        "WEFT DMA-BUF RUNGS",
        &series,
        &groups,
    );
    encode(path, &cv)
}

fn main() -> anyhow::Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let frames: u32 = std::env::var("WEFT_BENCH_FRAMES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let bins = Bins {
        weft: PathBuf::from(env!("CARGO_BIN_EXE_weft")),
        client: std::env::var_os("WEFT_BENCH_CLIENT")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join("target/release/weft-bench-client")),
    };
    if !bins.client.exists() {
        bail!(
            "{} is missing: build it with `cargo build --release -p weft-clients --bin weft-bench-client` (scripts/bench-compositors does)",
            bins.client.display()
        );
    }
    let runner = Runner::new()?;
    let mut rows = Vec::new();
    for who in [Compositor::Weft, Compositor::Weston, Compositor::Sway] {
        if who != Compositor::Weft && !which(who.name()) {
            eprintln!("{} is not installed: skipped", who.name());
            continue;
        }
        eprintln!("{} …", who.name());
        if let Err(e) = shm_cases((who, who.name(), None), &runner, &bins, frames, &mut rows) {
            eprintln!("  {}: {e}", who.name());
        }
    }
    // weft with wl_shm copied at commit (what it does where host memory cannot be imported).
    eprintln!("weft, wl_shm copied …");
    let copied = (Compositor::Weft, "weft shm copied", Some("ShmInPlace"));
    if let Err(e) = shm_cases(copied, &runner, &bins, frames, &mut rows) {
        eprintln!("  weft shm copied: {e}");
    }
    eprintln!("weft dma-buf rungs …");
    dmabuf_cases(&runner, &bins, frames, &mut rows);
    eprintln!("swscale …");
    swscale_cases(frames, &mut rows);
    print_table(&rows);
    print_goals(&rows);
    let png = root.join("target/compositors.png");
    plot(&png, &rows)?;
    println!("\nplot: {}", png.display());
    Ok(())
}
