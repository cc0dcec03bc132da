//! `wp_fractional_scale_v1`: a client learns the scale of the output its surface is on and draws
//! its buffers at that size (with wp_viewporter setting the surface size), instead of an integer
//! scale and a downscale. The preferred scale is the scale of the output the surface's window is
//! on (the first output's while it is on none).

use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::reexports::wayland_server::DisplayHandle;
use smithay::wayland::compositor::{get_parent, with_states};
use smithay::wayland::fractional_scale::{
    with_fractional_scale, FractionalScaleHandler, FractionalScaleManagerState,
};

use crate::Weft;

/// Creates `wp_fractional_scale_manager_v1`.
pub(crate) fn create_global(dh: &DisplayHandle) -> FractionalScaleManagerState {
    FractionalScaleManagerState::new::<Weft>(dh)
}

impl Weft {
    /// The scale `surface` should be drawn at: its window's output's.
    pub fn preferred_scale(&self, surface: &WlSurface) -> f64 {
        let mut root = surface.clone();
        while let Some(parent) = get_parent(&root) {
            root = parent;
        }
        let on_window = self.window_for_surface(&root).and_then(|w| {
            self.shell
                .space
                .outputs_for_element(&w)
                .first()
                .map(|o| o.current_scale().fractional_scale())
        });
        on_window
            .or_else(|| {
                self.outputs
                    .slots
                    .first()
                    .map(|s| s.output.current_scale().fractional_scale())
            })
            .unwrap_or(1.0)
    }
}

impl FractionalScaleHandler for Weft {
    fn new_fractional_scale(&mut self, surface: WlSurface) {
        let scale = self.preferred_scale(&surface);
        with_states(&surface, |states| {
            with_fractional_scale(states, |fs| fs.set_preferred_scale(scale));
        });
    }
}

weft_protocols::delegate_fractional_scale_guarded!(Weft);
