//! Uploads of weft's own textures (wl_shm): damaged regions copied into a staging buffer at commit
//! and recorded at the start of the next submission.

use std::sync::Arc;

use ash::vk;
use gpu_allocator::MemoryLocation;

use super::frame::image_barrier;
use super::Renderer;
use crate::render::memory::HostBuffer;
use crate::render::texture::Texture;
use crate::render::RenderError;

/// An upload region: `rect` of the texture from `data` rows at `stride` bytes.
#[derive(Debug, Clone, Copy)]
pub struct UploadRect {
    pub x: u32,
    pub y: u32,
    pub w: u32,
    pub h: u32,
}

pub(super) struct PendingUpload {
    pub(super) texture: Arc<Texture>,
    pub(super) regions: Vec<vk::BufferImageCopy>,
}

impl Renderer {
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
        self.upload_rows(texture, rects, |y, x0, dst| {
            let from = y as usize * stride as usize + x0 as usize * 4;
            let src = data
                .get(from..from + dst.len())
                .ok_or(RenderError::SourceTooSmall)?;
            dst.copy_from_slice(src);
            Ok(())
        })
    }

    /// Like [`Self::upload`], with each row's texels written straight into the staging buffer by
    /// `fill(y, x0, dst)`: row `y` from column `x0`, `dst.len() / 4` texels (a conversion on the
    /// way costs no second copy).
    pub fn upload_rows(
        &mut self,
        texture: &Arc<Texture>,
        rects: &[UploadRect],
        mut fill: impl FnMut(u32, u32, &mut [u8]) -> Result<(), RenderError>,
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
                .slot()
                .staging
                .as_mut()
                .ok_or(RenderError::Allocation("no staging".into()))?;
            let dst = staging.bytes_mut()?;
            for row in 0..(y1 - y0) {
                let d = offset as usize + row as usize * row_bytes as usize;
                let out = dst
                    .get_mut(d..d + row_bytes as usize)
                    .ok_or(RenderError::Allocation(
                        "staging smaller than reserved".into(),
                    ))?;
                fill(y0 + row, x0, out)?;
            }
            regions.push(vk::BufferImageCopy {
                buffer_offset: offset,
                buffer_row_length: 0,
                buffer_image_height: 0,
                image_subresource: crate::render::memory::color_layers(),
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

    /// Records and submits the queued uploads now, rather than with the next frame (the upload
    /// queue's slices: the next slice is staged in the next slot's buffer).
    pub fn flush_uploads(&mut self) -> Result<(), RenderError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        self.submit(None, None).map(|_| ())
    }

    /// Bytes staged for the next submission.
    pub(super) fn ring_staged(&mut self) -> u64 {
        self.slot().staging_used
    }

    /// Reserves `bytes` (16-byte aligned) in the current slot's staging buffer. When it is full,
    /// the uploads queued so far are submitted (they point into it) and the next slot's is used,
    /// replaced by a larger one only when `bytes` alone does not fit: each stays as large as the
    /// largest single upload (at most [`crate::buffers::uploads::SLICE_BYTES`] for wl_shm), not the sum of a
    /// frame's.
    fn reserve_staging(&mut self, bytes: u64) -> Result<u64, RenderError> {
        let slot = self.slot();
        let start = slot.staging_used.next_multiple_of(16);
        let cap = slot.staging.as_ref().map_or(0, |s| s.size);
        if start + bytes <= cap {
            slot.staging_used = start + bytes;
            return Ok(start);
        }
        if !self.pending.is_empty() {
            self.submit(None, None)?;
        }
        let cap = self.slot().staging.as_ref().map_or(0, |s| s.size);
        if bytes > cap {
            let new_cap = bytes.next_power_of_two().max(1 << 20);
            let buffer = HostBuffer::new(
                &self.device,
                new_cap,
                vk::BufferUsageFlags::TRANSFER_SRC,
                MemoryLocation::CpuToGpu,
            )?;
            self.slot().staging = Some(buffer);
        }
        self.slot().staging_used = bytes;
        Ok(0)
    }

    /// Records the queued uploads into `cmd` (the start of a submission) and hands them back: they
    /// point into the current slot's staging buffer and must live until the submission completes.
    pub(super) fn record_uploads(&mut self, cmd: vk::CommandBuffer) -> Vec<PendingUpload> {
        let pending = std::mem::take(&mut self.pending);
        let device = self.device.clone();
        let d = &device.raw;
        if let Some(staging) = &self.slot().staging {
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
        pending
    }
}
