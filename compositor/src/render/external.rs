//! dma-buf memory on the render device: what the device can import (format table for linux-dmabuf
//! feedback), and the two import shapes the rungs use:
//!
//! - [`ImportedBuffer`] (rung `SampleLinear`): a dma-buf fd imported as `VkDeviceMemory` with
//!   `VK_EXT_external_memory_dma_buf` and bound to a storage buffer covering the whole dma-buf; the
//!   planar shader reads the client's bytes through it with the client's offsets and strides.
//! - [`ImportedImage`] (rung `Sample`): a single-plane RGB dma-buf bound to a `VkImage` created with
//!   `VK_IMAGE_TILING_DRM_FORMAT_MODIFIER_EXT` and an explicit plane layout. Needs
//!   `VK_EXT_image_drm_format_modifier`, which host lavapipe lacks (it is there in the tests/vm guest).
//!
//! Ownership rule, quoted from the spec of `VkImportMemoryFdInfoKHR`: "Importing memory from a file
//! descriptor transfers ownership of the file descriptor from the application to the Vulkan
//! implementation". So every import gets its own `dup` of the client's fd, and that dup is closed by us
//! only when the import *failed*.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, IntoRawFd, OwnedFd};
use std::sync::Arc;

use ash::vk;
use tracing::debug;

use super::device::Device;
use super::RenderError;

/// The `vk::Format` a single-plane RGB fourcc samples as (the X* variants ignore alpha in the shader).
pub fn rgb_vk_format(fourcc: u32) -> Option<vk::Format> {
    use weft_protocols::drm_format as f;
    Some(match fourcc {
        f::ARGB8888 | f::XRGB8888 => vk::Format::B8G8R8A8_UNORM,
        f::ABGR8888 | f::XBGR8888 => vk::Format::R8G8B8A8_UNORM,
        f::ARGB2101010 | f::XRGB2101010 => vk::Format::A2R10G10B10_UNORM_PACK32,
        _ => return None,
    })
}

/// What the render device can do with dma-bufs, queried once at startup.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct DmabufCaps {
    /// `VK_KHR_external_memory_fd` + `VK_EXT_external_memory_dma_buf` are enabled.
    pub external_memory: bool,
    /// A dma-buf can be imported as a storage buffer (`vkGetPhysicalDeviceExternalBufferProperties`
    /// says IMPORTABLE): the `SampleLinear` rung.
    pub buffer_import: bool,
    /// `VK_EXT_image_drm_format_modifier` is enabled: the `Sample` rung is built.
    pub modifiers: bool,
    /// (fourcc, modifier, plane count) that import as a sampled `VkImage` (`Sample`).
    pub image_modifiers: Vec<(u32, u64, u32)>,
    /// The subset of `image_modifiers` whose tiling has no SAMPLED_IMAGE_FILTER_LINEAR: those
    /// images are sampled with a NEAREST sampler (exact at 1:1, blocky when scaled). Seen on
    /// lavapipe in the tests/vm guest for every LINEAR RGB format.
    pub image_nearest_only: Vec<(u32, u64)>,
    /// The most bytes one storage-buffer descriptor may cover (`maxStorageBufferRange`): the
    /// planes of one dma-buf (`SampleLinear`) or of the staging copy (`StageOnCpu`) must fit.
    pub max_storage_buffer_range: u64,
    /// The widest and tallest image the device creates (`maxImageDimension2D`): larger buffers
    /// cannot take `Sample`.
    pub max_image_dimension: u32,
    /// `dev_t` of the render device's DRM node (`VK_EXT_physical_device_drm`), if it has one.
    pub drm_node: Option<u64>,
    /// The device is a CPU implementation (lavapipe): its implicit dma-buf layout is linear.
    pub cpu_device: bool,
    /// `minImportedHostPointerAlignment` when the device imports host memory (wl_shm read in
    /// place, [`crate::buffers::shm_in_place`]).
    pub host_import_alignment: Option<u64>,
}

