//! A Wayland client connection that binds weft's globals and records the events tests assert on.

use std::collections::HashMap;
use std::os::unix::net::UnixStream;
use std::path::Path;

use wayland_backend::client::ObjectId;
use wayland_client::globals::{registry_queue_init, GlobalList, GlobalListContents};
use wayland_client::protocol::{
    wl_buffer, wl_callback, wl_compositor, wl_output, wl_region, wl_registry, wl_seat, wl_shm,
    wl_shm_pool, wl_subcompositor, wl_subsurface, wl_surface,
};
use wayland_client::{Connection, Dispatch, EventQueue, Proxy, QueueHandle, WEnum};
use wayland_protocols::wp::presentation_time::client::{wp_presentation, wp_presentation_feedback};
use wayland_protocols::wp::single_pixel_buffer::v1::client::wp_single_pixel_buffer_manager_v1;
use wayland_protocols::wp::viewporter::client::{wp_viewport, wp_viewporter};
use wayland_protocols::xdg::shell::client::{
    xdg_popup, xdg_positioner, xdg_surface, xdg_toplevel, xdg_wm_base,
};

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("connect: {0}")]
    Connect(#[from] std::io::Error),
    #[error("wayland: {0}")]
    Wayland(#[from] wayland_client::backend::WaylandError),
    #[error("connection: {0}")]
    Connection(#[from] wayland_client::ConnectError),
    #[error("globals: {0}")]
    Globals(#[from] wayland_client::globals::GlobalError),
    #[error("bind: {0}")]
    Bind(#[from] wayland_client::globals::BindError),
    #[error("dispatch: {0}")]
    Dispatch(#[from] wayland_client::DispatchError),
    #[error("errno: {0}")]
    Errno(#[from] rustix::io::Errno),
    #[error("timed out waiting for {0}")]
    Timeout(&'static str),
    #[error("the compositor does not take {0}")]
    Unsupported(&'static str),
    /// A device the client drives failed (a V4L2 ioctl, a mapping).
    #[error("{0}")]
    Device(String),
}

/// One wp_presentation_feedback.presented event.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Presented {
    pub tag: u32,
    pub time_ns: u128,
    pub refresh_ns: u32,
    pub seq: u64,
    pub flags: u32,
}

/// Everything the client saw.
#[derive(Debug, Default)]
pub struct State {
    pub shm_formats: Vec<u32>,
    pub presentation_clock: Option<u32>,
    /// Configures per xdg_surface (serial), newest last.
    pub surface_configures: HashMap<ObjectId, Vec<u32>>,
    /// Latest toplevel configure (width, height, states as raw u32s) per xdg_toplevel.
    pub toplevel_configures: HashMap<ObjectId, (i32, i32, Vec<u32>)>,
    /// Latest xdg_toplevel.configure_bounds (v4) per xdg_toplevel.
    pub toplevel_bounds: HashMap<ObjectId, (i32, i32)>,
    /// Latest xdg_toplevel.wm_capabilities (v5, raw u32s) per xdg_toplevel.
    pub wm_capabilities: HashMap<ObjectId, Vec<u32>>,
    pub closed: Vec<ObjectId>,
    /// Frame callback done events: (tag, time in ms).
    pub frames_done: Vec<(u32, u32)>,
    pub released: Vec<ObjectId>,
    pub presented: Vec<Presented>,
    pub discarded: Vec<u32>,
    pub pings: u32,
    /// Don't answer pings (to play a hung client).
    pub ignore_pings: bool,
    pub outputs: Vec<(ObjectId, i32, i32, i32)>,
    /// Each wl_output (v4) with the name it announced.
    pub output_names: Vec<(wl_output::WlOutput, String)>,
    /// What the client's data-transfer objects received ([`crate::data_transfer`]).
    pub transfer: crate::data_transfer::Log,
    /// The surface the keyboard is on (a wl_keyboard bound with a
    /// [`crate::seat_events::Recorder`]).
    pub keyboard_focus: Option<ObjectId>,
    /// The serials of the latest wl_keyboard.enter and wl_pointer.enter (seat objects bound with a
    /// Recorder): what activation tokens and cursor requests name.
    pub keyboard_enter_serial: Option<u32>,
    /// The latest wl_keyboard.keymap's text and wl_keyboard.repeat_info (rate, delay), from a
    /// keyboard bound with a Recorder.
    pub keymap: Option<String>,
    pub repeat_info: Option<(i32, i32)>,
    pub pointer_enter_serial: Option<u32>,
    /// xdg_popups told `popup_done`, in order.
    pub popups_done: Vec<ObjectId>,
    /// The serial of the latest wl_touch.down (a touch bound with a Recorder).
    pub last_touch_down_serial: Option<u32>,
    /// zxdg_toplevel_decoration_v1.configure modes, in order.
    pub decoration_modes: Vec<u32>,
    /// The latest configure (serial, width, height) of each zwlr_layer_surface_v1.
    pub layer_configures: HashMap<ObjectId, (u32, u32, u32)>,
    /// Layer surfaces told `closed`.
    pub layers_closed: Vec<ObjectId>,
    /// ext_session_lock_v1 events: "locked" or "finished", in order.
    pub lock_events: Vec<&'static str>,
    /// The latest configure (serial, width, height) of each ext_session_lock_surface_v1.
    pub lock_surface_configures: HashMap<ObjectId, (u32, u32, u32)>,
    /// zwp_relative_pointer_v1.relative_motion (dx, dy), in order.
    pub relative_motions: Vec<(f64, f64)>,
    /// Lock and confinement events ("locked", "unlocked", "confined", "unconfined"), in order.
    pub constraint_events: Vec<&'static str>,
    /// ext_idle_notification_v1 events ("idled", "resumed"), in order.
    pub idle_events: Vec<&'static str>,
}

/// An xdg toplevel's objects.
pub struct Toplevel {
    pub surface: wl_surface::WlSurface,
    pub xdg_surface: xdg_surface::XdgSurface,
    pub toplevel: xdg_toplevel::XdgToplevel,
}

pub struct Client {
    pub conn: Connection,
    pub queue: EventQueue<State>,
    pub qh: QueueHandle<State>,
    pub state: State,
    pub globals: GlobalList,
    pub compositor: wl_compositor::WlCompositor,
    pub subcompositor: wl_subcompositor::WlSubcompositor,
    pub shm: wl_shm::WlShm,
    pub wm_base: xdg_wm_base::XdgWmBase,
    pub viewporter: wp_viewporter::WpViewporter,
    pub presentation: wp_presentation::WpPresentation,
    pub single_pixel: wp_single_pixel_buffer_manager_v1::WpSinglePixelBufferManagerV1,
}

impl Client {
    /// Connects to the Wayland socket at `path` and binds the globals weft must offer.
    pub fn connect(path: &Path) -> Result<Self, ClientError> {
        Self::from_stream(UnixStream::connect(path)?)
    }

    /// As [`Client::connect`], on an already-connected socket (one end of a socket pair whose other
    /// end weft serves: `weft::Controller::insert_client`).
    pub fn from_stream(stream: UnixStream) -> Result<Self, ClientError> {
        let conn = Connection::from_socket(stream)?;
        let (globals, queue) = registry_queue_init::<State>(&conn)?;
        let qh = queue.handle();
        let compositor = globals.bind(&qh, 1..=6, ())?;
        let subcompositor = globals.bind(&qh, 1..=1, ())?;
        let shm = globals.bind(&qh, 1..=1, ())?;
        let wm_base = globals.bind(&qh, 1..=6, ())?;
        let viewporter = globals.bind(&qh, 1..=1, ())?;
        let presentation = globals.bind(&qh, 1..=1, ())?;
        let single_pixel = globals.bind(&qh, 1..=1, ())?;
        for g in globals.contents().clone_list() {
            if g.interface == wl_output::WlOutput::interface().name {
                let _: wl_output::WlOutput =
                    globals.registry().bind(g.name, g.version.min(4), &qh, ());
            }
        }
        let mut me = Self {
            conn,
            queue,
            qh,
            state: State::default(),
            globals,
            compositor,
            subcompositor,
            shm,
            wm_base,
            viewporter,
            presentation,
            single_pixel,
        };
        me.roundtrip()?;
        Ok(me)
    }

    pub fn roundtrip(&mut self) -> Result<(), ClientError> {
        self.queue.roundtrip(&mut self.state)?;
        Ok(())
    }

    /// Blocks until at least one event arrives, and dispatches it.
    pub fn dispatch(&mut self) -> Result<(), ClientError> {
        self.queue.blocking_dispatch(&mut self.state)?;
        Ok(())
    }

    /// The protocol error that killed this connection, if any: (code, interface, message).
    pub fn protocol_error(&self) -> Option<(u32, String, String)> {
        self.conn
            .protocol_error()
            .map(|e| (e.code, e.object_interface.clone(), e.message.clone()))
    }

    /// Creates a toplevel and completes the initial commit/configure/ack cycle.
    pub fn toplevel(&mut self, title: &str, app_id: &str) -> Result<Toplevel, ClientError> {
        let t = self.toplevel_unconfigured(title, app_id);
        t.surface.commit();
        self.ack_latest(&t)?;
        Ok(t)
    }

    /// Creates a toplevel without committing (for tests that drive the cycle by hand).
    pub fn toplevel_unconfigured(&mut self, title: &str, app_id: &str) -> Toplevel {
        let surface = self.compositor.create_surface(&self.qh, ());
        let xdg_surface = self.wm_base.get_xdg_surface(&surface, &self.qh, ());
        let toplevel = xdg_surface.get_toplevel(&self.qh, ());
        toplevel.set_title(title.into());
        toplevel.set_app_id(app_id.into());
        Toplevel {
            surface,
            xdg_surface,
            toplevel,
        }
    }

    /// Waits for a configure of `t` that was not acked yet and acks it; returns the toplevel size.
    pub fn ack_latest(&mut self, t: &Toplevel) -> Result<(i32, i32), ClientError> {
        for _ in 0..100 {
            if let Some(serial) = self
                .state
                .surface_configures
                .get_mut(&t.xdg_surface.id())
                .and_then(|v| v.pop())
            {
                t.xdg_surface.ack_configure(serial);
                let (w, h, _) = self
                    .state
                    .toplevel_configures
                    .get(&t.toplevel.id())
                    .cloned()
                    .unwrap_or_default();
                return Ok((w, h));
            }
            self.roundtrip()?;
        }
        Err(ClientError::Timeout("xdg_surface.configure"))
    }

    /// Requests a frame callback on `surface`, tagged `tag` in [`State::frames_done`].
    pub fn frame(&self, surface: &wl_surface::WlSurface, tag: u32) {
        surface.frame(&self.qh, tag);
    }

    /// Requests presentation feedback for the next commit, tagged `tag`.
    pub fn feedback(&self, surface: &wl_surface::WlSurface, tag: u32) {
        self.presentation.feedback(surface, &self.qh, tag);
    }

    /// Attaches `buffer`, damages all of it and commits.
    pub fn show(&self, surface: &wl_surface::WlSurface, buffer: &wl_buffer::WlBuffer) {
        surface.attach(Some(buffer), 0, 0);
        surface.damage_buffer(0, 0, i32::MAX, i32::MAX);
        surface.commit();
    }

    pub fn subsurface(
        &self,
        parent: &wl_surface::WlSurface,
    ) -> (wl_surface::WlSurface, wl_subsurface::WlSubsurface) {
        let surface = self.compositor.create_surface(&self.qh, ());
        let sub = self
            .subcompositor
            .get_subsurface(&surface, parent, &self.qh, ());
        (surface, sub)
    }

    pub fn viewport(&self, surface: &wl_surface::WlSurface) -> wp_viewport::WpViewport {
        self.viewporter.get_viewport(surface, &self.qh, ())
    }

    /// A single-pixel buffer of premultiplied 8-bit RGBA.
    pub fn single_pixel(&self, rgba: [u8; 4]) -> wl_buffer::WlBuffer {
        let c = |v: u8| u32::from(v) * 0x0101_0101;
        self.single_pixel.create_u32_rgba_buffer(
            c(rgba[0]),
            c(rgba[1]),
            c(rgba[2]),
            c(rgba[3]),
            &self.qh,
            (),
        )
    }

    pub fn positioner(&self) -> xdg_positioner::XdgPositioner {
        self.wm_base.create_positioner(&self.qh, ())
    }

    pub fn popup(
        &self,
        parent: &xdg_surface::XdgSurface,
        positioner: &xdg_positioner::XdgPositioner,
    ) -> (
        wl_surface::WlSurface,
        xdg_surface::XdgSurface,
        xdg_popup::XdgPopup,
    ) {
        let surface = self.compositor.create_surface(&self.qh, ());
        let xdg = self.wm_base.get_xdg_surface(&surface, &self.qh, ());
        let popup = xdg.get_popup(Some(parent), positioner, &self.qh, ());
        (surface, xdg, popup)
    }

    /// Waits (dispatching) until `done` holds or `rounds` dispatches pass.
    pub fn wait_until(
        &mut self,
        what: &'static str,
        rounds: u32,
        done: impl Fn(&State) -> bool,
    ) -> Result<(), ClientError> {
        for _ in 0..rounds {
            if done(&self.state) {
                return Ok(());
            }
            self.dispatch()?;
        }
        if done(&self.state) {
            Ok(())
        } else {
            Err(ClientError::Timeout(what))
        }
    }
}

impl Dispatch<wl_registry::WlRegistry, GlobalListContents> for State {
    fn event(
        _: &mut Self,
        _: &wl_registry::WlRegistry,
        _: wl_registry::Event,
        _: &GlobalListContents,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
    }
}

impl Dispatch<wl_shm::WlShm, ()> for State {
    fn event(
        state: &mut Self,
        _: &wl_shm::WlShm,
        event: wl_shm::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let wl_shm::Event::Format { format } = event {
            state.shm_formats.push(match format {
                WEnum::Value(f) => f as u32,
                WEnum::Unknown(u) => u,
            });
        }
    }
}

impl Dispatch<xdg_wm_base::XdgWmBase, ()> for State {
    fn event(
        state: &mut Self,
        wm: &xdg_wm_base::XdgWmBase,
        event: xdg_wm_base::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let xdg_wm_base::Event::Ping { serial } = event {
            state.pings += 1;
            if !state.ignore_pings {
                wm.pong(serial);
            }
        }
    }
}

impl Dispatch<xdg_surface::XdgSurface, ()> for State {
    fn event(
        state: &mut Self,
        s: &xdg_surface::XdgSurface,
        event: xdg_surface::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let xdg_surface::Event::Configure { serial } = event {
            state
                .surface_configures
                .entry(s.id())
                .or_default()
                .push(serial);
        }
    }
}

impl Dispatch<xdg_toplevel::XdgToplevel, ()> for State {
    fn event(
        state: &mut Self,
        t: &xdg_toplevel::XdgToplevel,
        event: xdg_toplevel::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        match event {
            xdg_toplevel::Event::Configure {
                width,
                height,
                states,
            } => {
                let states = states
                    .chunks_exact(4)
                    .map(|c| u32::from_ne_bytes([c[0], c[1], c[2], c[3]]))
                    .collect();
                state
                    .toplevel_configures
                    .insert(t.id(), (width, height, states));
            }
            xdg_toplevel::Event::Close => state.closed.push(t.id()),
            xdg_toplevel::Event::ConfigureBounds { width, height } => {
                state.toplevel_bounds.insert(t.id(), (width, height));
            }
            xdg_toplevel::Event::WmCapabilities { capabilities } => {
                let caps = capabilities
                    .chunks_exact(4)
                    .map(|c| u32::from_ne_bytes([c[0], c[1], c[2], c[3]]))
                    .collect();
                state.wm_capabilities.insert(t.id(), caps);
            }
            _ => {}
        }
    }
}

impl Dispatch<wl_callback::WlCallback, u32> for State {
    fn event(
        state: &mut Self,
        _: &wl_callback::WlCallback,
        event: wl_callback::Event,
        tag: &u32,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let wl_callback::Event::Done { callback_data } = event {
            state.frames_done.push((*tag, callback_data));
        }
    }
}

impl Dispatch<wl_buffer::WlBuffer, ()> for State {
    fn event(
        state: &mut Self,
        b: &wl_buffer::WlBuffer,
        event: wl_buffer::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let wl_buffer::Event::Release = event {
            state.released.push(b.id());
        }
    }
}

impl Dispatch<wp_presentation::WpPresentation, ()> for State {
    fn event(
        state: &mut Self,
        _: &wp_presentation::WpPresentation,
        event: wp_presentation::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let wp_presentation::Event::ClockId { clk_id } = event {
            state.presentation_clock = Some(clk_id);
        }
    }
}

impl Dispatch<wp_presentation_feedback::WpPresentationFeedback, u32> for State {
    fn event(
        state: &mut Self,
        _: &wp_presentation_feedback::WpPresentationFeedback,
        event: wp_presentation_feedback::Event,
        tag: &u32,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        match event {
            wp_presentation_feedback::Event::Presented {
                tv_sec_hi,
                tv_sec_lo,
                tv_nsec,
                refresh,
                seq_hi,
                seq_lo,
                flags,
            } => {
                let secs = (u64::from(tv_sec_hi) << 32) | u64::from(tv_sec_lo);
                let flags = match flags {
                    WEnum::Value(f) => f.bits(),
                    WEnum::Unknown(u) => u,
                };
                state.presented.push(Presented {
                    tag: *tag,
                    time_ns: u128::from(secs) * 1_000_000_000 + u128::from(tv_nsec),
                    refresh_ns: refresh,
                    seq: (u64::from(seq_hi) << 32) | u64::from(seq_lo),
                    flags,
                });
            }
            wp_presentation_feedback::Event::Discarded => state.discarded.push(*tag),
            _ => {}
        }
    }
}

impl Dispatch<wl_output::WlOutput, ()> for State {
    fn event(
        state: &mut Self,
        o: &wl_output::WlOutput,
        event: wl_output::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        match event {
            wl_output::Event::Mode {
                width,
                height,
                refresh,
                ..
            } => state.outputs.push((o.id(), width, height, refresh)),
            wl_output::Event::Name { name } => state.output_names.push((o.clone(), name)),
            _ => {}
        }
    }
}

/// Interfaces whose events tests do not look at.
macro_rules! ignore_events {
    ($($iface:ty),* $(,)?) => {$(
        impl Dispatch<$iface, ()> for State {
            fn event(_: &mut Self, _: &$iface, _: <$iface as Proxy>::Event, _: &(), _: &Connection, _: &QueueHandle<Self>) {}
        }
    )*};
}

ignore_events!(
    wl_compositor::WlCompositor,
    wl_subcompositor::WlSubcompositor,
    wl_subsurface::WlSubsurface,
    wl_surface::WlSurface,
    wl_region::WlRegion,
    wl_shm_pool::WlShmPool,
    wl_seat::WlSeat,
    wp_viewporter::WpViewporter,
    wp_viewport::WpViewport,
    wp_single_pixel_buffer_manager_v1::WpSinglePixelBufferManagerV1,
    xdg_positioner::XdgPositioner,
);

impl Dispatch<wayland_protocols::xdg::decoration::zv1::client::zxdg_decoration_manager_v1::ZxdgDecorationManagerV1, ()> for State {
    fn event(
        _: &mut Self,
        _: &wayland_protocols::xdg::decoration::zv1::client::zxdg_decoration_manager_v1::ZxdgDecorationManagerV1,
        _: wayland_protocols::xdg::decoration::zv1::client::zxdg_decoration_manager_v1::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
    }
}

impl Dispatch<wayland_protocols::xdg::decoration::zv1::client::zxdg_toplevel_decoration_v1::ZxdgToplevelDecorationV1, ()> for State {
    fn event(
        state: &mut Self,
        _: &wayland_protocols::xdg::decoration::zv1::client::zxdg_toplevel_decoration_v1::ZxdgToplevelDecorationV1,
        event: wayland_protocols::xdg::decoration::zv1::client::zxdg_toplevel_decoration_v1::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        use wayland_protocols::xdg::decoration::zv1::client::zxdg_toplevel_decoration_v1::Event;
        if let Event::Configure { mode } = event {
            state.decoration_modes.push(match mode {
                WEnum::Value(m) => m as u32,
                WEnum::Unknown(u) => u,
            });
        }
    }
}

impl Dispatch<xdg_popup::XdgPopup, ()> for State {
    fn event(
        state: &mut Self,
        popup: &xdg_popup::XdgPopup,
        event: xdg_popup::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let xdg_popup::Event::PopupDone = event {
            state.popups_done.push(popup.id());
        }
    }
}
