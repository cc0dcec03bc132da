//! lavapipe (Mesa's CPU Vulkan driver) importing dma-bufs: `VkImportMemoryFdInfoKHR` with handle
//! type `DMA_BUF_EXT`, bound to a `VkBuffer` or to a `VkImage` with an explicit `LINEAR` DRM
//! modifier — the import weft's Vulkan renderer does on a real GPU.
//!
//! lavapipe only offers VK_EXT_image_drm_format_modifier and VK_KHR_external_semaphore_fd when
//! `/dev/udmabuf` exists, i.e. in the guest and not on the development hosts.

use std::ffi::CStr;
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd};

use ash::vk;

use crate::dmabuf::DmaBuf;
use crate::error::{Error, Result};

fn vk_err(op: &'static str) -> impl Fn(vk::Result) -> Error {
    move |result| Error::Vulkan { op, result }
}

/// An instance and device on lavapipe with dma-buf import switched on; destroyed on drop.
pub struct Lavapipe {
    _entry: ash::Entry,
    instance: ash::Instance,
    physical: vk::PhysicalDevice,
    device: ash::Device,
    memory_fd: ash::khr::external_memory_fd::Device,
    /// Device extensions lavapipe offers here (names).
    pub extensions: Vec<String>,
    /// Whether VK_EXT_image_drm_format_modifier was enabled (so [`Self::import_linear_image`] works).
    pub has_modifiers: bool,
}

/// A layout for importing a buffer as an image.
#[derive(Debug, Clone, Copy)]
pub struct ImageLayout {
    pub width: u32,
    pub height: u32,
    /// Bytes per row.
    pub stride: u64,
}

impl Lavapipe {
    pub fn new() -> Result<Self> {
        // SAFETY: loading libvulkan runs its initialisers; nothing else in this process loads a
        // different Vulkan loader.
        let entry = unsafe { ash::Entry::load() }
            .map_err(|e| Error::Unsupported(format!("cannot load libvulkan: {e}")))?;
        let app = vk::ApplicationInfo::default().api_version(vk::API_VERSION_1_3);
        let info = vk::InstanceCreateInfo::default().application_info(&app);
        // SAFETY: valid create info; the instance is destroyed in Drop (or below on failure).
        let instance =
            unsafe { entry.create_instance(&info, None) }.map_err(vk_err("vkCreateInstance"))?;
        match Self::with_instance(entry, instance.clone()) {
            Ok(me) => Ok(me),
            Err(e) => {
                // SAFETY: nothing created from the instance survives the failed setup.
                unsafe { instance.destroy_instance(None) };
                Err(e)
            }
        }
    }

    fn with_instance(entry: ash::Entry, instance: ash::Instance) -> Result<Self> {
        // SAFETY: a live instance.
        let physicals = unsafe { instance.enumerate_physical_devices() }
            .map_err(vk_err("vkEnumeratePhysicalDevices"))?;
        let physical = physicals
            .into_iter()
            .find(|&p| {
                // SAFETY: `p` came from this instance.
                let props = unsafe { instance.get_physical_device_properties(p) };
                props.device_type == vk::PhysicalDeviceType::CPU
            })
            .ok_or_else(|| Error::Unsupported("no CPU (lavapipe) Vulkan device".into()))?;
        // SAFETY: `physical` came from this instance.
        let available = unsafe { instance.enumerate_device_extension_properties(physical) }
            .map_err(vk_err("vkEnumerateDeviceExtensionProperties"))?;
        let extensions: Vec<String> = available
            .iter()
            .filter_map(|e| e.extension_name_as_c_str().ok())
            .map(|n| n.to_string_lossy().into_owned())
            .collect();
        let has = |name: &CStr| extensions.iter().any(|e| e.as_bytes() == name.to_bytes());
        for needed in [
            ash::khr::external_memory_fd::NAME,
            ash::ext::external_memory_dma_buf::NAME,
        ] {
            if !has(needed) {
                return Err(Error::Unsupported(format!(
                    "lavapipe lacks {}",
                    needed.to_string_lossy()
                )));
            }
        }
        let has_modifiers = has(ash::ext::image_drm_format_modifier::NAME);
        let mut enabled = vec![
            ash::khr::external_memory_fd::NAME.as_ptr(),
            ash::ext::external_memory_dma_buf::NAME.as_ptr(),
        ];
        if has_modifiers {
            enabled.push(ash::ext::image_drm_format_modifier::NAME.as_ptr());
        }
        let priorities = [1.0f32];
        let queue = [vk::DeviceQueueCreateInfo::default()
            .queue_family_index(0)
            .queue_priorities(&priorities)];
        let info = vk::DeviceCreateInfo::default()
            .queue_create_infos(&queue)
            .enabled_extension_names(&enabled);
        // SAFETY: the extensions were checked above; queue family 0 exists on every device.
        let device = unsafe { instance.create_device(physical, &info, None) }
            .map_err(vk_err("vkCreateDevice"))?;
        let memory_fd = ash::khr::external_memory_fd::Device::new(&instance, &device);
        Ok(Self {
            _entry: entry,
            instance,
            physical,
            device,
            memory_fd,
            extensions,
            has_modifiers,
        })
    }

