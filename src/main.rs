//! `weft`: run the compositor, talk to a running one (`weft msg`), or run the demo (`weft demo`).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand, ValueEnum};
use weft::{private_runtime_dir, HeadlessOptions, Request, Running};
use weft_backends::server::ServerOptions;
use weft_compositor::OutputSpec;

#[derive(Parser)]
#[command(
    name = "weft",
    version,
    about = "A Wayland compositor for buffers from other devices"
)]
#[command(args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    sub: Option<Sub>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Backend {
    /// Offscreen outputs (tests, benchmarks).
    Headless,
    /// A window in the running X11 or Wayland session (development).
    Winit,
    /// The session compositor on a bare TTY: DRM/KMS through a libseat session.
    Drm,
}

/// The backend when `--backend` is omitted: nested in a window when there is a graphical session to
/// nest in (`WAYLAND_DISPLAY` or `DISPLAY` set and non-empty), else the session compositor.
fn default_backend(
    wayland_display: Option<&std::ffi::OsStr>,
    x11_display: Option<&std::ffi::OsStr>,
) -> Backend {
    if [wayland_display, x11_display]
        .into_iter()
        .flatten()
        .any(|v| !v.is_empty())
    {
        Backend::Winit
    } else {
        Backend::Drm
    }
}

#[derive(Args)]
struct RunArgs {
    /// Which backend drives the outputs (default: winit when WAYLAND_DISPLAY or DISPLAY is set, else
    /// drm).
    #[arg(long, value_enum)]
    backend: Option<Backend>,
    /// An output as WIDTHxHEIGHT@HZ (repeatable).
    #[arg(long = "output", default_value = "1280x720@60")]
    outputs: Vec<OutputSpec>,
    /// Wayland socket name in $XDG_RUNTIME_DIR (default: first free wayland-N).
    #[arg(long)]
    socket: Option<String>,
    /// Exit with the client's status when it exits.
    #[arg(long)]
    exit_with_client: bool,
    /// Presentation timestamps advance exactly one refresh period per frame (for tests).
    #[arg(long)]
    deterministic_clock: bool,
    /// The configuration file (default: $XDG_CONFIG_HOME/weft/config.toml, used when it exists).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Draw the cursor into headless outputs (screen captures and screenshots then show it;
    /// winit and drm outputs always draw it).
    #[arg(long)]
    draw_cursor: bool,
    /// Accept `weft msg inject-fault` (test hooks that break the render device on purpose).
    #[arg(long)]
    fault_injection: bool,
    /// Run no X11 applications: reserve no X11 display and never start Xwayland (by default weft
    /// reserves one, exports DISPLAY, and starts Xwayland when the first X11 client connects).
    #[arg(long)]
    no_xwayland: bool,
    /// Render on this device: a DRM node (/dev/dri/renderD128) or part of the Vulkan device's
    /// name (default: the registry's policy; also WEFT_RENDER_DEVICE).
    #[arg(long)]
    render_device: Option<String>,
    /// Replace the machine's devices with a made-up topology (JSON; tests).
    #[arg(long)]
    simulate_devices: Option<std::path::PathBuf>,
    /// Compose the outputs on N render devices, round-robin (another GPU where there is one, else
    /// another logical device on the same one).
    #[arg(long, default_value_t = 1)]
    render_devices: u32,
    /// The client to run, with WAYLAND_DISPLAY and WEFT_SOCKET set.
    #[arg(last = true)]
    command: Vec<OsString>,
}

#[derive(Subcommand)]
enum Sub {
    /// Ask a running weft about its state.
    Msg(MsgArgs),
    /// Run headless weft with the built-in demo client, then report what happened.
    Demo(DemoArgs),
}

#[derive(Args)]
struct MsgArgs {
    /// Wayland socket name of the weft to ask (default: $WEFT_SOCKET, then $WAYLAND_DISPLAY).
    #[arg(long)]
    socket: Option<String>,
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
    #[command(subcommand)]
    what: MsgWhat,
}

