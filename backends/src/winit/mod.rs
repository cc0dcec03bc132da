//! The winit backend: weft in a window of the running X11 or Wayland session, for development.
//!
//! One output, `WINIT-1`, the size of the window's inside. X11 is always built; a Wayland session
//! without XWayland needs the `wayland` feature (see the workspace Cargo.toml for why it is opt-in). Frames are rendered with the same Vulkan
//! renderer as headless into the output's target and presented through a FIFO swapchain on the
//! window ([`swapchain`]; no EGL anywhere).
//!
//! The loop: calloop (clients, IPC, the child) and winit run on one thread. winit's own fd sits in
//! calloop so window-system events wake the loop; after every calloop dispatch, winit is pumped with
//! a zero timeout and the window events it collected are handled (input to the seat, resizes, close).
//!
//! Frame pacing: a frame clock at the monitor's refresh (the `--output` rate when the window system
//! reports none), with absolute deadlines as in headless. A tick renders and presents when the scene
//! changed; in FIFO mode an acquire blocks while every image is queued, which slows the clock down to
//! what the display takes. Measured under Xvfb with lavapipe at 640×480: acquire, copy and present
//! take ~1.5 ms (median) and FIFO never blocked, so the frame clock alone paced frames
//! (weston-presentation-shm saw 16.6 ms between presentations).
//!
//! Timestamps: frame callbacks and wp_presentation feedback follow each presented frame (and each
//! idle tick), stamped on CLOCK_MONOTONIC right after vkQueuePresentKHR returned, with the Vsync
//! flag only (FIFO presents at vblank; the time is ours, not the hardware's). Without
//! VK_KHR_present_wait (lavapipe has none) that is the best measure available: the moment the frame
//! was handed to the presentation engine, which shows it at the next vblank, up to one refresh
//! later. A device with present_wait could stamp the completion instead.
//!
//! Input: pointer motion, buttons and scrolling go to the surface under the pointer, keys to the
//! focused toplevel (`weft_compositor::seat::input`); the window's pixels are the output's logical pixels
//! (scale 1: HiDPI windows show weft at one output pixel per window pixel).

use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ::winit::application::ApplicationHandler;
use ::winit::dpi::PhysicalSize;
use ::winit::event::{ElementState, MouseButton, MouseScrollDelta, WindowEvent};
use ::winit::event_loop::ActiveEventLoop;
use ::winit::platform::pump_events::{EventLoopExtPumpEvents, PumpStatus};
use ::winit::platform::scancode::PhysicalKeyExtScancode;
use ::winit::window::{Window, WindowAttributes, WindowId};
use calloop::generic::Generic;
use calloop::{EventLoop, Interest, Mode, PostAction};
use raw_window_handle::HasDisplayHandle;
use smithay::reexports::wayland_server::Display;
use tracing::{debug, info, warn};
use weft_compositor::devices::policy::RenderPolicy;
use weft_compositor::seat::input::{buttons, Scroll};
mod swapchain;

use self::swapchain::{surface_extensions, PresentError, Swapchain};
use weft_compositor::render::{gate, ErrorClass, RenderError};
use weft_compositor::{Clock, OutputSpec, Weft};

use crate::server::{serve, ServerError, ServerOptions};

/// The name of the one output.
pub const OUTPUT_NAME: &str = "WINIT-1";

/// How long weft waits for the window system to hand over the window.
const WINDOW_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
pub struct WinitOptions {
    /// The window's initial inside size, and the refresh rate when the monitor reports none.
    pub output: OutputSpec,
    pub server: ServerOptions,
}

impl Default for WinitOptions {
    fn default() -> Self {
        Self {
            output: OutputSpec {
                width: 1280,
                height: 720,
                refresh_mhz: 60_000,
            },
            server: ServerOptions::default(),
        }
    }
}

