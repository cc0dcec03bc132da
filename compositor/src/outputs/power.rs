//! Turning outputs off and on (`weft msg output NAME --off`, zwlr_output_manager_v1's
//! `disable_head`, a configuration's `enabled = false`). An output turned off keeps its name,
//! mode, scale and transform, but is in no layout, is no wl_output global (clients see it go, as
//! when a monitor is unplugged), renders nothing and sends no frame callbacks; its layer surfaces
//! are closed and windows only it showed move to an output still on. Turned on, it comes back
//! where it was, drawn whole. A KMS output's CRTC is switched off and on by the display backend
//! ([`crate::outputs::display_control`]).

use tracing::info;

use crate::Weft;

/// Why an output cannot be turned off or on.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PowerError {
    #[error("no output {0}")]
    NoOutput(String),
    #[error("{0}")]
    Display(String),
}

impl Weft {
    /// Whether output `index` is on.
    pub fn output_enabled(&self, index: usize) -> bool {
        self.outputs.slots.get(index).is_some_and(|s| s.enabled)
    }

    /// Turns output `name` on or off.
    pub fn set_output_enabled(&mut self, name: &str, on: bool) -> Result<(), PowerError> {
        let (index, slot) = self
            .slot_named_mut(name)
            .ok_or_else(|| PowerError::NoOutput(name.to_string()))?;
        if slot.enabled == on {
            return Ok(());
        }
        let change = crate::outputs::display_control::DisplayChange {
            enabled: Some(on),
            ..Default::default()
        };
        let display = slot.display_device.is_some();
        // Its display goes dark before weft forgets the output; lit, after weft has it back.
        if display && !on {
            self.configure_display(name, &change, false)
                .map_err(PowerError::Display)?;
        }
        self.set_enabled(index, on);
        if display && on {
            if let Err(why) = self.configure_display(name, &change, false) {
                self.set_enabled(index, false);
                return Err(PowerError::Display(why));
            }
        }
        Ok(())
    }

    /// Output `index` on or off as weft sees it (its global, layout, layers, windows).
    fn set_enabled(&mut self, index: usize, on: bool) {
        let Some(slot) = self.outputs.slots.get_mut(index) else {
            return;
        };
        let name = slot.name();
        slot.enabled = on;
        if on {
            let global = slot
                .output
                .create_global::<Self>(self.runtime.display_handle());
            slot.global = Some(global);
            slot.damage_all();
            slot.changed = vec![slot.target.area()];
        } else {
            let output = slot.output.clone();
            let global = slot.global.take();
            // Frames it held feedback for were never seen.
            for feedback in slot.held_feedback.take().unwrap_or_default() {
                feedback.discarded();
            }
            self.close_layers(&output);
            self.shell.space.unmap_output(&output);
            if let Some(global) = global {
                self.runtime.display_handle().remove_global::<Self>(global);
            }
        }
        info!(output = %name, on, "output turned {}", if on { "on" } else { "off" });
        self.relayout_outputs();
        self.refill_toplevels();
        self.rescue_stranded_windows();
        self.damage();
    }
}
