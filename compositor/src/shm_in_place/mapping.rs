//! weft's own mapping of the pages that hold one wl_shm buffer.
//!
//! smithay maps each pool once and may move that mapping (wl_shm_pool.resize) or unmap it (pool
//! gone) while frames in flight still read a buffer in place. So the buffer's pages are mapped a
//! second time, for weft alone: `mremap` with an old size of 0 makes a new mapping of the same
//! shared pages (Linux, for MAP_SHARED mappings) without needing the pool's fd. The view lives as
//! long as the Vulkan import of it and is registered with [`super::sigbus`] for as long.

use super::sigbus::Guard;

/// A page-aligned read view of a buffer's pages.
pub struct PoolView {
    ptr: *mut libc::c_void,
    len: usize,
    guard: Option<Guard>,
}

// SAFETY: the view is plain shared memory nobody in weft writes; it is unmapped once, on drop.
unsafe impl Send for PoolView {}
// SAFETY: as above: only read through raw pointers by the device.
unsafe impl Sync for PoolView {}

impl PoolView {
    /// Maps the pages of `pool[offset..offset+bytes]` again, rounded out to `align` (a multiple
    /// of the page size). Returns the view and where the buffer starts in it.
    ///
    /// # Safety
    /// `pool..pool+pool_len` is a live MAP_SHARED mapping for the duration of the call.
    pub unsafe fn new(
        pool: *const u8,
        pool_len: usize,
        offset: usize,
        bytes: usize,
        align: usize,
    ) -> Result<(Self, usize), String> {
        let end = offset
            .checked_add(bytes)
            .filter(|&e| e <= pool_len && bytes > 0)
            .ok_or("the buffer lies outside its pool")?;
        let align = align.max(rustix::param::page_size());
        let first = (pool as usize + offset) / align * align;
        let last = (pool as usize + end).div_ceil(align) * align;
        // smithay's mapping starts on a page (mmap's result), so rounding down to a page stays in
        // it; a device alignment above the page size could reach before it. Rounding up past the
        // pool's end is harmless: those bytes are never read (and are SIGBUS-guarded anyway).
        if first < pool as usize {
            return Err(format!(
                "the device's import alignment ({align} bytes) reaches before the pool's mapping"
            ));
        }
        let len = last - first;
        // SAFETY: `first` lies in the caller's live shared mapping; an old size of 0 asks for a
        // new mapping of the same pages (no existing mapping is moved or changed).
        let ptr = unsafe { libc::mremap(first as *mut libc::c_void, 0, len, libc::MREMAP_MAYMOVE) };
        if ptr == libc::MAP_FAILED {
            return Err(format!(
                "mremap of the pool's pages: {}",
                std::io::Error::last_os_error()
            ));
        }
        if !(ptr as usize).is_multiple_of(align) {
            // SAFETY: the mapping just made, unmapped once.
            unsafe { libc::munmap(ptr, len) };
            return Err(format!("the new mapping is not aligned to {align} bytes"));
        }
        let guard = Guard::new(ptr as usize, len);
        if guard.is_none() {
            // SAFETY: the mapping just made, unmapped once.
            unsafe { libc::munmap(ptr, len) };
            return Err("too many wl_shm buffers are read in place".into());
        }
        let start = pool as usize + offset - first;
        Ok((Self { ptr, len, guard }, start))
    }

    pub fn ptr(&self) -> *mut libc::c_void {
        self.ptr
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether the client truncated the pool under the view (it reads as zeros since).
    pub fn faulted(&self) -> bool {
        self.guard.as_ref().is_some_and(Guard::faulted)
    }
}

impl Drop for PoolView {
    fn drop(&mut self) {
        // Unregistered first: nothing reads the view any more (its import is gone).
        self.guard = None;
        // SAFETY: our own mapping, made in `new`, unmapped once.
        unsafe { libc::munmap(self.ptr, self.len) };
    }
}
