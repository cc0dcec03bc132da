//! Copies on a device's queue outside frames: the staging rungs' GPU copies (`StageOnSink` on the
//! render device, `StageOnSource` on the device that produced the buffer). Each [`Copier`] has
//! its own command buffer and fence and waits for its copy, so it can live with the import it
//! serves and runs whichever device's renderer is busy.

use std::sync::Arc;

use ash::vk;

use super::device::Device;
use super::RenderError;

/// One byte range copied by [`Copier::copy_from_foreign`].
#[derive(Debug, Clone, Copy)]
pub struct RowCopy {
    pub src: vk::Buffer,
    pub dst: vk::Buffer,
    pub src_offset: u64,
    pub dst_offset: u64,
    pub size: u64,
}

/// A command buffer and fence for copies on one device.
pub struct Copier {
    device: Arc<Device>,
    pool: vk::CommandPool,
    cmd: vk::CommandBuffer,
    fence: vk::Fence,
    /// (producer, ours) queue families of client memory's ownership transfers (`render::foreign`).
    foreign_families: (u32, u32),
}

// SAFETY: the handles are only used through `&mut self` (one thread at a time), and the device's
// queue only from the compositor thread, as every other submission of weft's.
unsafe impl Send for Copier {}

impl Copier {
    pub fn new(device: &Arc<Device>) -> Result<Self, RenderError> {
        let pool_info = vk::CommandPoolCreateInfo::default()
            .queue_family_index(device.queue_family)
            .flags(vk::CommandPoolCreateFlags::RESET_COMMAND_BUFFER);
        // SAFETY: valid create info on a live device.
        let pool = unsafe { device.raw.create_command_pool(&pool_info, None) }
            .map_err(RenderError::vk("vkCreateCommandPool"))?;
        let alloc = vk::CommandBufferAllocateInfo::default()
            .command_pool(pool)
            .level(vk::CommandBufferLevel::PRIMARY)
            .command_buffer_count(1);
        // SAFETY: the pool belongs to this device.
        let cmd = match unsafe { device.raw.allocate_command_buffers(&alloc) } {
            Ok(v) => v.first().copied().unwrap_or_default(),
            Err(e) => {
                // SAFETY: the pool is unused.
                unsafe { device.raw.destroy_command_pool(pool, None) };
                return Err(RenderError::Vk("vkAllocateCommandBuffers", e));
            }
        };
        // SAFETY: valid create info.
        let fence = match unsafe {
            device
                .raw
                .create_fence(&vk::FenceCreateInfo::default(), None)
        } {
            Ok(f) => f,
            Err(e) => {
                // SAFETY: nothing was submitted from the pool.
                unsafe { device.raw.destroy_command_pool(pool, None) };
                return Err(RenderError::Vk("vkCreateFence", e));
            }
        };
        Ok(Self {
            device: device.clone(),
            pool,
            cmd,
            fence,
            foreign_families: device.foreign_families(),
        })
    }

    /// Copies byte ranges of client (foreign) buffers into weft's own buffers on this device's
    /// queue, and waits . Each source is acquired from its producer
    /// (VK_QUEUE_FAMILY_FOREIGN_EXT where available) before and released after, as frames do.
    pub fn copy_from_foreign(&mut self, copies: &[RowCopy]) -> Result<(), RenderError> {
        let d = &self.device.raw;
        let cmd = self.cmd;
        self.device
            .begin_one_shot(cmd)
            .map_err(|(call, e)| RenderError::Vk(call, e))?;
        let (foreign, ours) = self.foreign_families;
        let mut sources: Vec<vk::Buffer> = copies.iter().map(|c| c.src).collect();
        sources.sort_unstable_by_key(|b| vk::Handle::as_raw(*b));
        sources.dedup();
        let ownership = |from: u32,
                         to: u32,
                         src: (vk::PipelineStageFlags2, vk::AccessFlags2),
                         dst: (vk::PipelineStageFlags2, vk::AccessFlags2)| {
            sources
                .iter()
                .map(|&b| {
                    vk::BufferMemoryBarrier2::default()
                        .src_stage_mask(src.0)
                        .src_access_mask(src.1)
                        .dst_stage_mask(dst.0)
                        .dst_access_mask(dst.1)
                        .src_queue_family_index(from)
                        .dst_queue_family_index(to)
                        .buffer(b)
                        .offset(0)
                        .size(vk::WHOLE_SIZE)
                })
                .collect::<Vec<_>>()
        };
        let none = (vk::PipelineStageFlags2::NONE, vk::AccessFlags2::NONE);
        let read = (
            vk::PipelineStageFlags2::COPY,
            vk::AccessFlags2::TRANSFER_READ,
        );
        let acquire = ownership(foreign, ours, none, read);
        // Earlier frames read the destination; the copy writes it after them.
        let before = [vk::MemoryBarrier2::default()
            .src_stage_mask(vk::PipelineStageFlags2::FRAGMENT_SHADER)
            .src_access_mask(vk::AccessFlags2::SHADER_STORAGE_READ)
            .dst_stage_mask(vk::PipelineStageFlags2::COPY)
            .dst_access_mask(vk::AccessFlags2::TRANSFER_WRITE)];
        // SAFETY: `cmd` is recording; the barriers name live buffers of this device.
        unsafe {
            d.cmd_pipeline_barrier2(
                cmd,
                &vk::DependencyInfo::default()
                    .memory_barriers(&before)
                    .buffer_memory_barriers(&acquire),
            )
        };
        for c in copies {
            let region = [vk::BufferCopy {
                src_offset: c.src_offset,
                dst_offset: c.dst_offset,
                size: c.size,
            }];
            // SAFETY: the import code checked that both ranges lie inside their buffers
            // (`SinkStage::new` and the local buffer's size).
            unsafe { d.cmd_copy_buffer(cmd, c.src, c.dst, &region) };
        }
        let release = ownership(ours, foreign, read, none);
        let after = [vk::MemoryBarrier2::default()
            .src_stage_mask(vk::PipelineStageFlags2::COPY)
            .src_access_mask(vk::AccessFlags2::TRANSFER_WRITE)
            .dst_stage_mask(vk::PipelineStageFlags2::FRAGMENT_SHADER)
            .dst_access_mask(vk::AccessFlags2::SHADER_STORAGE_READ)];
        // SAFETY: as above.
        unsafe {
            d.cmd_pipeline_barrier2(
                cmd,
                &vk::DependencyInfo::default()
                    .memory_barriers(&after)
                    .buffer_memory_barriers(&release),
            );
            d.end_command_buffer(cmd)
        }
        .map_err(RenderError::vk("vkEndCommandBuffer"))?;
        self.device
            .submit_and_wait(cmd, self.fence, "staging copy")
            .map_err(|(call, e)| RenderError::Vk(call, e))
    }
}

impl Drop for Copier {
    fn drop(&mut self) {
        // SAFETY: every submission was waited for (`copy_from_foreign` waits), so neither the
        // command buffer nor the fence is in use.
        unsafe {
            self.device.raw.destroy_fence(self.fence, None);
            self.device.raw.destroy_command_pool(self.pool, None);
        }
    }
}
