//! The session backend: weft as the compositor of a seat, on DRM/KMS.
//!
//! - **Session**: libseat (seatd, logind, or its builtin/noop backend as root), which opens the
//!   DRM devices for weft and pauses/resumes them on VT switches.
//! - **Devices**: every KMS device of the seat (`/dev/dri/card*` with CRTCs and connectors), found
//!   through udev, which also tells of devices and connectors coming and going ([`devices`]); a
//!   render-only device (vgem) has none and is passed over.
//! - **Outputs**: each connected connector at its preferred mode (or the `--output` size where a
//!   mode of it exists), on a CRTC its encoders reach, by atomic modesetting ([`kms`]).
//! - **Frames**: a fullscreen client dma-buf the display device takes is flipped as it is
//!   (scanout); otherwise the output is composed by the render device (without a topmost client
//!   dma-buf the overlay or cursor plane shows), written by the render device into one of two
//!   dumb buffers it imported, and flipped with weft's own atomic commits ([`atomic`]: in- and
//!   out-fences, source rectangles). The flip's completion event paces the next frame, and the
//!   feedback held for a frame is sent with the flip's kernel timestamp.
//! - **Input**: the seat's keyboards, pointers and touchscreens through libinput ([`input`]),
//!   hotplugged ones included; without libinput weft still runs, with no input.

pub mod atomic;
pub mod devices;
pub mod error;
pub mod input;
pub mod kms;
pub mod stats;

use calloop::EventLoop;
use smithay::backend::session::libseat::LibSeatSession;
use smithay::backend::session::{Event as SessionEvent, Session};
use smithay::reexports::wayland_server::Display;
use tracing::info;
use weft_compositor::render::gate;
use weft_compositor::{Clock, OutputSpec, Weft};

use crate::server::{serve, ServerError, ServerOptions};
use devices::Devices;
use kms::{DevId, KmsError};

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
    let (session, notifier) = LibSeatSession::new().map_err(|e| DrmError::NoSeat(e.to_string()))?;
    info!(seat = %session.seat(), "session opened");

    // udev names the seat's cards (without it, no /sys say, the cards in /dev/dri are used as
    // they are); weft's hotplug listener then tells of cards and connectors coming and going.
    let seat = input::udev_seat(&session.seat());
    let nodes = smithay::backend::udev::all_gpus(&seat).unwrap_or_else(|e| {
        tracing::warn!(error = %e, "udev unavailable: the cards in /dev/dri are used as they are");
        kms::card_nodes()
    });
    let mut cards: Vec<(DevId, std::path::PathBuf)> = nodes
        .into_iter()
        .filter_map(|p| {
            let id = rustix::fs::stat(&p).ok()?.st_rdev;
            Some((id, p))
        })
        .collect();
    cards.sort_by_key(|(_, p)| kms::card_number(p));

    // The render device: the first display device's own GPU where it renders (the registry's
    // policy), else the best other one, whose composed frames then cross to the display device.
    let mut devices_options = options.server.devices.clone();
    devices_options.display_device = cards
        .iter()
        .find(|(_, p)| kms::has_connectors(p))
        .map(|(id, _)| weft_compositor::devices::DevT::from_raw(*id));
    let display: Display<Weft> =
        Display::new().map_err(|e| ServerError::EventLoop(e.to_string()))?;
    let mut state = Weft::new(
        display.handle(),
        event_loop.handle(),
        Clock::monotonic(),
        &devices_options,
    )
    .map_err(ServerError::from)?;

    let devices = Devices::new(
        session.clone(),
        options.outputs.clone(),
        event_loop.handle(),
    );
    let mut why = Vec::new();
    let mut unlit = Vec::new();
    for (id, path) in &cards {
        match devices.add(&mut state, *id, path) {
            Ok(Some(failed)) => unlit.extend(failed),
            Ok(None) => why.push(format!("{}: render-only", path.display())),
            Err(e) => why.push(format!("{}: {e}", path.display())),
        }
    }
    if devices.names().is_empty() {
        return Err(DrmError::NoDevice(if why.is_empty() {
            "no /dev/dri/card* node".into()
        } else {
            why.join("; ")
        }));
    }
    if devices.outputs() == 0 {
        if let Some(e) = unlit.into_iter().next() {
            return Err(e.into());
        }
        return Err(DrmError::NoConnector(devices.names().join(", ")));
    }
    for e in unlit {
        tracing::warn!(error = %e, "connector not lit");
    }
    // Cards and connectors that come and go: from weft's one hotplug listener, after the device
    // registry has taken the event in.
    let hotplug = devices.clone();
    state.subscribe_device_events(Box::new(move |state, event| {
        if let Some(event) = devices::card_event(event, &seat) {
            hotplug.card_event(state, event);
        }
    }));
    // Modes and power of the KMS outputs, as output configuration asks.
    state.set_display_control(std::rc::Rc::new(devices.clone()));
    // Frames on demand: a resting output is woken when something may want a frame.
    let (ping, woken) =
        calloop::ping::make_ping().map_err(|e| ServerError::EventLoop(e.to_string()))?;
    let waking = devices.clone();
    event_loop
        .handle()
        .insert_source(woken, move |_, _, state| waking.wake(state))
        .map_err(|e| ServerError::EventLoop(e.to_string()))?;
    state.set_frame_waker(ping);
    let mut vt_session = session.clone();
    state.set_vt_switch(Box::new(move |vt| {
        if let Err(e) = vt_session.change_vt(vt) {
            tracing::warn!(vt, error = %e, "switching VT failed");
        }
    }));
    let served = serve(&mut event_loop, &mut state, display, &options.server)?;
    state.load_config(options.server.config.clone(), served.endpoints.env());
    // A seat without input devices is legal: weft serves without input when libinput fails.
    let mut input = input::Input::insert(&session, &event_loop.handle())
        .inspect_err(|e| tracing::warn!("no input: {e}"))
        .ok();

    let paused = devices.clone();
    event_loop
        .handle()
        .insert_source(notifier, move |event, _, state| match event {
            SessionEvent::PauseSession => {
                info!("session paused (VT switched away): devices released");
                paused.pause();
                if let Some(input) = &mut input {
                    input.pause();
                }
            }
            SessionEvent::ActivateSession => {
                info!("session active again: devices taken back, outputs redrawn");
                paused.activate(state);
                if let Some(input) = &mut input {
                    input.resume();
                }
            }
        })
        .map_err(|e| ServerError::EventLoop(e.to_string()))?;

    Ok(served.run(&mut event_loop, &mut state, "drm"))
}
