//! The render devices weft composes on: the first one (whose imports keep the full surface
//! records) and the further ones ([`crate::render_devices::secondary`]), and how a lost device is replaced.

pub mod hotplug;
pub mod recovery;
pub mod secondary;

use crate::devices::policy::RendererFactory;
use crate::import::Importer;
use crate::render::Renderer;

/// Every Vulkan device weft renders with.
pub struct RenderDevices {
    pub(crate) renderer: Renderer,
    /// dma-buf imports on `renderer`: device caps, policy, cache.
    pub(crate) importer: Importer,
    /// Makes a new renderer when the device is lost ([`crate::render_devices::recovery`]).
    pub(crate) make_renderer: RendererFactory,
    /// How often the renderer was rebuilt after a device loss.
    pub(crate) render_generation: u64,
    /// Render devices beyond the first, each composing the outputs assigned to it.
    pub(crate) secondaries: Vec<crate::render_devices::secondary::SecondaryDevice>,
}
