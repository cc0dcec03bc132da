//! One error type for the crate, classed by where it came from; the errno survives so tests can
//! report exactly how an import failed.

use std::io;

/// What went wrong, and in which call.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A system call (ioctl, open, mmap, poll…) failed.
    #[error("{op}: {source}")]
    Io {
        op: &'static str,
        #[source]
        source: io::Error,
    },
    /// A Vulkan call returned an error code.
    #[error("{op}: {result}")]
    Vulkan {
        op: &'static str,
        result: ash::vk::Result,
    },
    /// The device or driver lacks what was asked for.
    #[error("unsupported: {0}")]
    Unsupported(String),
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// The errno of a failed system call, if that is what this is.
    pub fn errno(&self) -> Option<i32> {
        match self {
            Error::Io { source, .. } => source.raw_os_error(),
            _ => None,
        }
    }

    /// A short name for a table cell: `EINVAL`, `VK_ERROR_…`, or the message.
    pub fn short(&self) -> String {
        match self {
            Error::Io { source, .. } => match source.raw_os_error() {
                Some(e) => errno_name(e).map_or_else(|| format!("errno {e}"), str::to_owned),
                None => source.to_string(),
            },
            Error::Vulkan { result, .. } => format!("{result:?}"),
            Error::Unsupported(what) => format!("unsupported ({what})"),
        }
    }
}

/// Attaches the operation's name to an `io::Error`.
pub(crate) trait IoContext<T> {
    fn op(self, op: &'static str) -> Result<T>;
}

impl<T> IoContext<T> for io::Result<T> {
    fn op(self, op: &'static str) -> Result<T> {
        self.map_err(|source| Error::Io { op, source })
    }
}

/// Names of the errnos these devices return.
pub fn errno_name(e: i32) -> Option<&'static str> {
    Some(match e {
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::EINTR => "EINTR",
        libc::EIO => "EIO",
        libc::ENXIO => "ENXIO",
        libc::EBADF => "EBADF",
        libc::EAGAIN => "EAGAIN",
        libc::ENOMEM => "ENOMEM",
        libc::EACCES => "EACCES",
        libc::EFAULT => "EFAULT",
        libc::EBUSY => "EBUSY",
        libc::EEXIST => "EEXIST",
        libc::ENODEV => "ENODEV",
        libc::EINVAL => "EINVAL",
        libc::ENOSPC => "ENOSPC",
        libc::ENOSYS => "ENOSYS",
        libc::ENOTTY => "ENOTTY",
        libc::ETIME => "ETIME",
        libc::ETIMEDOUT => "ETIMEDOUT",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        _ => return None,
    })
}
