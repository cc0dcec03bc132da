//! A surface tree brought up to date on every render device: one entry point for a commit, a
//! finished sliced upload and a re-plan. The first device keeps each surface's full record
//! ([`crate::surface::import_tree`]); each other device its own view ([`super::others`]); each
//! device gets a commit once, however many of its outputs show the surface.

use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;

use crate::import::Driven;
use crate::surface::{import_tree, ImportCtx};
use crate::Weft;

impl Weft {
    /// Imports the tree at `root` on every render device (`driven`: [`Weft::driven`], taken once
    /// by the caller). Returns whether what it shows changed.
    pub(crate) fn import_on_every_device(&mut self, root: &WlSurface, driven: &Driven) -> bool {
        let first = self.gpu.first_mut();
        let mut ctx = ImportCtx {
            renderer: &mut first.renderer,
            importer: &mut first.importer,
            uploads: &mut self.buffers.uploads,
            feedback: &mut self.buffers.feedback,
            devices: &self.devices,
            driven,
        };
        let mut changed = import_tree(&mut ctx, root);
        changed |= self.import_on_other_devices(root, driven);
        changed
    }

    /// Imports the tree at `root` on the devices after the first (the first already shows it:
    /// a sliced upload just finished there).
    pub(crate) fn import_on_other_devices(&mut self, root: &WlSurface, driven: &Driven) -> bool {
        let mut changed = false;
        for other in self.gpu.others_mut() {
            changed |= other.import_tree(&self.devices, driven, root);
        }
        changed
    }
}
