//! One KMS device: its connectors lit at a mode each by atomic modesetting, and each output's frames
//! shown through two dumb buffers, flipped on the CRTC's primary plane and paced by the flips'
//! completion events.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use calloop::LoopHandle;
use smithay::backend::drm::{
    DrmDevice, DrmDeviceFd, DrmEvent, DrmEventMetadata, DrmEventTime, DrmSurface, PlaneConfig,
    PlaneState,
};
use smithay::backend::session::libseat::LibSeatSession;
use smithay::backend::session::Session;
use smithay::reexports::drm::buffer::{Buffer as _, DrmFourcc};
use smithay::reexports::drm::control::dumbbuffer::DumbBuffer;
use smithay::reexports::drm::control::{
    connector, crtc, framebuffer, Device as ControlDevice, Mode, ModeTypeFlags,
};
use smithay::reexports::rustix::fs::OFlags;
use smithay::reexports::wayland_protocols::wp::presentation_time::server::wp_presentation_feedback::Kind;
use smithay::utils::{DeviceFd, Rectangle, Transform};
use tracing::{debug, info, warn};
use weft_compositor::{OutputSpec, Weft};

use crate::server::ServerError;

#[derive(Debug, thiserror::Error)]
pub enum KmsError {
    #[error("{0}: {1}")]
    Device(String, String),
    #[error("output {0}: {1}")]
    Output(String, String),
}

/// The DRM card nodes, in order (`/dev/dri/card0`, `card1`, …).
pub fn card_nodes() -> Vec<PathBuf> {
    let mut nodes: Vec<PathBuf> = std::fs::read_dir("/dev/dri")
        .map(|dir| {
            dir.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with("card"))
                })
                .collect()
        })
        .unwrap_or_default();
    nodes.sort_by_key(|p| {
        p.file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.trim_start_matches("card").parse::<u32>().ok())
            .unwrap_or(u32::MAX)
    });
    nodes
}

/// A shown frame's buffer: a dumb buffer and its framebuffer.
struct Scanout {
    buffer: DumbBuffer,
    fb: framebuffer::Handle,
}

/// One lit connector.
struct KmsOutput {
    /// Weft's output index.
    index: usize,
    name: String,
    surface: DrmSurface,
    crtc: crtc::Handle,
    buffers: [Scanout; 2],
    /// The buffer the next frame goes into (the other is on screen or about to be).
    back: usize,
    size: (u32, u32),
    /// A flip is queued: its completion event starts the next frame.
    flipping: bool,
    frames: u64,
    /// The vblank count last reported in presentation feedback.
    last_seq: u64,
}

/// One KMS device and its lit connectors.
pub struct KmsDevice {
    name: String,
    drm: DrmDevice,
    notifier: Option<smithay::backend::drm::DrmDeviceNotifier>,
    outputs: Vec<KmsOutput>,
}

