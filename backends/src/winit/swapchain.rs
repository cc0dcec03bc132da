//! Window surfaces and swapchains, for the backends that present into a window (winit).
//!
//! **Copy-to-present.** An output keeps rendering into its own [`RenderTarget`], exactly as headless
//! outputs do; presenting acquires a swapchain image, copies the target into it with one
//! `vkCmdBlitImage` (`vkCmdCopyImage` when the formats match) and queues it for presentation. Why not
//! render straight into swapchain images:
//! - the target stays the one place a frame lives, so `weft msg screenshot` and readback work the same
//!   on every backend (a presented swapchain image belongs to the presentation engine and cannot be
//!   read back later);
//! - one pipeline and one target format (RGBA8) whatever the window system offers (Mesa's X11 WSI
//!   offers only B8G8R8A8; a blit swizzles for free);
//! - the price is a GPU copy of what changed per presented frame (buffer age, below); the DRM
//!   backend, where copies matter most, scans out its own images.
//!
//! **Buffer age.** The target keeps its contents between frames and the renderer redraws only its
//! damage; a swapchain image that showed frame *n* then needs only what changed in the target
//! since *n*: each present records its frame's changed rectangles (`OutputSlot::take_changed`), each
//! image the frame it was last written, and the copy covers the union of the changes of the
//! frames since (the whole target when the image is new, older than the history, or sizes
//! differ). The image's previous contents are kept by starting from PRESENT_SRC_KHR.
//!
//! **Synchronisation, without a CPU wait per frame.** The acquire signals a semaphore (two, used
//! in turn) that the copy waits for; the copy signals a semaphore per swapchain image that the
//! present waits for (the image's next acquire means its last present finished with it). The copy
//! reads the target after the renderer's submissions on the same queue, ordered by barriers. Its
//! fence is waited for only before its command buffer is recorded again, one frame later, when it
//! has long finished.
//!
//! **Present mode** is FIFO (always supported, never tears; the presentation engine paces frames at
//! the display's refresh: an acquire blocks while every image is queued).
//!
//! Invariants: the swapchain is destroyed before its surface, the surface before the window it was
//! made for (a [`WindowSurface`] holds the window alive and destroys the surface in its own `Drop`),
//! and all of them before the device (they hold an `Arc<Device>`).

use std::any::Any;
use std::ffi::CStr;
use std::sync::Arc;

use ash::vk;
use raw_window_handle::{HasDisplayHandle, HasWindowHandle, RawDisplayHandle, RawWindowHandle};
use tracing::{debug, info, warn};

use weft_compositor::render::device::Device;
use weft_compositor::render::instance::Instance;
use weft_compositor::render::memory::layout_barrier;
use weft_compositor::render::renderer::{
    RenderTarget, Renderer, TARGET_FORMAT, TARGET_LAYOUT_AFTER_RENDER,
};
use weft_compositor::render::RenderError;

/// How long an acquire may block before the frame is skipped. FIFO blocks at most a few refresh
/// periods when the presentation engine is behind; a second means something is stuck.
const ACQUIRE_TIMEOUT_NS: u64 = 1_000_000_000;

