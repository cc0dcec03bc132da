//! Client memory between frames belongs to its producer: a dma-buf is written outside this Vulkan
//! device (a decoder, another GPU, the CPU) between two frames that read it. The Vulkan answer is a
//! queue family ownership transfer with VK_QUEUE_FAMILY_FOREIGN_EXT: every frame that reads a
//! client's dma-buf acquires it from the foreign family before drawing and releases it back after,
//! so caches are made coherent with what the producer wrote since the last frame (the same
//! discipline as wlroots' Vulkan renderer). Memory weft owns (its textures, the `StageOnCpu`
//! staging buffer) never leaves the device and needs none of this.
//!
//! Images: the first acquire starts from UNDEFINED (the image was created in it; Mesa keeps the
//! bytes of linear and modifier images), later ones from GENERAL, the layout each release leaves.
//! Without VK_EXT_queue_family_foreign the families are IGNORED and only the layouts change.

use std::sync::Arc;

use ash::vk;

use super::memory::color_range;
use super::renderer::{DrawItem, Fill};
use super::texture::Texture;

/// The client memory one frame reads: each image and buffer once.
#[derive(Default)]
pub(crate) struct ForeignUse {
    images: Vec<Arc<Texture>>,
    buffers: Vec<vk::Buffer>,
}

impl ForeignUse {
    pub(crate) fn of(items: &[DrawItem]) -> Self {
        let mut me = Self::default();
        for item in items {
            match &item.fill {
                Fill::Texture { texture, .. }
                    if texture.is_imported()
                        && !me.images.iter().any(|t| Arc::ptr_eq(t, texture)) =>
                {
                    me.images.push(texture.clone());
                }
                Fill::Planar { source, .. } => {
                    for b in source.foreign_buffers() {
                        if !me.buffers.contains(&b) {
                            me.buffers.push(b);
                        }
                    }
                }
                _ => {}
            }
        }
        me
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.images.is_empty() && self.buffers.is_empty()
    }

    /// Records the acquire barriers (before the frame's rendering). Marks each image initialised,
    /// which is what lets the frame draw it.
    pub(crate) fn acquire(&self, d: &ash::Device, cmd: vk::CommandBuffer, families: (u32, u32)) {
        let (foreign, ours) = families;
        let images: Vec<_> = self
            .images
            .iter()
            .map(|t| {
                let old = if t.mark_initialized() {
                    vk::ImageLayout::GENERAL
                } else {
                    vk::ImageLayout::UNDEFINED
                };
                vk::ImageMemoryBarrier2::default()
                    .src_stage_mask(vk::PipelineStageFlags2::NONE)
                    .src_access_mask(vk::AccessFlags2::NONE)
                    .dst_stage_mask(vk::PipelineStageFlags2::FRAGMENT_SHADER)
                    .dst_access_mask(vk::AccessFlags2::SHADER_SAMPLED_READ)
                    .old_layout(old)
                    .new_layout(vk::ImageLayout::SHADER_READ_ONLY_OPTIMAL)
                    .src_queue_family_index(foreign)
                    .dst_queue_family_index(ours)
                    .image(t.raw_image())
                    .subresource_range(color_range())
            })
            .collect();
        let buffers: Vec<_> = self
            .buffers
            .iter()
            .map(|&b| {
                vk::BufferMemoryBarrier2::default()
                    .src_stage_mask(vk::PipelineStageFlags2::NONE)
                    .src_access_mask(vk::AccessFlags2::NONE)
                    .dst_stage_mask(vk::PipelineStageFlags2::FRAGMENT_SHADER)
                    .dst_access_mask(vk::AccessFlags2::SHADER_STORAGE_READ)
                    .src_queue_family_index(foreign)
                    .dst_queue_family_index(ours)
                    .buffer(b)
                    .offset(0)
                    .size(vk::WHOLE_SIZE)
            })
            .collect();
        // SAFETY: `cmd` is recording outside a render pass; synchronization2 is enabled; the
        // foreign family is only named when VK_EXT_queue_family_foreign is enabled (`families`).
        unsafe {
            d.cmd_pipeline_barrier2(
                cmd,
                &vk::DependencyInfo::default()
                    .image_memory_barriers(&images)
                    .buffer_memory_barriers(&buffers),
            )
        };
    }

    /// Records the release barriers (after the frame's rendering): back to the producer.
    pub(crate) fn release(&self, d: &ash::Device, cmd: vk::CommandBuffer, families: (u32, u32)) {
        let (foreign, ours) = families;
        let images: Vec<_> = self
            .images
            .iter()
            .map(|t| {
                vk::ImageMemoryBarrier2::default()
                    .src_stage_mask(vk::PipelineStageFlags2::FRAGMENT_SHADER)
                    .src_access_mask(vk::AccessFlags2::SHADER_SAMPLED_READ)
                    .dst_stage_mask(vk::PipelineStageFlags2::NONE)
                    .dst_access_mask(vk::AccessFlags2::NONE)
                    .old_layout(vk::ImageLayout::SHADER_READ_ONLY_OPTIMAL)
                    .new_layout(vk::ImageLayout::GENERAL)
                    .src_queue_family_index(ours)
                    .dst_queue_family_index(foreign)
                    .image(t.raw_image())
                    .subresource_range(color_range())
            })
            .collect();
        let buffers: Vec<_> = self
            .buffers
            .iter()
            .map(|&b| {
                vk::BufferMemoryBarrier2::default()
                    .src_stage_mask(vk::PipelineStageFlags2::FRAGMENT_SHADER)
                    .src_access_mask(vk::AccessFlags2::SHADER_STORAGE_READ)
                    .dst_stage_mask(vk::PipelineStageFlags2::NONE)
                    .dst_access_mask(vk::AccessFlags2::NONE)
                    .src_queue_family_index(ours)
                    .dst_queue_family_index(foreign)
                    .buffer(b)
                    .offset(0)
                    .size(vk::WHOLE_SIZE)
            })
            .collect();
        // SAFETY: as in `acquire`; the rendering that read the memory was recorded before this.
        unsafe {
            d.cmd_pipeline_barrier2(
                cmd,
                &vk::DependencyInfo::default()
                    .image_memory_barriers(&images)
                    .buffer_memory_barriers(&buffers),
            )
        };
    }
}
