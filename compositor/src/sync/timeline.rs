//! DRM timeline syncobjs, the fences of wp_linux_drm_syncobj_v1: a client's timeline imported on
//! the device weft chose for them, waited through `DRM_IOCTL_SYNCOBJ_EVENTFD` (Linux 6.6+) in the
//! event loop, and release points signalled from the CPU once weft's reads are done.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use drm::control::{syncobj, Device as _};
use drm::Device as _;

/// An open DRM node that carries timeline syncobjs (render node where one exists).
#[derive(Debug)]
pub struct SyncobjDevice {
    fd: OwnedFd,
    pub path: PathBuf,
    /// The registry's id of the device (`drm:card1`).
    pub id: String,
}

impl AsFd for SyncobjDevice {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}
impl drm::Device for SyncobjDevice {}
impl drm::control::Device for SyncobjDevice {}

impl SyncobjDevice {
    /// Opens `path` and checks that it has timeline syncobjs and `SYNCOBJ_EVENTFD`.
    pub fn open(path: &Path, id: String) -> io::Result<Self> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_CLOEXEC)
            .open(path)?;
        let dev = Self {
            fd: file.into(),
            path: path.to_path_buf(),
            id,
        };
        if dev.get_driver_capability(drm::DriverCapability::TimelineSyncObj)? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "no timeline syncobjs",
            ));
        }
        // The EVENTFD ioctl on a handle that does not exist answers ENOENT where the ioctl exists,
        // and EINVAL/ENOTTY/EOPNOTSUPP on kernels or drivers without it.
        let none = syncobj::Handle::from(std::num::NonZeroU32::MAX);
        match dev.syncobj_eventfd(none, 0, dev.fd.as_fd(), false) {
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(dev),
            Err(e) => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                format!("no DRM_IOCTL_SYNCOBJ_EVENTFD: {e}"),
            )),
            Ok(()) => Err(io::Error::other("SYNCOBJ_EVENTFD accepted handle 0")),
        }
    }
}

use std::os::unix::fs::OpenOptionsExt;

impl SyncobjDevice {
    /// The first device of the registry with timeline syncobjs and `SYNCOBJ_EVENTFD`, opened on
    /// its render node where it has one; `None` (logged) when there is none.
    pub fn find(devices: &crate::devices::Registry) -> Option<Self> {
        if devices.is_simulated() {
            return None;
        }
        for record in devices.devices() {
            if record.caps.syncobj_timeline != Some(true) {
                continue;
            }
            let Some(node) = record.preferred_node() else {
                continue;
            };
            match Self::open(Path::new(&node.path), record.id.0.clone()) {
                Ok(device) => {
                    tracing::info!(device = %record.id, node = %node.path, "explicit sync offered (wp_linux_drm_syncobj_manager_v1)");
                    return Some(device);
                }
                Err(e) => {
                    tracing::info!(device = %record.id, error = %e, "no explicit sync on this device")
                }
            }
        }
        tracing::info!(
            "no DRM device with timeline syncobjs and SYNCOBJ_EVENTFD: explicit sync not offered"
        );
        None
    }
}

/// The wp_linux_drm_syncobj_manager_v1 global and the device its timelines are imported on.
pub struct SyncobjState {
    pub device: Arc<SyncobjDevice>,
    pub global: smithay::reexports::wayland_server::backend::GlobalId,
}

/// A client's timeline, imported on a [`SyncobjDevice`]. Shared by every point set on it: a point
/// already set stays valid when the protocol object is destroyed.
#[derive(Debug)]
pub struct Timeline {
    dev: Arc<SyncobjDevice>,
    handle: syncobj::Handle,
}

impl PartialEq for Timeline {
    fn eq(&self, other: &Self) -> bool {
        self.handle == other.handle && Arc::ptr_eq(&self.dev, &other.dev)
    }
}

impl Timeline {
    /// Imports a syncobj fd (`SYNCOBJ_HANDLE_TO_FD` without flags), as `import_timeline` sends.
    pub fn import(dev: &Arc<SyncobjDevice>, fd: BorrowedFd<'_>) -> io::Result<Self> {
        let handle = dev.fd_to_syncobj(fd, false)?;
        Ok(Self {
            dev: dev.clone(),
            handle,
        })
    }

    /// The last signalled point.
    pub fn signalled_point(&self) -> io::Result<u64> {
        let mut points = [0u64];
        self.dev
            .syncobj_timeline_query(&[self.handle], &mut points, false)?;
        Ok(points[0])
    }

    /// A non-blocking eventfd that becomes readable once `point` has signalled.
    pub fn eventfd(&self, point: u64) -> io::Result<OwnedFd> {
        let fd = rustix::event::eventfd(
            0,
            rustix::event::EventfdFlags::CLOEXEC | rustix::event::EventfdFlags::NONBLOCK,
        )?;
        self.dev
            .syncobj_eventfd(self.handle, point, fd.as_fd(), false)?;
        Ok(fd)
    }

    /// Signals `point` (and so every lower one) from the CPU.
    pub fn signal(&self, point: u64) -> io::Result<()> {
        self.dev.syncobj_timeline_signal(&[self.handle], &[point])
    }

    /// The fence at `point` (which must have materialized) as a sync_file: moved to a temporary
    /// binary syncobj, then exported (the path that works before Linux 6.16's TIMELINE flag).
    pub fn export_sync_file(&self, point: u64) -> io::Result<OwnedFd> {
        let temp = self.dev.create_syncobj(false)?;
        let out = self
            .dev
            .syncobj_timeline_transfer(self.handle, temp, point, 0)
            .and_then(|()| self.dev.syncobj_to_fd(temp, true));
        let _ = self.dev.destroy_syncobj(temp);
        out
    }
}

impl Drop for Timeline {
    fn drop(&mut self) {
        // Nothing to do about a failure: the device fd's close frees the handle anyway.
        let _ = self.dev.destroy_syncobj(self.handle);
    }
}

/// A point on a timeline.
#[derive(Debug, Clone)]
pub struct Point {
    pub timeline: Arc<Timeline>,
    pub value: u64,
}

impl Point {
    pub fn signalled(&self) -> bool {
        self.timeline
            .signalled_point()
            .is_ok_and(|p| p >= self.value)
    }
}

/// A release point: signalled when dropped, which is when weft has finished with the buffer of its
/// commit (the surface replaced it and no frame in flight reads it), or when the commit was never
/// applied (a later one replaced it, the surface or its client went away). The spec allows a
/// release without a read, and out of order.
#[derive(Debug)]
pub struct ReleasePoint(pub Point);

impl Drop for ReleasePoint {
    fn drop(&mut self) {
        if let Err(e) = self.0.timeline.signal(self.0.value) {
            // The device went away under the client (hot-unplug): nothing left to signal.
            tracing::info!(point = self.0.value, error = %e, "release point not signalled");
        }
    }
}
