//! The JSON contract of the IPC socket. Key names are a contract with `weft msg --json` users:
//! add keys freely, never rename or remove one.

use serde::{Deserialize, Serialize};

use crate::buffer::BufferInfo;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Request {
    Outputs,
    Surfaces,
    Devices,
    /// Renders `output` now and writes it to `path` (absolute) as an 8-bit RGBA PNG.
    Screenshot {
        output: String,
        path: String,
    },
    /// The next frame of `output` (every output when omitted) redraws it whole, not just its
    /// damage (to compare the two, or to recover from a suspected damage bug).
    Redraw {
        #[serde(default)]
        output: Option<String>,
    },
    /// dma-buf import state: device caps, policy, cache hit/miss counters, remembered failures.
    Imports,
    /// Changes the import policy (each field only when given) and returns it: `disabled` rungs
    /// ("Sample", "SampleLinear", "StageOnCpu"), the default Y′CbCr conversion.
    ImportPolicy {
        #[serde(default)]
        disabled: Option<Vec<String>>,
        #[serde(default)]
        yuv: Option<crate::render::YuvParams>,
        /// On a CPU render device: `StageOnCpu` converts Y′CbCr at commit (true) or copies the
        /// planes for the shader (false).
        #[serde(default)]
        cpu_convert: Option<bool>,
    },
    /// Drops every cached import, as a device loss would; the next commit of each buffer re-imports.
    InvalidateImports,
    /// Every connected client with its pid and what it uses of its budget.
    Clients,
    /// seat0: who has the keyboard, where the pointer is and its image, inhibitors.
    Seat,
    /// Reads the configuration file again (a refused file leaves the one in force).
    Reload,
    /// XWayland: off, listening, starting or running; `DISPLAY`; how often it was started.
    Xwayland,
    /// Configures `output`: its scale (logical pixels grow by it), its transform (`normal`, `90`,
    /// … `flipped-270`), where it is in the layout, its mode, and whether it is on (each only
    /// when given); returns the outputs.
    Output {
        output: String,
        #[serde(default)]
        scale: Option<f64>,
        #[serde(default)]
        transform: Option<String>,
        #[serde(default)]
        position: Option<(i32, i32)>,
        /// `WxH@HZ`: a mode of a KMS output's connector (a modeset), any size of an output
        /// weft sizes itself.
        #[serde(default)]
        mode: Option<String>,
        #[serde(default)]
        enabled: Option<bool>,
    },
    /// A test hook (accepted only with `--fault-injection` and a simulated topology): removes a
    /// device as a hot-unplug would.
    SimulateRemoval {
        device: String,
    },
    /// A test hook (accepted only with `--fault-injection`): arms a fault on the render device.
    InjectFault {
        fault: Fault,
        /// How many times, for faults that count.
        #[serde(default)]
        count: Option<u32>,
    },
}

/// Faults `inject_fault` can arm ([`crate::render::faults`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Fault {
    /// The next frame's submission reports VK_ERROR_DEVICE_LOST; weft rebuilds its renderer.
    DeviceLost,
    /// The next `count` (default 1) dma-buf memory imports report VK_ERROR_OUT_OF_DEVICE_MEMORY.
    ImportAllocation,
    /// The next frame's submission waits on the device until `gpu-resume` (frames stay in flight).
    GpuStall,
    /// Every stalled submission runs.
    GpuResume,
}