impl DmabufCaps {
    /// Queries `device`. Never fails: a query the device cannot answer means "cannot".
    pub fn query(device: &Device) -> Self {
        let mut caps = Self {
            external_memory: device.has_extension("VK_KHR_external_memory_fd")
                && device.has_extension("VK_EXT_external_memory_dma_buf"),
            modifiers: device.has_extension("VK_EXT_image_drm_format_modifier"),
            cpu_device: device.info.kind == super::DeviceKind::Cpu,
            ..Default::default()
        };
        let vki = &device.instance.raw;
        // SAFETY: valid physical device; core 1.0 query.
        let limits = unsafe { vki.get_physical_device_properties(device.physical) }.limits;
        caps.max_storage_buffer_range = u64::from(limits.max_storage_buffer_range);
        caps.max_image_dimension = limits.max_image_dimension2_d;
        caps.host_import_alignment = device.host_import_alignment();
        if device.has_extension("VK_EXT_physical_device_drm") {
            let mut drm = vk::PhysicalDeviceDrmPropertiesEXT::default();
            let mut props = vk::PhysicalDeviceProperties2::default().push_next(&mut drm);
            // SAFETY: valid physical device; the chained struct belongs to an extension the device
            // advertises (VUID-VkPhysicalDeviceProperties2-pNext-pNext).
            unsafe { vki.get_physical_device_properties2(device.physical, &mut props) };
            caps.drm_node = if drm.has_render == vk::TRUE {
                Some(rustix::fs::makedev(
                    drm.render_major as u32,
                    drm.render_minor as u32,
                ))
            } else if drm.has_primary == vk::TRUE {
                Some(rustix::fs::makedev(
                    drm.primary_major as u32,
                    drm.primary_minor as u32,
                ))
            } else {
                None
            };
        }
        if !caps.external_memory {
            return caps;
        }
        let info = vk::PhysicalDeviceExternalBufferInfo::default()
            .usage(vk::BufferUsageFlags::STORAGE_BUFFER)
            .handle_type(vk::ExternalMemoryHandleTypeFlags::DMA_BUF_EXT);
        let mut out = vk::ExternalBufferProperties::default();
        // SAFETY: valid physical device and input struct; core 1.1 query.
        unsafe {
            vki.get_physical_device_external_buffer_properties(device.physical, &info, &mut out)
        };
        caps.buffer_import = out
            .external_memory_properties
            .external_memory_features
            .contains(vk::ExternalMemoryFeatureFlags::IMPORTABLE);
        if caps.modifiers {
            for f in weft_protocols::drm_format::FORMATS {
                let Some(format) = rgb_vk_format(f.fourcc) else {
                    continue;
                };
                for (modifier, planes, linear_filter) in sampled_modifiers(device, format) {
                    if image_importable(device, format, modifier) {
                        caps.image_modifiers.push((f.fourcc, modifier, planes));
                        if !linear_filter {
                            caps.image_nearest_only.push((f.fourcc, modifier));
                        }
                    }
                }
            }
        }
        caps
    }
}

/// Modifiers the driver lists for `format` with sampling support (two-call enumeration), with
/// their plane count and whether linear filtering is supported.
fn sampled_modifiers(device: &Device, format: vk::Format) -> Vec<(u64, u32, bool)> {
    let vki = &device.instance.raw;
    let mut list = vk::DrmFormatModifierPropertiesListEXT::default();
    let mut props = vk::FormatProperties2::default().push_next(&mut list);
    // SAFETY: valid physical device; VK_EXT_image_drm_format_modifier is enabled (checked by caller).
    unsafe { vki.get_physical_device_format_properties2(device.physical, format, &mut props) };
    let count = list.drm_format_modifier_count as usize;
    let mut entries = vec![vk::DrmFormatModifierPropertiesEXT::default(); count];
    let mut list = vk::DrmFormatModifierPropertiesListEXT::default()
        .drm_format_modifier_properties(&mut entries);
    let mut props = vk::FormatProperties2::default().push_next(&mut list);
    // SAFETY: as above; `entries` has room for the count the first call returned.
    unsafe { vki.get_physical_device_format_properties2(device.physical, format, &mut props) };
    let filled = list.drm_format_modifier_count as usize;
    entries.truncate(filled);
    // The same list with 64-bit feature flags (VK_KHR_format_feature_flags2, core in 1.3). Linear
    // filtering counts only when both lists report it: on lavapipe in the tests/vm guest the
    // 32-bit list says SAMPLED_IMAGE_FILTER_LINEAR while the validation layer, which reads the
    // image's format features, reports VUID-vkCmdDraw-magFilter-04553 for a LINEAR sampler.
    let linear2 = filter_linear_flags2(device, format, entries.len());
    entries
        .iter()
        .filter(|e| {
            e.drm_format_modifier_tiling_features
                .contains(vk::FormatFeatureFlags::SAMPLED_IMAGE)
        })
        .map(|e| {
            let linear = e
                .drm_format_modifier_tiling_features
                .contains(vk::FormatFeatureFlags::SAMPLED_IMAGE_FILTER_LINEAR)
                && linear2.contains(&e.drm_format_modifier);
            (
                e.drm_format_modifier,
                e.drm_format_modifier_plane_count,
                linear,
            )
        })
        .collect()
}