#[derive(Subcommand)]
enum MsgWhat {
    Outputs,
    Surfaces,
    Devices,
    /// dma-buf imports: device caps, policy, cache hits and misses, remembered failures.
    Imports,
    /// Change the import policy: rungs to disable, default Y′CbCr conversion.
    ImportPolicy {
        /// Rungs not to use (Scanout, Sample, SampleLinear, StageOnSource, StageOnSink,
        /// StageOnCpu); an empty list enables all.
        #[arg(long, value_delimiter = ',', num_args = 0..)]
        disable: Option<Vec<String>>,
        /// Y′CbCr matrix for buffers nothing describes: bt601, bt709 or bt2020.
        #[arg(long, requires = "yuv_range")]
        yuv_matrix: Option<String>,
        /// Y′CbCr range: limited or full.
        #[arg(long, requires = "yuv_matrix")]
        yuv_range: Option<String>,
        /// On a CPU render device, StageOnCpu converts Y′CbCr at commit (on) or copies the planes
        /// for the shader to decode (off).
        #[arg(long, value_parser = ["on", "off"])]
        cpu_convert: Option<String>,
    },
    /// Drop every cached import (as a device loss would); buffers re-import on their next commit.
    InvalidateImports,
    /// Connected clients, their pids and what they use of their budgets.
    Clients,
    /// seat0: keyboard focus, pointer position and image, shortcut and idle inhibition.
    Seat,
    /// Read the configuration file again.
    Reload,
    /// XWayland: whether it runs, DISPLAY, how often it started.
    Xwayland,
    /// Test hook (weft started with --fault-injection): break the render device on purpose.
    InjectFault {
        /// device-lost (the renderer is rebuilt), import-allocation (dma-buf imports fail),
        /// gpu-stall (the next frame stays in flight) or gpu-resume (stalled frames run).
        fault: String,
        /// How many times (import-allocation).
        #[arg(long)]
        count: Option<u32>,
    },
    /// Make the next frame of OUTPUT (every output when omitted) redraw it whole, not only its damage.
    Redraw {
        output: Option<String>,
    },
    /// Write what OUTPUT shows to FILE as an 8-bit RGBA PNG.
    Screenshot {
        output: String,
        file: PathBuf,
    },
    /// Configure OUTPUT: --scale S (e.g. 2 or 1.5), --transform T (normal, 90, 180, 270,
    /// flipped, flipped-90, flipped-180, flipped-270), --position X,Y (logical pixels), --mode
    /// WxH[@HZ] (a KMS output: one of its connector's modes), --off or --on.
    Output {
        output: String,
        #[arg(long)]
        scale: Option<f64>,
        #[arg(long)]
        transform: Option<String>,
        #[arg(long, value_parser = parse_position)]
        position: Option<(i32, i32)>,
        #[arg(long)]
        mode: Option<String>,
        #[arg(long, conflicts_with = "on")]
        off: bool,
        #[arg(long)]
        on: bool,
    },
}

/// `X,Y`.
fn parse_position(s: &str) -> Result<(i32, i32), String> {
    let (x, y) = s.split_once(',').ok_or("a position is X,Y")?;
    let n = |v: &str| v.trim().parse::<i32>().map_err(|e| format!("{v:?}: {e}"));
    Ok((n(x)?, n(y)?))
}

#[derive(Args)]
struct DemoArgs {
    /// How long the demo client animates.
    #[arg(long, default_value_t = 3.0)]
    seconds: f64,
    #[arg(long, default_value = "weft-demo.png")]
    screenshot: PathBuf,
    #[arg(long = "output", default_value = "1280x720@60")]
    output: OutputSpec,
}

fn main() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("WEFT_LOG")
        .or_else(|_| tracing_subscriber::EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.sub {
        Some(Sub::Msg(args)) => msg(args).map(|()| 0),
        Some(Sub::Demo(args)) => demo(args).map(|()| 0),
        None => run(cli.run),
    };
    match result {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("weft: {e:#}");
            std::process::exit(1);
        }
    }
}

