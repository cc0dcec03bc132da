//! Render errors, classed by what the caller should do about them.

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
