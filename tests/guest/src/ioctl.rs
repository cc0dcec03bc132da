//! `_IOC` request encoding (asm-generic layout, as on x86-64) and one checked `ioctl` call.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

const NRBITS: u32 = 8;
const TYPEBITS: u32 = 8;
const SIZEBITS: u32 = 14;
const NRSHIFT: u32 = 0;
const TYPESHIFT: u32 = NRSHIFT + NRBITS;
const SIZESHIFT: u32 = TYPESHIFT + TYPEBITS;
const DIRSHIFT: u32 = SIZESHIFT + SIZEBITS;
const WRITE: u32 = 1;
const READ: u32 = 2;

const fn ioc(dir: u32, ty: u8, nr: u8, size: usize) -> libc::c_ulong {
    ((dir << DIRSHIFT)
        | ((ty as u32) << TYPESHIFT)
        | ((nr as u32) << NRSHIFT)
        | ((size as u32) << SIZESHIFT)) as libc::c_ulong
}

/// `_IOW(ty, nr, T)`: user space writes `T` to the kernel.
pub const fn iow<T>(ty: u8, nr: u8) -> libc::c_ulong {
    ioc(WRITE, ty, nr, std::mem::size_of::<T>())
}

/// `_IOR(ty, nr, T)`: the kernel fills in `T`.
pub const fn ior<T>(ty: u8, nr: u8) -> libc::c_ulong {
    ioc(READ, ty, nr, std::mem::size_of::<T>())
}

/// `_IOWR(ty, nr, T)`.
pub const fn iowr<T>(ty: u8, nr: u8) -> libc::c_ulong {
    ioc(READ | WRITE, ty, nr, std::mem::size_of::<T>())
}

/// DRM's ioctl base, `'d'`.
pub const DRM: u8 = b'd';

/// Calls `ioctl(fd, request, arg)`, retrying on EINTR, and returns its value.
///
/// # Safety
/// `request` must be an ioctl whose argument is exactly a `T` (in size and layout) that the kernel
/// reads and/or writes through the pointer, and `T` must be valid for any bytes the kernel writes.
pub unsafe fn ioctl<T>(
    fd: BorrowedFd<'_>,
    request: libc::c_ulong,
    arg: &mut T,
) -> io::Result<libc::c_int> {
    loop {
        // SAFETY: the caller guarantees `arg` matches what `request` expects; `arg` is a live
        // exclusive reference for the duration of the call.
        let ret = unsafe { libc::ioctl(fd.as_raw_fd(), request, arg as *mut T) };
        if ret >= 0 {
            return Ok(ret);
        }
        let err = io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::EINTR) => continue,
            _ => return Err(err),
        }
    }
}
