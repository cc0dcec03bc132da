//! sync_files and the dma-buf fence ioctls (Linux 6.0+): `DMA_BUF_IOCTL_EXPORT_SYNC_FILE` takes a
//! snapshot of a buffer's fences as one sync_file, `DMA_BUF_IOCTL_IMPORT_SYNC_FILE` adds a fence to
//! the buffer's reservation, `SYNC_IOC_MERGE` joins two sync_files. A memfd standing in for a
//! dma-buf, or a kernel without the ioctls, answers [`FenceError::Unsupported`]; the caller falls
//! back to `poll` on the buffer.

use std::os::fd::{AsFd, BorrowedFd, FromRawFd, OwnedFd};

use rustix::ioctl::{ioctl, opcode, Setter, Updater};

/// `DMA_BUF_SYNC_READ` / `_WRITE` as the export and import ioctls take them.
pub const READ: u32 = 1;
pub const WRITE: u32 = 2;

#[repr(C)]
struct DmaBufSyncFile {
    flags: u32,
    fd: i32,
}

#[repr(C)]
struct SyncMergeData {
    name: [u8; 32],
    fd2: i32,
    fence: i32,
    flags: u32,
    pad: u32,
}

const EXPORT_SYNC_FILE: rustix::ioctl::Opcode = opcode::read_write::<DmaBufSyncFile>(b'b', 2);
const IMPORT_SYNC_FILE: rustix::ioctl::Opcode = opcode::write::<DmaBufSyncFile>(b'b', 3);
const SYNC_IOC_MERGE: rustix::ioctl::Opcode = opcode::read_write::<SyncMergeData>(b'>', 3);

/// Why a fence ioctl did not work.
#[derive(Debug, thiserror::Error)]
pub enum FenceError {
    /// Not a kernel dma-buf, or a kernel without the ioctl: fall back to polling the buffer.
    #[error("{0} not supported: {1}")]
    Unsupported(&'static str, rustix::io::Errno),
    #[error("{0}: {1}")]
    Failed(&'static str, rustix::io::Errno),
}

fn classify(what: &'static str, e: rustix::io::Errno) -> FenceError {
    use rustix::io::Errno;
    // ENOTTY: not a dma-buf (memfd) or a kernel before 6.0; EINVAL/ENOSYS: the same on some kernels.
    if e == Errno::NOTTY || e == Errno::INVAL || e == Errno::NOSYS || e == Errno::OPNOTSUPP {
        FenceError::Unsupported(what, e)
    } else {
        FenceError::Failed(what, e)
    }
}

/// A snapshot of `dmabuf`'s fences that `flags` ([`READ`]: the writers; [`WRITE`]: everyone) must
/// wait for, as a sync_file (an already signalled stub when there are none).
pub fn export(dmabuf: BorrowedFd<'_>, flags: u32) -> Result<OwnedFd, FenceError> {
    let mut arg = DmaBufSyncFile { flags, fd: -1 };
    // SAFETY: the opcode is _IOWR('b', 2, struct dma_buf_export_sync_file) and `arg` is that
    // struct; the kernel writes the new fd into it.
    unsafe { ioctl(dmabuf, Updater::<EXPORT_SYNC_FILE, _>::new(&mut arg)) }
        .map_err(|e| classify("DMA_BUF_IOCTL_EXPORT_SYNC_FILE", e))?;
    if arg.fd < 0 {
        return Err(FenceError::Failed(
            "DMA_BUF_IOCTL_EXPORT_SYNC_FILE",
            rustix::io::Errno::BADF,
        ));
    }
    // SAFETY: the ioctl succeeded and returned a new fd (O_CLOEXEC) that nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(arg.fd) })
}

/// Adds `sync_file`'s fence to `dmabuf`'s reservation: with [`READ`] as a reader (later writers
/// wait for it, readers do not), with [`WRITE`] as a writer (everyone waits).
pub fn import(
    dmabuf: BorrowedFd<'_>,
    flags: u32,
    sync_file: BorrowedFd<'_>,
) -> Result<(), FenceError> {
    use std::os::fd::AsRawFd;
    let arg = DmaBufSyncFile {
        flags,
        fd: sync_file.as_raw_fd(),
    };
    // SAFETY: the opcode is _IOW('b', 3, struct dma_buf_import_sync_file) and `arg` is that
    // struct; the sync_file fd is only borrowed for the call.
    unsafe { ioctl(dmabuf, Setter::<IMPORT_SYNC_FILE, _>::new(arg)) }
        .map_err(|e| classify("DMA_BUF_IOCTL_IMPORT_SYNC_FILE", e))
}

/// One sync_file that signals when both `a` and `b` have.
pub fn merge(a: BorrowedFd<'_>, b: BorrowedFd<'_>) -> Result<OwnedFd, FenceError> {
    use std::os::fd::AsRawFd;
    let mut name = [0u8; 32];
    for (d, s) in name.iter_mut().zip(b"weft acquire") {
        *d = *s;
    }
    let mut arg = SyncMergeData {
        name,
        fd2: b.as_raw_fd(),
        fence: -1,
        flags: 0,
        pad: 0,
    };
    // SAFETY: the opcode is _IOWR('>', 3, struct sync_merge_data) and `arg` is that struct; the
    // kernel writes the merged fence's new fd into it.
    unsafe { ioctl(a, Updater::<SYNC_IOC_MERGE, _>::new(&mut arg)) }
        .map_err(|e| FenceError::Failed("SYNC_IOC_MERGE", e))?;
    // SAFETY: a new fd the kernel returned.
    Ok(unsafe { OwnedFd::from_raw_fd(arg.fence) })
}

/// Whether a sync_file (or any pollable fence fd) has signalled: `poll(POLLIN)` without waiting.
/// An errored fence counts as signalled, as the kernel reports it.
pub fn signalled(fd: impl AsFd) -> bool {
    use rustix::event::{poll, PollFd, PollFlags};
    let mut fds = [PollFd::new(&fd, PollFlags::IN)];
    matches!(poll(&mut fds, Some(&rustix::time::Timespec { tv_sec: 0, tv_nsec: 0 })), Ok(n) if n > 0)
}

/// The distinct files among `fds` (planes often share one dma-buf): one fence export each.
pub fn distinct<'a>(fds: impl Iterator<Item = BorrowedFd<'a>>) -> Vec<BorrowedFd<'a>> {
    let mut seen: Vec<(u64, u64)> = Vec::new();
    let mut out = Vec::new();
    for fd in fds {
        let key = rustix::fs::fstat(fd)
            .map(|st| (st.st_dev, st.st_ino))
            .unwrap_or((u64::MAX, out.len() as u64));
        if !seen.contains(&key) {
            seen.push(key);
            out.push(fd);
        }
    }
    out
}
