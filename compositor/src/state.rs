//! `Weft`: the compositor state every Wayland handler and backend works on.
//!
//! Invariants:
//! - every mapped toplevel is a [`Window`] in `space`; popups are tracked by `popups`;
//! - every surface that ever had a buffer has a [`crate::surface::SurfaceView`] in its data map,
//!   holding what the renderer needs (texture, solid colour, sizes) and what introspection shows;
//! - outputs are owned by `outputs`, each with its own render target (see [`crate::output`]).

use smithay::desktop::{PopupManager, Space, Window};
use smithay::input::{Seat, SeatState};
use smithay::reexports::calloop::LoopHandle;
use smithay::reexports::wayland_server::protocol::wl_shm;
use smithay::reexports::wayland_server::DisplayHandle;
use smithay::utils::IsAlive;
use smithay::wayland::compositor::CompositorState;
use smithay::wayland::dmabuf::{DmabufGlobal, DmabufState};
use smithay::wayland::output::OutputManagerState;
use smithay::wayland::presentation::PresentationState;
use smithay::wayland::shell::xdg::XdgShellState;
use smithay::wayland::shm::ShmState;
use smithay::wayland::single_pixel_buffer::SinglePixelBufferState;
use tracing::info;
use weft_protocols::dmabuf_guard::DmabufGuardData;
use weft_protocols::xdg_guard::XdgGuardData;

use crate::clock::Clock;
use crate::devices::policy::{RenderPolicy, RendererFactory};
use crate::devices::topology::Topology;
use crate::devices::Registry;
use crate::import::Importer;
use crate::output::OutputSlot;
use crate::render::{DmabufCaps, RenderError, Renderer};

pub struct Weft {
    pub display_handle: DisplayHandle,
    pub compositor_state: CompositorState,
    pub xdg_shell_state: XdgShellState,
    pub shm_state: ShmState,
    /// What wl_shm advertises ([`shm_formats`]).
    pub shm_formats: Vec<wl_shm::Format>,
    pub seat_state: SeatState<Weft>,
    pub output_manager_state: OutputManagerState,
    pub presentation_state: PresentationState,
    pub single_pixel_state: SinglePixelBufferState,
    pub dmabuf_state: DmabufState,
    pub dmabuf_global: DmabufGlobal,
    /// The default feedback and the steered variants surfaces get ([`crate::feedback`]).
    pub feedback: crate::feedback::FeedbackBook,
    pub dmabuf_guard: DmabufGuardData,
    /// dma-buf imports: device caps, policy, cache.
    pub importer: Importer,
    pub seat: Seat<Weft>,
    pub space: Space<Window>,
    pub popups: PopupManager,
    pub outputs: Vec<OutputSlot>,
    pub renderer: Renderer,
    pub clock: Clock,
    /// Background colour of every output (premultiplied RGBA).
    pub background: [f32; 4],
    /// Bumped whenever anything visible changes; outputs re-render when theirs differs.
    pub scene_generation: u64,
    /// Toplevels that exist but have not committed a buffer yet (not in `space`).
    pub pending_windows: Vec<Window>,
    pub xdg_guard: XdgGuardData,
    pub next_surface_id: u64,
    pub pings: crate::ping::PingTracker,
    /// Windows placed so far, for the cascade of new toplevels.
    pub placed: u32,
    pub running: bool,
    /// Off everywhere but under WLCS 1.5.0 (Debian bookworm's conformance suite), whose helper that
    /// makes a toplevel commits its buffer without ever acknowledging a configure (fixed upstream in
    /// wlcs 2a5bfbc): when set, such a commit is applied instead of raising
    /// xdg_surface.unconfigured_buffer (and its layer-surface helper's likewise is not
    /// zwlr_layer_surface_v1.invalid_surface_state), so the suite's other tests can run. Set through the headless
    /// backend's `Controller::accept_unconfigured_buffers`.
    pub accept_unconfigured_buffers: bool,
    /// The event loop, for sources the compositor adds itself (the implicit-sync bridge's fence
    /// waits, the upload queue's slices); given by the backend that runs the loop.
    pub loop_handle: LoopHandle<'static, Weft>,
    /// wl_shm uploads too large for one event-loop turn ([`crate::uploads`]).
    pub uploads: crate::uploads::UploadQueue,
    /// Makes a new renderer when the device is lost ([`crate::recovery`]).
    pub make_renderer: RendererFactory,
    /// How often the renderer was rebuilt after a device loss.
    pub render_generation: u64,
    /// Whether `weft msg inject-fault` is accepted (`--fault-injection`; tests only).
    pub fault_injection: bool,
    /// Connected clients (pruned in [`Weft::refresh`]), for `weft msg clients`.
    pub clients: Vec<smithay::reexports::wayland_server::Client>,
    /// Every device weft knows of, and which one renders ([`crate::devices`]).
    pub devices: Registry,
    /// Render devices beyond the first, each composing the outputs assigned to it.
    pub secondaries: Vec<crate::secondary::SecondaryDevice>,
    /// wp_linux_drm_syncobj_v1, where a device has timeline syncobjs ([`crate::sync::explicit`]).
    pub syncobj: Option<crate::sync::timeline::SyncobjState>,
    /// Commits held on a fence right now, over all surfaces ([`crate::sync`]).
    pub active_fence_waits: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    /// Clipboard, drag-and-drop, primary selection, data control ([`crate::data_transfer`]).
    pub(crate) data_transfer: crate::data_transfer::DataTransfer,
    /// Toplevel decoration objects (zxdg_decoration_manager_v1: clients draw their own).
    pub(crate) decorations: weft_protocols::decoration::DecorationData,
    /// zwlr_layer_shell_v1 ([`crate::layers`]; the layers themselves live in each output's map).
    pub(crate) layer_shell: smithay::wayland::shell::wlr_layer::WlrLayerShellState,
    /// ext_session_lock_v1: the lock and its surfaces ([`crate::session_lock`]).
    pub(crate) lock: crate::session_lock::SessionLock,
    /// ext_idle_notifier_v1 and idle inhibitors ([`crate::idle`]).
    pub(crate) idle: crate::idle::Idle,
}

