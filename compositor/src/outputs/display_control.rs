//! Output configuration that a display backend carries out: a KMS output's mode (a modeset) and
//! its power (the CRTC off and on). The core decides what is asked — zwlr_output_manager_v1,
//! `weft msg output`, the configuration file — and asks the backend that drives the output,
//! first as a test (nothing changes: a TEST_ONLY commit), then for real. The backend reports a
//! mode it put in force with [`Weft::display_mode_changed`].

use std::rc::Rc;

use smithay::output::Mode;

use crate::outputs::output::OutputSpec;
use crate::render::RenderError;
use crate::Weft;

/// What is asked of an output's display.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DisplayChange {
    /// A mode of its connector (size and refresh in mHz).
    pub mode: Option<OutputSpec>,
    /// On or off.
    pub enabled: Option<bool>,
}

/// A display backend's side of output configuration ([`Weft::set_display_control`]).
pub trait DisplayControl {
    /// Tests (`test_only`: nothing changes) or carries out `change` of the output named
    /// `output`; `Err` says why the display cannot.
    fn configure(
        &self,
        state: &mut Weft,
        output: &str,
        change: &DisplayChange,
        test_only: bool,
    ) -> Result<(), String>;
}

impl Weft {
    /// The display backend that carries out output configuration of the outputs it drives.
    pub fn set_display_control(&mut self, control: Rc<dyn DisplayControl>) {
        self.outputs.display_control = Some(control);
    }

    /// Asks the backend driving output `name` to test or carry out `change`.
    pub(crate) fn configure_display(
        &mut self,
        name: &str,
        change: &DisplayChange,
        test_only: bool,
    ) -> Result<(), String> {
        let Some(control) = self.outputs.display_control.clone() else {
            return Err(format!("{name}: no display backend configures it"));
        };
        control.configure(self, name, change, test_only)
    }

    /// Puts output `index` in mode `spec`: a KMS output's display tests it, then modesets (the
    /// mode must be one of its connector's); an output weft sizes itself takes any size.
    pub fn set_output_mode(&mut self, index: usize, spec: OutputSpec) -> Result<(), String> {
        let Some(slot) = self.outputs.slots.get(index) else {
            return Err(format!("no output {index}"));
        };
        let name = slot.name();
        if slot.display_device.is_none() {
            if slot.draws_cursor {
                return Err(format!("{name}: its size is set by its window"));
            }
            return self
                .resize_output(index, spec.width, spec.height)
                .map_err(|e| format!("{name}: {e}"));
        }
        let change = DisplayChange {
            mode: Some(spec),
            enabled: None,
        };
        self.configure_display(&name, &change, true)?;
        self.configure_display(&name, &change, false)
    }

    /// The display backend put output `index` in `spec`'s mode (a modeset): a render target of
    /// the new size, the current mode advertised (the connector's modes stay), the layout and
    /// filled windows follow.
    pub fn display_mode_changed(
        &mut self,
        index: usize,
        spec: OutputSpec,
    ) -> Result<(), RenderError> {
        let Some(slot) = self.outputs.slots.get(index) else {
            return Err(RenderError::NoOutput(index));
        };
        let device = slot.device.clone();
        let target = self
            .gpu
            .or_first(&device)
            .renderer
            .create_target(spec.width, spec.height)?;
        let Some(slot) = self.outputs.slots.get_mut(index) else {
            return Err(RenderError::NoOutput(index));
        };
        slot.spec = spec;
        slot.set_target(target);
        let mode = Mode {
            size: (spec.width as i32, spec.height as i32).into(),
            refresh: spec.refresh_mhz as i32,
        };
        if !slot.output.modes().contains(&mode) {
            slot.output.add_mode(mode);
        }
        slot.output
            .change_current_state(Some(mode), None, None, None);
        tracing::info!(output = %slot.name(), width = spec.width, height = spec.height, refresh_mhz = spec.refresh_mhz, "output mode set");
        self.relayout_outputs();
        self.refill_toplevels();
        self.damage();
        Ok(())
    }
}