fn run(args: RunArgs) -> anyhow::Result<i32> {
    let backend = args.backend.unwrap_or_else(|| {
        default_backend(
            std::env::var_os("WAYLAND_DISPLAY").as_deref(),
            std::env::var_os("DISPLAY").as_deref(),
        )
    });
    let server = ServerOptions {
        socket: args.socket,
        command: args.command,
        exit_with_client: args.exit_with_client,
        runtime_dir: None,
        fault_injection: args.fault_injection,
        xwayland: !args.no_xwayland,
        config: args
            .config
            .or_else(|| weft_compositor::config::default_path().filter(|p| p.exists())),
        // SIGTERM, SIGINT and SIGHUP stop weft cleanly (sockets, X11 display and locks removed).
        stop_signals: weft_backends::signals::install()
            .map(std::sync::Arc::new)
            .inspect_err(|e| tracing::warn!(error = %e, "no stop-signal handlers: a signal ends weft without cleaning up"))
            .ok(),
        devices: weft_compositor::DeviceOptions {
            render_device: args.render_device,
            simulate: args.simulate_devices,
            render_devices: args.render_devices,
            display_device: None,
        },
    };
    match backend {
        Backend::Headless => {
            let options = HeadlessOptions {
                outputs: args.outputs,
                server,
                deterministic_clock: args.deterministic_clock,
                ping_timeout: None,
                draw_cursor: args.draw_cursor,
            };
            Ok(weft_backends::headless::run(options, None)?)
        }
        Backend::Winit => {
            if args.deterministic_clock {
                bail!("--deterministic-clock needs --backend headless: the winit backend runs on the display's clock");
            }
            let [output] = args.outputs[..] else {
                bail!("the winit backend has one output (its window): pass --output at most once");
            };
            Ok(weft_backends::winit::run(
                weft_backends::winit::WinitOptions { output, server },
            )?)
        }
        Backend::Drm => {
            if args.deterministic_clock {
                bail!("--deterministic-clock needs --backend headless: the drm backend runs on the display's clock");
            }
            let options = weft_backends::drm::DrmOptions {
                outputs: args.outputs,
                server,
            };
            Ok(weft_backends::drm::run(options)?)
        }
    }
}

/// Finds the IPC socket: --socket, then $WEFT_SOCKET (a path), then $WAYLAND_DISPLAY.
fn ipc_path(socket: Option<&str>) -> anyhow::Result<PathBuf> {
    let runtime = || {
        std::env::var_os("XDG_RUNTIME_DIR")
            .map(PathBuf::from)
            .context("XDG_RUNTIME_DIR is not set")
    };
    if let Some(name) = socket {
        return Ok(weft_compositor::ipc::client::socket_path(&runtime()?, name));
    }
    if let Some(path) = std::env::var_os("WEFT_SOCKET") {
        return Ok(PathBuf::from(path));
    }
    if let Some(name) = std::env::var_os("WAYLAND_DISPLAY") {
        return Ok(weft_compositor::ipc::client::socket_path(
            &runtime()?,
            &name.to_string_lossy(),
        ));
    }
    bail!("which weft? pass --socket NAME, or set WEFT_SOCKET or WAYLAND_DISPLAY")
}

fn msg(args: MsgArgs) -> anyhow::Result<()> {
    let path = ipc_path(args.socket.as_deref())?;
    let req = match &args.what {
        MsgWhat::Outputs => Request::Outputs,
        MsgWhat::Surfaces => Request::Surfaces,
        MsgWhat::Devices => Request::Devices,
        MsgWhat::Imports => Request::Imports,
        MsgWhat::ImportPolicy {
            disable,
            yuv_matrix,
            yuv_range,
            cpu_convert,
        } => {
            let yuv = match (yuv_matrix, yuv_range) {
                (Some(matrix), Some(range)) => Some(
                    serde_json::from_value(serde_json::json!({ "matrix": matrix, "range": range }))
                        .context("--yuv-matrix bt601|bt709|bt2020, --yuv-range limited|full")?,
                ),
                _ => None,
            };
            Request::ImportPolicy {
                disabled: disable.clone(),
                yuv,
                cpu_convert: cpu_convert.as_deref().map(|c| c == "on"),
            }
        }
        MsgWhat::InvalidateImports => Request::InvalidateImports,
        MsgWhat::Clients => Request::Clients,
        MsgWhat::Seat => Request::Seat,
        MsgWhat::Reload => Request::Reload,
        MsgWhat::Xwayland => Request::Xwayland,
        MsgWhat::InjectFault { fault, count } => Request::InjectFault {
            fault: serde_json::from_value(serde_json::json!(fault))
                .context("faults: device-lost, import-allocation, gpu-stall, gpu-resume")?,
            count: *count,
        },
        MsgWhat::Redraw { output } => Request::Redraw {
            output: output.clone(),
        },
        MsgWhat::Output {
            output,
            scale,
            transform,
            position,
            mode,
            off,
            on,
        } => Request::Output {
            output: output.clone(),
            scale: *scale,
            transform: transform.clone(),
            position: *position,
            mode: mode.clone(),
            enabled: (*on || *off).then_some(*on),
        },
        MsgWhat::Screenshot { output, file } => Request::Screenshot {
            output: output.clone(),
            path: absolute(file)?.to_string_lossy().into_owned(),
        },
    };
    let data = weft_compositor::ipc::client::request(&path, &req)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&data)?);
        return Ok(());
    }
    match args.what {
        MsgWhat::Outputs | MsgWhat::Output { .. } => print_table(
            &data,
            &[
                "name",
                "width",
                "height",
                "refresh_mhz",
                "x",
                "y",
                "scale",
                "transform",
                "enabled",
                "frames",
                "rendered",
                "damaged_pixels",
                "x11_display",
            ],
        ),
        MsgWhat::Surfaces => print_surfaces(&data),
        MsgWhat::Devices => print_devices(&data),
        MsgWhat::Clients => print_clients(&data),
        MsgWhat::Imports
        | MsgWhat::ImportPolicy { .. }
        | MsgWhat::InvalidateImports
        | MsgWhat::Seat
        | MsgWhat::Reload
        | MsgWhat::Xwayland
        | MsgWhat::Redraw { .. }
        | MsgWhat::InjectFault { .. } => {
            println!("{}", serde_json::to_string_pretty(&data)?)
        }
        MsgWhat::Screenshot { .. } => println!("wrote {}", data["path"].as_str().unwrap_or("?")),
    }
    Ok(())
}

