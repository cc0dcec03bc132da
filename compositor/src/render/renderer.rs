//! The compositing renderer: uploads, a frame of quads into an offscreen target, optional readback.
//!
//! Frames are synchronous: `render` submits one command buffer and waits for its fence before
//! returning. That keeps every resource's lifetime trivially safe (nothing is in flight between
//! calls) and costs little headless; the KMS backend will pipeline frames behind the same interface.

use std::sync::Arc;

use ash::vk;
use gpu_allocator::MemoryLocation;

use super::device::Device;
pub use super::draw::{DrawItem, Fill, Rect};
use super::external::ImportedImage;
use super::foreign::ForeignUse;
use super::instance::Instance;
use super::memory::{color_range, HostBuffer, Image};
use super::pipeline::{PushConstants, QuadPipeline, QuadPush};
use super::planar::{PlanarLayout, PlanarMemory, PlanarPipeline, PlanarSource};
use super::texture::Texture;
use super::RenderError;

/// The format of every render target: RGBA bytes in memory, which is what a PNG wants.
pub const TARGET_FORMAT: vk::Format = vk::Format::R8G8B8A8_UNORM;

/// The layout `render(.., readback: false)` leaves a target in (its rendering pass ends there).
pub const TARGET_LAYOUT_AFTER_RENDER: vk::ImageLayout = vk::ImageLayout::COLOR_ATTACHMENT_OPTIMAL;

/// An upload region: `rect` of the texture from `data` rows at `stride` bytes.
#[derive(Debug, Clone, Copy)]
pub struct UploadRect {
    pub x: u32,
    pub y: u32,
    pub w: u32,
    pub h: u32,
}

struct PendingUpload {
    texture: Arc<Texture>,
    regions: Vec<vk::BufferImageCopy>,
}

/// An offscreen render target (one per output in the headless backend).
pub struct RenderTarget {
    image: Image,
}

impl RenderTarget {
    /// The target image. After [`Renderer::render`] without readback it is in
    /// [`TARGET_LAYOUT_AFTER_RENDER`], with every write finished (frames are synchronous).
    /// The target's `VkImage` (for a window backend that copies it to a swapchain image).
    pub fn raw_image(&self) -> vk::Image {
        self.image.raw
    }
    pub fn width(&self) -> u32 {
        self.image.width
    }
    pub fn height(&self) -> u32 {
        self.image.height
    }
}

/// Counters a frame reports, for introspection and benchmarks.
#[derive(Debug, Clone, Copy, Default)]
pub struct FrameStats {
    pub quads: u32,
    pub uploaded_bytes: u64,
}

