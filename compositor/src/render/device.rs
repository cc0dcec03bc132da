//! The render device: one Vulkan physical device, its logical device, a graphics queue and the memory
//! allocator.
//!
//! Which physical device is the registry's decision ([`crate::devices::policy`]); this module makes
//! the logical device on it.
//!
//! Invariant: every Vulkan object weft creates on this device holds an `Arc<Device>`, so the logical
//! device (and the allocator that lives in it) is destroyed only after all of them.

use std::mem::ManuallyDrop;
use std::sync::{Arc, Mutex, MutexGuard};

use ash::vk;
use gpu_allocator::vulkan::{Allocator, AllocatorCreateDesc};
use tracing::{info, warn};

use super::instance::Instance;
use super::physical::PhysicalInfo;
use super::RenderError;

/// Device extensions weft enables when present; the dma-buf import rungs are gated on them.
const OPTIONAL_EXTENSIONS: &[&std::ffi::CStr] = &[
    ash::khr::external_memory_fd::NAME,
    ash::ext::external_memory_dma_buf::NAME,
    ash::ext::image_drm_format_modifier::NAME,
    ash::ext::queue_family_foreign::NAME,
    // wl_shm pools read in place (`host_memory`).
    ash::ext::external_memory_host::NAME,
    ash::khr::external_semaphore_fd::NAME,
    ash::ext::physical_device_drm::NAME,
    // Window backends present through a swapchain (checked by `swapchain::Swapchain::new`).
    ash::khr::swapchain::NAME,
];

/// What kind of hardware the render device is (reported over IPC and used for selection).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceKind {
    Discrete,
    Integrated,
    Virtual,
    Cpu,
    Other,
}

impl From<vk::PhysicalDeviceType> for DeviceKind {
    fn from(t: vk::PhysicalDeviceType) -> Self {
        match t {
            vk::PhysicalDeviceType::DISCRETE_GPU => Self::Discrete,
            vk::PhysicalDeviceType::INTEGRATED_GPU => Self::Integrated,
            vk::PhysicalDeviceType::VIRTUAL_GPU => Self::Virtual,
            vk::PhysicalDeviceType::CPU => Self::Cpu,
            _ => Self::Other,
        }
    }
}

impl DeviceKind {
    /// How much weft prefers rendering on this kind, all else equal.
    pub fn preference(self) -> u32 {
        match self {
            Self::Discrete => 4,
            Self::Integrated => 3,
            Self::Virtual => 2,
            Self::Other => 1,
            Self::Cpu => 0,
        }
    }
}

/// Facts about the chosen device, for introspection.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DeviceInfo {
    pub name: String,
    pub kind: DeviceKind,
    pub driver: String,
    pub api_version: String,
    pub extensions: Vec<String>,
}

pub struct Device {
    /// Keeps the instance alive as long as the device (see the module invariant); also used for
    /// the physical-device queries of the dma-buf import paths.
    pub(crate) instance: Arc<Instance>,
    /// Used by the dma-buf import paths to query format and modifier support.
    pub(crate) physical: vk::PhysicalDevice,
    pub(crate) raw: ash::Device,
    pub(crate) queue: vk::Queue,
    pub(crate) queue_family: u32,
    allocator: ManuallyDrop<Mutex<Allocator>>,
    pub(crate) info: DeviceInfo,
    /// The physical device as the registry knows it (its DRM nodes, its index).
    pub(crate) physical_info: PhysicalInfo,
    /// Test hooks ([`super::faults`]).
    pub(crate) faults: super::faults::Faults,
}

