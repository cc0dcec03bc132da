//! What a KMS device's planes scan out: plane type, legacy format list and `IN_FORMATS`.

use drm::control::Device as _;

use crate::drm_node::DrmNode;
use crate::error::{IoContext, Result};
use crate::in_formats;

/// One plane.
#[derive(Debug, Clone)]
pub struct Plane {
    pub id: u32,
    /// "primary", "overlay", "cursor" (the `type` property).
    pub kind: &'static str,
    /// `drmModeGetPlane`'s format list.
    pub formats: Vec<u32>,
    /// Format → modifiers from `IN_FORMATS`; `None` if the plane has no such property.
    pub in_formats: Option<Vec<(u32, Vec<u64>)>>,
}

/// All planes of `node` (universal planes are switched on first).
pub fn planes(node: &DrmNode) -> Result<Vec<Plane>> {
    node.enable_universal_planes()?;
    let mut out = Vec::new();
    for handle in node
        .plane_handles()
        .op("DRM_IOCTL_MODE_GETPLANERESOURCES")?
    {
        let info = node.get_plane(handle).op("DRM_IOCTL_MODE_GETPLANE")?;
        let props = node
            .get_properties(handle)
            .op("DRM_IOCTL_MODE_OBJ_GETPROPERTIES")?;
        let mut kind = "unknown";
        let mut in_formats = None;
        for (&prop, &value) in props.iter() {
            let pinfo = node.get_property(prop).op("DRM_IOCTL_MODE_GETPROPERTY")?;
            match pinfo.name().to_bytes() {
                b"type" => {
                    kind = match value {
                        0 => "overlay",
                        1 => "primary",
                        2 => "cursor",
                        _ => "unknown",
                    }
                }
                b"IN_FORMATS" => {
                    let blob = node
                        .get_property_blob(value)
                        .op("DRM_IOCTL_MODE_GETPROPBLOB")?;
                    let parsed = in_formats::parse(&blob)
                        .map_err(|e| crate::Error::Unsupported(format!("IN_FORMATS blob: {e}")))?;
                    in_formats = Some(parsed);
                }
                _ => {}
            }
        }
        out.push(Plane {
            id: u32::from(handle),
            kind,
            formats: info.formats().to_vec(),
            in_formats,
        });
    }
    Ok(out)
}

/// What one CRTC scans out now: its framebuffer's size, pitch and bytes (read through a PRIME
/// export of the framebuffer's buffer: root may look at any master's framebuffer).
#[derive(Debug, Clone)]
pub struct Scanned {
    pub crtc: u32,
    pub width: u32,
    pub height: u32,
    pub pitch: u32,
    pub bytes: Vec<u8>,
}

impl Scanned {
    /// The XRGB8888 pixel at (x, y) as [r, g, b].
    pub fn rgb(&self, x: u32, y: u32) -> Option<[u8; 3]> {
        let at = y as usize * self.pitch as usize + x as usize * 4;
        let px = self.bytes.get(at..at + 4)?;
        Some([px[2], px[1], px[0]])
    }
}

/// What framebuffer `fb` holds, read through a PRIME export of its buffer (`crtc`: whose).
fn read_fb(node: &DrmNode, crtc: u32, fb: drm::control::framebuffer::Handle) -> Result<Scanned> {
    let fb = node.get_framebuffer(fb).op("DRM_IOCTL_MODE_GETFB")?;
    let handle = fb.buffer().ok_or_else(|| {
        crate::Error::Unsupported("GETFB gave no buffer handle (not root?)".into())
    })?;
    let fd = node
        .buffer_to_prime_fd(handle, libc::O_CLOEXEC as u32 | libc::O_RDWR as u32)
        .op("DRM_IOCTL_PRIME_HANDLE_TO_FD")?;
    let bytes = crate::dmabuf::DmaBuf::new(fd, "scanout")?.read_all();
    let _ = node.close_gem(handle);
    let (width, height) = fb.size();
    Ok(Scanned {
        crtc,
        width,
        height,
        pitch: fb.pitch(),
        bytes: bytes?,
    })
}

/// Every plane of `node` of kind `kind` ("overlay", "cursor") that shows a framebuffer now, with
/// what it shows and where on its CRTC (x, y).
pub fn planes_showing(node: &DrmNode, kind: &str) -> Result<Vec<(Scanned, (i32, i32))>> {
    // Plane positions (CRTC_X/Y) are atomic properties; virtual devices show their cursor
    // planes to atomic clients only when they also take the hotspot capability.
    use drm::{ClientCapability, Device as _};
    node.set_client_capability(ClientCapability::Atomic, true)
        .op("DRM_CLIENT_CAP_ATOMIC")?;
    let _ = node.set_client_capability(ClientCapability::CursorPlaneHotspot, true);
    let mut out = Vec::new();
    for plane in planes(node)?.into_iter().filter(|p| p.kind == kind) {
        let handle = drm::control::from_u32::<drm::control::plane::Handle>(plane.id)
            .ok_or_else(|| crate::Error::Unsupported("plane id 0".into()))?;
        let info = node.get_plane(handle).op("DRM_IOCTL_MODE_GETPLANE")?;
        let (Some(fb), Some(crtc)) = (info.framebuffer(), info.crtc()) else {
            continue;
        };
        let props = node
            .get_properties(handle)
            .op("DRM_IOCTL_MODE_OBJ_GETPROPERTIES")?;
        let mut at = (0, 0);
        for (&prop, &value) in props.iter() {
            let pinfo = node.get_property(prop).op("DRM_IOCTL_MODE_GETPROPERTY")?;
            match pinfo.name().to_bytes() {
                b"CRTC_X" => at.0 = value as i64 as i32,
                b"CRTC_Y" => at.1 = value as i64 as i32,
                _ => {}
            }
        }
        out.push((read_fb(node, u32::from(crtc), fb)?, at));
    }
    Ok(out)
}

/// Every CRTC of `node` that scans out a framebuffer, with what it shows.
pub fn scanned_out(node: &DrmNode) -> Result<Vec<Scanned>> {
    let res = node.resource_handles().op("DRM_IOCTL_MODE_GETRESOURCES")?;
    let mut out = Vec::new();
    for &crtc in res.crtcs() {
        let info = node.get_crtc(crtc).op("DRM_IOCTL_MODE_GETCRTC")?;
        let Some(fb) = info.framebuffer() else {
            continue;
        };
        out.push(read_fb(node, u32::from(crtc), fb)?);
    }
    Ok(out)
}
