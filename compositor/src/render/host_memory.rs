//! Host memory read in place by the render device (VK_EXT_external_memory_host): a wl_shm pool's
//! pages become a storage buffer the planar shader reads and covers copy from, with no staging
//! copy. lavapipe aliases the pages (its "device memory" is host memory anyway); a GPU reads them
//! over PCIe, which for a buffer drawn once per commit costs no more than the upload it saves.
//!
//! Invariant: a [`HostImport`] keeps the mapping it imports (`keep`) alive until the Vulkan buffer
//! and memory are gone, and frames that read it hold the import (through their draw items) until
//! their fence signalled, so the device never reads unmapped memory.

use std::sync::Arc;

use ash::vk;
use tracing::debug;

use super::device::Device;
use super::external::ImportError;
use super::planar::PlanarMemory;

/// Host memory imported as a buffer (storage reads and copies out).
pub struct HostImport {
    device: Arc<Device>,
    raw: vk::Buffer,
    memory: vk::DeviceMemory,
    size: u64,
    /// The owner of the imported pages; dropped after the buffer and memory.
    _keep: Arc<dyn Send + Sync>,
}

impl HostImport {
    /// Imports `size` bytes at `ptr`, which `keep` keeps mapped.
    ///
    /// # Safety
    /// `ptr..ptr+size` is mapped readable for as long as `keep` lives; `ptr` and `size` are
    /// multiples of [`Device::host_import_alignment`].
    #[tracing::instrument(skip_all, err(level = "debug"), fields(size))]
    pub unsafe fn import(
        device: &Arc<Device>,
        ptr: *mut std::ffi::c_void,
        size: u64,
        keep: Arc<dyn Send + Sync>,
    ) -> Result<Self, ImportError> {
        let handle_type = vk::ExternalMemoryHandleTypeFlags::HOST_ALLOCATION_EXT;
        let loader = ash::ext::external_memory_host::Device::new(&device.instance.raw, &device.raw);
        let mut host_props = vk::MemoryHostPointerPropertiesEXT::default();
        // SAFETY: `ptr` is a mapped host pointer aligned as the device asks (the caller's promise).
        unsafe {
            (loader.fp().get_memory_host_pointer_properties_ext)(
                loader.device(),
                handle_type,
                ptr,
                &mut host_props,
            )
        }
        .result()
        .map_err(|e| ImportError::Rejected(format!("vkGetMemoryHostPointerPropertiesEXT: {e}")))?;
        let mut external = vk::ExternalMemoryBufferCreateInfo::default().handle_types(handle_type);
        let info = vk::BufferCreateInfo::default()
            .size(size)
            .usage(vk::BufferUsageFlags::STORAGE_BUFFER | vk::BufferUsageFlags::TRANSFER_SRC)
            .sharing_mode(vk::SharingMode::EXCLUSIVE)
            .push_next(&mut external);
        // SAFETY: valid create info with a non-zero size (the caller's aligned size).
        let raw = unsafe { device.raw.create_buffer(&info, None) }
            .map_err(|e| ImportError::Rejected(format!("vkCreateBuffer (host memory): {e}")))?;
        // SAFETY: `raw` is a live buffer of this device.
        let requirements = unsafe { device.raw.get_buffer_memory_requirements(raw) };
        let bits = requirements.memory_type_bits & host_props.memory_type_bits;
        let fail = |why: String| {
            // SAFETY: the buffer has no memory and was never used.
            unsafe { device.raw.destroy_buffer(raw, None) };
            ImportError::Rejected(why)
        };
        if bits == 0 || requirements.size > size {
            return Err(fail(format!(
                "no memory type fits both the buffer and host memory (or the buffer needs {} bytes)",
                requirements.size
            )));
        }
        let mut import = vk::ImportMemoryHostPointerInfoEXT::default()
            .handle_type(handle_type)
            .host_pointer(ptr);
        let alloc = vk::MemoryAllocateInfo::default()
            .allocation_size(size)
            .memory_type_index(bits.trailing_zeros())
            .push_next(&mut import);
        let memory = if device.faults.take_import_allocation_failure() {
            Err(vk::Result::ERROR_OUT_OF_DEVICE_MEMORY)
        } else {
            // SAFETY: the pointer and size are aligned and mapped (the caller's promise); the
            // memory type is one the pointer supports.
            unsafe { device.raw.allocate_memory(&alloc, None) }
        }
        .map_err(|e| fail(format!("vkAllocateMemory (host pointer): {e}")))?;
        // SAFETY: memory for exactly this buffer, bound once at offset 0.
        if let Err(e) = unsafe { device.raw.bind_buffer_memory(raw, memory, 0) } {
            // SAFETY: neither object was used by any command.
            unsafe {
                device.raw.destroy_buffer(raw, None);
                device.raw.free_memory(memory, None);
            }
            return Err(ImportError::Rejected(format!("vkBindBufferMemory: {e}")));
        }
        debug!(size, "host memory imported as a storage buffer");
        Ok(Self {
            device: device.clone(),
            raw,
            memory,
            size,
            _keep: keep,
        })
    }
}

impl Drop for HostImport {
    fn drop(&mut self) {
        // SAFETY: frames that read the buffer hold it until their fence signalled (module
        // invariant); buffer before its memory; the pages stay mapped until `_keep` drops after.
        unsafe {
            self.device.raw.destroy_buffer(self.raw, None);
            self.device.raw.free_memory(self.memory, None);
        }
    }
}

impl PlanarMemory for HostImport {
    fn buffer(&self) -> vk::Buffer {
        self.raw
    }
    fn size(&self) -> u64 {
        self.size & !3
    }
    /// Written by the client's CPU, never by another device: host writes before a submission are
    /// visible to it, so no queue family transfer is needed.
    fn foreign(&self) -> bool {
        false
    }
    fn copyable(&self) -> bool {
        true
    }
}