impl KmsDevice {
    /// Opens `path` through the session. `None`: a device without KMS (render-only, vgem).
    pub fn open(session: &mut LibSeatSession, path: &Path) -> Result<Option<Self>, KmsError> {
        let name = path.display().to_string();
        let fd = session
            .open(
                path,
                OFlags::RDWR | OFlags::CLOEXEC | OFlags::NOCTTY | OFlags::NONBLOCK,
            )
            .map_err(|e| KmsError::Device(name.clone(), format!("libseat open: {e}")))?;
        let fd = DrmDeviceFd::new(DeviceFd::from(fd));
        let has_kms = fd
            .resource_handles()
            .is_ok_and(|r| !r.crtcs().is_empty() && !r.connectors().is_empty());
        if !has_kms {
            return Ok(None);
        }
        let (drm, notifier) =
            DrmDevice::new(fd, true).map_err(|e| KmsError::Device(name.clone(), e.to_string()))?;
        if !drm.is_atomic() {
            info!(device = %name, "no atomic modesetting: legacy KMS");
        }
        Ok(Some(Self {
            name,
            drm,
            notifier: Some(notifier),
            outputs: Vec::new(),
        }))
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Lights every connected connector: a CRTC its encoders reach, its preferred mode (or one of
    /// a size in `wanted`), two dumb buffers, an output of weft's and the first frame. Returns how
    /// many were lit.
    pub fn light_up(&mut self, state: &mut Weft, wanted: &[OutputSpec]) -> Result<usize, KmsError> {
        let fd = self.drm.device_fd().clone();
        let res = fd
            .resource_handles()
            .map_err(|e| KmsError::Device(self.name.clone(), e.to_string()))?;
        let mut used: Vec<crtc::Handle> = Vec::new();
        for &conn in res.connectors() {
            let Ok(info) = fd.get_connector(conn, true) else {
                continue;
            };
            if info.state() != connector::State::Connected {
                continue;
            }
            let mut name = format!(
                "{}-{}",
                interface_name(info.interface()),
                info.interface_id()
            );
            if state.output_index(&name).is_some() {
                // Another device has a connector of that name: this one's says its card.
                let card = Path::new(&self.name)
                    .file_name()
                    .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
                name = format!("{name}-{card}");
            }
            let Some(mode) = pick_mode(info.modes(), wanted) else {
                warn!(output = %name, "connected without a mode: left dark");
                continue;
            };
            let crtc = info
                .encoders()
                .iter()
                .filter_map(|e| fd.get_encoder(*e).ok())
                .flat_map(|e| res.filter_crtcs(e.possible_crtcs()))
                .find(|c| !used.contains(c));
            let Some(crtc) = crtc else {
                warn!(output = %name, "no free CRTC reaches it: left dark");
                continue;
            };
            used.push(crtc);
            let output = self.light(state, &fd, crtc, conn, mode, name)?;
            self.outputs.push(output);
        }
        Ok(self.outputs.len())
    }

    fn light(
        &mut self,
        state: &mut Weft,
        fd: &DrmDeviceFd,
        crtc: crtc::Handle,
        conn: connector::Handle,
        mode: Mode,
        name: String,
    ) -> Result<KmsOutput, KmsError> {
        let fail = |e: String| KmsError::Output(name.clone(), e);
        let (w, h) = mode.size();
        let size = (u32::from(w), u32::from(h));
        let surface = self
            .drm
            .create_surface(crtc, mode, &[conn])
            .map_err(|e| fail(e.to_string()))?;
        let scanout = || -> Result<Scanout, KmsError> {
            let buffer = fd
                .create_dumb_buffer(size, DrmFourcc::Xrgb8888, 32)
                .map_err(|e| fail(format!("dumb buffer: {e}")))?;
            let fb = fd
                .add_framebuffer(&buffer, 24, 32)
                .map_err(|e| fail(format!("framebuffer: {e}")))?;
            Ok(Scanout { buffer, fb })
        };
        let buffers = [scanout()?, scanout()?];
        let refresh_mhz = mode_refresh_mhz(&mode);
        let spec = OutputSpec {
            width: size.0,
            height: size.1,
            refresh_mhz,
        };
        let index = state
            .add_output_with_model(&name, "drm", spec)
            .map_err(|e| fail(e.to_string()))?;
        if let Some(slot) = state.outputs.get_mut(index) {
            // Feedback waits for the flip that shows the frame ([`Weft::presented`]).
            slot.held_feedback = Some(Vec::new());
        }
        info!(
            output = %name,
            device = %self.name,
            width = size.0,
            height = size.1,
            refresh_mhz,
            "output lit"
        );
        let mut output = KmsOutput {
            index,
            name,
            surface,
            crtc,
            buffers,
            back: 0,
            size,
            flipping: false,
            frames: 0,
            last_seq: 0,
        };
        // The modeset carries the first frame.
        output
            .show(state, fd, true)
            .map_err(|e| KmsError::Output(output.name.clone(), e))?;
        Ok(output)
    }
}

impl KmsOutput {
    /// Renders the next frame into the back buffer and queues it: a modeset (`modeset`) or a page
    /// flip whose completion event comes back to [`Devices`].
    fn show(&mut self, state: &mut Weft, fd: &DrmDeviceFd, modeset: bool) -> Result<(), String> {
        let now = state.clock.now();
        state.frame(self.index, now);
        let back = self.buffers.get_mut(self.back).ok_or("no back buffer")?;
        let pitch = back.buffer.pitch() as usize;
        {
            let mut map = fd
                .map_dumb_buffer(&mut back.buffer)
                .map_err(|e| format!("mapping the dumb buffer: {e}"))?;
            state
                .read_output_into(self.index, &mut map, pitch)
                .map_err(|e| format!("reading the frame back: {e}"))?;
        }
        let (w, h) = self.size;
        let plane = PlaneState {
            handle: self.surface.plane(),
            config: Some(PlaneConfig {
                src: Rectangle::from_size((f64::from(w), f64::from(h)).into()),
                dst: Rectangle::from_size((w as i32, h as i32).into()),
                transform: Transform::Normal,
                alpha: 1.0,
                damage_clips: None,
                fb: back.fb,
                fence: None,
            }),
        };
        let queued = if modeset {
            self.surface.commit([plane], true)
        } else {
            self.surface.page_flip([plane], true)
        };
        queued.map_err(|e| format!("queueing the frame: {e}"))?;
        self.back = (self.back + 1) % self.buffers.len();
        self.flipping = true;
        self.frames += 1;
        Ok(())
    }
}

/// The KMS devices, shared by their flip events and the session's pause/resume.
#[derive(Clone)]
pub struct Devices(Rc<RefCell<Vec<KmsDevice>>>);

impl Devices {
    /// Puts the devices where their events can reach them: each device's events in the loop.
    pub fn insert(
        mut devices: Vec<KmsDevice>,
        handle: &LoopHandle<'static, Weft>,
    ) -> Result<Self, ServerError> {
        let notifiers: Vec<_> = devices
            .iter_mut()
            .enumerate()
            .filter_map(|(i, d)| d.notifier.take().map(|n| (i, n)))
            .collect();
        let shared = Self(Rc::new(RefCell::new(devices)));
        for (i, notifier) in notifiers {
            let devices = shared.clone();
            handle
                .insert_source(notifier, move |event, meta, state| match event {
                    DrmEvent::VBlank(crtc) => devices.flipped(state, i, crtc, meta.as_ref()),
                    DrmEvent::Error(e) => warn!(error = %e, "DRM device error"),
                })
                .map_err(|e| ServerError::EventLoop(e.to_string()))?;
        }
        Ok(shared)
    }

    /// The flip on `crtc` of device `device` completed: its frame is on screen now. Its feedback
    /// goes out with the kernel's timestamp, and the next frame is rendered and queued.
    fn flipped(
        &self,
        state: &mut Weft,
        device: usize,
        crtc: crtc::Handle,
        meta: Option<&DrmEventMetadata>,
    ) {
        let mut devices = self.0.borrow_mut();
        let Some(dev) = devices.get_mut(device) else {
            return;
        };
        let fd = dev.drm.device_fd().clone();
        if !dev.drm.is_active() {
            return;
        }
        let Some(output) = dev.outputs.iter_mut().find(|o| o.crtc == crtc) else {
            return;
        };
        output.flipping = false;
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
            _ => (state.clock.now(), 0, Kind::Vsync | Kind::HwCompletion),
        };
        // The kernel's vblank count where the driver keeps one (virtio-gpu's is always 0);
        // otherwise one more per flip, so it never goes back.
        let seq = kernel_seq.max(output.last_seq + 1);
        output.last_seq = seq;
        state.presented(output.index, time, seq, flags);
        if let Err(e) = output.show(state, &fd, false) {
            warn!(output = %output.name, error = %e, "frame not shown; retrying at the next event");
        }
        let _ = state.display_handle.flush_clients();
    }

    /// The session went away (VT switch): the devices stop being ours.
    pub fn pause(&self) {
        for dev in self.0.borrow_mut().iter_mut() {
            dev.drm.pause();
        }
    }

    /// The session is back: the devices are taken again and every output modeset with a fresh
    /// frame.
    pub fn activate(&self, state: &mut Weft) {
        for dev in self.0.borrow_mut().iter_mut() {
            if let Err(e) = dev.drm.activate(true) {
                warn!(device = %dev.name, error = %e, "device not taken back");
                continue;
            }
            let fd = dev.drm.device_fd().clone();
            for output in &mut dev.outputs {
                if let Err(e) = output.surface.reset_state() {
                    debug!(output = %output.name, error = %e, "surface state not reset");
                }
                if let Err(e) = output.show(state, &fd, true) {
                    warn!(output = %output.name, error = %e, "output not lit again");
                }
            }
        }
        state.damage();
    }
}

/// The mode to use: one of a size `wanted` asks for, else the preferred one, else the first.
fn pick_mode(modes: &[Mode], wanted: &[OutputSpec]) -> Option<Mode> {
    let sized = wanted.iter().find_map(|spec| {
        modes.iter().copied().find(|m| {
            let (w, h) = m.size();
            (u32::from(w), u32::from(h)) == (spec.width, spec.height)
        })
    });
    sized
        .or_else(|| {
            modes
                .iter()
                .copied()
                .find(|m| m.mode_type().contains(ModeTypeFlags::PREFERRED))
        })
        .or_else(|| modes.first().copied())
}

/// A mode's refresh in mHz, from its clock and totals (vrefresh is rounded to whole Hz).
fn mode_refresh_mhz(mode: &Mode) -> u32 {
    let (htotal, vtotal) = (u64::from(mode.hsync().2), u64::from(mode.vsync().2));
    let clock_khz = u64::from(mode.clock());
    if htotal == 0 || vtotal == 0 {
        return mode.vrefresh() * 1000;
    }
    u32::try_from(clock_khz * 1_000_000 / (htotal * vtotal)).unwrap_or(60_000)
}

fn interface_name(i: connector::Interface) -> &'static str {
    use connector::Interface as I;
    match i {
        I::Virtual => "Virtual",
        I::VGA => "VGA",
        I::DVII | I::DVID | I::DVIA => "DVI",
        I::HDMIA | I::HDMIB => "HDMI",
        I::DisplayPort => "DP",
        I::EmbeddedDisplayPort => "eDP",
        I::LVDS => "LVDS",
        I::DSI => "DSI",
        _ => "Unknown",
    }
}
