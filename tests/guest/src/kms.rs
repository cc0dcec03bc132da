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