/// What went wrong presenting, classed by what the caller does about it.
#[derive(Debug, thiserror::Error)]
pub enum PresentError {
    /// The window changed under the swapchain: [`Swapchain::recreate`] at the window's size, render
    /// and present again.
    #[error("the swapchain no longer matches the window")]
    OutOfDate,
    /// Nothing can be shown right now (a minimised, zero-sized window; an acquire that timed out):
    /// skip this frame.
    #[error("cannot present now: {0}")]
    NotNow(&'static str),
    /// The window's surface is gone: stop presenting.
    #[error("the window surface was lost")]
    SurfaceLost,
    /// This window system and device cannot present (no surface extension, no usable format, the
    /// queue cannot present to the surface): give up on the window backend.
    #[error("cannot present to this window: {0}")]
    Unsupported(String),
    #[error(transparent)]
    Render(#[from] RenderError),
}

impl PresentError {
    fn vk(call: &'static str) -> impl Fn(vk::Result) -> Self {
        move |e| match e {
            vk::Result::ERROR_OUT_OF_DATE_KHR => Self::OutOfDate,
            vk::Result::ERROR_SURFACE_LOST_KHR => Self::SurfaceLost,
            other => Self::Render(RenderError::Vk(call, other)),
        }
    }
}

/// The instance extensions a surface on `display` needs: VK_KHR_surface and the platform's.
pub fn surface_extensions(display: RawDisplayHandle) -> Result<Vec<&'static CStr>, PresentError> {
    let platform = match display {
        RawDisplayHandle::Xlib(_) => ash::khr::xlib_surface::NAME,
        RawDisplayHandle::Xcb(_) => ash::khr::xcb_surface::NAME,
        RawDisplayHandle::Wayland(_) => ash::khr::wayland_surface::NAME,
        other => {
            return Err(PresentError::Unsupported(format!(
                "no Vulkan surface for display {other:?}"
            )))
        }
    };
    Ok(vec![ash::khr::surface::NAME, platform])
}

/// Something that has a window and its display: a `winit::window::Window`, for instance.
pub trait Window: HasWindowHandle + HasDisplayHandle + Send + Sync + 'static {}
impl<T: HasWindowHandle + HasDisplayHandle + Send + Sync + 'static> Window for T {}

/// A `VkSurfaceKHR` for a window, holding the window alive until the surface is destroyed.
pub struct WindowSurface {
    /// The surface is an instance object: the instance must outlive it.
    _instance: Arc<Instance>,
    loader: ash::khr::surface::Instance,
    raw: vk::SurfaceKHR,
    /// Destroyed after `raw` (fields drop after `Drop::drop`): VUID-vkDestroySurfaceKHR has the surface
    /// die first, and the platform window must outlive it.
    _window: Arc<dyn Any + Send + Sync>,
}

impl WindowSurface {
    #[tracing::instrument(skip_all, err)]
    pub fn new<W: Window>(device: &Arc<Device>, window: Arc<W>) -> Result<Self, PresentError> {
        let instance = device.instance();
        let display = window
            .display_handle()
            .map_err(|e| PresentError::Unsupported(format!("display handle: {e}")))?
            .as_raw();
        let handle = window
            .window_handle()
            .map_err(|e| PresentError::Unsupported(format!("window handle: {e}")))?
            .as_raw();
        for ext in surface_extensions(display)? {
            let name = ext.to_string_lossy();
            if !instance.extensions.iter().any(|e| *e == name) {
                return Err(PresentError::Render(RenderError::MissingExtension(
                    name.into_owned(),
                )));
            }
        }
        let raw = match (display, handle) {
            (RawDisplayHandle::Xlib(d), RawWindowHandle::Xlib(w)) => {
                let dpy = d.display.ok_or_else(|| {
                    PresentError::Unsupported("Xlib display handle without a display".into())
                })?;
                let info = vk::XlibSurfaceCreateInfoKHR::default()
                    .dpy(dpy.as_ptr())
                    .window(w.window);
                let loader =
                    ash::khr::xlib_surface::Instance::new(instance.entry(), instance.ash());
                // SAFETY: `dpy` and `w.window` come from the live window, which this surface keeps alive
                // (`_window`) until the surface is destroyed (VUID-VkXlibSurfaceCreateInfoKHR-dpy-01313);
                // the instance has VK_KHR_xlib_surface enabled (checked above).
                unsafe { loader.create_xlib_surface(&info, None) }
            }
            (RawDisplayHandle::Xcb(d), RawWindowHandle::Xcb(w)) => {
                let conn = d.connection.ok_or_else(|| {
                    PresentError::Unsupported("XCB display handle without a connection".into())
                })?;
                let info = vk::XcbSurfaceCreateInfoKHR::default()
                    .connection(conn.as_ptr())
                    .window(w.window.get());
                let loader = ash::khr::xcb_surface::Instance::new(instance.entry(), instance.ash());
                // SAFETY: as for Xlib: a live connection and window, kept alive by `_window`; the
                // extension is enabled.
                unsafe { loader.create_xcb_surface(&info, None) }
            }
            (RawDisplayHandle::Wayland(d), RawWindowHandle::Wayland(w)) => {
                let info = vk::WaylandSurfaceCreateInfoKHR::default()
                    .display(d.display.as_ptr())
                    .surface(w.surface.as_ptr());
                let loader =
                    ash::khr::wayland_surface::Instance::new(instance.entry(), instance.ash());
                // SAFETY: a live wl_display and wl_surface, kept alive by `_window`; the extension is
                // enabled.
                unsafe { loader.create_wayland_surface(&info, None) }
            }
            (d, w) => {
                return Err(PresentError::Unsupported(format!(
                    "no Vulkan surface for window {w:?} on display {d:?}"
                )))
            }
        }
        .map_err(|e| PresentError::Render(RenderError::Vk("vkCreate*SurfaceKHR", e)))?;
        let loader = ash::khr::surface::Instance::new(instance.entry(), instance.ash());
        Ok(Self {
            _instance: device.instance().clone(),
            loader,
            raw,
            _window: window,
        })
    }
}

impl Drop for WindowSurface {
    fn drop(&mut self) {
        // SAFETY: the only swapchain made on this surface is destroyed first (the swapchain owns its
        // surface and destroys itself in its own `Drop`, before its fields);
        // VUID-vkDestroySurfaceKHR-surface-01266.
        unsafe { self.loader.destroy_surface(self.raw, None) };
    }
}

/// How the target reaches the swapchain image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CopyOp {
    /// Same format: a plain copy.
    Copy,
    /// Different format (RGBA target, BGRA swapchain): a blit converts.
    Blit,
}