    pub fn has_extension(&self, name: &str) -> bool {
        self.extensions.iter().any(|e| e == name)
    }

    /// Imports `buf` into a `VkBuffer` of its size, maps it, and returns the first `len` bytes as
    /// Vulkan sees them (to compare with a CPU mapping of the dma-buf).
    pub fn import_buffer(&self, buf: &DmaBuf, len: usize) -> Result<Vec<u8>> {
        let mut external = vk::ExternalMemoryBufferCreateInfo::default()
            .handle_types(vk::ExternalMemoryHandleTypeFlags::DMA_BUF_EXT);
        let info = vk::BufferCreateInfo::default()
            .size(buf.size())
            .usage(vk::BufferUsageFlags::TRANSFER_SRC | vk::BufferUsageFlags::TRANSFER_DST)
            .push_next(&mut external);
        // SAFETY: valid create info; destroyed below.
        let buffer =
            unsafe { self.device.create_buffer(&info, None) }.map_err(vk_err("vkCreateBuffer"))?;
        // SAFETY: `buffer` belongs to this device.
        let reqs = unsafe { self.device.get_buffer_memory_requirements(buffer) };
        let result = self.import_memory(buf, reqs).and_then(|memory| {
            // SAFETY: memory and buffer are from this device; the import is at least `reqs.size`.
            let bound = unsafe { self.device.bind_buffer_memory(buffer, memory, 0) }
                .map_err(vk_err("vkBindBufferMemory"));
            let read = bound.and_then(|()| self.read_back(memory, len.min(buf.size() as usize)));
            // SAFETY: nothing uses the memory any more (no GPU work was submitted).
            unsafe { self.device.free_memory(memory, None) };
            read
        });
        // SAFETY: as above.
        unsafe { self.device.destroy_buffer(buffer, None) };
        result
    }

    /// Imports `buf` as a B8G8R8A8 (DRM XRGB8888) `VkImage` with tiling DRM_FORMAT_MODIFIER and
    /// the explicit modifier LINEAR at `layout`.
    pub fn import_linear_image(&self, buf: &DmaBuf, layout: ImageLayout) -> Result<()> {
        if !self.has_modifiers {
            return Err(Error::Unsupported(
                "VK_EXT_image_drm_format_modifier".into(),
            ));
        }
        let planes = [vk::SubresourceLayout {
            offset: 0,
            size: 0,
            row_pitch: layout.stride,
            array_pitch: 0,
            depth_pitch: 0,
        }];
        let mut explicit = vk::ImageDrmFormatModifierExplicitCreateInfoEXT::default()
            .drm_format_modifier(crate::fourcc::MOD_LINEAR)
            .plane_layouts(&planes);
        let mut external = vk::ExternalMemoryImageCreateInfo::default()
            .handle_types(vk::ExternalMemoryHandleTypeFlags::DMA_BUF_EXT);
        let info = vk::ImageCreateInfo::default()
            .image_type(vk::ImageType::TYPE_2D)
            .format(vk::Format::B8G8R8A8_UNORM)
            .extent(vk::Extent3D {
                width: layout.width,
                height: layout.height,
                depth: 1,
            })
            .mip_levels(1)
            .array_layers(1)
            .samples(vk::SampleCountFlags::TYPE_1)
            .tiling(vk::ImageTiling::DRM_FORMAT_MODIFIER_EXT)
            .usage(vk::ImageUsageFlags::SAMPLED | vk::ImageUsageFlags::TRANSFER_SRC)
            .sharing_mode(vk::SharingMode::EXCLUSIVE)
            .initial_layout(vk::ImageLayout::UNDEFINED)
            .push_next(&mut external)
            .push_next(&mut explicit);
        // SAFETY: VUID-VkImageCreateInfo-tiling-02261: DRM_FORMAT_MODIFIER tiling with an explicit
        // modifier struct chained; the extension is enabled. Destroyed below.
        let image =
            unsafe { self.device.create_image(&info, None) }.map_err(vk_err("vkCreateImage"))?;
        // SAFETY: `image` belongs to this device.
        let reqs = unsafe { self.device.get_image_memory_requirements(image) };
        let result = self.import_memory(buf, reqs).and_then(|memory| {
            // SAFETY: both from this device; the import covers `reqs.size` or the bind fails cleanly.
            let bound = unsafe { self.device.bind_image_memory(image, memory, 0) }
                .map_err(vk_err("vkBindImageMemory"));
            // SAFETY: no GPU work used the memory.
            unsafe { self.device.free_memory(memory, None) };
            bound
        });
        // SAFETY: as above.
        unsafe { self.device.destroy_image(image, None) };
        result
    }

