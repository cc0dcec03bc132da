//! Reading a rendered target back into host memory (screenshots, tests), or copying it into a
//! buffer of another device's that the render device imported (a KMS backend's scanout buffer).

use ash::vk;
use gpu_allocator::MemoryLocation;

use super::frame::image_barrier;
use super::{RenderTarget, Renderer};
use crate::render::memory::HostBuffer;
use crate::render::RenderError;

/// Where a copy-out goes: an imported buffer, its row length in pixels, the byte offset of the
/// first row.
#[derive(Debug, Clone, Copy)]
pub(super) struct CopyOut {
    pub(super) buffer: vk::Buffer,
    pub(super) row_length: u32,
    pub(super) offset: u64,
}

/// `region` within `target`, or an error when nothing of it is.
fn clamp_region(target: &RenderTarget, region: vk::Rect2D) -> Result<vk::Rect2D, RenderError> {
    let x0 = region.offset.x.clamp(0, target.width() as i32) as u32;
    let y0 = region.offset.y.clamp(0, target.height() as i32) as u32;
    let x1 = (region.offset.x as i64 + i64::from(region.extent.width))
        .clamp(0, i64::from(target.width())) as u32;
    let y1 = (region.offset.y as i64 + i64::from(region.extent.height))
        .clamp(0, i64::from(target.height())) as u32;
    if x1 <= x0 || y1 <= y0 {
        return Err(RenderError::Allocation(format!(
            "region {region:?} is outside the {}x{} target",
            target.width(),
            target.height()
        )));
    }
    Ok(vk::Rect2D {
        offset: vk::Offset2D {
            x: x0 as i32,
            y: y0 as i32,
        },
        extent: vk::Extent2D {
            width: x1 - x0,
            height: y1 - y0,
        },
    })
}

impl Renderer {
    /// Makes the readback buffer large enough for `target`.
    pub(super) fn ensure_readback(&mut self, target: &RenderTarget) -> Result<(), RenderError> {
        let need = target.width() as u64 * target.height() as u64 * 4;
        if self.readback.as_ref().is_none_or(|b| b.size < need) {
            self.readback = Some(HostBuffer::new(
                &self.device,
                need,
                vk::BufferUsageFlags::TRANSFER_DST,
                MemoryLocation::GpuToCpu,
            )?);
        }
        Ok(())
    }

    /// The pixels of the last readback of `target`, tightly packed RGBA rows. The target holds
    /// BGRA; its alpha is not kept (a copied X-format surface leaves its undefined X byte there,
    /// and an output is opaque: the background is), so every pixel reads back opaque.
    pub(super) fn read_pixels(&mut self, target: &RenderTarget) -> Result<Vec<u8>, RenderError> {
        let need = (target.width() * target.height() * 4) as usize;
        let buf = self
            .readback
            .as_mut()
            .ok_or(RenderError::Allocation("no readback".into()))?;
        let bytes = buf.bytes_mut()?;
        let frame = bytes.get(..need).ok_or(RenderError::Allocation(
            "readback smaller than the frame".into(),
        ))?;
        let mut rgba = frame.to_vec();
        for px in rgba.chunks_exact_mut(4) {
            px.swap(0, 2);
            if let Some(a) = px.get_mut(3) {
                *a = 255;
            }
        }
        Ok(rgba)
    }

    /// Reads `target` back (after everything submitted before it) into `dst`: BGRA rows of
    /// `pitch` bytes.
    pub fn read_target_into(
        &mut self,
        target: &RenderTarget,
        dst: &mut [u8],
        pitch: usize,
    ) -> Result<(), RenderError> {
        self.read_region_into(target, target.area(), dst, pitch)
    }

