//! Weft's outputs: adding them (each a smithay [`Output`] with its render target), mode changes,
//! rendering one now. The types are [`crate::outputs::output`]'s.

pub mod clock;
pub mod display_control;
pub mod fractional_scale;
pub mod frame;
pub mod management;
pub mod output;
pub mod power;
pub mod scale;
pub mod scanout;
pub mod scene;
pub mod screenshot;
pub mod transform;
pub mod wake;

use smithay::output::{Mode, Output, PhysicalProperties, Scale, Subpixel};
use smithay::reexports::wayland_protocols::xdg::shell::server::xdg_toplevel;
use smithay::reexports::wayland_server::DisplayHandle;
use smithay::utils::Transform;

use crate::devices::DeviceId;
use crate::outputs::output::{OutputSlot, OutputSpec};
use crate::render::{RenderError, Renderer};
use crate::Weft;

/// Why a display device's buffer cannot be an output's copy destination.
#[derive(Debug, thiserror::Error)]
pub enum DestinationError {
    #[error("no output {0}")]
    NoOutput(usize),
    #[error("output {0}'s render device is gone")]
    NoRenderDevice(usize),
    #[error(transparent)]
    Import(#[from] crate::render::ImportError),
}

impl Weft {
    /// Adds an output named `name`, advertises it and places it right of the existing ones.
    pub fn add_output(&mut self, name: &str, spec: OutputSpec) -> Result<usize, RenderError> {
        self.add_output_with_model(name, "headless", spec)
    }

    /// As [`Weft::add_output`], with the model wl_output reports (the backend's name).
    pub fn add_output_with_model(
        &mut self,
        name: &str,
        model: &str,
        spec: OutputSpec,
    ) -> Result<usize, RenderError> {
        // Round-robin over the render devices, first first.
        let device = self
            .gpu
            .nth_round_robin(self.outputs.slots.len())
            .id
            .clone();
        let target = self
            .renderer_for(&device)
            .create_target(spec.width, spec.height)?;
        let output = new_output(self.runtime.display_handle(), name, model, spec);
        let global = output.create_global::<Self>(self.runtime.display_handle());
        let x: i32 = self.outputs.slots.iter().map(|o| o.spec.width as i32).sum();
        output.change_current_state(None, None, None, Some((x, 0).into()));
        self.shell.space.map_output(&output, (x, 0));
        self.outputs.slots.push(OutputSlot {
            output,
            global: Some(global),
            spec,
            target,
            seq: 0,
            rendered: 0,
            last_present: None,
            rendered_generation: None,
            rendered_lifted: None,
            device,
            damage: Default::default(),
            damaged_pixels: 0,
            changed: Vec::new(),
            held_feedback: None,
            display_device: None,
            display_stats: None,
            frame_path: Default::default(),
            draws_cursor: false,
            position: None,
            scale: 1.0,
            transform: Transform::Normal,
            enabled: true,
            shown_generation: None,
        });
        self.damage();
        self.announce_output_configuration();
        Ok(self.outputs.slots.len() - 1)
    }

    /// Output `index`'s last frame copied into `dst` (BGRA rows of `pitch` bytes: a scanout
    /// buffer).
    pub fn read_output_into(
        &mut self,
        index: usize,
        dst: &mut [u8],
        pitch: usize,
    ) -> Result<(), RenderError> {
        let (renderer, slot) = self
            .renderer_and_slot(index)
            .ok_or(RenderError::NoOutput(index))?;
        renderer.read_target_into(&slot.target, dst, pitch)
    }

    /// Takes output `index` away (its connector was unplugged, its device unbound): its global is
    /// withdrawn, feedback held for its frames is discarded (those frames were never seen), the
    /// outputs right of it move left, and windows that were only on it are moved onto the first
    /// output left so they stay visible.
    pub fn remove_output(&mut self, index: usize) {
        if index >= self.outputs.slots.len() {
            return;
        }
        let mut slot = self.outputs.slots.remove(index);
        self.close_layers(&slot.output);
        for feedback in slot.held_feedback.take().unwrap_or_default() {
            feedback.discarded();
        }
        self.shell.space.unmap_output(&slot.output);
        if let Some(global) = slot.global.take() {
            self.runtime.display_handle().remove_global::<Self>(global);
        }
        self.relayout_outputs();
        self.refill_toplevels();
        self.rescue_stranded_windows();
        self.damage();
    }

    /// Windows no output shows any more (theirs went or was turned off) move to the first output
    /// shown, so they stay visible.
    pub(crate) fn rescue_stranded_windows(&mut self) {
        let shown: Vec<_> = self
            .outputs
            .slots
            .iter()
            .filter_map(|o| self.shell.space.output_geometry(&o.output))
            .collect();
        let stranded: Vec<_> = self
            .shell
            .space
            .elements()
            .filter(|w| {
                self.shell
                    .space
                    .element_geometry(w)
                    .is_some_and(|g| !shown.iter().any(|o| o.overlaps(g)))
            })
            .cloned()
            .collect();
        if let Some(origin) = shown.first().map(|g| g.loc) {
            for window in stranded {
                self.shell.space.map_element(window, origin, false);
            }
        }
    }

    /// Places the outputs where the configuration puts them, the others left to right in their
    /// order after the rightmost edge so far (from x = 0).
    pub(crate) fn relayout_outputs(&mut self) {
        let mut x = 0;
        for slot in self.outputs.slots.iter().filter(|s| s.enabled) {
            let (ox, oy) = slot.position.unwrap_or((x, 0));
            slot.output
                .change_current_state(None, None, None, Some((ox, oy).into()));
            self.shell.space.map_output(&slot.output, (ox, oy));
            x = x.max(ox + slot.logical_size().w);
        }
        self.announce_output_configuration();
    }

