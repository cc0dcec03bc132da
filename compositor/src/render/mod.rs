//! weft's Vulkan renderer (ash), split by capability:
//!
//! - [`instance`]: loader, validation layer, debug messages → tracing
//! - [`gate`]: creation and destruction never overlap another thread's Vulkan calls
//! - [`physical`]: the physical devices an instance offers (the registry picks one)
//! - [`device`]: logical device, queue, allocator
//! - [`memory`]: RAII buffers and images
//! - [`pipeline`]: the quad pipeline (premultiplied alpha, textured or solid)
//! - [`texture`]: sampled textures with their descriptor sets (weft's own images or dma-buf images)
//! - [`external`]: dma-buf imports (storage buffers, explicit-modifier images) and device caps
//! - [`planar`]: the pipeline that reads linear planes in place (RGB and Y′CbCr)
//! - [`draw`]: what a frame draws (quads and their fills)
//! - [`renderer`]: uploads (damaged regions only), frames, readback
//!
//! Errors are classed by what the caller should do (see [`RenderError::class`]).

pub(crate) mod descriptor;
pub mod device;
pub mod draw;
pub mod external;
pub mod faults;
pub(crate) mod foreign;
pub mod gate;
pub mod host_memory;
pub mod instance;
pub mod memory;
pub mod physical;
pub mod pipeline;
pub mod planar;
pub mod renderer;
pub mod sync_fd;
pub mod texture;
pub mod transfer;

pub use ash::vk;
pub use device::{DeviceInfo, DeviceKind};
pub use draw::{HeldBuffer, ReadFenceSource};
pub use external::{DmabufCaps, ImportError};
pub use physical::PhysicalInfo;
pub use planar::{
    PlanarFormat, PlanarLayout, PlanarPlane, PlanarSource, YuvMatrix, YuvParams, YuvRange,
};
pub use renderer::{DrawItem, Fill, FrameStats, Rect, RenderTarget, Renderer, UploadRect};
pub use sync_fd::SyncFdSupport;
pub use texture::Texture;
pub use transfer::{Copier, RowCopy};

/// What the caller should do about an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// This path cannot work here: take the next rung, or give up cleanly.
    Unsupported,
    /// May work next frame (out of memory, timeouts).
    Temporary,
    /// The device is gone: rebuild the renderer.
    DeviceLost,
}

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("no Vulkan loader: {0}")]
    NoVulkan(String),
    #[error("no Vulkan 1.3 device with a graphics queue")]
    NoDevice,
    #[error("{0} failed: {1}")]
    Vk(&'static str, ash::vk::Result),
    #[error("memory allocation failed: {0}")]
    Allocation(String),
    #[error("invalid image size {0}x{1}")]
    InvalidSize(u32, u32),
    #[error("shader: {0}")]
    Shader(String),
    #[error("upload source is smaller than its stride and size say")]
    SourceTooSmall,
    #[error("Vulkan extension {0} is not available")]
    MissingExtension(String),
    #[error("no output {0}")]
    NoOutput(usize),
    /// A setting weft was started with cannot be honoured (no such render device, a topology file
    /// that does not parse).
    #[error("{0}")]
    Setup(String),
}

impl RenderError {
    /// Maps a failing `VkResult` to an error naming the call, for `map_err`.
    pub(crate) fn vk(call: &'static str) -> impl Fn(ash::vk::Result) -> Self {
        move |e| Self::Vk(call, e)
    }

    pub fn class(&self) -> ErrorClass {
        match self {
            Self::Vk(_, ash::vk::Result::ERROR_DEVICE_LOST) => ErrorClass::DeviceLost,
            Self::Vk(_, ash::vk::Result::ERROR_OUT_OF_DEVICE_MEMORY)
            | Self::Vk(_, ash::vk::Result::ERROR_OUT_OF_HOST_MEMORY)
            | Self::Vk(_, ash::vk::Result::TIMEOUT)
            | Self::Allocation(_) => ErrorClass::Temporary,
            _ => ErrorClass::Unsupported,
        }
    }
}