/// What [`Swapchain::present`] did.
#[derive(Debug, Clone, Copy)]
pub struct PresentOutcome {
    /// The image was presented but the swapchain no longer matches the surface exactly: recreate it
    /// before the next frame.
    pub suboptimal: bool,
    pub image_index: u32,
}

/// A FIFO swapchain on a window surface, plus the command buffer that copies targets into it.
pub struct Swapchain {
    device: Arc<Device>,
    loader: ash::khr::swapchain::Device,
    raw: vk::SwapchainKHR,
    images: Vec<vk::Image>,
    format: vk::SurfaceFormatKHR,
    extent: vk::Extent2D,
    op: CopyOp,
    cmd_pool: vk::CommandPool,
    cmd: vk::CommandBuffer,
    copy_fence: vk::Fence,
    /// The copy's fence is pending (waited for before `cmd` is recorded again).
    copy_in_flight: bool,
    /// Acquire → copy, used in turn (the copy that waited on one finished before it is reused).
    acquired: [vk::Semaphore; 2],
    next_acquired: usize,
    /// Copy → present, by image index.
    copied: Vec<vk::Semaphore>,
    /// Presents so far, and per image the present that last wrote it.
    frame: u64,
    written: Vec<Option<u64>>,
    /// The changed rectangles of the last presents, newest first.
    history: std::collections::VecDeque<Vec<vk::Rect2D>>,
    /// Changes handed to a present that acquired no image: they go with the next one.
    pending: Vec<vk::Rect2D>,
    /// Destroyed after the swapchain (see the module invariants).
    surface: WindowSurface,
}

/// How many presents back a swapchain image may be updated with their changes only.
const MAX_AGE: usize = 4;

