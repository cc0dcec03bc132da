//! Devices coming and going while weft runs.
//!
//! The kernel's uevents ([`crate::devices::uevent`]) wake the registry, which probes again and says
//! what changed. Then:
//! - the render device is gone: the renderer is rebuilt on whatever the policy chooses now
//!   ([`crate::recovery`]; a rebuild that finds nothing retries at the next frame);
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
use crate::render::RenderError;
use crate::state::Weft;

impl Weft {
    /// Listens for hotplug events on the kernel's uevent socket.
    pub fn watch_devices(&mut self) {
        let fd = match uevent::socket() {
            Ok(fd) => fd,
            Err(e) => {
                info!(error = %e, "no uevent socket: devices are not followed while weft runs");
                return;
            }
        };
        let inserted =
            self.loop_handle
                .insert_source(uevent::source(fd), |_, fd, state: &mut Weft| {
                    let events = uevent::drain(fd);
                    if !events.is_empty() {
                        debug!(?events, "device events");
                        let change = state.devices.rescan();
                        state.devices_changed(&change);
                    }
                    Ok(PostAction::Continue)
                });
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
            let why = RenderError::Setup(format!("render device {render} removed"));
            if self.rebuild_renderer(&why) {
                return;
            }
        }
        let surfaces = self.replan_all();
        info!(
            added = ?change.added,
            removed = ?change.removed,
            surfaces,
            "devices changed: every surface planned again"
        );
    }
}
