//! The render devices weft composes on, one map keyed by registry id ([`RenderDevices`]), and
//! what happens when they come and go: a lost device rebuilt ([`recovery`]), a removed one
//! dropped ([`hotplug`]). Every output names the device that composes it
//! ([`crate::outputs::output::OutputSlot::device`]).
//!
//! The first device in the map keeps each surface's full record (rung, reason, costs, budgets,
//! sliced uploads); the others keep per surface only what they draw ([`others`]).

pub mod hotplug;
pub mod import;
pub mod others;
pub mod recovery;

use crate::devices::policy::RendererFactory;
use crate::devices::DeviceId;
use crate::import::Importer;
use crate::render::Renderer;

/// One Vulkan device weft renders with, and its dma-buf imports (caps, policy, cache).
pub struct RenderDevice {
    pub(crate) id: DeviceId,
    pub(crate) renderer: Renderer,
    pub(crate) importer: Importer,
}

/// Every render device, in the order they were added, keyed by registry id. Never empty: the
/// first is held apart so that holds by its type.
pub struct RenderDevices {
    first: RenderDevice,
    rest: Vec<RenderDevice>,
    /// Makes a new renderer when the first device is lost ([`recovery`]).
    pub(crate) make_renderer: RendererFactory,
    /// How often the first device was rebuilt after a device loss.
    pub(crate) render_generation: u64,
}

impl RenderDevices {
    pub(crate) fn new(first: RenderDevice, make_renderer: RendererFactory) -> Self {
        Self {
            first,
            rest: Vec::new(),
            make_renderer,
            render_generation: 0,
        }
    }

    /// The device surfaces keep their full records for (and that composes outputs by default).
    pub(crate) fn first(&self) -> &RenderDevice {
        &self.first
    }

    pub(crate) fn first_mut(&mut self) -> &mut RenderDevice {
        &mut self.first
    }

    /// The devices after the first.
    pub(crate) fn others_mut(&mut self) -> impl Iterator<Item = &mut RenderDevice> {
        self.rest.iter_mut()
    }

    /// Every device, first first.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &RenderDevice> {
        std::iter::once(&self.first).chain(&self.rest)
    }

    pub(crate) fn get(&self, id: &DeviceId) -> Option<&RenderDevice> {
        self.iter().find(|d| &d.id == id)
    }

    pub(crate) fn get_mut(&mut self, id: &DeviceId) -> Option<&mut RenderDevice> {
        std::iter::once(&mut self.first)
            .chain(&mut self.rest)
            .find(|d| &d.id == id)
    }

    /// The device `id`, or the first where there is none such (it was removed meanwhile).
    pub(crate) fn or_first(&self, id: &DeviceId) -> &RenderDevice {
        self.get(id).unwrap_or(&self.first)
    }

    /// The `n`th device, round-robin (outputs are assigned so).
    pub(crate) fn nth_round_robin(&self, n: usize) -> &RenderDevice {
        self.iter()
            .nth(n % (1 + self.rest.len()))
            .unwrap_or(&self.first)
    }

    pub(crate) fn insert(&mut self, device: RenderDevice) {
        self.rest.push(device);
    }

    /// Removes the devices among `ids` other than the first (which is rebuilt, not removed).
    pub(crate) fn remove_others(&mut self, ids: &[DeviceId]) -> Vec<RenderDevice> {
        let (gone, kept) = std::mem::take(&mut self.rest)
            .into_iter()
            .partition(|d| ids.contains(&d.id));
        self.rest = kept;
        gone
    }
}
