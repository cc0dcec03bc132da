//! The compositing renderer: uploads ([`upload`]), a frame of quads into an offscreen target
//! ([`frame`]), optional readback ([`readback`]), frames in flight ([`ring`]).
//!
//! A frame redraws only its damage (the target keeps the rest) and is not waited for: the ring
//! keeps up to three submissions in flight, each holding what it reads until its fence signals.

use std::sync::Arc;

use ash::vk;

use super::device::Device;
pub use super::draw::{DrawItem, Fill, Orient, Rect};
use super::external::ImportedImage;
use super::instance::Instance;
use super::memory::{HostBuffer, Image};
use super::pipeline::QuadPipeline;
use super::planar::{PlanarLayout, PlanarMemory, PlanarPipeline, PlanarSource};
use super::texture::Texture;
use super::RenderError;

mod cover;
mod frame;
mod readback;
mod ring;
mod stall;
mod upload;

use self::ring::{FrameSlot, FRAMES_IN_FLIGHT};
use self::upload::PendingUpload;
pub use self::upload::UploadRect;

/// The format of every render target: B, G, R, A bytes in memory — DRM's XRGB8888/ARGB8888,
/// what wl_shm clients and scanout use, so an unscaled opaque surface is copied into it, not drawn
/// (`cover`). Readback swaps it to RGBA for PNGs.
pub const TARGET_FORMAT: vk::Format = vk::Format::B8G8R8A8_UNORM;

/// The layout `render(.., readback: false)` leaves a target in (its rendering pass ends there).
pub const TARGET_LAYOUT_AFTER_RENDER: vk::ImageLayout = vk::ImageLayout::COLOR_ATTACHMENT_OPTIMAL;

/// An offscreen render target (one per output in the headless backend).
pub struct RenderTarget {
    /// Shared with the frames in flight that draw into it ([`ring`]), so it outlives them.
    image: Arc<Image>,
    /// Whether a frame drew it (its contents are then kept: frames redraw only their damage).
    drawn: std::cell::Cell<bool>,
}

impl RenderTarget {
    /// The target's `VkImage` (for a window backend that copies it to a swapchain image). After
    /// [`Renderer::render`] without readback it is in [`TARGET_LAYOUT_AFTER_RENDER`]; its writes
    /// are ordered before later submissions on the same queue (by their barriers), not finished.
    pub fn raw_image(&self) -> vk::Image {
        self.image.raw
    }

    /// Whether a frame drew it (else the next frame draws it whole).
    pub fn is_drawn(&self) -> bool {
        self.drawn.get()
    }
    pub fn width(&self) -> u32 {
        self.image.width
    }
    pub fn height(&self) -> u32 {
        self.image.height
    }
    /// The whole target.
    pub fn area(&self) -> vk::Rect2D {
        vk::Rect2D {
            offset: vk::Offset2D::default(),
            extent: vk::Extent2D {
                width: self.width(),
                height: self.height(),
            },
        }
    }
}

/// Counters a frame reports, for introspection and benchmarks.
#[derive(Debug, Clone, Copy, Default)]
pub struct FrameStats {
    pub quads: u32,
    pub uploaded_bytes: u64,
    /// Pixels redrawn (the damage; 0 when nothing changed).
    pub damaged_pixels: u64,
}

pub struct Renderer {
    device: Arc<Device>,
    pipeline: QuadPipeline,
    planar: PlanarPipeline,
    cmd_pool: vk::CommandPool,
    /// Submissions in flight and the one being recorded (`ring[current]`).
    ring: Vec<FrameSlot>,
    current: usize,
    blocked_waits: u64,
    /// Uploads queued for the next submission (staged in `ring[current]`'s staging buffer).
    pending: Vec<PendingUpload>,
    readback: Option<HostBuffer>,
    /// Set during [`Renderer::copy_target_into`]: the imported buffer the readback copy goes to
    /// instead, and its row length in pixels.
    copy_out: Option<readback::CopyOut>,
    /// The part of the target the next readback or copy-out takes (`None`: all of it).
    copy_region: Option<ash::vk::Rect2D>,
    /// Bound for solid quads, whose pipeline still expects a descriptor set.
    white: Arc<Texture>,
    /// (producer, ours) queue families of client memory's ownership transfers (`render::foreign`):
    /// FOREIGN → our queue's family with VK_EXT_queue_family_foreign, else IGNORED both.
    foreign_families: (u32, u32),
    /// Host events stalled submissions wait on (test hook, [`stall`]).
    stalls: Vec<vk::Event>,
    /// Whether acquire fences become wait semaphores and submissions export read fences.
    sync_fd: super::sync_fd::SyncFdSupport,
    /// Where read fences come from when the device exports none.
    read_fences: Option<Box<dyn super::draw::ReadFenceSource>>,
}

