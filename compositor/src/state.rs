//! `Weft`: the compositor state every Wayland handler and backend works on.
//!
//! Invariants:
//! - every mapped toplevel is a [`Window`] in `space`; popups are tracked by `popups`;
//! - every surface that ever had a buffer has a [`crate::surface::SurfaceView`] in its data map,
//!   holding what the renderer needs (texture, solid colour, sizes) and what introspection shows;
//! - outputs are owned by `outputs`, each with its own render target (see [`crate::outputs::output`]).

use smithay::reexports::calloop::LoopHandle;
use smithay::reexports::wayland_server::protocol::wl_shm;
use smithay::reexports::wayland_server::DisplayHandle;
use smithay::utils::IsAlive;
use smithay::wayland::dmabuf::DmabufState;
use smithay::wayland::output::OutputManagerState;
use smithay::wayland::presentation::PresentationState;
use smithay::wayland::shm::ShmState;
use smithay::wayland::single_pixel_buffer::SinglePixelBufferState;
use tracing::info;

use crate::devices::policy::{RenderPolicy, RendererFactory};
use crate::devices::topology::Topology;
use crate::devices::Registry;
use crate::import::Importer;
use crate::outputs::clock::Clock;
use crate::render::{DmabufCaps, RenderError, Renderer};

pub use crate::Weft;

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

pub use crate::shell::XDG_WM_BASE_VERSION;

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
            Some(path) => Registry::simulated(
                Topology::load(path).map_err(|e| RenderError::Setup(e.to_string()))?,
            ),
            None => Registry::discover(
                std::path::Path::new("/sys"),
                std::path::Path::new("/dev"),
                &renderer.device().physical_devices(),
            ),
        };
        devices.set_render(renderer.device().physical_info(), render_reason);
        let dh = &display_handle;
        let shell = crate::shell::Shell::new(dh);
        // ARGB8888 and XRGB8888 are always advertised by smithay; we add the byte-swapped pair.
        let shm_state = ShmState::new::<Self>(dh, smithay_shm_formats());
        let input = crate::seat::Input::new(dh, loop_handle.clone());
        let lock = crate::shell::session_lock::SessionLock::new(dh);
        let output_manager_state = OutputManagerState::new_with_xdg_output::<Self>(dh);
        dh.create_global::<Self, smithay::reexports::wayland_protocols::wp::viewporter::server::wp_viewporter::WpViewporter, _>(1, ());
        let presentation_state = PresentationState::new::<Self>(dh, clock.id() as u32);
        let fractional_scale = crate::outputs::fractional_scale::create_global(dh);
        let capture = crate::capture::Capture::new(dh);
        crate::outputs::management::create_global(dh);
        let single_pixel_state = SinglePixelBufferState::new::<Self>(dh);
        let caps = DmabufCaps::query(renderer.device());
        let importer = Importer::new(caps);
        let main_device = devices.main_device().map(|(d, node)| {
            info!(device = %d.id, %node, "linux-dmabuf main_device");
            node.raw()
        });
        let (feedback, dmabuf_guard) =
            crate::buffers::feedback::FeedbackBook::new(&importer, main_device)
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
        let render_id = devices.render_id();
        let xwayland = crate::xwayland::Xwayland::new(dh);
        let mut weft = Self {
            runtime: crate::runtime::Runtime::new(display_handle, loop_handle),
            shell,
            input,
            lock,
            outputs: crate::outputs::output::Outputs {
                slots: Vec::new(),
                _output_manager_state: output_manager_state,
                _presentation_state: presentation_state,
                _fractional_scale: fractional_scale,
                clock,
                background: [0.08, 0.09, 0.11, 1.0],
                scene_generation: 0,
                management: Default::default(),
                display_control: None,
                waker: Default::default(),
            },
            buffers: crate::buffers::Buffers {
                shm_state,
                shm_formats: shm_formats(),
                _single_pixel_state: single_pixel_state,
                dmabuf_state,
                _dmabuf_global: dmabuf_global,
                feedback,
                dmabuf_guard,
                uploads: Default::default(),
            },
            gpu: crate::render_devices::RenderDevices::new(
                crate::render_devices::RenderDevice {
                    id: render_id,
                    renderer,
                    importer,
                },
                make_renderer,
            ),
            devices,
            capture,
            config: Default::default(),
            xwayland,
            sync: crate::sync::Fences {
                syncobj,
                active_fence_waits: Default::default(),
            },
        };
        if !weft.devices.is_simulated() {
            weft.watch_devices();
        }
        Ok(weft)
    }

    /// Per-iteration housekeeping: drops dead windows and popups, flushes client queues.
    pub fn refresh(&mut self) {
        self.shell.space.refresh();
        self.shell.popups.cleanup();
        self.shell.pending_windows.retain(|w| w.alive());
        let clients: Vec<_> = self
            .shell
            .xdg_shell_state
            .toplevel_surfaces()
            .iter()
            .map(|t| t.client())
            .collect();
        self.shell.pings.tick(std::time::Instant::now(), clients);
        // The seat: what this iteration's commits changed may put another surface under the pointer.
        self.refresh_pointer_focus();
        self.refresh_keyboard_focus();
        self.refresh_selection();
        self.refresh_lock();
        self.refresh_idle();
        self.refresh_x11();
        self.refresh_foreign_toplevels();
        self.refresh_suspended();
        self.refresh_cursor_textures();
        self.refresh_capture();
        let backend = self.runtime.display_handle().backend_handle();
        self.shell
            .xdg_guard
            .prune(|client| backend.get_client_data(client.clone()).is_ok());
        self.runtime.prune_clients();
        self.runtime.flush_clients();
    }

    /// Every toplevel, mapped or still waiting for its first buffer.
    pub fn toplevels(&self) -> Vec<smithay::wayland::shell::xdg::ToplevelSurface> {
        self.shell
            .space
            .elements()
            .chain(self.shell.pending_windows.iter())
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
        self.gpu.insert(crate::render_devices::RenderDevice {
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
        self.gpu
            .iter()
            .map(|d| (d.id.clone(), d.renderer.device().clone()))
            .collect()
    }

    /// The id of the device that composes output `index`.
    pub fn output_device(&self, index: usize) -> crate::devices::DeviceId {
        self.outputs
            .slots
            .get(index)
            .map_or_else(|| self.gpu.first().id.clone(), |o| o.device.clone())
    }

    /// Marks every output for re-rendering.
    pub fn damage(&mut self) {
        self.outputs.scene_generation += 1;
        self.outputs.waker.wake();
    }
}
