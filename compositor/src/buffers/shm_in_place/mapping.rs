//! weft's own mapping of the pages that hold one wl_shm buffer.
//!
//! smithay maps each pool once and may move that mapping (wl_shm_pool.resize) or unmap it (pool
//! gone) while frames in flight still read a buffer in place. So the buffer's pages are mapped a
//! second time, for weft alone, from the pool's file ([`super::pool_file`], sealed against
//! shrinking, so the pages never fault). The view lives as long as the Vulkan import of it.

use std::os::fd::OwnedFd;

use super::NotInPlace;

/// A read-only view of a buffer's pages, aligned as the device asks.
pub struct PoolView {
    ptr: *mut std::ffi::c_void,
    len: usize,
}

// SAFETY: the view is plain shared memory nobody in weft writes; it is unmapped once, on drop.
unsafe impl Send for PoolView {}
// SAFETY: as above: only read, through raw pointers, by the device.
unsafe impl Sync for PoolView {}

impl PoolView {
    /// Maps `file[offset..offset+bytes]`, rounded out to `align` (at least a page). Returns the
    /// view and where the buffer starts in it.
    pub fn new(
        file: &OwnedFd,
        offset: usize,
        bytes: usize,
        align: usize,
    ) -> Result<(Self, usize), NotInPlace> {
        let align = align.max(rustix::param::page_size());
        let first = offset / align * align;
        let last = offset
            .checked_add(bytes)
            .ok_or(NotInPlace::OutsidePool)?
            .div_ceil(align)
            * align;
        let size = rustix::fs::fstat(file).map_err(NotInPlace::Fstat)?.st_size;
        if bytes == 0 || (offset + bytes) as u64 > size as u64 {
            return Err(NotInPlace::OutsidePoolFile);
        }
        let len = last - first;
        // SAFETY: a fresh read-only shared mapping of the pool's file, not aliased by any Rust
        // reference; pages past the end of the file (the rounding) are never read; unmapped once,
        // in Drop.
        let ptr = unsafe {
            rustix::mm::mmap(
                std::ptr::null_mut(),
                len,
                rustix::mm::ProtFlags::READ,
                rustix::mm::MapFlags::SHARED,
                file,
                first as u64,
            )
        }
        .map_err(NotInPlace::Mmap)?;
        if !(ptr as usize).is_multiple_of(align) {
            // SAFETY: the mapping just made, unmapped once.
            let _ = unsafe { rustix::mm::munmap(ptr, len) };
            return Err(NotInPlace::Unaligned(align));
        }
        Ok((Self { ptr, len }, offset - first))
    }

    pub fn ptr(&self) -> *mut std::ffi::c_void {
        self.ptr
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Drop for PoolView {
    fn drop(&mut self) {
        // SAFETY: our own mapping, made in `new`, unmapped once; the import that read it is gone.
        let _ = unsafe { rustix::mm::munmap(self.ptr, self.len) };
    }
}
