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
//! - [`error`]: [`RenderError`] and what the caller should do about it ([`ErrorClass`])
//!
//! Errors are classed by what the caller should do (see [`RenderError::class`]).

pub(crate) mod descriptor;
pub mod device;
pub mod draw;
pub mod error;
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
pub use error::{ErrorClass, RenderError};
pub use external::{DmabufCaps, ImportError};
pub use physical::PhysicalInfo;
pub use planar::{
    PlanarFormat, PlanarLayout, PlanarPlane, PlanarSource, YuvMatrix, YuvParams, YuvRange,
};
pub use renderer::{DrawItem, Fill, FrameStats, Orient, Rect, RenderTarget, Renderer, UploadRect};
pub use sync_fd::SyncFdSupport;
pub use texture::Texture;
pub use transfer::{Copier, RowCopy};
