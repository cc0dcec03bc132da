//! smithay's zwlr_layer_shell_v1 handler for weft (policy in [`crate::shell::layers`]).

use smithay::desktop::{layer_map_for_output, LayerSurface, PopupKind};
use smithay::output::Output;
use smithay::reexports::wayland_server::protocol::wl_output::WlOutput;
use smithay::wayland::shell::wlr_layer::{
    Layer, LayerSurface as WlrLayerSurface, WlrLayerShellHandler, WlrLayerShellState,
};
use smithay::wayland::shell::xdg::PopupSurface;

use crate::Weft;

impl WlrLayerShellHandler for Weft {
    fn shell_state(&mut self) -> &mut WlrLayerShellState {
        &mut self.shell.layer_shell
    }

    fn new_layer_surface(
        &mut self,
        surface: WlrLayerSurface,
        output: Option<WlOutput>,
        _layer: Layer,
        namespace: String,
    ) {
        // The output it asks for, where weft has it; else the first.
        let output = output
            .as_ref()
            .and_then(Output::from_resource)
            .filter(|o| {
                self.outputs
                    .slots
                    .iter()
                    .any(|s| &s.output == o && s.enabled)
            })
            .or_else(|| {
                self.outputs
                    .slots
                    .iter()
                    .find(|s| s.enabled)
                    .map(|s| s.output.clone())
            });
        let Some(output) = output else {
            tracing::debug!(%namespace, "a layer surface with no output to go on: closed");
            surface.send_close();
            return;
        };
        let mut map = layer_map_for_output(&output);
        if let Err(e) = map.map_layer(&LayerSurface::new(surface, namespace)) {
            tracing::debug!(error = ?e, "layer surface not mapped");
        }
    }

    fn new_popup(&mut self, _parent: WlrLayerSurface, popup: PopupSurface) {
        if let Err(e) = self.shell.popups.track_popup(PopupKind::Xdg(popup)) {
            tracing::debug!(error = ?e, "a layer surface's popup died before it was tracked");
        }
    }

    fn layer_destroyed(&mut self, surface: WlrLayerSurface) {
        self.layer_gone(surface.wl_surface());
    }
}

// zwlr_layer_shell_v1 goes through weft-protocols' guard (already_constructed), then smithay.
weft_protocols::delegate_layer_shell_guarded!(Weft);
