//! Opening DRM devices, their capabilities, dumb-buffer export and PRIME import.
//!
//! Tests open the primary (`cardN`) node: vgem only allows dumb buffers there, and KMS needs it.

use std::fs::{File, OpenOptions};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use drm::control::Device as _;
use drm::{ClientCapability, Device as _, DriverCapability};

use crate::dmabuf::DmaBuf;
use crate::error::{IoContext, Result};

/// An open DRM node.
#[derive(Debug)]
pub struct DrmNode {
    file: File,
    pub path: PathBuf,
    /// The kernel driver's name: "vgem", "virtio_gpu", "bochs-drm"…
    pub driver: String,
}

impl AsFd for DrmNode {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }
}

impl drm::Device for DrmNode {}
impl drm::control::Device for DrmNode {}

/// `DRM_PRIME_CAP_IMPORT` / `DRM_PRIME_CAP_EXPORT` bits of `DRM_CAP_PRIME`.
pub const PRIME_CAP_IMPORT: u64 = 1;
pub const PRIME_CAP_EXPORT: u64 = 2;

impl DrmNode {
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_CLOEXEC)
            .open(&path)
            .op("open(DRM node)")?;
        let mut node = Self {
            file,
            path,
            driver: String::new(),
        };
        node.driver = node
            .get_driver()
            .op("DRM_IOCTL_VERSION")?
            .name()
            .to_string_lossy()
            .into_owned();
        Ok(node)
    }

    /// Every `/dev/dri/cardN`, in N order.
    pub fn cards() -> Result<Vec<Self>> {
        let mut numbers: Vec<u32> = std::fs::read_dir("/dev/dri")
            .op("read_dir(/dev/dri)")?
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().to_str()?.strip_prefix("card")?.parse().ok())
            .collect();
        numbers.sort_unstable();
        numbers
            .into_iter()
            .map(|n| Self::open(format!("/dev/dri/card{n}")))
            .collect()
    }

    /// The first card driven by `driver`.
    pub fn by_driver(driver: &str) -> Result<Self> {
        Self::cards()?
            .into_iter()
            .find(|n| n.driver == driver)
            .ok_or_else(|| crate::Error::Unsupported(format!("no DRM device with driver {driver}")))
    }

    /// The render node of the same device, from sysfs.
    pub fn render_node(&self) -> Option<PathBuf> {
        let name = self.path.file_name()?.to_str()?;
        let dir = std::fs::read_dir(format!("/sys/class/drm/{name}/device/drm")).ok()?;
        dir.filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().to_str().map(str::to_owned))
            .find(|n| n.starts_with("renderD"))
            .map(|n| PathBuf::from("/dev/dri").join(n))
    }

    /// `DRM_IOCTL_GET_CAP`.
    pub fn cap(&self, cap: DriverCapability) -> Result<u64> {
        self.get_driver_capability(cap).op("DRM_IOCTL_GET_CAP")
    }

    /// Whether the device does modesetting: MODE_GETRESOURCES works and lists a CRTC. Render-only
    /// drivers (vgem) fail it with EOPNOTSUPP.
    pub fn is_kms(&self) -> bool {
        self.resource_handles()
            .map(|r| !r.crtcs().is_empty())
            .unwrap_or(false)
    }

    /// Asks to see primary and cursor planes too (`DRM_CLIENT_CAP_UNIVERSAL_PLANES`).
    pub fn enable_universal_planes(&self) -> Result<()> {
        self.set_client_capability(ClientCapability::UniversalPlanes, true)
            .op("DRM_IOCTL_SET_CLIENT_CAP(UNIVERSAL_PLANES)")
    }

    /// `MODE_CREATE_DUMB` (XRGB8888, 32 bpp) and `PRIME_HANDLE_TO_FD` with `O_RDWR | O_CLOEXEC`.
    /// The GEM handle is closed again: the dma-buf keeps the object alive.
    pub fn export_dumb(&self, width: u32, height: u32, origin: &'static str) -> Result<DmaBuf> {
        let dumb = self
            .create_dumb_buffer((width, height), drm::buffer::DrmFourcc::Xrgb8888, 32)
            .op("DRM_IOCTL_MODE_CREATE_DUMB")?;
        let handle = drm::buffer::Buffer::handle(&dumb);
        let fd = self.buffer_to_prime_fd(handle, (libc::O_RDWR | libc::O_CLOEXEC) as u32);
        let closed = self.destroy_dumb_buffer(dumb);
        let buf = DmaBuf::new(fd.op("DRM_IOCTL_PRIME_HANDLE_TO_FD")?, origin)?;
        closed.op("DRM_IOCTL_MODE_DESTROY_DUMB")?;
        Ok(buf)
    }

    /// `PRIME_FD_TO_HANDLE`: imports a dma-buf and returns its GEM handle (close it with
    /// [`Self::close_gem`]).
    pub fn import_prime(&self, buf: &DmaBuf) -> Result<drm::buffer::Handle> {
        self.prime_fd_to_buffer(buf.as_fd())
            .op("DRM_IOCTL_PRIME_FD_TO_HANDLE")
    }

    /// `GEM_CLOSE`.
    pub fn close_gem(&self, handle: drm::buffer::Handle) -> Result<()> {
        self.close_buffer(handle).op("DRM_IOCTL_GEM_CLOSE")
    }
}
