//! `Sample` for multi-planar Y′CbCr: the dma-buf bound to a multi-planar `VkImage` (NV12 →
//! G8_B8R8_2PLANE_420, P010 → G10X6_B10X6R10X6_2PLANE_420, YUV420 → G8_B8_R8_3PLANE_420) and
//! sampled through a sampler Y′CbCr conversion: the texture unit reconstructs chroma and converts
//! to RGB, and the quad shader draws it like any texture. Zero copies, no shader decoding.
//!
//! A conversion fixes matrix, range, chroma siting and filter, and Vulkan requires it in three
//! places that must agree: an immutable sampler in the descriptor set layout (so in the pipeline
//! layout and pipeline), and the image view. weft's Y′CbCr policy (`weft msg import-policy`) can
//! change while a buffer is shown, so each image keeps one view + descriptor set per conversion it
//! was drawn with ([`YcbcrImage::set_for`]), and the renderer caches one pipeline per conversion.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use ash::vk;

use super::descriptor::OwnedSet;
use super::device::Device;
use super::external::{ImportedImage, YcbcrSupport};
use super::pipeline::{DrawPipeline, QuadPush, FRAG_SPV, VERT_SPV};
use super::planar::{YuvMatrix, YuvParams, YuvRange};
use super::RenderError;

/// Everything a sampler Y′CbCr conversion fixes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct YcbcrKey {
    pub format: vk::Format,
    pub model: vk::SamplerYcbcrModelConversion,
    pub range: vk::SamplerYcbcrRange,
    pub chroma: vk::ChromaLocation,
    pub filter: vk::Filter,
}

impl YcbcrKey {
    pub(crate) fn new(format: vk::Format, support: &YcbcrSupport, yuv: YuvParams) -> Self {
        Self {
            format,
            model: match yuv.matrix {
                YuvMatrix::Bt601 => vk::SamplerYcbcrModelConversion::YCBCR_601,
                YuvMatrix::Bt709 => vk::SamplerYcbcrModelConversion::YCBCR_709,
            },
            range: match yuv.range {
                YuvRange::Limited => vk::SamplerYcbcrRange::ITU_NARROW,
                YuvRange::Full => vk::SamplerYcbcrRange::ITU_FULL,
            },
            chroma: support.chroma,
            filter: if support.linear_filter {
                vk::Filter::LINEAR
            } else {
                vk::Filter::NEAREST
            },
        }
    }
}

/// A conversion, its immutable sampler and the quad pipeline built on them. Handles start null and
/// are filled in as made; Drop destroys what exists, pipeline first (it uses the sampler).
pub(crate) struct YcbcrPipeline {
    device: Arc<Device>,
    pub(crate) key: YcbcrKey,
    conversion: vk::SamplerYcbcrConversion,
    sampler: vk::Sampler,
    pub(crate) draw: Option<DrawPipeline>,
}

impl YcbcrPipeline {
    pub(crate) fn new(
        device: &Arc<Device>,
        key: YcbcrKey,
        target_format: vk::Format,
    ) -> Result<Self, RenderError> {
        let d = &device.raw;
        let mut me = Self {
            device: device.clone(),
            key,
            conversion: vk::SamplerYcbcrConversion::null(),
            sampler: vk::Sampler::null(),
            draw: None,
        };
        // Chroma filter = min/mag filter, so no separate-reconstruction-filter feature is needed
        // (VUID-VkSamplerCreateInfo-minFilter-01645).
        let conversion_info = vk::SamplerYcbcrConversionCreateInfo::default()
            .format(key.format)
            .ycbcr_model(key.model)
            .ycbcr_range(key.range)
            .components(vk::ComponentMapping::default())
            .x_chroma_offset(key.chroma)
            .y_chroma_offset(key.chroma)
            .chroma_filter(key.filter)
            .force_explicit_reconstruction(false);
        // SAFETY: samplerYcbcrConversion is enabled (caps only list Y′CbCr formats then); the format
        // supports the chosen siting and filter (`YcbcrSupport`).
        me.conversion = unsafe { d.create_sampler_ycbcr_conversion(&conversion_info, None) }
            .map_err(RenderError::vk("vkCreateSamplerYcbcrConversion"))?;
        let mut with = vk::SamplerYcbcrConversionInfo::default().conversion(me.conversion);
        let sampler_info = vk::SamplerCreateInfo::default()
            .mag_filter(key.filter)
            .min_filter(key.filter)
            .mipmap_mode(vk::SamplerMipmapMode::NEAREST)
            .address_mode_u(vk::SamplerAddressMode::CLAMP_TO_EDGE)
            .address_mode_v(vk::SamplerAddressMode::CLAMP_TO_EDGE)
            .address_mode_w(vk::SamplerAddressMode::CLAMP_TO_EDGE)
            .max_lod(0.0)
            .push_next(&mut with);
        // SAFETY: a conversion sampler: clamp-to-edge, no anisotropy, normalized coordinates, filters
        // equal to the chroma filter (VUID-VkSamplerCreateInfo-addressModeU-01646 and friends).
        me.sampler = unsafe { d.create_sampler(&sampler_info, None) }
            .map_err(RenderError::vk("vkCreateSampler"))?;
        let samplers = [me.sampler];
        let bindings = [vk::DescriptorSetLayoutBinding::default()
            .binding(0)
            .descriptor_type(vk::DescriptorType::COMBINED_IMAGE_SAMPLER)
            .descriptor_count(1)
            .stage_flags(vk::ShaderStageFlags::FRAGMENT)
            .immutable_samplers(&samplers)];
        me.draw = Some(DrawPipeline::new(
            device,
            &bindings,
            std::mem::size_of::<QuadPush>(),
            (VERT_SPV, FRAG_SPV),
            target_format,
        )?);
        Ok(me)
    }