/// Modifiers whose 64-bit tiling features include SAMPLED_IMAGE_FILTER_LINEAR.
fn filter_linear_flags2(device: &Device, format: vk::Format, count: usize) -> Vec<u64> {
    let vki = &device.instance.raw;
    let mut entries = vec![vk::DrmFormatModifierProperties2EXT::default(); count];
    let mut list = vk::DrmFormatModifierPropertiesList2EXT::default()
        .drm_format_modifier_properties(&mut entries);
    let mut props = vk::FormatProperties2::default().push_next(&mut list);
    // SAFETY: valid physical device; the device is Vulkan 1.3 (format_feature_flags2 is core) and
    // VK_EXT_image_drm_format_modifier is enabled; `entries` has room for `count` modifiers.
    unsafe { vki.get_physical_device_format_properties2(device.physical, format, &mut props) };
    let filled = (list.drm_format_modifier_count as usize).min(count);
    entries
        .iter()
        .take(filled)
        .filter(|e| {
            e.drm_format_modifier_tiling_features
                .contains(vk::FormatFeatureFlags2::SAMPLED_IMAGE_FILTER_LINEAR)
        })
        .map(|e| e.drm_format_modifier)
        .collect()
}

/// Whether a sampled image of `format` with `modifier` can be imported from a dma-buf.
fn image_importable(device: &Device, format: vk::Format, modifier: u64) -> bool {
    let vki = &device.instance.raw;
    let mut external = vk::PhysicalDeviceExternalImageFormatInfo::default()
        .handle_type(vk::ExternalMemoryHandleTypeFlags::DMA_BUF_EXT);
    let mut modifier_info = vk::PhysicalDeviceImageDrmFormatModifierInfoEXT::default()
        .drm_format_modifier(modifier)
        .sharing_mode(vk::SharingMode::EXCLUSIVE);
    let info = vk::PhysicalDeviceImageFormatInfo2::default()
        .format(format)
        .ty(vk::ImageType::TYPE_2D)
        .tiling(vk::ImageTiling::DRM_FORMAT_MODIFIER_EXT)
        .usage(vk::ImageUsageFlags::SAMPLED)
        .push_next(&mut external)
        .push_next(&mut modifier_info);
    let mut external_props = vk::ExternalImageFormatProperties::default();
    let mut props = vk::ImageFormatProperties2::default().push_next(&mut external_props);
    // SAFETY: valid physical device; every chained struct belongs to an enabled extension or core 1.1.
    let ok = unsafe {
        vki.get_physical_device_image_format_properties2(device.physical, &info, &mut props)
    };
    ok.is_ok()
        && external_props
            .external_memory_properties
            .external_memory_features
            .contains(vk::ExternalMemoryFeatureFlags::IMPORTABLE)
}

/// Why an import did not work, classed by what the caller does next.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// This rung cannot take this (format, modifier) on this device: try the next rung, and remember
    /// the class so no later buffer of it tries this rung again.
    #[error("{0}")]
    Unsupported(String),
    /// This rung cannot take this buffer's memory (its fd, its size): try the next rung, and remember
    /// the failure for this buffer only.
    #[error("{0}")]
    Rejected(String),
    /// Resources ran out: may work on a later commit.
    #[error("{0}")]
    Temporary(String),
    /// The device (or host) memory ran out in a Vulkan call: may work once memory is freed.
    #[error("{call}: {result}")]
    OutOfMemory {
        call: &'static str,
        result: vk::Result,
    },
    /// The device is gone.
    #[error("device lost: {0}")]
    DeviceLost(String),
}

