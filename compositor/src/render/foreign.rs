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

use super::draw::{DrawItem, Fill};
use super::memory::color_range;
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
        let producer = Side::idle(foreign);
        let reader = Side::reading(ours);
        self.transfer(d, cmd, (producer, reader), |t| {
            let old = if t.mark_initialized() {
                vk::ImageLayout::GENERAL
            } else {
                vk::ImageLayout::UNDEFINED
            };
            (old, vk::ImageLayout::SHADER_READ_ONLY_OPTIMAL)
        });
    }

    /// Records the release barriers (after the frame's rendering): back to the producer.
    pub(crate) fn release(&self, d: &ash::Device, cmd: vk::CommandBuffer, families: (u32, u32)) {
        let (foreign, ours) = families;
        self.transfer(d, cmd, (Side::reading(ours), Side::idle(foreign)), |_| {
            (
                vk::ImageLayout::SHADER_READ_ONLY_OPTIMAL,
                vk::ImageLayout::GENERAL,
            )
        });
    }

    /// One barrier per image and buffer from `from` to `to`; `layouts` gives each image's
    /// (old, new) layout.
    fn transfer(
        &self,
        d: &ash::Device,
        cmd: vk::CommandBuffer,
        (from, to): (Side, Side),
        layouts: impl Fn(&Texture) -> (vk::ImageLayout, vk::ImageLayout),
    ) {
        let images: Vec<_> = self
            .images
            .iter()
            .map(|t| {
                let (old, new) = layouts(t);
                vk::ImageMemoryBarrier2::default()
                    .src_stage_mask(from.stage)
                    .src_access_mask(from.image_access)
                    .dst_stage_mask(to.stage)
                    .dst_access_mask(to.image_access)
                    .old_layout(old)
                    .new_layout(new)
                    .src_queue_family_index(from.family)
                    .dst_queue_family_index(to.family)
                    .image(t.raw_image())
                    .subresource_range(color_range())
            })
            .collect();
        let buffers: Vec<_> = self
            .buffers
            .iter()
            .map(|&b| {
                vk::BufferMemoryBarrier2::default()
                    .src_stage_mask(from.stage)
                    .src_access_mask(from.buffer_access)
                    .dst_stage_mask(to.stage)
                    .dst_access_mask(to.buffer_access)
                    .src_queue_family_index(from.family)
                    .dst_queue_family_index(to.family)
                    .buffer(b)
                    .offset(0)
                    .size(vk::WHOLE_SIZE)
            })
            .collect();
        // SAFETY: `cmd` is recording outside a render pass; synchronization2 is enabled; the
        // foreign family is only named when VK_EXT_queue_family_foreign is enabled (`families`);
        // a release is recorded after the rendering that read the memory.
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

/// One side of an ownership transfer: the queue family and what it does with the memory.
#[derive(Clone, Copy)]
struct Side {
    family: u32,
    stage: vk::PipelineStageFlags2,
    image_access: vk::AccessFlags2,
    buffer_access: vk::AccessFlags2,
}

impl Side {
    /// The producer's side: nothing of ours to wait for or to make visible.
    fn idle(family: u32) -> Self {
        Self {
            family,
            stage: vk::PipelineStageFlags2::NONE,
            image_access: vk::AccessFlags2::NONE,
            buffer_access: vk::AccessFlags2::NONE,
        }
    }

    /// The frame's side: the fragment shader samples images and reads storage buffers; a cover
    /// copies buffer rows into the target.
    fn reading(family: u32) -> Self {
        Self {
            family,
            stage: vk::PipelineStageFlags2::FRAGMENT_SHADER | vk::PipelineStageFlags2::COPY,
            image_access: vk::AccessFlags2::SHADER_SAMPLED_READ,
            buffer_access: vk::AccessFlags2::SHADER_STORAGE_READ | vk::AccessFlags2::TRANSFER_READ,
        }
    }
}
