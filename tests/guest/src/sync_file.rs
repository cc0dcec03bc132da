//! A sync_file fd: one (possibly merged) dma_fence. `poll(POLLIN)` is ready once it has signalled
//! (an errored fence counts as signalled).

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::time::Duration;

use crate::error::{IoContext, Result};

#[derive(Debug)]
pub struct SyncFile(OwnedFd);

impl From<OwnedFd> for SyncFile {
    fn from(fd: OwnedFd) -> Self {
        Self(fd)
    }
}

impl From<SyncFile> for OwnedFd {
    fn from(s: SyncFile) -> Self {
        s.0
    }
}

impl AsFd for SyncFile {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

impl SyncFile {
    /// Whether the fence signals within `timeout` (zero: just look).
    pub fn wait(&self, timeout: Duration) -> Result<bool> {
        poll_readable(self.0.as_fd(), timeout)
    }

    /// Whether the fence has signalled already.
    pub fn is_signalled(&self) -> Result<bool> {
        self.wait(Duration::ZERO)
    }
}

/// `poll(POLLIN)` on one fd.
pub fn poll_readable(fd: BorrowedFd<'_>, timeout: Duration) -> Result<bool> {
    let mut pfd = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
    loop {
        // SAFETY: one valid pollfd, borrowed for the call.
        let n = unsafe { libc::poll(&mut pfd, 1, ms) };
        if n >= 0 {
            return Ok(n == 1 && pfd.revents & libc::POLLIN != 0);
        }
        let err = io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EINTR) {
            return Err(err).op("poll");
        }
    }
}