impl From<RenderError> for ImportError {
    fn from(e: RenderError) -> Self {
        if let RenderError::Vk(
            call,
            result
            @ (vk::Result::ERROR_OUT_OF_DEVICE_MEMORY | vk::Result::ERROR_OUT_OF_HOST_MEMORY),
        ) = e
        {
            return Self::OutOfMemory { call, result };
        }
        match e.class() {
            super::ErrorClass::Unsupported => Self::Unsupported(e.to_string()),
            super::ErrorClass::Temporary => Self::Temporary(e.to_string()),
            super::ErrorClass::DeviceLost => Self::DeviceLost(e.to_string()),
        }
    }
}

fn dup(fd: BorrowedFd<'_>) -> Result<OwnedFd, ImportError> {
    fd.try_clone_to_owned()
        .map_err(|e| ImportError::Temporary(format!("dup of the dma-buf fd failed: {e}")))
}

/// (device, inode) of an open fd.
fn file_identity(fd: BorrowedFd<'_>) -> Option<(u64, u64)> {
    rustix::fs::fstat(fd).ok().map(|st| (st.st_dev, st.st_ino))
}

/// (device, inode) of the file fd number `raw` refers to now, or `None` when it is not open; asked
/// of /proc, so a number that may have been closed is never used as an fd.
fn number_identity(raw: std::os::fd::RawFd) -> Option<(u64, u64)> {
    rustix::fs::stat(format!("/proc/self/fd/{raw}"))
        .ok()
        .map(|st| (st.st_dev, st.st_ino))
}

/// Imports `fd` as dedicated device memory for `requirements`, for a buffer or an image.
fn import_memory(
    device: &Device,
    fd: BorrowedFd<'_>,
    requirements: vk::MemoryRequirements,
    dedicated: vk::MemoryDedicatedAllocateInfo<'_>,
    handle_type: vk::ExternalMemoryHandleTypeFlags,
) -> Result<vk::DeviceMemory, ImportError> {
    let loader = ash::khr::external_memory_fd::Device::new(&device.instance.raw, &device.raw);
    // OPAQUE_FD has no properties to query (VUID-vkGetMemoryFdPropertiesKHR-handleType-00674): it
    // comes from weft's own export on the same physical device, and any memory type of the
    // resource may take it.
    let fd_bits = if handle_type == vk::ExternalMemoryHandleTypeFlags::OPAQUE_FD {
        u32::MAX
    } else {
        let mut fd_props = vk::MemoryFdPropertiesKHR::default();
        // SAFETY: `fd` is a live fd; the query does not take ownership
        // (VUID-vkGetMemoryFdPropertiesKHR-fd-00673 only requires a valid handle of the type).
        unsafe { loader.get_memory_fd_properties(handle_type, fd.as_raw_fd(), &mut fd_props) }
            .map_err(|e| ImportError::Rejected(format!("vkGetMemoryFdPropertiesKHR: {e}")))?;
        fd_props.memory_type_bits
    };
    let bits = requirements.memory_type_bits & fd_bits;
    if bits == 0 {
        return Err(ImportError::Rejected(
            "no memory type fits both the resource and the dma-buf".into(),
        ));
    }
    let type_index = bits.trailing_zeros();
    let owned = dup(fd)?;
    // Which file `raw` is, to tell after a failed import whether it is still ours to close.
    let identity = file_identity(owned.as_fd());
    let raw = owned.into_raw_fd();
    let mut import = vk::ImportMemoryFdInfoKHR::default()
        .handle_type(handle_type)
        .fd(raw);
    let mut dedicated = dedicated;
    let info = vk::MemoryAllocateInfo::default()
        .allocation_size(requirements.size)
        .memory_type_index(type_index)
        .push_next(&mut import)
        .push_next(&mut dedicated);
    let allocated = if device.faults.take_import_allocation_failure() {
        // An injected failure takes the same path as a real one.
        Err(vk::Result::ERROR_OUT_OF_DEVICE_MEMORY)
    } else {
        // SAFETY: `raw` is our own dup of a dma-buf fd; the memory type is one the fd supports; on
        // success Vulkan owns `raw`, on failure we still do and close it below.
        unsafe { device.raw.allocate_memory(&info, None) }
    };
    match allocated {
        Ok(memory) => Ok(memory),
        Err(e) => {
            // A failed import does not take ownership of `raw` (VUID-VkImportMemoryFdInfoKHR: "on
            // success"), but lavapipe closes it on some failures anyway (a write-sealed memfd,
            // found by the wire fuzzer); closing it again would close whatever fd took its number
            // meanwhile. So it is closed only while it is still the very file that was imported.
            let still_ours = identity.is_some() && identity == number_identity(raw);
            if still_ours {
                // SAFETY: `raw` is still our dup of the imported file (checked just above) and
                // nothing else owns that number.
                drop(unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(raw) });
            } else {
                debug!("the driver closed the fd of a failed import itself; not closed again");
            }
            Err(match e {
                vk::Result::ERROR_OUT_OF_HOST_MEMORY | vk::Result::ERROR_OUT_OF_DEVICE_MEMORY => {
                    ImportError::OutOfMemory {
                        call: "vkAllocateMemory (import)",
                        result: e,
                    }
                }
                vk::Result::ERROR_DEVICE_LOST => {
                    ImportError::DeviceLost(format!("vkAllocateMemory (import): {e}"))
                }
                _ => ImportError::Rejected(format!("vkAllocateMemory (import): {e}")),
            })
        }
    }
}

