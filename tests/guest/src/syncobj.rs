//! DRM timeline syncobjs: importing a sync_file at a point and waiting through an eventfd
//! (`DRM_IOCTL_SYNCOBJ_EVENTFD`, Linux 6.6+) — how a compositor waits for an acquire point
//! without blocking its event loop.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use drm::control::{syncobj, Device as _};

use crate::drm_node::DrmNode;
use crate::error::{Error, IoContext, Result};
use crate::ioctl::{ioctl, iowr, DRM};
use crate::sync_file::SyncFile;

#[repr(C)]
struct SyncobjHandle {
    handle: u32,
    flags: u32,
    fd: i32,
    pad: u32,
    point: u64,
}

const FD_TO_HANDLE: libc::c_ulong = iowr::<SyncobjHandle>(DRM, 0xC2);
const FD_TO_HANDLE_FLAGS_IMPORT_SYNC_FILE: u32 = 1 << 0;
/// `DRM_SYNCOBJ_FD_TO_HANDLE_FLAGS_TIMELINE`: newer than 6.12 (added in 2025).
const FD_TO_HANDLE_FLAGS_TIMELINE: u32 = 1 << 1;

/// How [`Timeline::import_sync_file`] got the fence onto the point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportPath {
    /// One `FD_TO_HANDLE` with `IMPORT_SYNC_FILE | TIMELINE`.
    Direct,
    /// The kernel refused the TIMELINE flag (EINVAL): imported into a temporary binary syncobj,
    /// then `SYNCOBJ_TRANSFER`red to the point.
    ViaTransfer,
}

/// A timeline syncobj on one device; destroyed on drop.
#[derive(Debug)]
pub struct Timeline<'d> {
    node: &'d DrmNode,
    handle: syncobj::Handle,
}

impl<'d> Timeline<'d> {
    pub fn new(node: &'d DrmNode) -> Result<Self> {
        let handle = node.create_syncobj(false).op("DRM_IOCTL_SYNCOBJ_CREATE")?;
        Ok(Self { node, handle })
    }

    /// Makes `point` carry the sync_file's fence.
    pub fn import_sync_file(&self, point: u64, sync_file: &SyncFile) -> Result<ImportPath> {
        let direct = import_into(
            self.node,
            self.handle,
            FD_TO_HANDLE_FLAGS_IMPORT_SYNC_FILE | FD_TO_HANDLE_FLAGS_TIMELINE,
            point,
            sync_file.as_fd(),
        );
        match direct {
            Ok(()) => return Ok(ImportPath::Direct),
            Err(e) if e.errno() == Some(libc::EINVAL) => {}
            Err(e) => return Err(e),
        }
        let temp = self
            .node
            .create_syncobj(false)
            .op("DRM_IOCTL_SYNCOBJ_CREATE")?;
        let moved = import_into(
            self.node,
            temp,
            FD_TO_HANDLE_FLAGS_IMPORT_SYNC_FILE,
            0,
            sync_file.as_fd(),
        )
        .and_then(|()| {
            self.node
                .syncobj_timeline_transfer(temp, self.handle, 0, point)
                .op("DRM_IOCTL_SYNCOBJ_TRANSFER")
        });
        let destroyed = self
            .node
            .destroy_syncobj(temp)
            .op("DRM_IOCTL_SYNCOBJ_DESTROY");
        moved?;
        destroyed?;
        Ok(ImportPath::ViaTransfer)
    }

    /// A non-blocking eventfd that becomes readable when `point` signals, or with
    /// `wait_available` when its fence merely exists (has materialized).
    pub fn eventfd(&self, point: u64, wait_available: bool) -> Result<OwnedFd> {
        // SAFETY: eventfd takes no pointers.
        let raw = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if raw < 0 {
            return Err(io::Error::last_os_error()).op("eventfd");
        }
        // SAFETY: a new fd owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        self.node
            .syncobj_eventfd(self.handle, point, fd.as_fd(), wait_available)
            .op("DRM_IOCTL_SYNCOBJ_EVENTFD")?;
        Ok(fd)
    }

    /// The syncobj as an fd (`SYNCOBJ_HANDLE_TO_FD` without flags): what
    /// wp_linux_drm_syncobj_manager_v1.import_timeline takes.
    pub fn export_fd(&self) -> Result<OwnedFd> {
        self.node
            .syncobj_to_fd(self.handle, false)
            .op("DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD")
    }

    /// Signals `point` from the CPU (`DRM_IOCTL_SYNCOBJ_TIMELINE_SIGNAL`).
    pub fn signal(&self, point: u64) -> Result<()> {
        self.node
            .syncobj_timeline_signal(&[self.handle], &[point])
            .op("DRM_IOCTL_SYNCOBJ_TIMELINE_SIGNAL")
    }

    /// The last signalled point (`DRM_IOCTL_SYNCOBJ_QUERY`).
    pub fn signalled_point(&self) -> Result<u64> {
        let mut points = [0u64];
        self.node
            .syncobj_timeline_query(&[self.handle], &mut points, false)
            .op("DRM_IOCTL_SYNCOBJ_QUERY")?;
        Ok(points[0])
    }
}

impl Drop for Timeline<'_> {
    fn drop(&mut self) {
        // Nothing useful to do with a failure here; the fd's close frees it anyway.
        let _ = self.node.destroy_syncobj(self.handle);
    }
}

fn import_into(
    node: &DrmNode,
    handle: syncobj::Handle,
    flags: u32,
    point: u64,
    fd: BorrowedFd<'_>,
) -> Result<()> {
    let mut arg = SyncobjHandle {
        handle: u32::from(handle),
        flags,
        fd: fd.as_raw_fd(),
        pad: 0,
        point,
    };
    // SAFETY: DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE takes `struct drm_syncobj_handle`
    // {u32 handle; u32 flags; s32 fd; u32 pad; u64 point}, mirrored by `SyncobjHandle`; the sync_file
    // fd is only borrowed.
    unsafe { ioctl(node.as_fd(), FD_TO_HANDLE, &mut arg) }
        .op("DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE(IMPORT_SYNC_FILE)")?;
    Ok(())
}

/// Reads and clears an eventfd; `Ok(false)` if it had not fired.
pub fn eventfd_take(fd: BorrowedFd<'_>) -> Result<bool> {
    let mut value = 0u64;
    // SAFETY: reading exactly 8 bytes into a u64, as eventfd requires.
    let n = unsafe { libc::read(fd.as_raw_fd(), (&mut value as *mut u64).cast(), 8) };
    if n == 8 {
        return Ok(value > 0);
    }
    let err = io::Error::last_os_error();
    if err.raw_os_error() == Some(libc::EAGAIN) {
        return Ok(false);
    }
    Err(Error::Io {
        op: "read(eventfd)",
        source: err,
    })
}
