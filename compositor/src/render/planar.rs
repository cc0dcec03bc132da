//! Planar sources: buffers whose bytes the fragment shader reads itself (`shaders/planar.frag`),
//! with the client's plane offsets and strides. Used by the `SampleLinear` rung (the planes are the
//! client's dma-buf memory, imported as storage buffers: zero copies) and by `StageOnCpu` (the planes
//! are weft's own host-visible copy).
//!
//! Invariant: a [`PlanarSource`] holds an `Arc` to every buffer its descriptor set points at, so
//! the memory outlives any frame that draws it.

use std::sync::Arc;

use ash::vk;

use super::descriptor::OwnedSet;
use super::device::Device;
use super::pipeline::{DrawPipeline, PushConstants};
use super::RenderError;

const VERT_SPV: &[u8] = include_bytes!("../../../shaders/spv/planar.vert.spv");
const FRAG_SPV: &[u8] = include_bytes!("../../../shaders/spv/planar.frag.spv");

/// How the shader decodes a format (the `FMT_*` constants of planar.frag).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i32)]
pub enum PlanarFormat {
    Xrgb8888 = 0,
    Xbgr8888 = 1,
    Xrgb2101010 = 2,
    Nv12 = 3,
    P010 = 4,
    Yuv420 = 5,
    Yuyv = 6,
    Yvyu = 7,
    Uyvy = 8,
    Vyuy = 9,
    Nv21 = 10,
    Nv16 = 11,
    Nv61 = 12,
    Nv24 = 13,
    Nv42 = 14,
    Yvu420 = 15,
    Yuv422 = 16,
    Yuv444 = 17,
}

impl PlanarFormat {
    /// The shader decoding of a DRM fourcc, and whether its alpha channel is padding.
    pub fn from_fourcc(fourcc: u32) -> Option<(Self, bool)> {
        use weft_protocols::drm_format as f;
        Some(match fourcc {
            f::ARGB8888 => (Self::Xrgb8888, false),
            f::XRGB8888 => (Self::Xrgb8888, true),
            f::ABGR8888 => (Self::Xbgr8888, false),
            f::XBGR8888 => (Self::Xbgr8888, true),
            f::ARGB2101010 => (Self::Xrgb2101010, false),
            f::XRGB2101010 => (Self::Xrgb2101010, true),
            f::NV12 => (Self::Nv12, true),
            f::P010 => (Self::P010, true),
            f::YUV420 => (Self::Yuv420, true),
            f::YUYV => (Self::Yuyv, true),
            f::YVYU => (Self::Yvyu, true),
            f::UYVY => (Self::Uyvy, true),
            f::VYUY => (Self::Vyuy, true),
            f::NV21 => (Self::Nv21, true),
            f::NV16 => (Self::Nv16, true),
            f::NV61 => (Self::Nv61, true),
            f::NV24 => (Self::Nv24, true),
            f::NV42 => (Self::Nv42, true),
            f::YVU420 => (Self::Yvu420, true),
            f::YUV422 => (Self::Yuv422, true),
            f::YUV444 => (Self::Yuv444, true),
            _ => return None,
        })
    }

    /// Vertical subsampling of plane `index`: 2 for the chroma planes of 4:2:0 formats.
    pub fn vsub(self, index: usize) -> u32 {
        match (self, index) {
            (Self::Nv12 | Self::Nv21 | Self::P010 | Self::Yuv420 | Self::Yvu420, 1..) => 2,
            _ => 1,
        }
    }
}

/// Y′CbCr matrix coefficients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum YuvMatrix {
    Bt601,
    Bt709,
    /// BT.2020 / BT.2100 non-constant luminance.
    Bt2020,
}

/// Y′CbCr quantization range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum YuvRange {
    Limited,
    Full,
}

/// How Y′CbCr is turned into RGB. The default (nothing in the protocol says otherwise) is BT.601
/// limited range; see planar.frag for why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct YuvParams {
    pub matrix: YuvMatrix,
    pub range: YuvRange,
}

impl Default for YuvParams {
    fn default() -> Self {
        Self {
            matrix: YuvMatrix::Bt601,
            range: YuvRange::Limited,
        }
    }
}

impl YuvParams {
    /// (Kr, Kb) of the matrix.
    pub fn coefficients(&self) -> (f32, f32) {
        match self.matrix {
            YuvMatrix::Bt601 => (0.299, 0.114),
            YuvMatrix::Bt709 => (0.2126, 0.0722),
            YuvMatrix::Bt2020 => (0.2627, 0.0593),
        }
    }
}

/// One plane: which buffer holds it, at what byte offset, with what stride.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanarPlane {
    pub buffer: usize,
    pub offset: u32,
    pub stride: u32,
}

/// What the shader needs to address and decode a buffer.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanarLayout {
    pub format: PlanarFormat,
    pub opaque: bool,
    pub width: u32,
    pub height: u32,
    pub planes: Vec<PlanarPlane>,
}

impl PlanarLayout {
    /// Rows of plane `index` (4:2:0 chroma planes have half the rows, rounded up).
    pub fn rows(&self, index: usize) -> u32 {
        self.height.div_ceil(self.format.vsub(index))
    }