/// A whole dma-buf imported as a storage buffer (`SampleLinear`). Owns its memory; the storage
/// buffer covers `size` bytes (the dma-buf size rounded down to whole 32-bit words, as the shader
/// reads words).
pub struct ImportedBuffer {
    device: Arc<Device>,
    pub(crate) raw: vk::Buffer,
    memory: vk::DeviceMemory,
    pub size: u64,
    pub(crate) usage: vk::BufferUsageFlags,
}

impl ImportedBuffer {
    // A failed import is an expected fallback (the next rung is tried), never a weft bug: debug.
    #[tracing::instrument(skip_all, err(level = "debug"), fields(size))]
    pub fn import(
        device: &Arc<Device>,
        fd: BorrowedFd<'_>,
        size: u64,
        usage: vk::BufferUsageFlags,
    ) -> Result<Self, ImportError> {
        Self::import_as(
            device,
            fd,
            size,
            usage,
            vk::ExternalMemoryHandleTypeFlags::DMA_BUF_EXT,
        )
    }

    /// As [`Self::import`], for memory exported as `handle_type` ([`ExportedBuffer`]).
    pub fn import_as(
        device: &Arc<Device>,
        fd: BorrowedFd<'_>,
        size: u64,
        usage: vk::BufferUsageFlags,
        handle_type: vk::ExternalMemoryHandleTypeFlags,
    ) -> Result<Self, ImportError> {
        let size = size & !3;
        if size == 0 {
            return Err(ImportError::Rejected(
                "the dma-buf is smaller than one 32-bit word".into(),
            ));
        }
        let mut external = vk::ExternalMemoryBufferCreateInfo::default().handle_types(handle_type);
        let info = vk::BufferCreateInfo::default()
            .size(size)
            .usage(usage)
            .sharing_mode(vk::SharingMode::EXCLUSIVE)
            .push_next(&mut external);
        // SAFETY: valid create info with a non-zero size; DMA_BUF handle type was reported importable.
        let raw = unsafe { device.raw.create_buffer(&info, None) }
            .map_err(|e| ImportError::from(RenderError::Vk("vkCreateBuffer", e)))?;
        // SAFETY: `raw` is a live buffer of this device.
        let requirements = unsafe { device.raw.get_buffer_memory_requirements(raw) };
        let memory = match import_memory(
            device,
            fd,
            requirements,
            vk::MemoryDedicatedAllocateInfo::default().buffer(raw),
            handle_type,
        ) {
            Ok(m) => m,
            Err(e) => {
                // SAFETY: the buffer has no memory and was never used.
                unsafe { device.raw.destroy_buffer(raw, None) };
                return Err(e);
            }
        };
        // SAFETY: dedicated memory for exactly this buffer, bound once at offset 0.
        if let Err(e) = unsafe { device.raw.bind_buffer_memory(raw, memory, 0) } {
            // SAFETY: neither object was used by any command.
            unsafe {
                device.raw.destroy_buffer(raw, None);
                device.raw.free_memory(memory, None);
            }
            return Err(RenderError::Vk("vkBindBufferMemory", e).into());
        }
        debug!(size, "dma-buf imported as a storage buffer");
        Ok(Self {
            device: device.clone(),
            raw,
            memory,
            size,
            usage,
        })
    }
}