/// How weft finds its devices (`--render-device`, `--simulate-devices`).
#[derive(Debug, Clone, Default)]
pub struct DeviceOptions {
    /// Overrides the render-device policy: a DRM node path or a device name substring
    /// ([`crate::devices::policy`]); else `WEFT_RENDER_DEVICE`.
    pub render_device: Option<String>,
    /// A made-up device topology replacing the machine's (tests; [`crate::devices::topology`]).
    pub simulate: Option<std::path::PathBuf>,
    /// How many render devices compose outputs (outputs are assigned round-robin). Beyond the
    /// first, another physical device where one is usable, else another logical device on the
    /// same one (`--render-devices`).
    pub render_devices: u32,
    /// The display device weft drives (the KMS backend's first card with connectors): the
    /// render policy composes on its own GPU where that GPU renders.
    pub display_device: Option<crate::devices::DevT>,
}

/// The xdg_wm_base version weft advertises (see `Weft::new`).
pub const XDG_WM_BASE_VERSION: u32 = 3;

/// The RGB wl_shm formats weft offers (4 bytes per pixel, little-endian).
pub const SHM_RGB_FORMATS: [wl_shm::Format; 4] = [
    wl_shm::Format::Argb8888,
    wl_shm::Format::Xrgb8888,
    wl_shm::Format::Abgr8888,
    wl_shm::Format::Xbgr8888,
];

/// Every wl_shm format weft advertises: RGB, then the Y′CbCr formats its decode reads
/// ([`weft_protocols::shm_layout`]).
pub fn shm_formats() -> Vec<wl_shm::Format> {
    SHM_RGB_FORMATS
        .into_iter()
        .chain(weft_protocols::shm_layout::ycbcr_formats())
        .collect()
}

/// What smithay's wl_shm is told: the RGB formats and the stand-ins Y′CbCr buffers reach it under
/// (it checks `create_buffer`'s format against these; clients are offered [`shm_formats`]).
fn smithay_shm_formats() -> impl Iterator<Item = wl_shm::Format> {
    SHM_RGB_FORMATS
        .into_iter()
        .chain(weft_protocols::shm_layout::STAND_INS)
}

impl Weft {
    /// Creates every global on `display_handle`, the device registry and the Vulkan renderer on
    /// the device its policy chooses.
    pub fn new(
        display_handle: DisplayHandle,
        loop_handle: LoopHandle<'static, Weft>,
        clock: Clock,
        options: &DeviceOptions,
    ) -> Result<Self, RenderError> {
        let mut policy = RenderPolicy::with_override(options.render_device.as_deref());
        policy.display = options.display_device;
        let renderer = policy.open_renderer(&[])?;
        let mut extra = Vec::new();
        for _ in 1..options.render_devices.max(1) {
            extra.push(policy.open_renderer(&[])?);
        }
        let mut weft = Self::with_renderer(
            display_handle,
            loop_handle,
            clock,
            renderer,
            Box::new(move || policy.open_renderer(&[])),
            options,
        )?;
        for renderer in extra {
            weft.add_render_device(renderer);
        }
        Ok(weft)
    }

