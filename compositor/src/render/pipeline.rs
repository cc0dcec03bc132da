//! Draw pipelines: [`DrawPipeline`] (one quad, one descriptor set, push constants, premultiplied
//! blending), and on it the quad pipeline, which draws a textured or solid rectangle (see
//! `shaders/quad.{vert,frag}`); `planar.rs` builds the other one.

use std::sync::Arc;

use ash::vk;

use super::device::Device;
use super::RenderError;

/// SPIR-V built from `shaders/*.{vert,frag}` by `shaders/build.sh`; `tests/shaders.rs` keeps them in
/// step with the GLSL sources.
const VERT_SPV: &[u8] = include_bytes!("../../../shaders/spv/quad.vert.spv");
const FRAG_SPV: &[u8] = include_bytes!("../../../shaders/spv/quad.frag.spv");

/// Push-constant block, laid out as the GLSL `Quad` block (std430 push-constant layout).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct QuadPush {
    pub dst: [f32; 4],
    pub src: [f32; 4],
    pub color: [f32; 4],
    pub alpha: f32,
    pub mode: i32,
    pub opaque: i32,
    /// 1: the source's x runs along the quad's y ([`super::draw::Orient::transpose`]).
    pub transpose: i32,
}

/// A push-constant block, handed to vkCmdPushConstants as bytes.
///
/// # Safety
/// Implementors are `repr(C)` and made only of 4-byte scalars with no padding holes, so every byte
/// of the value is initialised.
pub(crate) unsafe trait PushConstants: Sized {
    fn bytes(&self) -> &[u8] {
        // SAFETY: by the trait's contract the whole value is initialised plain data.
        unsafe {
            std::slice::from_raw_parts(
                (self as *const Self).cast::<u8>(),
                std::mem::size_of::<Self>(),
            )
        }
    }
}

// SAFETY: repr(C), 4-byte scalars only, no padding (`transpose` fills the last 16-byte row).
unsafe impl PushConstants for QuadPush {}

/// A graphics pipeline that draws one quad, with its descriptor set layout and its pipeline layout
/// (one set, one push-constant block for both stages). Handles start null and are filled in as they
/// are made, so a failure half-way destroys what exists (destroying a null handle is a no-op).
pub(crate) struct DrawPipeline {
    device: Arc<Device>,
    pub(crate) set_layout: vk::DescriptorSetLayout,
    pub(crate) layout: vk::PipelineLayout,
    pub(crate) pipeline: vk::Pipeline,
}