    /// Imports `fd` (a dma-buf of `size` bytes: a display device's scanout buffer) on the render
    /// device composing output `index`, as the destination of [`Weft::copy_output_into`].
    pub fn import_output_destination(
        &self,
        index: usize,
        fd: std::os::fd::BorrowedFd<'_>,
        size: u64,
    ) -> Result<crate::render::external::ImportedBuffer, DestinationError> {
        let slot = self
            .outputs
            .slots
            .get(index)
            .ok_or(DestinationError::NoOutput(index))?;
        let device = self
            .gpu
            .get(&slot.device)
            .map(|d| d.renderer.device())
            .ok_or(DestinationError::NoRenderDevice(index))?;
        Ok(crate::render::external::ImportedBuffer::import(
            device,
            fd,
            size,
            ash::vk::BufferUsageFlags::TRANSFER_DST,
        )?)
    }

    /// Output `index`'s last frame copied by its render device into `dst` (imported with
    /// [`Weft::import_output_destination`]), rows of `pitch` bytes.
    pub fn copy_output_into(
        &mut self,
        index: usize,
        dst: &crate::render::external::ImportedBuffer,
        pitch: u32,
    ) -> Result<(), RenderError> {
        let (renderer, slot) = self
            .renderer_and_slot(index)
            .ok_or(RenderError::NoOutput(index))?;
        renderer.copy_target_into(&slot.target, dst, pitch)
    }

    /// Gives output `index` a new size (its nested window was resized): a new render target, the new
    /// mode advertised (wl_output.mode and done, through smithay), outputs right of it moved, and
    /// maximized or fullscreen toplevels reconfigured to fill the first output, as
    /// `set_fill_state` sized them.
    pub fn resize_output(
        &mut self,
        index: usize,
        width: u32,
        height: u32,
    ) -> Result<(), RenderError> {
        let Some(slot) = self.outputs.slots.get(index) else {
            return Ok(());
        };
        if (slot.spec.width, slot.spec.height) == (width, height) {
            return Ok(());
        }
        let target = self
            .renderer_for(&slot.device)
            .create_target(width, height)?;
        let Some(slot) = self.outputs.slots.get_mut(index) else {
            return Ok(());
        };
        let old_mode = slot.output.current_mode();
        slot.spec.width = width;
        slot.spec.height = height;
        slot.set_target(target);
        let mode = Mode {
            size: (width as i32, height as i32).into(),
            refresh: slot.spec.refresh_mhz as i32,
        };
        slot.output.add_mode(mode);
        slot.output.set_preferred(mode);
        slot.output
            .change_current_state(Some(mode), None, None, None);
        if let Some(old) = old_mode.filter(|m| *m != mode) {
            slot.output.delete_mode(old);
        }
        self.relayout_outputs();
        self.refill_toplevels();
        self.damage();
        Ok(())
    }

    /// Sends maximized and fullscreen toplevels a configure with the current size of the output
    /// they fill ([`Weft::fill_area`]); they move to its origin at their next commit. Every
    /// toplevel whose bounds changed (xdg_toplevel.configure_bounds) is told them.
    pub(crate) fn refill_toplevels(&mut self) {
        let toplevels = self.toplevels();
        let bounds = self.toplevel_bounds();
        for toplevel in toplevels {
            let size = self.fill_area(&toplevel).1;
            let changed = toplevel.with_pending_state(|state| {
                let filled = state.states.contains(xdg_toplevel::State::Maximized)
                    || state.states.contains(xdg_toplevel::State::Fullscreen);
                if filled {
                    state.size = size;
                }
                let bounded = state.bounds != bounds;
                state.bounds = bounds;
                filled || bounded
            });
            if changed && toplevel.is_initial_configure_sent() {
                self.shell.xdg_guard.send_configure(&toplevel);
            }
        }
    }

    pub fn output_index(&self, name: &str) -> Option<usize> {
        self.outputs.slots.iter().position(|o| o.name() == name)
    }

    /// Output `name`'s place and slot.
    pub(crate) fn slot_named_mut(&mut self, name: &str) -> Option<(usize, &mut OutputSlot)> {
        let index = self.output_index(name)?;
        Some((index, self.outputs.slots.get_mut(index)?))
    }

    pub(crate) fn renderer_and_slot(
        &mut self,
        index: usize,
    ) -> Option<(&mut Renderer, &OutputSlot)> {
        let slot = self.outputs.slots.get(index)?;
        let renderer = &mut self.gpu.get_mut(&slot.device)?.renderer;
        Some((renderer, slot))
    }

    /// The renderer that composes output `index` (the first device's when there is no such output).
    pub fn renderer_of(&self, index: usize) -> &Renderer {
        match self.outputs.slots.get(index) {
            Some(slot) => self.renderer_for(&slot.device),
            None => &self.gpu.first().renderer,
        }
    }

    /// The renderer of render device `device` (see [`OutputSlot::device`]).
    fn renderer_for(&self, device: &DeviceId) -> &Renderer {
        &self.gpu.or_first(device).renderer
    }
}

fn new_output(_dh: &DisplayHandle, name: &str, model: &str, spec: OutputSpec) -> Output {
    let output = Output::new(
        name.to_string(),
        PhysicalProperties {
            size: (0, 0).into(),
            subpixel: Subpixel::Unknown,
            make: "weft".into(),
            model: model.into(),
        },
    );
    let mode = Mode {
        size: (spec.width as i32, spec.height as i32).into(),
        refresh: spec.refresh_mhz as i32,
    };
    output.add_mode(mode);
    output.set_preferred(mode);
    output.change_current_state(
        Some(mode),
        Some(Transform::Normal),
        Some(Scale::Integer(1)),
        None,
    );
    output
}
