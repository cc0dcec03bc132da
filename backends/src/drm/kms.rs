//! One KMS device: its connectors lit at a mode each by atomic modesetting, and each output's frames
//! shown through two dumb buffers, flipped on the CRTC's primary plane and paced by the flips'
//! completion events.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::os::fd::AsFd as _;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use calloop::LoopHandle;
use smithay::backend::drm::{
    DrmDevice, DrmDeviceFd, DrmEvent, DrmEventMetadata, DrmEventTime, DrmSurface, PlaneConfig,
    PlaneState,
};
use smithay::backend::session::libseat::LibSeatSession;
use smithay::backend::session::Session;
use smithay::backend::allocator::dmabuf::Dmabuf;
use smithay::backend::allocator::{Buffer as _, Fourcc, Modifier};
use smithay::reexports::drm::buffer::{Buffer as _, DrmFourcc, DrmModifier, PlanarBuffer};
use smithay::reexports::drm::control::dumbbuffer::DumbBuffer;
use smithay::reexports::drm::control::{
    connector, crtc, framebuffer, Device as ControlDevice, FbCmd2Flags, Mode, ModeTypeFlags,
};
use smithay::reexports::wayland_server::backend::ObjectId;
use smithay::reexports::rustix::fs::OFlags;
use smithay::reexports::wayland_protocols::wp::presentation_time::server::wp_presentation_feedback::Kind;
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::utils::{DeviceFd, Rectangle, Transform};
use tracing::{debug, info, warn};
use weft_compositor::render::HeldBuffer;
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
    /// Client buffers made framebuffers of this device, or why they could not be (the failure is
    /// remembered per buffer: not tried again), newest last.
    client_fbs: VecDeque<(ObjectId, Result<ClientFb, String>)>,
    /// The client buffer scanned out now, and the one queued to be: each held (unreleased) until
    /// a flip replaces it.
    on_screen: Option<Arc<dyn HeldBuffer>>,
    queued: Option<Arc<dyn HeldBuffer>>,
    /// Whether the frame on screen and the one queued are a client's buffer (ZERO_COPY).
    on_screen_zero_copy: bool,
    queued_zero_copy: bool,
    /// The surface whose buffer was scanned out last.
    scanned_surface: Option<WlSurface>,
}

/// Client framebuffers kept per output (a client cycling its buffers reuses them).
const CLIENT_FBS: usize = 4;

/// A client dma-buf as a framebuffer of the display device (PRIME import of each plane).
struct ClientFb {
    fd: DrmDeviceFd,
    fb: framebuffer::Handle,
    handles: Vec<smithay::reexports::drm::buffer::Handle>,
}

impl Drop for ClientFb {
    fn drop(&mut self) {
        let _ = self.fd.destroy_framebuffer(self.fb);
        for h in &self.handles {
            let _ = self.fd.close_buffer(*h);
        }
    }
}

/// A dma-buf's planes as `drm`'s `PlanarBuffer`, with the handles imported on the device.
struct Planes<'a> {
    dmabuf: &'a Dmabuf,
    handles: [Option<smithay::reexports::drm::buffer::Handle>; 4],
}

impl PlanarBuffer for Planes<'_> {
    fn size(&self) -> (u32, u32) {
        let s = self.dmabuf.size();
        (s.w as u32, s.h as u32)
    }
    fn format(&self) -> DrmFourcc {
        self.dmabuf.format().code
    }
    fn modifier(&self) -> Option<DrmModifier> {
        match self.dmabuf.format().modifier {
            Modifier::Invalid | Modifier::Linear => None,
            m => Some(m),
        }
    }
    fn pitches(&self) -> [u32; 4] {
        let mut out = [0; 4];
        for (o, s) in out.iter_mut().zip(self.dmabuf.strides()) {
            *o = s;
        }
        out
    }
    fn handles(&self) -> [Option<smithay::reexports::drm::buffer::Handle>; 4] {
        self.handles
    }
    fn offsets(&self) -> [u32; 4] {
        let mut out = [0; 4];
        for (o, s) in out.iter_mut().zip(self.dmabuf.offsets()) {
            *o = s;
        }
        out
    }
}

