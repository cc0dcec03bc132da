//! RAII wrappers for buffers and images with gpu-allocator memory.
//!
//! gpu-allocator is used rather than our own sub-allocator: it is well kept, sub-allocates the
//! thousands of small textures a desktop has from a few large blocks, and frees on drop through us.
//! Imported (dma-buf) memory does not go through it: that memory is dedicated by definition.

use std::sync::Arc;

use ash::vk;
use gpu_allocator::vulkan::{Allocation, AllocationCreateDesc, AllocationScheme};
use gpu_allocator::MemoryLocation;

use super::device::Device;
use super::RenderError;

/// A buffer with host-visible, persistently mapped memory (staging uploads and readbacks).
pub struct HostBuffer {
    device: Arc<Device>,
    pub(crate) raw: vk::Buffer,
    allocation: Option<Allocation>,
    pub(crate) size: u64,
    pub(crate) usage: vk::BufferUsageFlags,
}

impl HostBuffer {
    pub fn new(
        device: &Arc<Device>,
        size: u64,
        usage: vk::BufferUsageFlags,
        location: MemoryLocation,
    ) -> Result<Self, RenderError> {
        let info = vk::BufferCreateInfo::default()
            .size(size.max(4))
            .usage(usage)
            .sharing_mode(vk::SharingMode::EXCLUSIVE);
        // SAFETY: valid create info with non-zero size (VUID-VkBufferCreateInfo-size-00912).
        let raw = unsafe { device.raw.create_buffer(&info, None) }
            .map_err(RenderError::vk("vkCreateBuffer"))?;
        // SAFETY: `raw` is a live buffer of this device.
        let requirements = unsafe { device.raw.get_buffer_memory_requirements(raw) };
        let allocation = device
            .allocator()
            .allocate(&AllocationCreateDesc {
                name: "weft host buffer",
                requirements,
                location,
                linear: true,
                allocation_scheme: AllocationScheme::GpuAllocatorManaged,
            })
            .map_err(|e| {
                // SAFETY: the buffer has no memory bound and is not in use.
                unsafe { device.raw.destroy_buffer(raw, None) };
                RenderError::Allocation(e.to_string())
            })?;
        // SAFETY: the allocation satisfies `requirements` of this buffer and is bound once.
        unsafe {
            device
                .raw
                .bind_buffer_memory(raw, allocation.memory(), allocation.offset())
        }
        .map_err(RenderError::vk("vkBindBufferMemory"))?;
        Ok(Self {
            device: device.clone(),
            raw,
            allocation: Some(allocation),
            size,
            usage,
        })
    }

    /// The mapped bytes. Callers must not touch them while the GPU uses the buffer: weft waits for
    /// each submission's fence before reusing its staging or readback buffer.
    pub fn bytes_mut(&mut self) -> Result<&mut [u8], RenderError> {
        let size = self.size as usize;
        self.allocation
            .as_mut()
            .and_then(|a| a.mapped_slice_mut())
            .and_then(|s| s.get_mut(..size))
            .ok_or_else(|| RenderError::Allocation("host buffer is not mapped".into()))
    }
}

impl Drop for HostBuffer {
    fn drop(&mut self) {
        // SAFETY: the buffer is idle (every submission that used it was waited for) and belongs to
        // this device; its allocation is freed once, after the buffer is gone.
        unsafe { self.device.raw.destroy_buffer(self.raw, None) };
        if let Some(a) = self.allocation.take() {
            let _ = self.device.allocator().free(a);
        }
    }
}

/// A 2D image with device-local memory and one full view.
pub struct Image {
    device: Arc<Device>,
    pub(crate) raw: vk::Image,
    pub(crate) view: vk::ImageView,
    allocation: Option<Allocation>,
    pub(crate) format: vk::Format,
    pub(crate) width: u32,
    pub(crate) height: u32,
}