impl Swapchain {
    /// Creates a surface for `window` on the renderer's device and a `width`×`height` swapchain on it.
    #[tracing::instrument(skip_all, err)]
    pub fn new<W: Window>(
        renderer: &Renderer,
        window: Arc<W>,
        width: u32,
        height: u32,
    ) -> Result<Self, PresentError> {
        let device = renderer.device().clone();
        if !device.has_extension("VK_KHR_swapchain") {
            return Err(PresentError::Unsupported(format!(
                "{} has no VK_KHR_swapchain",
                device.info().name
            )));
        }
        let surface = WindowSurface::new(&device, window)?;
        // SAFETY: the physical device, queue family and surface all belong to this instance.
        let supported = unsafe {
            surface.loader.get_physical_device_surface_support(
                device.physical(),
                device.queue_family(),
                surface.raw,
            )
        }
        .map_err(PresentError::vk("vkGetPhysicalDeviceSurfaceSupportKHR"))?;
        if !supported {
            return Err(PresentError::Unsupported(format!(
                "the graphics queue of {} cannot present to this window",
                device.info().name
            )));
        }
        let format = choose_format(&device, &surface)?;
        let op = if format.format == TARGET_FORMAT {
            CopyOp::Copy
        } else {
            CopyOp::Blit
        };
        if op == CopyOp::Blit {
            check_blit(&device, format.format)?;
        }
        if is_srgb(format.format) {
            // A blit into an sRGB image encodes our (already sRGB-encoded) values a second time.
            warn!(format = ?format.format, "the window only offers an sRGB format: colours will look washed out");
        }

        let pool_info = vk::CommandPoolCreateInfo::default()
            .queue_family_index(device.queue_family())
            .flags(vk::CommandPoolCreateFlags::RESET_COMMAND_BUFFER);
        // SAFETY: valid create info on a live device.
        let cmd_pool = unsafe { device.ash().create_command_pool(&pool_info, None) }
            .map_err(PresentError::vk("vkCreateCommandPool"))?;
        let mut me = Self {
            loader: ash::khr::swapchain::Device::new(device.instance().ash(), device.ash()),
            raw: vk::SwapchainKHR::null(),
            images: Vec::new(),
            format,
            extent: vk::Extent2D {
                width: 0,
                height: 0,
            },
            op,
            cmd_pool,
            cmd: vk::CommandBuffer::null(),
            copy_fence: vk::Fence::null(),
            copy_in_flight: false,
            acquired: [vk::Semaphore::null(); 2],
            next_acquired: 0,
            copied: Vec::new(),
            frame: 0,
            written: Vec::new(),
            history: Default::default(),
            pending: Vec::new(),
            surface,
            device,
        };
        // From here on `Drop` cleans up whatever was made (null handles are ignored by vkDestroy*).
        let alloc = vk::CommandBufferAllocateInfo::default()
            .command_pool(me.cmd_pool)
            .level(vk::CommandBufferLevel::PRIMARY)
            .command_buffer_count(1);
        // SAFETY: the pool belongs to this device.
        me.cmd = unsafe { me.device.ash().allocate_command_buffers(&alloc) }
            .map_err(PresentError::vk("vkAllocateCommandBuffers"))?
            .first()
            .copied()
            .unwrap_or_default(); // one asked for, one returned
                                  // SAFETY: valid create infos.
        unsafe {
            me.copy_fence = me
                .device
                .ash()
                .create_fence(&vk::FenceCreateInfo::default(), None)
                .map_err(PresentError::vk("vkCreateFence"))?;
            for s in &mut me.acquired {
                *s = me
                    .device
                    .ash()
                    .create_semaphore(&vk::SemaphoreCreateInfo::default(), None)
                    .map_err(PresentError::vk("vkCreateSemaphore"))?;
            }
        }
        me.recreate(width, height)?;
        info!(
            format = ?me.format.format,
            width = me.extent.width,
            height = me.extent.height,
            images = me.images.len(),
            op = ?me.op,
            "swapchain ready (FIFO)"
        );
        Ok(me)
    }

    /// The swapchain's size, which the output's target should match.
    pub fn extent(&self) -> (u32, u32) {
        (self.extent.width, self.extent.height)
    }