    /// Reads `region` of `target` back (after everything submitted before it) into `dst`: BGRA
    /// rows of `pitch` bytes, the region's top-left at `dst[0]` (a screen capture of part of an
    /// output).
    pub fn read_region_into(
        &mut self,
        target: &RenderTarget,
        region: vk::Rect2D,
        dst: &mut [u8],
        pitch: usize,
    ) -> Result<(), RenderError> {
        let region = clamp_region(target, region)?;
        self.ensure_readback(target)?;
        self.copy_region = Some(region);
        let submitted = self.submit(None, Some(target));
        self.copy_region = None;
        self.wait_slot(submitted?)?;
        let row = region.extent.width as usize * 4;
        let rows = region.extent.height as usize;
        let buf = self
            .readback
            .as_mut()
            .ok_or(RenderError::Allocation("no readback".into()))?;
        let bytes = buf.bytes_mut()?;
        for y in 0..rows {
            let src = bytes
                .get(y * row..(y + 1) * row)
                .ok_or(RenderError::SourceTooSmall)?;
            let out = dst
                .get_mut(y * pitch..y * pitch + row)
                .ok_or(RenderError::Allocation(
                    "destination smaller than the frame".into(),
                ))?;
            out.copy_from_slice(src);
        }
        Ok(())
    }

    /// Copies `target` (after everything submitted before it) into `dst`, a dma-buf of another
    /// device the render device imported (a display device's scanout buffer): rows of `pitch`
    /// bytes, BGRA as the target holds them. The render device writes into that memory itself;
    /// weft's CPU copies nothing. Returns once the copy is done.
    pub fn copy_target_into(
        &mut self,
        target: &RenderTarget,
        dst: &crate::render::external::ImportedBuffer,
        pitch: u32,
    ) -> Result<(), RenderError> {
        self.copy_region_into(target, target.area(), dst, 0, pitch)
    }

    /// As [`Self::copy_target_into`], for `region` of `target`, written from byte `offset` of
    /// `dst` on (a screen capture into a client's dma-buf).
    pub fn copy_region_into(
        &mut self,
        target: &RenderTarget,
        region: vk::Rect2D,
        dst: &crate::render::external::ImportedBuffer,
        offset: u64,
        pitch: u32,
    ) -> Result<(), RenderError> {
        let region = clamp_region(target, region)?;
        let (w, h) = (region.extent.width, region.extent.height);
        let need = offset + u64::from(pitch) * u64::from(h.saturating_sub(1)) + u64::from(w) * 4;
        if !pitch.is_multiple_of(4) || pitch < w * 4 || dst.size < need || !offset.is_multiple_of(4)
        {
            return Err(RenderError::Allocation(format!(
                "the imported buffer ({} bytes, offset {offset}, pitch {pitch}) does not hold a {w}x{h} frame",
                dst.size,
            )));
        }
        self.copy_out = Some(CopyOut {
            buffer: dst.raw(),
            row_length: pitch / 4,
            offset,
        });
        self.copy_region = Some(region);
        let submitted = self.submit(None, Some(target));
        self.copy_out = None;
        self.copy_region = None;
        self.wait_slot(submitted?)
    }

    /// Records the copy of `target` into the readback buffer (after the frame), made visible to
    /// host reads after the submission's fence; or into the imported buffer `copy_out` names.
    pub(super) fn record_readback(&self, cmd: vk::CommandBuffer, target: &RenderTarget) {
        let d = &self.device.raw;
        let dst = match (self.copy_out, &self.readback) {
            (Some(out), _) => Some((out.buffer, out.row_length, out.offset)),
            (None, Some(buf)) => Some((buf.raw, 0, 0)),
            (None, None) => None,
        };
        let region = self.copy_region.unwrap_or_else(|| target.area());
        if let Some((dst, row_length, buffer_offset)) = dst {
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
                buffer_offset,
                buffer_row_length: row_length,
                buffer_image_height: 0,
                image_subresource: crate::render::memory::color_layers(),
                image_offset: vk::Offset3D {
                    x: region.offset.x,
                    y: region.offset.y,
                    z: 0,
                },
                image_extent: vk::Extent3D {
                    width: region.extent.width,
                    height: region.extent.height,
                    depth: 1,
                },
            };
            // SAFETY: the readback buffer was sized for the whole target above, an imported one
            // checked in `copy_target_into`; the image is in TRANSFER_SRC_OPTIMAL after the
            // barrier.
            unsafe {
                d.cmd_copy_image_to_buffer(
                    cmd,
                    target.image.raw,
                    vk::ImageLayout::TRANSFER_SRC_OPTIMAL,
                    dst,
                    &[region],
                )
            };
            // Back to the layout frames expect (`record_frame`), so the target keeps its contents.
            image_barrier(
                d,
                cmd,
                target.image.raw,
                vk::ImageLayout::TRANSFER_SRC_OPTIMAL,
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