pub struct Renderer {
    device: Arc<Device>,
    pipeline: QuadPipeline,
    planar: PlanarPipeline,
    cmd_pool: vk::CommandPool,
    cmd: vk::CommandBuffer,
    fence: vk::Fence,
    staging: Option<HostBuffer>,
    staging_used: u64,
    pending: Vec<PendingUpload>,
    readback: Option<HostBuffer>,
    /// Bound for solid quads, whose pipeline still expects a descriptor set.
    white: Arc<Texture>,
    /// (producer, ours) queue families of client memory's ownership transfers (`render::foreign`):
    /// FOREIGN → our queue's family with VK_EXT_queue_family_foreign, else IGNORED both.
    foreign_families: (u32, u32),
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
            .command_buffer_count(1);
        // SAFETY: the pool belongs to this device.
        let cmd = unsafe { device.raw.allocate_command_buffers(&alloc) }
            .map_err(RenderError::vk("vkAllocateCommandBuffers"))?
            .first()
            .copied()
            .unwrap_or_default(); // one asked for, one returned
                                  // SAFETY: valid create info.
        let fence = unsafe {
            device
                .raw
                .create_fence(&vk::FenceCreateInfo::default(), None)
        }
        .map_err(RenderError::vk("vkCreateFence"))?;
        let white = Texture::new(&device, &pipeline, 1, 1, vk::Format::R8G8B8A8_UNORM)?;
        let foreign_families = device.foreign_families();
        let mut renderer = Self {
            device,
            pipeline,
            planar,
            cmd_pool,
            cmd,
            fence,
            staging: None,
            staging_used: 0,
            pending: Vec::new(),
            readback: None,
            white: white.clone(),
            foreign_families,
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
            image: Image::new(
                &self.device,
                width,
                height,
                TARGET_FORMAT,
                vk::ImageUsageFlags::COLOR_ATTACHMENT | vk::ImageUsageFlags::TRANSFER_SRC,
            )?,
        })
    }

    /// Queues an upload of `rects` from `data` (rows of `stride` bytes, 4 bytes per texel, the
    /// texture's own layout) into `texture`; it is recorded at the start of the next frame. Returns
    /// the number of bytes copied into the staging buffer.
    pub fn upload(
        &mut self,
        texture: &Arc<Texture>,
        data: &[u8],
        stride: u32,
        rects: &[UploadRect],
    ) -> Result<u64, RenderError> {
        const BPP: u64 = 4;
        let (tw, th) = (texture.width(), texture.height());
        let mut regions = Vec::with_capacity(rects.len());
        let mut copied = 0u64;
        for r in rects {
            // Clamp to the texture: damage may extend past the buffer (the spec allows it).
            let x0 = r.x.min(tw);
            let y0 = r.y.min(th);
            let x1 = r.x.saturating_add(r.w).min(tw);
            let y1 = r.y.saturating_add(r.h).min(th);
            if x1 <= x0 || y1 <= y0 {
                continue;
            }
            let row_bytes = (x1 - x0) as u64 * BPP;
            let bytes = row_bytes * (y1 - y0) as u64;
            let offset = self.reserve_staging(bytes)?;
            let staging = self
                .staging
                .as_mut()
                .ok_or(RenderError::Allocation("no staging".into()))?;
            let dst = staging.bytes_mut()?;
            for row in 0..(y1 - y0) {
                let src_off = (y0 + row) as usize * stride as usize + x0 as usize * BPP as usize;
                let src = data
                    .get(src_off..src_off + row_bytes as usize)
                    .ok_or(RenderError::SourceTooSmall)?;
                let d = offset as usize + row as usize * row_bytes as usize;
                dst.get_mut(d..d + row_bytes as usize)
                    .ok_or(RenderError::Allocation(
                        "staging smaller than reserved".into(),
                    ))?
                    .copy_from_slice(src);
            }
            regions.push(vk::BufferImageCopy {
                buffer_offset: offset,
                buffer_row_length: 0,
                buffer_image_height: 0,
                image_subresource: vk::ImageSubresourceLayers {
                    aspect_mask: vk::ImageAspectFlags::COLOR,
                    mip_level: 0,
                    base_array_layer: 0,
                    layer_count: 1,
                },
                image_offset: vk::Offset3D {
                    x: x0 as i32,
                    y: y0 as i32,
                    z: 0,
                },
                image_extent: vk::Extent3D {
                    width: x1 - x0,
                    height: y1 - y0,
                    depth: 1,
                },
            });
            copied += bytes;
        }
        if !regions.is_empty() {
            self.pending.push(PendingUpload {
                texture: texture.clone(),
                regions,
            });
        }
        Ok(copied)
    }

    /// Records and runs the queued uploads now, rather than at the start of the next frame (the
    /// upload queue's slices: the staging buffer is reused by the next slice).
    pub fn flush_uploads(&mut self) -> Result<(), RenderError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        self.submit_and_wait(None, None, None)
    }

    /// Reserves `bytes` (4-byte aligned) in this frame's staging buffer. When it is full, the
    /// uploads queued so far are flushed (they point into it) and it is reused, or replaced by a
    /// larger one only when `bytes` alone does not fit: it stays as large as the largest single
    /// upload (at most [`crate::uploads::SLICE_BYTES`] for wl_shm), not the sum of a frame's.
    fn reserve_staging(&mut self, bytes: u64) -> Result<u64, RenderError> {
        let start = self.staging_used.next_multiple_of(16);
        let cap = self.staging.as_ref().map_or(0, |s| s.size);
        if start + bytes <= cap {
            self.staging_used = start + bytes;
            return Ok(start);
        }
        if !self.pending.is_empty() {
            self.submit_and_wait(None, None, None)?;
        }
        if bytes > cap {
            let new_cap = bytes.next_power_of_two().max(1 << 20);
            self.staging = Some(HostBuffer::new(
                &self.device,
                new_cap,
                vk::BufferUsageFlags::TRANSFER_SRC,
                MemoryLocation::CpuToGpu,
            )?);
        }
        self.staging_used = bytes;
        Ok(0)
    }

    /// Renders `items` over `clear` into `target`; with `readback`, returns the frame as tightly packed
    /// RGBA rows.
    pub fn render(
        &mut self,
        target: &RenderTarget,
        clear: [f32; 4],
        items: &[DrawItem],
        readback: bool,
    ) -> Result<(FrameStats, Option<Vec<u8>>), RenderError> {
        let stats = FrameStats {
            quads: items.len() as u32,
            uploaded_bytes: self.staging_used,
        };
        if readback {
            let need = target.width() as u64 * target.height() as u64 * 4;
            if self.readback.as_ref().is_none_or(|b| b.size < need) {
                self.readback = Some(HostBuffer::new(
                    &self.device,
                    need,
                    vk::BufferUsageFlags::TRANSFER_DST,
                    MemoryLocation::GpuToCpu,
                )?);
            }
        }
        self.submit_and_wait(Some((target, clear)), Some(items), readback.then_some(()))?;
        let pixels = if readback {
            let need = (target.width() * target.height() * 4) as usize;
            let buf = self
                .readback
                .as_mut()
                .ok_or(RenderError::Allocation("no readback".into()))?;
            let bytes = buf.bytes_mut()?;
            let frame = bytes.get(..need).ok_or(RenderError::Allocation(
                "readback smaller than the frame".into(),
            ))?;
            Some(frame.to_vec())
        } else {
            None
        };
        Ok((stats, pixels))
    }

    /// Records pending uploads, then (optionally) a frame and a readback; submits and waits.
    fn submit_and_wait(
        &mut self,
        frame: Option<(&RenderTarget, [f32; 4])>,
        items: Option<&[DrawItem]>,
        readback: Option<()>,
    ) -> Result<(), RenderError> {
        let d = &self.device.raw;
        let cmd = self.cmd;
        // Every path ends in a fence wait (submit_and_wait), so `cmd` is not pending.
        self.device
            .begin_one_shot(cmd)
            .map_err(|(call, e)| RenderError::Vk(call, e))?;
        let pending = std::mem::take(&mut self.pending);
        if let Some(staging) = &self.staging {
            for up in &pending {
                let was_init = up.texture.mark_initialized();
                // Keep the old contents when the texture was written before: only the damaged part
                // is re-uploaded (the layout transition from SHADER_READ_ONLY preserves texels).
                let old = if was_init {
                    vk::ImageLayout::SHADER_READ_ONLY_OPTIMAL
                } else {
                    vk::ImageLayout::UNDEFINED
                };
                image_barrier(
                    d,
                    cmd,
                    up.texture.raw_image(),
                    old,
                    vk::ImageLayout::TRANSFER_DST_OPTIMAL,
                    (
                        vk::PipelineStageFlags2::FRAGMENT_SHADER,
                        vk::AccessFlags2::SHADER_SAMPLED_READ,
                    ),
                    (
                        vk::PipelineStageFlags2::COPY,
                        vk::AccessFlags2::TRANSFER_WRITE,
                    ),
                );
                // SAFETY: the regions lie inside both the staging buffer (reserved above) and the
                // image (clamped in `upload`); the image is in TRANSFER_DST_OPTIMAL.
                unsafe {
                    d.cmd_copy_buffer_to_image(
                        cmd,
                        staging.raw,
                        up.texture.raw_image(),
                        vk::ImageLayout::TRANSFER_DST_OPTIMAL,
                        &up.regions,
                    )
                };
                image_barrier(
                    d,
                    cmd,
                    up.texture.raw_image(),
                    vk::ImageLayout::TRANSFER_DST_OPTIMAL,
                    vk::ImageLayout::SHADER_READ_ONLY_OPTIMAL,
                    (
                        vk::PipelineStageFlags2::COPY,
                        vk::AccessFlags2::TRANSFER_WRITE,
                    ),
                    (
                        vk::PipelineStageFlags2::FRAGMENT_SHADER,
                        vk::AccessFlags2::SHADER_SAMPLED_READ,
                    ),
                );
            }
        }
        if let Some((target, clear)) = frame {
            let items = items.unwrap_or(&[]);
            let client_memory = ForeignUse::of(items);
            if !client_memory.is_empty() {
                client_memory.acquire(d, cmd, self.foreign_families);
            }
            self.record_frame(cmd, target, clear, items);
            if !client_memory.is_empty() {
                client_memory.release(d, cmd, self.foreign_families);
            }
            if readback.is_some() {
                if let Some(buf) = &self.readback {
                    image_barrier(
                        d,
                        cmd,
                        target.image.raw,
                        vk::ImageLayout::COLOR_ATTACHMENT_OPTIMAL,
                        vk::ImageLayout::TRANSFER_SRC_OPTIMAL,
                        (
                            vk::PipelineStageFlags2::COLOR_ATTACHMENT_OUTPUT,
                            vk::AccessFlags2::COLOR_ATTACHMENT_WRITE,
                        ),
                        (
                            vk::PipelineStageFlags2::COPY,
                            vk::AccessFlags2::TRANSFER_READ,
                        ),
                    );
                    let region = vk::BufferImageCopy {
                        buffer_offset: 0,
                        buffer_row_length: 0,
                        buffer_image_height: 0,
                        image_subresource: vk::ImageSubresourceLayers {
                            aspect_mask: vk::ImageAspectFlags::COLOR,
                            mip_level: 0,
                            base_array_layer: 0,
                            layer_count: 1,
                        },
                        image_offset: vk::Offset3D::default(),
                        image_extent: vk::Extent3D {
                            width: target.width(),
                            height: target.height(),
                            depth: 1,
                        },
                    };
                    // SAFETY: the readback buffer was sized for the whole target above; the image is in
                    // TRANSFER_SRC_OPTIMAL after the barrier.
                    unsafe {
                        d.cmd_copy_image_to_buffer(
                            cmd,
                            target.image.raw,
                            vk::ImageLayout::TRANSFER_SRC_OPTIMAL,
                            buf.raw,
                            &[region],
                        )
                    };
                    let barrier = vk::MemoryBarrier2::default()
                        .src_stage_mask(vk::PipelineStageFlags2::COPY)
                        .src_access_mask(vk::AccessFlags2::TRANSFER_WRITE)
                        .dst_stage_mask(vk::PipelineStageFlags2::HOST)
                        .dst_access_mask(vk::AccessFlags2::HOST_READ);
                    let barriers = [barrier];
                    // SAFETY: makes the copy visible to host reads after the fence wait.
                    unsafe {
                        d.cmd_pipeline_barrier2(
                            cmd,
                            &vk::DependencyInfo::default().memory_barriers(&barriers),
                        )
                    };
                }
            }
        }
        // SAFETY: recording started above on this command buffer.
        unsafe { d.end_command_buffer(cmd) }.map_err(RenderError::vk("vkEndCommandBuffer"))?;
        self.device
            .submit_and_wait(cmd, self.fence, "frame")
            .map_err(|(call, e)| RenderError::Vk(call, e))?;
        // Uploads are done: their textures may now be dropped by their owners.
        drop(pending);
        self.staging_used = 0;
        Ok(())
    }

    fn record_frame(
        &self,
        cmd: vk::CommandBuffer,
        target: &RenderTarget,
        clear: [f32; 4],
        items: &[DrawItem],
    ) {
        let d = &self.device.raw;
        let (w, h) = (target.width(), target.height());
        image_barrier(
            d,
            cmd,
            target.image.raw,
            vk::ImageLayout::UNDEFINED,
            vk::ImageLayout::COLOR_ATTACHMENT_OPTIMAL,
            (
                vk::PipelineStageFlags2::COPY,
                vk::AccessFlags2::TRANSFER_READ,
            ),
            (
                vk::PipelineStageFlags2::COLOR_ATTACHMENT_OUTPUT,
                vk::AccessFlags2::COLOR_ATTACHMENT_WRITE,
            ),
        );
        let attachments = [vk::RenderingAttachmentInfo::default()
            .image_view(target.image.view)
            .image_layout(vk::ImageLayout::COLOR_ATTACHMENT_OPTIMAL)
            .load_op(vk::AttachmentLoadOp::CLEAR)
            .store_op(vk::AttachmentStoreOp::STORE)
            .clear_value(vk::ClearValue {
                color: vk::ClearColorValue { float32: clear },
            })];
        let area = vk::Rect2D {
            offset: vk::Offset2D::default(),
            extent: vk::Extent2D {
                width: w,
                height: h,
            },
        };
        let rendering = vk::RenderingInfo::default()
            .render_area(area)
            .layer_count(1)
            .color_attachments(&attachments);
        let viewport = vk::Viewport {
            x: 0.0,
            y: 0.0,
            width: w as f32,
            height: h as f32,
            min_depth: 0.0,
            max_depth: 1.0,
        };
        // SAFETY: the target is in COLOR_ATTACHMENT_OPTIMAL (barrier above); the pipeline was built for
        // TARGET_FORMAT; every texture bound is in SHADER_READ_ONLY_OPTIMAL (uploads end there and
        // items only reference initialized textures, checked below).
        unsafe {
            d.cmd_begin_rendering(cmd, &rendering);
            d.cmd_set_viewport(cmd, 0, &[viewport]);
            d.cmd_set_scissor(cmd, 0, &[area]);
            let mut bound = vk::Pipeline::null();
            for item in items {
                if let Fill::Planar { source, src, yuv } = &item.fill {
                    if bound != self.planar.draw.pipeline {
                        d.cmd_bind_pipeline(
                            cmd,
                            vk::PipelineBindPoint::GRAPHICS,
                            self.planar.draw.pipeline,
                        );
                        bound = self.planar.draw.pipeline;
                    }
                    let push = source.push(
                        ndc(&item.dst, w as f32, h as f32),
                        [src.x, src.y, src.x + src.w, src.y + src.h],
                        item.alpha,
                        *yuv,
                    );
                    d.cmd_bind_descriptor_sets(
                        cmd,
                        vk::PipelineBindPoint::GRAPHICS,
                        self.planar.draw.layout,
                        0,
                        &[source.set()],
                        &[],
                    );
                    d.cmd_push_constants(
                        cmd,
                        self.planar.draw.layout,
                        vk::ShaderStageFlags::VERTEX | vk::ShaderStageFlags::FRAGMENT,
                        0,
                        push.bytes(),
                    );
                    d.cmd_draw(cmd, 4, 1, 0, 0);
                    continue;
                }
                if bound != self.pipeline.draw.pipeline {
                    d.cmd_bind_pipeline(
                        cmd,
                        vk::PipelineBindPoint::GRAPHICS,
                        self.pipeline.draw.pipeline,
                    );
                    bound = self.pipeline.draw.pipeline;
                }
                let (set, push) = self.quad(item, w as f32, h as f32);
                let Some(set) = set else { continue };
                d.cmd_bind_descriptor_sets(
                    cmd,
                    vk::PipelineBindPoint::GRAPHICS,
                    self.pipeline.draw.layout,
                    0,
                    &[set],
                    &[],
                );
                d.cmd_push_constants(
                    cmd,
                    self.pipeline.draw.layout,
                    vk::ShaderStageFlags::VERTEX | vk::ShaderStageFlags::FRAGMENT,
                    0,
                    push.bytes(),
                );
                d.cmd_draw(cmd, 4, 1, 0, 0);
            }
            d.cmd_end_rendering(cmd);
        }
    }

    /// The descriptor set and push constants of one item; `None` for a texture never uploaded.
    fn quad(&self, item: &DrawItem, w: f32, h: f32) -> (Option<vk::DescriptorSet>, QuadPush) {
        let mut push = QuadPush {
            dst: ndc(&item.dst, w, h),
            alpha: item.alpha,
            ..Default::default()
        };
        match &item.fill {
            Fill::Texture {
                texture,
                src,
                opaque,
            } => {
                if !texture.is_initialized() {
                    return (None, push);
                }
                let (tw, th) = (texture.width() as f32, texture.height() as f32);
                push.src = [
                    src.x / tw,
                    src.y / th,
                    (src.x + src.w) / tw,
                    (src.y + src.h) / th,
                ];
                push.mode = 0;
                push.opaque = i32::from(*opaque);
                (Some(texture.set()), push)
            }
            Fill::Solid(c) => {
                push.mode = 1;
                push.color = *c;
                (Some(self.white.set()), push)
            }
            // Drawn by the planar pipeline in `record_frame`.
            Fill::Planar { .. } => (None, push),
        }
    }
}