impl Device {
    /// Makes the logical device on the physical device `pick` chooses from the instance's list
    /// (the registry's render-device policy, [`crate::devices::policy`]).
    // A device that cannot be made is the caller's to report (weft exits with the reason); not a
    // weft bug, so not an ERROR line.
    #[tracing::instrument(skip_all, err(level = "info"))]
    pub fn new(
        instance: Arc<Instance>,
        pick: &dyn Fn(&[PhysicalInfo]) -> Result<usize, RenderError>,
    ) -> Result<Arc<Self>, RenderError> {
        let vki = &instance.raw;
        let listed = super::physical::enumerate(&instance)?;
        let infos: Vec<PhysicalInfo> = listed.iter().map(|(_, i)| i.clone()).collect();
        let chosen = pick(&infos)?;
        let (physical, physical_info) = listed
            .into_iter()
            .find(|(_, i)| i.index == chosen)
            .ok_or(RenderError::NoDevice)?;
        if let Some(why) = &physical_info.unusable {
            return Err(RenderError::Allocation(format!(
                "{} cannot render: {why}",
                physical_info.name
            )));
        }
        // SAFETY: `physical` was enumerated from this instance.
        let families = unsafe { vki.get_physical_device_queue_family_properties(physical) };
        let queue_family = families
            .iter()
            .position(|f| f.queue_flags.contains(vk::QueueFlags::GRAPHICS))
            .ok_or(RenderError::NoDevice)? as u32;
        let kind = physical_info.kind;
        let name = physical_info.name.clone();

        // SAFETY: `physical` is a valid handle from this instance.
        let available = unsafe { vki.enumerate_device_extension_properties(physical) }
            .map_err(RenderError::vk("vkEnumerateDeviceExtensionProperties"))?;
        let available: Vec<String> = available
            .iter()
            .filter_map(|e| e.extension_name_as_c_str().ok())
            .map(|s| s.to_string_lossy().into_owned())
            .collect();
        let mut ext_ptrs = Vec::new();
        let mut enabled = Vec::new();
        // VK_KHR_swapchain requires VK_KHR_surface on the instance, which only window backends ask for.
        let can_present = instance.extensions.iter().any(|e| e == "VK_KHR_surface");
        for ext in OPTIONAL_EXTENSIONS {
            if *ext == ash::khr::swapchain::NAME && !can_present {
                continue;
            }
            let s = ext.to_string_lossy();
            if available.iter().any(|a| *a == s) {
                ext_ptrs.push(ext.as_ptr());
                enabled.push(s.into_owned());
            }
        }

        let priorities = [1.0f32];
        let queue_info = [vk::DeviceQueueCreateInfo::default()
            .queue_family_index(queue_family)
            .queue_priorities(&priorities)];
        let mut features13 = vk::PhysicalDeviceVulkan13Features::default()
            .dynamic_rendering(true)
            .synchronization2(true);
        let mut features12 = vk::PhysicalDeviceVulkan12Features::default().timeline_semaphore(true);
        let mut features11 = vk::PhysicalDeviceVulkan11Features::default()
            .sampler_ycbcr_conversion(supports_ycbcr(&instance, physical));
        let info = vk::DeviceCreateInfo::default()
            .queue_create_infos(&queue_info)
            .enabled_extension_names(&ext_ptrs)
            .push_next(&mut features13)
            .push_next(&mut features12)
            .push_next(&mut features11);
        // SAFETY: all pointers in `info` refer to locals alive across the call; the features requested
        // are core 1.3 features every conformant 1.3 device supports (dynamicRendering,
        // synchronization2, timelineSemaphore), and Y'CbCr only when queried as supported.
        // (Created while no other thread does Vulkan work: see `gate`.)
        let raw = super::gate::exclusive(|| unsafe { vki.create_device(physical, &info, None) })
            .map_err(RenderError::vk("vkCreateDevice"))?;
        // SAFETY: queue 0 of `queue_family` was requested in `queue_info`.
        let queue = unsafe { raw.get_device_queue(queue_family, 0) };

        let allocator = Allocator::new(&AllocatorCreateDesc {
            instance: vki.clone(),
            device: raw.clone(),
            physical_device: physical,
            debug_settings: Default::default(),
            buffer_device_address: false,
            allocation_sizes: Default::default(),
        })
        .map_err(|e| RenderError::Allocation(e.to_string()))?;

        let mut driver_props = vk::PhysicalDeviceDriverProperties::default();
        let mut props2 = vk::PhysicalDeviceProperties2::default().push_next(&mut driver_props);
        // SAFETY: valid physical device; the chained struct is core 1.2.
        unsafe { vki.get_physical_device_properties2(physical, &mut props2) };
        let api = props2.properties.api_version;
        let driver = driver_props
            .driver_info_as_c_str()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let info = DeviceInfo {
            name,
            kind,
            driver,
            api_version: format!(
                "{}.{}.{}",
                vk::api_version_major(api),
                vk::api_version_minor(api),
                vk::api_version_patch(api)
            ),
            extensions: enabled,
        };
        info!(device = %info.name, kind = ?info.kind, extensions = ?info.extensions, "render device ready");
        Ok(Arc::new(Self {
            instance,
            physical,
            raw,
            queue,
            queue_family,
            allocator: ManuallyDrop::new(Mutex::new(allocator)),
            info,
            physical_info,
            faults: Default::default(),
        }))
    }

