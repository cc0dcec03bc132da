//! linux-dmabuf: the guard (weft-protocols) validates params, smithay builds the `Dmabuf`, and here
//! the importer decides `created` / `failed` by really importing it.

use smithay::backend::allocator::dmabuf::Dmabuf;
use smithay::backend::allocator::Buffer as _;
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::reexports::wayland_server::Resource as _;
use smithay::wayland::dmabuf::{
    DmabufFeedback, DmabufGlobal, DmabufHandler, DmabufState, ImportNotifier,
};
use tracing::debug;
use weft_protocols::dmabuf_guard::{DmabufGuardData, DmabufGuardState};

use crate::budget::Resource;
use crate::import::cache::Entry;
use crate::Weft;

/// What a dma-buf counts against its client's import budget: every plane's stride × height (an
/// upper bound for subsampled chroma planes), the memory weft maps or stages for it.
fn import_bytes(dmabuf: &Dmabuf) -> u64 {
    let height = u64::from(dmabuf.height());
    dmabuf
        .strides()
        .map(|stride| u64::from(stride).saturating_mul(height))
        .fold(0u64, u64::saturating_add)
}

impl DmabufGuardState for Weft {
    fn dmabuf_guard(&mut self) -> &mut DmabufGuardData {
        &mut self.buffers.dmabuf_guard
    }
}

impl DmabufHandler for Weft {
    fn dmabuf_state(&mut self) -> &mut DmabufState {
        &mut self.buffers.dmabuf_state
    }

    fn dmabuf_imported(
        &mut self,
        _global: &DmabufGlobal,
        dmabuf: Dmabuf,
        notifier: ImportNotifier,
    ) {
        // The client's budget first: an import over it is refused before weft maps anything.
        let charge = match notifier
            .client()
            .and_then(|c| crate::runtime::client::budget_of(&c))
            .map(|b| b.charge(Resource::ImportBytes, import_bytes(&dmabuf)))
            .transpose()
        {
            Ok(charge) => charge,
            Err(over) => {
                debug!(%over, "dma-buf refused: the client's import budget is spent");
                notifier.failed();
                return;
            }
        };
        let driven = self.driven();
        let first = self.gpu.first_mut();
        let sink = first.id.clone();
        match first
            .importer
            .import(&mut first.renderer, &self.devices, &sink, &driven, &dmabuf)
        {
            Ok(imported) => match notifier.successful::<Weft>() {
                Ok(buffer) => {
                    let cache = &mut first.importer.cache;
                    cache.insert(buffer.id(), sink, Entry::Ready(imported));
                    if let Some(charge) = charge {
                        cache.hold_charge(buffer.id(), charge);
                    }
                }
                Err(e) => debug!(error = ?e, "client gone before its dma-buf wl_buffer was made"),
            },
            Err(why) => {
                // Not a client bug (the guard raised those): `failed` for create, and for
                // create_immed smithay's `invalid_wl_buffer`, as the spec allows.
                debug!(%why, class = ?why.class, "dma-buf import failed");
                notifier.failed();
                if let Some(lost) = self.gpu.first_mut().importer.take_device_lost() {
                    self.rebuild_renderer(&format!("dma-buf import: {lost}"));
                }
            }
        }
    }

    fn new_surface_feedback(
        &mut self,
        _surface: &WlSurface,
        _global: &DmabufGlobal,
    ) -> Option<DmabufFeedback> {
        // Every surface starts with the default tranches; once its buffers are imported, feedback
        // steering ([`crate::buffers::feedback::Steering`], `surface::steer`) may send it its own.
        Some(self.buffers.feedback.default_feedback().clone())
    }
}
