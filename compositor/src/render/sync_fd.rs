//! Kernel fences on the Vulkan queue (VK_KHR_external_semaphore_fd, handle type `SYNC_FD`).
//!
//! - **Acquire**: a client's acquire fence (a sync_file) is imported as a temporary payload of a
//!   binary semaphore the submission that reads the buffer waits on, so the GPU orders its reads
//!   after the producer's writes without the CPU waiting.
//! - **Read fence**: each submission signals a semaphore created exportable as `SYNC_FD`; after
//!   submission it is exported as a sync_file that signals when the submission completes. That is
//!   weft's *read* fence: imported into an implicitly synced client buffer
//!   (`DMA_BUF_IOCTL_IMPORT_SYNC_FILE`), a producer that writes next waits for weft.
//!
//! Where the device cannot do either, [`SyncFdSupport`] says so and the callers fall back: the
//! acquire fence is waited in the event loop before the commit applies (which weft does anyway, so
//! that a fence that never signals stalls only its own surface), and the read fence is the
//! submission's `VkFence`, polled by the loop ([`super::renderer`]'s ring).

use std::os::fd::{FromRawFd, IntoRawFd, OwnedFd};

use ash::vk;

use super::device::Device;

/// Whether the device imports and exports sync_files as semaphore payloads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct SyncFdSupport {
    /// A sync_file can become a wait semaphore.
    pub import: bool,
    /// A submission's completion can be exported as a sync_file.
    pub export: bool,
}

impl SyncFdSupport {
    /// Asks the physical device (`vkGetPhysicalDeviceExternalSemaphoreProperties`, core 1.1).
    pub fn query(device: &Device) -> Self {
        if !device.has_extension("VK_KHR_external_semaphore_fd") {
            return Self::default();
        }
        let info = vk::PhysicalDeviceExternalSemaphoreInfo::default()
            .handle_type(vk::ExternalSemaphoreHandleTypeFlags::SYNC_FD);
        let mut props = vk::ExternalSemaphoreProperties::default();
        // SAFETY: valid physical device; a core 1.1 query with no other effect.
        unsafe {
            device
                .instance
                .raw
                .get_physical_device_external_semaphore_properties(
                    device.physical,
                    &info,
                    &mut props,
                )
        };
        let f = props.external_semaphore_features;
        Self {
            import: f.contains(vk::ExternalSemaphoreFeatureFlags::IMPORTABLE),
            // A CPU implementation has no kernel fence for its work: lavapipe (in tests/vm) says
            // EXPORTABLE, but its vkGetSemaphoreFdKHR waits until the submission has run — a CPU
            // wait on the render path, found with a stalled submission. Its read fence is made
            // otherwise (`crate::sync::soft_fence`).
            export: f.contains(vk::ExternalSemaphoreFeatureFlags::EXPORTABLE)
                && device.info.kind != super::DeviceKind::Cpu,
        }
    }
}

/// A submission's semaphores: the waits it imported and the exportable one it signals.
pub(crate) struct SubmissionSemaphores {
    fd: ash::khr::external_semaphore_fd::Device,
    /// Signalled by every submission of its ring slot when `export` is supported.
    pub(crate) signal: Option<vk::Semaphore>,
    /// Imported acquire fences of the submission in flight (destroyed once it completed).
    pub(crate) waits: Vec<vk::Semaphore>,
}

impl SubmissionSemaphores {
    pub(crate) fn new(device: &Device, support: SyncFdSupport) -> Self {
        let fd = ash::khr::external_semaphore_fd::Device::new(&device.instance.raw, &device.raw);
        let signal = support.export.then(|| {
            let mut export = vk::ExportSemaphoreCreateInfo::default()
                .handle_types(vk::ExternalSemaphoreHandleTypeFlags::SYNC_FD);
            let info = vk::SemaphoreCreateInfo::default().push_next(&mut export);
            // SAFETY: valid device; the chained struct is core 1.1.
            unsafe { device.raw.create_semaphore(&info, None) }.ok()
        });
        Self {
            fd,
            signal: signal.flatten(),
            waits: Vec::new(),
        }
    }

    /// Makes `sync_file` a wait of the next submission. The fd is consumed (the import owns it).
    pub(crate) fn wait_for(
        &mut self,
        device: &Device,
        sync_file: OwnedFd,
    ) -> Result<(), vk::Result> {
        // SAFETY: valid device; a plain binary semaphore.
        let sem = unsafe {
            device
                .raw
                .create_semaphore(&vk::SemaphoreCreateInfo::default(), None)
        }?;
        let raw = sync_file.into_raw_fd();
        let info = vk::ImportSemaphoreFdInfoKHR::default()
            .semaphore(sem)
            .flags(vk::SemaphoreImportFlags::TEMPORARY)
            .handle_type(vk::ExternalSemaphoreHandleTypeFlags::SYNC_FD)
            .fd(raw);
        // SAFETY: `sem` is unused; a successful import takes ownership of `raw`
        // (VUID-VkImportSemaphoreFdInfoKHR-handleType-07307: SYNC_FD imports are TEMPORARY).
        match unsafe { self.fd.import_semaphore_fd(&info) } {
            Ok(()) => {
                self.waits.push(sem);
                Ok(())
            }
            Err(e) => {
                // SAFETY: the failed import did not take `raw`; `sem` was never used.
                drop(unsafe { OwnedFd::from_raw_fd(raw) });
                unsafe { device.raw.destroy_semaphore(sem, None) };
                Err(e)
            }
        }
    }

    /// The submitted work's completion as a sync_file (after a submission that signals `signal`).
    pub(crate) fn export(&self) -> Option<OwnedFd> {
        let sem = self.signal?;
        let info = vk::SemaphoreGetFdInfoKHR::default()
            .semaphore(sem)
            .handle_type(vk::ExternalSemaphoreHandleTypeFlags::SYNC_FD);
        // SAFETY: `sem` has a pending signal operation (just submitted), as SYNC_FD export
        // requires; exporting unsignals it for the slot's next submission.
        let raw = unsafe { self.fd.get_semaphore_fd(&info) }.ok()?;
        // -1: already signalled (the spec allows it); there is nothing to wait for.
        // SAFETY: a new fd the export gave us.
        (raw >= 0).then(|| unsafe { OwnedFd::from_raw_fd(raw) })
    }

    /// Destroys the waits of a completed submission.
    pub(crate) fn completed(&mut self, device: &Device) {
        for sem in self.waits.drain(..) {
            // SAFETY: the submission that waited on it completed (its fence was seen signalled).
            unsafe { device.raw.destroy_semaphore(sem, None) };
        }
    }

    pub(crate) fn destroy(&mut self, device: &Device) {
        self.completed(device);
        if let Some(sem) = self.signal.take() {
            // SAFETY: called once every submission completed (the renderer waits idle first).
            unsafe { device.raw.destroy_semaphore(sem, None) };
        }
    }
}
