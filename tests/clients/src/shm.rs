//! wl_shm buffers in memfds, filled with a pattern function.

use std::os::fd::{AsFd, OwnedFd};

use rustix::fs::{ftruncate, memfd_create, MemfdFlags};
use rustix::mm::{mmap, munmap, MapFlags, ProtFlags};
use wayland_client::protocol::{wl_buffer, wl_shm, wl_shm_pool};
use wayland_client::QueueHandle;

use crate::client::{ClientError, State};

/// ARGB8888 as little-endian bytes (B, G, R, A), from 8-bit premultiplied components.
pub fn argb(r: u8, g: u8, b: u8, a: u8) -> [u8; 4] {
    [b, g, r, a]
}

/// A memfd-backed pool holding one buffer.
pub struct ShmBuffer {
    pub buffer: wl_buffer::WlBuffer,
    pub pool: wl_shm_pool::WlShmPool,
    pub fd: OwnedFd,
    ptr: *mut u8,
    len: usize,
    pub width: i32,
    pub height: i32,
    pub stride: i32,
}

impl ShmBuffer {
    /// Creates a `width`×`height` buffer of `format` (4 bytes per pixel) filled by `fill(x, y)`.
    pub fn new(
        shm: &wl_shm::WlShm,
        qh: &QueueHandle<State>,
        width: i32,
        height: i32,
        format: wl_shm::Format,
        fill: impl Fn(i32, i32) -> [u8; 4],
    ) -> Result<Self, ClientError> {
        let stride = width * 4;
        let len = (stride * height) as usize;
        // Sealed against shrinking, as libwayland's and most toolkits' pools are (a compositor
        // may then read it in place).
        let fd = memfd_create(
            "weft-test-shm",
            MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING,
        )?;
        ftruncate(&fd, len as u64)?;
        rustix::fs::fcntl_add_seals(&fd, rustix::fs::SealFlags::SHRINK)?;
        // SAFETY: mapping a fresh memfd of `len` bytes, shared so the compositor sees our writes; the
        // mapping lives until `Drop` unmaps it.
        let ptr = unsafe {
            mmap(
                std::ptr::null_mut(),
                len,
                ProtFlags::READ | ProtFlags::WRITE,
                MapFlags::SHARED,
                &fd,
                0,
            )?
        }
        .cast::<u8>();
        let pool = shm.create_pool(fd.as_fd(), len as i32, qh, ());
        let buffer = pool.create_buffer(0, width, height, stride, format, qh, ());
        let mut me = Self {
            buffer,
            pool,
            fd,
            ptr,
            len,
            width,
            height,
            stride,
        };
        me.fill(fill);
        Ok(me)
    }

    pub fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: `ptr..ptr+len` is our live shared mapping; the compositor only reads it.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.len) }
    }

    /// Rewrites every pixel with `fill(x, y)`.
    pub fn fill(&mut self, fill: impl Fn(i32, i32) -> [u8; 4]) {
        let (w, h, stride) = (self.width, self.height, self.stride as usize);
        let bytes = self.bytes_mut();
        for y in 0..h {
            for x in 0..w {
                let o = y as usize * stride + x as usize * 4;
                bytes[o..o + 4].copy_from_slice(&fill(x, y));
            }
        }
    }
}

impl Drop for ShmBuffer {
    fn drop(&mut self) {
        self.buffer.destroy();
        self.pool.destroy();
        // SAFETY: unmapping exactly the mapping made in `new`, which nothing references anymore.
        let _ = unsafe { munmap(self.ptr.cast(), self.len) };
    }
}

/// A `w`×`h` XRGB8888 wl_shm buffer over a sparse memfd: legal, and it costs the client nothing
/// (the greedy client of the budget tests and the bystander benchmark). Keep the fd while the
/// buffer is in use.
pub fn sparse_buffer(
    shm: &wl_shm::WlShm,
    qh: &QueueHandle<State>,
    w: i32,
    h: i32,
) -> Result<(OwnedFd, wl_buffer::WlBuffer), ClientError> {
    let size = u64::from(w.unsigned_abs()) * u64::from(h.unsigned_abs()) * 4;
    let fd = memfd_create("weft-sparse", MemfdFlags::CLOEXEC)?;
    ftruncate(&fd, size)?;
    let pool = shm.create_pool(fd.as_fd(), i32::try_from(size).unwrap_or(i32::MAX), qh, ());
    let buffer = pool.create_buffer(0, w, h, w * 4, wl_shm::Format::Xrgb8888, qh, ());
    pool.destroy();
    Ok((fd, buffer))
}