    /// As [`Weft::new`], on a renderer the backend made (a window backend needs surface extensions
    /// on the instance: [`Renderer::with_instance_extensions`]), and the factory that makes another
    /// one like it when the device is lost.
    pub fn with_renderer(
        display_handle: DisplayHandle,
        loop_handle: LoopHandle<'static, Weft>,
        clock: Clock,
        (renderer, render_reason): (Renderer, String),
        make_renderer: RendererFactory,
        options: &DeviceOptions,
    ) -> Result<Self, RenderError> {
        let mut devices = match &options.simulate {
            Some(path) => Registry::simulated(Topology::load(path).map_err(RenderError::Setup)?),
            None => Registry::discover(
                std::path::Path::new("/sys"),
                std::path::Path::new("/dev"),
                &renderer.device().physical_devices(),
            ),
        };
        devices.set_render(renderer.device().physical_info(), render_reason);
        let dh = &display_handle;
        let compositor_state = CompositorState::new_v6::<Self>(dh);
        let xdg_shell_state = XdgShellState::new::<Self>(dh);
        // smithay advertises xdg_wm_base v6. Debian bookworm's weston 10 demo clients (e.g.
        // weston-presentation-shm) bind whatever version is advertised but install no handler for
        // v4's configure_bounds, which smithay sends with every initial configure: libwayland then
        // aborts them. v3 loses only hints (bounds, wm_capabilities, the suspended state), so weft
        // advertises v3 until those clients are gone.
        dh.remove_global::<Self>(xdg_shell_state.global());
        dh.create_global::<Self, smithay::reexports::wayland_protocols::xdg::shell::server::xdg_wm_base::XdgWmBase, _>(
            XDG_WM_BASE_VERSION,
            (),
        );
        // ARGB8888 and XRGB8888 are always advertised by smithay; we add the byte-swapped pair.
        let shm_state = ShmState::new::<Self>(dh, smithay_shm_formats());
        let mut seat_state = SeatState::new();
        let mut seat = seat_state.new_wl_seat(dh, "seat0");
        // A seat with no capabilities would make clients skip input entirely; keyboard, pointer and
        // touch are advertised even headless: their input comes from a device backend or is
        // injected (`crate::input::InjectedInput`: tests, the WLCS shim).
        let _ = seat.add_keyboard(Default::default(), 200, 25);
        seat.add_pointer();
        seat.add_touch();
        let data_transfer = crate::data_transfer::DataTransfer::new(dh);
        let layer_shell = smithay::wayland::shell::wlr_layer::WlrLayerShellState::new::<Self>(dh);
        let lock = crate::session_lock::SessionLock::new(dh);
        let idle = crate::idle::Idle::new(dh, loop_handle.clone());
        smithay::wayland::pointer_constraints::PointerConstraintsState::new::<Self>(dh);
        smithay::wayland::relative_pointer::RelativePointerManagerState::new::<Self>(dh);
        dh.create_global::<Self, smithay::reexports::wayland_protocols::xdg::decoration::zv1::server::zxdg_decoration_manager_v1::ZxdgDecorationManagerV1, _>(2, ());
        let output_manager_state = OutputManagerState::new_with_xdg_output::<Self>(dh);
        dh.create_global::<Self, smithay::reexports::wayland_protocols::wp::viewporter::server::wp_viewporter::WpViewporter, _>(1, ());
        let presentation_state = PresentationState::new::<Self>(dh, clock.id() as u32);
        let single_pixel_state = SinglePixelBufferState::new::<Self>(dh);
        let caps = DmabufCaps::query(renderer.device());
        let importer = Importer::new(caps);
        let main_device = devices.main_device().map(|(d, node)| {
            info!(device = %d.id, %node, "linux-dmabuf main_device");
            node.raw()
        });
        let (feedback, dmabuf_guard) =
            crate::feedback::FeedbackBook::new(&importer, main_device)
                .map_err(|e| RenderError::Allocation(format!("linux-dmabuf format table: {e}")))?;
        let mut dmabuf_state = DmabufState::new();
        let dmabuf_global = dmabuf_state
            .create_global_with_default_feedback::<Self>(dh, feedback.default_feedback());
        let syncobj = crate::sync::timeline::SyncobjDevice::find(&devices).map(|device| {
            crate::sync::timeline::SyncobjState {
                device: std::sync::Arc::new(device),
                global: dh.create_global::<Self, smithay::reexports::wayland_protocols::wp::linux_drm_syncobj::v1::server::wp_linux_drm_syncobj_manager_v1::WpLinuxDrmSyncobjManagerV1, _>(1, ()),
            }
        });
        dh.create_global::<Self, smithay::reexports::wayland_protocols::wp::color_representation::v1::server::wp_color_representation_manager_v1::WpColorRepresentationManagerV1, _>(1, ());
        let mut renderer = renderer;
        crate::sync::soft_fence::provide_read_fences(&mut renderer, &devices);
        info!(device = %renderer.device().info().name, "weft state ready");
        let mut weft = Self {
            display_handle,
            compositor_state,
            xdg_shell_state,
            shm_state,
            shm_formats: shm_formats(),
            seat_state,
            output_manager_state,
            presentation_state,
            single_pixel_state,
            dmabuf_state,
            dmabuf_global,
            feedback,
            dmabuf_guard,
            importer,
            seat,
            space: Space::default(),
            popups: PopupManager::default(),
            outputs: Vec::new(),
            renderer,
            clock,
            background: [0.08, 0.09, 0.11, 1.0],
            scene_generation: 0,
            pending_windows: Vec::new(),
            xdg_guard: XdgGuardData::default(),
            next_surface_id: 0,
            pings: Default::default(),
            placed: 0,
            running: true,
            accept_unconfigured_buffers: false,
            loop_handle,
            uploads: Default::default(),
            make_renderer,
            render_generation: 0,
            fault_injection: false,
            clients: Vec::new(),
            devices,
            secondaries: Vec::new(),
            syncobj,
            active_fence_waits: Default::default(),
            data_transfer,
            decorations: Default::default(),
            layer_shell,
            lock,
            idle,
        };
        if !weft.devices.is_simulated() {
            weft.watch_devices();
        }
        Ok(weft)
    }

