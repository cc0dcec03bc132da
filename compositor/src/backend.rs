//! What a backend (headless, winit, DRM/KMS) may ask of the core: the display handle to serve
//! clients on, whether to keep running, the clock, the outputs it drives and their render targets,
//! and a few test hooks. Backends reach `Weft` only through these methods.

use smithay::input::pointer::PointerHandle;
use smithay::reexports::wayland_server::backend::ClientId;
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::reexports::wayland_server::{Client, DisplayHandle, Resource};
use smithay::utils::{Logical, Point, Rectangle};

use std::os::unix::net::UnixStream;

use crate::devices::DeviceId;
use crate::outputs::clock::Clock;
use crate::outputs::output::OutputSlot;
pub use crate::outputs::output::OutputStats;
use crate::render::Renderer;
use crate::Weft;

impl Weft {
    /// The Wayland display weft serves clients on.
    pub fn display_handle(&self) -> &DisplayHandle {
        self.runtime.display_handle()
    }

    /// Sends what is queued for every client; a failure is logged, not fatal.
    pub fn flush_clients(&mut self) {
        self.runtime.flush_clients();
    }

    /// Serves a client on `stream` (accepted by the backend), recorded for `weft msg clients`;
    /// dispatched behind the per-client panic boundary like every client.
    pub fn insert_client(&mut self, stream: UnixStream) -> std::io::Result<ClientId> {
        Ok(self.runtime.insert_client(stream)?.id())
    }

    /// The clients connected now.
    pub fn clients(&self) -> &[Client] {
        self.runtime.clients()
    }

    /// Whether the event loop should go on (false after `weft msg quit` or a backend's stop).
    pub fn is_running(&self) -> bool {
        self.runtime.is_running()
    }

    /// Ends the event loop at its next turn.
    pub fn stop(&mut self) {
        self.runtime.stop();
    }

    /// What switches virtual terminals (`vt N` bindings): the session backend's seat session.
    pub fn set_vt_switch(&mut self, switch: Box<dyn FnMut(i32)>) {
        self.runtime.set_vt_switch(switch);
    }

    /// Output `index` can also be put in `modes` (a connector's: output configuration offers
    /// them).
    pub fn add_output_modes(&mut self, index: usize, modes: &[crate::outputs::output::OutputSpec]) {
        let Some(slot) = self.outputs.slots.get(index) else {
            return;
        };
        for spec in modes {
            slot.output.add_mode(smithay::output::Mode {
                size: (spec.width as i32, spec.height as i32).into(),
                refresh: spec.refresh_mhz as i32,
            });
        }
        self.announce_output_configuration();
    }

    /// Accepts `weft msg inject-fault` (`--fault-injection`; tests only).
    pub fn set_fault_injection(&mut self, on: bool) {
        self.runtime.set_fault_injection(on);
    }

    /// Whether `weft msg inject-fault` is accepted.
    pub fn fault_injection(&self) -> bool {
        self.runtime.fault_injection()
    }

    /// The WLCS 1.5.0 relaxation ([`crate::shell::Shell`]'s `accept_unconfigured_buffers`).
    pub fn accept_unconfigured_buffers(&mut self) {
        self.shell.accept_unconfigured_buffers = true;
    }

    /// How long a client may leave an xdg_wm_base ping unanswered before it is reported
    /// unresponsive; pings go out at least that often.
    pub fn set_ping_timeout(&mut self, timeout: std::time::Duration) {
        self.shell.pings.timeout = timeout;
        self.shell.pings.interval = self.shell.pings.interval.min(timeout);
    }

    /// Calls `listener` with each device event weft's hotplug listener takes in, after the device
    /// registry has (the DRM backend follows its cards and connectors so). Nothing is called
    /// under `--simulate-devices`, whose devices do not come and go by themselves.
    pub fn subscribe_device_events(&mut self, listener: crate::runtime::DeviceListener) {
        self.runtime.subscribe(listener);
    }

    /// The presentation clock.
    pub fn clock(&self) -> &Clock {
        &self.outputs.clock
    }

    /// seat0's pointer.
    pub fn pointer(&self) -> Option<PointerHandle<Weft>> {
        self.input.seat.get_pointer()
    }

    /// The outputs in the order they were added.
    pub fn outputs(&self) -> &[OutputSlot] {
        &self.outputs.slots
    }

    /// Output `index`, to update what the backend tracks of it.
    pub fn output_mut(&mut self, index: usize) -> Option<&mut OutputSlot> {
        self.outputs.slots.get_mut(index)
    }

    /// Bumped whenever anything visible changes; an output whose `rendered_generation` differs
    /// needs a frame.
    pub fn scene_generation(&self) -> u64 {
        self.outputs.scene_generation
    }

    /// The first render device's renderer (a window backend presents with it).
    pub fn renderer(&self) -> &Renderer {
        &self.gpu.first().renderer
    }

    /// Each output's rectangle in weft's global logical space, in output order.
    pub fn output_areas(&self) -> Vec<Rectangle<i32, Logical>> {
        self.outputs
            .slots
            .iter()
            .map(|slot| {
                self.shell
                    .space
                    .output_geometry(&slot.output)
                    .unwrap_or_else(|| Rectangle::from_size(slot.logical_size()))
            })
            .collect()
    }

    /// Tells the device registry which display devices drive outputs now, in output order: the
    /// import planner judges the scanout rung against them (`weft msg devices`: `display`).
    pub fn note_display_devices(&mut self) {
        let mut driven: Vec<DeviceId> = Vec::new();
        for id in self
            .outputs
            .slots
            .iter()
            .filter_map(|o| o.display_device.clone())
        {
            if !driven.contains(&id) {
                driven.push(id);
            }
        }
        self.devices.set_driven_displays(driven);
    }

    /// Moves the mapped toplevel of `client`'s wl_surface `surface` (a protocol id) to `at`
    /// (tests and the WLCS shim place windows). Returns whether there was such a toplevel.
    pub fn place_toplevel(
        &mut self,
        client: ClientId,
        surface: u32,
        at: Point<i32, Logical>,
    ) -> bool {
        let dh = self.runtime.display_handle().clone();
        let Ok(object) =
            dh.backend_handle()
                .object_for_protocol_id(client, WlSurface::interface(), surface)
        else {
            return false;
        };
        let Ok(surface) = WlSurface::from_id(&dh, object) else {
            return false;
        };
        let Some(window) = self
            .shell
            .space
            .elements()
            .find(|w| w.toplevel().is_some_and(|t| t.wl_surface() == &surface))
            .cloned()
        else {
            return false;
        };
        self.shell.space.map_element(window, at, false);
        // The pointer may now be over another surface: re-deliver its position (enter/leave).
        if let Some(pointer) = self.input.seat.get_pointer() {
            let time = self.input_time_ms();
            self.pointer_motion(pointer.current_location(), time);
        }
        self.damage();
        true
    }
}
