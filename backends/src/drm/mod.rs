//! The session backend: weft as the compositor of a seat, on DRM/KMS.
//!
//! - **Session**: libseat (seatd, logind, or its builtin/noop backend as root), which opens the
//!   DRM devices for weft and pauses/resumes them on VT switches.
//! - **Devices**: every KMS device of the seat (`/dev/dri/card*` with CRTCs and connectors); a
//!   render-only device (vgem) has none and is passed over.
//! - **Outputs**: each connected connector at its preferred mode (or the `--output` size where a
//!   mode of it exists), on a CRTC its encoders reach, by atomic modesetting ([`kms`]).
//! - **Frames**: each output is composed by the render device into its target, copied into the
//!   back one of two dumb buffers and page-flipped; the flip's completion event paces the next
//!   frame (vblank), and the presentation feedback held for a frame is sent with the flip's
//!   kernel timestamp (vsync, hw_clock, hw_completion; never zero_copy: the frame was composed).
//!
//! Not yet (see docs/ARCHITECTURE.md): libinput, udev hotplug, the scanout rung, KMS fences.

pub mod kms;

use calloop::EventLoop;
use smithay::backend::session::libseat::LibSeatSession;
use smithay::backend::session::{Event as SessionEvent, Session};
use smithay::reexports::wayland_server::Display;
use tracing::info;
use weft_compositor::render::gate;
use weft_compositor::{Clock, OutputSpec, Weft};

use crate::server::{serve, ServerError, ServerOptions};
use kms::{KmsDevice, KmsError};

#[derive(Debug, Clone, Default)]
pub struct DrmOptions {
    /// A size to prefer per output (`--output`): used where the connector has a mode of it.
    pub outputs: Vec<OutputSpec>,
    pub server: ServerOptions,
}

#[derive(Debug, thiserror::Error)]
pub enum DrmError {
    #[error(
        "no seat: libseat could not open a session ({0}). Run weft from a VT with seatd or logind, \
         or as root with LIBSEAT_BACKEND=noop"
    )]
    NoSeat(String),
    #[error("no KMS device: {0}")]
    NoDevice(String),
    #[error("no output: no connector of any KMS device is connected ({0})")]
    NoConnector(String),
    #[error(transparent)]
    Kms(#[from] KmsError),
    #[error(transparent)]
    Server(#[from] ServerError),
}

/// Runs weft as the seat's compositor until its client exits (with `--exit-with-client`) or it is
/// stopped. Returns the client's exit status where one was waited for, else 0.
pub fn run(options: DrmOptions) -> Result<i32, DrmError> {
    let _vulkan = gate::Shared::enter();
    let mut event_loop: EventLoop<'static, Weft> =
        EventLoop::try_new().map_err(|e| ServerError::EventLoop(e.to_string()))?;
    event_loop
        .handle()
        .insert_source(gate::SleepGate, |_, _, _| {})
        .map_err(|e| ServerError::EventLoop(e.to_string()))?;
    let (mut session, notifier) =
        LibSeatSession::new().map_err(|e| DrmError::NoSeat(e.to_string()))?;
    info!(seat = %session.seat(), "session opened");

    let display: Display<Weft> =
        Display::new().map_err(|e| ServerError::EventLoop(e.to_string()))?;
    let mut state = Weft::new(
        display.handle(),
        event_loop.handle(),
        Clock::monotonic(),
        &options.server.devices,
    )
    .map_err(ServerError::from)?;

    let mut devices = Vec::new();
    let mut why = Vec::new();
    for path in kms::card_nodes() {
        match KmsDevice::open(&mut session, &path) {
            Ok(Some(device)) => devices.push(device),
            Ok(None) => why.push(format!("{}: render-only", path.display())),
            Err(e) => why.push(format!("{}: {e}", path.display())),
        }
    }
    if devices.is_empty() {
        return Err(DrmError::NoDevice(if why.is_empty() {
            "no /dev/dri/card* node".into()
        } else {
            why.join("; ")
        }));
    }
    let mut outputs = 0;
    for device in &mut devices {
        outputs += device.light_up(&mut state, &options.outputs)?;
    }
    if outputs == 0 {
        let names: Vec<String> = devices.iter().map(|d| d.name().to_string()).collect();
        return Err(DrmError::NoConnector(names.join(", ")));
    }
    let served = serve(&mut event_loop, display, &options.server)?;
    let devices = kms::Devices::insert(devices, &event_loop.handle())?;

    let paused = devices.clone();
    event_loop
        .handle()
        .insert_source(notifier, move |event, _, state| match event {
            SessionEvent::PauseSession => {
                info!("session paused (VT switched away): devices released");
                paused.pause();
            }
            SessionEvent::ActivateSession => {
                info!("session active again: devices taken back, outputs redrawn");
                paused.activate(state);
            }
        })
        .map_err(|e| ServerError::EventLoop(e.to_string()))?;

    Ok(served.run(&mut event_loop, &mut state, "drm"))
}