/// `r` (output pixels) in normalized device coordinates of a `w`×`h` target.
fn ndc(r: &Rect, w: f32, h: f32) -> [f32; 4] {
    [
        r.x / w * 2.0 - 1.0,
        r.y / h * 2.0 - 1.0,
        (r.x + r.w) / w * 2.0 - 1.0,
        (r.y + r.h) / h * 2.0 - 1.0,
    ]
}

fn image_barrier(
    d: &ash::Device,
    cmd: vk::CommandBuffer,
    image: vk::Image,
    old: vk::ImageLayout,
    new: vk::ImageLayout,
    src: (vk::PipelineStageFlags2, vk::AccessFlags2),
    dst: (vk::PipelineStageFlags2, vk::AccessFlags2),
) {
    let barriers = [vk::ImageMemoryBarrier2::default()
        .src_stage_mask(src.0)
        .src_access_mask(src.1)
        .dst_stage_mask(dst.0)
        .dst_access_mask(dst.1)
        .old_layout(old)
        .new_layout(new)
        .src_queue_family_index(vk::QUEUE_FAMILY_IGNORED)
        .dst_queue_family_index(vk::QUEUE_FAMILY_IGNORED)
        .image(image)
        .subresource_range(color_range())];
    // SAFETY: `cmd` is recording; synchronization2 is enabled on the device.
    unsafe {
        d.cmd_pipeline_barrier2(
            cmd,
            &vk::DependencyInfo::default().image_memory_barriers(&barriers),
        )
    };
}

impl Drop for Renderer {
    fn drop(&mut self) {
        // SAFETY: every submission was waited for; the command buffer is freed with its pool.
        unsafe {
            let _ = self.device.raw.device_wait_idle();
            self.device.raw.destroy_fence(self.fence, None);
            self.device.raw.destroy_command_pool(self.cmd_pool, None);
        }
    }
}
