//! A lost render device, rebuilt.
//!
//! When a frame reports `VK_ERROR_DEVICE_LOST` (a GPU reset, a driver crash, a removed device, or
//! the `device-lost` test hook), nothing made on that device can be used again. weft then builds a
//! new renderer with the backend's factory, and brings everything back on it:
//! - every output gets a new render target;
//! - the import cache is emptied (its failure classes were about the old device) and every
//!   surface's content (textures, imports, slices in progress) is dropped;
//! - every surface tree is imported again from the buffer smithay still holds for it (a wl_shm
//!   buffer is copied again, a dma-buf re-imported), so each surface shows its last frame again
//!   without any client action.
//!
//! A rebuild that fails (no device right now) is retried at the next frame. The old device dies
//! when the last object made on it is dropped; every object holds an `Arc` of it.

use smithay::desktop::PopupManager;
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use tracing::{info, warn};

use crate::render::DmabufCaps;
use crate::Weft;

impl Weft {
    /// Replaces the lost render device and shows every surface again; `why` is how it was found
    /// lost (the failing call's error). Returns whether it worked.
    pub fn rebuild_renderer(&mut self, why: &dyn std::fmt::Display) -> bool {
        warn!(error = %why, "render device lost: rebuilding the renderer");
        let (renderer, reason) = match (self.gpu.make_renderer)() {
            Ok(r) => r,
            Err(e) => {
                warn!(error = %e, "no render device to rebuild on yet; retrying at the next frame");
                return false;
            }
        };
        // Only the outputs the first device composes (the other devices keep theirs).
        let lost = self.gpu.first().id.clone();
        let mut targets = Vec::with_capacity(self.outputs.slots.len());
        for slot in self.outputs.slots.iter().filter(|s| s.device == lost) {
            match renderer.create_target(slot.spec.width, slot.spec.height) {
                Ok(t) => targets.push(t),
                Err(e) => {
                    warn!(error = %e, "the new render device cannot make an output target; retrying");
                    return false;
                }
            }
        }
        self.devices
            .set_render(renderer.device().physical_info(), reason);
        let first = self.gpu.first_mut();
        first.importer.caps = DmabufCaps::query(renderer.device());
        first.renderer = renderer;
        first.id = self.devices.render_id();
        crate::sync::soft_fence::provide_read_fences(&mut first.renderer, &self.devices);
        let id = first.id.clone();
        let composed_by_lost = self.outputs.slots.iter_mut().filter(|s| s.device == lost);
        for (slot, target) in composed_by_lost.zip(targets) {
            slot.device = id.clone();
            slot.set_target(target);
        }
        let surfaces = self.replan_all();
        self.gpu.render_generation += 1;
        info!(
            device = %self.gpu.first().renderer.device().info().name,
            generation = self.gpu.render_generation,
            surfaces,
            "renderer rebuilt; every surface imported again"
        );
        true
    }

    /// Plans every surface's buffer again: drops every import and remembered failure (they were
    /// about devices that changed) and imports each surface tree's current buffers anew. Returns how
    /// many trees. Called after a device loss and on hotplug ([`crate::render_devices::hotplug`]).
    pub fn replan_all(&mut self) -> usize {
        let roots = self.surface_roots();
        for root in &roots {
            crate::surface::forget_tree_content(root);
        }
        self.gpu.first_mut().importer.cache.invalidate();
        self.gpu.first_mut().importer.shm.clear();
        self.buffers.uploads = Default::default();
        for other in self.gpu.others_mut() {
            other.importer.cache.invalidate();
        }
        let driven = self.driven();
        for root in &roots {
            self.import_on_every_device(root, &driven);
        }
        self.schedule_uploads();
        self.damage();
        roots.len()
    }

    /// The root of every surface tree weft may draw: toplevels (mapped or not) and their popups.
    fn surface_roots(&self) -> Vec<WlSurface> {
        let mut roots = Vec::new();
        for toplevel in self.toplevels() {
            let surface = toplevel.wl_surface().clone();
            roots.extend(
                PopupManager::popups_for_surface(&surface).map(|(p, _)| p.wl_surface().clone()),
            );
            roots.push(surface);
        }
        roots
    }
}