impl Image {
    pub fn new(
        device: &Arc<Device>,
        width: u32,
        height: u32,
        format: vk::Format,
        usage: vk::ImageUsageFlags,
    ) -> Result<Self, RenderError> {
        if width == 0 || height == 0 {
            return Err(RenderError::InvalidSize(width, height));
        }
        let info = vk::ImageCreateInfo::default()
            .image_type(vk::ImageType::TYPE_2D)
            .format(format)
            .extent(vk::Extent3D {
                width,
                height,
                depth: 1,
            })
            .mip_levels(1)
            .array_layers(1)
            .samples(vk::SampleCountFlags::TYPE_1)
            .tiling(vk::ImageTiling::OPTIMAL)
            .usage(usage)
            .sharing_mode(vk::SharingMode::EXCLUSIVE)
            .initial_layout(vk::ImageLayout::UNDEFINED);
        // SAFETY: valid create info; extent checked non-zero above.
        let raw = unsafe { device.raw.create_image(&info, None) }
            .map_err(RenderError::vk("vkCreateImage"))?;
        // SAFETY: `raw` is a live image of this device.
        let requirements = unsafe { device.raw.get_image_memory_requirements(raw) };
        let allocation = match device.allocator().allocate(&AllocationCreateDesc {
            name: "weft image",
            requirements,
            location: MemoryLocation::GpuOnly,
            linear: false,
            allocation_scheme: AllocationScheme::GpuAllocatorManaged,
        }) {
            Ok(a) => a,
            Err(e) => {
                // SAFETY: unbound image, never used.
                unsafe { device.raw.destroy_image(raw, None) };
                return Err(RenderError::Allocation(e.to_string()));
            }
        };
        // SAFETY: allocation satisfies the image's requirements; bound once.
        unsafe {
            device
                .raw
                .bind_image_memory(raw, allocation.memory(), allocation.offset())
        }
        .map_err(RenderError::vk("vkBindImageMemory"))?;
        let view_info = vk::ImageViewCreateInfo::default()
            .image(raw)
            .view_type(vk::ImageViewType::TYPE_2D)
            .format(format)
            .subresource_range(color_range());
        // SAFETY: the image is bound to memory and the view matches its format and single subresource.
        let view = unsafe { device.raw.create_image_view(&view_info, None) }
            .map_err(RenderError::vk("vkCreateImageView"))?;
        Ok(Self {
            device: device.clone(),
            raw,
            view,
            allocation: Some(allocation),
            format,
            width,
            height,
        })
    }
}

impl Drop for Image {
    fn drop(&mut self) {
        // SAFETY: no submission using this image is pending (the renderer waits for each frame); view
        // before image, memory last.
        unsafe {
            self.device.raw.destroy_image_view(self.view, None);
            self.device.raw.destroy_image(self.raw, None);
        }
        if let Some(a) = self.allocation.take() {
            let _ = self.device.allocator().free(a);
        }
    }
}

/// A layout transition of a whole colour image (one queue family), from what `src` did to what
/// `dst` will do.
pub fn layout_barrier(
    image: vk::Image,
    old: vk::ImageLayout,
    new: vk::ImageLayout,
    src: (vk::PipelineStageFlags2, vk::AccessFlags2),
    dst: (vk::PipelineStageFlags2, vk::AccessFlags2),
) -> vk::ImageMemoryBarrier2<'static> {
    vk::ImageMemoryBarrier2::default()
        .src_stage_mask(src.0)
        .src_access_mask(src.1)
        .dst_stage_mask(dst.0)
        .dst_access_mask(dst.1)
        .old_layout(old)
        .new_layout(new)
        .src_queue_family_index(vk::QUEUE_FAMILY_IGNORED)
        .dst_queue_family_index(vk::QUEUE_FAMILY_IGNORED)
        .image(image)
        .subresource_range(color_range())
}

/// Mip 0, layer 0 of a colour image: what every copy of weft's addresses.
pub fn color_layers() -> vk::ImageSubresourceLayers {
    vk::ImageSubresourceLayers {
        aspect_mask: vk::ImageAspectFlags::COLOR,
        mip_level: 0,
        base_array_layer: 0,
        layer_count: 1,
    }
}

pub fn color_range() -> vk::ImageSubresourceRange {
    vk::ImageSubresourceRange {
        aspect_mask: vk::ImageAspectFlags::COLOR,
        base_mip_level: 0,
        level_count: 1,
        base_array_layer: 0,
        layer_count: 1,
    }
}
