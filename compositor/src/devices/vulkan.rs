//! Vulkan physical devices in the registry, matched to their DRM nodes through
//! VK_EXT_physical_device_drm: a DRM device that Vulkan drives gains the Vulkan caps (and a
//! render-only one becomes `render`); a Vulkan device with no DRM node (lavapipe) is a `software`
//! device of its own.

use super::{Caps, DevT, DeviceId, DeviceKind, DeviceRecord};
use crate::render::PhysicalInfo;

/// The registry id of a Vulkan device that has no DRM record.
pub fn software_id(p: &PhysicalInfo) -> DeviceId {
    let name = if p.driver.is_empty() {
        &p.name
    } else {
        &p.driver
    };
    DeviceId::new(format!("vk:{name}"))
}

/// Adds `physicals` to `records`.
pub fn merge(records: &mut Vec<DeviceRecord>, physicals: &[PhysicalInfo]) {
    for p in physicals {
        let nodes: Vec<DevT> = [p.drm_primary, p.drm_render]
            .into_iter()
            .flatten()
            .map(DevT::from_raw)
            .collect();
        let vk_caps = |caps: &mut Caps| {
            caps.vulkan = Some(p.name.clone());
            caps.dmabuf_import = Some(
                p.has_extension("VK_EXT_external_memory_dma_buf")
                    && p.has_extension("VK_KHR_external_memory_fd"),
            );
            caps.drm_format_modifiers = Some(p.has_extension("VK_EXT_image_drm_format_modifier"));
        };
        if let Some(record) = records
            .iter_mut()
            .find(|r| nodes.iter().any(|&n| r.has_dev(n)))
        {
            vk_caps(&mut record.caps);
            if record.kind == DeviceKind::RenderOnly && p.unusable.is_none() {
                record.kind = DeviceKind::Render;
            }
            continue;
        }
        let mut caps = Caps::default();
        vk_caps(&mut caps);
        records.push(DeviceRecord {
            id: software_id(p),
            kind: if nodes.is_empty() {
                DeviceKind::Software
            } else {
                DeviceKind::Render
            },
            driver: p.driver.clone(),
            nodes: nodes
                .iter()
                .map(|&dev| super::Node {
                    path: format!("/dev/char/{dev}"),
                    dev: Some(dev),
                })
                .collect(),
            caps,
            syspath: None,
            logical_of: None,
        });
    }
}
