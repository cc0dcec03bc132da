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

/// Every CRTC of `node` that scans out a framebuffer, with what it shows.
pub fn scanned_out(node: &DrmNode) -> Result<Vec<Scanned>> {
    let res = node.resource_handles().op("DRM_IOCTL_MODE_GETRESOURCES")?;
    let mut out = Vec::new();
    for &crtc in res.crtcs() {
        let info = node.get_crtc(crtc).op("DRM_IOCTL_MODE_GETCRTC")?;
        let Some(fb) = info.framebuffer() else {
            continue;
        };
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
        out.push(Scanned {
            crtc: u32::from(crtc),
            width,
            height,
            pitch: fb.pitch(),
            bytes: bytes?,
        });
    }
    Ok(out)
}
