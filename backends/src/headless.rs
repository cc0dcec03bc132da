//! The headless backend: offscreen outputs rendered with the Vulkan renderer (lavapipe where there
//! is no GPU), each paced by its own frame clock. The test workhorse.
//!
//! Each output's timer fires at its refresh period, aligned to absolute deadlines so the rate does
//! not drift; every tick is a frame: render when the scene changed, then frame callbacks and
//! presentation feedback with the tick's timestamp.
//!
//! Headless has no input devices. A [`Controller`] (handed out with [`Ready`]) injects input
//! ([`InjectedInput`], delivered by `weft_compositor::seat::input` exactly as a device backend's), hands
//! weft a client on an already-connected socket and places a toplevel at a given position: what
//! weft's tests and the WLCS conformance shim (`wlcs/`) drive it with. Every call waits until the
//! loop has handled it and flushed the resulting events to the clients, so a client that round-trips
//! afterwards is guaranteed to see them.

use std::os::unix::net::UnixStream;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use calloop::channel::{self, Channel};
use calloop::ping::Ping;
use calloop::timer::{TimeoutAction, Timer};
use calloop::EventLoop;
use smithay::reexports::wayland_server::backend::ClientId;
use smithay::reexports::wayland_server::Display;
use smithay::utils::{Logical, Point};
use tracing::info;
use weft_compositor::render::gate;
pub use weft_compositor::seat::input::InjectedInput;
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
    /// Draw the cursor into the outputs (`--draw-cursor`; a headless output has no one looking at
    /// it, so by default it shows none).
    pub draw_cursor: bool,
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
            draw_cursor: false,
        }
    }
}

/// What a caller of [`run`] gets once clients can connect.
pub struct Ready {
    pub endpoints: Endpoints,
    /// Stops the loop.
    pub stop: Ping,
    pub controller: Controller,
}

/// The loop stopped: nothing handles control requests any more.
#[derive(Debug, thiserror::Error)]
#[error("the headless compositor has stopped")]
pub struct Stopped;

/// Why [`Controller::insert_client`] failed.
#[derive(Debug, thiserror::Error)]
pub enum InsertClientError {
    #[error(transparent)]
    Stopped(#[from] Stopped),
    #[error("weft could not serve the socket: {0}")]
    Refused(std::io::Error),
}

/// Drives a running headless weft from another thread: injected input, clients on ready-made
/// sockets, toplevel placement. Each call returns once the loop has handled the request and flushed
/// the clients, so it must never be called on the compositor's own thread (it would wait forever).
#[derive(Clone)]
pub struct Controller {
    tx: channel::Sender<Control>,
}

impl std::fmt::Debug for Controller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Controller").finish_non_exhaustive()
    }
}

enum Control {
    Input(InjectedInput, mpsc::Sender<()>),
    InsertClient(UnixStream, mpsc::Sender<std::io::Result<ClientId>>),
    PlaceToplevel {
        client: ClientId,
        surface: u32,
        at: Point<i32, Logical>,
        reply: mpsc::Sender<bool>,
    },
    AcceptUnconfiguredBuffers(mpsc::Sender<()>),
}

impl Controller {
    fn call<T>(&self, make: impl FnOnce(mpsc::Sender<T>) -> Control) -> Result<T, Stopped> {
        let (reply, answer) = mpsc::channel();
        self.tx.send(make(reply)).map_err(|_| Stopped)?;
        answer.recv().map_err(|_| Stopped)
    }

    /// Delivers `input` to clients as a device would.
    pub fn inject(&self, input: InjectedInput) -> Result<(), Stopped> {
        self.call(|reply| Control::Input(input, reply))
    }

    /// Serves a client on `stream`, the server end of a connected socket pair; the other end is the
    /// client's (what `wl_display_connect_to_fd` takes).
    pub fn insert_client(&self, stream: UnixStream) -> Result<ClientId, InsertClientError> {
        self.call(|reply| Control::InsertClient(stream, reply))?
            .map_err(InsertClientError::Refused)
    }

    /// From now on a buffer committed to an xdg surface before its first ack_configure is applied
    /// instead of raising xdg_surface.unconfigured_buffer. For WLCS 1.5.0 only, whose toplevel
    /// helper never acks a configure (see `Weft::accept_unconfigured_buffers`); never for real
    /// clients.
    pub fn accept_unconfigured_buffers(&self) -> Result<(), Stopped> {
        self.call(Control::AcceptUnconfiguredBuffers)
    }

    /// Moves the mapped toplevel whose wl_surface has protocol id `surface` in `client` so that its
    /// window geometry starts at `at` (global logical coordinates). False when there is no such
    /// mapped toplevel (unknown id, not a toplevel's surface, not mapped yet).
    pub fn place_toplevel(
        &self,
        client: ClientId,
        surface: u32,
        at: Point<i32, Logical>,
    ) -> Result<bool, Stopped> {
        self.call(|reply| Control::PlaceToplevel {
            client,
            surface,
            at,
            reply,
        })
    }
}