impl DrawPipeline {
    pub(crate) fn new(
        device: &Arc<Device>,
        bindings: &[vk::DescriptorSetLayoutBinding<'_>],
        push_size: usize,
        (vert_spv, frag_spv): (&[u8], &[u8]),
        target_format: vk::Format,
    ) -> Result<Self, RenderError> {
        let d = &device.raw;
        let mut me = Self {
            device: device.clone(),
            set_layout: vk::DescriptorSetLayout::null(),
            layout: vk::PipelineLayout::null(),
            pipeline: vk::Pipeline::null(),
        };
        let set_info = vk::DescriptorSetLayoutCreateInfo::default().bindings(bindings);
        // SAFETY: valid create info on a live device.
        me.set_layout = unsafe { d.create_descriptor_set_layout(&set_info, None) }
            .map_err(RenderError::vk("vkCreateDescriptorSetLayout"))?;
        let ranges = [vk::PushConstantRange::default()
            .stage_flags(vk::ShaderStageFlags::VERTEX | vk::ShaderStageFlags::FRAGMENT)
            .offset(0)
            .size(push_size as u32)];
        let set_layouts = [me.set_layout];
        let layout_info = vk::PipelineLayoutCreateInfo::default()
            .set_layouts(&set_layouts)
            .push_constant_ranges(&ranges);
        // SAFETY: valid create info; our push blocks (64 and 96 bytes) fit the guaranteed 128.
        me.layout = unsafe { d.create_pipeline_layout(&layout_info, None) }
            .map_err(RenderError::vk("vkCreatePipelineLayout"))?;
        me.pipeline = graphics_pipeline(device, me.layout, vert_spv, frag_spv, target_format)?;
        Ok(me)
    }
}

impl Drop for DrawPipeline {
    fn drop(&mut self) {
        // SAFETY: the renderer owning this pipeline waits for its last frame before dropping it;
        // null handles (a failed `new`) are ignored by the destroy calls.
        unsafe {
            let d = &self.device.raw;
            d.destroy_pipeline(self.pipeline, None);
            d.destroy_pipeline_layout(self.layout, None);
            d.destroy_descriptor_set_layout(self.set_layout, None);
        }
    }
}

pub struct QuadPipeline {
    device: Arc<Device>,
    pub(crate) draw: DrawPipeline,
    pub(crate) sampler: vk::Sampler,
    /// For images whose format (or modifier tiling) cannot be filtered linearly.
    pub(crate) nearest_sampler: vk::Sampler,
}

pub(crate) fn shader_module(device: &Device, spv: &[u8]) -> Result<vk::ShaderModule, RenderError> {
    let words = ash::util::read_spv(&mut std::io::Cursor::new(spv))
        .map_err(|e| RenderError::Shader(e.to_string()))?;
    let info = vk::ShaderModuleCreateInfo::default().code(&words);
    // SAFETY: `words` is valid SPIR-V produced by glslang from our sources.
    unsafe { device.raw.create_shader_module(&info, None) }
        .map_err(RenderError::vk("vkCreateShaderModule"))
}

impl QuadPipeline {
    pub fn new(device: &Arc<Device>, target_format: vk::Format) -> Result<Self, RenderError> {
        let bindings = [vk::DescriptorSetLayoutBinding::default()
            .binding(0)
            .descriptor_type(vk::DescriptorType::COMBINED_IMAGE_SAMPLER)
            .descriptor_count(1)
            .stage_flags(vk::ShaderStageFlags::FRAGMENT)];
        let draw = DrawPipeline::new(
            device,
            &bindings,
            std::mem::size_of::<QuadPush>(),
            (VERT_SPV, FRAG_SPV),
            target_format,
        )?;
        let mut me = Self {
            device: device.clone(),
            draw,
            sampler: vk::Sampler::null(),
            nearest_sampler: vk::Sampler::null(),
        };
        let sampler_info = vk::SamplerCreateInfo::default()
            .mag_filter(vk::Filter::LINEAR)
            .min_filter(vk::Filter::LINEAR)
            .mipmap_mode(vk::SamplerMipmapMode::NEAREST)
            .address_mode_u(vk::SamplerAddressMode::CLAMP_TO_EDGE)
            .address_mode_v(vk::SamplerAddressMode::CLAMP_TO_EDGE)
            .address_mode_w(vk::SamplerAddressMode::CLAMP_TO_EDGE)
            .max_lod(0.0);
        // SAFETY: valid create info on a live device.
        me.sampler = unsafe { device.raw.create_sampler(&sampler_info, None) }
            .map_err(RenderError::vk("vkCreateSampler"))?;
        let nearest_info = sampler_info
            .mag_filter(vk::Filter::NEAREST)
            .min_filter(vk::Filter::NEAREST);
        // SAFETY: valid create info on a live device.
        me.nearest_sampler = unsafe { device.raw.create_sampler(&nearest_info, None) }
            .map_err(RenderError::vk("vkCreateSampler"))?;
        Ok(me)
    }
}

/// A pipeline drawing one quad (triangle strip of 4 vertices, no vertex buffer) with `vert`/`frag`,
/// premultiplied-alpha blending into `target_format`, dynamic viewport and scissor.
fn graphics_pipeline(
    device: &Device,
    layout: vk::PipelineLayout,
    vert_spv: &[u8],
    frag_spv: &[u8],
    target_format: vk::Format,
) -> Result<vk::Pipeline, RenderError> {
    let d = &device.raw;
    let vert = shader_module(device, vert_spv)?;
    let frag = match shader_module(device, frag_spv) {
        Ok(f) => f,
        Err(e) => {
            // SAFETY: the module is not referenced by anything yet.
            unsafe { d.destroy_shader_module(vert, None) };
            return Err(e);
        }
    };
    let stages = [
        vk::PipelineShaderStageCreateInfo::default()
            .stage(vk::ShaderStageFlags::VERTEX)
            .module(vert)
            .name(c"main"),
        vk::PipelineShaderStageCreateInfo::default()
            .stage(vk::ShaderStageFlags::FRAGMENT)
            .module(frag)
            .name(c"main"),
    ];
    let vertex_input = vk::PipelineVertexInputStateCreateInfo::default();
    let input_assembly = vk::PipelineInputAssemblyStateCreateInfo::default()
        .topology(vk::PrimitiveTopology::TRIANGLE_STRIP);
    let viewport_state = vk::PipelineViewportStateCreateInfo::default()
        .viewport_count(1)
        .scissor_count(1);
    let raster = vk::PipelineRasterizationStateCreateInfo::default()
        .polygon_mode(vk::PolygonMode::FILL)
        .cull_mode(vk::CullModeFlags::NONE)
        .line_width(1.0);
    let multisample = vk::PipelineMultisampleStateCreateInfo::default()
        .rasterization_samples(vk::SampleCountFlags::TYPE_1);
    // Premultiplied alpha: out = src + dst * (1 - src.a), for colour and alpha alike.
    let blend_attachments = [vk::PipelineColorBlendAttachmentState::default()
        .blend_enable(true)
        .src_color_blend_factor(vk::BlendFactor::ONE)
        .dst_color_blend_factor(vk::BlendFactor::ONE_MINUS_SRC_ALPHA)
        .color_blend_op(vk::BlendOp::ADD)
        .src_alpha_blend_factor(vk::BlendFactor::ONE)
        .dst_alpha_blend_factor(vk::BlendFactor::ONE_MINUS_SRC_ALPHA)
        .alpha_blend_op(vk::BlendOp::ADD)
        .color_write_mask(vk::ColorComponentFlags::RGBA)];
    let blend = vk::PipelineColorBlendStateCreateInfo::default().attachments(&blend_attachments);
    let dynamic_states = [vk::DynamicState::VIEWPORT, vk::DynamicState::SCISSOR];
    let dynamic = vk::PipelineDynamicStateCreateInfo::default().dynamic_states(&dynamic_states);
    let formats = [target_format];
    let mut rendering =
        vk::PipelineRenderingCreateInfo::default().color_attachment_formats(&formats);
    let info = vk::GraphicsPipelineCreateInfo::default()
        .stages(&stages)
        .vertex_input_state(&vertex_input)
        .input_assembly_state(&input_assembly)
        .viewport_state(&viewport_state)
        .rasterization_state(&raster)
        .multisample_state(&multisample)
        .color_blend_state(&blend)
        .dynamic_state(&dynamic)
        .layout(layout)
        .push_next(&mut rendering);
    // SAFETY: every referenced state struct lives across the call; dynamic rendering is enabled on
    // the device (VUID-VkGraphicsPipelineCreateInfo-dynamicRendering-06576).
    let result = unsafe { d.create_graphics_pipelines(vk::PipelineCache::null(), &[info], None) };
    // SAFETY: modules are no longer needed once the pipeline is created (or creation failed).
    unsafe {
        d.destroy_shader_module(vert, None);
        d.destroy_shader_module(frag, None);
    }
    // One create info, so one pipeline back.
    Ok(result
        .map_err(|(_, e)| RenderError::Vk("vkCreateGraphicsPipelines", e))?
        .first()
        .copied()
        .unwrap_or_default())
}

impl Drop for QuadPipeline {
    fn drop(&mut self) {
        // SAFETY: the renderer owning this pipeline waits for its last frame before dropping it;
        // null samplers (a failed `new`) are ignored.
        unsafe {
            self.device.raw.destroy_sampler(self.sampler, None);
            self.device.raw.destroy_sampler(self.nearest_sampler, None);
        }
    }
}
