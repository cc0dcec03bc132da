//! One KMS device: its connectors lit at a mode each by atomic modesetting, and each output's frames
//! shown — a client's buffer on the primary plane (scanout), or a composed frame in one of two dumb
//! buffers with perhaps a client's buffer on the overlay or cursor plane over it — flipped by
//! weft's atomic commits and paced by the flips' completion events.

use std::collections::VecDeque;
use std::os::fd::AsFd as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use smithay::backend::allocator::dmabuf::Dmabuf;
use smithay::backend::allocator::{Buffer as _, Fourcc, Modifier};
use smithay::backend::drm::{DrmDevice, DrmDeviceFd, DrmSurface, PlaneConfig, PlaneState};
use smithay::backend::session::libseat::LibSeatSession;
use smithay::backend::session::Session;
use smithay::reexports::drm::buffer::{Buffer as _, DrmFourcc, DrmModifier, PlanarBuffer};
use smithay::reexports::drm::control::dumbbuffer::DumbBuffer;
use smithay::reexports::drm::control::{
    connector, crtc, framebuffer, Device as ControlDevice, FbCmd2Flags, Mode, ModeTypeFlags,
};
use smithay::reexports::drm::{ClientCapability, Device as _};
use smithay::reexports::rustix::fs::OFlags;
use smithay::reexports::wayland_server::backend::ObjectId;
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::utils::{DeviceFd, Rectangle, Transform};

use super::atomic::{CursorPlaneKind, Frame, Layer, Placement, Planes};

mod configure;
mod cursor;

/// The event loop's handle: out-fences are waited on there.
pub type Loop = calloop::LoopHandle<'static, Weft>;
use tracing::{info, warn};
use weft_compositor::outputs::frame::Compose;
use weft_compositor::outputs::scanout::ScanoutOutcome;

use super::error::{DrmError, Refusal, ShowError};
use super::stats::{KmsStats, SharedStats};
use weft_compositor::outputs::output::FramePath;
use weft_compositor::outputs::scene::Scene;
use weft_compositor::render::HeldBuffer;
use weft_compositor::{OutputSpec, Weft};

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
    nodes.sort_by_key(|p| card_number(p));
    nodes
}

/// Whether the card node `path` has connectors (sysfs lists them as `cardN-<connector>`): a
/// display device, not a render-only one.
pub fn has_connectors(path: &Path) -> bool {
    let Some(card) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    let prefix = format!("{card}-");
    std::fs::read_dir("/sys/class/drm").is_ok_and(|dir| {
        dir.filter_map(Result::ok)
            .any(|e| e.file_name().to_string_lossy().starts_with(&prefix))
    })
}

/// N of `/dev/dri/cardN` (cards are used in that order), or `u32::MAX`.
pub fn card_number(path: &Path) -> u32 {
    path.file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_prefix("card"))
        .and_then(|n| n.parse::<u32>().ok())
        .unwrap_or(u32::MAX)
}

/// A shown frame's buffer: a dumb buffer and its framebuffer.
struct Scanout {
    buffer: DumbBuffer,
    fb: framebuffer::Handle,
    /// The dumb buffer's memory imported on the render device (PRIME export, dma-buf import):
    /// the render device copies each composed frame straight into it. `None`: the render device
    /// could not import it, and the frame is read back and copied by the CPU.
    imported: Option<weft_compositor::render::external::ImportedBuffer>,
}

/// One lit connector.
pub(super) struct KmsOutput {
    /// Weft's output of this name (its index changes as outputs come and go).
    pub(super) name: String,
    /// What reached KMS for it (`weft msg outputs`: `kms`).
    stats: SharedStats,
    pub(super) surface: DrmSurface,
    pub(super) crtc: crtc::Handle,
    conn: connector::Handle,
    buffers: [Scanout; 2],
    /// The buffer the next frame goes into (the other is on screen or about to be).
    back: usize,
    size: (u32, u32),
    /// A flip is queued: its completion event starts the next frame.
    pub(super) flipping: bool,
    /// Frames in a row the device refused to show (the retry backs off).
    pub(super) failed_frames: u32,
    frames: u64,
    /// The vblank count last reported in presentation feedback.
    pub(super) last_seq: u64,
    /// Client buffers made framebuffers of this device, or why they could not be (the failure is
    /// remembered per buffer: not tried again), newest last.
    client_fbs: VecDeque<ClientEntry>,
    /// The client buffers scanned out now (on the primary or the upper plane), and those queued
    /// to be: each held (unreleased) until a flip replaces it.
    on_screen: Vec<Arc<dyn HeldBuffer>>,
    queued: Vec<Arc<dyn HeldBuffer>>,
    /// Whether the frame on screen and the one queued are a client's buffer (ZERO_COPY).
    pub(super) on_screen_zero_copy: bool,
    queued_zero_copy: bool,
    /// weft's own flips of its planes (None: no atomic plane properties; smithay flips).
    planes: Option<Planes>,
    /// The overlay or cursor plane this output uses, and smithay's claim on it where smithay
    /// knows the plane (no other CRTC uses it meanwhile).
    upper_plane: Option<smithay::reexports::drm::control::plane::Handle>,
    _upper_claim: Option<smithay::backend::drm::PlaneClaim>,
    /// The surface shown on the upper plane in the last frame.
    lifted_surface: Option<WlSurface>,
    /// The surface whose buffer was scanned out last.
    scanned_surface: Option<WlSurface>,
    /// The connector's modes ([`configure`]: a modeset picks one).
    modes: Vec<Mode>,
    /// A mode asked for while a flip was queued, and buffers of its size: put in force at the
    /// next frame.
    pending_mode: Option<(Mode, [Scanout; 2])>,
    /// The CRTC is switched off (weft's output is off): no frames.
    pub(super) off: bool,
    /// Nothing new to show after the last flip: no frame until something wakes it
    /// ([`weft_compositor::outputs::wake`]).
    pub(super) idle: bool,
    /// A timer holds the next frame back to the mode's refresh (a driver that completes flips
    /// early).
    pub(super) paced: bool,
    /// When the last frame was queued.
    pub(super) last_queued: Option<std::time::Instant>,
    /// The cursor plane's buffers, where the CRTC has a cursor plane weft drives.
    cursor: Option<cursor::CursorBuffers>,
    /// A cursor plane of its own (beside an overlay upper plane), and smithay's claim on it.
    cursor_plane: Option<smithay::reexports::drm::control::plane::Handle>,
    _cursor_claim: Option<smithay::backend::drm::PlaneClaim>,
}