/// Errors of the winit backend, classed by what the caller does: all of them end the backend;
/// `NoWindow` means there is no window system to nest in (try another backend), the others are
/// reported as they are.
#[derive(Debug, thiserror::Error)]
pub enum WinitError {
    #[error("cannot open a window in the running session: {0}")]
    NoWindow(String),
    #[error(transparent)]
    Server(#[from] ServerError),
    #[error("presenting to the window: {0}")]
    Present(#[from] PresentError),
    #[error("renderer: {0}")]
    Render(#[from] RenderError),
}

/// Collects what winit reports while it is pumped; handled afterwards, with the compositor state.
struct App {
    attributes: WindowAttributes,
    window: Option<Arc<Window>>,
    window_error: Option<String>,
    events: Vec<WindowEvent>,
}

impl ApplicationHandler for App {
    fn resumed(&mut self, event_loop: &ActiveEventLoop) {
        if self.window.is_some() {
            return;
        }
        match event_loop.create_window(self.attributes.clone()) {
            Ok(window) => {
                // weft draws the cursor its clients ask for (`crate`'s output draws_cursor).
                window.set_cursor_visible(false);
                self.window = Some(Arc::new(window));
            }
            Err(e) => self.window_error = Some(e.to_string()),
        }
    }

    fn window_event(&mut self, _: &ActiveEventLoop, _: WindowId, event: WindowEvent) {
        self.events.push(event);
    }
}

/// The window, its swapchain and what the next frame must do about them.
struct Nested {
    window: Arc<Window>,
    /// `None` only between a device loss and the rebuild on the new device.
    swapchain: Option<Swapchain>,
    /// The window was resized (or the swapchain went stale): recreate before the next frame.
    resize: Option<PhysicalSize<u32>>,
    /// The window system lost our pixels (an expose): present again even if nothing changed.
    redraw: bool,
    /// Frames presented, for the log at exit.
    presented: u64,
}

/// Runs weft in a window until the window is closed (or the client exits, with
/// `exit_with_client`). Returns the client's status when it was waited for, else 0.
pub fn run(options: WinitOptions) -> Result<i32, WinitError> {
    // This thread does Vulkan work until it returns, except while the loop sleeps.
    let _vulkan = gate::Shared::enter();
    let mut winit_loop = ::winit::event_loop::EventLoop::new()
        .map_err(|e| WinitError::NoWindow(no_window_hint(&e)))?;
    let display = winit_loop
        .display_handle()
        .map_err(|e| WinitError::NoWindow(e.to_string()))?
        .as_raw();
    let extensions = surface_extensions(display)?;
    let policy = RenderPolicy::with_override(options.server.devices.render_device.as_deref());
    let renderer = policy.open_renderer(&extensions)?;

    let spec = options.output;
    let mut app = App {
        attributes: Window::default_attributes()
            .with_title("weft")
            .with_inner_size(PhysicalSize::new(spec.width, spec.height)),
        window: None,
        window_error: None,
        events: Vec::new(),
    };
    let start = Instant::now();
    let window = loop {
        if let PumpStatus::Exit(code) =
            winit_loop.pump_app_events(Some(Duration::from_millis(20)), &mut app)
        {
            return Err(WinitError::NoWindow(format!(
                "the window system ended the session ({code})"
            )));
        }
        if let Some(e) = app.window_error.take() {
            return Err(WinitError::NoWindow(e));
        }
        if let Some(w) = app.window.clone() {
            break w;
        }
        if start.elapsed() > WINDOW_TIMEOUT {
            return Err(WinitError::NoWindow(
                "the window system did not create the window".into(),
            ));
        }
    };
    let size = window.inner_size();
    let swapchain = Swapchain::new(&renderer.0, window.clone(), size.width, size.height)?;
    let (width, height) = swapchain.extent();
    let refresh_mhz = window
        .current_monitor()
        .and_then(|m| m.refresh_rate_millihertz())
        .filter(|r| (1_000..=1_000_000).contains(r))
        .unwrap_or(spec.refresh_mhz);

    let mut event_loop: EventLoop<'static, Weft> =
        EventLoop::try_new().map_err(|e| ServerError::EventLoop(e.to_string()))?;
    let display: Display<Weft> =
        Display::new().map_err(|e| ServerError::EventLoop(e.to_string()))?;
    let mut state = Weft::with_renderer(
        display.handle(),
        event_loop.handle(),
        Clock::monotonic(),
        renderer,
        Box::new(move || policy.open_renderer(&extensions)),
        &options.server.devices,
    )?;
    state.add_output_with_model(
        OUTPUT_NAME,
        "winit",
        OutputSpec {
            width,
            height,
            refresh_mhz,
        },
    )?;
    if let Some(slot) = state.output_mut(0) {
        // weft draws the cursor (the window hides the host's over it).
        slot.draws_cursor = true;
        slot.frame_path = weft_compositor::outputs::output::FramePath {
            copies_per_frame: 1,
            why: "drawn into weft's render target, then its changed regions copied into the \
                  acquired swapchain image",
        };
    }
    info!(
        output = OUTPUT_NAME,
        width, height, refresh_mhz, "window output added"
    );
    state.set_fault_injection(options.server.fault_injection);
    let served = serve(&mut event_loop, &mut state, display, &options.server)?;
    state.load_config(options.server.config.clone(), served.endpoints.env());

    event_loop
        .handle()
        .insert_source(gate::SleepGate, |_, _, _| {})
        .map_err(|e| ServerError::EventLoop(e.to_string()))?;
    // winit's fd only wakes calloop up; the events are read by pumping winit below.
    let winit_fd: OwnedFd =
        rustix::io::dup(winit_loop.as_fd()).map_err(|e| ServerError::EventLoop(e.to_string()))?;
    event_loop
        .handle()
        .insert_source(
            Generic::new(winit_fd, Interest::READ, Mode::Level),
            |_, _, _| Ok(PostAction::Continue),
        )
        .map_err(|e| ServerError::EventLoop(e.to_string()))?;

    let mut nested = Nested {
        window,
        swapchain: Some(swapchain),
        resize: None,
        redraw: true,
        presented: 0,
    };
    // The window's output, made above.
    let period = state
        .outputs()
        .first()
        .map_or(Duration::from_millis(16), |o| o.refresh_period());
    let mut deadline = Instant::now();
    while state.is_running() {
        let timeout = deadline.saturating_duration_since(Instant::now());
        if let Err(e) = event_loop.dispatch(Some(timeout), &mut state) {
            warn!(error = %e, "event loop dispatch failed");
            break;
        }
        if let PumpStatus::Exit(_) = winit_loop.pump_app_events(Some(Duration::ZERO), &mut app) {
            info!("the window system closed the event loop");
            break;
        }
        for event in app.events.drain(..) {
            nested.handle(&mut state, event);
        }
        if !state.is_running() {
            break;
        }
        if Instant::now() >= deadline {
            nested.frame(&mut state)?;
            deadline += period;
            // After a stall (a slow frame, a blocking acquire), skip the missed ticks rather than
            // firing a burst.
            let now = Instant::now();
            if deadline < now {
                let missed = ((now - deadline).as_nanos() / period.as_nanos()) as u32 + 1;
                deadline += period * missed;
            }
        }
        state.refresh();
        if served.client_status.get().is_some() {
            break;
        }
    }
    info!(frames = nested.presented, "winit backend stopped");
    // The swapchain and its surface go before the window (they hold it alive), then the renderer with
    // the state.
    drop(nested);
    served.close(&event_loop.handle());
    Ok(served.client_status.get().unwrap_or(0))
}

/// winit's reason, plus what to do when this build cannot talk to the session at hand.
fn no_window_hint(e: &dyn std::fmt::Display) -> String {
    let wayland_only = std::env::var_os("WAYLAND_DISPLAY").is_some_and(|v| !v.is_empty())
        && std::env::var_os("DISPLAY").is_none_or(|v| v.is_empty());
    if wayland_only && !cfg!(feature = "wayland") {
        format!(
            "{e} (this weft was built for X11 only: run it under XWayland with DISPLAY set, or build it with \
             `--features winit-wayland`)"
        )
    } else {
        e.to_string()
    }
}

impl Nested {
    fn handle(&mut self, state: &mut Weft, event: WindowEvent) {
        let time = state.input_time_ms();
        match event {
            WindowEvent::CloseRequested | WindowEvent::Destroyed => {
                info!("window closed");
                state.stop();
            }
            WindowEvent::Resized(size) => self.resize = Some(size),
            WindowEvent::RedrawRequested => self.redraw = true,
            WindowEvent::CursorMoved { position, .. } => {
                // The window shows the output's pixels; the pointer moves in logical ones.
                let at = state.output_pixel_to_logical(0, (position.x, position.y));
                state.pointer_motion(at, time);
            }
            WindowEvent::CursorLeft { .. } => state.pointer_leave(time),
            WindowEvent::MouseInput {
                state: pressed,
                button,
                ..
            } => {
                let code = match button {
                    MouseButton::Left => buttons::LEFT,
                    MouseButton::Right => buttons::RIGHT,
                    MouseButton::Middle => buttons::MIDDLE,
                    MouseButton::Back => buttons::SIDE,
                    MouseButton::Forward => buttons::EXTRA,
                    MouseButton::Other(n) => {
                        debug!(button = n, "pointer button without a Linux code, dropped");
                        return;
                    }
                };
                state.pointer_button(code, pressed == ElementState::Pressed, time);
            }
            WindowEvent::MouseWheel { delta, .. } => {
                // winit: positive is up/left (content moves down); Wayland: positive is down/right.
                let scroll = match delta {
                    MouseScrollDelta::LineDelta(x, y) => Scroll::Lines {
                        dx: -f64::from(x),
                        dy: -f64::from(y),
                    },
                    MouseScrollDelta::PixelDelta(p) => Scroll::Pixels { dx: -p.x, dy: -p.y },
                };
                state.pointer_axis(scroll, time);
            }
            WindowEvent::KeyboardInput {
                event,
                is_synthetic,
                ..
            } => {
                // Synthetic presses (keys already held when the window gains focus) and the window
                // system's repeats are not forwarded: Wayland clients repeat keys themselves, from
                // wl_keyboard.repeat_info.
                if is_synthetic || event.repeat {
                    return;
                }
                // On Linux winit's scancode is the evdev code; XKB keycodes are evdev + 8.
                let Some(code) = event.physical_key.to_scancode() else {
                    debug!(key = ?event.physical_key, "key without a scancode, dropped");
                    return;
                };
                state.keyboard_key(code + 8, event.state == ElementState::Pressed, time);
            }
            _ => {}
        }
    }

    /// One tick of the frame clock: follow a resize, present if anything changed, then frame
    /// callbacks and presentation feedback.
    fn frame(&mut self, state: &mut Weft) -> Result<(), WinitError> {
        if let Some(size) = self.resize.take() {
            if !self.recreate(state, size)? {
                return Ok(());
            }
        }
        let generation = state.scene_generation();
        let rendered = state.outputs().first().and_then(|o| o.rendered_generation);
        let changed = self.redraw || rendered != Some(generation);
        if changed {
            if !self.render_and_present(state)? {
                // Nothing reached the window: no frame callbacks either, so clients wait for a frame
                // that is really shown (a minimised window throttles them).
                return Ok(());
            }
            self.redraw = false;
            if let Some(output) = state.output_mut(0) {
                output.rendered += 1;
                output.rendered_generation = Some(generation);
            }
        }
        // The output is up to date, so `frame` only sends callbacks and feedback.
        let now = state.clock().now();
        state.frame(0, now);
        Ok(())
    }

    /// The render device was lost: the swapchain (made on it) goes first, then weft rebuilds its
    /// renderer ([`weft_compositor::render_devices::recovery`]) and the window gets a swapchain on the new device.
    /// A rebuild that cannot happen yet is tried again at the next frame.
    fn rebuild_after_loss(
        &mut self,
        state: &mut Weft,
        why: &weft_compositor::render::RenderError,
    ) -> Result<(), WinitError> {
        self.swapchain = None;
        if !state.rebuild_renderer(why) {
            return Ok(());
        }
        let size = self.window.inner_size();
        let swapchain = Swapchain::new(
            state.renderer(),
            self.window.clone(),
            size.width,
            size.height,
        )?;
        let (width, height) = swapchain.extent();
        self.swapchain = Some(swapchain);
        state.resize_output(0, width, height)?;
        self.redraw = true;
        info!("window swapchain rebuilt on the new render device");
        Ok(())
    }

    /// Renders output 0 and presents it. Returns whether a frame was presented.
    fn render_and_present(&mut self, state: &mut Weft) -> Result<bool, WinitError> {
        for attempt in 0..2 {
            let rendered = if self.swapchain.is_some() {
                state.render_output(0, false).map(|_| ())
            } else {
                // Still waiting for a device to rebuild on.
                Err(weft_compositor::render::RenderError::Vk(
                    "(no swapchain since a device loss)",
                    weft_compositor::render::vk::Result::ERROR_DEVICE_LOST,
                ))
            };
            if let Err(e) = rendered {
                if e.class() == ErrorClass::DeviceLost {
                    self.rebuild_after_loss(state, &e)?;
                } else {
                    warn!(error = %e, "rendering the window's frame failed");
                }
                return Ok(false);
            }
            let started = Instant::now();
            let (Some(output), Some(swapchain)) = (state.output_mut(0), self.swapchain.as_mut())
            else {
                return Ok(false);
            };
            let changed = output.take_changed();
            match swapchain.present(&output.target, changed) {
                Ok(outcome) => {
                    self.presented += 1;
                    tracing::trace!(
                        image = outcome.image_index,
                        micros = started.elapsed().as_micros() as u64,
                        "acquired, copied and presented"
                    );
                    if outcome.suboptimal {
                        debug!("suboptimal swapchain: recreating it for the next frame");
                        self.resize = Some(self.window.inner_size());
                    }
                    return Ok(true);
                }
                Err(PresentError::OutOfDate) if attempt == 0 => {
                    debug!("swapchain out of date: recreating it and presenting again");
                    if !self.recreate(state, self.window.inner_size())? {
                        return Ok(false);
                    }
                }
                Err(PresentError::NotNow(why)) => {
                    debug!(why, "frame skipped");
                    return Ok(false);
                }
                Err(PresentError::Render(e)) if e.class() != ErrorClass::DeviceLost => {
                    warn!(error = %e, "presenting the window's frame failed");
                    return Ok(false);
                }
                Err(PresentError::Render(e)) => {
                    self.rebuild_after_loss(state, &e)?;
                    return Ok(false);
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(false)
    }

    /// Recreates the swapchain for `size` and gives the output the swapchain's size. Returns whether
    /// there is something to present to (a minimised window has no area).
    fn recreate(&mut self, state: &mut Weft, size: PhysicalSize<u32>) -> Result<bool, WinitError> {
        let Some(swapchain) = self.swapchain.as_mut() else {
            // No device to make one on yet (a loss not rebuilt): the next frame tries again.
            self.resize = Some(size);
            return Ok(false);
        };
        match swapchain.recreate(size.width, size.height) {
            Ok(()) => {}
            Err(PresentError::NotNow(why)) => {
                debug!(why, "not presenting for now");
                // Try again on the next resize or tick.
                self.resize = Some(size);
                return Ok(false);
            }
            Err(e) => return Err(e.into()),
        }
        let (width, height) = swapchain.extent();
        state.resize_output(0, width, height)?;
        info!(width, height, "window output resized");
        self.redraw = true;
        Ok(true)
    }
}