    pub(crate) fn draw(&self) -> &DrawPipeline {
        self.draw.as_ref().expect("built in new")
    }
}

impl Drop for YcbcrPipeline {
    fn drop(&mut self) {
        // The pipeline and set layout use the immutable sampler: they go first.
        self.draw = None;
        // SAFETY: nothing in flight uses them (the renderer waits for every frame); null handles
        // (a failed `new`) are ignored.
        unsafe {
            self.device.raw.destroy_sampler(self.sampler, None);
            self.device
                .raw
                .destroy_sampler_ycbcr_conversion(self.conversion, None);
        }
    }
}

/// One conversion's view of the image and the descriptor set that samples it.
struct Variant {
    pipeline: Arc<YcbcrPipeline>,
    view: vk::ImageView,
    set: OwnedSet,
}

/// A client's multi-planar dma-buf image, drawn through sampler Y′CbCr conversions.
pub struct YcbcrImage {
    pub(crate) image: ImportedImage,
    pub(crate) support: YcbcrSupport,
    variants: Mutex<Vec<Variant>>,
    /// Whether a frame acquired the image before (its layout is no longer UNDEFINED).
    acquired: AtomicBool,
}

impl YcbcrImage {
    pub(crate) fn new(image: ImportedImage, support: YcbcrSupport) -> Self {
        Self {
            image,
            support,
            variants: Mutex::new(Vec::new()),
            acquired: AtomicBool::new(false),
        }
    }

    /// Marks the image acquired; returns whether it had been before.
    pub(crate) fn mark_acquired(&self) -> bool {
        self.acquired.swap(true, Ordering::AcqRel)
    }

    pub(crate) fn key(&self, yuv: YuvParams) -> YcbcrKey {
        YcbcrKey::new(self.image.format, &self.support, yuv)
    }

    /// The descriptor set that samples this image through `pipeline`'s conversion, made on first
    /// use (a view with the conversion, a set of the pipeline's layout).
    pub(crate) fn set_for(
        &self,
        device: &Arc<Device>,
        pipeline: &Arc<YcbcrPipeline>,
    ) -> Result<vk::DescriptorSet, RenderError> {
        let mut variants = self.variants.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(v) = variants.iter().find(|v| Arc::ptr_eq(&v.pipeline, pipeline)) {
            return Ok(v.set.raw);
        }
        let mut with = vk::SamplerYcbcrConversionInfo::default().conversion(pipeline.conversion);
        let view_info = vk::ImageViewCreateInfo::default()
            .image(self.image.raw)
            .view_type(vk::ImageViewType::TYPE_2D)
            .format(self.image.format)
            .subresource_range(super::memory::color_range())
            .push_next(&mut with);
        // SAFETY: the image is bound; the view carries the same conversion as the sampler it will be
        // used with (VUID-VkWriteDescriptorSet-descriptorType-01946).
        let view = unsafe { device.raw.create_image_view(&view_info, None) }
            .map_err(RenderError::vk("vkCreateImageView"))?;
        // A multi-planar image may take several descriptors per combined image sampler; three
        // (one per plane) covers every format here.
        let sizes = [vk::DescriptorPoolSize {
            ty: vk::DescriptorType::COMBINED_IMAGE_SAMPLER,
            descriptor_count: 3,
        }];
        let set = match OwnedSet::new(device, pipeline.draw().set_layout, &sizes) {
            Ok(s) => s,
            Err(e) => {
                // SAFETY: the view is not referenced by anything yet.
                unsafe { device.raw.destroy_image_view(view, None) };
                return Err(e);
            }
        };
        let image_info = [vk::DescriptorImageInfo::default()
            .image_view(view)
            .image_layout(vk::ImageLayout::SHADER_READ_ONLY_OPTIMAL)];
        let write = vk::WriteDescriptorSet::default()
            .dst_set(set.raw)
            .dst_binding(0)
            .descriptor_type(vk::DescriptorType::COMBINED_IMAGE_SAMPLER)
            .image_info(&image_info);
        // SAFETY: the set is new and unused; the sampler is the layout's immutable one.
        unsafe { device.raw.update_descriptor_sets(&[write], &[]) };
        let raw = set.raw;
        variants.push(Variant {
            pipeline: pipeline.clone(),
            view,
            set,
        });
        Ok(raw)
    }

    pub fn width(&self) -> u32 {
        self.image.width
    }

    pub fn height(&self) -> u32 {
        self.image.height
    }
}

impl Drop for YcbcrImage {
    fn drop(&mut self) {
        let variants = std::mem::take(self.variants.get_mut().unwrap_or_else(|p| p.into_inner()));
        for v in variants {
            // SAFETY: frames are synchronous: no pending command buffer uses the view or its set.
            unsafe { v.pipeline.device.raw.destroy_image_view(v.view, None) };
            drop(v.set);
        }
    }
}