fn handle_control(control: Control, state: &mut Weft) {
    match control {
        Control::AcceptUnconfiguredBuffers(reply) => {
            state.accept_unconfigured_buffers();
            let _ = reply.send(());
        }
        Control::Input(input, reply) => {
            state.inject(input);
            flush(state);
            let _ = reply.send(());
        }
        Control::InsertClient(stream, reply) => {
            let _ = reply.send(state.insert_client(stream));
        }
        Control::PlaceToplevel {
            client,
            surface,
            at,
            reply,
        } => {
            let placed = state.place_toplevel(client, surface, at);
            flush(state);
            let _ = reply.send(placed);
        }
    }
}

fn flush(state: &mut Weft) {
    state.flush_clients();
}

/// Builds the loop and state; `ready` receives the endpoints, a [`Ping`] that stops the loop and a
/// [`Controller`], once clients can connect. Returns the client's exit status when it was waited
/// for, else 0.
pub fn run(
    options: HeadlessOptions,
    ready: Option<mpsc::Sender<Ready>>,
) -> Result<i32, ServerError> {
    // This thread does Vulkan work from here until `state` is dropped (declared after the guard,
    // so dropped before it), except while the loop sleeps.
    let _vulkan = gate::Shared::enter();
    let mut event_loop: EventLoop<'static, Weft> =
        EventLoop::try_new().map_err(|e| ServerError::EventLoop(e.to_string()))?;
    event_loop
        .handle()
        .insert_source(gate::SleepGate, |_, _, _| {})
        .map_err(|e| ServerError::EventLoop(e.to_string()))?;
    let display: Display<Weft> =
        Display::new().map_err(|e| ServerError::EventLoop(e.to_string()))?;
    let clock = if options.deterministic_clock {
        Clock::deterministic()
    } else {
        Clock::monotonic()
    };
    let mut state = Weft::new(
        display.handle(),
        event_loop.handle(),
        clock,
        &options.server.devices,
    )?;
    if let Some(timeout) = options.ping_timeout {
        state.set_ping_timeout(timeout);
    }
    for (i, spec) in options.outputs.iter().enumerate() {
        let name = format!("HEADLESS-{}", i + 1);
        let index = state.add_output(&name, *spec)?;
        if let Some(slot) = state.output_mut(index) {
            slot.draws_cursor = options.draw_cursor;
        }
        info!(output = %name, width = spec.width, height = spec.height, refresh_mhz = spec.refresh_mhz, "output added");
    }
    state.set_fault_injection(options.server.fault_injection);
    let served = serve(&mut event_loop, &mut state, display, &options.server)?;
    state.load_config(options.server.config.clone(), served.endpoints.env());
    for index in 0..state.outputs().len() {
        insert_frame_clock(&event_loop, &state, index)?;
    }
    if let Some(tx) = ready {
        let (ping, source) =
            calloop::ping::make_ping().map_err(|e| ServerError::EventLoop(e.to_string()))?;
        event_loop
            .handle()
            .insert_source(source, |_, _, state| state.stop())
            .map_err(|e| ServerError::EventLoop(e.to_string()))?;
        let (control_tx, control_rx): (_, Channel<Control>) = channel::channel();
        let control = event_loop
            .handle()
            .insert_source(control_rx, |event, _, state| {
                if let channel::Event::Msg(control) = event {
                    handle_control(control, state);
                }
            })
            .map_err(|e| ServerError::EventLoop(e.to_string()))?;
        let _ = tx.send(Ready {
            endpoints: served.endpoints.clone(),
            stop: ping,
            controller: Controller { tx: control_tx },
        });
        let result = served.run(&mut event_loop, &mut state, "headless");
        // The loop's sources outlive it (the state holds a handle to the loop): the control
        // channel is removed now, so a request sent after the stop (its reply sender with it) is
        // dropped and its caller told `Stopped` instead of waiting for ever.
        event_loop.handle().remove(control);
        return Ok(result);
    }
    Ok(served.run(&mut event_loop, &mut state, "headless"))
}

fn insert_frame_clock(
    event_loop: &EventLoop<'static, Weft>,
    state: &Weft,
    index: usize,
) -> Result<(), ServerError> {
    let Some(period) = state.outputs().get(index).map(|o| o.refresh_period()) else {
        return Ok(());
    };
    let mut deadline = Instant::now() + period;
    event_loop
        .handle()
        .insert_source(Timer::from_deadline(deadline), move |_, _, state| {
            if index == 0 {
                state.clock().advance(period);
            }
            let now = state.clock().now();
            state.frame(index, now);
            state.flush_clients();
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