    /// Bytes of buffer `buffer` the planes in it reach, from its start: what its descriptor must
    /// cover (a dma-buf may be larger than its image).
    pub fn extent_in(&self, buffer: usize) -> u64 {
        self.planes
            .iter()
            .enumerate()
            .filter(|(_, p)| p.buffer == buffer)
            .map(|(i, p)| u64::from(p.offset) + u64::from(p.stride) * u64::from(self.rows(i)))
            .max()
            .unwrap_or(0)
    }
}

/// Push constants of planar.{vert,frag}, laid out as the GLSL block (std430 push-constant layout).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct PlanarPush {
    pub dst: [f32; 4],
    pub src: [f32; 4],
    pub offsets: [u32; 4],
    pub strides: [u32; 4],
    pub info: [i32; 4],
    pub yuv: [f32; 4],
    /// x: 1 when the source's x runs along the quad's y ([`super::draw::Orient::transpose`]).
    pub orient: [i32; 4],
}

// SAFETY: repr(C), only 4-byte scalars in 16-byte rows, no padding.
unsafe impl PushConstants for PlanarPush {}

/// The pipeline that draws planar sources: three storage buffers (planes), [`PlanarPush`].
pub struct PlanarPipeline {
    pub(crate) draw: DrawPipeline,
}

impl PlanarPipeline {
    pub fn new(device: &Arc<Device>, target_format: vk::Format) -> Result<Self, RenderError> {
        let bindings: Vec<_> = (0..3)
            .map(|i| {
                vk::DescriptorSetLayoutBinding::default()
                    .binding(i)
                    .descriptor_type(vk::DescriptorType::STORAGE_BUFFER)
                    .descriptor_count(1)
                    .stage_flags(vk::ShaderStageFlags::FRAGMENT)
            })
            .collect();
        let draw = DrawPipeline::new(
            device,
            &bindings,
            std::mem::size_of::<PlanarPush>(),
            (VERT_SPV, FRAG_SPV),
            target_format,
        )?;
        Ok(Self { draw })
    }
}

/// A buffer a planar source reads: its handle and the byte range bound.
pub trait PlanarMemory: Send + Sync {
    fn buffer(&self) -> vk::Buffer;
    fn size(&self) -> u64;
    /// Whether the memory is a client's, written outside this device between frames (see
    /// `render::foreign`), rather than weft's own.
    fn foreign(&self) -> bool {
        false
    }
    /// Whether the buffer may be the source of a copy (`TRANSFER_SRC`): a cover copies rows
    /// straight into the target instead of drawing them ([`crate::render::renderer`]).
    fn copyable(&self) -> bool {
        false
    }
}

impl PlanarMemory for std::sync::Mutex<super::memory::HostBuffer> {
    fn buffer(&self) -> vk::Buffer {
        self.lock().unwrap_or_else(|p| p.into_inner()).raw
    }
    fn size(&self) -> u64 {
        self.lock().unwrap_or_else(|p| p.into_inner()).size & !3
    }
    fn copyable(&self) -> bool {
        self.lock()
            .unwrap_or_else(|p| p.into_inner())
            .usage
            .contains(vk::BufferUsageFlags::TRANSFER_SRC)
    }
}

/// A drawable planar buffer: descriptor set + layout + the memory it points at.
pub struct PlanarSource {
    descriptor: OwnedSet,
    pub layout: PlanarLayout,
    /// The buffers bound, indexed by [`PlanarPlane::buffer`]; held for the invariant above.
    memory: Vec<Arc<dyn PlanarMemory>>,
}