    /// The raw handles, for code outside this crate that records Vulkan work on this device (the
    /// winit backend's swapchain). Such code must keep the module invariant: hold an
    /// `Arc<Device>` as long as anything it made on the device lives, and use the queue only from
    /// the thread that owns the renderer.
    pub fn ash(&self) -> &ash::Device {
        &self.raw
    }

    pub fn instance(&self) -> &Arc<Instance> {
        &self.instance
    }

    pub fn physical(&self) -> vk::PhysicalDevice {
        self.physical
    }

    pub fn queue(&self) -> vk::Queue {
        self.queue
    }

    pub fn queue_family(&self) -> u32 {
        self.queue_family
    }

    /// (producer, ours) queue families for ownership transfers of client memory: FOREIGN → our
    /// family with VK_EXT_queue_family_foreign, else IGNORED both (`render::foreign`).
    pub fn foreign_families(&self) -> (u32, u32) {
        if self.has_extension("VK_EXT_queue_family_foreign") {
            (vk::QUEUE_FAMILY_FOREIGN_EXT, self.queue_family)
        } else {
            (vk::QUEUE_FAMILY_IGNORED, vk::QUEUE_FAMILY_IGNORED)
        }
    }

    /// The test hooks of this device ([`super::faults`]).
    pub fn faults(&self) -> &super::faults::Faults {
        &self.faults
    }

    pub fn info(&self) -> &DeviceInfo {
        &self.info
    }

    /// Every physical device of this device's instance (for the registry).
    pub fn physical_devices(&self) -> Vec<PhysicalInfo> {
        super::physical::enumerate(&self.instance)
            .map(|v| v.into_iter().map(|(_, i)| i).collect())
            .unwrap_or_default()
    }

    /// The physical device this device was made on.
    pub fn physical_info(&self) -> &PhysicalInfo {
        &self.physical_info
    }

    pub(crate) fn allocator(&self) -> MutexGuard<'_, Allocator> {
        // A poisoned allocator only means another thread panicked mid-allocation; its bookkeeping is
        // still consistent enough to keep freeing.
        self.allocator.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn has_extension(&self, name: &str) -> bool {
        self.info.extensions.iter().any(|e| e == name)
    }

    /// `minImportedHostPointerAlignment`: the alignment of a host pointer and of a size the
    /// device imports (`host_memory`); `None` when it cannot import host memory.
    pub fn host_import_alignment(&self) -> Option<u64> {
        if !self.has_extension("VK_EXT_external_memory_host") {
            return None;
        }
        let mut host = vk::PhysicalDeviceExternalMemoryHostPropertiesEXT::default();
        let mut props = vk::PhysicalDeviceProperties2::default().push_next(&mut host);
        // SAFETY: valid physical device; the chained struct belongs to an extension the device
        // has.
        unsafe {
            self.instance
                .raw
                .get_physical_device_properties2(self.physical, &mut props)
        };
        Some(host.min_imported_host_pointer_alignment.max(1))
    }

    /// Resets `cmd` and begins recording it for one submission. The caller guarantees that its
    /// previous submission was waited for ([`Self::submit_and_wait`] always waits), so it is not
    /// pending (VUID-vkResetCommandBuffer-commandBuffer-00045). The error names the failed call.
    pub fn begin_one_shot(&self, cmd: vk::CommandBuffer) -> Result<(), (&'static str, vk::Result)> {
        // SAFETY: `cmd` is not pending (see above) and its pool allows individual resets.
        unsafe {
            self.raw
                .reset_command_buffer(cmd, vk::CommandBufferResetFlags::empty())
                .map_err(|e| ("vkResetCommandBuffer", e))?;
            self.raw
                .begin_command_buffer(
                    cmd,
                    &vk::CommandBufferBeginInfo::default()
                        .flags(vk::CommandBufferUsageFlags::ONE_TIME_SUBMIT),
                )
                .map_err(|e| ("vkBeginCommandBuffer", e))
        }
    }

