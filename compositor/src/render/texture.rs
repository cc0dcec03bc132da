//! Sampled textures: a device-local image plus the descriptor set that binds it to the quad pipeline.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use ash::vk;

use super::descriptor::OwnedSet;
use super::device::Device;
use super::external::ImportedImage;
use super::memory::Image;
use super::pipeline::QuadPipeline;
use super::RenderError;

/// The image behind a texture: weft's own (uploads) or a client's dma-buf (rung `Sample`).
pub(crate) enum TextureImage {
    Owned(Image),
    Imported(ImportedImage),
}

/// A texture the quad pipeline can sample. Shared (`Arc`) between the surface that owns it and any
/// frame or pending upload that references it, so it cannot die under an in-flight use.
pub struct Texture {
    pub(crate) image: TextureImage,
    descriptor: OwnedSet,
    /// Whether the image has ever been written (its layout is no longer UNDEFINED).
    pub(crate) initialized: AtomicBool,
}

impl Texture {
    pub(crate) fn new(
        device: &Arc<Device>,
        pipeline: &QuadPipeline,
        width: u32,
        height: u32,
        format: vk::Format,
    ) -> Result<Arc<Self>, RenderError> {
        let image = Image::new(
            device,
            width,
            height,
            format,
            // TRANSFER_SRC: an unscaled opaque texture is copied into the target, not drawn.
            vk::ImageUsageFlags::SAMPLED
                | vk::ImageUsageFlags::TRANSFER_DST
                | vk::ImageUsageFlags::TRANSFER_SRC,
        )?;
        Self::with_image(
            device,
            pipeline,
            TextureImage::Owned(image),
            pipeline.sampler,
        )
    }

    /// A texture sampling a client's dma-buf image. Its first use transitions it from UNDEFINED
    /// (see `Renderer::adopt_imported`). `linear_filter`: whether the image's format and modifier
    /// support linear filtering (VUID-vkCmdDraw-magFilter-04553); if not, it is sampled NEAREST.
    pub(crate) fn imported(
        device: &Arc<Device>,
        pipeline: &QuadPipeline,
        image: ImportedImage,
        linear_filter: bool,
    ) -> Result<Arc<Self>, RenderError> {
        let sampler = if linear_filter {
            pipeline.sampler
        } else {
            pipeline.nearest_sampler
        };
        Self::with_image(device, pipeline, TextureImage::Imported(image), sampler)
    }

    fn with_image(
        device: &Arc<Device>,
        pipeline: &QuadPipeline,
        image: TextureImage,
        sampler: vk::Sampler,
    ) -> Result<Arc<Self>, RenderError> {
        let sizes = [vk::DescriptorPoolSize {
            ty: vk::DescriptorType::COMBINED_IMAGE_SAMPLER,
            descriptor_count: 1,
        }];
        let descriptor = OwnedSet::new(device, pipeline.draw.set_layout, &sizes)?;
        let set = descriptor.raw;
        let image_info = [vk::DescriptorImageInfo::default()
            .sampler(sampler)
            .image_view(image.view())
            .image_layout(vk::ImageLayout::SHADER_READ_ONLY_OPTIMAL)];
        let write = vk::WriteDescriptorSet::default()
            .dst_set(set)
            .dst_binding(0)
            .descriptor_type(vk::DescriptorType::COMBINED_IMAGE_SAMPLER)
            .image_info(&image_info);
        // SAFETY: the set is not in use by any command buffer yet.
        unsafe { device.raw.update_descriptor_sets(&[write], &[]) };
        Ok(Arc::new(Self {
            image,
            descriptor,
            initialized: AtomicBool::new(false),
        }))
    }

    pub(crate) fn set(&self) -> vk::DescriptorSet {
        self.descriptor.raw
    }

    pub fn width(&self) -> u32 {
        self.image.extent().0
    }

    pub fn height(&self) -> u32 {
        self.image.extent().1
    }

    pub fn format(&self) -> vk::Format {
        match &self.image {
            TextureImage::Owned(i) => i.format,
            TextureImage::Imported(i) => i.format,
        }
    }

    pub(crate) fn raw_image(&self) -> vk::Image {
        match &self.image {
            TextureImage::Owned(i) => i.raw,
            TextureImage::Imported(i) => i.raw,
        }
    }

    /// Whether the texture samples a client's dma-buf in place.
    pub fn is_imported(&self) -> bool {
        matches!(self.image, TextureImage::Imported(_))
    }

    /// Marks the texture as written; returns whether it had been written before.
    pub(crate) fn mark_initialized(&self) -> bool {
        self.initialized.swap(true, Ordering::AcqRel)
    }

    pub(crate) fn is_initialized(&self) -> bool {
        self.initialized.load(Ordering::Acquire)
    }
}

impl TextureImage {
    fn view(&self) -> vk::ImageView {
        match self {
            Self::Owned(i) => i.view,
            Self::Imported(i) => i.view,
        }
    }

    fn extent(&self) -> (u32, u32) {
        match self {
            Self::Owned(i) => (i.width, i.height),
            Self::Imported(i) => (i.width, i.height),
        }
    }
}
