//! The seat's KMS devices as they come and go: shared by their flip events, udev's hotplug events
//! and the session's pause/resume.
//!
//! - A device **added** (udev `add` of a `card*` node) is opened through the session, its
//!   connected connectors lit and its flip events put in the loop.
//! - A device **changed** (udev `change`: the kernel's hotplug uevent, a connector plugged or
//!   unplugged) is rescanned: outputs whose connector went away leave weft, newly connected
//!   connectors are lit.
//! - A device **removed** (unbound from its driver, unplugged) takes its outputs with it; its flip
//!   events leave the loop.
//!
//! Devices are known by their device number (udev's id), never by their place in a list, so a
//! device going away does not misdirect another's flip events.

use std::cell::RefCell;
use std::path::Path;
use std::rc::Rc;

use calloop::LoopHandle;
use smithay::backend::drm::{DrmEvent, DrmEventMetadata, DrmEventTime};
use smithay::backend::session::libseat::LibSeatSession;
use smithay::backend::udev::UdevEvent;
use weft_compositor::devices::uevent::UEvent;
use smithay::reexports::drm::control::crtc;
use smithay::reexports::wayland_protocols::wp::presentation_time::server::wp_presentation_feedback::Kind;
use tracing::{debug, info, warn};
use weft_compositor::{OutputSpec, Weft};

use super::kms::{DevId, KmsDevice};

/// The KMS devices, and what a hotplugged one needs to be opened and lit.
#[derive(Clone)]
pub struct Devices(Rc<RefCell<Inner>>);

struct Inner {
    devices: Vec<KmsDevice>,
    session: LibSeatSession,
    /// Sizes asked for with `--output`: a hotplugged connector is lit at one too where it can be.
    wanted: Vec<OutputSpec>,
    handle: LoopHandle<'static, Weft>,
}

impl Devices {
    pub fn new(
        session: LibSeatSession,
        wanted: Vec<OutputSpec>,
        handle: LoopHandle<'static, Weft>,
    ) -> Self {
        Self(Rc::new(RefCell::new(Inner {
            devices: Vec::new(),
            session,
            wanted,
            handle,
        })))
    }

    /// Opens the card node `path` (device number `id`), lights its connectors and puts its flip
    /// events in the loop. `Ok(None)`: a device without KMS (render-only); otherwise the
    /// connectors that could not be lit.
    pub fn add(
        &self,
        state: &mut Weft,
        id: DevId,
        path: &Path,
    ) -> Result<Option<Vec<super::kms::KmsError>>, super::kms::KmsError> {
        let mut inner = self.0.borrow_mut();
        if inner.devices.iter().any(|d| d.id == id) {
            return Ok(Some(Vec::new()));
        }
        let Some(mut device) = KmsDevice::open(&mut inner.session, id, path)? else {
            debug!(device = %path.display(), "no CRTCs or connectors: not a display device");
            return Ok(None);
        };
        let failed = device.rescan(state, &inner.wanted, &inner.handle);
        if let Some(notifier) = device.notifier.take() {
            let devices = self.clone();
            let token = inner
                .handle
                .insert_source(notifier, move |event, meta, state| match event {
                    DrmEvent::VBlank(crtc) => devices.flipped(state, id, crtc, meta.as_ref()),
                    DrmEvent::Error(e) => warn!(error = %e, "DRM device error"),
                })
                .map_err(|e| {
                    super::kms::KmsError::Device(path.display().to_string(), e.to_string())
                })?;
            device.token = Some(token);
        }
        info!(device = %device.name(), outputs = device.outputs.len(), "KMS device added");
        inner.devices.push(device);
        state.note_display_devices();
        Ok(Some(failed))
    }

    /// How many outputs the devices light now.
    pub fn outputs(&self) -> usize {
        self.0
            .borrow()
            .devices
            .iter()
            .map(|d| d.outputs.len())
            .sum()
    }

    pub fn names(&self) -> Vec<String> {
        let inner = self.0.borrow();
        inner.devices.iter().map(|d| d.name().to_string()).collect()
    }