    /// Per-iteration housekeeping: drops dead windows and popups, flushes client queues.
    pub fn refresh(&mut self) {
        self.space.refresh();
        self.popups.cleanup();
        self.pending_windows.retain(|w| w.alive());
        let clients: Vec<_> = self
            .xdg_shell_state
            .toplevel_surfaces()
            .iter()
            .map(|t| t.client())
            .collect();
        self.pings.tick(std::time::Instant::now(), clients);
        // The seat: what this iteration's commits changed may put another surface under the pointer.
        self.refresh_pointer_focus();
        self.refresh_keyboard_focus();
        self.refresh_selection();
        self.refresh_lock();
        self.refresh_idle();
        let backend = self.display_handle.backend_handle();
        self.xdg_guard
            .prune(|client| backend.get_client_data(client.clone()).is_ok());
        self.clients
            .retain(|client| backend.get_client_data(client.id()).is_ok());
        if let Err(e) = self.display_handle.flush_clients() {
            tracing::debug!(error = %e, "flushing clients failed");
        }
    }

    /// Every toplevel, mapped or still waiting for its first buffer.
    pub fn toplevels(&self) -> Vec<smithay::wayland::shell::xdg::ToplevelSurface> {
        self.space
            .elements()
            .chain(self.pending_windows.iter())
            .filter_map(|w| w.toplevel().cloned())
            .collect()
    }

    /// Adds a further render device: outputs added from now on are assigned to the devices
    /// round-robin. Returns its registry id.
    pub fn add_render_device(
        &mut self,
        (renderer, reason): (Renderer, String),
    ) -> crate::devices::DeviceId {
        let id = self
            .devices
            .add_render(renderer.device().physical_info(), &reason);
        let importer = Importer::new(DmabufCaps::query(renderer.device()));
        self.secondaries.push(crate::secondary::SecondaryDevice {
            id: id.clone(),
            renderer,
            importer,
        });
        id
    }

    /// Every Vulkan device weft drives, by registry id (for `StageOnSource`).
    pub fn driven(
        &self,
    ) -> Vec<(
        crate::devices::DeviceId,
        std::sync::Arc<crate::render::device::Device>,
    )> {
        std::iter::once((self.devices.render_id(), self.renderer.device().clone()))
            .chain(
                self.secondaries
                    .iter()
                    .map(|s| (s.id.clone(), s.renderer.device().clone())),
            )
            .collect()
    }

    /// The id of the device that composes output `index`.
    pub fn output_device(&self, index: usize) -> crate::devices::DeviceId {
        match self.outputs.get(index).and_then(|o| o.device) {
            Some(i) => self
                .secondaries
                .get(i)
                .map_or_else(|| self.devices.render_id(), |s| s.id.clone()),
            None => self.devices.render_id(),
        }
    }

    /// Marks every output for re-rendering.
    pub fn damage(&mut self) {
        self.scene_generation += 1;
    }
}
