//! Reading a rendered target back into host memory (screenshots, tests), or copying it into a
//! buffer of another device's that the render device imported (a KMS backend's scanout buffer).

use ash::vk;
use gpu_allocator::MemoryLocation;

use super::frame::image_barrier;
use super::{RenderTarget, Renderer};
use crate::render::memory::HostBuffer;
use crate::render::RenderError;

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
    /// `pitch` bytes, as the target holds them (a KMS dumb buffer's XRGB8888 layout).
    pub fn read_target_into(
        &mut self,
        target: &RenderTarget,
        dst: &mut [u8],
        pitch: usize,
    ) -> Result<(), RenderError> {
        self.ensure_readback(target)?;
        let submitted = self.submit(None, Some(target))?;
        self.wait_slot(submitted)?;
        let row = target.width() as usize * 4;
        let rows = target.height() as usize;
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
        let need = u64::from(pitch) * u64::from(target.height().saturating_sub(1))
            + u64::from(target.width()) * 4;
        if !pitch.is_multiple_of(4) || pitch < target.width() * 4 || dst.size < need {
            return Err(RenderError::Allocation(format!(
                "the imported buffer ({} bytes, pitch {pitch}) does not hold a {}x{} frame",
                dst.size,
                target.width(),
                target.height()
            )));
        }
        self.copy_out = Some((dst.raw(), pitch / 4));
        let submitted = self.submit(None, Some(target));
        self.copy_out = None;
        self.wait_slot(submitted?)
    }

    /// Records the copy of `target` into the readback buffer (after the frame), made visible to
    /// host reads after the submission's fence; or into the imported buffer `copy_out` names.
    pub(super) fn record_readback(&self, cmd: vk::CommandBuffer, target: &RenderTarget) {
        let d = &self.device.raw;
        let dst = match (self.copy_out, &self.readback) {
            (Some((buffer, row_length)), _) => Some((buffer, row_length)),
            (None, Some(buf)) => Some((buf.raw, 0)),
            (None, None) => None,
        };
        if let Some((dst, row_length)) = dst {
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
                buffer_row_length: row_length,
                buffer_image_height: 0,
                image_subresource: crate::render::memory::color_layers(),
                image_offset: vk::Offset3D::default(),
                image_extent: vk::Extent3D {
                    width: target.width(),
                    height: target.height(),
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