    /// A card of this seat came, changed (a connector plugged or unplugged) or went.
    pub fn card_event(&self, state: &mut Weft, event: UdevEvent) {
        match event {
            UdevEvent::Added { device_id, path } => {
                let is_card = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("card"));
                if !is_card {
                    return;
                }
                match self.add(state, device_id, &path) {
                    Ok(Some(failed)) => {
                        for e in failed {
                            warn!(error = %e, "hotplugged connector not lit");
                        }
                    }
                    Ok(None) => {}
                    Err(e) => warn!(error = %e, "hotplugged device not used"),
                }
            }
            UdevEvent::Changed { device_id } => {
                let mut inner = self.0.borrow_mut();
                let wanted = inner.wanted.clone();
                let handle = inner.handle.clone();
                let Some(device) = inner.devices.iter_mut().find(|d| d.id == device_id) else {
                    return;
                };
                if !device.drm.is_active() {
                    // Paused: the outputs are brought in line when the session is back.
                    return;
                }
                debug!(device = %device.name(), "hotplug event: connectors rescanned");
                for e in device.rescan(state, &wanted, &handle) {
                    warn!(error = %e, "hotplugged connector not lit");
                }
            }
            UdevEvent::Removed { device_id } => {
                let mut inner = self.0.borrow_mut();
                let Some(at) = inner.devices.iter().position(|d| d.id == device_id) else {
                    return;
                };
                let mut device = inner.devices.remove(at);
                if let Some(token) = device.token.take() {
                    inner.handle.remove(token);
                }
                device.remove(state);
            }
        }
        state.note_display_devices();
        state.flush_clients();
    }

    /// The flip on `crtc` of device `id` completed: its frame is on screen now. Its feedback goes
    /// out with the kernel's timestamp, and the next frame is rendered and queued.
    fn flipped(
        &self,
        state: &mut Weft,
        id: DevId,
        crtc: crtc::Handle,
        meta: Option<&DrmEventMetadata>,
    ) {
        let mut inner = self.0.borrow_mut();
        let Some(dev) = inner.devices.iter_mut().find(|d| d.id == id) else {
            return;
        };
        if !dev.drm.is_active() {
            return;
        }
        let Some(output) = dev.outputs.iter_mut().find(|o| o.crtc == crtc) else {
            return;
        };
        output.flipping = false;
        output.flip_done();
        let zero_copy = if output.on_screen_zero_copy {
            Kind::ZeroCopy
        } else {
            Kind::empty()
        };
        let (time, kernel_seq, flags) = match meta {
            Some(DrmEventMetadata {
                time: DrmEventTime::Monotonic(t),
                sequence,
            }) => (
                *t,
                u64::from(*sequence),
                Kind::Vsync | Kind::HwClock | Kind::HwCompletion,
            ),
            // No kernel timestamp: ours, taken now.
            _ => (state.clock().now(), 0, Kind::Vsync | Kind::HwCompletion),
        };
        // The kernel's vblank count where the driver keeps one (virtio-gpu's is always 0);
        // otherwise one more per flip, so it never goes back.
        let seq = kernel_seq.max(output.last_seq + 1);
        output.last_seq = seq;
        if let Ok(index) = output.index(state) {
            state.presented(index, time, seq, flags | zero_copy);
        }
        drop(inner);
        self.show_next(state, id, crtc);
    }

    /// Renders and queues the next frame on `crtc` of device `id` (unless one is queued or the
    /// device is not weft's now), and follows up on what came of it ([`Self::shown`]).
    fn show_next(&self, state: &mut Weft, id: DevId, crtc: crtc::Handle) {
        let mut inner = self.0.borrow_mut();
        let handle = inner.handle.clone();
        let Some(dev) = inner.devices.iter_mut().find(|d| d.id == id) else {
            return;
        };
        if !dev.drm.is_active() {
            return;
        }
        let fd = dev.drm.device_fd().clone();
        let Some(output) = dev.outputs.iter_mut().find(|o| o.crtc == crtc) else {
            return;
        };
        if output.flipping || output.paced || output.off {
            return;
        }
        let Ok(index) = output.index(state) else {
            return;
        };
        // Nothing new to show: the output rests until something wakes it (`Self::wake`).
        if !output.has_pending_mode() && !state.output_wants_frame(index) {
            output.idle = true;
            return;
        }
        // No faster than the mode's refresh, even where the driver completes flips at once.
        let period = state
            .outputs()
            .get(index)
            .map_or(std::time::Duration::from_millis(16), |o| o.refresh_period());
        let early = output
            .last_queued
            .map(|t| t.elapsed())
            .filter(|e| *e + std::time::Duration::from_millis(1) < period);
        if let Some(elapsed) = early {
            output.paced = true;
            let devices = self.clone();
            let timer = calloop::timer::Timer::from_duration(period - elapsed);
            let inserted = handle.insert_source(timer, move |_, _, state| {
                devices.paced(id, crtc);
                devices.show_next(state, id, crtc);
                calloop::timer::TimeoutAction::Drop
            });
            if inserted.is_err() {
                output.paced = false;
            } else {
                return;
            }
        }
        let shown = output.show(state, &fd, &handle, false);
        if shown.is_ok() && output.flipping {
            output.last_queued = Some(std::time::Instant::now());
        }
        output.failed_frames = if shown.is_ok() {
            0
        } else {
            output.failed_frames + 1
        };
        let (name, failed) = (output.name.clone(), output.failed_frames);
        drop(inner);
        self.shown(id, crtc, &name, shown, failed);
        state.flush_clients();
    }

    /// The pacing timer of `crtc` on device `id` fired.
    fn paced(&self, id: DevId, crtc: crtc::Handle) {
        let mut inner = self.0.borrow_mut();
        let output = inner
            .devices
            .iter_mut()
            .filter(|d| d.id == id)
            .flat_map(|d| d.outputs.iter_mut())
            .find(|o| o.crtc == crtc);
        if let Some(output) = output {
            output.paced = false;
        }
    }

    /// Something may want a frame ([`Weft::set_frame_waker`]'s ping): every resting output that
    /// has something new to show shows it.
    pub fn wake(&self, state: &mut Weft) {
        state.frame_wake_taken();
        let resting: Vec<(DevId, crtc::Handle)> = {
            let inner = self.0.borrow();
            inner
                .devices
                .iter()
                .filter(|d| d.drm.is_active())
                .flat_map(|d| {
                    d.outputs
                        .iter()
                        .filter(|o| o.idle && !o.flipping && !o.paced)
                        .map(move |o| (d.id, o.crtc))
                })
                .collect()
        };
        for (id, crtc) in resting {
            self.show_next(state, id, crtc);
        }
    }

    /// What came of showing a frame on `crtc` of device `id`. A frame that could not be queued
    /// leaves nothing to complete, so no flip event would ever come: it is tried again shortly
    /// (a device that is no longer weft's, during a VT switch, is taken up at resume instead).
    fn shown(
        &self,
        id: DevId,
        crtc: crtc::Handle,
        name: &str,
        shown: Result<(), super::error::ShowError>,
        failed: u32,
    ) {
        let Err(e) = shown else {
            return;
        };
        let inner = self.0.borrow();
        let active = inner
            .devices
            .iter()
            .find(|d| d.id == id)
            .is_some_and(|d| d.drm.is_active());
        if !active || e.permission_denied() {
            debug!(output = %name, error = %e, "frame not shown: the device is not weft's now (VT switch)");
            return;
        }
        // Backing off: 100 ms, doubling up to 3.2 s while the device keeps refusing (bochs with
        // too little VRAM for two 1080p buffers refuses every flip with ENOMEM). Said once per
        // streak.
        let delay = std::time::Duration::from_millis(100 << failed.saturating_sub(1).min(5));
        if failed <= 1 {
            warn!(output = %name, error = %e, "frame not shown; trying again, less often while it fails");
        } else {
            debug!(output = %name, error = %e, failed, ?delay, "frame still not shown");
        }
        let devices = self.clone();
        let timer = calloop::timer::Timer::from_duration(delay);
        let inserted = inner.handle.insert_source(timer, move |_, _, state| {
            devices.show_next(state, id, crtc);
            calloop::timer::TimeoutAction::Drop
        });
        if let Err(e) = inserted {
            warn!(output = %name, error = %e, "no retry timer: the output waits for the next modeset");
        }
    }

    /// The session went away (VT switch): the devices stop being ours.
    pub fn pause(&self) {
        for dev in self.0.borrow_mut().devices.iter_mut() {
            dev.drm.pause();
        }
    }

    /// The session is back: the devices are taken again, connectors plugged or unplugged while
    /// away are caught up with, and every output is modeset with a fresh frame.
    pub fn activate(&self, state: &mut Weft) {
        let mut inner = self.0.borrow_mut();
        let wanted = inner.wanted.clone();
        let handle = inner.handle.clone();
        for dev in inner.devices.iter_mut() {
            if let Err(e) = dev.drm.activate(true) {
                warn!(device = %dev.name(), error = %e, "device not taken back");
                continue;
            }
            let fd = dev.drm.device_fd().clone();
            for output in &mut dev.outputs {
                if let Err(e) = output.surface.reset_state() {
                    debug!(output = %output.name, error = %e, "surface state not reset");
                }
                output.flipping = false;
                if let Err(e) = output.show(state, &fd, &handle, true) {
                    warn!(output = %output.name, error = %e, "output not lit again");
                }
            }
            for e in dev.rescan(state, &wanted, &handle) {
                warn!(error = %e, "connector not lit");
            }
        }
        state.note_display_devices();
        state.damage();
    }
}