/// Client framebuffers kept per output (a client cycling its buffers reuses them).
const CLIENT_FBS: usize = 4;

/// A client buffer this output tried to scan out: its framebuffer (or why it has none) and the
/// driver's answer to the placement last tested.
struct ClientEntry {
    buffer: ObjectId,
    fb: Result<ClientFb, Refusal>,
    /// The placement tested last, whether on the upper plane, and the answer.
    tested: Option<(Placement, bool, Result<(), Refusal>)>,
}

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
struct DmabufPlanes<'a> {
    dmabuf: &'a Dmabuf,
    handles: [Option<smithay::reexports::drm::buffer::Handle>; 4],
}

impl PlanarBuffer for DmabufPlanes<'_> {
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
fn import_client_fb(fd: &DrmDeviceFd, dmabuf: &Dmabuf) -> Result<ClientFb, Refusal> {
    let format = dmabuf.format();
    if !matches!(format.code, Fourcc::Xrgb8888 | Fourcc::Argb8888) {
        return Err(Refusal::Format(format.code));
    }
    let mut handles = Vec::new();
    let mut planes = [None; 4];
    for (slot, plane) in planes.iter_mut().zip(dmabuf.handles()) {
        let handle = fd
            .prime_fd_to_buffer(plane)
            .map_err(|e| Refusal::Prime(Arc::new(e)))?;
        handles.push(handle);
        *slot = Some(handle);
    }
    let buffer = DmabufPlanes {
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
            return Err(Refusal::AddFb(Arc::new(e)));
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
    /// The device number (udev's id of it).
    pub(super) id: DevId,
    name: String,
    pub(super) drm: DrmDevice,
    pub(super) notifier: Option<smithay::backend::drm::DrmDeviceNotifier>,
    /// Its flip events' source in the event loop, once inserted.
    pub(super) token: Option<calloop::RegistrationToken>,
    pub(super) outputs: Vec<KmsOutput>,
}

/// A device number (`st_rdev`), as udev names devices.
pub type DevId = u64;

impl KmsDevice {
    /// Opens `path` through the session. `None`: a device without KMS (render-only, vgem).
    pub fn open(
        session: &mut LibSeatSession,
        id: DevId,
        path: &Path,
    ) -> Result<Option<Self>, KmsError> {
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
        // Virtual display devices (virtio-gpu, vmwgfx, qxl) show their cursor planes only to
        // atomic clients that say they set a cursor's hotspot (weft leaves it at 0, 0: the plane
        // shows a surface at its place). Asked before smithay reads the device's planes, so it
        // knows every plane weft may use; elsewhere refused, and nothing changes.
        if fd
            .set_client_capability(ClientCapability::Atomic, true)
            .is_ok()
        {
            if let Err(e) = fd.set_client_capability(ClientCapability::CursorPlaneHotspot, true) {
                tracing::debug!(device = %name, error = %e, "no cursor-plane hotspot capability");
            }
        }
        let (drm, notifier) =
            DrmDevice::new(fd, true).map_err(|e| KmsError::Device(name.clone(), e.to_string()))?;
        if !drm.is_atomic() {
            info!(device = %name, "no atomic modesetting: legacy KMS");
        }
        Ok(Some(Self {
            id,
            name,
            drm,
            notifier: Some(notifier),
            token: None,
            outputs: Vec::new(),
        }))
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The overlay and cursor planes this device's outputs use.
    fn claimed_upper(&self) -> Vec<smithay::reexports::drm::control::plane::Handle> {
        self.outputs
            .iter()
            .flat_map(|o| o.upper_plane.into_iter().chain(o.cursor_plane))
            .collect()
    }

    /// Brings the outputs in line with the connectors (at start, and at each hotplug event):
    /// an output whose connector is no longer connected goes dark and leaves weft; each connected
    /// connector not yet lit gets a CRTC its encoders reach, its preferred mode (or one of a size
    /// in `wanted`), two dumb buffers, an output of weft's and the first frame. Returns the
    /// connectors that could not be lit, and why (the others are lit).
    pub fn rescan(
        &mut self,
        state: &mut Weft,
        wanted: &[OutputSpec],
        handle: &Loop,
    ) -> Vec<KmsError> {
        let fd = self.drm.device_fd().clone();
        let res = match fd.resource_handles() {
            Ok(res) => res,
            Err(e) => return vec![KmsError::Device(self.name.clone(), e.to_string())],
        };
        let connected = |conn: connector::Handle| {
            fd.get_connector(conn, true)
                .ok()
                .filter(|info| info.state() == connector::State::Connected)
        };
        let (kept, gone): (Vec<_>, Vec<_>) = std::mem::take(&mut self.outputs)
            .into_iter()
            .partition(|o| connected(o.conn).is_some());
        self.outputs = kept;
        for output in gone {
            info!(output = %output.name, device = %self.name, "connector unplugged: output gone");
            output.unlight(state, &fd);
        }
        let mut failed = Vec::new();
        let mut used: Vec<crtc::Handle> = self.outputs.iter().map(|o| o.crtc).collect();
        for &conn in res.connectors() {
            if self.outputs.iter().any(|o| o.conn == conn) {
                continue;
            }
            let Some(info) = connected(conn) else {
                continue;
            };
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
            let modes = info.modes().to_vec();
            match self.light(state, &fd, handle, (crtc, conn), (mode, modes), name) {
                Ok(output) => {
                    used.push(crtc);
                    self.outputs.push(output);
                }
                Err(e) => failed.push(e),
            }
        }
        failed
    }

    /// The device went away (unbound, unplugged): its outputs leave weft. Nothing is asked of the
    /// device any more.
    pub fn remove(mut self, state: &mut Weft) {
        self.drm.pause();
        let fd = self.drm.device_fd().clone();
        for output in std::mem::take(&mut self.outputs) {
            output.unlight(state, &fd);
        }
        info!(device = %self.name, "KMS device gone");
    }

    fn light(
        &mut self,
        state: &mut Weft,
        fd: &DrmDeviceFd,
        handle: &Loop,
        (crtc, conn): (crtc::Handle, connector::Handle),
        (mode, modes): (Mode, Vec<Mode>),
        name: String,
    ) -> Result<KmsOutput, KmsError> {
        let fail = |e: String| KmsError::Output(name.clone(), e);
        let (w, h) = mode.size();
        let size = (u32::from(w), u32::from(h));
        let surface = self
            .drm
            .create_surface(crtc, mode, &[conn])
            .map_err(|e| fail(e.to_string()))?;
        let scanout = || Scanout::new(fd, size).map_err(fail);
        let buffers = [scanout()?, scanout()?];
        // An overlay plane where the CRTC has one, else its cursor plane: a surface over the
        // composed frame can be shown there. Claimed through smithay, so no other CRTC of the
        // device takes it meanwhile.
        let (upper, upper_claim) = match upper_plane(fd, crtc, &self.claimed_upper()) {
            Some((plane, kind)) => (Some((plane, kind)), surface.claim_plane(plane)),
            None => (None, None),
        };
        // Beside an overlay plane, the CRTC's cursor plane for the cursor.
        let mut taken = self.claimed_upper();
        taken.extend(upper.map(|(plane, _)| plane));
        let (cursor_plane, cursor_claim) = match upper {
            Some((_, "overlay")) => match upper_plane(fd, crtc, &taken) {
                Some((plane, "cursor")) => (Some(plane), surface.claim_plane(plane)),
                _ => (None, None),
            },
            _ => (None, None),
        };
        let planes = match Planes::new(fd, crtc, surface.plane(), (upper, cursor_plane)) {
            Ok(planes) => Some(planes),
            Err(e) => {
                info!(output = %name, error = %e, "flips through smithay: no scanout, no out-fences");
                None
            }
        };
        let refresh_mhz = mode_refresh_mhz(&mode);
        let spec = OutputSpec {
            width: size.0,
            height: size.1,
            refresh_mhz,
        };
        let mut buffers = buffers;
        let index = match state.add_output_with_model(&name, "drm", spec) {
            Ok(index) => index,
            Err(e) => {
                for b in buffers {
                    b.destroy(fd);
                }
                return Err(fail(e.to_string()));
            }
        };
        // Every mode of the connector, for output configuration to choose from.
        let specs: Vec<OutputSpec> = modes
            .iter()
            .map(|m| {
                let (w, h) = m.size();
                OutputSpec {
                    width: u32::from(w),
                    height: u32::from(h),
                    refresh_mhz: mode_refresh_mhz(m),
                }
            })
            .collect();
        state.add_output_modes(index, &specs);
        // Composed frames cross from the render device to the display device: the render device
        // writes into the dumb buffers themselves where it can import them.
        let mut refused = None;
        for b in &mut buffers {
            match import_on_render_device(state, fd, index, &b.buffer) {
                Ok(imported) => b.imported = Some(imported),
                Err(e) => refused = Some(e),
            }
        }
        let (composed_into, copy) = match refused {
            None => {
                info!(output = %name, "composed frames: the render device writes them into the display device's buffers (dma-buf import), no CPU copy");
                (
                    "the display device's buffer, written by the render device (dma-buf import)",
                    "drawn into weft's render target, then copied by the render device into the \
                     display device's dumb buffer (imported as a dma-buf)",
                )
            }
            Some(why) => {
                for b in &mut buffers {
                    b.imported = None;
                }
                info!(output = %name, reason = %why, "composed frames: read back and copied into the display device's buffers by the CPU");
                (
                    "the display device's buffer, copied by the CPU (the render device could not import it)",
                    "drawn into weft's render target, read back and copied by the CPU into the \
                     display device's dumb buffer (the render device cannot import it)",
                )
            }
        };
        let stats = SharedStats::new(KmsStats {
            composed_into,
            ..KmsStats::default()
        });
        if let Some(slot) = state.output_mut(index) {
            // Feedback waits for the flip that shows the frame ([`Weft::presented`]).
            slot.held_feedback = Some(Vec::new());
            // On the cursor plane where the CRTC has one weft drives (kms/cursor.rs), so a
            // surface under it can still be scanned out; composed where it cannot go there.
            slot.draws_cursor = true;
            slot.display_stats = Some(Box::new(stats.clone()));
            slot.frame_path = FramePath {
                copies_per_frame: 1,
                why: copy,
            };
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
            upper_plane = planes.as_ref().and_then(Planes::upper_kind).unwrap_or("none"),
            "output lit"
        );
        let cursor = planes
            .as_ref()
            .and_then(Planes::cursor_plane)
            .and_then(|_| {
                cursor::CursorBuffers::new(fd)
                    .inspect_err(|e| info!(output = %name, error = %e, "no cursor plane buffers: the cursor is composed"))
                    .ok()
            });
        let mut output = KmsOutput {
            name,
            stats,
            surface,
            crtc,
            conn,
            buffers,
            back: 0,
            size,
            flipping: false,
            failed_frames: 0,
            frames: 0,
            last_seq: 0,
            client_fbs: VecDeque::new(),
            on_screen: Vec::new(),
            queued: Vec::new(),
            on_screen_zero_copy: false,
            queued_zero_copy: false,
            scanned_surface: None,
            planes,
            upper_plane: upper.map(|(plane, _)| plane),
            _upper_claim: upper_claim,
            lifted_surface: None,
            modes,
            pending_mode: None,
            off: false,
            idle: false,
            paced: false,
            last_queued: None,
            cursor,
            cursor_plane,
            _cursor_claim: cursor_claim,
        };
        // The modeset carries the first frame.
        if let Err(e) = output.show(state, fd, handle, true) {
            let err = KmsError::Output(output.name.clone(), e.to_string());
            output.unlight(state, fd);
            return Err(err);
        }
        Ok(output)
    }
}

impl Scanout {
    /// A dumb buffer of `size` (XRGB8888) and its framebuffer.
    fn new(fd: &DrmDeviceFd, size: (u32, u32)) -> Result<Self, String> {
        let buffer = fd
            .create_dumb_buffer(size, DrmFourcc::Xrgb8888, 32)
            .map_err(|e| format!("dumb buffer: {e}"))?;
        let fb = match fd.add_framebuffer(&buffer, 24, 32) {
            Ok(fb) => fb,
            Err(e) => {
                let _ = fd.destroy_dumb_buffer(buffer);
                return Err(format!("framebuffer: {e}"));
            }
        };
        Ok(Self {
            buffer,
            fb,
            imported: None,
        })
    }

    fn destroy(self, fd: &DrmDeviceFd) {
        // The render device's import first (it references the dma-buf of the dumb buffer).
        drop(self.imported);
        let _ = fd.destroy_framebuffer(self.fb);
        let _ = fd.destroy_dumb_buffer(self.buffer);
    }
}

impl KmsOutput {
    /// Weft's index of this output now.
    pub(super) fn index(&self, state: &Weft) -> Result<usize, ShowError> {
        state
            .output_index(&self.name)
            .ok_or_else(|| ShowError::OutputGone(self.name.clone()))
    }

    /// The output goes dark and leaves weft: its CRTC is switched off (when the device is still
    /// ours), its buffers freed, the client buffers it held released, and weft's output removed
    /// (feedback held for its frames is discarded).
    pub(super) fn unlight(self, state: &mut Weft, fd: &DrmDeviceFd) {
        for surface in self.scanned_surface.iter().chain(&self.lifted_surface) {
            state.record_scanout(
                surface,
                ScanoutOutcome::Composed("its output is gone".into()),
            );
        }
        if let Ok(index) = self.index(state) {
            state.remove_output(index);
        }
        let Self {
            surface,
            buffers,
            client_fbs,
            on_screen,
            queued,
            pending_mode,
            cursor,
            ..
        } = self;
        // The CRTC stops reading before the buffers it read are freed or released.
        drop(surface);
        drop(client_fbs);
        drop((on_screen, queued));
        for b in buffers
            .into_iter()
            .chain(pending_mode.into_iter().flat_map(|(_, b)| b))
        {
            b.destroy(fd);
        }
        if let Some(cursor) = cursor {
            cursor.destroy(fd);
        }
    }

    /// Renders the next frame into the back buffer and queues it: a modeset (`modeset`) or a page
    /// flip whose completion event comes back to [`Devices`].
    pub(super) fn show(
        &mut self,
        state: &mut Weft,
        fd: &DrmDeviceFd,
        handle: &Loop,
        modeset: bool,
    ) -> Result<(), ShowError> {
        if self.off {
            return Ok(());
        }
        self.idle = false;
        // A mode asked for while the last flip was queued: this frame is its modeset.
        if let Some((mode, buffers)) = self.pending_mode.take() {
            return self.put_mode(state, fd, handle, mode, buffers);
        }
        let now = state.clock().now();
        let index = self.index(state)?;
        // The output's scene, built once: the planes are chosen from it, then it is drawn.
        let mut scene = state.scene(index);
        // The cursor on the cursor plane where it may go (taken out of the scene then).
        let cursor = if modeset {
            None
        } else {
            self.place_cursor(state, fd, index, &mut scene)
        };
        if !modeset {
            let refused = match self.scanout(state, fd, handle, (index, &scene), cursor) {
                Ok(surface) => {
                    // Nothing composed; frame callbacks and feedback (held for the flip) go out.
                    state.frame_with_scene(index, now, Compose::Nothing, scene);
                    // The flip switched the upper plane off.
                    if let Some(prev) = self.lifted_surface.take().filter(|p| *p != surface) {
                        state.record_scanout(
                            &prev,
                            ScanoutOutcome::Composed("no longer on the upper plane".into()),
                        );
                    }
                    self.scanned_surface = Some(surface);
                    return Ok(());
                }
                Err(refused) => refused,
            };
            let previous = self.scanned_surface.take();
            if let Some(prev) = previous.filter(|p| refused.as_ref().is_none_or(|(s, _)| s != p)) {
                state.record_scanout(
                    &prev,
                    ScanoutOutcome::Composed("no longer the output's one client buffer".into()),
                );
            }
            if let Some((surface, why)) = refused {
                state.record_scanout(&surface, ScanoutOutcome::Composed(why.to_string()));
            }
        }
        // A surface over the rest on the upper plane, the rest composed without it (not while
        // the upper plane is the cursor plane showing the cursor).
        let cursor_on_upper = cursor.is_some()
            && self.planes.as_ref().and_then(Planes::cursor_plane) == Some(CursorPlaneKind::Upper);
        let lifted = if modeset || cursor_on_upper {
            None
        } else {
            self.lift(state, fd, &scene)
        };
        let previous = self.lifted_surface.take();
        if let Some(prev) = previous.filter(|p| lifted.as_ref().is_none_or(|l| &l.0.surface != p)) {
            if self.scanned_surface.as_ref() != Some(&prev) {
                state.record_scanout(
                    &prev,
                    ScanoutOutcome::Composed("no longer on the upper plane".into()),
                );
            }
        }
        let compose = match &lifted {
            Some((candidate, _, _)) => Compose::Without(candidate.surface.clone()),
            None => Compose::All,
        };
        state.frame_with_scene(index, now, compose, scene);
        let back = self
            .buffers
            .get_mut(self.back)
            .ok_or(ShowError::NoBackBuffer)?;
        let pitch = back.buffer.pitch() as usize;
        if let Some(imported) = &back.imported {
            state
                .copy_output_into(index, imported, back.buffer.pitch())
                .map_err(ShowError::CopyIntoDisplayBuffer)?;
        } else {
            let mut map = fd
                .map_dumb_buffer(&mut back.buffer)
                .map_err(ShowError::MapDumb)?;
            state
                .read_output_into(index, &mut map, pitch)
                .map_err(ShowError::ReadBack)?;
        }
        let fb = back.fb;
        let full = Placement::full(self.size.0, self.size.1);
        let mut queued = Vec::new();
        match (&self.planes, modeset) {
            (Some(planes), false) => {
                let primary = Layer {
                    fb,
                    at: full,
                    in_fence: None,
                    hotspot: None,
                };
                let acquire = lifted.as_ref().and_then(|(c, _, _)| c.hold.take_acquire());
                let upper = lifted.as_ref().map(|(_, ufb, at)| Layer {
                    fb: *ufb,
                    at: *at,
                    in_fence: acquire.as_ref().map(|f| f.as_fd()),
                    hotspot: None,
                });
                let cursor_layer = cursor.map(|c| c.layer());
                let frame = with_cursor(planes, &primary, upper.as_ref(), cursor_layer.as_ref());
                let out_fence = planes.flip(fd, &frame)?;
                self.stats.count(|k| k.composed_flips += 1);
                if cursor.is_some() {
                    self.stats.count(|k| k.cursor_plane_flips += 1);
                }
                if let Some((candidate, _, at)) = lifted {
                    self.stats.count(|k| k.upper_plane_flips += 1);
                    let kind = planes.upper_kind().unwrap_or("upper");
                    state.record_scanout(
                        &candidate.surface,
                        ScanoutOutcome::ScannedOut(format!(
                            "Scanout: the client's dma-buf is a framebuffer of {} on the {kind} \
                             plane of {} at {}x{}+{}+{}, over the composed rest: no composition \
                             of it, no copy",
                            self.crtc_name(),
                            self.name,
                            at.dst.size.w,
                            at.dst.size.h,
                            at.dst.loc.x,
                            at.dst.loc.y
                        )),
                    );
                    self.lifted_surface = Some(candidate.surface.clone());
                    queued.push(candidate.hold);
                }
                self.release_at(out_fence, handle);
            }
            _ => {
                let plane = self.plane_state(fb);
                let queued = if modeset {
                    self.surface.commit([plane], true)
                } else {
                    self.surface.page_flip([plane], true)
                };
                queued.map_err(ShowError::Queue)?;
            }
        }
        self.back = (self.back + 1) % self.buffers.len();
        self.flipping = true;
        self.frames += 1;
        self.stats.flipped();
        self.queued = queued;
        self.queued_zero_copy = false;
        Ok(())
    }

    /// The output's topmost surface on the upper (overlay or cursor) plane, when it is a client
    /// dma-buf the display device takes there over the composed rest: its candidate, framebuffer
    /// and placement. A refusal joins the surface's reason and is remembered for the buffer.
    fn lift(
        &mut self,
        state: &mut Weft,
        fd: &DrmDeviceFd,
        scene: &Scene,
    ) -> Option<(
        weft_compositor::outputs::scanout::Candidate,
        framebuffer::Handle,
        Placement,
    )> {
        let planes = self.planes.clone()?;
        let kind = planes.upper_kind()?;
        let candidate = match Weft::overlay_candidate(scene) {
            Ok(candidate) => candidate,
            Err(why) => {
                tracing::trace!(output = %self.name, why, "no surface for the upper plane");
                return None;
            }
        };
        let [x, y, w, h] = candidate.src.map(f64::from);
        let [dx, dy, dw, dh] = candidate.dst;
        let at = Placement {
            src: Rectangle::new((x, y).into(), (w, h).into()),
            dst: Rectangle::new((dx, dy).into(), (dw, dh).into()),
        };
        let primary_fb = self.buffers.get(self.back)?.fb;
        let full = Placement::full(self.size.0, self.size.1);
        let verdict = self.client_fb(fd, &candidate, &at, true, |ufb| {
            let primary = Layer {
                fb: primary_fb,
                at: full,
                in_fence: None,
                hotspot: None,
            };
            let upper = Layer {
                fb: ufb,
                at,
                in_fence: None,
                hotspot: None,
            };
            let frame = Frame {
                primary: &primary,
                upper: Some(&upper),
                cursor: None,
            };
            planes.test(fd, &frame).map_err(|e| Refusal::Plane {
                plane: kind,
                scaled: at.scales(),
                source: Arc::new(e),
            })
        });
        match verdict {
            Ok(fb) => Some((candidate, fb, at)),
            Err(why) => {
                state.record_scanout(
                    &candidate.surface,
                    ScanoutOutcome::Composed(why.to_string()),
                );
                None
            }
        }
    }

    /// `candidate`'s framebuffer on this device (imported and made once per buffer, a few kept),
    /// once `test` accepts it at `at` (tested once per placement and plane; the answer is kept
    /// for the buffer, either way).
    fn client_fb(
        &mut self,
        fd: &DrmDeviceFd,
        candidate: &weft_compositor::outputs::scanout::Candidate,
        at: &Placement,
        upper: bool,
        test: impl FnOnce(framebuffer::Handle) -> Result<(), Refusal>,
    ) -> Result<framebuffer::Handle, Refusal> {
        let known = self
            .client_fbs
            .iter()
            .position(|e| e.buffer == candidate.buffer);
        let mut entry = match known.and_then(|i| self.client_fbs.remove(i)) {
            Some(entry) => entry,
            None => {
                self.stats.count(|k| k.client_framebuffers += 1);
                ClientEntry {
                    buffer: candidate.buffer.clone(),
                    fb: import_client_fb(fd, &candidate.dmabuf),
                    tested: None,
                }
            }
        };
        // The framebuffer, once the driver accepts it at this placement (answers are kept).
        let verdict = match &entry.fb {
            Err(why) => Err(why.clone()),
            Ok(client) => match &entry.tested {
                Some((tested_at, tested_upper, verdict))
                    if tested_at == at && *tested_upper == upper =>
                {
                    verdict.clone().map(|()| client.fb)
                }
                _ => {
                    self.stats.count(|k| k.tests += 1);
                    let verdict = test(client.fb);
                    entry.tested = Some((*at, upper, verdict.clone()));
                    verdict.map(|()| client.fb)
                }
            },
        };
        self.client_fbs.push_back(entry);
        while self.client_fbs.len() > CLIENT_FBS {
            self.client_fbs.pop_front();
        }
        verdict
    }

    /// Shows the output's one client buffer directly, when the display device takes it:
    /// imported, made a framebuffer and accepted by an atomic TEST_ONLY on the primary plane at
    /// its placement (a viewport's crop and scale as the plane's source and destination
    /// rectangles). `Err(Some(..))`: a candidate the device refused, and why; `Err(None)`: no
    /// candidate.
    fn scanout(
        &mut self,
        state: &mut Weft,
        fd: &DrmDeviceFd,
        handle: &Loop,
        (index, scene): (usize, &Scene),
        cursor: Option<cursor::CursorLayer>,
    ) -> Result<WlSurface, Option<(WlSurface, Refusal)>> {
        let candidate = state.scanout_candidate(index, scene).map_err(|_| None)?;
        let surface = candidate.surface.clone();
        let refused = |why: Refusal| Some((surface.clone(), why));
        let Some(planes) = self.planes.clone() else {
            return Err(refused(Refusal::NoAtomicPlane(self.name.clone())));
        };
        let [x, y, w, h] = candidate.src.map(f64::from);
        let at = Placement {
            src: Rectangle::new((x, y).into(), (w, h).into()),
            dst: Rectangle::from_size((self.size.0 as i32, self.size.1 as i32).into()),
        };
        let fb = self
            .client_fb(fd, &candidate, &at, false, |fb| {
                let layer = Layer {
                    fb,
                    at,
                    in_fence: None,
                    hotspot: None,
                };
                let frame = Frame {
                    primary: &layer,
                    upper: None,
                    cursor: None,
                };
                planes.test(fd, &frame).map_err(|e| Refusal::Plane {
                    plane: "primary",
                    scaled: at.scales(),
                    source: Arc::new(e),
                })
            })
            .map_err(refused)?;
        // The buffer's acquire fence, where it still has one, as the plane's IN_FENCE_FD: KMS
        // latches it only once the producer is done (weft applied the commit after the fence
        // signalled, so this rarely waits).
        let fence = candidate.hold.take_acquire();
        let layer = Layer {
            fb,
            at,
            in_fence: fence.as_ref().map(|f| f.as_fd()),
            hotspot: None,
        };
        let cursor_layer = cursor.map(|c| c.layer());
        let frame = with_cursor(&planes, &layer, None, cursor_layer.as_ref());
        let out_fence = planes
            .flip(fd, &frame)
            .map_err(|e| refused(Refusal::Flip(Arc::new(e))))?;
        self.stats.count(|k| k.scanout_flips += 1);
        if cursor.is_some() {
            self.stats.count(|k| k.cursor_plane_flips += 1);
        }
        self.release_at(out_fence, handle);
        self.flipping = true;
        self.frames += 1;
        self.stats.flipped();
        self.queued = vec![candidate.hold];
        self.queued_zero_copy = true;
        let how = if at.scales() {
            format!(
                ", scaled by the plane from {}x{} to {}x{}",
                at.src.size.w, at.src.size.h, at.dst.size.w, at.dst.size.h
            )
        } else if at.src.loc != (0.0, 0.0).into() || at.src.size.w as u32 != self.size.0 {
            format!(
                ", the plane's source rectangle {}x{}+{}+{}",
                at.src.size.w, at.src.size.h, at.src.loc.x, at.src.loc.y
            )
        } else {
            String::new()
        };
        state.record_scanout(
            &surface,
            ScanoutOutcome::ScannedOut(format!(
                "Scanout: the client's dma-buf is a framebuffer of {} on the primary plane of \
                 {}{how}: no composition, no copy",
                self.crtc_name(),
                self.name
            )),
        );
        Ok(surface)
    }

    /// The flip just queued replaces what is on screen: the client buffer shown until now (if
    /// any) is released when the flip's out-fence signals, the moment the display stops
    /// reading it. Without an out-fence it is released at the flip's completion event.
    fn release_at(&mut self, out_fence: Option<std::os::fd::OwnedFd>, handle: &Loop) {
        let Some(fence) = out_fence else {
            return;
        };
        let mut replaced = Some(std::mem::take(&mut self.on_screen));
        if replaced.as_ref().is_some_and(Vec::is_empty) {
            return;
        }
        let source =
            calloop::generic::Generic::new(fence, calloop::Interest::READ, calloop::Mode::OneShot);
        let stats = self.stats.clone();
        let inserted = handle.insert_source(source, move |_, _, _| {
            // Dropped: the buffer's wl_buffer.release goes out (with its read fence).
            if let Some(buffers) = replaced.take() {
                stats.count(|k| {
                    k.released_at_out_fence += buffers.len() as u64;
                });
            }
            Ok(calloop::PostAction::Remove)
        });
        if let Err(e) = inserted {
            // The closure, and the buffer with it, is dropped: released now rather than never.
            warn!(error = %e, "out-fence not watched: the replaced buffer is released at once");
        }
    }

    /// The cursor of output `index`'s `scene` on the cursor plane, where it may go and the
    /// driver takes it (then it is no longer in `scene`).
    fn place_cursor(
        &mut self,
        state: &mut Weft,
        fd: &DrmDeviceFd,
        index: usize,
        scene: &mut Scene,
    ) -> Option<cursor::CursorLayer> {
        let planes = self.planes.clone()?;
        let primary = Layer {
            fb: self.buffers.get(self.back)?.fb,
            at: Placement::full(self.size.0, self.size.1),
            in_fence: None,
            hotspot: None,
        };
        self.cursor
            .as_mut()?
            .place(state, (fd, &planes), (index, &primary), scene)
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

    /// Whether a mode waits to be put in force (the next frame is its modeset).
    pub(super) fn has_pending_mode(&self) -> bool {
        self.pending_mode.is_some()
    }

    /// The queued frame is on screen now: what it shows is held, what it replaced is let go.
    pub(super) fn flip_done(&mut self) {
        self.on_screen = std::mem::take(&mut self.queued);
        self.on_screen_zero_copy = self.queued_zero_copy;
        self.queued_zero_copy = false;
        // Switched off meanwhile: the CRTC shows nothing, so nothing is held.
        if self.off {
            self.on_screen.clear();
        }
    }
}

/// A plane of `crtc` above its primary, not in `taken`: an overlay plane where there is one, else
/// a cursor plane, with its kind's name. Read from the planes' `type` properties.
fn upper_plane(
    fd: &DrmDeviceFd,
    crtc: crtc::Handle,
    taken: &[smithay::reexports::drm::control::plane::Handle],
) -> Option<(
    smithay::reexports::drm::control::plane::Handle,
    &'static str,
)> {
    let res = fd.resource_handles().ok()?;
    let mut found: Vec<(
        u8,
        smithay::reexports::drm::control::plane::Handle,
        &'static str,
    )> = Vec::new();
    for plane in fd.plane_handles().ok()? {
        if taken.contains(&plane) {
            continue;
        }
        let Ok(info) = fd.get_plane(plane) else {
            continue;
        };
        if !res.filter_crtcs(info.possible_crtcs()).contains(&crtc) {
            continue;
        }
        let Ok(props) = fd.get_properties(plane) else {
            continue;
        };
        let kind = props.iter().find_map(|(prop, value)| {
            let info = fd.get_property(*prop).ok()?;
            (info.name().to_bytes() == b"type").then_some(*value)
        });
        // DRM_PLANE_TYPE_OVERLAY = 0, PRIMARY = 1, CURSOR = 2.
        match kind {
            Some(0) => found.push((0, plane, "overlay")),
            Some(2) => found.push((1, plane, "cursor")),
            _ => {}
        }
    }
    found.sort_by_key(|(rank, plane, _)| (*rank, u32::from(*plane)));
    found.first().map(|(_, plane, kind)| (*plane, *kind))
}

/// A dumb buffer of the display device imported on the render device composing output `index`.
fn import_on_render_device(
    state: &Weft,
    fd: &DrmDeviceFd,
    index: usize,
    buffer: &DumbBuffer,
) -> Result<weft_compositor::render::external::ImportedBuffer, DrmError> {
    let prime = fd
        .buffer_to_prime_fd(buffer.handle(), (OFlags::RDWR | OFlags::CLOEXEC).bits())
        .map_err(DrmError::PrimeExport)?;
    let (_, h) = buffer.size();
    let size = u64::from(buffer.pitch()) * u64::from(h);
    Ok(state.import_output_destination(index, prime.as_fd(), size)?)
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

/// The frame of `primary` and `upper` with `cursor` where `planes` shows it: on a cursor plane of
/// its own, or on the upper plane where that is the cursor plane (nothing is lifted then).
fn with_cursor<'a, 'b>(
    planes: &Planes,
    primary: &'b Layer<'a>,
    upper: Option<&'b Layer<'a>>,
    cursor: Option<&'b Layer<'a>>,
) -> Frame<'a, 'b> {
    match planes.cursor_plane() {
        Some(CursorPlaneKind::Upper) if cursor.is_some() => Frame {
            primary,
            upper: cursor,
            cursor: None,
        },
        _ => Frame {
            primary,
            upper,
            cursor,
        },
    }
}
