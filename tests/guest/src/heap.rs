//! dma-buf heaps: `DMA_HEAP_IOCTL_ALLOC` on `/dev/dma_heap/system` (system memory, no device).

use std::fs::OpenOptions;
use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;

use crate::dmabuf::DmaBuf;
use crate::error::{IoContext, Result};
use crate::ioctl::{ioctl, iowr};

#[repr(C)]
struct AllocationData {
    len: u64,
    fd: u32,
    fd_flags: u32,
    heap_flags: u64,
}

const DMA_HEAP_IOCTL_ALLOC: libc::c_ulong = iowr::<AllocationData>(b'H', 0x0);

/// Allocates `len` bytes from the system heap.
pub fn alloc_system(len: u64) -> Result<DmaBuf> {
    let heap = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_CLOEXEC)
        .open("/dev/dma_heap/system")
        .op("open(/dev/dma_heap/system)")?;
    let mut arg = AllocationData {
        len,
        fd: 0,
        fd_flags: (libc::O_RDWR | libc::O_CLOEXEC) as u32,
        heap_flags: 0,
    };
    // SAFETY: DMA_HEAP_IOCTL_ALLOC takes `struct dma_heap_allocation_data`
    // {u64 len; u32 fd; u32 fd_flags; u64 heap_flags}, mirrored by `AllocationData`.
    unsafe { ioctl(heap.as_fd(), DMA_HEAP_IOCTL_ALLOC, &mut arg) }.op("DMA_HEAP_IOCTL_ALLOC")?;
    // SAFETY: on success `fd` is a new dma-buf fd owned by nobody else.
    let fd = unsafe { OwnedFd::from_raw_fd(arg.fd as i32) };
    DmaBuf::new(fd, "dma-heap")
}