#[derive(Debug, Clone, Serialize)]
pub struct ClientRecord {
    /// weft's name for the connection (stable while it lasts).
    pub id: String,
    pub pid: Option<i32>,
    pub uid: Option<u32>,
    pub budget: Vec<crate::budget::Usage>,
    /// The sandbox engine it connected through (wp_security_context_v1), if any: such a client
    /// is not offered the globals that read or drive other clients.
    pub sandbox: Option<SandboxRecord>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SandboxRecord {
    pub engine: Option<String>,
    pub app_id: Option<String>,
    pub instance_id: Option<String>,
}

/// The `xwayland` reply.
#[derive(Debug, Clone, Serialize)]
pub struct XwaylandRecord {
    /// "off" (--no-xwayland, or no display free), "listening" (no X server runs yet), "starting"
    /// or "running".
    pub state: &'static str,
    /// `DISPLAY` for X11 applications, e.g. ":1".
    pub display: Option<String>,
    /// How many times Xwayland was started (again after it exited).
    pub starts: u32,
    /// Why the last Xwayland went, if one did.
    pub last_exit: Option<String>,
}

/// The `seat` reply.
#[derive(Debug, Clone, Serialize)]
pub struct SeatRecord {
    /// The `weft msg surfaces` id of the surface with the keyboard.
    pub keyboard_focus: Option<u64>,
    pub pointer: (f64, f64),
    /// `hidden`, `surface` (a client's cursor surface) or a cursor-theme shape (`default`, `text`, …).
    pub cursor: String,
    /// Whether the window with the keyboard inhibits weft's shortcuts.
    pub shortcuts_inhibited: bool,
    /// Whether a shown surface keeps the session from idling.
    pub idle_inhibited: bool,
}

/// Parses one request line as a client sent it (JSON, trailing newline and whitespace allowed).
/// The error is the reply's `error` text. Pure: the server calls it on every line, and
/// `fuzz/fuzz_targets/ipc_request.rs` feeds it arbitrary bytes.
pub fn parse_request(line: &[u8]) -> Result<Request, IpcError> {
    serde_json::from_slice::<Request>(line).map_err(IpcError::BadRequest)
}

/// Why a request was refused; its text is the reply's `error`.
#[derive(Debug, thiserror::Error)]
pub enum IpcError {
    #[error("bad request: {0}")]
    BadRequest(serde_json::Error),
    #[error("no output named {0}")]
    NoOutput(String),
    #[error("output {0} is gone")]
    OutputGone(String),
    #[error("render device lost and not rebuilt yet: {0}")]
    DeviceLost(crate::render::RenderError),
    #[error(transparent)]
    Render(#[from] crate::render::RenderError),
    #[error("renderer returned no pixels")]
    NoPixels,
    #[error("writing {path}: {source}")]
    WritePng {
        path: String,
        source: png::EncodingError,
    },
    #[error("{0}")]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Scale(#[from] crate::outputs::scale::ScaleError),
    #[error(transparent)]
    Transform(#[from] crate::outputs::transform::TransformError),
    #[error(transparent)]
    Power(#[from] crate::outputs::power::PowerError),
    #[error("{0}")]
    Mode(String),
    #[error("no rung named {0}")]
    NoRung(String),
    #[error("{0} cannot be disabled: it is what every wl_shm buffer falls back to")]
    NotDisableable(&'static str),
    #[error("test hooks are off (start weft with --fault-injection)")]
    TestHooksOff,
    #[error("only devices of a simulated topology (--simulate-devices) can be removed")]
    NotSimulated,
    #[error("no device {0}")]
    NoDevice(String),
    #[error("fault injection is off (start weft with --fault-injection)")]
    FaultInjectionOff,
    #[error("the reply does not serialise: {0}")]
    Reply(serde_json::Error),
}

#[derive(Debug, Clone, Serialize)]
pub struct OutputRecord {
    pub name: String,
    pub width: u32,
    pub height: u32,
    pub refresh_mhz: u32,
    pub x: i32,
    pub y: i32,
    /// Output pixels per logical pixel, and the size in logical pixels that follows.
    pub scale: f64,
    /// How it is turned or mirrored (`normal`, `90`, … `flipped-270`).
    pub transform: &'static str,
    /// Whether it is on (an output turned off keeps its name, shows nothing and is no global).
    pub enabled: bool,
    /// The modes it can be put in (`WxH@HZ`; a KMS output's are its connector's).
    pub modes: Vec<String>,
    pub logical_width: i32,
    pub logical_height: i32,
    /// Frames presented (frame clock ticks) and frames actually rendered.
    pub frames: u64,
    pub rendered: u64,
    /// Pixels the last rendered frame redrew (its damage).
    pub damaged_pixels: u64,
    /// Submissions of its render device not yet seen complete, and how often the CPU waited for
    /// one that was still running (frames are not waited for: see docs/ARCHITECTURE.md).
    pub frames_in_flight: usize,
    pub gpu_waits: u64,
    /// The device that composes this output (an id from `devices`).
    pub render_device: crate::devices::DeviceId,
    /// The KMS device that scans it out (an id from `devices`; none: headless or nested).
    pub display_device: Option<crate::devices::DeviceId>,
    /// What reached the display device for this output (KMS backend only).
    pub kms: Option<serde_json::Value>,
    /// Full-frame copies a composed frame costs after it is drawn (0: drawn straight into what
    /// the output shows), and why.
    pub composed_copies_per_frame: u32,
    pub composed_copies_why: &'static str,
    /// Screen captures of this output done so far (dma-buf: a GPU copy; wl_shm: a readback).
    pub captures: crate::capture::CaptureCounts,
    /// The X11 display X11 applications reach weft's outputs through (`DISPLAY`; none without
    /// XWayland).
    pub x11_display: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct SurfaceRecord {
    pub id: u64,
    /// "xdg_toplevel", "x11" (a window of an X11 application), "layer_surface" or "subsurface".
    pub role: &'static str,
    /// A layer surface's layer: "background", "bottom", "top" or "overlay" (its namespace is
    /// `app_id`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layer: Option<&'static str>,
    /// A subsurface's parent surface id.
    pub parent: Option<u64>,
    /// False for a toplevel that shows nothing yet (no buffer, a refused buffer, or its first
    /// buffer still being copied in slices).
    pub mapped: bool,
    pub app_id: Option<String>,
    pub title: Option<String>,
    pub output: Option<String>,
    pub x: i32,
    pub y: i32,
    pub width: i32,
    pub height: i32,
    pub buffer: Option<BufferInfo>,
    pub rung: Option<&'static str>,
    pub reason: Option<String>,
    /// The reason as a stable code: `<rung>.<why>` for the nearest better rung that was skipped
    /// or failed (`sample.multi_planar_yuv`), `<rung>.best` where none was in the way, or what
    /// happened (`import_failed.temporary`, `shm.over_budget`).
    pub reason_code: Option<String>,
    /// Where a dma-buf came from: a device id from `devices`, or "unknown" (null for wl_shm and
    /// single-pixel buffers).
    pub source_device: Option<String>,
    /// What the source attribution rests on (fdinfo exp_name, elimination, …).
    pub source_evidence: Option<String>,
    /// The bytes the last commit copied (a staging copy, a wl_shm upload): one frame's cost.
    pub copied_bytes_per_frame: u64,
    pub import_cache: CacheCounts,
    /// The surface on each further render device (its own rung there, and its own copies).
    pub on_devices: Vec<DeviceRecordOfSurface>,
    /// Feedback steering: per-surface feedback sent beyond the default, sent again because the
    /// plan changed, and followed (a new buffer on a zero-copy rung after a resend).
    pub feedback: SteeringCounts,
    /// Time commits were held for their acquire fences, the wait in progress included.
    pub fence_wait_ms: f64,
    /// The client's color representation (wp_color_representation_v1) and the Y′CbCr conversion
    /// weft applies.
    pub color_representation: crate::color_representation::RepresentationRecord,
    /// Frames received (commits with a buffer), shown (presented by an output) and skipped
    /// (replaced before any output presented them).
    pub frames: crate::surface::FrameCounts,
    /// A commit is held now, waiting for its acquire fence (the surface shows its last good frame).
    pub fence_waiting: bool,
    /// How long the held commit has waited so far.
    pub fence_waiting_ms: f64,
    /// How the shown buffer was synchronised: "explicit" (wp_linux_drm_syncobj_v1),
    /// "implicit_sync_file" (DMA_BUF_IOCTL_EXPORT_SYNC_FILE), "implicit_poll", "none".
    pub sync: &'static str,
    /// The release point of the shown commit (explicit sync), signalled when weft's reads end.
    pub release_point: Option<u64>,
    /// weft's read fences added to the shown buffer (IMPORT_SYNC_FILE(READ), implicit sync).
    pub read_fences: u64,
    pub maximized: bool,
    pub fullscreen: bool,
    /// Minimized (xdg_toplevel.set_minimized): out of the layout until brought back.
    pub minimized: bool,
    pub subsurfaces: usize,
    pub popups: usize,
    pub commits: u64,
    /// How often the surface's rung or reason changed (each change is logged once, at info).
    pub path_changes: u64,
    /// Commits held until their dma-buf's implicit write fences signalled.
    pub fence_waits: u64,
    pub uploaded_bytes: u64,
    /// CPU time spent on this surface's commits (import, cache lookup, staging copies).
    pub commit_cpu_ns: u64,
    /// Wall time of the same work (includes waiting for a GPU staging copy).
    pub commit_wall_ns: u64,
}

/// A surface as a further render device shows it.
#[derive(Debug, Clone, Serialize)]
pub struct DeviceRecordOfSurface {
    pub device: crate::devices::DeviceId,
    pub rung: Option<&'static str>,
    pub copied_bytes_per_frame: u64,
}

/// A surface's feedback steering.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct SteeringCounts {
    pub sent: u64,
    pub resent: u64,
    pub followed: u64,
}

/// A surface's import-cache lookups.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct CacheCounts {
    pub hits: u64,
    pub misses: u64,
}

#[cfg(test)]
mod tests {
    use super::{parse_request, Request};

    #[test]
    fn parses_requests_and_refuses_the_rest() {
        type Case = (&'static [u8], fn(&Request) -> bool);
        let ok: [Case; 4] = [
            (b"{\"command\":\"outputs\"}\n", |r| {
                matches!(r, Request::Outputs)
            }),
            (
                b"{\"command\":\"screenshot\",\"output\":\"HEADLESS-1\",\"path\":\"/tmp/x.png\"}",
                |r| matches!(r, Request::Screenshot { output, .. } if output == "HEADLESS-1"),
            ),
            (b"{\"command\":\"import_policy\"}", |r| {
                matches!(
                    r,
                    Request::ImportPolicy {
                        disabled: None,
                        yuv: None,
                        cpu_convert: None,
                    }
                )
            }),
            (b"  {\"command\":\"invalidate_imports\"}  ", |r| {
                matches!(r, Request::InvalidateImports)
            }),
        ];
        for (line, want) in ok {
            let got = parse_request(line).unwrap_or_else(|e| panic!("{line:?}: {e}"));
            assert!(want(&got), "{line:?} parsed as {got:?}");
        }
        for bad in [
            &b""[..],
            b"\xff\xfe",
            b"{}",
            b"{\"command\":\"reboot\"}",
            b"{\"command\":\"screenshot\"}",
            b"{\"command\":\"outputs\"} trailing",
        ] {
            let err = parse_request(bad).expect_err("must not parse");
            let err = err.to_string();
            assert!(err.starts_with("bad request: "), "{err}");
        }
    }
}