    /// (Re)creates the swapchain for a window of `width`×`height` (the surface's current extent wins
    /// where the window system fixes it, as X11 does). The old swapchain is handed over as
    /// `oldSwapchain` and destroyed.
    #[tracing::instrument(skip(self), err)]
    pub fn recreate(&mut self, width: u32, height: u32) -> Result<(), PresentError> {
        let d = &self.device;
        // SAFETY: valid physical device and surface of this instance.
        let caps = unsafe {
            self.surface
                .loader
                .get_physical_device_surface_capabilities(d.physical(), self.surface.raw)
        }
        .map_err(PresentError::vk(
            "vkGetPhysicalDeviceSurfaceCapabilitiesKHR",
        ))?;
        // currentExtent is 0xFFFFFFFF where the swapchain decides the size (Wayland).
        let extent = if caps.current_extent.width == u32::MAX {
            vk::Extent2D {
                width: width.clamp(caps.min_image_extent.width, caps.max_image_extent.width),
                height: height.clamp(caps.min_image_extent.height, caps.max_image_extent.height),
            }
        } else {
            caps.current_extent
        };
        if extent.width == 0 || extent.height == 0 {
            return Err(PresentError::NotNow("the window has no area"));
        }
        if !caps
            .supported_usage_flags
            .contains(vk::ImageUsageFlags::TRANSFER_DST)
        {
            return Err(PresentError::Unsupported(
                "swapchain images cannot be copied into".into(),
            ));
        }
        let mut count = caps.min_image_count + 1;
        if caps.max_image_count != 0 {
            count = count.min(caps.max_image_count);
        }
        let alpha = [
            vk::CompositeAlphaFlagsKHR::OPAQUE,
            vk::CompositeAlphaFlagsKHR::INHERIT,
            vk::CompositeAlphaFlagsKHR::PRE_MULTIPLIED,
            vk::CompositeAlphaFlagsKHR::POST_MULTIPLIED,
        ]
        .into_iter()
        .find(|a| caps.supported_composite_alpha.contains(*a))
        .unwrap_or(vk::CompositeAlphaFlagsKHR::OPAQUE);
        let old = self.raw;
        let info = vk::SwapchainCreateInfoKHR::default()
            .surface(self.surface.raw)
            .min_image_count(count)
            .image_format(self.format.format)
            .image_color_space(self.format.color_space)
            .image_extent(extent)
            .image_array_layers(1)
            .image_usage(vk::ImageUsageFlags::TRANSFER_DST)
            .image_sharing_mode(vk::SharingMode::EXCLUSIVE)
            .pre_transform(vk::SurfaceTransformFlagsKHR::IDENTITY)
            .composite_alpha(alpha)
            .present_mode(vk::PresentModeKHR::FIFO)
            .clipped(true)
            .old_swapchain(old);
        // SAFETY: the surface is supported by our queue (checked in `new`); format, usage, alpha and
        // extent were taken from what the surface reports; FIFO is always supported
        // (VUID-VkSwapchainCreateInfoKHR-presentMode-01281); `old` is this surface's current swapchain
        // or null.
        let raw = unsafe { self.loader.create_swapchain(&info, None) }
            .map_err(PresentError::vk("vkCreateSwapchainKHR"))?;
        // The old images' copies and presents finish before they (and their semaphores) go.
        self.settle()?;
        if old != vk::SwapchainKHR::null() {
            // SAFETY: every command that used the old images finished (`settle`); the old
            // swapchain was retired by passing it as oldSwapchain above.
            unsafe { self.loader.destroy_swapchain(old, None) };
        }
        self.raw = raw;
        // SAFETY: `raw` was just created on this device.
        self.images = unsafe { self.loader.get_swapchain_images(raw) }
            .map_err(PresentError::vk("vkGetSwapchainImagesKHR"))?;
        self.extent = extent;
        self.written = vec![None; self.images.len()];
        self.history.clear();
        while self.copied.len() < self.images.len() {
            // SAFETY: valid create info on a live device.
            let s = unsafe {
                self.device
                    .ash()
                    .create_semaphore(&vk::SemaphoreCreateInfo::default(), None)
            }
            .map_err(PresentError::vk("vkCreateSemaphore"))?;
            self.copied.push(s);
        }
        debug!(
            width = extent.width,
            height = extent.height,
            images = self.images.len(),
            "swapchain (re)created"
        );
        Ok(())
    }

    /// Waits for the last copy and for the queue (presents included) to go idle: before the
    /// swapchain's images or semaphores are replaced.
    fn settle(&mut self) -> Result<(), PresentError> {
        if self.copy_in_flight {
            self.device
                .wait_and_reset(self.copy_fence, "swapchain copy")
                .map_err(PresentError::vk("vkWaitForFences"))?;
            self.copy_in_flight = false;
        }
        // SAFETY: the queue is used from this thread only.
        unsafe { self.device.ash().queue_wait_idle(self.device.queue()) }
            .map_err(PresentError::vk("vkQueueWaitIdle"))
    }

    /// Acquires an image, copies into it what changed in `target` since that image was last
    /// written (`changed`: the rectangles of `target` redrawn since the previous present; all of
    /// it where the image is too old) and queues it for presentation. Call after
    /// `Renderer::render(target, .., readback: false)`: the copy expects the layout that leaves.
    pub fn present(
        &mut self,
        target: &RenderTarget,
        mut changed: Vec<vk::Rect2D>,
    ) -> Result<PresentOutcome, PresentError> {
        changed.append(&mut self.pending);
        if self.raw == vk::SwapchainKHR::null() {
            self.pending = changed;
            return Err(PresentError::OutOfDate);
        }
        // The previous copy (one frame ago) finished long since: its command buffer and acquire
        // semaphore are reused below.
        if self.copy_in_flight {
            self.device
                .wait_and_reset(self.copy_fence, "swapchain copy")
                .map_err(PresentError::vk("vkWaitForFences"))?;
            self.copy_in_flight = false;
        }
        let acquired = *self
            .acquired
            .get(self.next_acquired)
            .unwrap_or(&vk::Semaphore::null());
        // SAFETY: the swapchain is live; the semaphore is unsignalled: the copy that waited on it
        // (two presents ago) finished (its fence was waited for).
        let result = unsafe {
            self.loader.acquire_next_image(
                self.raw,
                ACQUIRE_TIMEOUT_NS,
                acquired,
                vk::Fence::null(),
            )
        };
        let (index, acquire_suboptimal) = match result {
            Ok(v) => v,
            Err(e) => {
                self.pending = changed;
                return Err(match e {
                    vk::Result::TIMEOUT | vk::Result::NOT_READY => {
                        PresentError::NotNow("no swapchain image became free in time")
                    }
                    e => PresentError::vk("vkAcquireNextImageKHR")(e),
                });
            }
        };
        self.next_acquired = (self.next_acquired + 1) % self.acquired.len();
        let lost = || {
            PresentError::Render(RenderError::Vk(
                "vkAcquireNextImageKHR",
                vk::Result::ERROR_UNKNOWN,
            ))
        };
        let image = *self.images.get(index as usize).ok_or_else(lost)?;
        let copied = *self.copied.get(index as usize).ok_or_else(lost)?;
        self.frame += 1;
        self.history.push_front(changed);
        self.history.truncate(MAX_AGE);
        let regions = self.regions(target, index as usize);
        if let Some(w) = self.written.get_mut(index as usize) {
            *w = Some(self.frame);
        }
        self.copy(target, image, regions.as_deref(), (acquired, copied))?;
        let swapchains = [self.raw];
        let indices = [index];
        let waits = [copied];
        let info = vk::PresentInfoKHR::default()
            .wait_semaphores(&waits)
            .swapchains(&swapchains)
            .image_indices(&indices);
        // SAFETY: `index` was acquired above; the copy into it signals `copied`, which the present
        // waits for; the queue is used from this thread only.
        let suboptimal = unsafe { self.loader.queue_present(self.device.queue(), &info) }
            .map_err(PresentError::vk("vkQueuePresentKHR"))?;
        Ok(PresentOutcome {
            suboptimal: suboptimal || acquire_suboptimal,
            image_index: index,
        })
    }

