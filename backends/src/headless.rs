//! The headless backend: offscreen outputs rendered with the Vulkan renderer (lavapipe where there
//! is no GPU), each paced by its own frame clock. The test workhorse.
//!
//! Each output's timer fires at its refresh period, aligned to absolute deadlines so the rate does
//! not drift; every tick is a frame: render when the scene changed, then frame callbacks and
//! presentation feedback with the tick's timestamp.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use calloop::ping::Ping;
use calloop::timer::{TimeoutAction, Timer};
use calloop::EventLoop;
use smithay::reexports::wayland_server::Display;
use tracing::{info, warn};
use weft_compositor::{Clock, OutputSpec, Weft};

use crate::server::{serve, Endpoints, ServerError, ServerOptions};

#[derive(Debug, Clone)]
pub struct HeadlessOptions {
    pub outputs: Vec<OutputSpec>,
    pub server: ServerOptions,
    /// Timestamps advance exactly one refresh period per frame of the first output.
    pub deterministic_clock: bool,
    /// How long a client may leave a ping unanswered (default: weft's, 30 s).
    pub ping_timeout: Option<Duration>,
}

impl Default for HeadlessOptions {
    fn default() -> Self {
        Self {
            outputs: vec![OutputSpec {
                width: 1280,
                height: 720,
                refresh_mhz: 60_000,
            }],
            server: ServerOptions::default(),
            deterministic_clock: false,
            ping_timeout: None,
        }
    }
}

/// Builds the loop and state; `ready` receives the endpoints and a [`Ping`] that stops the loop,
/// once clients can connect. Returns the client's exit status when it was waited for, else 0.
pub fn run(
    options: HeadlessOptions,
    ready: Option<mpsc::Sender<(Endpoints, Ping)>>,
) -> Result<i32, ServerError> {
    let mut event_loop: EventLoop<'static, Weft> =
        EventLoop::try_new().map_err(|e| ServerError::EventLoop(e.to_string()))?;
    let display: Display<Weft> =
        Display::new().map_err(|e| ServerError::EventLoop(e.to_string()))?;
    let clock = if options.deterministic_clock {
        Clock::deterministic()
    } else {
        Clock::monotonic()
    };
    let mut state = Weft::new(display.handle(), event_loop.handle(), clock)?;
    if let Some(timeout) = options.ping_timeout {
        state.pings.timeout = timeout;
        state.pings.interval = state.pings.interval.min(timeout);
    }
    for (i, spec) in options.outputs.iter().enumerate() {
        let name = format!("HEADLESS-{}", i + 1);
        state.add_output(&name, *spec)?;
        info!(output = %name, width = spec.width, height = spec.height, refresh_mhz = spec.refresh_mhz, "output added");
    }
    state.fault_injection = options.server.fault_injection;
    let served = serve(&mut event_loop, display, &options.server)?;
    for index in 0..state.outputs.len() {
        insert_frame_clock(&event_loop, &state, index)?;
    }
    if let Some(tx) = ready {
        let (ping, source) =
            calloop::ping::make_ping().map_err(|e| ServerError::EventLoop(e.to_string()))?;
        event_loop
            .handle()
            .insert_source(source, |_, _, state| state.running = false)
            .map_err(|e| ServerError::EventLoop(e.to_string()))?;
        let _ = tx.send((served.endpoints.clone(), ping));
    }
    while state.running {
        if let Err(e) = event_loop.dispatch(Some(Duration::from_millis(100)), &mut state) {
            warn!(error = %e, "event loop dispatch failed");
            break;
        }
        state.refresh();
        if served.client_status.get().is_some() {
            break;
        }
    }
    info!("headless backend stopped");
    Ok(served.client_status.get().unwrap_or(0))
}

fn insert_frame_clock(
    event_loop: &EventLoop<'static, Weft>,
    state: &Weft,
    index: usize,
) -> Result<(), ServerError> {
    let Some(period) = state.outputs.get(index).map(|o| o.refresh_period()) else {
        return Ok(());
    };
    let mut deadline = Instant::now() + period;
    event_loop
        .handle()
        .insert_source(Timer::from_deadline(deadline), move |_, _, state| {
            if index == 0 {
                state.clock.advance(period);
            }
            let now = state.clock.now();
            state.frame(index, now);
            state.display_handle.flush_clients().ok();
            // Absolute deadlines keep the average rate exact; after a stall (a slow frame on lavapipe),
            // skip the missed ticks rather than firing a burst.
            deadline += period;
            let late = Instant::now();
            if deadline < late {
                let missed = ((late - deadline).as_nanos() / period.as_nanos()) as u32 + 1;
                deadline += period * missed;
            }
            TimeoutAction::ToInstant(deadline)
        })
        .map_err(|e| ServerError::EventLoop(e.to_string()))?;
    Ok(())
}
