//! Layer shell (`zwlr_layer_shell_v1` v4): panels, docks, wallpapers, notifications and on-screen
//! displays, each on one output in one of four layers.
//!
//! - **Placement**: smithay's per-output `LayerMap` arranges anchors, margins and exclusive zones;
//!   weft re-arranges it on every commit of a layer surface and when a layer goes, and sends the
//!   initial configure in reply to the initial commit.
//! - **Stacking**: background and bottom are drawn under the windows, top and overlay over them
//!   (overlay over fullscreen video too); input looks in the same order, front first.
//! - **Exclusive zones**: new windows are placed and maximized windows sized within what the panels
//!   leave (`usable_area`); fullscreen windows cover the whole output.
//! - **Keyboard**: a top or overlay layer with `exclusive` interactivity takes the keyboard when it
//!   maps and keeps it until it goes (no window may take it meanwhile); an `on_demand` layer takes
//!   it when it first maps and when clicked, and loses it to a click elsewhere; a layer whose
//!   interactivity goes to `none` gives it back to the topmost window.
//! - A layer surface without an output goes on the first one; when its output goes, it is told
//!   `closed`.

use smithay::desktop::{layer_map_for_output, LayerSurface, WindowSurfaceType};
use smithay::output::Output;
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::utils::{Logical, Point, Rectangle};
use smithay::wayland::shell::wlr_layer::{KeyboardInteractivity, Layer};

use crate::Weft;

/// Marks a layer surface that has shown a buffer once (kept in its user data).
struct MappedOnce;

/// The layers drawn under the windows, back to front.
pub const BELOW: [Layer; 2] = [Layer::Background, Layer::Bottom];
/// The layers drawn over the windows, back to front.
pub const ABOVE: [Layer; 2] = [Layer::Top, Layer::Overlay];

impl Weft {
    /// The output showing the layer surface whose root is `surface`, with its layer.
    pub(crate) fn layer_of(&self, surface: &WlSurface) -> Option<(Output, LayerSurface)> {
        self.outputs.slots.iter().find_map(|slot| {
            let map = layer_map_for_output(&slot.output);
            map.layer_for_surface(surface, WindowSurfaceType::TOPLEVEL)
                .cloned()
                .map(|layer| (slot.output.clone(), layer))
        })
    }