/// One line per client: pid, then each budget as used/limit.
fn print_clients(data: &serde_json::Value) {
    for c in data.as_array().into_iter().flatten() {
        let pid = c["pid"].as_i64().map_or("?".into(), |p| p.to_string());
        let budget: Vec<String> = c["budget"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|u| {
                format!(
                    "{} {}/{}",
                    u["resource"].as_str().unwrap_or("?"),
                    u["used"],
                    u["limit"]
                )
            })
            .collect();
        println!("pid {pid}: {}", budget.join(", "));
    }
}

fn absolute(p: &Path) -> anyhow::Result<PathBuf> {
    Ok(if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()?.join(p)
    })
}

fn cell(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => "-".into(),
        other => other.to_string(),
    }
}

/// `weft msg devices`: one row per device, the render device marked, caps as words.
fn print_devices(data: &serde_json::Value) {
    let rows: Vec<serde_json::Value> = data
        .as_array()
        .map(|a| {
            a.iter()
                .map(|d| {
                    let nodes = d["nodes"]
                        .as_array()
                        .map(|n| {
                            n.iter()
                                .map(|n| cell(&n["path"]))
                                .collect::<Vec<_>>()
                                .join(" ")
                        })
                        .unwrap_or_default();
                    let caps = d["caps"]
                        .as_object()
                        .map(|c| {
                            c.iter()
                                .filter_map(|(k, v)| match v {
                                    serde_json::Value::Bool(true) => Some(k.clone()),
                                    serde_json::Value::Bool(false) => None,
                                    serde_json::Value::Array(a) if k == "planes" => {
                                        Some(format!("planes:{}", a.len()))
                                    }
                                    serde_json::Value::Array(a) => Some(format!(
                                        "{k}:{}",
                                        a.iter().map(cell).collect::<Vec<_>>().join(",")
                                    )),
                                    serde_json::Value::String(s) => Some(format!("{k}:{s}")),
                                    _ => None,
                                })
                                .collect::<Vec<_>>()
                                .join(" ")
                        })
                        .unwrap_or_default();
                    let render = if d["render"].as_bool() == Some(true) {
                        "yes"
                    } else {
                        ""
                    };
                    serde_json::json!({
                        "id": d["id"], "kind": d["kind"], "driver": d["driver"],
                        "render": render, "nodes": nodes, "caps": caps,
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    print_table(
        &serde_json::Value::Array(rows),
        &["id", "kind", "driver", "render", "nodes", "caps"],
    );
    if let Some(r) = data
        .as_array()
        .and_then(|a| a.iter().find(|d| d["render"].as_bool() == Some(true)))
    {
        println!(
            "render device {}: {}",
            cell(&r["id"]),
            cell(&r["render_reason"])
        );
    }
}

fn print_table(data: &serde_json::Value, keys: &[&str]) {
    let rows: Vec<Vec<String>> = data
        .as_array()
        .map(|a| {
            a.iter()
                .map(|r| keys.iter().map(|k| cell(&r[*k])).collect())
                .collect()
        })
        .unwrap_or_default();
    let widths: Vec<usize> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| {
            rows.iter()
                .map(|r| r[i].len())
                .chain([k.len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: Vec<String>| {
        cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
    };
    println!("{}", line(keys.iter().map(|k| k.to_uppercase()).collect()));
    for r in rows {
        println!("{}", line(r));
    }
}

/// A surface's buffer in one table cell: kind, size and format, plus modifier and plane count for a
/// dma-buf (`dmabuf 1920x1080 NV12 LINEAR 2pl`).
fn buffer_cell(b: &serde_json::Value) -> String {
    if b.is_null() {
        return "-".into();
    }
    let mut text = format!(
        "{} {}x{} {}",
        cell(&b["kind"]),
        b["width"],
        b["height"],
        cell(&b["format"])
    );
    if b["kind"] == "dmabuf" {
        let modifier = match b["modifier"].as_str() {
            Some("0x0000000000000000") => "LINEAR".to_string(),
            Some("0x00ffffffffffffff") => "INVALID".to_string(),
            Some(m) => m.to_string(),
            None => "-".to_string(),
        };
        text += &format!(" {modifier} {}pl", b["planes"]);
    }
    text
}

fn print_surfaces(data: &serde_json::Value) {
    let flat: Vec<serde_json::Value> = data
        .as_array()
        .map(|a| {
            a.iter()
                .map(|s| {
                    let b = &s["buffer"];
                    serde_json::json!({
                        "id": s["id"], "app_id": s["app_id"], "title": s["title"], "output": s["output"],
                        "geometry": format!("{}x{}+{}+{}", s["width"], s["height"], s["x"], s["y"]),
                        "buffer": buffer_cell(b),
                        "rung": s["rung"], "reason": s["reason"],
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    print_table(
        &serde_json::Value::Array(flat),
        &[
            "id", "app_id", "title", "output", "geometry", "buffer", "rung", "reason",
        ],
    );
}

/// The demo's second part: a synthetic NV12 video from the best source device the machine has,
/// played through weft once per rung, with what each rung cost.
fn video_pipeline(weft: &Running, per_rung: Duration) -> anyhow::Result<()> {
    use weft_clients::video;
    let source = video::best_source();
    println!(
        "video pipeline: {}x{} NV12 from {}",
        video::WIDTH,
        video::HEIGHT,
        source.name()
    );
    // On a CPU render device StageOnCpu (converting) goes before the rungs that leave Y′CbCr to
    // the shader; each row forces its own rung.
    let ladder: [(&str, &[&str]); 3] = [
        ("SampleLinear", &["Sample", "StageOnCpu"]),
        ("StageOnSink", &["Sample", "SampleLinear", "StageOnCpu"]),
        ("StageOnCpu", &["Sample", "SampleLinear", "StageOnSink"]),
    ];
    println!(
        "  {:<13} {:>7} {:>7} {:>13} {:>11}  {:<16} render device",
        "rung", "frames", "fps", "copied/frame", "cpu/commit", "source device"
    );
    let render = weft.msg(&Request::Devices)?;
    let render = weft_compositor::ipc::client::render_device(&render)
        .map(|d| cell(&d["id"]))
        .unwrap_or_default();
    for (rung, disabled) in ladder {
        let policy: Request = serde_json::from_value(
            serde_json::json!({"command": "import_policy", "disabled": disabled}),
        )?;
        weft.msg(&policy)?;
        let title = format!("video {rung}");
        let (report, client) = video::play(&weft.wayland_path(), &title, source, per_rung)?;
        let surfaces = weft.msg(&Request::Surfaces)?;
        let s = surfaces
            .as_array()
            .and_then(|a| a.iter().find(|s| s["title"] == title.as_str()))
            .cloned()
            .unwrap_or_default();
        let commits = s["commits"].as_u64().unwrap_or(0).max(1);
        let cpu_us = s["commit_cpu_ns"].as_u64().unwrap_or(0) as f64 / commits as f64 / 1e3;
        println!(
            "  {:<13} {:>7} {:>7.1} {:>11} B {:>8.1} µs  {:<16} {render}",
            cell(&s["rung"]),
            report.frames,
            f64::from(report.frames) / report.duration.as_secs_f64(),
            s["copied_bytes_per_frame"].as_u64().unwrap_or(0),
            cpu_us,
            cell(&s["source_device"]),
        );
        drop(client);
    }
    weft.msg(&serde_json::from_value(
        serde_json::json!({"command": "import_policy", "disabled": []}),
    )?)?;
    Ok(())
}

fn demo(args: DemoArgs) -> anyhow::Result<()> {
    let runtime_dir = private_runtime_dir("demo")?;
    let weft = Running::start(HeadlessOptions {
        outputs: vec![args.output],
        server: ServerOptions {
            runtime_dir: Some(runtime_dir.clone()),
            ..Default::default()
        },
        deterministic_clock: false,
        ping_timeout: None,
        draw_cursor: false,
    })?;
    println!(
        "weft demo: headless output {}x{}@{:.2}Hz on {}",
        args.output.width,
        args.output.height,
        f64::from(args.output.refresh_mhz) / 1000.0,
        weft.endpoints.socket_name
    );
    let devices = weft.msg(&Request::Devices)?;
    if let Some(d) = devices
        .as_array()
        .and_then(|a| a.iter().find(|d| d["render"].as_bool() == Some(true)))
    {
        println!(
            "render device: {} ({}, {}): {}",
            cell(&d["id"]),
            cell(&d["kind"]),
            cell(&d["driver"]),
            cell(&d["render_reason"])
        );
    }
    let (report, session) =
        weft_clients::demo::run(&weft.wayland_path(), Duration::from_secs_f64(args.seconds))?;
    let fps = f64::from(report.frames_drawn) / report.duration.as_secs_f64();
    println!(
        "client: {} frames in {:.2}s ({fps:.1} fps), {} frame callbacks",
        report.frames_drawn,
        report.duration.as_secs_f64(),
        report.frame_callbacks
    );
    println!(
        "presentation: {} presented, {} discarded, refresh {:.3} ms, mean interval {:.3} ms",
        report.presented,
        report.discarded,
        f64::from(report.refresh_ns) / 1e6,
        report.mean_interval_ns / 1e6
    );
    let outputs = weft.msg(&Request::Outputs)?;
    for o in outputs.as_array().into_iter().flatten() {
        println!(
            "output {}: {} frames, {} rendered",
            cell(&o["name"]),
            o["frames"],
            o["rendered"]
        );
    }
    let surfaces = weft.msg(&Request::Surfaces)?;
    println!("surfaces:");
    print_surfaces(&surfaces);
    video_pipeline(
        &weft,
        Duration::from_secs_f64((args.seconds / 3.0).max(1.0)),
    )?;
    for s in surfaces.as_array().into_iter().flatten() {
        println!(
            "  surface {}: {} commits, {} bytes uploaded",
            s["id"], s["commits"], s["uploaded_bytes"]
        );
    }
    let imports = weft.msg(&Request::Imports)?;
    println!(
        "dma-buf imports (the NV12 subsurface): {} misses, {} hits, {} failures; main_device {}",
        imports["cache"]["misses"],
        imports["cache"]["hits"],
        imports["cache"]["failures"],
        imports["main_device"]
    );
    let path = absolute(&args.screenshot)?;
    weft.msg(&Request::Screenshot {
        output: "HEADLESS-1".into(),
        path: path.to_string_lossy().into_owned(),
    })?;
    println!("screenshot: {}", path.display());
    drop(session);
    weft.stop()?;
    let _ = std::fs::remove_dir_all(&runtime_dir);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{default_backend, Backend};
    use std::ffi::OsStr;

    #[test]
    fn default_backend_follows_the_session() {
        let set = Some(OsStr::new("x"));
        let empty = Some(OsStr::new(""));
        let cases = [
            (set, None, Backend::Winit),
            (None, set, Backend::Winit),
            (set, set, Backend::Winit),
            (empty, set, Backend::Winit),
            (None, None, Backend::Drm),
            (empty, empty, Backend::Drm),
        ];
        for (wayland, x11, want) in cases {
            assert_eq!(
                default_backend(wayland, x11),
                want,
                "WAYLAND_DISPLAY={wayland:?} DISPLAY={x11:?}"
            );
        }
    }
}
