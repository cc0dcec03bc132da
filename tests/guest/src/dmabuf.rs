//! A dma-buf fd with its size and where it came from, CPU mappings, and the implicit-sync bridge
//! (`DMA_BUF_IOCTL_EXPORT_SYNC_FILE` / `IMPORT_SYNC_FILE`, Linux 6.0+).

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::ptr::NonNull;

use crate::error::{Error, IoContext, Result};
use crate::ioctl::{ioctl, iow, iowr};
use crate::sync_file::SyncFile;

/// `DMA_BUF_SYNC_READ`: with EXPORT, wait for writers only; with IMPORT, add as a reader.
pub const SYNC_READ: u32 = 1 << 0;
/// `DMA_BUF_SYNC_WRITE`: with EXPORT, wait for readers and writers; with IMPORT, add as a writer.
pub const SYNC_WRITE: u32 = 1 << 1;

#[repr(C)]
struct DmaBufSyncFile {
    flags: u32,
    fd: i32,
}

const EXPORT_SYNC_FILE: libc::c_ulong = iowr::<DmaBufSyncFile>(b'b', 2);
const IMPORT_SYNC_FILE: libc::c_ulong = iow::<DmaBufSyncFile>(b'b', 3);

/// A dma-buf and the allocator it came from.
#[derive(Debug)]
pub struct DmaBuf {
    fd: OwnedFd,
    size: u64,
    /// Which source made it ("vgem", "dma-heap", …), for reports.
    pub origin: &'static str,
}

impl DmaBuf {
    /// Wraps an fd; its size is read with `lseek(SEEK_END)`, as the linux-dmabuf checks do.
    pub fn new(fd: OwnedFd, origin: &'static str) -> Result<Self> {
        // SAFETY: lseek on an fd we own; it does not touch memory.
        let end = unsafe { libc::lseek(fd.as_raw_fd(), 0, libc::SEEK_END) };
        if end < 0 {
            return Err(io::Error::last_os_error()).op("lseek(dma-buf, SEEK_END)");
        }
        // SAFETY: as above; rewinding keeps later readers of the fd position unsurprised.
        unsafe { libc::lseek(fd.as_raw_fd(), 0, libc::SEEK_SET) };
        Ok(Self {
            fd,
            size: end as u64,
            origin,
        })
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// A second fd for the same buffer, for APIs that take ownership (Vulkan import).
    pub fn try_clone_fd(&self) -> Result<OwnedFd> {
        self.fd.try_clone().op("dup(dma-buf)")
    }

    /// `DMA_BUF_IOCTL_EXPORT_SYNC_FILE`: a snapshot of the fences a reader (`SYNC_READ`) or a
    /// writer (`SYNC_WRITE`) would have to wait for.
    pub fn export_sync_file(&self, flags: u32) -> Result<SyncFile> {
        let mut arg = DmaBufSyncFile { flags, fd: -1 };
        // SAFETY: EXPORT_SYNC_FILE takes a `struct dma_buf_export_sync_file` {u32 flags; s32 fd},
        // which `DmaBufSyncFile` mirrors.
        unsafe { ioctl(self.fd.as_fd(), EXPORT_SYNC_FILE, &mut arg) }
            .op("DMA_BUF_IOCTL_EXPORT_SYNC_FILE")?;
        // SAFETY: on success the kernel returned a new fd that nothing else owns.
        Ok(SyncFile::from(unsafe { OwnedFd::from_raw_fd(arg.fd) }))
    }

    /// `DMA_BUF_IOCTL_IMPORT_SYNC_FILE`: adds the sync_file's fences to the buffer's reservation
    /// as a reader (`SYNC_READ`) or writer (`SYNC_WRITE`), so later implicit-sync users wait.
    pub fn import_sync_file(&self, flags: u32, sync_file: &SyncFile) -> Result<()> {
        let mut arg = DmaBufSyncFile {
            flags,
            fd: sync_file.as_fd().as_raw_fd(),
        };
        // SAFETY: IMPORT_SYNC_FILE reads a `struct dma_buf_import_sync_file` {u32 flags; s32 fd};
        // the fd is borrowed (the kernel takes its own reference to the fences).
        unsafe { ioctl(self.fd.as_fd(), IMPORT_SYNC_FILE, &mut arg) }
            .op("DMA_BUF_IOCTL_IMPORT_SYNC_FILE")?;
        Ok(())
    }

    /// Maps the whole buffer read/write, shared.
    pub fn map(&self) -> Result<Mapping> {
        Mapping::new(self.fd.as_fd(), self.size as usize)
    }

    /// The buffer's bytes, read through a read-only mapping (what an application that exported the
    /// buffer read-only can do), bracketed by `DMA_BUF_IOCTL_SYNC` for CPU access.
    pub fn read_all(&self) -> Result<Vec<u8>> {
        let len = self.size as usize;
        if len == 0 {
            return Err(Error::Unsupported("reading an empty buffer".into()));
        }
        // SAFETY: a fresh read-only shared mapping chosen by the kernel, unmapped below.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_SHARED,
                self.fd.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error()).op("mmap(PROT_READ)");
        }
        // SAFETY: `ptr..ptr+len` is the live mapping made above; it is copied, then unmapped once.
        let bytes = unsafe { std::slice::from_raw_parts(ptr.cast::<u8>(), len) }.to_vec();
        // SAFETY: unmapping exactly what was mapped above.
        unsafe { libc::munmap(ptr, len) };
        Ok(bytes)
    }
}

impl AsFd for DmaBuf {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// A shared read/write mapping, unmapped on drop.
#[derive(Debug)]
pub struct Mapping {
    ptr: NonNull<u8>,
    len: usize,
}

impl Mapping {
    pub(crate) fn new(fd: BorrowedFd<'_>, len: usize) -> Result<Self> {
        if len == 0 {
            return Err(Error::Unsupported("mapping an empty buffer".into()));
        }
        // SAFETY: a fresh shared mapping chosen by the kernel; nothing aliases it yet.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error()).op("mmap");
        }
        let ptr = NonNull::new(ptr.cast::<u8>())
            .ok_or_else(|| Error::Unsupported("mmap returned null".into()))?;
        Ok(Self { ptr, len })
    }

    /// The mapped bytes. Another device may write them at any time; tests only use this for
    /// patterns they wrote themselves or after the producer has signalled.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: `ptr..ptr+len` is a live mapping owned by `self`; the `&mut self` borrow keeps
        // Rust-side aliases out.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: unmapping exactly the range `new` mapped, once.
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}
