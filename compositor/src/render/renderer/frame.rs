//! Recording and submitting a frame: the queued uploads, the quads back to front (textured, solid,
//! planar) with client memory acquired from and released to its producer, an optional readback.

use ash::vk;

use std::sync::Arc;

use super::cover::{cover, overlaps, Cover};
use super::{RenderTarget, Renderer, TARGET_LAYOUT_AFTER_RENDER};
use crate::render::draw::{DrawItem, Fill, Rect};
use crate::render::foreign::ForeignUse;
use crate::render::pipeline::{PushConstants, QuadPush};
use crate::render::texture::Texture;
use crate::render::{FrameStats, RenderError};

/// What a submission draws: a target, its clear colour, the items, the damage to redraw.
pub(super) type FrameWork<'a> = (&'a RenderTarget, [f32; 4], &'a [DrawItem], &'a [vk::Rect2D]);

impl Renderer {
    /// Redraws `damage` (rectangles of the target, redrawn over `clear`; the rest keeps what the
    /// last frame left) with `items`; with `readback`, returns the whole frame as tightly packed
    /// RGBA rows. A target never drawn is drawn whole whatever `damage` says.
    pub fn render(
        &mut self,
        target: &RenderTarget,
        clear: [f32; 4],
        items: &[DrawItem],
        damage: &[vk::Rect2D],
        readback: bool,
    ) -> Result<(FrameStats, Option<Vec<u8>>), RenderError> {
        let whole = [target.area()];
        let damage = if target.drawn.get() { damage } else { &whole };
        let stats = FrameStats {
            quads: items.len() as u32,
            uploaded_bytes: self.ring_staged(),
            damaged_pixels: damage
                .iter()
                .map(|r| u64::from(r.extent.width) * u64::from(r.extent.height))
                .sum(),
        };
        if damage.is_empty() && !readback {
            return Ok((stats, None));
        }
        if readback {
            self.ensure_readback(target)?;
        }
        let frame = (!damage.is_empty()).then_some((target, clear, items, damage));
        let submitted = self.submit(frame, readback.then_some(target))?;
        let pixels = if readback {
            // The one wait of a frame: its pixels are wanted now.
            self.wait_slot(submitted)?;
            Some(self.read_pixels(target)?)
        } else {
            None
        };
        Ok((stats, pixels))
    }

    /// Records the pending uploads, then (optionally) a frame and a readback, and submits them
    /// without waiting ([`super::ring`]). Returns the slot submitted.
    pub(super) fn submit(
        &mut self,
        frame: Option<FrameWork<'_>>,
        readback: Option<&RenderTarget>,
    ) -> Result<usize, RenderError> {
        let cmd = self.slot().cmd;
        // The current slot is never in flight (`submit_current` waits before moving on to it).
        self.device
            .begin_one_shot(cmd)
            .map_err(|(call, e)| RenderError::Vk(call, e))?;
        self.record_stall(cmd)?;
        let uploads = self.record_uploads(cmd);
        let device = self.device.clone();
        let d = &device.raw;
        let mut keep = Vec::new();
        if let Some((target, clear, items, damage)) = frame {
            self.wait_acquires(items);
            let client_memory = ForeignUse::of(items);
            if !client_memory.is_empty() {
                client_memory.acquire(d, cmd, self.foreign_families);
            }
            self.record_frame(cmd, target, clear, items, damage);
            if !client_memory.is_empty() {
                client_memory.release(d, cmd, self.foreign_families);
            }
            keep = items.to_vec();
        }
        if let Some(target) = readback {
            self.record_readback(cmd, target);
        }
        // SAFETY: recording started above on this command buffer.
        unsafe { d.end_command_buffer(cmd) }.map_err(RenderError::vk("vkEndCommandBuffer"))?;
        let target = frame.map(|f| f.0).or(readback).map(|t| t.image.clone());
        self.submit_current(keep, target, uploads)
    }