    /// The rectangles image `index` needs from `target`: the changes since it was last written,
    /// or `None` for all of it.
    fn regions(&self, target: &RenderTarget, index: usize) -> Option<Vec<vk::Rect2D>> {
        let same_size =
            (target.width(), target.height()) == (self.extent.width, self.extent.height);
        let age = self.frame - (*self.written.get(index)?)?;
        if !same_size || age == 0 || age as usize > self.history.len() {
            return None;
        }
        let rects: Vec<vk::Rect2D> = self
            .history
            .iter()
            .take(age as usize)
            .flatten()
            .copied()
            .collect();
        (rects.len() <= 4 * MAX_AGE * 4).then_some(rects)
    }

    /// Records and submits the copy of `target` (`regions` of it, or all) into the acquired
    /// `image`, after `semaphores.0` (acquired), signalling `semaphores.1` (ready to present).
    fn copy(
        &mut self,
        target: &RenderTarget,
        image: vk::Image,
        regions: Option<&[vk::Rect2D]>,
        (acquired, copied): (vk::Semaphore, vk::Semaphore),
    ) -> Result<(), PresentError> {
        let d = &self.device.ash();
        let cmd = self.cmd;
        let src = target.raw_image();
        let (src_width, src_height) = (target.width(), target.height());
        // `cmd`'s previous submission finished (its fence was waited for in `present`).
        self.device
            .begin_one_shot(cmd)
            .map_err(|(call, e)| PresentError::vk(call)(e))?;
        let stage = match self.op {
            CopyOp::Copy => vk::PipelineStageFlags2::COPY,
            CopyOp::Blit => vk::PipelineStageFlags2::BLIT,
        };
        let barriers = [
            layout_barrier(
                src,
                TARGET_LAYOUT_AFTER_RENDER,
                vk::ImageLayout::TRANSFER_SRC_OPTIMAL,
                (
                    vk::PipelineStageFlags2::COLOR_ATTACHMENT_OUTPUT,
                    vk::AccessFlags2::COLOR_ATTACHMENT_WRITE,
                ),
                (stage, vk::AccessFlags2::TRANSFER_READ),
            ),
            // Copying only what changed keeps the image's previous frame (it was presented, so
            // it is in PRESENT_SRC_KHR); a whole copy discards it (UNDEFINED). The acquire
            // semaphore's wait covers the presentation engine's reads.
            layout_barrier(
                image,
                if regions.is_some() {
                    vk::ImageLayout::PRESENT_SRC_KHR
                } else {
                    vk::ImageLayout::UNDEFINED
                },
                vk::ImageLayout::TRANSFER_DST_OPTIMAL,
                (stage, vk::AccessFlags2::NONE),
                (stage, vk::AccessFlags2::TRANSFER_WRITE),
            ),
        ];
        let layers = weft_compositor::render::memory::color_layers();
        // SAFETY: `cmd` is recording; both images are in the layouts named by the barriers before the
        // copy; regions lie inside both images (clamped to the smaller extent, or whole-image blits);
        // the formats support copy/blit (checked in `new`).
        unsafe {
            d.cmd_pipeline_barrier2(
                cmd,
                &vk::DependencyInfo::default().image_memory_barriers(&barriers),
            );
            // The rectangles to bring over (1:1: the sizes match, `regions` checked it), or the
            // whole target, stretched by a blit across a resize.
            let whole = [vk::Rect2D {
                offset: vk::Offset2D::default(),
                extent: vk::Extent2D {
                    width: src_width.min(self.extent.width),
                    height: src_height.min(self.extent.height),
                },
            }];
            let rects = regions.unwrap_or(&whole);
            let corners = |r: &vk::Rect2D| {
                [
                    vk::Offset3D {
                        x: r.offset.x,
                        y: r.offset.y,
                        z: 0,
                    },
                    vk::Offset3D {
                        x: r.offset.x + r.extent.width as i32,
                        y: r.offset.y + r.extent.height as i32,
                        z: 1,
                    },
                ]
            };
            match self.op {
                CopyOp::Copy => {
                    let copies: Vec<vk::ImageCopy> = rects
                        .iter()
                        .map(|r| vk::ImageCopy {
                            src_subresource: layers,
                            src_offset: corners(r)[0],
                            dst_subresource: layers,
                            dst_offset: corners(r)[0],
                            extent: vk::Extent3D {
                                width: r.extent.width,
                                height: r.extent.height,
                                depth: 1,
                            },
                        })
                        .collect();
                    if !copies.is_empty() {
                        d.cmd_copy_image(
                            cmd,
                            src,
                            vk::ImageLayout::TRANSFER_SRC_OPTIMAL,
                            image,
                            vk::ImageLayout::TRANSFER_DST_OPTIMAL,
                            &copies,
                        );
                    }
                }
                CopyOp::Blit => {
                    let stretched = || {
                        let target = vk::Rect2D {
                            offset: vk::Offset2D::default(),
                            extent: vk::Extent2D {
                                width: src_width,
                                height: src_height,
                            },
                        };
                        let window = vk::Rect2D {
                            offset: vk::Offset2D::default(),
                            extent: self.extent,
                        };
                        vec![(corners(&target), corners(&window))]
                    };
                    let pairs = match regions {
                        Some(rects) => rects.iter().map(|r| (corners(r), corners(r))).collect(),
                        None => stretched(),
                    };
                    let blits: Vec<vk::ImageBlit> = pairs
                        .into_iter()
                        .map(|(from, to)| vk::ImageBlit {
                            src_subresource: layers,
                            src_offsets: from,
                            dst_subresource: layers,
                            dst_offsets: to,
                        })
                        .collect();
                    // NEAREST: 1:1, or a frame in flight across a resize, where a stretched
                    // frame is better than a black one.
                    if !blits.is_empty() {
                        d.cmd_blit_image(
                            cmd,
                            src,
                            vk::ImageLayout::TRANSFER_SRC_OPTIMAL,
                            image,
                            vk::ImageLayout::TRANSFER_DST_OPTIMAL,
                            &blits,
                            vk::Filter::NEAREST,
                        );
                    }
                }
            }
            let after = [
                layout_barrier(
                    image,
                    vk::ImageLayout::TRANSFER_DST_OPTIMAL,
                    vk::ImageLayout::PRESENT_SRC_KHR,
                    (stage, vk::AccessFlags2::TRANSFER_WRITE),
                    (vk::PipelineStageFlags2::NONE, vk::AccessFlags2::NONE),
                ),
                // Back to the layout the renderer leaves targets in, so the invariant holds between
                // frames whatever happens next.
                layout_barrier(
                    src,
                    vk::ImageLayout::TRANSFER_SRC_OPTIMAL,
                    TARGET_LAYOUT_AFTER_RENDER,
                    (stage, vk::AccessFlags2::TRANSFER_READ),
                    (
                        vk::PipelineStageFlags2::COLOR_ATTACHMENT_OUTPUT,
                        vk::AccessFlags2::COLOR_ATTACHMENT_WRITE,
                    ),
                ),
            ];
            d.cmd_pipeline_barrier2(
                cmd,
                &vk::DependencyInfo::default().image_memory_barriers(&after),
            );
            d.end_command_buffer(cmd)
                .map_err(PresentError::vk("vkEndCommandBuffer"))?;
        }
        if self.device.faults().device_lost() {
            return Err(PresentError::Render(RenderError::Vk(
                "vkQueueSubmit2",
                vk::Result::ERROR_DEVICE_LOST,
            )));
        }
        let waits = [vk::SemaphoreSubmitInfo::default()
            .semaphore(acquired)
            .stage_mask(stage)];
        let signals = [vk::SemaphoreSubmitInfo::default()
            .semaphore(copied)
            .stage_mask(stage)];
        let cmds = [vk::CommandBufferSubmitInfo::default().command_buffer(cmd)];
        let submit = vk::SubmitInfo2::default()
            .wait_semaphore_infos(&waits)
            .command_buffer_infos(&cmds)
            .signal_semaphore_infos(&signals);
        // SAFETY: `cmd` is fully recorded; the fence is unsignalled (reset after every wait); the
        // acquire semaphore will be signalled by the acquire above, `copied` is unsignalled (its
        // last present finished before its image was acquired again); synchronization2 is
        // enabled; the renderer's submissions that wrote the target come earlier on this queue.
        unsafe { d.queue_submit2(self.device.queue(), &[submit], self.copy_fence) }
            .map_err(PresentError::vk("vkQueueSubmit2"))?;
        self.copy_in_flight = true;
        Ok(())
    }
}