impl Renderer {
    /// Creates the instance, makes the device on the physical device `pick` chooses (the
    /// registry's policy: [`crate::devices::policy::RenderPolicy::open_renderer`]) and builds the
    /// pipelines. `required`: instance extensions a backend cannot do without (a window backend's
    /// surface extensions: the winit backend's `swapchain::surface_extensions`).
    pub fn open(
        required: &[&'static std::ffi::CStr],
        pick: &dyn Fn(&[super::PhysicalInfo]) -> Result<usize, RenderError>,
    ) -> Result<Self, RenderError> {
        let validation = cfg!(debug_assertions) && std::env::var_os("WEFT_NO_VALIDATION").is_none();
        let instance = Instance::new(validation, required)?;
        let device = Device::new(instance, pick)?;
        Self::with_device(device)
    }

    pub fn with_device(device: Arc<Device>) -> Result<Self, RenderError> {
        let pipeline = QuadPipeline::new(&device, TARGET_FORMAT)?;
        let planar = PlanarPipeline::new(&device, TARGET_FORMAT)?;
        let pool_info = vk::CommandPoolCreateInfo::default()
            .queue_family_index(device.queue_family)
            .flags(vk::CommandPoolCreateFlags::RESET_COMMAND_BUFFER);
        // SAFETY: valid create info on a live device.
        let cmd_pool = unsafe { device.raw.create_command_pool(&pool_info, None) }
            .map_err(RenderError::vk("vkCreateCommandPool"))?;
        let alloc = vk::CommandBufferAllocateInfo::default()
            .command_pool(cmd_pool)
            .level(vk::CommandBufferLevel::PRIMARY)
            .command_buffer_count(FRAMES_IN_FLIGHT as u32);
        // SAFETY: the pool belongs to this device.
        let cmds = unsafe { device.raw.allocate_command_buffers(&alloc) }
            .map_err(RenderError::vk("vkAllocateCommandBuffers"))?;
        let sync_fd = super::sync_fd::SyncFdSupport::query(&device);
        let mut ring = Vec::with_capacity(cmds.len());
        for cmd in cmds {
            // SAFETY: valid create info.
            let fence = unsafe {
                device
                    .raw
                    .create_fence(&vk::FenceCreateInfo::default(), None)
            }
            .map_err(RenderError::vk("vkCreateFence"))?;
            ring.push(FrameSlot::new(
                cmd,
                fence,
                super::sync_fd::SubmissionSemaphores::new(&device, sync_fd),
            ));
        }
        let white = Texture::new(&device, &pipeline, 1, 1, vk::Format::R8G8B8A8_UNORM)?;
        let foreign_families = device.foreign_families();
        let mut renderer = Self {
            device,
            pipeline,
            planar,
            cmd_pool,
            ring,
            current: 0,
            blocked_waits: 0,
            pending: Vec::new(),
            readback: None,
            copy_out: None,
            copy_region: None,
            white: white.clone(),
            foreign_families,
            stalls: Vec::new(),
            sync_fd,
            read_fences: None,
        };
        renderer.upload(
            &white,
            &[255, 255, 255, 255],
            4,
            &[UploadRect {
                x: 0,
                y: 0,
                w: 1,
                h: 1,
            }],
        )?;
        Ok(renderer)
    }

    pub fn device(&self) -> &Arc<Device> {
        &self.device
    }

    pub fn create_texture(
        &self,
        width: u32,
        height: u32,
        format: vk::Format,
    ) -> Result<Arc<Texture>, RenderError> {
        Texture::new(&self.device, &self.pipeline, width, height, format)
    }

    /// A drawable planar source over `memory` (see [`PlanarSource`]).
    pub fn create_planar(
        &self,
        layout: PlanarLayout,
        memory: Vec<Arc<dyn PlanarMemory>>,
    ) -> Result<Arc<PlanarSource>, RenderError> {
        PlanarSource::new(&self.device, &self.planar, layout, memory)
    }

    /// Wraps a client's dma-buf image (rung `Sample`) as a texture; each frame that draws it
    /// acquires it from the producer and releases it back (`render::foreign`).
    pub fn adopt_imported(
        &mut self,
        image: ImportedImage,
        linear_filter: bool,
    ) -> Result<Arc<Texture>, RenderError> {
        Texture::imported(&self.device, &self.pipeline, image, linear_filter)
    }

    pub fn create_target(&self, width: u32, height: u32) -> Result<RenderTarget, RenderError> {
        Ok(RenderTarget {
            image: Arc::new(Image::new(
                &self.device,
                width,
                height,
                TARGET_FORMAT,
                // TRANSFER_DST: unscaled opaque surfaces are copied into it (`cover`).
                vk::ImageUsageFlags::COLOR_ATTACHMENT
                    | vk::ImageUsageFlags::TRANSFER_SRC
                    | vk::ImageUsageFlags::TRANSFER_DST,
            )?),
            drawn: std::cell::Cell::new(false),
        })
    }
}

impl Renderer {
    /// What the device does with sync_files (acquire waits, read fences).
    pub fn sync_fd_support(&self) -> super::sync_fd::SyncFdSupport {
        self.sync_fd
    }

    /// Gives the renderer a source of read fences for a device that exports none.
    pub fn set_read_fences(&mut self, source: Box<dyn super::draw::ReadFenceSource>) {
        self.read_fences = Some(source);
    }

    /// Whether the renderer has read fences: exported by the device, or from a source.
    pub fn has_read_fences(&self) -> bool {
        self.sync_fd.export || self.read_fences.is_some()
    }
}

impl Drop for Renderer {
    fn drop(&mut self) {
        // SAFETY: the device is idle, so no submission uses the fences or command buffers (freed
        // with their pool); what the slots kept is dropped after.
        // A stalled submission (test hook) would never let the device go idle.
        self.resume_stalled();
        unsafe {
            let _ = self.device.raw.device_wait_idle();
            self.drop_stalls();
            for slot in &mut self.ring {
                slot.sems.destroy(&self.device);
                self.device.raw.destroy_fence(slot.fence, None);
            }
            self.device.raw.destroy_command_pool(self.cmd_pool, None);
        }
    }
}