impl weft_compositor::outputs::display_control::DisplayControl for Devices {
    /// Configures the output named `output` on the device that drives it.
    fn configure(
        &self,
        state: &mut Weft,
        output: &str,
        change: &weft_compositor::outputs::display_control::DisplayChange,
        test_only: bool,
    ) -> Result<(), String> {
        let mut inner = self.0.borrow_mut();
        let handle = inner.handle.clone();
        for dev in inner.devices.iter_mut() {
            if !dev.drm.is_active() {
                continue;
            }
            let fd = dev.drm.device_fd().clone();
            if let Some(out) = dev.outputs.iter_mut().find(|o| o.name == output) {
                return out.configure(state, &fd, &handle, change, test_only);
            }
        }
        Err(format!("{output}: no KMS device of weft's drives it now"))
    }
}

/// The card event in a device event of weft's hotplug listener, for a card node of `seat` (udev's
/// ID_SEAT, seat0 where udev says none), in the shape smithay's udev backend gives.
pub fn card_event(event: &UEvent, seat: &str) -> Option<UdevEvent> {
    let name = event.devname.as_deref()?.strip_prefix("dri/")?;
    if event.subsystem != "drm" || !name.starts_with("card") || name.contains('-') {
        return None;
    }
    let device_id = event.devnum?;
    if event.action != "remove" && seat_of(&event.devpath).as_deref().unwrap_or("seat0") != seat {
        return None;
    }
    match event.action.as_str() {
        "add" => Some(UdevEvent::Added {
            device_id,
            path: Path::new("/dev").join(event.devname.as_deref()?),
        }),
        "change" => Some(UdevEvent::Changed { device_id }),
        "remove" => Some(UdevEvent::Removed { device_id }),
        _ => None,
    }
}

/// The seat udev assigned the device at `devpath` (below /sys), where udev knows it.
fn seat_of(devpath: &str) -> Option<String> {
    let syspath = Path::new("/sys").join(devpath.trim_start_matches('/'));
    let device = smithay::reexports::udev::Device::from_syspath(&syspath).ok()?;
    let seat = device.property_value("ID_SEAT")?;
    Some(seat.to_string_lossy().into_owned())
}