    /// A layer surface's root committed: arrange its output, answer the initial commit, and give
    /// an exclusive top/overlay layer the keyboard when it maps. Returns whether it is one.
    pub(crate) fn layer_commit(&mut self, surface: &WlSurface) -> bool {
        let Some((output, layer)) = self.layer_of(surface) else {
            return false;
        };
        // A buffer committed before the first ack_configure: the surface state is invalid
        // (zwlr_layer_surface_v1.invalid_surface_state; smithay's `ensure_configured` would post
        // the shell's already_constructed code on the layer surface object).
        let configured = smithay::wayland::compositor::with_states(surface, |states| {
            states
                .data_map
                .get::<smithay::wayland::shell::wlr_layer::LayerSurfaceData>()
                .and_then(|d| d.lock().ok().map(|d| d.configured))
                .unwrap_or(false)
        });
        // WLCS 1.5.0's layer-surface helper breaks the rule as its toplevel helper does
        // (`Weft::accept_unconfigured_buffers`, set by the WLCS shim only).
        if !configured
            && !self.shell.accept_unconfigured_buffers
            && crate::surface::content_snapshot(surface, |c| c.has_content())
        {
            use smithay::reexports::wayland_server::Resource;
            layer.layer_surface().shell_surface().post_error(
                smithay::reexports::wayland_protocols_wlr::layer_shell::v1::server::zwlr_layer_surface_v1::Error::InvalidSurfaceState,
                "a buffer was committed before the first ack_configure",
            );
            return true;
        }
        layer_map_for_output(&output).arrange();
        self.refit_maximized(&output);
        let initial_sent = smithay::wayland::compositor::with_states(surface, |states| {
            states
                .data_map
                .get::<smithay::wayland::shell::wlr_layer::LayerSurfaceData>()
                .and_then(|d| d.lock().ok().map(|d| d.initial_configure_sent))
                .unwrap_or(false)
        });
        if !initial_sent {
            layer.layer_surface().send_configure();
        }
        let mapped = crate::surface::content_snapshot(surface, |c| c.has_content());
        let state = layer.cached_state();
        let grabs_keyboard = state.keyboard_interactivity == KeyboardInteractivity::Exclusive
            && matches!(state.layer, Layer::Top | Layer::Overlay);
        // The first time it maps, a layer that takes the keyboard on demand gets it (a launcher
        // or a panel's menu opened by a key binding is typed into at once).
        let first_map = mapped && layer.user_data().get::<MappedOnce>().is_none();
        if first_map {
            layer.user_data().insert_if_missing(|| MappedOnce);
        }
        let on_demand_first = first_map
            && state.keyboard_interactivity == KeyboardInteractivity::OnDemand
            && self.exclusive_layer().is_none();
        if mapped && (grabs_keyboard || on_demand_first) && !self.lock.is_locked() {
            self.focus_surface(Some(surface.clone()));
        } else if !layer.can_receive_keyboard_focus() {
            // Its interactivity went to none: the keyboard goes back to the topmost window.
            let has_keyboard = self
                .input
                .seat
                .get_keyboard()
                .and_then(|k| k.current_focus())
                .map(crate::seat::focus::KeyboardFocus::into_surface)
                .is_some_and(|f| &f == surface);
            if has_keyboard {
                let top = self.shell.space.elements().last().cloned();
                self.focus_window(top);
            }
        }
        self.damage();
        true
    }

    /// A layer surface went: its output is arranged again, and the keyboard it had goes back to
    /// the topmost window.
    pub(crate) fn layer_gone(&mut self, surface: &WlSurface) {
        for slot in &self.outputs.slots {
            let mut map = layer_map_for_output(&slot.output);
            let gone: Vec<LayerSurface> = map
                .layers()
                .filter(|l| l.wl_surface() == surface)
                .cloned()
                .collect();
            for layer in gone {
                map.unmap_layer(&layer);
            }
            map.arrange();
        }
        let outputs: Vec<Output> = self
            .outputs
            .slots
            .iter()
            .map(|s| s.output.clone())
            .collect();
        for output in &outputs {
            self.refit_maximized(output);
        }
        let had_keyboard = self
            .input
            .seat
            .get_keyboard()
            .and_then(|k| k.current_focus())
            .map(crate::seat::focus::KeyboardFocus::into_surface)
            .is_some_and(|f| &f == surface);
        if had_keyboard {
            let top = self.shell.space.elements().last().cloned();
            self.focus_window(top);
        }
        self.damage();
    }

    /// The area of `output` (global coordinates) that windows may use: what the layers' exclusive
    /// zones leave.
    pub(crate) fn usable_area(&self, output: &Output) -> Rectangle<i32, Logical> {
        let origin = self
            .shell
            .space
            .output_geometry(output)
            .map(|g| g.loc)
            .unwrap_or_default();
        // Arranged first: the zone is computed from the output's size at the last arrange, and
        // the output may have changed mode since (a resized nested window).
        let mut map = layer_map_for_output(output);
        map.arrange();
        let mut zone = map.non_exclusive_zone();
        drop(map);
        zone.loc += origin;
        zone
    }

    /// The layer surface (or one of its subsurfaces or popups) under `pos` on `layers`, front
    /// first, with the surface's origin in global coordinates.
    pub(crate) fn layer_surface_under(
        &self,
        pos: Point<f64, Logical>,
        layers: &[Layer],
    ) -> Option<(WlSurface, Point<f64, Logical>, LayerSurface)> {
        let output = self.shell.space.output_under(pos).next()?;
        let origin = self.shell.space.output_geometry(output)?.loc;
        let map = layer_map_for_output(output);
        let local = pos - origin.to_f64();
        layers.iter().rev().find_map(|&which| {
            let layer = map.layer_under(which, local)?;
            let geo = map.layer_geometry(layer)?;
            let (surface, offset) =
                layer.surface_under(local - geo.loc.to_f64(), WindowSurfaceType::ALL)?;
            Some((surface, (origin + geo.loc + offset).to_f64(), layer.clone()))
        })
    }

