//! The Vulkan physical devices an instance offers, described for the device registry
//! ([`crate::devices::vulkan`]) and its render-device policy ([`crate::devices::policy`]), which
//! pick the one a [`super::Device`] is made on.

use ash::vk;

use super::instance::Instance;
use super::{DeviceKind, RenderError};

/// One physical device, as the registry and the policy see it.
#[derive(Debug, Clone)]
pub struct PhysicalInfo {
    /// Position in `vkEnumeratePhysicalDevices` (stable for the instance's lifetime).
    pub index: usize,
    pub name: String,
    pub kind: DeviceKind,
    /// The Vulkan driver's name (VkPhysicalDeviceDriverProperties), "llvmpipe" style.
    pub driver: String,
    /// Why weft cannot render on it (no Vulkan 1.3, no graphics queue), if it cannot.
    pub unusable: Option<String>,
    pub extensions: Vec<String>,
    /// `dev_t`s of its DRM primary and render nodes (VK_EXT_physical_device_drm).
    pub drm_primary: Option<u64>,
    pub drm_render: Option<u64>,
}

impl PhysicalInfo {
    pub fn has_extension(&self, name: &str) -> bool {
        self.extensions.iter().any(|e| e == name)
    }
}

/// Every physical device of `instance`, with its handle.
pub fn enumerate(
    instance: &Instance,
) -> Result<Vec<(vk::PhysicalDevice, PhysicalInfo)>, RenderError> {
    let vki = &instance.raw;
    // SAFETY: plain enumeration on a live instance.
    let physicals = unsafe { vki.enumerate_physical_devices() }
        .map_err(RenderError::vk("vkEnumeratePhysicalDevices"))?;
    let mut out = Vec::new();
    for (index, pd) in physicals.into_iter().enumerate() {
        // SAFETY: `pd` was just enumerated from this instance.
        let props = unsafe { vki.get_physical_device_properties(pd) };
        let name = props
            .device_name_as_c_str()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        // SAFETY: as above.
        let extensions: Vec<String> = unsafe { vki.enumerate_device_extension_properties(pd) }
            .unwrap_or_default()
            .iter()
            .filter_map(|e| e.extension_name_as_c_str().ok())
            .map(|s| s.to_string_lossy().into_owned())
            .collect();
        // SAFETY: as above.
        let families = unsafe { vki.get_physical_device_queue_family_properties(pd) };
        let graphics = families
            .iter()
            .any(|f| f.queue_flags.contains(vk::QueueFlags::GRAPHICS));
        let unusable = if props.api_version < vk::API_VERSION_1_3 {
            Some("no Vulkan 1.3".to_string())
        } else if !graphics {
            Some("no graphics queue".to_string())
        } else {
            None
        };
        let mut driver_props = vk::PhysicalDeviceDriverProperties::default();
        let has_drm = extensions.iter().any(|e| e == "VK_EXT_physical_device_drm");
        let mut drm = vk::PhysicalDeviceDrmPropertiesEXT::default();
        let mut props2 = vk::PhysicalDeviceProperties2::default().push_next(&mut driver_props);
        if has_drm {
            props2 = props2.push_next(&mut drm);
        }
        if props.api_version >= vk::API_VERSION_1_2 {
            // SAFETY: valid physical device; VkPhysicalDeviceDriverProperties is core 1.2 and the DRM
            // properties are chained only when the device advertises the extension.
            unsafe { vki.get_physical_device_properties2(pd, &mut props2) };
        }
        let driver = driver_props
            .driver_name_as_c_str()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let node = |has: vk::Bool32, major: i64, minor: i64| {
            (has == vk::TRUE).then(|| rustix::fs::makedev(major as u32, minor as u32))
        };
        out.push((
            pd,
            PhysicalInfo {
                index,
                name,
                kind: DeviceKind::from(props.device_type),
                driver,
                unusable,
                extensions,
                drm_primary: node(drm.has_primary, drm.primary_major, drm.primary_minor),
                drm_render: node(drm.has_render, drm.render_major, drm.render_minor),
            },
        ));
    }
    Ok(out)
}