impl Drop for ImportedBuffer {
    fn drop(&mut self) {
        // SAFETY: every frame that reads the buffer holds it (through its draw item) until that
        // frame's fence signalled, so no submission uses it any more; buffer before its memory. Freeing imported memory releases Vulkan's reference on the dma-buf.
        unsafe {
            self.device.raw.destroy_buffer(self.raw, None);
            self.device.raw.free_memory(self.memory, None);
        }
    }
}

impl ImportedBuffer {
    pub fn raw(&self) -> vk::Buffer {
        self.raw
    }
}

/// A linear buffer of weft's whose memory is exported as an fd (`StageOnSource`: the producing
/// device copies into it, the render device imports it). Dedicated memory; freed on drop (the
/// importer's own reference keeps the pages alive).
pub struct ExportedBuffer {
    device: Arc<Device>,
    raw: vk::Buffer,
    memory: vk::DeviceMemory,
    size: u64,
}

impl ExportedBuffer {
    /// A `size`-byte buffer (transfer destination) on `device` and its memory exported as an fd, of
    /// the handle type returned: a dma-buf where the device exports one, else an opaque fd (which
    /// only another logical device of the same physical device imports).
    pub fn new(
        device: &Arc<Device>,
        size: u64,
    ) -> Result<(Self, OwnedFd, vk::ExternalMemoryHandleTypeFlags), ImportError> {
        let usage = vk::BufferUsageFlags::TRANSFER_DST | vk::BufferUsageFlags::STORAGE_BUFFER;
        let handle_type = [
            vk::ExternalMemoryHandleTypeFlags::DMA_BUF_EXT,
            vk::ExternalMemoryHandleTypeFlags::OPAQUE_FD,
        ]
        .into_iter()
        .find(|&t| exportable(device, usage, t))
        .ok_or_else(|| {
            ImportError::Unsupported("the source device exports no buffer memory as an fd".into())
        })?;
        let size = size.next_multiple_of(4);
        let mut external = vk::ExternalMemoryBufferCreateInfo::default().handle_types(handle_type);
        let info = vk::BufferCreateInfo::default()
            .size(size)
            .usage(usage)
            .sharing_mode(vk::SharingMode::EXCLUSIVE)
            .push_next(&mut external);
        // SAFETY: valid create info with a non-zero size; the handle type was reported exportable.
        let raw = unsafe { device.raw.create_buffer(&info, None) }
            .map_err(|e| ImportError::from(RenderError::Vk("vkCreateBuffer", e)))?;
        let destroy_buffer = || {
            // SAFETY: the buffer has no memory bound and was never used.
            unsafe { device.raw.destroy_buffer(raw, None) }
        };
        // SAFETY: `raw` is a live buffer of this device.
        let requirements = unsafe { device.raw.get_buffer_memory_requirements(raw) };
        let Some(type_index) = device_local_type(device, requirements.memory_type_bits) else {
            destroy_buffer();
            return Err(ImportError::Unsupported(
                "no memory type for an exported buffer".into(),
            ));
        };
        let mut export = vk::ExportMemoryAllocateInfo::default().handle_types(handle_type);
        let mut dedicated = vk::MemoryDedicatedAllocateInfo::default().buffer(raw);
        let alloc = vk::MemoryAllocateInfo::default()
            .allocation_size(requirements.size)
            .memory_type_index(type_index)
            .push_next(&mut export)
            .push_next(&mut dedicated);
        // SAFETY: valid allocate info; the export handle type was reported exportable.
        let memory = match unsafe { device.raw.allocate_memory(&alloc, None) } {
            Ok(m) => m,
            Err(e) => {
                destroy_buffer();
                return Err(RenderError::Vk("vkAllocateMemory (export)", e).into());
            }
        };
        let me = Self {
            device: device.clone(),
            raw,
            memory,
            size,
        };
        // SAFETY: dedicated memory for exactly this buffer, bound once at offset 0.
        unsafe { device.raw.bind_buffer_memory(raw, memory, 0) }
            .map_err(|e| ImportError::from(RenderError::Vk("vkBindBufferMemory", e)))?;
        let loader = ash::khr::external_memory_fd::Device::new(&device.instance.raw, &device.raw);
        let get = vk::MemoryGetFdInfoKHR::default()
            .memory(memory)
            .handle_type(handle_type);
        // SAFETY: the memory was allocated exportable as `handle_type`; the new fd is ours.
        let fd = unsafe { loader.get_memory_fd(&get) }
            .map_err(|e| ImportError::from(RenderError::Vk("vkGetMemoryFdKHR", e)))?;
        // SAFETY: vkGetMemoryFdKHR returned a new fd that nobody else owns.
        let fd = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
        Ok((me, fd, handle_type))
    }
}