    /// Every mapped layer surface of `output` on `layers`, back to front, with its output-local
    /// position.
    pub fn layers_on(
        &self,
        output: &Output,
        layers: &[Layer],
    ) -> Vec<(LayerSurface, Point<i32, Logical>)> {
        let map = layer_map_for_output(output);
        layers
            .iter()
            .flat_map(|&which| {
                map.layers_on(which)
                    .filter_map(|l| map.layer_geometry(l).map(|g| (l.clone(), g.loc)))
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// `output` goes: its layer surfaces are told `closed`.
    pub(crate) fn close_layers(&mut self, output: &Output) {
        let mut map = layer_map_for_output(output);
        let layers: Vec<LayerSurface> = map.layers().cloned().collect();
        for layer in layers {
            layer.layer_surface().send_close();
            map.unmap_layer(&layer);
        }
    }

    /// The top or overlay layer surface with `exclusive` keyboard interactivity that holds the
    /// keyboard, if any: no window may take it meanwhile.
    pub(crate) fn exclusive_layer(&self) -> Option<WlSurface> {
        self.outputs.slots.iter().find_map(|slot| {
            let map = layer_map_for_output(&slot.output);
            let found = map
                .layers()
                .filter(|l| matches!(l.layer(), Layer::Top | Layer::Overlay))
                .find(|l| {
                    l.cached_state().keyboard_interactivity == KeyboardInteractivity::Exclusive
                        && crate::surface::content_snapshot(l.wl_surface(), |c| c.has_content())
                })
                .map(|l| l.wl_surface().clone());
            found
        })
    }

    /// Gives the keyboard to `surface` (a layer surface): no toplevel is activated meanwhile.
    pub(crate) fn focus_surface(&mut self, surface: Option<WlSurface>) {
        self.dismiss_popups_leaving(surface.as_ref());
        self.set_activated(None);
        if let Some(keyboard) = self.input.seat.get_keyboard() {
            keyboard.set_focus(
                self,
                surface.map(Into::into),
                smithay::utils::SERIAL_COUNTER.next_serial(),
            );
        }
    }

    /// The exclusive zones of `output` changed: its maximized windows are given the area that is
    /// left (a configure with the new size, and moved to its corner).
    fn refit_maximized(&mut self, output: &Output) {
        let area = self.usable_area(output);
        let windows: Vec<_> = self
            .shell
            .space
            .elements()
            .filter(|w| {
                self.shell
                    .space
                    .outputs_for_element(w)
                    .first()
                    .is_some_and(|o| o == output)
            })
            .cloned()
            .collect();
        for window in windows {
            let Some(toplevel) = window.toplevel().cloned() else {
                continue;
            };
            let maximized = toplevel.with_pending_state(|s| {
                s.states
                    .contains(smithay::reexports::wayland_protocols::xdg::shell::server::xdg_toplevel::State::Maximized)
                    && !s.states.contains(
                        smithay::reexports::wayland_protocols::xdg::shell::server::xdg_toplevel::State::Fullscreen,
                    )
            });
            if !maximized {
                continue;
            }
            let changed = toplevel.with_pending_state(|s| {
                let changed = s.size != Some(area.size);
                s.size = Some(area.size);
                changed
            });
            if changed && toplevel.is_initial_configure_sent() {
                self.shell.xdg_guard.send_configure(&toplevel);
            }
            if self.shell.space.element_location(&window) != Some(area.loc) {
                self.shell.space.map_element(window, area.loc, false);
                self.damage();
            }
        }
    }
}
