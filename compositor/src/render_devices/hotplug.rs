//! Devices coming and going while weft runs.
//!
//! The kernel's uevents ([`crate::devices::uevent`]) wake the registry, which probes again and says
//! what changed. Then:
//! - the render device is gone: the renderer is rebuilt on whatever the policy chooses now
//!   ([`crate::render_devices::recovery`]; a rebuild that finds nothing retries at the next frame);
//! - any other device came or went: every surface is planned again (a removed source's buffers take
//!   the next rung that works; a new device may open a cheaper one), and the imports that were
//!   about the old set are dropped.
//!
//! A device removal is expected: logged at info, never an error. Tests remove devices of a
//! simulated topology through `weft msg simulate-removal ID` (with `--fault-injection`).

use calloop::PostAction;
use tracing::{debug, info};

use crate::devices::registry::Change;
use crate::devices::uevent;
use crate::Weft;

impl Weft {
    /// Render devices after the first that were removed: their outputs move to the first device
    /// (a new target there), and what they drew is dropped.
    fn drop_removed_render_devices(&mut self, removed: &[crate::devices::DeviceId]) {
        for gone in self.gpu.remove_others(removed) {
            info!(device = %gone.id, "a further render device was removed; its outputs move to the first");
        }
        let first = self.gpu.first();
        for slot in &mut self.outputs.slots {
            if self.gpu.get(&slot.device).is_some() {
                continue;
            }
            slot.device = first.id.clone();
            match first
                .renderer
                .create_target(slot.spec.width, slot.spec.height)
            {
                Ok(t) => slot.set_target(t),
                Err(e) => {
                    tracing::warn!(error = %e, "no target for a moved output; it stays dark");
                }
            }
        }
    }

    /// Listens for hotplug events on the kernel's uevent socket: weft's one hotplug listener.
    pub fn watch_devices(&mut self) {
        let fd = match uevent::socket() {
            Ok(fd) => fd,
            Err(e) => {
                info!(error = %e, "no uevent socket: devices are not followed while weft runs");
                return;
            }
        };
        let inserted = self.runtime.loop_handle().insert_source(
            uevent::source(fd),
            |_, fd, state: &mut Weft| {
                let events = uevent::drain(fd);
                if !events.is_empty() {
                    debug!(?events, "device events");
                    let change = state.devices.rescan();
                    state.devices_changed(&change);
                    // Then the backends that follow devices (the registry is current now).
                    let mut listeners = state.runtime.take_listeners();
                    for event in &events {
                        for listener in &mut listeners {
                            listener(state, event);
                        }
                    }
                    state.runtime.restore_listeners(listeners);
                }
                Ok(PostAction::Continue)
            },
        );
        if let Err(e) = inserted {
            info!(error = %e, "cannot watch uevents: devices are not followed while weft runs");
        }
    }

    /// Brings weft in line with a change of the device set.
    pub fn devices_changed(&mut self, change: &Change) {
        if change.is_empty() {
            return;
        }
        let render = self.devices.render_id();
        if change.removed.contains(&render) {
            info!(device = %render, "the render device was removed");
            if self.rebuild_renderer(&format!("render device {render} removed")) {
                return;
            }
        }
        self.drop_removed_render_devices(&change.removed);
        let surfaces = self.replan_all();
        info!(
            added = ?change.added,
            removed = ?change.removed,
            surfaces,
            "devices changed: every surface planned again"
        );
    }
}