impl super::planar::PlanarMemory for ImportedBuffer {
    fn buffer(&self) -> vk::Buffer {
        self.raw
    }
    fn size(&self) -> u64 {
        self.size
    }
    fn foreign(&self) -> bool {
        true
    }
    fn copyable(&self) -> bool {
        self.usage.contains(vk::BufferUsageFlags::TRANSFER_SRC)
    }
}

impl super::planar::PlanarMemory for ExportedBuffer {
    fn buffer(&self) -> vk::Buffer {
        self.raw
    }
    fn size(&self) -> u64 {
        self.size
    }
}

impl Drop for ExportedBuffer {
    fn drop(&mut self) {
        // SAFETY: copies into the buffer are waited for; buffer before its memory.
        unsafe {
            self.device.raw.destroy_buffer(self.raw, None);
            self.device.raw.free_memory(self.memory, None);
        }
    }
}

/// Whether `device` exports buffer memory for `usage` as `handle_type`.
fn exportable(
    device: &Device,
    usage: vk::BufferUsageFlags,
    handle_type: vk::ExternalMemoryHandleTypeFlags,
) -> bool {
    if !device.has_extension("VK_KHR_external_memory_fd") {
        return false;
    }
    let info = vk::PhysicalDeviceExternalBufferInfo::default()
        .usage(usage)
        .handle_type(handle_type);
    let mut out = vk::ExternalBufferProperties::default();
    // SAFETY: valid physical device and input struct; core 1.1 query.
    unsafe {
        device
            .instance
            .raw
            .get_physical_device_external_buffer_properties(device.physical, &info, &mut out)
    };
    out.external_memory_properties
        .external_memory_features
        .contains(vk::ExternalMemoryFeatureFlags::EXPORTABLE)
}

/// A device-local memory type among `bits` (any type among them if none is device-local).
fn device_local_type(device: &Device, bits: u32) -> Option<u32> {
    // SAFETY: valid physical device; core 1.0 query.
    let props = unsafe {
        device
            .instance
            .raw
            .get_physical_device_memory_properties(device.physical)
    };
    let types = props.memory_types_as_slice();
    let fits = |i: usize| bits & (1 << i) != 0;
    types
        .iter()
        .enumerate()
        .position(|(i, t)| {
            fits(i)
                && t.property_flags
                    .contains(vk::MemoryPropertyFlags::DEVICE_LOCAL)
        })
        .or_else(|| (0..types.len()).find(|&i| fits(i)))
        .map(|i| i as u32)
}

/// A single-plane dma-buf bound to a `VkImage` with an explicit DRM format modifier (`Sample`).
pub struct ImportedImage {
    device: Arc<Device>,
    pub(crate) raw: vk::Image,
    pub(crate) view: vk::ImageView,
    memory: vk::DeviceMemory,
    pub(crate) format: vk::Format,
    pub(crate) width: u32,
    pub(crate) height: u32,
}

/// One plane of an [`ImportedImage`]'s explicit layout.
#[derive(Debug, Clone, Copy)]
pub struct ImagePlane {
    pub offset: u32,
    pub stride: u32,
}