    /// `vkAllocateMemory` importing a dup of `buf`'s fd, on a type both the resource and the fd allow.
    fn import_memory(
        &self,
        buf: &DmaBuf,
        reqs: vk::MemoryRequirements,
    ) -> Result<vk::DeviceMemory> {
        let fd: OwnedFd = buf.try_clone_fd()?;
        let mut fd_props = vk::MemoryFdPropertiesKHR::default();
        // SAFETY: `fd` is a valid dma-buf fd, only borrowed by this query.
        unsafe {
            self.memory_fd.get_memory_fd_properties(
                vk::ExternalMemoryHandleTypeFlags::DMA_BUF_EXT,
                fd.as_raw_fd(),
                &mut fd_props,
            )
        }
        .map_err(vk_err("vkGetMemoryFdPropertiesKHR"))?;
        // SAFETY: a physical device of this instance.
        let mem_props = unsafe {
            self.instance
                .get_physical_device_memory_properties(self.physical)
        };
        let allowed = reqs.memory_type_bits & fd_props.memory_type_bits;
        let type_index = (0..mem_props.memory_type_count)
            .filter(|i| allowed & (1 << i) != 0)
            .max_by_key(|&i| {
                mem_props.memory_types[i as usize]
                    .property_flags
                    .contains(vk::MemoryPropertyFlags::HOST_VISIBLE)
            })
            .ok_or_else(|| Error::Unsupported("no memory type fits the dma-buf".into()))?;
        let raw = fd.into_raw_fd();
        let mut import = vk::ImportMemoryFdInfoKHR::default()
            .handle_type(vk::ExternalMemoryHandleTypeFlags::DMA_BUF_EXT)
            .fd(raw);
        let info = vk::MemoryAllocateInfo::default()
            .allocation_size(reqs.size)
            .memory_type_index(type_index)
            .push_next(&mut import);
        // SAFETY: VkImportMemoryFdInfoKHR: "Importing memory from a file descriptor transfers
        // ownership of the file descriptor from the application to the Vulkan implementation" — on
        // success only, so on failure we take the fd back and close it.
        match unsafe { self.device.allocate_memory(&info, None) } {
            Ok(memory) => Ok(memory),
            Err(result) => {
                // SAFETY: the failed import did not take ownership of `raw`.
                drop(unsafe { OwnedFd::from_raw_fd(raw) });
                Err(Error::Vulkan {
                    op: "vkAllocateMemory(import dma-buf)",
                    result,
                })
            }
        }
    }

    fn read_back(&self, memory: vk::DeviceMemory, len: usize) -> Result<Vec<u8>> {
        // SAFETY: host-visible memory (lavapipe's only kind), not mapped elsewhere; unmapped below.
        let ptr = unsafe {
            self.device
                .map_memory(memory, 0, vk::WHOLE_SIZE, vk::MemoryMapFlags::empty())
        }
        .map_err(vk_err("vkMapMemory"))?;
        // SAFETY: the mapping covers the whole allocation, at least `len` bytes (len ≤ dma-buf size).
        let bytes = unsafe { std::slice::from_raw_parts(ptr.cast::<u8>(), len) }.to_vec();
        // SAFETY: mapped just above.
        unsafe { self.device.unmap_memory(memory) };
        Ok(bytes)
    }
}

impl Drop for Lavapipe {
    fn drop(&mut self) {
        // SAFETY: every object created from the device was destroyed by the call that made it.
        unsafe {
            self.device.destroy_device(None);
            self.instance.destroy_instance(None);
        }
    }
}
