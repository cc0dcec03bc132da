//! One descriptor set in a pool of its own: what each texture and each planar source draws with.
//! The pool (and with it the set) is destroyed when the owner drops.

use std::sync::Arc;

use ash::vk;

use super::device::Device;
use super::RenderError;

pub(crate) struct OwnedSet {
    device: Arc<Device>,
    pool: vk::DescriptorPool,
    pub(crate) raw: vk::DescriptorSet,
}

impl OwnedSet {
    /// A set of `layout`, from a pool sized exactly for it (`sizes`).
    pub(crate) fn new(
        device: &Arc<Device>,
        layout: vk::DescriptorSetLayout,
        sizes: &[vk::DescriptorPoolSize],
    ) -> Result<Self, RenderError> {
        let pool_info = vk::DescriptorPoolCreateInfo::default()
            .max_sets(1)
            .pool_sizes(sizes);
        // SAFETY: valid create info on a live device.
        let pool = unsafe { device.raw.create_descriptor_pool(&pool_info, None) }
            .map_err(RenderError::vk("vkCreateDescriptorPool"))?;
        let layouts = [layout];
        let alloc = vk::DescriptorSetAllocateInfo::default()
            .descriptor_pool(pool)
            .set_layouts(&layouts);
        // SAFETY: the pool has room for exactly this one set.
        match unsafe { device.raw.allocate_descriptor_sets(&alloc) } {
            Ok(sets) => Ok(Self {
                device: device.clone(),
                pool,
                // One layout asked for, so one set back.
                raw: sets.first().copied().unwrap_or_default(),
            }),
            Err(e) => {
                // SAFETY: the pool is unused.
                unsafe { device.raw.destroy_descriptor_pool(pool, None) };
                Err(RenderError::Vk("vkAllocateDescriptorSets", e))
            }
        }
    }
}

impl Drop for OwnedSet {
    fn drop(&mut self) {
        // SAFETY: frames are synchronous, so no pending command buffer references the set (pending
        // uploads hold an Arc to their texture, and so to this set).
        unsafe { self.device.raw.destroy_descriptor_pool(self.pool, None) };
    }
}
