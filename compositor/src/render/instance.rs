//! The Vulkan instance: loader entry, optional validation layer, debug messages routed to `tracing`.
//!
//! Invariant: an [`Instance`] outlives every device made from it (devices hold an `Arc<Instance>`).

use std::ffi::{c_void, CStr};
use std::sync::Arc;

use ash::vk;
use tracing::{debug, info, warn};

use super::RenderError;

const VALIDATION_LAYER: &CStr = c"VK_LAYER_KHRONOS_validation";

/// An `ash` instance plus what must die with it.
pub struct Instance {
    /// The loader: outlives every object made through it; surface extensions load from it.
    pub(crate) entry: ash::Entry,
    pub(crate) raw: ash::Instance,
    debug: Option<(ash::ext::debug_utils::Instance, vk::DebugUtilsMessengerEXT)>,
    /// Instance extensions that were enabled (names), for capability checks.
    pub extensions: Vec<String>,
}

impl Instance {
    /// The loader (for platform surface extensions outside this crate).
    pub fn entry(&self) -> &ash::Entry {
        &self.entry
    }

    pub fn ash(&self) -> &ash::Instance {
        &self.raw
    }

    /// Loads the Vulkan loader and creates an instance. `validation` asks for the Khronos validation
    /// layer; it is enabled only when installed. `required` are extensions a caller cannot do
    /// without (a window backend's VK_KHR_surface and platform surface extension): missing ones fail
    /// with [`RenderError::MissingExtension`].
    #[tracing::instrument(skip_all, err)]
    pub fn new(validation: bool, required: &[&'static CStr]) -> Result<Arc<Self>, RenderError> {
        // SAFETY: loading the system Vulkan loader runs its initialisers; we do it once per renderer and
        // keep `entry` alive as long as any object made from it (it is a field of this struct).
        let entry =
            unsafe { ash::Entry::load() }.map_err(|e| RenderError::NoVulkan(e.to_string()))?;

        // SAFETY: plain enumeration query on a valid entry.
        let layer_props =
            unsafe { entry.enumerate_instance_layer_properties() }.unwrap_or_default();
        let have_validation = layer_props
            .iter()
            .any(|l| l.layer_name_as_c_str().ok() == Some(VALIDATION_LAYER));
        // SAFETY: plain enumeration query on a valid entry.
        let ext_props = unsafe { entry.enumerate_instance_extension_properties(None) }
            .map_err(RenderError::vk("vkEnumerateInstanceExtensionProperties"))?;
        let available: Vec<String> = ext_props
            .iter()
            .filter_map(|e| e.extension_name_as_c_str().ok())
            .map(|s| s.to_string_lossy().into_owned())
            .collect();

        let mut layers = Vec::new();
        if validation && have_validation {
            layers.push(VALIDATION_LAYER.as_ptr());
        } else if validation {
            debug!("Vulkan validation requested but VK_LAYER_KHRONOS_validation is not installed");
        }
        let want_debug = available.iter().any(|e| e == "VK_EXT_debug_utils");
        let mut ext_names = vec![];
        let mut enabled = vec![];
        if want_debug {
            ext_names.push(ash::ext::debug_utils::NAME.as_ptr());
            enabled.push("VK_EXT_debug_utils".to_string());
        }
        for name in [
            ash::khr::external_memory_capabilities::NAME,
            ash::khr::get_physical_device_properties2::NAME,
        ] {
            let s = name.to_string_lossy();
            if available.iter().any(|e| *e == s) {
                ext_names.push(name.as_ptr());
                enabled.push(s.into_owned());
            }
        }
        for name in required {
            let s = name.to_string_lossy();
            if !available.iter().any(|e| *e == s) {
                return Err(RenderError::MissingExtension(s.into_owned()));
            }
            if !enabled.iter().any(|e| *e == s) {
                ext_names.push(name.as_ptr());
                enabled.push(s.into_owned());
            }
        }

        let app = vk::ApplicationInfo::default()
            .application_name(c"weft")
            .engine_name(c"weft")
            .api_version(vk::API_VERSION_1_3);
        let info = vk::InstanceCreateInfo::default()
            .application_info(&app)
            .enabled_layer_names(&layers)
            .enabled_extension_names(&ext_names);
        // SAFETY: every pointer in `info` refers to locals that live across this call
        // (VUID-VkInstanceCreateInfo-ppEnabledExtensionNames-parameter).
        // (Created while no other thread does Vulkan work: see `gate`.)
        let raw = super::gate::exclusive(|| unsafe { entry.create_instance(&info, None) })
            .map_err(RenderError::vk("vkCreateInstance"))?;

        let debug = if want_debug {
            let loader = ash::ext::debug_utils::Instance::new(&entry, &raw);
            let info = vk::DebugUtilsMessengerCreateInfoEXT::default()
                .message_severity(
                    vk::DebugUtilsMessageSeverityFlagsEXT::ERROR
                        | vk::DebugUtilsMessageSeverityFlagsEXT::WARNING
                        | vk::DebugUtilsMessageSeverityFlagsEXT::INFO,
                )
                .message_type(
                    vk::DebugUtilsMessageTypeFlagsEXT::GENERAL
                        | vk::DebugUtilsMessageTypeFlagsEXT::VALIDATION
                        | vk::DebugUtilsMessageTypeFlagsEXT::PERFORMANCE,
                )
                .pfn_user_callback(Some(debug_callback));
            // SAFETY: the instance was created with VK_EXT_debug_utils enabled; the callback is a plain
            // function with no user data.
            match unsafe { loader.create_debug_utils_messenger(&info, None) } {
                Ok(m) => Some((loader, m)),
                Err(e) => {
                    warn!("could not create the Vulkan debug messenger: {e}");
                    None
                }
            }
        } else {
            None
        };
        info!(
            validation = validation && have_validation,
            "Vulkan instance created"
        );
        Ok(Arc::new(Self {
            entry,
            raw,
            debug,
            extensions: enabled,
        }))
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        // SAFETY: every device made from this instance holds an Arc to it, so none is alive now; the
        // messenger belongs to this instance (VUID-vkDestroyInstance-instance-00629).
        unsafe {
            if let Some((loader, messenger)) = self.debug.take() {
                loader.destroy_debug_utils_messenger(messenger, None);
            }
            super::gate::exclusive(|| self.raw.destroy_instance(None));
        }
    }
}

/// Routes validation and driver messages into `tracing`. Validation errors are weft bugs, so they are
/// logged at ERROR (the logging policy: an ERROR in the log is always a bug in weft).
unsafe extern "system" fn debug_callback(
    severity: vk::DebugUtilsMessageSeverityFlagsEXT,
    _kind: vk::DebugUtilsMessageTypeFlagsEXT,
    data: *const vk::DebugUtilsMessengerCallbackDataEXT<'_>,
    _user: *mut c_void,
) -> vk::Bool32 {
    // SAFETY: the loader passes a valid callback-data pointer whose strings live for this call.
    let message = unsafe {
        data.as_ref()
            .and_then(|d| d.message_as_c_str())
            .map(|m| m.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    if severity.contains(vk::DebugUtilsMessageSeverityFlagsEXT::ERROR) {
        tracing::error!(target: "weft::vulkan", "{message}");
    } else if severity.contains(vk::DebugUtilsMessageSeverityFlagsEXT::WARNING)
        && message.starts_with("VK_ERROR_")
    {
        // The layer repeating a call's failing VkResult (an import a rung tried and the device
        // refused): weft gets the same result, records it as the rung's reason and falls back; an
        // expected fallback is debug, not a warning.
        tracing::debug!(target: "weft::vulkan", "{message}");
    } else if severity.contains(vk::DebugUtilsMessageSeverityFlagsEXT::WARNING) {
        tracing::warn!(target: "weft::vulkan", "{message}");
    } else {
        tracing::trace!(target: "weft::vulkan", "{message}");
    }
    vk::FALSE
}