impl ImportedImage {
    // A failed import is an expected fallback (the next rung is tried), never a weft bug: debug.
    #[tracing::instrument(skip_all, err(level = "debug"))]
    pub fn import(
        device: &Arc<Device>,
        fd: BorrowedFd<'_>,
        format: vk::Format,
        (width, height): (u32, u32),
        modifier: u64,
        plane: ImagePlane,
    ) -> Result<Self, ImportError> {
        let layouts = [vk::SubresourceLayout {
            offset: u64::from(plane.offset),
            size: 0,
            row_pitch: u64::from(plane.stride),
            array_pitch: 0,
            depth_pitch: 0,
        }];
        let mut explicit = vk::ImageDrmFormatModifierExplicitCreateInfoEXT::default()
            .drm_format_modifier(modifier)
            .plane_layouts(&layouts);
        let mut external = vk::ExternalMemoryImageCreateInfo::default()
            .handle_types(vk::ExternalMemoryHandleTypeFlags::DMA_BUF_EXT);
        let info = vk::ImageCreateInfo::default()
            .image_type(vk::ImageType::TYPE_2D)
            .format(format)
            .extent(vk::Extent3D {
                width,
                height,
                depth: 1,
            })
            .mip_levels(1)
            .array_layers(1)
            .samples(vk::SampleCountFlags::TYPE_1)
            .tiling(vk::ImageTiling::DRM_FORMAT_MODIFIER_EXT)
            .usage(vk::ImageUsageFlags::SAMPLED)
            .sharing_mode(vk::SharingMode::EXCLUSIVE)
            .initial_layout(vk::ImageLayout::UNDEFINED)
            .push_next(&mut external)
            .push_next(&mut explicit);
        // SAFETY: the (format, modifier) pair was reported importable for sampling
        // (DmabufCaps::image_modifiers); size validated non-zero by the linux-dmabuf guard; `layouts`
        // has one entry per memory plane of a single-plane modifier
        // (VUID-VkImageDrmFormatModifierExplicitCreateInfoEXT-drmFormatModifierPlaneCount-02265).
        let raw = unsafe { device.raw.create_image(&info, None) }.map_err(|e| {
            ImportError::Unsupported(format!("vkCreateImage (explicit modifier): {e}"))
        })?;
        // SAFETY: `raw` is a live image of this device.
        let requirements = unsafe { device.raw.get_image_memory_requirements(raw) };
        let memory = match import_memory(
            device,
            fd,
            requirements,
            vk::MemoryDedicatedAllocateInfo::default().image(raw),
            vk::ExternalMemoryHandleTypeFlags::DMA_BUF_EXT,
        ) {
            Ok(m) => m,
            Err(e) => {
                // SAFETY: unbound, unused image.
                unsafe { device.raw.destroy_image(raw, None) };
                return Err(e);
            }
        };
        // SAFETY: dedicated memory for this image, bound once at offset 0.
        let bound = unsafe { device.raw.bind_image_memory(raw, memory, 0) };
        let view = bound.and_then(|()| {
            let view_info = vk::ImageViewCreateInfo::default()
                .image(raw)
                .view_type(vk::ImageViewType::TYPE_2D)
                .format(format)
                .subresource_range(super::memory::color_range());
            // SAFETY: the image is bound; the view matches its format and only subresource.
            unsafe { device.raw.create_image_view(&view_info, None) }
        });
        match view {
            Ok(view) => Ok(Self {
                device: device.clone(),
                raw,
                view,
                memory,
                format,
                width,
                height,
            }),
            Err(e) => {
                // SAFETY: nothing used the image or memory.
                unsafe {
                    device.raw.destroy_image(raw, None);
                    device.raw.free_memory(memory, None);
                }
                Err(RenderError::Vk("vkBindImageMemory/vkCreateImageView", e).into())
            }
        }
    }
}

impl Drop for ImportedImage {
    fn drop(&mut self) {
        // SAFETY: frames are synchronous, nothing in flight uses the image; view, image, then memory.
        unsafe {
            self.device.raw.destroy_image_view(self.view, None);
            self.device.raw.destroy_image(self.raw, None);
            self.device.raw.free_memory(self.memory, None);
        }
    }
}
