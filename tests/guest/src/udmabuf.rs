//! udmabuf: turns a sealed memfd into a dma-buf (`UDMABUF_CREATE` on `/dev/udmabuf`).
//!
//! The kernel requires `F_SEAL_SHRINK` (pages must not vanish under the dma-buf) and refuses
//! `F_SEAL_WRITE`; offset and size must be page-aligned.

use std::ffi::CStr;
use std::fs::OpenOptions;
use std::io;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;

use crate::dmabuf::DmaBuf;
use crate::error::{IoContext, Result};
use crate::ioctl::{ioctl, iow};

#[repr(C)]
struct UdmabufCreate {
    memfd: u32,
    flags: u32,
    offset: u64,
    size: u64,
}

const UDMABUF_FLAGS_CLOEXEC: u32 = 0x01;
const UDMABUF_CREATE: libc::c_ulong = iow::<UdmabufCreate>(b'u', 0x42);

/// A dma-buf over a fresh memfd of `size` bytes (rounded up to whole pages).
pub fn alloc(size: u64) -> Result<DmaBuf> {
    // SAFETY: sysconf has no memory effects.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(4096) as u64;
    let size = size.div_ceil(page) * page;
    let name: &CStr = c"weft-udmabuf";
    // SAFETY: `name` is a valid C string; the flags are plain bits.
    let raw =
        unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_ALLOW_SEALING | libc::MFD_CLOEXEC) };
    if raw < 0 {
        return Err(io::Error::last_os_error()).op("memfd_create");
    }
    // SAFETY: memfd_create returned a new fd owned by nobody else.
    let memfd = unsafe { OwnedFd::from_raw_fd(raw) };
    // SAFETY: ftruncate and fcntl on our own fd; no memory is passed.
    if unsafe { libc::ftruncate(memfd.as_raw_fd(), size as libc::off_t) } < 0 {
        return Err(io::Error::last_os_error()).op("ftruncate(memfd)");
    }
    // SAFETY: as above.
    if unsafe { libc::fcntl(memfd.as_raw_fd(), libc::F_ADD_SEALS, libc::F_SEAL_SHRINK) } < 0 {
        return Err(io::Error::last_os_error()).op("fcntl(F_ADD_SEALS, F_SEAL_SHRINK)");
    }
    let dev = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_CLOEXEC)
        .open("/dev/udmabuf")
        .op("open(/dev/udmabuf)")?;
    let mut arg = UdmabufCreate {
        memfd: memfd.as_raw_fd() as u32,
        flags: UDMABUF_FLAGS_CLOEXEC,
        offset: 0,
        size,
    };
    // SAFETY: UDMABUF_CREATE reads `struct udmabuf_create` {u32 memfd; u32 flags; u64 offset; u64 size}
    // and returns a new dma-buf fd.
    let fd = unsafe { ioctl(dev.as_fd(), UDMABUF_CREATE, &mut arg) }.op("UDMABUF_CREATE")?;
    // SAFETY: the ioctl's return value is a new fd owned by nobody else. The dma-buf holds its own
    // references to the memfd's pages, so the memfd can close.
    DmaBuf::new(unsafe { OwnedFd::from_raw_fd(fd) }, "udmabuf")
}