    /// Makes the acquire fences of the client buffers `items` read (first frame of a commit)
    /// waits of this submission, where the device imports sync_files. Elsewhere the fence was
    /// waited for in the event loop before the commit applied, which it always is first
    /// ([`crate::sync`]: that wait is what keeps a stuck fence to its own surface).
    fn wait_acquires(&mut self, items: &[DrawItem]) {
        if !self.sync_fd.import {
            return;
        }
        let device = self.device.clone();
        for held in items.iter().filter_map(|i| i.hold.as_ref()) {
            if let Some(fence) = held.take_acquire() {
                if let Err(e) = self.slot().sems.wait_for(&device, fence) {
                    tracing::debug!(error = ?e, "acquire fence not imported as a semaphore");
                }
            }
        }
    }

    fn record_frame(
        &self,
        cmd: vk::CommandBuffer,
        target: &RenderTarget,
        clear: [f32; 4],
        items: &[DrawItem],
        damage: &[vk::Rect2D],
    ) {
        let d = &self.device.raw;
        let (w, h) = (target.width(), target.height());
        // A target drawn before keeps its contents (only `damage` is redrawn): it stays in
        // COLOR_ATTACHMENT_OPTIMAL between frames (readback and the window copy put it back).
        let drawn = target.drawn.replace(true);
        let old = if drawn {
            TARGET_LAYOUT_AFTER_RENDER
        } else {
            vk::ImageLayout::UNDEFINED
        };
        let covers: Vec<Cover> = damage.iter().map(|r| cover(items, r)).collect();
        self.record_copies(cmd, target, old, damage, &covers);
        // Copies alone (a full-damage video, a moving cursor-sized damage over one surface): no
        // rendering pass at all, which on a CPU device also spares its rasterizer's setup.
        let draws = damage.iter().zip(&covers).any(|(rect, cover)| match cover {
            Cover::None | Cover::Clear { .. } | Cover::Draw { .. } => true,
            Cover::Copy { .. } | Cover::CopyBuffer { .. } => items
                .iter()
                .skip(cover.first_drawn())
                .any(|i| overlaps(&i.dst, rect)),
        });
        if !draws {
            return;
        }
        let attachments = [vk::RenderingAttachmentInfo::default()
            .image_view(target.image.view)
            .image_layout(vk::ImageLayout::COLOR_ATTACHMENT_OPTIMAL)
            .load_op(vk::AttachmentLoadOp::LOAD)
            .store_op(vk::AttachmentStoreOp::STORE)];
        let area = bounds(damage);
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
        // items only reference initialized textures, checked below); every damage rectangle lies in
        // the render area (their bounds).
        unsafe {
            d.cmd_begin_rendering(cmd, &rendering);
            d.cmd_set_viewport(cmd, 0, &[viewport]);
            for (rect, cover) in damage.iter().zip(&covers) {
                let color = match cover {
                    Cover::None => Some(clear),
                    Cover::Clear { color, .. } => Some(*color),
                    Cover::Copy { .. } | Cover::CopyBuffer { .. } | Cover::Draw { .. } => None,
                };
                if let Some(color) = color {
                    let attachment = [vk::ClearAttachment {
                        aspect_mask: vk::ImageAspectFlags::COLOR,
                        color_attachment: 0,
                        clear_value: vk::ClearValue {
                            color: vk::ClearColorValue { float32: color },
                        },
                    }];
                    d.cmd_clear_attachments(
                        cmd,
                        &attachment,
                        &[vk::ClearRect {
                            rect: *rect,
                            base_array_layer: 0,
                            layer_count: 1,
                        }],
                    );
                }
                d.cmd_set_scissor(cmd, 0, &[*rect]);
                let within = items
                    .iter()
                    .skip(cover.first_drawn())
                    .filter(|i| overlaps(&i.dst, rect));
                self.record_items(cmd, within, w, h);
            }
            d.cmd_end_rendering(cmd);
        }
    }