impl Drop for Swapchain {
    fn drop(&mut self) {
        // SAFETY: every submission was waited for; the swapchain is destroyed before its surface (a
        // field, dropped after this body); null handles (a half-built swapchain) are ignored by the
        // vkDestroy* calls and the command buffer is freed with its pool.
        unsafe {
            let _ = self.device.ash().device_wait_idle();
            self.loader.destroy_swapchain(self.raw, None);
            self.device.ash().destroy_fence(self.copy_fence, None);
            for s in self.acquired.iter().chain(&self.copied) {
                self.device.ash().destroy_semaphore(*s, None);
            }
            self.device.ash().destroy_command_pool(self.cmd_pool, None);
        }
    }
}

fn is_srgb(format: vk::Format) -> bool {
    matches!(
        format,
        vk::Format::B8G8R8A8_SRGB | vk::Format::R8G8B8A8_SRGB | vk::Format::A8B8G8R8_SRGB_PACK32
    )
}

/// Prefers the target's own format (a plain copy), then BGRA UNORM (a swizzling blit), then any UNORM
/// 8-bit format, then whatever comes first.
fn choose_format(
    device: &Device,
    surface: &WindowSurface,
) -> Result<vk::SurfaceFormatKHR, PresentError> {
    // SAFETY: valid physical device and surface of this instance.
    let formats = unsafe {
        surface
            .loader
            .get_physical_device_surface_formats(device.physical(), surface.raw)
    }
    .map_err(PresentError::vk("vkGetPhysicalDeviceSurfaceFormatsKHR"))?;
    let rank = |f: &vk::SurfaceFormatKHR| match f.format {
        TARGET_FORMAT => 0,
        vk::Format::R8G8B8A8_UNORM => 1,
        vk::Format::A8B8G8R8_UNORM_PACK32
        | vk::Format::A2B10G10R10_UNORM_PACK32
        | vk::Format::A2R10G10B10_UNORM_PACK32 => 2,
        _ if is_srgb(f.format) => 4,
        _ => 3,
    };
    formats
        .iter()
        .filter(|f| f.color_space == vk::ColorSpaceKHR::SRGB_NONLINEAR)
        .min_by_key(|f| rank(f))
        .or_else(|| formats.first())
        .copied()
        .ok_or_else(|| PresentError::Unsupported("the surface offers no formats".into()))
}

fn check_blit(device: &Device, dst: vk::Format) -> Result<(), PresentError> {
    let props = |format| {
        // SAFETY: plain query on a valid physical device.
        unsafe {
            device
                .instance()
                .ash()
                .get_physical_device_format_properties(device.physical(), format)
        }
        .optimal_tiling_features
    };
    if !props(TARGET_FORMAT).contains(vk::FormatFeatureFlags::BLIT_SRC) {
        return Err(PresentError::Unsupported(format!(
            "{TARGET_FORMAT:?} cannot be a blit source"
        )));
    }
    if !props(dst).contains(vk::FormatFeatureFlags::BLIT_DST) {
        return Err(PresentError::Unsupported(format!(
            "{dst:?} cannot be a blit destination"
        )));
    }
    Ok(())
}