/// Makes `dmabuf` a framebuffer of `fd`'s device, or says why it cannot be.
fn import_client_fb(fd: &DrmDeviceFd, dmabuf: &Dmabuf) -> Result<ClientFb, String> {
    let format = dmabuf.format();
    if !matches!(format.code, Fourcc::Xrgb8888 | Fourcc::Argb8888) {
        return Err(format!(
            "the primary plane scans out XRGB8888, not {:?}",
            format.code
        ));
    }
    let mut handles = Vec::new();
    let mut planes = [None; 4];
    for (slot, plane) in planes.iter_mut().zip(dmabuf.handles()) {
        let handle = fd
            .prime_fd_to_buffer(plane)
            .map_err(|e| format!("the display device does not import the buffer (PRIME: {e})"))?;
        handles.push(handle);
        *slot = Some(handle);
    }
    let buffer = Planes {
        dmabuf,
        handles: planes,
    };
    let flags = if buffer.modifier().is_some() {
        FbCmd2Flags::MODIFIERS
    } else {
        FbCmd2Flags::empty()
    };
    let fb = fd.add_planar_framebuffer(&buffer, flags);
    let fb = match fb {
        Ok(fb) => fb,
        Err(e) => {
            for h in handles {
                let _ = fd.close_buffer(h);
            }
            return Err(format!("no framebuffer of the buffer (ADDFB2: {e})"));
        }
    };
    Ok(ClientFb {
        fd: fd.clone(),
        fb,
        handles,
    })
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
            // The registry's id of this device ([`weft_compositor::devices`]: drm:cardN).
            let card = Path::new(&self.name)
                .file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
            slot.display_device = Some(weft_compositor::devices::DeviceId::new(format!(
                "drm:{card}"
            )));
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
            client_fbs: VecDeque::new(),
            on_screen: None,
            queued: None,
            on_screen_zero_copy: false,
            queued_zero_copy: false,
            scanned_surface: None,
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
        if !modeset {
            let refused = match self.scanout(state, fd, now) {
                Ok(surface) => {
                    self.scanned_surface = Some(surface);
                    return Ok(());
                }
                Err(refused) => refused,
            };
            let previous = self.scanned_surface.take();
            if let Some(prev) = previous.filter(|p| refused.as_ref().is_none_or(|(s, _)| s != p)) {
                state.record_scanout(
                    &prev,
                    Err("no longer the output's one client buffer".into()),
                );
            }
            if let Some((surface, why)) = refused {
                state.record_scanout(&surface, Err(why));
            }
        }
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
        let fb = back.fb;
        let plane = self.plane_state(fb);
        let queued = if modeset {
            self.surface.commit([plane], true)
        } else {
            self.surface.page_flip([plane], true)
        };
        queued.map_err(|e| format!("queueing the frame: {e}"))?;
        self.back = (self.back + 1) % self.buffers.len();
        self.flipping = true;
        self.frames += 1;
        self.queued = None;
        self.queued_zero_copy = false;
        Ok(())
    }

    /// Shows the output's one client buffer directly, when the display device takes it:
    /// imported, made a framebuffer and accepted by an atomic TEST_ONLY on the primary plane.
    /// `Err(Some(..))`: a candidate the device refused, and why; `Err(None)`: no candidate.
    fn scanout(
        &mut self,
        state: &mut Weft,
        fd: &DrmDeviceFd,
        now: Duration,
    ) -> Result<WlSurface, Option<(WlSurface, String)>> {
        let candidate = state.scanout_candidate(self.index).map_err(|_| None)?;
        let surface = candidate.surface.clone();
        let refused = |why: String| Some((surface.clone(), why));
        let known = self
            .client_fbs
            .iter()
            .position(|(id, _)| *id == candidate.buffer);
        let entry = match known {
            Some(i) => self.client_fbs.remove(i),
            None => Some((
                candidate.buffer.clone(),
                import_client_fb(fd, &candidate.dmabuf),
            )),
        }
        .ok_or_else(|| refused("framebuffer cache".into()))?;
        let plane = match &entry.1 {
            Ok(client) => Some(self.plane_state(client.fb)),
            Err(_) => None,
        };
        let tested = match plane.clone() {
            Some(plane) => self
                .surface
                .test_state([plane], false)
                .map_err(|e| format!("the primary plane refused it (atomic TEST_ONLY: {e})")),
            None => Err(entry.1.as_ref().err().cloned().unwrap_or_default()),
        };
        // Remembered either way: a refusal is not tried again for this buffer.
        let entry = match tested {
            Ok(()) => entry,
            Err(why) => (entry.0, Err(why)),
        };
        let outcome = entry.1.as_ref().map(|c| c.fb).map_err(Clone::clone);
        self.client_fbs.push_back(entry);
        while self.client_fbs.len() > CLIENT_FBS {
            self.client_fbs.pop_front();
        }
        let fb = outcome.map_err(refused)?;
        state.frame_with(self.index, now, false);
        // The buffer's acquire fence, where it still has one, as the plane's IN_FENCE_FD: KMS
        // latches it only once the producer is done (weft applied the commit after the fence
        // signalled, so this rarely waits).
        let fence = candidate.hold.take_acquire();
        let mut plane = self.plane_state(fb);
        if let Some(config) = plane.config.as_mut() {
            config.fence = fence.as_ref().map(|f| f.as_fd());
        }
        self.surface
            .page_flip([plane], true)
            .map_err(|e| refused(format!("page flip: {e}")))?;
        self.flipping = true;
        self.frames += 1;
        self.queued = Some(candidate.hold);
        self.queued_zero_copy = true;
        state.record_scanout(
            &surface,
            Ok(format!(
                "Scanout: the client's dma-buf is a framebuffer of {} on the primary plane of \
                 {}: no composition, no copy",
                self.crtc_name(),
                self.name
            )),
        );
        Ok(surface)
    }

    fn crtc_name(&self) -> String {
        format!("CRTC {}", u32::from(self.crtc))
    }

    /// The primary plane showing `fb` over the whole output.
    fn plane_state(&self, fb: framebuffer::Handle) -> PlaneState<'static> {
        let (w, h) = self.size;
        PlaneState {
            handle: self.surface.plane(),
            config: Some(PlaneConfig {
                src: Rectangle::from_size((f64::from(w), f64::from(h)).into()),
                dst: Rectangle::from_size((w as i32, h as i32).into()),
                transform: Transform::Normal,
                alpha: 1.0,
                damage_clips: None,
                fb,
                fence: None,
            }),
        }
    }

    /// The queued frame is on screen now: what it shows is held, what it replaced is let go.
    fn flip_done(&mut self) {
        self.on_screen = self.queued.take();
        self.on_screen_zero_copy = self.queued_zero_copy;
        self.queued_zero_copy = false;
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
            _ => (state.clock.now(), 0, Kind::Vsync | Kind::HwCompletion),
        };
        // The kernel's vblank count where the driver keeps one (virtio-gpu's is always 0);
        // otherwise one more per flip, so it never goes back.
        let seq = kernel_seq.max(output.last_seq + 1);
        output.last_seq = seq;
        state.presented(output.index, time, seq, flags | zero_copy);
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