    /// Submits `cmd` to the queue with `fence` (unsignalled) and waits for it ([`Self::wait_and_reset`]).
    /// The error names the call that failed.
    pub fn submit_and_wait(
        &self,
        cmd: vk::CommandBuffer,
        fence: vk::Fence,
        what: &str,
    ) -> Result<(), (&'static str, vk::Result)> {
        self.submit(cmd, fence)?;
        self.wait_and_reset(fence, what)
            .map_err(|e| ("vkWaitForFences", e))
    }

    /// Submits `cmd` to the queue with `fence` (unsignalled), which signals when it completes.
    pub fn submit(
        &self,
        cmd: vk::CommandBuffer,
        fence: vk::Fence,
    ) -> Result<(), (&'static str, vk::Result)> {
        self.submit_with(cmd, fence, &[], None)
    }

    /// As [`Self::submit`], waiting for `waits` (binary semaphores, at every stage: they guard
    /// client memory that copies and draws read) and signalling `signal` when done.
    pub fn submit_with(
        &self,
        cmd: vk::CommandBuffer,
        fence: vk::Fence,
        waits: &[vk::Semaphore],
        signal: Option<vk::Semaphore>,
    ) -> Result<(), (&'static str, vk::Result)> {
        if self.faults.device_lost() {
            return Err(("vkQueueSubmit", vk::Result::ERROR_DEVICE_LOST));
        }
        let cmds = [cmd];
        let stages = vec![vk::PipelineStageFlags::ALL_COMMANDS; waits.len()];
        let signals: Vec<vk::Semaphore> = signal.into_iter().collect();
        let submit = vk::SubmitInfo::default()
            .command_buffers(&cmds)
            .wait_semaphores(waits)
            .wait_dst_stage_mask(&stages)
            .signal_semaphores(&signals);
        // SAFETY: `cmd` is fully recorded; the fence is unsignalled (every wait resets it); the
        // queue is only used from the thread that owns the renderer (and its swapchain).
        unsafe { self.raw.queue_submit(self.queue, &[submit], fence) }
            .map_err(|e| ("vkQueueSubmit", e))
    }

    /// Waits until `fence` signals, then resets it. Never gives up on a timeout: the fence guards
    /// a submission whose command buffer and resources are reused afterwards, and reusing them
    /// while the device still runs it is undefined behaviour (it crashed lavapipe in the slow VM
    /// guest). Slow work is logged once; only a real error (device lost) returns, and then the fence
    /// is left as it is.
    pub fn wait_and_reset(&self, fence: vk::Fence, what: &str) -> Result<(), vk::Result> {
        const SLICE_NS: u64 = 1_000_000_000;
        let started = std::time::Instant::now();
        let mut warned = false;
        loop {
            // SAFETY: a live fence of this device; waiting has no other effect.
            match unsafe { self.raw.wait_for_fences(&[fence], true, SLICE_NS) } {
                Ok(()) => break,
                Err(vk::Result::TIMEOUT) => {
                    if !warned && started.elapsed().as_secs() >= 2 {
                        warn!(
                            what,
                            "GPU work still running after 2 s; waiting for it (in-flight resources are never reused)"
                        );
                        warned = true;
                    }
                }
                Err(e) => return Err(e),
            }
        }
        if warned {
            warn!(
                what,
                seconds = started.elapsed().as_secs_f64(),
                "slow GPU work finished"
            );
        }
        // SAFETY: the fence is signalled, so no pending submission uses it.
        unsafe { self.raw.reset_fences(&[fence]) }
    }
}

fn supports_ycbcr(instance: &Instance, physical: vk::PhysicalDevice) -> bool {
    let mut f11 = vk::PhysicalDeviceVulkan11Features::default();
    let mut f2 = vk::PhysicalDeviceFeatures2::default().push_next(&mut f11);
    // SAFETY: valid physical device; the chained struct is core 1.2.
    unsafe {
        instance
            .raw
            .get_physical_device_features2(physical, &mut f2)
    };
    f11.sampler_ycbcr_conversion == vk::TRUE
}

impl Drop for Device {
    fn drop(&mut self) {
        // SAFETY: every object created on this device holds an Arc<Device>, so none is alive; the
        // allocator's memory blocks must be freed before the device (VUID-vkDestroyDevice-device-05137),
        // hence the explicit drop of the allocator first.
        unsafe {
            let _ = self.raw.device_wait_idle();
            ManuallyDrop::drop(&mut self.allocator);
            super::gate::exclusive(|| self.raw.destroy_device(None));
        }
    }
}