    /// Copies the rectangles whose cover is an unscaled opaque texture, or an unscaled opaque
    /// XRGB8888 buffer read in place (`CopyBuffer`), straight into the target,
    /// leaving the target in COLOR_ATTACHMENT_OPTIMAL (from `old`) for the rendering pass.
    fn record_copies(
        &self,
        cmd: vk::CommandBuffer,
        target: &RenderTarget,
        old: vk::ImageLayout,
        damage: &[vk::Rect2D],
        covers: &[Cover],
    ) {
        let d = &self.device.raw;
        let to_attachment = (
            vk::PipelineStageFlags2::COLOR_ATTACHMENT_OUTPUT,
            vk::AccessFlags2::COLOR_ATTACHMENT_WRITE | vk::AccessFlags2::COLOR_ATTACHMENT_READ,
        );
        let earlier = (
            vk::PipelineStageFlags2::COLOR_ATTACHMENT_OUTPUT | vk::PipelineStageFlags2::COPY,
            vk::AccessFlags2::COLOR_ATTACHMENT_WRITE | vk::AccessFlags2::TRANSFER_READ,
        );
        let copies: Vec<(&vk::Rect2D, &Arc<Texture>, vk::Offset2D)> = damage
            .iter()
            .zip(covers)
            .filter_map(|(r, c)| match c {
                Cover::Copy { texture, src, .. } => Some((r, texture, *src)),
                _ => None,
            })
            .collect();
        let buffer_copies: Vec<(vk::Buffer, vk::BufferImageCopy)> = covers
            .iter()
            .filter_map(|c| match c {
                Cover::CopyBuffer { source, region, .. } => {
                    source.plane_buffer(0).map(|b| (b, *region))
                }
                _ => None,
            })
            .collect();
        let target_image = target.image.raw;
        if copies.is_empty() && buffer_copies.is_empty() {
            image_barrier(
                d,
                cmd,
                target_image,
                old,
                vk::ImageLayout::COLOR_ATTACHMENT_OPTIMAL,
                earlier,
                to_attachment,
            );
            return;
        }
        let copy_write = (
            vk::PipelineStageFlags2::COPY,
            vk::AccessFlags2::TRANSFER_WRITE,
        );
        let copy_read = (
            vk::PipelineStageFlags2::COPY,
            vk::AccessFlags2::TRANSFER_READ,
        );
        let sampled = (
            vk::PipelineStageFlags2::FRAGMENT_SHADER | vk::PipelineStageFlags2::COPY,
            vk::AccessFlags2::SHADER_SAMPLED_READ | vk::AccessFlags2::TRANSFER_WRITE,
        );
        image_barrier(
            d,
            cmd,
            target_image,
            old,
            vk::ImageLayout::TRANSFER_DST_OPTIMAL,
            earlier,
            copy_write,
        );
        let mut textures: Vec<&Arc<Texture>> = Vec::new();
        for (_, t, _) in &copies {
            if !textures.iter().any(|u| Arc::ptr_eq(u, t)) {
                textures.push(t);
            }
        }
        for t in &textures {
            image_barrier(
                d,
                cmd,
                t.raw_image(),
                vk::ImageLayout::SHADER_READ_ONLY_OPTIMAL,
                vk::ImageLayout::TRANSFER_SRC_OPTIMAL,
                sampled,
                copy_read,
            );
        }
        for (rect, texture, src) in &copies {
            let layers = crate::render::memory::color_layers();
            let region = vk::ImageCopy {
                src_subresource: layers,
                src_offset: vk::Offset3D {
                    x: src.x,
                    y: src.y,
                    z: 0,
                },
                dst_subresource: layers,
                dst_offset: vk::Offset3D {
                    x: rect.offset.x,
                    y: rect.offset.y,
                    z: 0,
                },
                extent: vk::Extent3D {
                    width: rect.extent.width,
                    height: rect.extent.height,
                    depth: 1,
                },
            };
            // SAFETY: both images are in the layouts named (barriers above); the region lies in
            // the texture (`cover` checked it) and in the target (damage is clipped to it); both
            // have TARGET_FORMAT.
            unsafe {
                d.cmd_copy_image(
                    cmd,
                    texture.raw_image(),
                    vk::ImageLayout::TRANSFER_SRC_OPTIMAL,
                    target_image,
                    vk::ImageLayout::TRANSFER_DST_OPTIMAL,
                    &[region],
                )
            };
        }
        for (buffer, region) in &buffer_copies {
            // SAFETY: the target is in TRANSFER_DST_OPTIMAL (barrier above); `cover` checked that
            // the region lies in the buffer (`PlanarSource::copy_region`) and damage lies in the
            // target; the buffer has TRANSFER_SRC and its bytes are B8G8R8A8 texels; client
            // memory was acquired for COPY reads before this (`ForeignUse::acquire`).
            unsafe {
                d.cmd_copy_buffer_to_image(
                    cmd,
                    *buffer,
                    target_image,
                    vk::ImageLayout::TRANSFER_DST_OPTIMAL,
                    &[*region],
                )
            };
        }
        for t in &textures {
            image_barrier(
                d,
                cmd,
                t.raw_image(),
                vk::ImageLayout::TRANSFER_SRC_OPTIMAL,
                vk::ImageLayout::SHADER_READ_ONLY_OPTIMAL,
                copy_read,
                (
                    vk::PipelineStageFlags2::FRAGMENT_SHADER,
                    vk::AccessFlags2::SHADER_SAMPLED_READ,
                ),
            );
        }
        image_barrier(
            d,
            cmd,
            target_image,
            vk::ImageLayout::TRANSFER_DST_OPTIMAL,
            vk::ImageLayout::COLOR_ATTACHMENT_OPTIMAL,
            copy_write,
            to_attachment,
        );
    }