impl PlanarSource {
    pub fn new(
        device: &Arc<Device>,
        pipeline: &PlanarPipeline,
        layout: PlanarLayout,
        memory: Vec<Arc<dyn PlanarMemory>>,
    ) -> Result<Arc<Self>, RenderError> {
        if layout.planes.is_empty()
            || layout.planes.len() > 3
            || layout.planes.iter().any(|p| p.buffer >= memory.len())
        {
            return Err(RenderError::Shader(format!(
                "planar layout does not fit its buffers: {layout:?}"
            )));
        }
        let sizes = [vk::DescriptorPoolSize {
            ty: vk::DescriptorType::STORAGE_BUFFER,
            descriptor_count: 3,
        }];
        let descriptor = OwnedSet::new(device, pipeline.draw.set_layout, &sizes)?;
        let set = descriptor.raw;
        // Binding i is plane i; bindings past the last plane repeat plane 0 (every binding the shader
        // declares must be valid even if the format never reads it).
        #[allow(
            clippy::indexing_slicing,
            reason = "checked above: 1 to 3 planes, each buffer index below memory.len()"
        )]
        let infos: Vec<[vk::DescriptorBufferInfo; 1]> = (0..3)
            .map(|i| {
                let plane = layout.planes.get(i).unwrap_or(&layout.planes[0]);
                let mem = &memory[plane.buffer];
                // Only the bytes the planes reach (the caller checked they fit
                // maxStorageBufferRange); never past the memory's whole words.
                let reach = layout.extent_in(plane.buffer).next_multiple_of(4);
                [vk::DescriptorBufferInfo {
                    buffer: mem.buffer(),
                    offset: 0,
                    range: mem.size().min(reach).max(4),
                }]
            })
            .collect();
        let writes: Vec<_> = infos
            .iter()
            .enumerate()
            .map(|(i, info)| {
                vk::WriteDescriptorSet::default()
                    .dst_set(set)
                    .dst_binding(i as u32)
                    .descriptor_type(vk::DescriptorType::STORAGE_BUFFER)
                    .buffer_info(info)
            })
            .collect();
        // SAFETY: the set is not used by any command buffer yet; every buffer is alive (held below)
        // and the ranges lie within them.
        unsafe { device.raw.update_descriptor_sets(&writes, &[]) };
        Ok(Arc::new(Self {
            descriptor,
            layout,
            memory,
        }))
    }

    /// Push constants for drawing `src` (texels: the corners to interpolate between) at `dst`
    /// (NDC), the source's axes swapped on the quad when `transpose`.
    pub(crate) fn push(
        &self,
        (dst, src, transpose): ([f32; 4], [f32; 4], bool),
        alpha: f32,
        yuv: YuvParams,
    ) -> PlanarPush {
        let l = &self.layout;
        let mut offsets = [0u32; 4];
        let mut strides = [0u32; 4];
        // At most 4 planes (DRM formats have 1 to 3); any beyond would be ignored, never indexed.
        for ((o, s), p) in offsets.iter_mut().zip(strides.iter_mut()).zip(&l.planes) {
            *o = p.offset;
            *s = p.stride;
        }
        let (kr, kb) = yuv.coefficients();
        PlanarPush {
            dst,
            src,
            offsets,
            strides,
            info: [
                l.format as i32,
                l.width as i32,
                l.height as i32,
                i32::from(l.opaque),
            ],
            yuv: [
                kr,
                kb,
                if yuv.range == YuvRange::Full {
                    1.0
                } else {
                    0.0
                },
                alpha,
            ],
            orient: [i32::from(transpose), 0, 0, 0],
        }
    }

    pub(crate) fn set(&self) -> vk::DescriptorSet {
        self.descriptor.raw
    }

    /// The client buffers this source reads (empty for weft's own staging memory).
    pub(crate) fn foreign_buffers(&self) -> impl Iterator<Item = vk::Buffer> + '_ {
        self.memory
            .iter()
            .filter(|m| m.foreign())
            .map(|m| m.buffer())
    }

    /// The copy of the `extent` texels at (`x`, `y`) into a B8G8R8A8 image, when the bytes are
    /// already that image's texels: one XRGB8888/ARGB8888 plane, word-aligned rows, in a buffer
    /// that may be copied from. The caller fills in the image offset.
    pub(crate) fn copy_region(
        &self,
        x: u32,
        y: u32,
        extent: vk::Extent2D,
    ) -> Option<vk::BufferImageCopy> {
        let l = &self.layout;
        let [plane] = l.planes.as_slice() else {
            return None;
        };
        let memory = self.memory.get(plane.buffer)?;
        let fits =
            x.checked_add(extent.width)? <= l.width && y.checked_add(extent.height)? <= l.height;
        if l.format != PlanarFormat::Xrgb8888
            || !fits
            || extent.width == 0
            || extent.height == 0
            || plane.stride % 4 != 0
            || plane.offset % 4 != 0
            || !memory.copyable()
        {
            return None;
        }
        let stride = u64::from(plane.stride);
        let offset = u64::from(plane.offset) + u64::from(y) * stride + u64::from(x) * 4;
        let end = offset + u64::from(extent.height - 1) * stride + u64::from(extent.width) * 4;
        if end > memory.size() {
            return None;
        }
        Some(vk::BufferImageCopy {
            buffer_offset: offset,
            buffer_row_length: plane.stride / 4,
            buffer_image_height: 0,
            image_subresource: super::memory::color_layers(),
            image_offset: vk::Offset3D::default(),
            image_extent: vk::Extent3D {
                width: extent.width,
                height: extent.height,
                depth: 1,
            },
        })
    }

    /// The buffer plane `index` lives in.
    pub(crate) fn plane_buffer(&self, index: usize) -> Option<vk::Buffer> {
        let plane = self.layout.planes.get(index)?;
        self.memory.get(plane.buffer).map(|m| m.buffer())
    }

    /// How many distinct buffers back the planes.
    pub fn buffers(&self) -> usize {
        self.memory.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_protocols::drm_format::{FormatKind, FORMATS};

    /// The shader knows every format of the table, with the table's vertical subsampling.
    #[test]
    fn every_format_of_the_table_is_decoded_with_its_subsampling() {
        for info in FORMATS {
            let (format, opaque) = PlanarFormat::from_fourcc(info.fourcc).expect("decoded");
            assert_eq!(
                opaque,
                !matches!(info.kind, FormatKind::Rgb { alpha: true }),
                "{:#x}",
                info.fourcc
            );
            for (i, plane) in info.planes.iter().enumerate() {
                assert_eq!(format.vsub(i), plane.vsub, "{:#x} plane {i}", info.fourcc);
            }
        }
    }
}
