//! vgem: a render-only DRM driver whose GEM buffers export as real dma-bufs and whose fences user
//! space attaches and signals (`DRM_IOCTL_VGEM_FENCE_ATTACH` / `SIGNAL`). A stand-in for a decoder
//! or GPU that writes a buffer and signals when done.
//!
//! The kernel signals a vgem fence by itself, with -ETIMEDOUT, 10 s after attaching it
//! (`VGEM_FENCE_TIMEOUT`), so tests must finish their "not yet signalled" checks well before that.

use std::os::fd::AsFd;

use crate::dmabuf::DmaBuf;
use crate::drm_node::DrmNode;
use crate::error::{IoContext, Result};
use crate::ioctl::{ioctl, iow, iowr, DRM};

/// `VGEM_FENCE_WRITE`: the fence is added to the reservation as a writer (else as a reader).
const VGEM_FENCE_WRITE: u32 = 0x1;
const DRM_COMMAND_BASE: u8 = 0x40;

#[repr(C)]
struct FenceAttach {
    handle: u32,
    flags: u32,
    out_fence: u32,
    pad: u32,
}

#[repr(C)]
struct FenceSignal {
    fence: u32,
    flags: u32,
}

const FENCE_ATTACH: libc::c_ulong = iowr::<FenceAttach>(DRM, DRM_COMMAND_BASE + 0x01);
const FENCE_SIGNAL: libc::c_ulong = iow::<FenceSignal>(DRM, DRM_COMMAND_BASE + 0x02);

/// The vgem device (its card node).
#[derive(Debug)]
pub struct Vgem {
    pub node: DrmNode,
}

/// A vgem buffer: its GEM handle on the vgem fd (for fences) and its dma-buf.
#[derive(Debug)]
pub struct VgemBuffer {
    pub handle: u32,
    pub dmabuf: DmaBuf,
}

/// A fence attached to a vgem buffer, identified on the vgem fd.
#[derive(Debug, Clone, Copy)]
pub struct VgemFence(u32);

/// Whether an attached fence stands for a write or a read of the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

impl Vgem {
    pub fn open() -> Result<Self> {
        Ok(Self {
            node: DrmNode::by_driver("vgem")?,
        })
    }

    /// A `width`×`height` 32-bpp dumb buffer, exported `O_RDWR`. The GEM handle stays open.
    pub fn alloc(&self, width: u32, height: u32) -> Result<VgemBuffer> {
        use drm::control::Device as _;
        let dumb = self
            .node
            .create_dumb_buffer((width, height), drm::buffer::DrmFourcc::Xrgb8888, 32)
            .op("DRM_IOCTL_MODE_CREATE_DUMB(vgem)")?;
        let handle = drm::buffer::Buffer::handle(&dumb);
        let fd = self
            .node
            .buffer_to_prime_fd(handle, (libc::O_RDWR | libc::O_CLOEXEC) as u32)
            .op("DRM_IOCTL_PRIME_HANDLE_TO_FD(vgem)")?;
        Ok(VgemBuffer {
            handle: u32::from(handle),
            dmabuf: DmaBuf::new(fd, "vgem")?,
        })
    }

    /// Attaches a new, unsignalled fence to `buffer`'s reservation.
    pub fn attach_fence(&self, buffer: &VgemBuffer, access: Access) -> Result<VgemFence> {
        let flags = if access == Access::Write {
            VGEM_FENCE_WRITE
        } else {
            0
        };
        let mut arg = FenceAttach {
            handle: buffer.handle,
            flags,
            out_fence: 0,
            pad: 0,
        };
        // SAFETY: DRM_IOCTL_VGEM_FENCE_ATTACH takes `struct drm_vgem_fence_attach`
        // {u32 handle; u32 flags; u32 out_fence; u32 pad}, mirrored by `FenceAttach`.
        unsafe { ioctl(self.node.as_fd(), FENCE_ATTACH, &mut arg) }
            .op("DRM_IOCTL_VGEM_FENCE_ATTACH")?;
        Ok(VgemFence(arg.out_fence))
    }

    /// Signals `fence`.
    pub fn signal(&self, fence: VgemFence) -> Result<()> {
        let mut arg = FenceSignal {
            fence: fence.0,
            flags: 0,
        };
        // SAFETY: DRM_IOCTL_VGEM_FENCE_SIGNAL reads `struct drm_vgem_fence_signal` {u32 fence; u32 flags}.
        unsafe { ioctl(self.node.as_fd(), FENCE_SIGNAL, &mut arg) }
            .op("DRM_IOCTL_VGEM_FENCE_SIGNAL")?;
        Ok(())
    }
}
