//! A KMS output configured while it runs ([`weft_compositor::outputs::display_control`]): another
//! mode of its connector (tested with an atomic TEST_ONLY modeset on buffers of the new size,
//! then put in force by a modeset carrying the next frame), and its CRTC switched off and on.
//!
//! A mode asked for while a flip is queued waits for that flip to complete: the modeset then
//! replaces the frame that would have followed, and the old buffers are freed only once the
//! CRTC no longer reads them.

use smithay::backend::drm::{DrmDeviceFd, PlaneConfig, PlaneState};
use smithay::reexports::drm::control::Mode;
use smithay::utils::{Rectangle, Transform};
use tracing::info;
use weft_compositor::outputs::display_control::DisplayChange;
use weft_compositor::outputs::scanout::ScanoutOutcome;
use weft_compositor::{OutputSpec, Weft};

use super::{import_on_render_device, mode_refresh_mhz, KmsOutput, Loop, Scanout};
use crate::drm::error::ShowError;

impl KmsOutput {
    /// Tests (`test_only`) or carries out `change`.
    pub(in crate::drm) fn configure(
        &mut self,
        state: &mut Weft,
        fd: &DrmDeviceFd,
        handle: &Loop,
        change: &DisplayChange,
        test_only: bool,
    ) -> Result<(), String> {
        if let Some(spec) = change.mode {
            let mode = self.connector_mode(&spec)?;
            let buffers = [self.new_scanout(fd, mode)?, self.new_scanout(fd, mode)?];
            let tested = self.test_mode(mode, &buffers[0]);
            if test_only || tested.is_err() {
                for b in buffers {
                    b.destroy(fd);
                }
                tested?;
            } else if self.flipping {
                // After the queued flip ([`KmsOutput::show`] takes it up).
                if let Some((_, old)) = self.pending_mode.replace((mode, buffers)) {
                    for b in old {
                        b.destroy(fd);
                    }
                }
            } else {
                self.put_mode(state, fd, handle, mode, buffers)
                    .map_err(|e| format!("{}: {e}", self.name))?;
            }
        }
        match change.enabled {
            _ if test_only => {}
            Some(false) if !self.off => self.power_off(state, fd),
            Some(true) if self.off => {
                self.off = false;
                self.flipping = false;
                // smithay's surface kept its connectors and mode: the modeset relights them.
                self.show(state, fd, handle, true)
                    .map_err(|e| format!("{}: lighting it again: {e}", self.name))?;
                info!(output = %self.name, "output on: CRTC lit again");
            }
            _ => {}
        }
        Ok(())
    }

    /// The connector's mode of `spec`'s size whose refresh is nearest `spec`'s (within 1 Hz).
    fn connector_mode(&self, spec: &OutputSpec) -> Result<Mode, String> {
        self.modes
            .iter()
            .filter(|m| {
                let (w, h) = m.size();
                (u32::from(w), u32::from(h)) == (spec.width, spec.height)
            })
            .map(|m| (mode_refresh_mhz(m).abs_diff(spec.refresh_mhz), *m))
            .filter(|(off, _)| *off < 1000)
            .min_by_key(|(off, _)| *off)
            .map(|(_, m)| m)
            .ok_or_else(|| {
                format!(
                    "{}: {}x{}@{:.3} is not a mode of its connector",
                    self.name,
                    spec.width,
                    spec.height,
                    f64::from(spec.refresh_mhz) / 1000.0
                )
            })
    }

    fn new_scanout(&self, fd: &DrmDeviceFd, mode: Mode) -> Result<Scanout, String> {
        let (w, h) = mode.size();
        Scanout::new(fd, (u32::from(w), u32::from(h))).map_err(|e| e.to_string())
    }

    /// Whether the CRTC takes `mode` showing `buffer` (an atomic TEST_ONLY modeset); the mode
    /// in force stays.
    fn test_mode(&self, mode: Mode, buffer: &Scanout) -> Result<(), String> {
        let current = self.surface.pending_mode();
        self.surface
            .use_mode(mode)
            .map_err(|e| format!("{}: {e}", self.name))?;
        let (w, h) = mode.size();
        let plane = PlaneState {
            handle: self.surface.plane(),
            config: Some(PlaneConfig {
                src: Rectangle::from_size((f64::from(w), f64::from(h)).into()),
                dst: Rectangle::from_size((i32::from(w), i32::from(h)).into()),
                transform: Transform::Normal,
                alpha: 1.0,
                damage_clips: None,
                fb: buffer.fb,
                fence: None,
            }),
        };
        let tested = self.surface.test_state([plane], true);
        // What is pending goes back to what is shown.
        let _ = self.surface.use_mode(current);
        tested.map_err(|e| format!("{}: the display refuses the mode: {e}", self.name))
    }

    /// Puts `mode` in force with `buffers` of its size: weft's output takes the new size, the
    /// next frame is drawn into the new buffers and shown by a modeset, then the old buffers
    /// are freed.
    pub(super) fn put_mode(
        &mut self,
        state: &mut Weft,
        fd: &DrmDeviceFd,
        handle: &Loop,
        mode: Mode,
        buffers: [Scanout; 2],
    ) -> Result<(), ShowError> {
        let index = self.index(state)?;
        self.surface.use_mode(mode).map_err(ShowError::Queue)?;
        let (w, h) = mode.size();
        let size = (u32::from(w), u32::from(h));
        let spec = OutputSpec {
            width: size.0,
            height: size.1,
            refresh_mhz: mode_refresh_mhz(&mode),
        };
        state
            .display_mode_changed(index, spec)
            .map_err(ShowError::CopyIntoDisplayBuffer)?;
        let mut buffers = buffers;
        // The render device writes the new buffers where it could the old ones.
        let imports = self.buffers.iter().all(|b| b.imported.is_some());
        if imports {
            for b in &mut buffers {
                b.imported = import_on_render_device(state, fd, index, &b.buffer).ok();
            }
            if buffers.iter().any(|b| b.imported.is_none()) {
                for b in &mut buffers {
                    b.imported = None;
                }
            }
        }
        let old = std::mem::replace(&mut self.buffers, buffers);
        self.size = size;
        self.back = 0;
        self.client_fbs.clear();
        let shown = self.show(state, fd, handle, true);
        // The modeset is done: the CRTC reads the new buffers.
        for b in old {
            b.destroy(fd);
        }
        info!(output = %self.name, width = size.0, height = size.1, refresh_mhz = spec.refresh_mhz, "modeset: output in its new mode");
        shown
    }

    /// Switches the CRTC off: nothing is flipped until it is lit again; the client buffers it
    /// showed are let go once a queued flip completes ([`KmsOutput::flip_done`]).
    fn power_off(&mut self, state: &mut Weft, _fd: &DrmDeviceFd) {
        for surface in self
            .scanned_surface
            .take()
            .iter()
            .chain(&self.lifted_surface.take())
        {
            state.record_scanout(
                surface,
                ScanoutOutcome::Composed("its output is off".into()),
            );
        }
        if let Err(e) = self.surface.clear() {
            tracing::warn!(output = %self.name, error = %e, "CRTC not switched off");
        }
        self.off = true;
        if !self.flipping {
            self.on_screen.clear();
        }
        info!(output = %self.name, "output off: CRTC switched off");
    }
}