    /// Records the draws of `items` (inside a rendering pass, viewport and scissor set).
    ///
    /// # Safety
    /// `cmd` is recording inside a rendering pass on a target of `w`×`h` in TARGET_FORMAT.
    unsafe fn record_items<'a>(
        &self,
        cmd: vk::CommandBuffer,
        items: impl Iterator<Item = &'a DrawItem>,
        w: u32,
        h: u32,
    ) {
        let d = &self.device.raw;
        // SAFETY: as the caller promises; descriptor sets and push constants match the pipelines.
        unsafe {
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
                        (
                            ndc(&item.dst, w as f32, h as f32),
                            item.orient.corners(src),
                            item.orient.transpose,
                        ),
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
                let [u0, v0, u1, v1] = item.orient.corners(src);
                push.src = [u0 / tw, v0 / th, u1 / tw, v1 / th];
                push.transpose = i32::from(item.orient.transpose);
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

/// The bounding box of `rects` (none: an empty one).
fn bounds(rects: &[vk::Rect2D]) -> vk::Rect2D {
    let mut it = rects.iter();
    let Some(first) = it.next() else {
        return vk::Rect2D::default();
    };
    let end = |r: &vk::Rect2D| {
        (
            r.offset.x + r.extent.width as i32,
            r.offset.y + r.extent.height as i32,
        )
    };
    let (mut x0, mut y0) = (first.offset.x, first.offset.y);
    let (mut x1, mut y1) = end(first);
    for r in it {
        x0 = x0.min(r.offset.x);
        y0 = y0.min(r.offset.y);
        let (ex, ey) = end(r);
        x1 = x1.max(ex);
        y1 = y1.max(ey);
    }
    vk::Rect2D {
        offset: vk::Offset2D { x: x0, y: y0 },
        extent: vk::Extent2D {
            width: (x1 - x0) as u32,
            height: (y1 - y0) as u32,
        },
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

pub(super) fn image_barrier(
    d: &ash::Device,
    cmd: vk::CommandBuffer,
    image: vk::Image,
    old: vk::ImageLayout,
    new: vk::ImageLayout,
    src: (vk::PipelineStageFlags2, vk::AccessFlags2),
    dst: (vk::PipelineStageFlags2, vk::AccessFlags2),
) {
    let barriers = [crate::render::memory::layout_barrier(
        image, old, new, src, dst,
    )];
    // SAFETY: `cmd` is recording; synchronization2 is enabled on the device.
    unsafe {
        d.cmd_pipeline_barrier2(
            cmd,
            &vk::DependencyInfo::default().image_memory_barriers(&barriers),
        )
    };
}
